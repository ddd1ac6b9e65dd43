"""Manifests read the way Kubernetes and Compose read them (issue 12): real files and edge cases.

Real files are in ``tests/fixtures/manifests/real`` (see SOURCES.md there).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rightsize.errors import InputError
from rightsize.model import Declared
from rightsize.sources.manifests import load_manifests

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "real"
Mi = 2**20


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_kube_prometheus_crd_with_an_unquoted_equals_sign_does_not_hide_the_folder() -> None:
    # the CRD's enum has "- =", which PyYAML's YAML 1.1 resolver cannot construct
    found = {m.workload: m.declared for m in load_manifests([REAL / "kube-prometheus"])}
    assert found == {
        "monitoring/prometheus-operator/prometheus-operator":
            Declared(0.1, 0.2, 100 * Mi, 200 * Mi),
        "monitoring/prometheus-operator/kube-rbac-proxy": Declared(),
    }


def test_guestbook_tabs_after_values_and_memory_in_millibytes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="rightsize"):
        (mw,) = load_manifests([REAL / "argocd-guestbook"])
    # memory: 100m / 200m are 0.1 and 0.2 bytes; the API server's Value() rounds up to 1
    assert mw.workload == "default/guestbook-ui/guestbook-ui"
    assert mw.declared == Declared(None, None, 1, 1)
    (warning,) = messages(caplog, logging.WARNING)  # once for the file
    assert warning.startswith(f"{REAL / 'argocd-guestbook' / 'guestbook-ui-deployment.yaml'}:30: ")
    assert "100m is 0.1 bytes" in warning and "did you mean 100Mi?" in warning
    assert "(2 such memory values in this file)" in warning
    (summary,) = [m for m in messages(caplog, logging.INFO) if m.startswith("manifests:")]
    assert summary == "manifests: 1 workloads from 2 files; skipped 1 objects of other kinds " \
        "(Service 1)"


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


POD = "kind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c}]}\n"


def test_a_file_go_cannot_read_either_is_skipped_when_it_has_no_workload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, {"broken.yaml": "kind: ConfigMap\ndata: {a: [1\n", "ok.yaml": POD % "p"})
    with caplog.at_level(logging.INFO, logger="rightsize"):
        (mw,) = load_manifests([tmp_path])
    assert mw.workload == "default/p/c"
    (warning,) = messages(caplog, logging.WARNING)
    assert warning.startswith(f"{tmp_path / 'broken.yaml'}:3: skipped: invalid YAML")
    assert any("skipped 1 files that are not YAML" in m for m in messages(caplog, logging.INFO))
    # named on the command line, it is an error
    with pytest.raises(InputError, match=r"broken.yaml:3: invalid YAML"):
        load_manifests([tmp_path / "broken.yaml"])


def test_a_broken_file_with_a_workload_kind_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"deploy.yaml": "kind: Deployment\nmetadata: {name: [x\n"})
    with pytest.raises(InputError, match=r"deploy.yaml:3: invalid YAML"):
        load_manifests([tmp_path])


def test_json_and_upper_case_extensions_are_read(tmp_path: Path) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"},
           "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "2"}}}]}}
    write(tmp_path, {"a.json": json.dumps(pod, indent="\t"), "B.YAML": POD % "upper",
                     "c.Yml": POD % "mixed", "notes.txt": POD % "text"})
    found = {m.workload: m.declared for m in load_manifests([tmp_path])}
    assert found == {"default/upper/c": Declared(), "default/j/c": Declared(2.0, 2.0),
                     "default/mixed/c": Declared()}


def test_replication_controller_and_argo_rollout(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    tpl = "spec:\n  template:\n    spec:\n      containers:\n      - name: c\n" \
          "        resources: {requests: {cpu: 300m}}\n"
    write(tmp_path, {
        "rc.yaml": "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\n" + tpl,
        "ro.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: ro}\n" + tpl,
        "ref.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: ref}\n"
                    "spec:\n  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: x}\n",
    })
    with caplog.at_level(logging.INFO, logger="rightsize"):
        found = {m.workload: m for m in load_manifests([tmp_path])}
    assert sorted(found) == ["default/rc/c", "default/ro/c"]
    assert found["default/rc/c"].declared == Declared(cpu_request=0.3)
    assert (found["default/ro/c"].kind, found["default/ro/c"].api_version) == (
        "Rollout", "argoproj.io/v1alpha1")
    assert "Rollout ref takes its pod template from workloadRef" in caplog.text


@pytest.mark.parametrize(
    ("body", "line", "match"),
    [
        ("kind: Pod\nmetadata:\n  name: p\n  namespace: 5\nspec: {containers: []}\n", 4,
         "metadata.namespace 5 is not a string"),
        ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources:\n"
         "      limits: {cpu: 1}\n      limits: {cpu: 2}\n", 8,
         "duplicate key 'limits' \\(first at line 7\\)"),
        ("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: "
         "{limits: {cpu: 10E}}}]}\n", 3, "'10E': larger than 2\\^63-1 millicores"),
    ],
)
def test_values_go_refuses_are_errors(tmp_path: Path, body: str, line: int, match: str) -> None:
    path = write(tmp_path, {"m.yaml": body}) / "m.yaml"
    with pytest.raises(InputError, match=rf"^{path}:{line}: .*{match}"):
        load_manifests([path])


def test_compose_refuses_distinct_values_twice(tmp_path: Path) -> None:
    path = write(tmp_path, {"compose.yaml": (
        "name: app\nservices:\n  web:\n    mem_limit: 512m\n    deploy:\n      resources:\n"
        "        limits: {memory: 1g}\n")}) / "compose.yaml"
    with pytest.raises(InputError, match=r"compose.yaml:4: .*mem_limit \(536870912\) and "
                       r"deploy.resources.limits.memory \(1073741824\) differ"):
        load_manifests([path])
    # compose-go counts an absent limits.cpus as 0 when limits is there
    path.write_text("name: app\nservices:\n  web:\n    cpus: 0.5\n    deploy:\n      resources:\n"
                    "        limits: {memory: 1g}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cpus \(0.5\) and deploy.resources.limits.cpus"):
        load_manifests([path])
    path.write_text("name: app\nservices:\n  web:\n    mem_limit: '1.5e3m'\n    cpus: '0.50'\n"
                    "    deploy: {resources: {limits: {cpus: '0.5', memory: 1500m}}}\n",
                    encoding="utf-8")
    (web,) = load_manifests([path])  # go-units: 1.5e3m = 1500m = 1,572,864,000 bytes
    assert web.declared == Declared(None, 0.5, None, 1_572_864_000)
