"""Time the Prometheus source against a real Prometheus: 100 and 1,000 containers x 7 days.

Usage::

    python benchmarks/bench_prometheus.py [--days 7] [--namespaces 10] [--per-namespace 100]
                                          [--data DIR] [--step 60 --step 300]
                                          [--resolution 900 --resolution auto]
                                          [--cpu-signal mean|peak] [--plan 10000]

Generates cAdvisor series (60 s scrape: CPU, working set, OOM counter; CFS
counters for the half with a CPU limit) and sparse kube-state-metrics series
(one point an hour) for ``namespaces x per-namespace`` containers, builds
TSDB blocks with ``promtool`` (cached in ``--data``), starts ``prometheus``
on 127.0.0.1 and runs :func:`collect_prometheus` for one namespace (100
containers) and for all of them, printing wall time, queries, bytes and
samples per run. ``--resolution`` times the aggregate mode (Prometheus
computes ``max_over_time`` per interval; ``auto`` = :func:`choose_resolution`);
``--plan N`` prints the query plan (resolution, batches, queries, points,
samples) for N containers over the same window without a server, and an
estimate of its wall time from the measured all-container runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # run from a checkout without installing

from rightsize.sources.prometheus import (  # noqa: E402
    DEFAULT_MAX_POINTS,
    DEFAULT_POINTS_BUDGET,
    PrometheusSummary,
    choose_resolution,
    choose_step,
    collect_prometheus,
)
from rightsize.store import Store  # noqa: E402
from tests.integration.test_prometheus_real import (  # noqa: E402
    SCRAPE,
    Container,
    MiB,
    Series,
    cadvisor_series,
    create_blocks,
    ksm_series,
    pod_series,
    prometheus_server,
    write_openmetrics,
)


def cluster(end: int, days: int, namespaces: int, per_ns: int) -> Iterator[Series]:
    rng = np.random.default_rng(7)
    n = days * 86400 // SCRAPE + 1
    times = end - SCRAPE * np.arange(n)[::-1]
    for i in range(namespaces):
        ns = f"bench-{i:02d}"
        owners: dict[tuple[str, str], tuple[str, str, str]] = {}
        for j in range(per_ns):
            deploy = f"svc{j // 10}"
            pod = f"{deploy}-7d4b9c8f6d-{j:05d}"
            node = f"node-{(i * per_ns + j) % 50:02d}"
            limits = {"cpu": 1.0, "memory": 512 * MiB} if j % 2 else {}
            c = Container(
                ns, pod, "app", f"{ns}/{deploy}/app", node,
                np.clip(rng.gamma(2.0, 0.1, n - 1), 0, None),
                np.round(200 * MiB * (1 + 0.2 * rng.random(n))).astype(np.int64),
                times, requests={"cpu": 0.5, "memory": 256 * MiB}, limits=limits,
            )  # fmt: skip
            owners[(ns, pod)] = (node, "ReplicaSet", f"{deploy}-7d4b9c8f6d")
            yield from cadvisor_series(c)
            yield from ksm_series(c, every=60)
        yield from pod_series(owners, {k: times for k in owners}, every=60)
        ksm = {"job": "kube-state-metrics", "instance": "ksm:8080"}
        for d in range(per_ns // 10):
            rs = {"namespace": ns, "replicaset": f"svc{d}-7d4b9c8f6d"}
            owner = {"owner_kind": "Deployment", "owner_name": f"svc{d}"}
            pts = [(int(t), 1) for t in times[::60]]
            yield Series("kube_replicaset_owner", {**ksm, **rs, **owner}, pts)


def plan(containers: int, days: int, resolution: float | str | None) -> dict[str, float]:
    """The query plan of :func:`collect_prometheus` for ``containers`` (no server needed).

    Mirrors its arithmetic: grid points per series, batch size from
    ``max_points`` (five values per timestamp), 2 series + 11 instant queries,
    one range query per batch, up to 2 for OOM events.
    """
    window = days * 86400.0
    if resolution == "auto":
        res = choose_resolution(containers, window, DEFAULT_POINTS_BUDGET)
    else:
        res = None if resolution is None else float(resolution)
    step = res if res is not None else choose_step(window)
    npoints = int(window // step) + 1
    per_batch = max(1, DEFAULT_MAX_POINTS // (npoints * 5))
    batches = -(-containers // per_batch)
    return {
        "step": step,
        "aggregate": float(res is not None),
        "batches": batches,
        "queries": 2 + 11 + batches + 2,
        "samples": containers * npoints,
        "points": containers * npoints * 5,
    }


def _line(label: str, days: int, s: PrometheusSummary, wall: float) -> str:
    how = f"step {s.step:g}s" if s.mode == "raw" else f"agg {s.step:g}s {s.cpu_signal}"
    return (
        f"{label:>16} x {days}d, {how:>16}: {wall:6.1f}s wall, "
        f"{s.queries} queries ({s.batches} batches), {s.points:,} points, "
        f"{s.bytes / 1e6:,.0f} MB, {s.samples:,} samples, {s.events} events"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--per-namespace", type=int, default=100)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "rs-bench-prom")
    parser.add_argument("--step", type=float, action="append", help="raw steps to time")
    parser.add_argument(
        "--resolution", action="append", help="aggregate resolutions to time (seconds or auto)"
    )
    parser.add_argument("--cpu-signal", choices=("mean", "peak"), default="mean")
    parser.add_argument("--plan", type=int, action="append", help="print the plan for N containers")
    parser.add_argument("--all-only", action="store_true", help="skip the one-namespace runs")
    args = parser.parse_args(argv)
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prometheus or not promtool:
        print("prometheus and promtool are needed (Debian package `prometheus`)", file=sys.stderr)
        return 2
    tag = f"{args.days}d-{args.namespaces}x{args.per_namespace}"
    tsdb = args.data / tag
    stamp = args.data / f"{tag}.end"
    if not stamp.exists():
        args.data.mkdir(parents=True, exist_ok=True)
        end = (int(time.time()) // SCRAPE) * SCRAPE - 600
        source = args.data / f"{tag}.om"
        t0 = time.perf_counter()
        lines = write_openmetrics(
            cluster(end, args.days, args.namespaces, args.per_namespace), source
        )
        t1 = time.perf_counter()
        shutil.rmtree(tsdb, ignore_errors=True)
        create_blocks(promtool, source, tsdb)
        source.unlink()
        stamp.write_text(str(end))
        print(
            f"data: {lines:,} samples written in {t1 - t0:.0f}s, "
            f"promtool {time.perf_counter() - t1:.0f}s"
        )
    end = int(stamp.read_text())
    if end < time.time() - 10 * 86400:
        print(
            f"cached data in {args.data} is too old for the retention: delete it", file=sys.stderr
        )
        return 2
    since = end - args.days * 86400
    runs: list[tuple[str, float | None, float | str | None]] = [
        ("raw", step, None) for step in (args.step or [])
    ]
    runs += [("agg", None, r if r == "auto" else float(r)) for r in (args.resolution or [])]
    if not runs and not args.plan:
        runs = [("raw", 60.0, None)]
    total = args.namespaces * args.per_namespace
    measured: dict[float | str | None, tuple[int, float]] = {}
    if runs:
        with prometheus_server(prometheus, tsdb) as url:
            for _, step, resolution in runs:
                sizes: list[tuple[str, list[str] | None]] = [(f"{total} containers", None)]
                if not args.all_only:
                    sizes.insert(0, (f"{args.per_namespace} containers", ["bench-00"]))
                for label, namespaces in sizes:
                    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "rs.db") as store:
                        t0 = time.perf_counter()
                        s = collect_prometheus(
                            store, url, since=since, until=end, step=step,
                            resolution=resolution,  # type: ignore[arg-type]
                            cpu_signal=args.cpu_signal if resolution else "mean",
                            namespaces=namespaces,
                        )  # fmt: skip
                        wall = time.perf_counter() - t0
                    print(_line(label, args.days, s, wall), flush=True)
                    if namespaces is None:
                        measured[resolution if resolution else None] = (s.samples, wall)
    for n in args.plan or []:
        for resolution in ("auto", None, 900.0, 3600.0):
            p = plan(n, args.days, resolution)
            # wall time: seconds per stored sample of the measured all-container run, if any
            base = measured.get(resolution) or measured.get(p["step"] if p["aggregate"] else None)
            guess = (
                f", ~{base[1] / base[0] * p['samples']:,.0f}s by the measured rate" if base else ""
            )
            how = "raw" if not p["aggregate"] else "aggregate"
            print(
                f"plan {n:,} containers x {args.days}d, resolution={resolution!s:>6}: {how} "
                f"{p['step']:g}s, {p['batches']:.0f} batches, <= {p['queries']:.0f} queries, "
                f"{p['points']:,.0f} points, {p['samples']:,.0f} samples{guess}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
