"""Docker fleets through standalone cAdvisor, in a real Prometheus and a real VictoriaMetrics.

Four plain Docker containers on two hosts (a Compose service on both, one
with a CPU quota and memory limits, one with OOM kills), 12 h of cAdvisor
series with cAdvisor's own labels (``name``, ``id``, ``image``,
``container_label_*``, ``instance``) and no Kubernetes labels; then the same
fleet beside the Kubernetes cluster of ``test_prometheus_real`` (a mixed
fleet). Prometheus is loaded with ``promtool tsdb create-blocks-from
openmetrics``, VictoriaMetrics through ``/api/v1/import/prometheus``; both
serve on 127.0.0.1. Raw copies must match the series written, and the
push-down aggregation (``resolution``) must give the same rows on both.
Skipped when a binary is missing, a failure with ``RIGHTSIZE_REQUIRE_ENGINE=1``.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest

from rightsize.sources.prometheus import collect_prometheus
from rightsize.store import Store, load
from tests.integration.test_prometheus_real import (
    SCRAPE,
    MiB,
    Series,
    assert_aggregate_of,
    create_blocks,
    expected_stats,
    free_port,
    prometheus_server,
    require_binaries,
    small_cluster,
    write_openmetrics,
)
from tests.integration.test_prometheus_real import (
    serve as serve_process,
)

from .conftest import unavailable

HOURS = 12
ENGINES = ("prometheus", "victoriametrics")


# ----------------------------------------------------------------------------- VictoriaMetrics


def require_victoria_metrics() -> str:
    found = shutil.which("victoria-metrics")
    if found is None:
        unavailable("victoria-metrics is not installed (Debian package `victoria-metrics`)")
    return found


def prometheus_text(series: Iterable[Series]) -> Iterator[bytes]:
    """Series as Prometheus text exposition lines (millisecond timestamps), in chunks."""
    chunk: list[str] = []
    for s in series:
        for line in s.lines():
            head, value, ts = line.rsplit(" ", 2)
            chunk.append(f"{head} {value} {int(ts) * 1000}\n")
        if len(chunk) > 20_000:
            yield "".join(chunk).encode()
            chunk = []
    yield "".join(chunk).encode()


@contextlib.contextmanager
def victoria_metrics_server(binary: str, data_dir: Path) -> Iterator[str]:
    """Run single-node VictoriaMetrics on ``data_dir``; yields its URL once healthy.

    ``-search.maxStalenessInterval=30s`` as Prometheus' ``--query.lookback-delta=30s``
    in the Prometheus fixture (imported samples have no staleness markers);
    ``-search.disableCache`` because the data is backfilled.
    """
    port = free_port()
    argv = [
        binary,
        f"-storageDataPath={data_dir}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y",
        "-search.maxStalenessInterval=30s",
        "-search.disableCache",
        "-loggerLevel=WARN",
    ]
    with serve_process("victoria-metrics", argv, f"http://127.0.0.1:{port}", "/health",
               data_dir.parent / f"{data_dir.name}.vm.log") as url:
        yield url


def import_victoria_metrics(url: str, series: Iterable[Series]) -> None:
    """``/api/v1/import/prometheus`` then ``/internal/force_flush`` (searchable at once)."""
    r = httpx.post(f"{url}/api/v1/import/prometheus", content=prometheus_text(series), timeout=600)
    r.raise_for_status()
    httpx.get(f"{url}/internal/force_flush", timeout=60).raise_for_status()


@contextlib.contextmanager
def serve(engine: str, series: list[Series], tmp: Path) -> Iterator[str]:
    """``engine`` loaded with ``series`` by its own import tool; yields its URL."""
    if engine == "prometheus":
        prometheus, promtool = require_binaries()
        source = tmp / "fleet.om"
        write_openmetrics(series, source)
        create_blocks(promtool, source, tmp / "tsdb")
        with prometheus_server(prometheus, tmp / "tsdb") as url:
            yield url
    else:
        binary = require_victoria_metrics()
        with victoria_metrics_server(binary, tmp / "vm") as url:
            import_victoria_metrics(url, series)
            yield url


# ----------------------------------------------------------------------------- data


@dataclass
class Box:
    """One plain Docker container as a standalone cAdvisor exports it."""

    host: str
    cid: str
    name: str
    workload: str  # expected workload name
    labels: dict[str, str]  # Docker labels, dotted
    cpu: np.ndarray  # cores per interval
    memory: np.ndarray
    times: np.ndarray
    quota: int = 0
    period: int = 100_000
    shares: int = 1024
    memory_limit: int = 0
    reservation: int = 0
    oom_at: tuple[int, ...] = ()
    systemd: bool = False
    restart_at: int | None = None  # expected_stats reads it

    @property
    def cgroup(self) -> str:
        return f"/system.slice/docker-{self.cid}.scope" if self.systemd else f"/docker/{self.cid}"


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def box_series(b: Box) -> list[Series]:
    labels = {
        "id": b.cgroup,
        "name": b.name,
        "image": f"registry.local/{b.name}:1",
        "instance": b.host,
        "job": "cadvisor",
        "container_env_SECRET_TOKEN": "hunter2",  # a whitelisted env: never stored
        **{f"container_label_{_sanitize(k)}": v for k, v in b.labels.items()},
    }
    t = b.times.astype(int).tolist()
    n = len(t)
    cpu = np.concatenate(([1.0], 1.0 + np.cumsum(b.cpu * SCRAPE)))
    metrics: dict[str, np.ndarray] = {
        "container_cpu_usage_seconds_total": cpu,
        "container_memory_working_set_bytes": b.memory,
        "container_oom_events_total": np.array(
            [sum(1 for i in b.oom_at if i <= k) for k in range(n)]
        ),
    }
    if b.quota:
        periods = np.arange(n) * 600
        throttled = np.floor(periods * 0.25 * np.linspace(0, 1, n))
        metrics |= {
            "container_cpu_cfs_periods_total": periods,
            "container_cpu_cfs_throttled_periods_total": throttled,
            "container_cpu_cfs_throttled_seconds_total": throttled * 0.01,
        }
    out = []
    for name, values in metrics.items():
        extra = {"cpu": "total"} if name == "container_cpu_usage_seconds_total" else {}
        out.append(Series(name, {**labels, **extra}, list(zip(t, values.tolist(), strict=True))))
    sparse = [*t[::30], t[-1]]
    spec = {
        "container_spec_cpu_period": b.period,
        "container_spec_cpu_shares": b.shares,
        # cAdvisor: 2^63 - 4096 for an unlimited v1 cgroup, 0 on v2
        "container_spec_memory_limit_bytes": b.memory_limit or 9223372036854771712,
        "container_spec_memory_reservation_limit_bytes": b.reservation,
    }
    if b.quota:
        spec["container_spec_cpu_quota"] = b.quota
    for name, value in spec.items():
        out.append(Series(name, labels, [(ts, value) for ts in sparse]))
    return out


def docker_fleet(end: int) -> tuple[list[Box], list[Series]]:
    """Compose ``shop/web`` on two hosts, ``cache`` (limits), ``batch`` (OOM kills), cgroups."""
    rng = np.random.default_rng(7)
    n = HOURS * 3600 // SCRAPE + 1
    times = end - SCRAPE * np.arange(n)[::-1]

    def make(host: str, name: str, workload: str, cpu_mean: float, mem_mib: float,
             labels: dict[str, str] | None = None, **kw: object) -> Box:
        cpu = np.clip(rng.gamma(2.0, cpu_mean / 2.0, n - 1), 0, None)
        mem = np.round(mem_mib * MiB * (1 + 0.2 * rng.random(n))).astype(np.int64)
        cid = f"{rng.integers(0, 2**63):016x}" * 4
        return Box(host, cid, name, workload, labels or {}, cpu, mem, times, **kw)  # type: ignore[arg-type]

    def compose(service: str) -> dict[str, str]:
        return {"com.docker.compose.project": "shop", "com.docker.compose.service": service,
                "com.docker.compose.container-number": "1", "tier": "front"}

    boxes = [
        make("host-a:8080", "shop-web-1", "shop/web", 0.2, 120, compose("web")),
        make("host-b:8080", "shop-web-1", "shop/web", 0.3, 140, compose("web"), systemd=True),
        make("host-a:8080", "cache", "cache", 0.4, 180, quota=50_000, shares=512,
             memory_limit=256 * MiB, reservation=128 * MiB),
        make("host-b:8080", "batch", "batch", 0.1, 60, memory_limit=64 * MiB,
             oom_at=(n // 3, 2 * n // 3)),
    ]
    series = [s for b in boxes for s in box_series(b)]
    ts = [int(t) for t in times[::60]]
    for host, cpus in (("host-a:8080", 4), ("host-b:8080", 8)):
        base = {"instance": host, "job": "cadvisor"}
        series.append(Series("machine_cpu_cores", base, [(t, cpus) for t in ts]))
        series.append(Series("machine_memory_bytes", base, [(t, 16 * 1024 * MiB) for t in ts]))
        series.append(Series("cadvisor_version_info", {**base, "dockerVersion": "20.10.24",
                             "cadvisorVersion": "v0.49.1"}, [(t, 1) for t in ts]))  # fmt: skip
        # cgroups that are no container (no name): the root, /docker, the engine's unit
        for cg in ("/", "/docker", "/system.slice/docker.service"):
            lab = {**base, "id": cg}
            series.append(Series("container_memory_working_set_bytes", lab,
                                 [(t, 999 * MiB) for t in ts]))  # fmt: skip
    return boxes, series


@dataclass
class Fleet:
    url: str
    engine: str
    end: int
    boxes: list[Box]
    pods: list[object] = field(default_factory=list)


#: one end time for every fleet of the module, so the engines are compared on the same grid
#: (each fixture taking its own once straddled a minute and shifted one engine's by 60 s)
END = (int(time.time()) // SCRAPE) * SCRAPE - 600


def _fleet(engine: str, tmp: Path, *, mixed: bool) -> Iterator[Fleet]:
    end = END
    boxes, series = docker_fleet(end)
    pods: list[object] = []
    if mixed:
        containers, k8s = small_cluster(end, hours=HOURS)
        series += k8s
        pods = list(containers)
    with serve(engine, series, tmp) as url:
        yield Fleet(url, engine, end, boxes, pods)


@pytest.fixture(scope="module", params=ENGINES)
def docker_only(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from _fleet(request.param, tmp_path_factory.mktemp(f"docker-{request.param}"),
                      mixed=False)


@pytest.fixture(scope="module", params=ENGINES)
def mixed(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    yield from _fleet(request.param, tmp_path_factory.mktemp(f"mixed-{request.param}"),
                      mixed=True)


# ----------------------------------------------------------------------------- tests


def _copy(fleet: Fleet, db: Path, **kw: object) -> object:
    with Store(db) as store:
        return collect_prometheus(store, fleet.url, since=fleet.end - HOURS * 3600,
                                  until=fleet.end, **kw)  # type: ignore[arg-type]


def _check_docker(by_name: dict[str, object], boxes: list[Box]) -> None:
    expected = expected_stats(boxes)  # type: ignore[arg-type]
    for name, exp in expected.items():
        r = by_name[name]
        assert r.cpu.p95 == pytest.approx(exp["cpu_p95"], rel=1e-6, abs=1e-9), name  # type: ignore[attr-defined]
        assert r.cpu.max == pytest.approx(exp["cpu_max"], rel=1e-6, abs=1e-9), name  # type: ignore[attr-defined]
        assert r.cpu.samples == exp["cpu_n"], name  # type: ignore[attr-defined]
        assert r.memory.max == exp["mem_max"], name  # type: ignore[attr-defined]
        assert r.memory.p95 == pytest.approx(exp["mem_p95"]), name  # type: ignore[attr-defined]


def test_docker_only_fleet_is_read_by_cadvisor_labels(docker_only: Fleet, tmp_path: Path) -> None:
    """The issue's case: no Kubernetes labels at all (was exit 3, 'has no cAdvisor series')."""
    from rightsize.analysis.pipeline import analyze

    db = tmp_path / "rs.db"
    summary = _copy(docker_only, db)
    assert summary.containers == 4 and summary.hosts == 2, summary  # type: ignore[attr-defined]
    data = load(db)
    result = analyze(data)
    by_name = {r.name: r for r in result.results}
    assert set(by_name) == {"shop/web", "cache", "batch"}
    # the Compose service on two hosts: one workload, two containers
    web = data.containers[data.containers["name"] == "shop-web-1"]
    assert sorted(web["host"]) == ["host-a:8080", "host-b:8080"]
    assert set(web["container_id"]) == {b.cid for b in docker_only.boxes if b.name == "shop-web-1"}
    assert len(by_name["shop/web"].containers) == 2
    labels = web["labels"].iloc[0]
    assert labels["com.docker.compose.service"] == "web" and labels["tier"] == "front"
    assert not any("SECRET" in k or "hunter2" in v for k, v in labels.items())
    _check_docker(by_name, docker_only.boxes)

    cache = by_name["cache"].declared
    assert (cache.cpu_request, cache.cpu_limit) == (0.5, 0.5)
    assert (cache.memory_request, cache.memory_limit) == (128 * MiB, 256 * MiB)
    web_d = by_name["shop/web"].declared  # shares 1024 and an unlimited memory: undeclared
    assert (web_d.cpu_request, web_d.cpu_limit, web_d.memory_limit) == (None, None, None)
    assert by_name["batch"].declared.memory_limit == 64 * MiB
    assert by_name["batch"].oom.kills == 2
    assert by_name["cache"].oom.kills == by_name["shop/web"].oom.kills == 0
    assert by_name["cache"].throttling.throttled_periods > 0
    hosts = {h: int(c) for h, c in data.hosts[["host", "ncpu"]].itertuples(index=False)}
    assert hosts == {"host-a:8080": 4, "host-b:8080": 8}
    assert set(data.hosts["engine_version"]) == {"20.10.24"}


