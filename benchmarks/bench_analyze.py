"""Benchmark ``analyze``: a week at 5 min for many workloads, against bare numpy.

Run: ``python benchmarks/bench_analyze.py [--workloads 1000] [--samples 2016] [--big 10000]``.

1. Builds a store with ``--workloads`` containers x ``--samples`` readings
   (cumulative CPU counter, working set, CFS counters; one container per
   workload), then times in one run:
   - ``load()`` and ``analyze()`` (strategy ``rightsize``) from the store;
   - the same store read with bare sqlite3 + numpy: per-container rates from
     the counter and p50/p90/p95/p99/max of CPU and memory (the floor any
     implementation pays);
   - ``analyze()`` alone against the numpy statistics on in-memory arrays;
   - where one ``analyze()`` spends its time (usage series, statistics,
     findings, strategy calls, host view, the rest).
2. ``--big`` workloads built in memory (a Dataset, no SQLite): analyze time,
   its stages, and peak memory (tracemalloc, a separate run so it does not
   skew the time).
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]  # run from a checkout

import rightsize.analysis.result as result_module  # noqa: E402
from rightsize.analysis.result import analyze  # noqa: E402
from rightsize.rows import ContainerRow, HostRow, SampleRow  # noqa: E402
from rightsize.store import CONTAINER_COLUMNS, SAMPLE_COLUMNS, Dataset, Store, load  # noqa: E402

STEP = 300.0
T0 = 1_790_000_000.0
HOST = "unix:///var/run/docker.sock"
QS = [50, 90, 95, 99]


def _arrays(n: int, m: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.01, 2.0, size=(n, 1))
    cores = np.abs(level * (1 + 0.3 * rng.standard_normal((n, m))))
    cpu_ns = np.cumsum(cores * STEP * 1e9, axis=1).round()
    mem = (rng.uniform(50, 2000, size=(n, 1)) * 2**20 * (1 + 0.05 * rng.random((n, m)))).round()
    periods = np.cumsum(np.full((n, m), 3000.0), axis=1)
    throttled = np.cumsum(rng.integers(0, 30, size=(n, m)).astype(np.float64), axis=1)
    ts = T0 + STEP * np.arange(m) + rng.uniform(-1, 1, size=(n, m))
    return {
        "ts": ts,
        "cpu_total_ns": cpu_ns,
        "mem_working_set": mem,
        "periods": periods,
        "throttled_periods": throttled,
        "throttled_ns": throttled * 1e7,
    }


def _container(i: int) -> ContainerRow:
    return ContainerRow(
        host=HOST,
        container_id=f"{i:012x}",
        name=f"svc-{i:05d}",
        image="app:1",
        labels={"app": f"svc-{i}"},
        workload=None,
        cpu_request=1.0,
        cpu_limit=2.0,
        memory_request=512 * 2**20,
        memory_limit=2**31,
        cpuset_cpus=None,
        restart_count=0,
        oom_killed=False,
        started_at=None,
        os_type="linux",
    )


def _host() -> HostRow:
    return HostRow(
        host=HOST,
        name="bench",
        ncpu=512,
        mem_total=2**40,
        engine_version="27.0",
        api_version="1.47",
        cgroup_version="2",
        os_type="linux",
    )


def _rows(a: dict[str, np.ndarray], i: int) -> Iterator[SampleRow]:
    cid = f"{i:012x}"
    for k in range(a["ts"].shape[1]):
        yield SampleRow(
            host=HOST,
            container_id=cid,
            ts=float(a["ts"][i, k]),
            cpu_total_ns=int(a["cpu_total_ns"][i, k]),
            cpu_cores=None,
            system_cpu_ns=None,
            online_cpus=512,
            periods=int(a["periods"][i, k]),
            throttled_periods=int(a["throttled_periods"][i, k]),
            throttled_ns=int(a["throttled_ns"][i, k]),
            mem_usage=None,
            mem_working_set=int(a["mem_working_set"][i, k]),
            mem_rss=None,
            mem_limit=2**31,
            mem_failcnt=0,
            pids=3,
        )


def build_store(path: Path, n: int, m: int) -> None:
    a = _arrays(n, m)
    with Store(path) as store:
        store.write(containers=[_container(i) for i in range(n)], hosts=[_host()])
        for start in range(0, n, 100):
            store.write(samples=(r for i in range(start, min(n, start + 100)) for r in _rows(a, i)))


def build_dataset(n: int, m: int) -> Dataset:
    a = _arrays(n, m)
    cols = {c: np.full(n * m, np.nan) for c in SAMPLE_COLUMNS if c not in ("host", "container_id")}
    for key, value in a.items():
        cols[key] = value.ravel()
    samples = pd.DataFrame(
        {
            "host": np.full(n * m, HOST, dtype=object),
            "container_id": np.repeat([f"{i:012x}" for i in range(n)], m),
            **cols,
        },
        columns=list(SAMPLE_COLUMNS),
    )
    samples["host"] = samples["host"].astype("str")
    samples["container_id"] = samples["container_id"].astype("str")
    conts = pd.DataFrame(
        [{**_container(i), "first_seen": T0, "last_seen": T0 + m * STEP} for i in range(n)],
        columns=[*CONTAINER_COLUMNS, "first_seen", "last_seen"],
    )
    events = pd.DataFrame(columns=["host", "container_id", "ts", "action", "exit_code", "name"])
    return Dataset(samples, conts, events, pd.DataFrame([_host()]))


def numpy_stats(ts: np.ndarray, cpu_ns: np.ndarray, mem: np.ndarray, n: int) -> np.ndarray:
    """Bare numpy: counter rates, percentiles and max per container (equal-length rows)."""
    ts, cpu_ns, mem = ts.reshape(n, -1), cpu_ns.reshape(n, -1), mem.reshape(n, -1)
    rate = np.diff(cpu_ns, axis=1) / np.diff(ts, axis=1) / 1e9
    c = np.percentile(rate, QS, axis=1)
    mm = np.percentile(mem, QS, axis=1)
    return np.vstack([c, rate.max(axis=1), mm, mem.max(axis=1)])


def numpy_from_store(path: Path, n: int) -> np.ndarray:
    """sqlite3 + numpy: the three needed columns streamed into one array, then the stats."""
    conn = sqlite3.connect(path)
    cursor = conn.execute(
        "SELECT ts, cpu_total_ns, mem_working_set FROM samples ORDER BY host, container_id, ts"
    )
    # the fastest plain way found: no list of row tuples (np.array(fetchall()) is ~20 % slower)
    flat = np.fromiter(itertools.chain.from_iterable(cursor), dtype=np.float64)
    conn.close()
    arr = flat.reshape(-1, 3)
    return numpy_stats(arr[:, 0], arr[:, 1], arr[:, 2], n)


def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


#: the stages of analyze() timed by :func:`breakdown` (functions looked up in result.py)
STAGES = ("usage_series", "grouped_stats", "workload_findings", "recommend", "_hosts")


def breakdown(ds: Dataset) -> dict[str, float]:
    """Seconds of one analyze() per stage (``rest`` = everything else in analyze)."""
    spent = dict.fromkeys(STAGES, 0.0)
    originals = {name: getattr(result_module, name) for name in STAGES}

    def timed(name: str):  # type: ignore[no-untyped-def]
        original = originals[name]

        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t

        return wrapper

    for name in STAGES:
        setattr(result_module, name, timed(name))
    try:
        t = time.perf_counter()
        analyze(ds)
        total = time.perf_counter() - t
    finally:
        for name, fn in originals.items():
            setattr(result_module, name, fn)
    # _hosts calls grouped_stats only when workloads and containers differ (not here)
    return {**spent, "rest": total - sum(spent.values()), "total": total}


def _fmt(parts: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in parts.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=2016)
    ap.add_argument("--big", type=int, default=10000, help="0 to skip")
    args = ap.parse_args()
    n, m = args.workloads, args.samples
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()} "
        f"python {platform.python_version()} numpy {np.__version__} pandas {pd.__version__} "
        f"{time.strftime('%Y-%m-%d')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t = time.perf_counter()
        build_store(db, n, m)
        print(f"build store: {n} workloads x {m} samples in {time.perf_counter() - t:.1f}s")
        ds = load(db)
        t_load = best_of(lambda: load(db), 1)
        t_an = best_of(lambda: analyze(ds))
        t_np_store = best_of(lambda: numpy_from_store(db, n), 1)
        s = ds.samples
        ts = s["ts"].to_numpy()
        cpu = s["cpu_total_ns"].to_numpy()
        mem = s["mem_working_set"].to_numpy()
        t_np = best_of(lambda: numpy_stats(ts, cpu, mem, n))
        res = analyze(ds)
        ref = numpy_stats(ts, cpu, mem, n)
        ours = np.array([r.cpu.p95 for r in res])
        assert np.allclose(ours, ref[2], rtol=1e-9), "analyze and numpy disagree on the p95"
        print(
            f"load() {t_load:.2f}s + analyze() {t_an:.2f}s = {t_load + t_an:.2f}s from the store; "
            f"sqlite3+numpy {t_np_store:.2f}s -> {(t_load + t_an) / t_np_store:.2f}x"
        )
        print(
            f"analyze() {t_an:.3f}s vs numpy on in-memory arrays {t_np:.3f}s -> {t_an / t_np:.2f}x"
        )
        print(f"analyze() stages (s): {_fmt(breakdown(ds))}")
    if args.big:
        big = build_dataset(args.big, m)
        t_big = best_of(lambda: analyze(big), 1)
        ref_t = best_of(
            lambda: numpy_stats(
                big.samples["ts"].to_numpy(),
                big.samples["cpu_total_ns"].to_numpy(),
                big.samples["mem_working_set"].to_numpy(),
                args.big,
            ),
            1,
        )
        print(f"analyze() stages at {args.big} (s): {_fmt(breakdown(big))}")
        tracemalloc.start()
        analyze(big)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows = len(big.samples)
        print(
            f"{args.big} workloads ({rows:,} samples, in memory): analyze() {t_big:.2f}s "
            f"(numpy {ref_t:.2f}s -> {t_big / ref_t:.2f}x), peak extra memory "
            f"{peak / 2**20:,.0f} MiB (tracemalloc; the Dataset itself "
            f"{big.samples.memory_usage(deep=True).sum() / 2**20:,.0f} MiB)"
        )


if __name__ == "__main__":
    main()
