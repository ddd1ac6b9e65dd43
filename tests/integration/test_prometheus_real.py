"""The Prometheus source against a real Prometheus server.

cAdvisor and kube-state-metrics series for a small cluster are written as
OpenMetrics text (timestamps in the recent past, inside the retention),
turned into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``
and served by a ``prometheus`` subprocess on 127.0.0.1. The source copies the
window into a store; the analysis must match statistics computed directly
from the series written. Skipped when prometheus/promtool are missing, a
failure with ``RIGHTSIZE_REQUIRE_ENGINE=1``.

Imported blocks carry no staleness markers, so the server runs with
``--query.lookback-delta=30s`` (samples are 60 s apart): a series that ends
(a finished job pod, a restarted container's old cgroup) ends at once, as
it does in a live Prometheus thanks to staleness markers.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest

from rightsize.errors import RuntimeFailure
from rightsize.sources.prometheus import collect_prometheus
from rightsize.store import Store, load

from .conftest import unavailable

SCRAPE = 60  # seconds between generated samples
MiB = 1024 * 1024


def binaries() -> tuple[str, str] | None:
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    return (prom, tool) if prom and tool else None


def require_binaries() -> tuple[str, str]:
    found = binaries()
    if found is None:
        unavailable("prometheus and promtool are not installed (Debian package `prometheus`)")
    return found


# ----------------------------------------------------------------------------- data


@dataclass
class Series:
    """One series: a metric name, labels and (unix seconds, value) points."""

    name: str
    labels: dict[str, str]
    points: Sequence[tuple[int, float]] = field(default_factory=list)

    def lines(self) -> Iterator[str]:
        body = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        head = f"{self.name}{{{body}}}"
        for t, v in self.points:
            value = repr(float(v)) if isinstance(v, float) and not v.is_integer() else str(int(v))
            yield f"{head} {value} {t}\n"


def write_openmetrics(series: Iterable[Series], path: Path) -> int:
    """Write series as OpenMetrics text (no TYPE lines: promtool imports untyped samples)."""
    n = 0
    with path.open("w") as f:
        for s in series:
            for line in s.lines():
                f.write(line)
                n += 1
        f.write("# EOF\n")
    return n


def create_blocks(promtool: str, source: Path, data_dir: Path) -> None:
    """``promtool tsdb create-blocks-from openmetrics`` with large blocks (much faster)."""
    subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=72h",
            "-q",
            str(source),
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(name: str, argv: list[str], url: str, ready: str,
          log_path: Path) -> Iterator[str]:
    """Run ``argv`` (a server called ``name``); yield ``url`` once ``url + ready`` answers 200.

    The server is stopped (SIGTERM, then SIGKILL after 20 s) when the block ends.
    """
    log = log_path.open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}{ready}", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after 60 s; see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def prometheus_server(prometheus: str, data_dir: Path, *, retention: str = "30d") -> Iterator[str]:
    """Run ``prometheus`` on the TSDB at ``data_dir``; yields its URL once ready."""
    config = data_dir.parent / f"{data_dir.name}.prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = free_port()
    argv = [
        prometheus,
        f"--storage.tsdb.path={data_dir}",
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.retention.time={retention}",
        "--query.lookback-delta=30s",
    ]
    with serve("prometheus", argv, f"http://127.0.0.1:{port}", "/-/ready",
               data_dir.parent / f"{data_dir.name}.prometheus.log") as url:
        yield url


@dataclass
class Container:
    """One generated pod container and what the source must make of it."""

    namespace: str
    pod: str
    container: str
    workload: str  # expected workload name
    node: str
    cpu: np.ndarray  # cores per interval (len = points - 1)
    memory: np.ndarray  # working set per point
    times: np.ndarray  # unix seconds per point
    requests: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    restart_at: int | None = None  # index of the first point of a new instance
    oom_counter_at: tuple[int, ...] = ()  # indexes where container_oom_events_total grows


def _counter(rates: np.ndarray, start: float = 0.0) -> np.ndarray:
    return np.concatenate(([start], start + np.cumsum(rates * SCRAPE)))


def cadvisor_series(c: Container, *, duplicate: bool = False) -> list[Series]:
    """cAdvisor series of one container (two instances when it restarts)."""
    base = {
        "namespace": c.namespace,
        "pod": c.pod,
        "container": c.container,
        "image": f"registry.local/{c.container}:1",
        "job": "kubelet",
        "metrics_path": "/metrics/cadvisor",
        "node": c.node,
    }
    cut = [0, c.restart_at, len(c.times)] if c.restart_at else [0, len(c.times)]
    out: list[Series] = []
    for inst, (lo, hi) in enumerate(itertools.pairwise(cut)):
        labels = {
            **base,
            "id": f"/kubepods/pod-{c.pod}/{c.container}-{inst}",
            "name": f"{c.container}-{inst}",
        }
        t = c.times[lo:hi].astype(int).tolist()
        cpu = _counter(c.cpu[lo : hi - 1], start=3.0 * inst + 1.0)
        share = 0.3 if c.limits.get("cpu") else 0.0
        periods = np.arange(hi - lo) * 600
        throttled = np.floor(periods * share * np.linspace(0, 1, hi - lo))
        oom = np.array([sum(1 for i in c.oom_counter_at if i <= lo + k) for k in range(hi - lo)])
        if c.restart_at and inst == 0:
            oom[-1] += 1  # cAdvisor saw the kill on the old cgroup
        metrics = {
            "container_cpu_usage_seconds_total": cpu,
            "container_memory_working_set_bytes": c.memory[lo:hi],
            "container_oom_events_total": oom,
        }
        if c.limits.get("cpu"):
            metrics |= {
                "container_cpu_cfs_periods_total": periods,
                "container_cpu_cfs_throttled_periods_total": throttled,
                "container_cpu_cfs_throttled_seconds_total": throttled * 0.01,
            }
        for name, values in metrics.items():
            extra = {"cpu": "total"} if name == "container_cpu_usage_seconds_total" else {}
            out.append(
                Series(name, {**labels, **extra}, list(zip(t, values.tolist(), strict=True)))
            )
            if duplicate and name in (
                "container_cpu_usage_seconds_total",
                "container_memory_working_set_bytes",
            ):
                dup = {k: v for k, v in labels.items() if k not in ("id", "name", "image")}
                dup["metrics_path"] = "/metrics/resource"
                out.append(Series(name, dup, list(zip(t, values.tolist(), strict=True))))
    return out


def ksm_series(c: Container, *, every: int = 1) -> list[Series]:
    """kube-state-metrics series of one container, a point every ``every`` samples."""
    idx = list(range(0, len(c.times), every))
    if idx[-1] != len(c.times) - 1:
        idx.append(len(c.times) - 1)
    ts = [int(c.times[i]) for i in idx]
    ksm = {"job": "kube-state-metrics", "instance": "ksm:8080"}
    key = {"namespace": c.namespace, "pod": c.pod, "container": c.container}
    out: list[Series] = []
    for resource, unit in (("cpu", "core"), ("memory", "byte")):
        for metric, values in (
            ("kube_pod_container_resource_requests", c.requests),
            ("kube_pod_container_resource_limits", c.limits),
        ):
            if resource in values:
                lab = {**ksm, **key, "node": c.node, "resource": resource, "unit": unit}
                out.append(Series(metric, lab, [(t, values[resource]) for t in ts]))
    out.append(
        Series(
            "kube_pod_container_info",
            {**ksm, **key, "image": f"registry.local/{c.container}:1"},
            [(t, 1) for t in ts],
        )
    )
    restarts = [0 if c.restart_at is None or i < c.restart_at else 1 for i in range(len(c.times))]
    out.append(
        Series(
            "kube_pod_container_status_restarts_total",
            {**ksm, **key},
            [(int(c.times[i]), restarts[i]) for i in range(len(c.times))]
            if c.restart_at
            else [(t, 0) for t in ts],
        )
    )
    if c.restart_at:
        out.append(
            Series(
                "kube_pod_container_status_last_terminated_reason",
                {**ksm, **key, "reason": "OOMKilled"},
                [(int(t), 1) for t in c.times[c.restart_at :]],
            )
        )
    return out


def pod_series(
    pods: dict[tuple[str, str], tuple[str, str, str]],
    times: dict[tuple[str, str], np.ndarray],
    *,
    every: int = 1,
) -> list[Series]:
    """kube_pod_owner and kube_pod_info per pod: (namespace, pod) → (node, kind, owner)."""
    ksm = {"job": "kube-state-metrics", "instance": "ksm:8080"}
    out = []
    for (ns, pod), (node, kind, owner) in pods.items():
        ts = [int(t) for t in times[(ns, pod)][::every]]
        out.append(
            Series(
                "kube_pod_owner",
                {
                    **ksm,
                    "namespace": ns,
                    "pod": pod,
                    "owner_kind": kind,
                    "owner_name": owner,
                    "owner_is_controller": "true" if kind != "<none>" else "false",
                },
                [(t, 1) for t in ts],
            )
        )
        out.append(
            Series(
                "kube_pod_info",
                {
                    **ksm,
                    "namespace": ns,
                    "pod": pod,
                    "node": node,
                    "host_ip": "10.0.0.1",
                    "pod_ip": "10.1.0.2",
                },
                [(t, 1) for t in ts],
            )
        )
        # the pod cgroup (container="") and the sandbox (container="POD") must be ignored
        for container in ("", "POD"):
            out.append(
                Series(
                    "container_memory_working_set_bytes",
                    {
                        "namespace": ns,
                        "pod": pod,
                        "container": container,
                        "id": f"/kubepods/pod-{pod}/{container or 'pod'}",
                        "node": node,
                    },
                    [(t, 999 * MiB) for t in ts],
                )
            )
            out.append(
                Series(
                    "container_cpu_usage_seconds_total",
                    {
                        "namespace": ns,
                        "pod": pod,
                        "container": container,
                        "cpu": "total",
                        "node": node,
                    },
                    [(t, float(t - ts[0]) * 3.0) for t in ts],
                )
            )
    return out


def small_cluster(end: int, hours: int = 24) -> tuple[list[Container], list[Series]]:
    """Nine containers: Deployment, StatefulSet, DaemonSet, CronJob, bare pod, OOMs, a sidecar."""
    rng = np.random.default_rng(42)
    n = hours * 3600 // SCRAPE + 1
    times = end - SCRAPE * np.arange(n)[::-1]

    def make(
        ns: str,
        pod: str,
        container: str,
        workload: str,
        node: str,
        cpu_mean: float,
        mem_mib: float,
        lo: int = 0,
        hi: int = n,
        **kw: object,
    ) -> Container:
        k = hi - lo
        cpu = np.clip(rng.gamma(2.0, cpu_mean / 2.0, k - 1), 0, None)
        mem = np.round(mem_mib * MiB * (1 + 0.2 * rng.random(k))).astype(np.int64)
        return Container(ns, pod, container, workload, node, cpu, mem, times[lo:hi], **kw)  # type: ignore[arg-type]

    web: dict[str, dict[str, float]] = {
        "requests": {"cpu": 0.5, "memory": 256 * MiB},
        "limits": {"cpu": 1.0, "memory": 512 * MiB},
    }
    cs = [
        make("shop", "web-7d4b9c8f6d-x2x9z", "app", "shop/web/app", "node-a", 0.2, 120, **web),  # type: ignore[arg-type]
        make("shop", "web-7d4b9c8f6d-k8s7q", "app", "shop/web/app", "node-b", 0.3, 140, **web),  # type: ignore[arg-type]
        make(
            "shop",
            "web-7d4b9c8f6d-x2x9z",
            "proxy",
            "shop/web/proxy",
            "node-a",
            0.02,
            30,
            requests={"cpu": 0.1, "memory": 64 * MiB},
        ),
        make(
            "shop",
            "db-0",
            "postgres",
            "shop/db/postgres",
            "node-b",
            0.6,
            700,
            requests={"cpu": 1.0, "memory": 1024 * MiB},
            limits={"memory": 1024 * MiB},
            oom_counter_at=(n // 3, 2 * n // 3),
        ),
        make(
            "kube-system",
            "node-exporter-q2w5z",
            "exporter",
            "kube-system/node-exporter/exporter",
            "node-a",
            0.01,
            20,
            requests={"cpu": 0.05, "memory": 32 * MiB},
        ),
        make(
            "batch",
            "report-29000000-abcde",
            "job",
            "batch/nightly-report/job",
            "node-b",
            0.9,
            300,
            lo=n // 4,
            hi=n // 4 + 90,
            requests={"cpu": 1.0, "memory": 512 * MiB},
        ),
        make(
            "batch",
            "report-29001440-fghjk",
            "job",
            "batch/nightly-report/job",
            "node-b",
            0.8,
            320,
            lo=3 * n // 4,
            hi=3 * n // 4 + 90,
            requests={"cpu": 1.0, "memory": 512 * MiB},
        ),
        make("shop", "debug", "shell", "shop/debug/shell", "node-a", 0.001, 5),
        make(
            "shop",
            "worker-5f6c7b8d9c-t7wz2",
            "app",
            "shop/worker/app",
            "node-a",
            0.4,
            200,
            requests={"cpu": 0.25, "memory": 256 * MiB},
            limits={"memory": 256 * MiB},
            restart_at=n // 2,
        ),
    ]
    owners = {
        ("shop", "web-7d4b9c8f6d-x2x9z"): ("node-a", "ReplicaSet", "web-7d4b9c8f6d"),
        ("shop", "web-7d4b9c8f6d-k8s7q"): ("node-b", "ReplicaSet", "web-7d4b9c8f6d"),
        ("shop", "db-0"): ("node-b", "StatefulSet", "db"),
        ("kube-system", "node-exporter-q2w5z"): ("node-a", "DaemonSet", "node-exporter"),
        ("batch", "report-29000000-abcde"): ("node-b", "Job", "report-29000000"),
        ("batch", "report-29001440-fghjk"): ("node-b", "Job", "report-29001440"),
        ("shop", "debug"): ("node-a", "<none>", "<none>"),
        ("shop", "worker-5f6c7b8d9c-t7wz2"): ("node-a", "ReplicaSet", "worker-5f6c7b8d9c"),
    }
    pod_times = {(c.namespace, c.pod): c.times for c in cs}
    series: list[Series] = []
    for i, c in enumerate(cs):
        series += cadvisor_series(c, duplicate=(i == 0))
        series += ksm_series(c, every=1 if c.restart_at else 30)
    series += pod_series(owners, pod_times, every=30)
    ksm = {"job": "kube-state-metrics", "instance": "ksm:8080"}
    sparse = [int(t) for t in times[:: n // 4]]
    for rs, deploy in (("web-7d4b9c8f6d", "web"), ("worker-5f6c7b8d9c", "worker")):
        series.append(
            Series(
                "kube_replicaset_owner",
                {
                    **ksm,
                    "namespace": "shop",
                    "replicaset": rs,
                    "owner_kind": "Deployment",
                    "owner_name": deploy,
                },
                [(t, 1) for t in sparse],
            )
        )
    for job in ("report-29000000", "report-29001440"):
        series.append(
            Series(
                "kube_job_owner",
                {
                    **ksm,
                    "namespace": "batch",
                    "job_name": job,
                    "owner_kind": "CronJob",
                    "owner_name": "nightly-report",
                    "owner_is_controller": "true",
                },
                [(t, 1) for t in sparse],
            )
        )
    for node, cpus, mem in (("node-a", 4, 16 * 1024 * MiB), ("node-b", 8, 32 * 1024 * MiB)):
        for resource, value, unit in (("cpu", cpus, "core"), ("memory", mem, "byte")):
            series.append(
                Series(
                    "kube_node_status_capacity",
                    {**ksm, "node": node, "resource": resource, "unit": unit},
                    [(t, value) for t in sparse],
                )
            )
    return cs, series


def expected_stats(containers: list[Container]) -> dict[str, dict[str, float]]:
    """p95/max of CPU and memory per workload, computed from the generated series."""
    cpu: dict[str, list[float]] = {}
    mem: dict[str, list[float]] = {}
    for c in containers:
        rates = c.cpu.tolist()
        if c.restart_at:
            del rates[c.restart_at - 1]  # the interval holding the restart is not counted
        cpu.setdefault(c.workload, []).extend(rates)
        mem.setdefault(c.workload, []).extend(c.memory.tolist())
    return {
        w: {
            "cpu_p95": float(np.percentile(cpu[w], 95)),
            "cpu_max": max(cpu[w]),
            "mem_p95": float(np.percentile(mem[w], 95)),
            "mem_max": max(mem[w]),
            "cpu_n": len(cpu[w]),
        }
        for w in cpu
    }


# ----------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Container], int]]:
    prometheus, promtool = require_binaries()
    tmp = tmp_path_factory.mktemp("prometheus")
    end = (int(time.time()) // SCRAPE) * SCRAPE - 600
    containers, series = small_cluster(end)
    source = tmp / "cluster.om"
    write_openmetrics(series, source)
    create_blocks(promtool, source, tmp / "tsdb")
    with prometheus_server(prometheus, tmp / "tsdb") as url:
        yield url, containers, end


def test_analysis_matches_the_series_written(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    from rightsize.analysis.pipeline import analyze

    url, containers, end = cluster
    db = tmp_path / "rs.db"
    with Store(db) as store:
        summary = collect_prometheus(store, url, since=end - 24 * 3600, until=end)
    assert summary.step == 60
    assert summary.containers == len(containers)
    result = analyze(load(db))
    by_name = {r.name: r for r in result.results}
    expected = expected_stats(containers)
    assert set(by_name) == set(expected)
    for name, exp in expected.items():
        r = by_name[name]
        assert r.cpu.p95 == pytest.approx(exp["cpu_p95"], rel=1e-6, abs=1e-9), name
        assert r.cpu.max == pytest.approx(exp["cpu_max"], rel=1e-6, abs=1e-9), name
        assert r.cpu.samples == exp["cpu_n"], name
        assert r.memory.p95 == pytest.approx(exp["mem_p95"]), name
        assert r.memory.max == exp["mem_max"], name

    # declared values are kube-state-metrics' values
    for c in containers:
        d = by_name[c.workload].declared
        assert d.cpu_request == c.requests.get("cpu"), c.workload
        assert d.cpu_limit == c.limits.get("cpu"), c.workload
        mem_req, mem_lim = c.requests.get("memory"), c.limits.get("memory")
        assert d.memory_request == (None if mem_req is None else int(mem_req)), c.workload
        assert d.memory_limit == (None if mem_lim is None else int(mem_lim)), c.workload

    # OOM kills: one restart under OOMKilled (the cAdvisor counter on the same container is
    # not counted twice), two cAdvisor OOM events without a restart, none elsewhere
    kills = {name: r.oom.kills for name, r in by_name.items()}
    assert kills.pop("shop/worker/app") == 1
    assert kills.pop("shop/db/postgres") == 2
    assert set(kills.values()) == {0}
    assert any(f.kind == "oom_killed" for f in by_name["shop/worker/app"].findings)

    # throttling comes through the CFS counters
    web = by_name["shop/web/app"]
    assert web.throttling.periods > 0 and web.throttling.throttled_periods > 0

    # nodes from kube_node_status_capacity
    data = load(db)
    hosts = {
        h: (int(c), int(m))
        for h, c, m in data.hosts[["host", "ncpu", "mem_total"]].itertuples(index=False)
    }
    assert hosts == {"node-a": (4, 16 * 1024 * MiB), "node-b": (8, 32 * 1024 * MiB)}
    assert set(data.containers["container_id"]) == {
        f"{c.namespace}/{c.pod}/{c.container}" for c in containers
    }


def test_namespace_filter_and_coarser_step(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    url, containers, end = cluster
    with Store(tmp_path / "rs.db") as store:
        summary = collect_prometheus(
            store, url, since=end - 6 * 3600, until=end, step=300, namespaces=["batch"]
        )
        ids = {r[0] for r in store.connection.execute("SELECT container_id FROM containers")}
    assert summary.step == 300
    # the first job ran 18 h before the end: listed by the series API, no samples, not stored
    in_window = [c for c in containers if c.namespace == "batch" and c.times[-1] >= end - 6 * 3600]
    assert [c.pod for c in in_window] == ["report-29001440-fghjk"]
    assert ids == {f"batch/{c.pod}/job" for c in in_window}
    assert summary.samples == len([t for t in in_window[0].times if t % 300 == 0])
    assert summary.queries <= 16


def test_rejected_query_names_url_and_error(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    url, _, end = cluster
    with Store(tmp_path / "rs.db") as store, pytest.raises(RuntimeFailure) as info:
        collect_prometheus(store, url, since=end - 3600, until=end, selector='job=~"("')
    message = str(info.value)
    assert url in message and "rejected the query" in message and "job=~" in message


def test_unreachable_server_is_a_runtime_failure(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Store(tmp_path / "rs.db") as store, pytest.raises(RuntimeFailure) as info:
        collect_prometheus(store, url, since=time.time() - 3600)
    assert url in str(info.value) and "reachable" in str(info.value)


def test_empty_window_is_a_runtime_failure(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    url, _, end = cluster
    with Store(tmp_path / "rs.db") as store, pytest.raises(RuntimeFailure) as info:
        collect_prometheus(store, url, since=end - 40 * 86400, until=end - 39 * 86400)
    assert "no cAdvisor container series" in str(info.value)
    assert not math.isnan(end)


def test_the_cli_reads_prometheus_into_the_store_and_directly(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    """`collect --source prometheus`, then `analyze`; and `check --prometheus-url` directly."""
    import json
    import subprocess
    import sys

    url, containers, end = cluster
    db = tmp_path / "cli.db"
    base = [sys.executable, "-m", "rightsize", "--db", str(db)]
    window = ["--since", str(end - 24 * 3600), "--until", str(end)]
    proc = subprocess.run(
        [*base, "collect", "--source", "prometheus", "--prometheus-url", url, *window],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run(
        [*base, "analyze", "--format", "json"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    names = {w["workload"] for w in json.loads(out.stdout)["workloads"]}
    assert names == {c.workload for c in containers}
    direct = subprocess.run(
        [
            *base[:4],
            str(tmp_path / "unused.db"),
            "check",
            "--prometheus-url",
            url,
            *window,
            "--exit-zero",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert direct.returncode == 0, direct.stderr
    assert "shop/worker/app" in direct.stdout  # the OOM-killed workload fails the gate


def test_run_reports_from_prometheus(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys

    url, containers, _end = cluster
    out = tmp_path / "reports"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rightsize",
            "--db",
            str(tmp_path / "run.db"),
            "run",
            "--source",
            "prometheus",
            "--prometheus-url",
            url,
            "--duration",
            "25h",
            "--out",
            str(out),
            "--charts",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).exists()
    doc = json.loads((out / "report.json").read_text())
    assert {w["workload"] for w in doc["workloads"]} == {c.workload for c in containers}


# ----------------------------------------------------------------------------- aggregate mode


def _by_container(samples: object) -> dict[str, object]:
    import pandas as pd

    assert isinstance(samples, pd.DataFrame)
    return {str(cid): g.sort_values("ts") for cid, g in samples.groupby("container_id")}


def assert_aggregate_of(raw: object, agg: object, step: float, key: object) -> None:
    """``agg``, one container's rows at ``step``, is what the aggregation makes of ``raw``.

    Memory: each aggregated sample is the maximum of the raw ones in (t - step, t]; CPU and
    CFS counters: the raw counter values at the coarse timestamps (none where the container
    had ended before t but still has a memory peak in the interval).
    """
    import pandas as pd

    assert isinstance(raw, pd.DataFrame) and isinstance(agg, pd.DataFrame)
    for t, m in zip(agg["ts"], agg["mem_working_set"], strict=True):
        inside = raw[(raw["ts"] > t - step) & (raw["ts"] <= t)]["mem_working_set"]
        assert m == inside.max(), (key, t)
    at = raw.set_index("ts").reindex(agg["ts"])
    for col in ("cpu_total_ns", "periods", "throttled_periods"):
        assert agg[col].tolist() == pytest.approx(at[col].tolist(), nan_ok=True), (key, col)


def test_aggregate_mode_keeps_peaks_and_averages_with_fewer_points(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    """900 s aggregated in Prometheus vs the raw 60 s copy: same peaks, same CPU averages."""

    from rightsize.analysis.pipeline import analyze

    url, containers, end = cluster
    since = end - 24 * 3600
    with Store(tmp_path / "raw.db") as store:
        raw = collect_prometheus(store, url, since=since, until=end)
    with Store(tmp_path / "agg.db") as store:
        agg = collect_prometheus(store, url, since=since, until=end, resolution=900)
    assert (agg.mode, agg.step, raw.mode, raw.step) == ("aggregate", 900, "raw", 60)
    assert agg.containers == raw.containers == len(containers)
    assert agg.samples * 12 < raw.samples and agg.points * 12 < raw.points
    # 17: 16 + the one /api/v1/series call for plain Docker containers (issue 16)
    assert agg.queries <= raw.queries <= 17 and agg.batches == raw.batches == 1

    raw_data, agg_data = load(tmp_path / "raw.db"), load(tmp_path / "agg.db")
    raw_s, agg_s = _by_container(raw_data.samples), _by_container(agg_data.samples)
    for cid, a in agg_s.items():
        assert_aggregate_of(raw_s[cid], a, 900, cid)

    expected = expected_stats(containers)
    by_raw = {x.name: x for x in analyze(raw_data).results}
    by_agg = {x.name: x for x in analyze(agg_data).results}
    assert set(by_agg) == set(expected)
    for name, exp in expected.items():
        assert by_agg[name].memory.max == exp["mem_max"], name  # the peak survives
        assert by_agg[name].declared == by_raw[name].declared, name
        assert by_agg[name].oom.kills == by_raw[name].oom.kills, name
    # CPU means agree (the same counters; the coarse grid drops at most 15 min at the start)
    for name in ("shop/web/app", "shop/web/proxy", "shop/db/postgres", "shop/worker/app"):
        assert by_agg[name].cpu.mean == pytest.approx(by_raw[name].cpu.mean, rel=0.01), name
        # ... but 15-minute averages flatten the bursts: the cost of the mean signal
        assert by_agg[name].cpu.p95 < by_raw[name].cpu.p95, name
    web = by_agg["shop/web/app"]
    assert web.throttling.periods > 0 and web.throttling.throttled_periods > 0


def test_aggregate_cpu_peaks_keep_the_largest_rate(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    from rightsize.analysis.pipeline import analyze

    url, containers, end = cluster
    since = end - 24 * 3600
    with Store(tmp_path / "peak.db") as store:
        s = collect_prometheus(
            store, url, since=since, until=end, resolution=900, cpu_signal="peak"
        )
    assert s.cpu_signal == "peak" and s.queries <= 17  # + the Docker discovery (issue 16)
    by_name = {x.name: x for x in analyze(load(tmp_path / "peak.db")).results}
    for name, exp in expected_stats(containers).items():
        # irate every 60 s over each interval: the raw per-scrape maximum
        assert by_name[name].cpu.max == pytest.approx(exp["cpu_max"], rel=1e-6), name
        assert by_name[name].cpu.p95 >= exp["cpu_p95"], name  # peaks err on the safe side


def test_resolution_auto_and_raw_series_of_flagged_workloads(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    url, containers, end = cluster
    since = end - 24 * 3600
    with Store(tmp_path / "auto.db") as store:
        auto = collect_prometheus(
            store, url, since=since, until=end, resolution="auto", points_budget=5_000
        )
    # 9 containers x 1,442 raw points > 5,000; at 180 s: 9 x 482 = 4,338
    assert (auto.mode, auto.step) == ("aggregate", 180)
    # raw 60 s series of two flagged workloads, into a store of their own (for charts)
    flagged = ["shop/web/app", "shop/worker/app"]
    with Store(tmp_path / "charts.db") as store:
        charts = collect_prometheus(store, url, since=since, until=end, workloads=flagged)
    assert charts.mode == "raw" and charts.step == 60 and charts.queries <= 16
    data = load(tmp_path / "charts.db")
    assert set(data.containers["workload"]) == set(flagged)
    mine = [c for c in containers if c.workload in flagged]
    assert charts.samples == sum(len(c.times) for c in mine)
    # pods work the same way
    with Store(tmp_path / "pod.db") as store:
        pod = collect_prometheus(store, url, since=since, until=end, pods=["shop/db-0"])
    assert pod.containers == 1 and pod.events == 2  # its two cAdvisor OOM events


def test_the_cli_aggregate_mode(cluster: tuple[str, list[Container], int], tmp_path: Path) -> None:
    import subprocess
    import sys

    url, _containers, end = cluster
    db = tmp_path / "agg.db"
    proc = subprocess.run(
        [sys.executable, "-m", "rightsize", "--db", str(db), "collect", "--source", "prometheus",
         "--prometheus-url", url, "--since", str(end - 24 * 3600), "--until", str(end),
         "--resolution", "15m"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    samples = load(db).samples
    assert samples.groupby("container_id").size().max() <= 24 * 4 + 1  # one per 15 minutes
    bad = subprocess.run(
        [sys.executable, "-m", "rightsize", "--db", str(db), "collect", "--source", "prometheus",
         "--prometheus-url", url, "--resolution", "soon"],
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and "soon" in bad.stderr


def test_report_on_aggregated_data_charts_flagged_workloads_from_raw_series(
    cluster: tuple[str, list[Container], int], tmp_path: Path
) -> None:
    import subprocess
    import sys

    url, _containers, end = cluster
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "rightsize", "--db", str(tmp_path / "unused.db"), "report",
         "--prometheus-url", url, "--resolution", "15m", "--since", str(end - 24 * 3600),
         "--until", str(end), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "flagged workloads at full resolution" in proc.stderr
    page = Path(proc.stdout.strip()).read_text()
    assert "shop/worker/app" in page and "<svg" in page
