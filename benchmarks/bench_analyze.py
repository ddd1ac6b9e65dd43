"""Benchmark ``analyze``: a week at 5 min for many workloads, from the store, against bare numpy.

Run: ``python benchmarks/bench_analyze.py [--workloads 1000] [--samples 2016] [--big 10000]
[--repeat 3] [--keep DIR]``.

1. Builds a store with ``--workloads`` containers x ``--samples`` readings
   (cumulative CPU counter, working set, CFS counters; one container per
   workload), then times in one run, interleaved, best of ``--repeat``:
   - what ``rightsize analyze`` does: ``load(columns=SAMPLE_INPUTS)`` and
     ``analyze()`` (strategy ``rightsize``);
   - the baseline: the same store read with bare sqlite3 + numpy (``ts``, CPU
     counter, working set, the fastest plain way found), then per-container
     rates from the counter and p50/p90/p95/p99/max of CPU and memory;
   - the same baseline reading the 8 columns the analysis needs (throttling
     and OOM evidence too), and just reading them, the floor of any analysis
     of this store;
   - ``load()`` of the analysis' columns and of all 14;
   - ``analyze()`` alone against the numpy statistics on in-memory arrays, and
     where one ``analyze()`` spends its time.
2. ``--big`` workloads in a second store: ``rightsize analyze``'s path and the
   baseline, each in a fresh process, with wall time and peak RSS.

``--keep DIR`` keeps the stores (building the big one takes minutes).
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]  # run from a checkout

import rightsize.analysis.pipeline as pipeline_module  # noqa: E402
from rightsize.analysis.pipeline import analyze  # noqa: E402
from rightsize.analysis.result import AnalysisResult  # noqa: E402
from rightsize.analysis.usage import SAMPLE_INPUTS  # noqa: E402
from rightsize.rows import ContainerRow, HostRow, SampleRow  # noqa: E402
from rightsize.store import Dataset, Store, load  # noqa: E402

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


def numpy_stats(ts: np.ndarray, cpu_ns: np.ndarray, mem: np.ndarray, n: int) -> np.ndarray:
    """Bare numpy: counter rates, percentiles and max per container (equal-length rows)."""
    ts, cpu_ns, mem = ts.reshape(n, -1), cpu_ns.reshape(n, -1), mem.reshape(n, -1)
    rate = np.diff(cpu_ns, axis=1) / np.diff(ts, axis=1) / 1e9
    c = np.percentile(rate, QS, axis=1)
    mm = np.percentile(mem, QS, axis=1)
    return np.vstack([c, rate.max(axis=1), mm, mem.max(axis=1)])


def plain_read(path: Path, columns: tuple[str, ...]) -> np.ndarray:
    """``columns`` of every sample, (rows, columns) float64, the fastest plain sqlite3 way found.

    The cursor streamed into ``np.fromiter`` (no list of row tuples: ``np.array(fetchall())``
    is ~20 % slower) and SQLite handing over REALs (``CAST(x AS REAL)``: ~25 % faster than
    Python ints for large counters).
    """
    conn = sqlite3.connect(path)
    select = ", ".join(f"CAST({c} AS REAL)" for c in columns)
    cursor = conn.execute(f"SELECT {select} FROM samples ORDER BY host, container_id, ts")
    flat = np.fromiter(itertools.chain.from_iterable(cursor), dtype=np.float64)
    conn.close()
    return flat.reshape(-1, len(columns))


BASE_COLUMNS = ("ts", "cpu_total_ns", "mem_working_set")


def numpy_from_store(path: Path, n: int, columns: tuple[str, ...] = BASE_COLUMNS) -> np.ndarray:
    """sqlite3 + numpy: ``columns`` read the plain way, then the stats from the first three."""
    arr = plain_read(path, columns)
    at = {c: k for k, c in enumerate(columns)}
    return numpy_stats(
        arr[:, at["ts"]], arr[:, at["cpu_total_ns"]], arr[:, at["mem_working_set"]], n
    )


def ours_from_store(path: Path) -> AnalysisResult:
    """What ``rightsize analyze`` does: load the analysis' columns, then analyze."""
    return analyze(load(path, columns=SAMPLE_INPUTS))


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best of ``repeat`` seconds per function, the functions run in turn each round.

    Round-robin so that a noisy neighbour slows every candidate alike.
    """
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


#: the stages of analyze() timed by :func:`breakdown` (functions looked up in pipeline.py)
STAGES = ("usage_series", "grouped_stats", "workload_findings", "recommend", "host_view")


def breakdown(ds: Dataset) -> dict[str, float]:
    """Seconds of one analyze() per stage (``rest`` = everything else in analyze)."""
    spent = dict.fromkeys(STAGES, 0.0)
    originals = {name: getattr(pipeline_module, name) for name in STAGES}

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
        setattr(pipeline_module, name, timed(name))
    try:
        t = time.perf_counter()
        analyze(ds)
        total = time.perf_counter() - t
    finally:
        for name, fn in originals.items():
            setattr(pipeline_module, name, fn)
    # host_view calls grouped_stats only when workloads and containers differ (not here)
    return {**spent, "rest": total - sum(spent.values()), "total": total}


def _fmt(parts: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in parts.items())


def _hwm_mib() -> float:
    """This process's peak RSS so far (``VmHWM``: per address space, so unlike
    ``ru_maxrss`` it does not inherit the parent's peak across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(db: Path, n: int, what: str) -> None:
    """In a fresh process: time one ``what`` on ``db`` and print seconds and peak RSS."""
    rss0 = _hwm_mib()
    t = time.perf_counter()
    if what == "ours":
        ours_from_store(db)
    else:
        numpy_from_store(db, n)
    took = time.perf_counter() - t
    print(f"{took:.3f} {rss0:.0f} {_hwm_mib():.0f}")


