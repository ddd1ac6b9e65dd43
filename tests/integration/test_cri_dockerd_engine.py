"""Kubernetes through Docker: containers labelled as cri-dockerd labels them, on a real engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Containers

pytestmark = pytest.mark.engine

MiB = 2**20


def k8s_labels(pod: str, container: str, kind: str = "container") -> dict[str, str]:
    return {
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.pod.namespace": "shop",
        "io.kubernetes.pod.uid": "0e5c8f0e-1111-4c1e-9c9e-000000000000",
        "io.kubernetes.container.name": container,
        "io.kubernetes.docker.type": kind,
    }


def test_pods_group_into_their_deployment_and_pause_containers_are_left_out(
    tmp_path: Path, containers: Containers
) -> None:
    kubelet = {"CpuShares": 256, "CpuQuota": 50000, "CpuPeriod": 100000, "Memory": 64 * MiB,
               "MemorySwap": 64 * MiB}  # what the kubelet writes for 250m / 500m / 64Mi
    for pod in ("web-5d8f9c7b6-x2x9z", "web-5d8f9c7b6-q7kzl"):
        containers.start(f"k8s_app_{pod}", "while true; do sleep 1; done", kubelet,
                         labels=k8s_labels(pod, "app"))
        containers.start(f"k8s_POD_{pod}", "sleep 600", {"CpuShares": 2},
                         labels=k8s_labels(pod, "POD", "podsandbox"))
    db = tmp_path / "s.db"
    base = [sys.executable, "-m", "rightsize", "--db", str(db)]
    proc = subprocess.run([*base, "collect", "--interval", "1s", "--samples", "3", "--filter",
                           f"label={containers.label}"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([*base, "analyze", "--format", "json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    workloads = {w["workload"]: w for w in json.loads(out.stdout)["workloads"]}
    assert set(workloads) == {"shop/web/app"}  # both replicas pooled; no pause container
    web = workloads["shop/web/app"]
    assert len(web["containers"]) == 2
    assert web["declared"] == {"cpu_request": 0.25, "cpu_limit": 0.5, "memory_request": None,
                               "memory_limit": 64 * MiB}

    # The manifest supplies what Docker cannot show: the memory request.
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: app\n"
        "          resources:\n            requests: {cpu: 250m, memory: 32Mi}\n"
        "            limits: {cpu: 500m, memory: 64Mi}\n"
    )
    out = subprocess.run([*base, "analyze", "--format", "json", "--manifests", str(manifest)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    web = {w["workload"]: w for w in json.loads(out.stdout)["workloads"]}["shop/web/app"]
    assert web["declared"]["memory_request"] == 32 * MiB
