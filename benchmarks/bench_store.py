"""Benchmark the store's layout: bytes per sample and ``analyze`` from long histories.

Run: ``python benchmarks/bench_store.py [--only NAME ...] [--keep DIR]``; the parts:

- ``bytes``: collector-shaped samples (64-hex container ids, the Docker counters:
  CPU and host CPU in ns with jitter, page-granular memory, CFS counters on a
  quarter of the containers) written the collector's way, one ``write_round``
  per 10 s round (40 containers, a day), and the store's size per sample;
- ``week``: 200 containers x a week at 20 s (6 M samples, written in bulk; the
  last 48 h stay raw, older samples are 1-minute rollups), then
  ``rightsize analyze`` in a fresh process over the whole week and over its last
  half: wall time and peak RSS;
- ``big``: 1,000 containers x a week at 10 s (60 M samples), the same;
- ``csv``: 1,000 x 2,016 (a week at 5 min) against a pandas+numpy baseline that
  reads the same samples from CSV (rates from the counter, p50/p90/p95/p99/max of
  CPU and memory per container), interleaved, best of 3, in one process;
- ``wide``: 10,000 x 2,016 in a fresh process: wall time and peak RSS.

Numbers go to ``docs/benchmarks.md``; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]  # run from a checkout

from rightsize.rows import ContainerRow, HostRow, SampleRow  # noqa: E402
from rightsize.store import SAMPLE_COLUMNS, Store  # noqa: E402

HOST = "unix:///var/run/docker.sock"
T_END = 1_795_000_000.0


def container_id(i: int) -> str:
    return f"{i:08x}" + "5f3c9a1e" * 7


def arrays(m: int, interval: float, i: int, t_end: float = T_END) -> dict[str, np.ndarray]:
    """One container's readings, shaped like the collector's (exact integer counters)."""
    rng = np.random.default_rng(i)
    t0 = t_end - m * interval
    ts = t0 + np.arange(m) * interval + rng.normal(0.0, 0.004, m)
    day = np.sin(2 * np.pi * (ts - t0) / 86400.0)
    base = rng.uniform(0.02, 1.5)
    rate = base * (1.0 + 0.4 * day) * rng.lognormal(0.0, 0.35, m)
    cpu = np.cumsum(np.round(rate * interval * 1e9)).astype(np.int64) + 10**11
    ticks = np.round(interval * 200 + rng.normal(0, 0.3, m))  # /proc/stat: 10 ms ticks
    system = (10**17 + np.cumsum(ticks) * 10**7).astype(np.int64)
    pages = np.int64(2**30 // 4096) // 8 + np.cumsum(rng.integers(-40, 41, m)).astype(np.int64)
    ws = np.abs(pages) * 4096 + 2**24
    cache = (rng.integers(0, 3000, 1)[0] + np.cumsum(rng.integers(-5, 6, m))) * 4096
    out: dict[str, np.ndarray] = {
        "ts": ts, "cpu_total_ns": cpu, "system_cpu_ns": system,
        "online_cpus": np.full(m, 2, dtype=np.int64), "mem_working_set": ws,
        "mem_usage": ws + np.abs(cache), "mem_rss": ws - 4096 * rng.integers(0, 300, m),
        "mem_limit": np.full(m, 2**31, dtype=np.int64), "mem_failcnt": np.zeros(m, np.int64),
        "pids": 5 + np.abs(np.cumsum(rng.integers(-1, 2, m))).astype(np.int64),
        "oom_kills_total": np.zeros(m, np.int64),
    }
    if i % 4 == 0:  # a CPU quota: CFS counters
        periods = np.cumsum(np.full(m, int(interval * 10))).astype(np.int64)
        hit = rng.random(m) < 0.1
        out["periods"] = periods
        out["throttled_periods"] = np.cumsum(hit * rng.integers(1, 20, m)).astype(np.int64)
        out["throttled_ns"] = np.cumsum(hit * rng.integers(10**6, 10**8, m)).astype(np.int64)
    return out


def containers(n: int) -> list[ContainerRow]:
    return [ContainerRow(host=HOST, container_id=container_id(i), name=f"svc-{i:05d}",
                         image="registry/app:1", labels={}, workload=None,
                         cpu_request=0.5, cpu_limit=1.0 if i % 4 == 0 else None,
                         memory_request=2**30, memory_limit=2**31, cpuset_cpus=None,
                         restart_count=0, oom_killed=False, started_at=T_END - 30 * 86400,
                         os_type="linux") for i in range(n)]


def host() -> HostRow:
    return HostRow(host=HOST, name="bench", ncpu=64, mem_total=2**38, engine_version="27.5.1",
                   api_version="1.47", cgroup_version="2", os_type="linux")


def build_bulk(db: Path, n: int, m: int, interval: float) -> float:
    """``n`` containers x ``m`` samples written in bulk (as ``import`` does); seconds taken."""
    started = time.perf_counter()
    with Store(db) as store:
        store.write(containers=containers(n), hosts=[host()])
        for i in range(n):
            a = arrays(m, interval, i)
            frame = pd.DataFrame({"host": HOST, "container_id": container_id(i), **a})
            store.write_frame(frame)
    return time.perf_counter() - started


def size_of(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, size = conn.execute("PRAGMA page_count").fetchone()[0], conn.execute(
        "PRAGMA page_size").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.close()
    return int((pages - free) * size)


def stored_rows(db: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(db)
    tiers = dict(conn.execute("SELECT tier, sum(n) FROM chunks GROUP BY tier").fetchall())
    head = conn.execute("SELECT count(*) FROM head").fetchone()[0]
    conn.close()
    return {"head": int(head), **{f"tier{k}": int(v) for k, v in tiers.items()}}


def part_bytes(tmp: Path) -> None:
    n, rounds, interval = 40, 8640, 10.0
    db = tmp / "collector.db"
    data = [arrays(rounds, interval, i) for i in range(n)]
    cids = [container_id(i) for i in range(n)]
    started = time.perf_counter()
    with Store(db) as store:
        store.write(containers=containers(n), hosts=[host()])
        for r in range(rounds):
            rows = []
            for i in range(n):
                a = data[i]
                row = dict.fromkeys(SAMPLE_COLUMNS)
                row.update(host=HOST, container_id=cids[i],
                           **{k: (float(v[r]) if k == "ts" else int(v[r])) for k, v in a.items()})
                rows.append(SampleRow(**row))  # type: ignore[typeddict-item]
            store.write_round(samples=rows)
    took = time.perf_counter() - started
    total = n * rounds
    size = size_of(db)
    print(f"bytes: {n} containers x {rounds} rounds at {interval:.0f}s written round by round "
          f"({total:,} samples, {took:.1f}s = {took / total * 1e6:.1f} us/sample): store "
          f"{size / 2**20:.2f} MiB = {size / total:.2f} bytes/sample; rows {stored_rows(db)}")


def analyze_child(db: Path, since: float | None = None) -> tuple[float, float]:
    """``rightsize analyze`` of ``db`` in a fresh process (a new ``python`` per run, so
    the peak RSS is its own): (wall s, peak RSS MiB)."""
    args = [sys.executable, str(Path(__file__).resolve()), "--child", str(db)]
    if since is not None:
        args += ["--since", str(since)]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return float(got["wall"]), float(got["rss_mib"])


def child(db: Path, since: float | None) -> None:
    import rightsize
    from rightsize.heap import keep_freed_memory

    keep_freed_memory()  # as `rightsize analyze` does at start
    started = time.perf_counter()
    result = rightsize.analyze(db, since=since)
    wall = time.perf_counter() - started
    with open("/proc/self/status") as fh:
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))
    print(json.dumps({"wall": wall, "rss_mib": hwm / 1024, "workloads": len(result.results)}))


def part_history(tmp: Path, name: str, n: int, interval: float) -> None:
    m = int(7 * 86400 / interval)
    db = tmp / f"{name}.db"
    if not db.exists():
        took = build_bulk(db, n, m, interval)
        print(f"{name}: built {n} x {m:,} samples at {interval:.0f}s ({n * m:,}) in {took:.0f}s")
    size = size_of(db)
    print(f"{name}: store {size / 2**20:.1f} MiB = {size / (n * m):.2f} bytes per collected "
          f"sample; rows {stored_rows(db)}")
    whole = [analyze_child(db) for _ in range(2)]
    half = [analyze_child(db, since=T_END - 3.5 * 86400) for _ in range(2)]
    w, h = min(whole), min(half)
    print(f"{name}: analyze whole week {w[0]:.2f}s peak RSS {w[1]:.0f} MiB; last half "
          f"{h[0]:.2f}s {h[1]:.0f} MiB; week/half {w[0] / h[0]:.2f}x (best of 2)")


def part_csv(tmp: Path, n: int = 1000, m: int = 2016) -> None:
    import rightsize
    from rightsize.heap import keep_freed_memory

    keep_freed_memory()  # as `rightsize analyze` does (the baseline runs with it too)

    db = tmp / "csv.db"
    csv = tmp / "csv.csv"
    if not db.exists():
        build_bulk(db, n, m, 300.0)
        frames = []
        for i in range(n):
            a = arrays(m, 300.0, i)
            frames.append(pd.DataFrame({"container": container_id(i), "ts": a["ts"],
                                        "cpu_total_ns": a["cpu_total_ns"],
                                        "mem_working_set": a["mem_working_set"]}))
        pd.concat(frames).to_csv(csv, index=False)

    def baseline() -> np.ndarray:
        f = pd.read_csv(csv, dtype={"container": "category"})
        ts = f["ts"].to_numpy()
        cpu = f["cpu_total_ns"].to_numpy(dtype=np.float64)
        mem = f["mem_working_set"].to_numpy(dtype=np.float64)
        rate = np.diff(cpu).reshape(-1) / np.diff(ts) / 1e9
        rate = np.concatenate(([np.nan], rate)).reshape(n, m)[:, 1:]
        qs = [50, 90, 95, 99, 100]
        return np.concatenate((np.percentile(rate, qs, axis=1), np.percentile(
            mem.reshape(n, m), qs, axis=1)))

    def ours() -> object:
        return rightsize.analyze(db)

    best: dict[str, float] = {"ours": float("inf"), "baseline": float("inf")}
    fns: dict[str, Callable[[], object]] = {"ours": ours, "baseline": baseline}
    for _ in range(3):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    ratio = best["ours"] / best["baseline"]
    print(f"csv: {n} x {m}: rightsize.analyze from the store {best['ours']:.2f}s, "
          f"pandas+numpy from CSV {best['baseline']:.2f}s -> {ratio:.2f}x (best of 3, interleaved)")


def part_wide(tmp: Path, n: int = 10_000, m: int = 2016) -> None:
    db = tmp / "wide.db"
    if not db.exists():
        took = build_bulk(db, n, m, 300.0)
        print(f"wide: built {n} x {m} in {took:.0f}s")
    wall, rss = analyze_child(db)
    print(f"wide: {n} x {m} ({n * m:,} samples): analyze {wall:.1f}s, peak RSS {rss:.0f} MiB "
          f"(store {size_of(db) / 2**20:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append",
                        choices=["bytes", "week", "big", "csv", "wide"])
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the stores in DIR")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--since", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.since)
        return
    print(f"{time.strftime('%Y-%m-%d %H:%MZ', time.gmtime())} {platform.node()} "
          f"{platform.platform()} nproc {os.cpu_count()} Python {platform.python_version()}")
    parts = args.only or ["bytes", "week", "csv", "wide", "big"]
    with tempfile.TemporaryDirectory(prefix="bench-store-") as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        for part in parts:
            if part == "bytes":
                part_bytes(tmp)
            elif part == "week":
                part_history(tmp, "week", 200, 20.0)
            elif part == "big":
                part_history(tmp, "big", 1000, 10.0)
            elif part == "csv":
                part_csv(tmp)
            elif part == "wide":
                part_wide(tmp)


if __name__ == "__main__":
    main()