def run_child(db: Path, n: int, what: str) -> tuple[float, float, float]:
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--child", str(db), "--workloads", str(n), "--what", what],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=2016)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", type=int, default=10000, help="0 to skip")
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the stores in")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--what", default="ours", help=argparse.SUPPRESS)
    args = ap.parse_args()
    n, m = args.workloads, args.samples
    if args.child:
        child(args.child, n, args.what)
        return
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()} "
        f"python {platform.python_version()} numpy {np.__version__} pandas {pd.__version__} "
        f"sqlite {sqlite3.sqlite_version} {time.strftime('%Y-%m-%d')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / f"bench-{n}x{m}.db"
        if not db.exists():
            t = time.perf_counter()
            build_store(db, n, m)
            print(f"build store: {n} workloads x {m} samples in {time.perf_counter() - t:.1f}s")
        best = interleaved(
            {
                "ours": lambda: ours_from_store(db),
                "baseline": lambda: numpy_from_store(db, n),
                "same_inputs": lambda: numpy_from_store(db, n, SAMPLE_INPUTS),
                "read_inputs": lambda: plain_read(db, SAMPLE_INPUTS),
                "load_inputs": lambda: load(db, columns=SAMPLE_INPUTS),
                "load_all": lambda: load(db),
            },
            args.repeat,
        )
        ds = load(db, columns=SAMPLE_INPUTS)
        t_an = min(interleaved({"analyze": lambda: analyze(ds)}, args.repeat).values())
        s = ds.samples
        ts, cpu, mem = (s[c].to_numpy() for c in BASE_COLUMNS)
        t_np = min(interleaved({"np": lambda: numpy_stats(ts, cpu, mem, n)}, 3).values())
        res = analyze(ds)
        ref = numpy_stats(ts, cpu, mem, n)
        assert np.allclose([r.cpu.p95 for r in res], ref[2], rtol=1e-9), "p95s disagree"
        assert np.allclose([r.memory.p99 for r in res], ref[8], rtol=1e-9), "p99s disagree"
        base = best["baseline"]
        print(f"best of {args.repeat}, interleaved (s):")
        for name, label in (
            ("ours", "analyze from the store: load(columns=SAMPLE_INPUTS) + analyze()"),
            ("baseline", "bare sqlite3+numpy: 3 columns read plainly + percentiles"),
            ("same_inputs", "bare sqlite3+numpy reading the 8 columns the analysis needs"),
            ("read_inputs", "just reading those 8 columns plainly (no analysis)"),
            ("load_inputs", "load(columns=SAMPLE_INPUTS)"),
            ("load_all", "load() of all 14 columns (notebooks)"),
        ):
            print(f"  {best[name]:6.2f}  {best[name] / base:5.2f}x baseline  {label}")
        print(
            f"  ours / same-inputs baseline: {best['ours'] / best['same_inputs']:.2f}x; "
            f"reading the inputs alone: {best['read_inputs'] / base:.2f}x the baseline"
        )
        print(
            f"analyze() {t_an:.3f}s vs numpy on in-memory arrays {t_np:.3f}s -> {t_an / t_np:.2f}x"
        )
        print(f"analyze() stages (s): {_fmt(breakdown(ds))}")
        if args.big:
            big = folder / f"bench-{args.big}x{m}.db"
            if not big.exists():
                t = time.perf_counter()
                build_store(big, args.big, m)
                print(f"build store: {args.big} workloads x {m} in {time.perf_counter() - t:.1f}s")
            ours = run_child(big, args.big, "ours")
            bare = run_child(big, args.big, "baseline")
            print(
                f"{args.big} workloads ({args.big * m:,} samples) from the store, one fresh "
                f"process each: analyze {ours[0]:.1f}s, peak RSS {ours[2]:,.0f} MiB "
                f"({ours[1]:,.0f} after imports); bare sqlite3+numpy {bare[0]:.1f}s, peak RSS "
                f"{bare[2]:,.0f} MiB -> {ours[0] / bare[0]:.2f}x"
            )


if __name__ == "__main__":
    main()