def test_aggregation_is_the_same_on_both_engines(docker_only: Fleet, tmp_path: Path) -> None:
    """``resolution=900`` rows: memory = max of raw in (t - 900, t], counters at t."""

    raw = _copy(docker_only, tmp_path / "raw.db")
    agg = _copy(docker_only, tmp_path / "agg.db", resolution=900)
    assert agg.mode == "aggregate" and agg.samples * 12 < raw.samples  # type: ignore[attr-defined]
    r_all, a_all = load(tmp_path / "raw.db").samples, load(tmp_path / "agg.db").samples
    for cid, a in a_all.groupby("container_id"):
        assert_aggregate_of(r_all[r_all["container_id"] == cid], a, 900, cid)
    # the digest both engines must agree on (compared across the parametrised runs)
    _same_on_both("docker", docker_only.engine, a_all)


_SEEN: dict[str, dict[str, object]] = {}


def _same_on_both(case: str, engine: str, samples: object) -> None:
    """Rows of the same copy from both engines: equal keys, memory and CFS counts; CPU
    counters within 1e-9 (VictoriaMetrics keeps about 12 significant digits of a float)."""
    import pandas as pd

    assert isinstance(samples, pd.DataFrame)
    cols = ["host", "container_id", "ts", "cpu_total_ns", "mem_working_set", "throttled_periods"]
    rows = samples.sort_values(cols[:3])[cols].reset_index(drop=True)
    seen = _SEEN.setdefault(case, {})
    seen[engine] = rows
    if len(seen) < 2:
        return
    p, v = seen["prometheus"], seen["victoriametrics"]
    assert isinstance(p, pd.DataFrame) and isinstance(v, pd.DataFrame)
    assert len(p) == len(v) > 0
    for col in ("host", "container_id", "ts", "mem_working_set", "throttled_periods"):
        np.testing.assert_array_equal(p[col].to_numpy(), v[col].to_numpy(), err_msg=col)
    assert p["cpu_total_ns"].tolist() == pytest.approx(v["cpu_total_ns"].tolist(), rel=1e-9,
                                                       nan_ok=True)  # fmt: skip


