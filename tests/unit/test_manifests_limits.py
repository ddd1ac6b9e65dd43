"""LimitRange defaults and pod-level resources in manifest declared values (issue 16)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rightsize.errors import InputError
from rightsize.model import Declared
from rightsize.sources.manifests import load_manifests

Mi = 2**20


def _load(tmp_path: Path, text: str) -> dict[str, Declared]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return {mw.workload: mw.declared for mw in load_manifests([path])}


DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  template:
    spec:
      containers:
      - name: bare
        image: nginx
      - name: limited
        image: nginx
        resources: {{limits: {{memory: 300Mi}}}}
      - name: requested
        image: nginx
        resources: {{requests: {{cpu: 100m}}}}
"""

LIMIT_RANGE = """
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: shop}
spec:
  limits:
  - type: Pod
    max: {cpu: "4"}
  - type: Container
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 250m}
"""


def test_limit_range_fills_what_containers_leave_out(tmp_path: Path) -> None:
    got = _load(tmp_path, LIMIT_RANGE + "---" + DEPLOY.format(ns="shop"))
    # defaultRequest for cpu; memory's default request is its default limit
    assert got["shop/web/bare"] == Declared(0.25, 0.5, 512 * Mi, 512 * Mi)
    # a limit without a request: the request is the limit (API defaulting comes first)
    assert got["shop/web/limited"] == Declared(0.25, 0.5, 300 * Mi, 300 * Mi)
    assert got["shop/web/requested"] == Declared(0.1, 0.5, 512 * Mi, 512 * Mi)


def test_limit_range_only_in_its_namespace(tmp_path: Path) -> None:
    got = _load(tmp_path, LIMIT_RANGE + "---" + DEPLOY.format(ns="other"))
    assert got["other/web/bare"] == Declared()


def test_limit_range_max_and_min_default_as_kubernetes_does(tmp_path: Path) -> None:
    lr = """
apiVersion: v1
kind: LimitRange
metadata: {name: bounds, namespace: shop}
spec:
  limits:
  - type: Container
    max: {memory: 1Gi}
    min: {cpu: 50m}
"""
    got = _load(tmp_path, lr + "---" + DEPLOY.format(ns="shop"))
    # max → default limit → default request; min → default request
    assert got["shop/web/bare"] == Declared(0.05, None, 1024 * Mi, 1024 * Mi)


def test_two_limit_ranges_in_a_namespace_warn_and_the_first_wins(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    second = LIMIT_RANGE.replace("defaults", "later").replace("500m", "2")
    with caplog.at_level(logging.WARNING):
        got = _load(tmp_path, LIMIT_RANGE + "---" + second + "---" + DEPLOY.format(ns="shop"))
    assert got["shop/web/bare"].cpu_limit == 0.5
    assert "Kubernetes does not say which applies" in caplog.text


def test_a_bad_limit_range_quantity_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"m\.yaml:\d+: .*LimitRange defaults limits\[1\] "
                                         r"default\.cpu"):  # fmt: skip
        _load(tmp_path, LIMIT_RANGE.replace("{cpu: 500m, memory", "{cpu: 1K, memory"))


POD_LEVEL = """
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: shop}
spec:
  resources:
    limits: {cpu: "1", memory: 1Gi}
  containers:
  - name: app
    image: nginx
    resources: {requests: {cpu: 200m}}
---
apiVersion: v1
kind: Pod
metadata: {name: duo, namespace: shop}
spec:
  resources:
    requests: {memory: 256Mi}
  initContainers:
  - name: migrate
    image: nginx
  containers:
  - name: app
    image: nginx
    resources: {limits: {cpu: 500m}}
  - name: proxy
    image: nginx
"""


def test_pod_level_resources_for_a_single_container(tmp_path: Path) -> None:
    got = _load(tmp_path, POD_LEVEL)
    # the one container takes the pod's limits and (defaulted) memory request
    assert got["shop/solo/app"] == Declared(0.2, 1.0, 1024 * Mi, 1024 * Mi)
    # two containers share the pod's budget: they keep their own values
    assert got["shop/duo/app"] == Declared(0.5, 0.5, None, None)
    assert got["shop/duo/proxy"] == Declared()


def test_pod_level_resources_are_not_defaulted_from_a_limit_range(tmp_path: Path) -> None:
    got = _load(tmp_path, LIMIT_RANGE + "---" + POD_LEVEL)
    # memory is declared at pod level: no container default; cpu still is defaulted
    assert got["shop/duo/proxy"] == Declared(0.25, 0.5, None, None)
    assert got["shop/duo/migrate"] == Declared(0.25, 0.5, None, None)
    assert got["shop/solo/app"] == Declared(0.2, 1.0, 1024 * Mi, 1024 * Mi)
