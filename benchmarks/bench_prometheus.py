"""Time the Prometheus source against a real Prometheus: 100 and 1,000 containers x 7 days.

Usage::

    python benchmarks/bench_prometheus.py [--days 7] [--namespaces 10] [--per-namespace 100]
                                          [--data DIR] [--step 60 --step 300]

Generates cAdvisor series (60 s scrape: CPU, working set, OOM counter; CFS
counters for the half with a CPU limit) and sparse kube-state-metrics series
(one point an hour) for ``namespaces x per-namespace`` containers, builds
TSDB blocks with ``promtool`` (cached in ``--data``), starts ``prometheus``
on 127.0.0.1 and runs :func:`collect_prometheus` for one namespace (100
containers) and for all of them, printing wall time, queries, bytes and
samples per run.
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

from rightsize.sources.prometheus import collect_prometheus  # noqa: E402
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--per-namespace", type=int, default=100)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "rs-bench-prom")
    parser.add_argument("--step", type=float, action="append", help="steps to time (default 60)")
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
    with prometheus_server(prometheus, tsdb) as url:
        for step in args.step or [60.0]:
            for label, namespaces in (
                (f"{args.per_namespace} containers", ["bench-00"]),
                (f"{args.namespaces * args.per_namespace} containers", None),
            ):
                with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "rs.db") as store:
                    t0 = time.perf_counter()
                    s = collect_prometheus(
                        store, url, since=since, until=end, step=step, namespaces=namespaces
                    )
                    wall = time.perf_counter() - t0
                print(
                    f"{label:>16} x {args.days}d, step {s.step:g}s: {wall:6.1f}s wall, "
                    f"{s.queries} queries ({s.batches} batches), {s.bytes / 1e6:,.0f} MB, "
                    f"{s.samples:,} samples, {s.events} events"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