def test_host_label_names_the_host(docker_only: Fleet, tmp_path: Path) -> None:
    """``host_label``: another label than ``instance`` names the host; a bad name is exit 2."""
    from rightsize.errors import UsageError

    summary = _copy(docker_only, tmp_path / "job.db", host_label="job")
    assert summary.containers == 4 and summary.hosts == 1  # type: ignore[attr-defined]
    assert set(load(tmp_path / "job.db").containers["host"]) == {"cadvisor"}
    with pytest.raises(UsageError, match="invalid host label"):
        _copy(docker_only, tmp_path / "bad.db", host_label="in-stance")


def test_mixed_fleet_kubernetes_and_docker(mixed: Fleet, tmp_path: Path) -> None:
    from rightsize.analysis.pipeline import analyze

    db = tmp_path / "rs.db"
    summary = _copy(mixed, db)
    n_k8s = len(mixed.pods)
    assert summary.containers == n_k8s + 4, summary  # type: ignore[attr-defined]
    assert summary.hosts == 4  # type: ignore[attr-defined]
    by_name = {r.name: r for r in analyze(load(db)).results}
    expected_k8s = expected_stats(mixed.pods)  # type: ignore[arg-type]
    assert set(by_name) == set(expected_k8s) | {"shop/web", "cache", "batch"}
    _check_docker(by_name, mixed.boxes)
    for name, exp in expected_k8s.items():
        assert by_name[name].memory.max == exp["mem_max"], name
        assert by_name[name].cpu.samples == exp["cpu_n"], name
    assert by_name["shop/db/postgres"].oom.kills == 2 and by_name["batch"].oom.kills == 2
    # aggregated: the same on both engines
    _copy(mixed, tmp_path / "agg.db", resolution=1800)
    _same_on_both("mixed", mixed.engine, load(tmp_path / "agg.db").samples)
    # a namespace filter reads the Kubernetes containers only
    only = _copy(mixed, tmp_path / "ns.db", namespaces=["shop"])
    assert only.containers == sum(1 for c in mixed.pods if c.namespace == "shop")  # type: ignore[attr-defined]


def test_cli_collects_a_docker_fleet(docker_only: Fleet, tmp_path: Path) -> None:
    """`collect --source prometheus` on cAdvisor-only series: exit 0, then `analyze`."""
    import json
    import sys

    db = tmp_path / "cli.db"
    base = [sys.executable, "-m", "rightsize", "--db", str(db)]
    window = ["--since", str(docker_only.end - HOURS * 3600), "--until", str(docker_only.end)]
    proc = subprocess.run(
        [*base, "collect", "--source", "prometheus", "--prometheus-url", docker_only.url,
         *window],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([*base, "analyze", "--format", "json"], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {w["workload"] for w in doc["workloads"]} == {"shop/web", "cache", "batch"}
