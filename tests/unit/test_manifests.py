"""Manifests: Kubernetes YAML and Compose files → declared values and workload identity."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
import pytest

from rightsize.analysis.manifests import apply_manifests, match_manifests
from rightsize.analysis.workloads import workload_names
from rightsize.errors import InputError
from rightsize.model import Declared
from rightsize.sources.manifests import (
    ManifestWorkload,
    compose_project_name,
    load_manifests,
    ram_in_bytes,
)
from rightsize.store import Dataset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
Mi = 2**20
Gi = 2**30


def by_name(manifests: list[ManifestWorkload]) -> dict[str, ManifestWorkload]:
    return {m.workload: m for m in manifests}


# --------------------------------------------------------------------------- Kubernetes


def test_multi_document_file_with_list() -> None:
    found = by_name(load_manifests([FIXTURES / "k8s" / "shop.yaml"]))
    assert list(found) == [
        "shop/web/app",
        "shop/web/log-shipper",
        "default/db/postgres",
        "ops/backup/dump",
        "monitoring/node-exporter/exporter",
    ]
    app = found["shop/web/app"]
    assert (app.kind, app.namespace, app.owner, app.container, app.role) == (
        "Deployment", "shop", "web", "app", "container",
    )
    assert app.declared == Declared(0.25, 1.0, 256 * Mi, 512 * Mi)  # 0.5Gi
    assert (app.api_version, app.list_name, app.index, app.namespace_explicit) == (
        "apps/v1", "containers", 0, True,
    )
    assert (app.line, app.document) == (12, 1)
    # a limit without a request: the API server copies the limit into the request
    assert found["shop/web/log-shipper"].declared == Declared(None, None, 64 * Mi, 64 * Mi)
    assert found["shop/web/log-shipper"].index == 1
    db = found["default/db/postgres"]
    assert db.kind == "StatefulSet"
    assert db.namespace_explicit is False
    assert db.declared == Declared(1.5, None, 10**9, None)  # 1G is decimal
    dump = found["ops/backup/dump"]
    assert (dump.kind, dump.owner, dump.api_version, dump.document) == (
        "CronJob", "backup", "batch/v1", 5,
    )
    assert dump.declared == Declared(0.1, 2.0, 128974848, None)  # 100e-3 cores, plain bytes
    exporter = found["monitoring/node-exporter/exporter"]
    assert (exporter.kind, exporter.document) == ("DaemonSet", 6)
    assert exporter.declared == Declared(0.01, None, 32 * Mi, None)


def test_pod_with_init_and_sidecar_containers() -> None:
    found = load_manifests([FIXTURES / "k8s" / "pod-sidecar.yaml"])
    assert [(m.workload, m.role, m.list_name, m.index) for m in found] == [
        ("jobs/worker-1/migrate", "init", "initContainers", 0),
        ("jobs/worker-1/proxy", "sidecar", "initContainers", 1),
        ("jobs/worker-1/main", "container", "containers", 0),
    ]
    assert found[0].declared == Declared(0.5, 0.5, 128 * Mi, 128 * Mi)
    assert found[1].declared == Declared(0.05, None, 64 * Mi, None)
    assert found[2].declared == Declared()
    assert all(m.kind == "Pod" and m.api_version == "v1" for m in found)


def test_bad_quantity_names_file_line_document_and_value() -> None:
    path = FIXTURES / "bad" / "bad-quantity.yaml"
    with pytest.raises(InputError) as info:
        load_manifests([path])
    message = str(info.value)
    assert message.startswith(f"{path}:25: document 2: ")
    assert "Deployment broken container app limits.cpu" in message
    assert "'1K'" in message


def test_bad_yaml_names_file_and_line() -> None:
    path = FIXTURES / "bad" / "bad-yaml.yaml"
    with pytest.raises(InputError, match=rf"^{path}:6: invalid YAML: "):
        load_manifests([path])


@pytest.mark.parametrize(
    ("body", "line", "match"),
    [
        ("kind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n"
         "      containers: {}\n", 7, "containers is not a list"),
        ("kind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n    - image: y\n", 6,
         r"containers\[0\] has no name"),
        ("kind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n    - name: c\n"
         "      resources:\n        requests:\n          memory: -1Gi\n", 9,
         "negative memory quantity"),
        ("kind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n    - name: c\n"
         "      resources:\n        limits:\n          memory: 1KiB\n", 9,
         "invalid memory quantity '1KiB'"),
        ("kind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n    - name: c\n"
         "      resources:\n        limits:\n          cpu: true\n", 9,
         "invalid CPU quantity True"),
        ("kind: Deployment\nmetadata:\n  labels: {}\nspec: {}\n", 3, "without metadata.name"),
        ("kind: CronJob\nmetadata:\n  name: x\nspec:\n  schedule: '* * * * *'\n", 5,
         "no spec.jobTemplate.spec.template.spec"),
    ],
)
def test_malformed_objects_name_the_line(tmp_path: Path, body: str, line: int, match: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(body)
    with pytest.raises(InputError, match=rf"^{path}:{line}: document 1: .*{match}"):
        load_manifests([path])


def test_other_documents_and_kinds_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("replicaCount: 2\nimage: {tag: x}\n")
    (tmp_path / "list.yml").write_text("- a\n- b\n")
    (tmp_path / "crd.yaml").write_text(
        "kind: CustomResourceDefinition\nmetadata: {name: r}\nspec: {template: {spec: "
        "{containers: [{name: c, resources: {limits: {cpu: 1K}}}]}}}\n"
    )
    (tmp_path / "notes.txt").write_text("kind: Pod\n")
    assert load_manifests([tmp_path]) == []


def test_folders_are_searched_recursively_skipping_hidden_ones(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    pod = "kind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c}]}\n"
    (tmp_path / "a" / "b" / "p.yml").write_text(pod % "deep")
    (tmp_path / ".git" / "p.yaml").write_text(pod % "hidden")
    (tmp_path / "top.yaml").write_text(pod % "top")
    names = [m.workload for m in load_manifests([tmp_path, tmp_path / "top.yaml"])]
    assert names == ["default/top/c", "default/deep/c"]


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such manifest file or folder"):
        load_manifests([tmp_path / "nope.yaml"])


def test_a_workload_defined_twice_keeps_the_last(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pod = "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: %s}]}\n"
    (tmp_path / "1.yaml").write_text(pod % "{limits: {memory: 1Gi}}")
    (tmp_path / "2.yaml").write_text(pod % "{limits: {memory: 2Gi}}")
    with caplog.at_level(logging.WARNING, logger="rightsize"):
        (found,) = load_manifests([tmp_path])
    assert found.declared.memory_limit == 2 * Gi
    assert "also declared" in caplog.text


# --------------------------------------------------------------------------- Compose


def test_compose_precedence_and_binary_memory(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rightsize"):
        found = by_name(load_manifests([FIXTURES / "compose" / "blog"]))
    assert list(found) == ["blog/web", "blog/db", "blog/cache"]
    web = found["blog/web"]
    assert (web.kind, web.namespace, web.owner, web.container, web.role) == (
        "Compose", None, "blog", "web", "container",
    )
    # deploy.resources.limits overrides mem_limit and cpus; 256M is binary;
    # cpu_shares 512 = 0.5 cores; reservations.cpus (Swarm only) is ignored
    assert web.declared == Declared(0.5, 1.25, 256 * Mi, Gi)
    assert web.line == 3
    assert "reservations.cpus is a Swarm option" in caplog.text
    # 1.5GB = 1.5 GiB; cpu_quota/cpu_period; reservations.memory 300mb = 300 MiB
    assert found["blog/db"].declared == Declared(None, 0.25, 300 * Mi, 1536 * Mi)
    # the override file merges on top: 64m = 64 MiB
    assert found["blog/cache"].declared == Declared(None, None, None, 64 * Mi)


def test_compose_mem_limit_512m_is_512_mebibytes(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "name: demo\nservices:\n  app:\n    mem_limit: 512m\n    mem_reservation: 128974848\n"
    )
    (app,) = load_manifests([tmp_path / "compose.yaml"])
    assert app.workload == "demo/app"
    assert app.declared == Declared(None, None, 128974848, 512 * Mi)


def test_compose_name_and_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_MEMORY", raising=False)
    (api,) = load_manifests([FIXTURES / "compose" / "named"])
    assert api.workload == "shop-dev/api"
    assert api.declared.memory_limit == 96 * Mi
    monkeypatch.setenv("API_MEMORY", "1g")
    (api,) = load_manifests([FIXTURES / "compose" / "named"])
    assert api.declared.memory_limit == Gi


def test_compose_dotenv_and_required_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIMIT", raising=False)
    monkeypatch.delenv("MISSING", raising=False)
    (tmp_path / ".env").write_text("# settings\nLIMIT='2g'\n")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    mem_limit: ${LIMIT}\n")
    (a,) = load_manifests([tmp_path])
    assert a.workload == f"{compose_project_name(tmp_path.name)}/a"
    assert a.declared.memory_limit == 2 * Gi
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    mem_limit: ${MISSING:?set MISSING}\n"
    )
    with pytest.raises(InputError, match=r"compose.yaml:3: .*MISSING is not set \(set MISSING\)"):
        load_manifests([tmp_path])


@pytest.mark.parametrize(
    ("body", "line", "match"),
    [
        ("services:\n  a:\n    mem_limit: 512x\n", 3, "invalid size '512x'"),
        ("services:\n  a:\n    cpus: half\n", 3, "cpus: expected a number"),
        ("services:\n  a:\n    cpu_shares: 1.5\n", 3, "cpu_shares: expected an integer"),
        ("services:\n  a:\n    deploy:\n      resources:\n        limits:\n"
         "          memory: 1GiBB\n", 6, "invalid size '1GiBB'"),
        ("services:\n  a: [1]\n", 2, "service a is not a mapping"),
        ("name: Bad Name\nservices: {}\n", 1, "invalid project name"),
    ],
)
def test_compose_errors_name_the_line(tmp_path: Path, body: str, line: int, match: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(body)
    with pytest.raises(InputError, match=rf"^{path}:{line}: document 1: .*{match}"):
        load_manifests([path])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512m", 512 * Mi),
        ("512M", 512 * Mi),
        ("512mb", 512 * Mi),
        ("512MiB", 512 * Mi),
        ("1g", Gi),
        ("1.5GB", 1536 * Mi),
        ("10 k", 10240),
        ("100", 100),
        ("100b", 100),
        ("0.5k", 512),
        ("1.0001k", 1024),  # fractions of a byte are dropped (Go int64(float))
        ("2t", 2 * 2**40),
        ("1Gi", Gi),  # go-units: a unit, then i or b
        ("1.5e3m", 1_572_864_000),  # go-units v0.5 reads the number with ParseFloat
        ("1e3", 1000),
        ("+2k", 2048),
        ("5.m", 5 * Mi),
    ],
)
def test_ram_in_bytes(text: str, value: int) -> None:
    assert ram_in_bytes(text) == value


@pytest.mark.parametrize("text", ["", "m", "-1m", "1x", "1ib", "1kk", "1 kb b", "1.5.5m",
                                  "0x10m", "1e", "1kbi"])
def test_ram_in_bytes_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        ram_in_bytes(text)


@pytest.mark.parametrize(
    ("folder", "project"),
    [("blog", "blog"), ("My App", "myapp"), ("_x.y-Z", "xy-z"), ("ünï", "n")],
)
def test_compose_project_name(folder: str, project: str) -> None:
    assert compose_project_name(folder) == project


# --------------------------------------------------------------------------- apply


def k8s_labels(ns: str, pod: str, container: str) -> dict[str, str]:
    return {
        "io.kubernetes.pod.namespace": ns,
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.container.name": container,
        "io.kubernetes.docker.type": "podsandbox" if container == "POD" else "container",
    }


def dataset() -> Dataset:
    compose = {"com.docker.compose.project": "blog", "com.docker.compose.service": "web"}
    rows = [
        # cri-dockerd: Docker shows shares (request) and Memory (limit), not the memory request
        ("c-web", "k8s_app_web-7d4b9c8f6d-x2x9z_shop_uid_0",
         k8s_labels("shop", "web-7d4b9c8f6d-x2x9z", "app"), None, 0.25, 1.0, math.nan, 512 * Mi),
        ("c-pause", "k8s_POD_web-7d4b9c8f6d-x2x9z_shop_uid_0",
         k8s_labels("shop", "web-7d4b9c8f6d-x2x9z", "POD"), None, math.nan, math.nan, math.nan,
         math.nan),
        ("c-web2", "k8s_app_web-7d4b9c8f6d-q8w2z_shop_uid_0",
         k8s_labels("shop", "web-7d4b9c8f6d-q8w2z", "app"), None, 0.25, 1.0, math.nan, 512 * Mi),
        # a bare Pod named like a StatefulSet pod: name inference says jobs/worker/main
        ("c-worker", "k8s_main_worker-1_jobs_uid_0", k8s_labels("jobs", "worker-1", "main"), None,
         0.002, math.nan, math.nan, math.nan),
        ("c-db", "k8s_postgres_db-0_default_uid_0", k8s_labels("default", "db-0", "postgres"),
         None, 1.5, math.nan, math.nan, math.nan),
        ("c-dump", "k8s_dump_backup-29012345-bd9xk_ops_uid_0",
         k8s_labels("ops", "backup-29012345-bd9xk", "dump"), None, 0.1, 2.0, math.nan, math.nan),
        ("c-blog", "blog-web-1", compose, None, math.nan, 2.0, math.nan, math.nan),
        ("c-other", "other", {}, None, 0.5, math.nan, math.nan, 64 * Mi),
        ("c-unknown", "k8s_x_web-7d4b9c8f6d-x2x9z_shop_uid_0",
         k8s_labels("shop", "web-7d4b9c8f6d-x2x9z", "sidecar"), None, math.nan, math.nan,
         math.nan, math.nan),
        ("c-explicit", "imported", compose, "mine", math.nan, math.nan, math.nan, math.nan),
    ]
    containers = pd.DataFrame(
        [
            {
                "host": "unix:///var/run/docker.sock", "container_id": cid, "name": name,
                "image": "img", "labels": labels, "workload": workload, "cpu_request": cr,
                "cpu_limit": cl, "memory_request": mr, "memory_limit": ml,
                "cpuset_cpus": math.nan, "restart_count": 0, "oom_killed": False,
                "started_at": 0.0, "os_type": "linux", "first_seen": 0.0, "last_seen": 0.0,
            }
            for cid, name, labels, workload, cr, cl, mr, ml in rows
        ]
    )
    empty = pd.DataFrame()
    return Dataset(samples=empty, containers=containers, events=empty, hosts=empty)


def manifests() -> list[ManifestWorkload]:
    return load_manifests([FIXTURES / "k8s", FIXTURES / "compose" / "blog"])


def declared_of(ds: Dataset, cid: str) -> tuple[float, ...]:
    (row,) = ds.containers[ds.containers["container_id"] == cid].to_dict("records")
    return tuple(
        float(row[c]) for c in ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
    )


def same(a: tuple[float, ...], b: tuple[float | None, ...]) -> bool:
    return all(
        (math.isnan(x) and y is None) or x == y for x, y in zip(a, b, strict=True)
    )


def test_apply_manifests_sets_declared_values_and_workload(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ds = dataset()
    with caplog.at_level(logging.INFO, logger="rightsize"):
        out = apply_manifests(ds, manifests())
    assert out is not ds
    names = dict(
        zip(out.containers["container_id"], workload_names(out.containers), strict=True)
    )
    assert names == {
        "c-web": "shop/web/app",
        "c-pause": None,
        "c-web2": "shop/web/app",
        "c-worker": "jobs/worker-1/main",
        "c-db": "default/db/postgres",
        "c-dump": "ops/backup/dump",
        "c-blog": "blog/web",
        "c-other": "other",
        "c-unknown": "shop/web/sidecar",
        "c-explicit": "mine",
    }
    # the manifest's memory request appears; Docker's values are replaced
    assert same(declared_of(out, "c-web"), (0.25, 1.0, 256 * Mi, 512 * Mi))
    assert same(declared_of(out, "c-web2"), (0.25, 1.0, 256 * Mi, 512 * Mi))
    # undeclared in the manifest → NaN, even where Docker showed something (shares 2)
    assert same(declared_of(out, "c-worker"), (None, None, None, None))
    assert same(declared_of(out, "c-db"), (1.5, None, 10**9, None))
    assert same(declared_of(out, "c-dump"), (0.1, 2.0, 128974848, None))
    assert same(declared_of(out, "c-blog"), (0.5, 1.25, 256 * Mi, Gi))
    # untouched rows
    for cid in ("c-other", "c-pause", "c-unknown", "c-explicit"):
        assert same(declared_of(out, cid), tuple(
            None if math.isnan(v) else v for v in declared_of(ds, cid)
        ))
    workloads = dict(zip(out.containers["container_id"], out.containers["workload"], strict=True))
    assert workloads["c-web"] == "shop/web/app"
    assert not isinstance(workloads["c-other"], str)  # still no explicit workload
    # the input is not modified
    assert same(declared_of(ds, "c-web"), (0.25, 1.0, None, 512 * Mi))
    # one line for all the unmatched workloads
    (line,) = [r.getMessage() for r in caplog.records if "matched no collected" in r.getMessage()]
    assert line.startswith("6 manifest workloads matched no collected container: ")
    assert "monitoring/node-exporter/exporter" in line and " and 1 more" in line


def test_match_manifests_reports_unmatched() -> None:
    match = match_manifests(dataset().containers, manifests())
    assert sorted(m.workload for m in match.unmatched) == [
        "blog/cache",
        "blog/db",
        "jobs/worker-1/migrate",
        "jobs/worker-1/proxy",
        "monitoring/node-exporter/exporter",
        "shop/web/log-shipper",
    ]
    assert len(match.rows) == 6


def test_bare_pod_wins_over_a_statefulset_of_the_same_stem(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(
        "kind: StatefulSet\nmetadata: {name: worker, namespace: jobs}\n"
        "spec: {template: {spec: {containers: [{name: main, resources: "
        "{limits: {memory: 1Gi}}}]}}}\n---\n"
        "kind: Pod\nmetadata: {name: worker-1, namespace: jobs}\n"
        "spec: {containers: [{name: main, resources: {limits: {memory: 2Gi}}}]}\n"
    )
    out = apply_manifests(dataset(), load_manifests([tmp_path]))
    assert declared_of(out, "c-worker")[3] == 2 * Gi


def test_apply_without_matches_returns_the_dataset() -> None:
    ds = dataset()
    assert apply_manifests(ds, []) is ds
