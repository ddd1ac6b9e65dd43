"""Benchmark the HTML report: time and size for 100, 1,000 and 10,000 workloads.

Run: ``python benchmarks/bench_report.py [--sizes 100 1000 10000] [--samples 2016]``.

Synthetic data: one container per workload, a week at 5 min (2016 readings);
declared values vary so that about a third of the workloads get warnings or
worse (over-requested, under-requested, throttled). ``analyze()`` runs first
and is not timed; the timing covers ``write_report()`` alone (model, charts,
sparklines, Jinja, atomic writes of the page, ``report.json``, latest and
index). Default chart mode: full charts for the most severe workloads
(``MAX_CHARTS``), sparklines for every row.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]  # run from a checkout

from rightsize.analysis.pipeline import analyze  # noqa: E402
from rightsize.render.html import write_report  # noqa: E402
from rightsize.render.model import MAX_CHARTS  # noqa: E402
from rightsize.store import CONTAINER_COLUMNS, SAMPLE_COLUMNS, Dataset  # noqa: E402

STEP = 300.0
T0 = 1_790_000_000.0
HOST = "unix:///var/run/docker.sock"
MiB = 2**20


def build_dataset(n: int, m: int, seed: int = 7) -> Dataset:
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.02, 1.5, size=(n, 1))
    cores = np.abs(level * (1 + 0.3 * rng.standard_normal((n, m))))
    mem = rng.uniform(50, 1500, size=(n, 1)) * MiB * (1 + 0.05 * rng.random((n, m)))
    ts = T0 + STEP * np.arange(m) + rng.uniform(-1, 1, size=(n, m))
    throttled = np.cumsum(rng.integers(0, 30, size=(n, m)).astype(np.float64), axis=1)
    cols = {c: np.full(n * m, np.nan) for c in SAMPLE_COLUMNS if c not in ("host", "container_id")}
    cols.update(
        ts=ts.ravel(),
        cpu_total_ns=np.cumsum(cores * STEP * 1e9, axis=1).round().ravel(),
        mem_working_set=mem.round().ravel(),
        periods=np.cumsum(np.full((n, m), 3000.0), axis=1).ravel(),
        throttled_periods=throttled.ravel(),
        throttled_ns=(throttled * 1e7).ravel(),
    )
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
    # a third sized right, a third 4x over, a third at half their use
    factor = np.array([1.3, 4.0, 0.5])[np.arange(n) % 3]
    conts = pd.DataFrame(
        [
            {
                "host": HOST,
                "container_id": f"{i:012x}",
                "name": f"svc-{i:05d}",
                "image": "app:1",
                "labels": {"app": f"svc-{i}", "team": f"t{i % 17}"},
                "workload": None,
                "cpu_request": round(float(level[i, 0]) * factor[i], 3),
                "cpu_limit": round(float(level[i, 0]) * factor[i] * 2, 3),
                "memory_request": float(round(mem[i].max() * factor[i] / MiB) * MiB),
                "memory_limit": float(round(mem[i].max() * factor[i] * 2 / MiB) * MiB),
                "cpuset_cpus": np.nan,
                "restart_count": 0,
                "oom_killed": False,
                "started_at": np.nan,
                "os_type": "linux",
                "first_seen": T0,
                "last_seen": T0 + m * STEP,
            }
            for i in range(n)
        ],
        columns=[*CONTAINER_COLUMNS, "first_seen", "last_seen"],
    )
    events = pd.DataFrame(columns=["host", "container_id", "ts", "action", "exit_code", "name"])
    hosts = pd.DataFrame(
        [
            {
                "host": HOST,
                "name": "bench",
                "ncpu": 512,
                "mem_total": 2**40,
                "engine_version": "27.0",
                "api_version": "1.47",
                "cgroup_version": "2",
                "os_type": "linux",
            }
        ]
    )
    return Dataset(samples, conts, events, hosts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--samples", type=int, default=2016)
    args = ap.parse_args()
    print(f"{platform.platform()}, python {platform.python_version()}, MAX_CHARTS {MAX_CHARTS}")
    print(f"{'workloads':>9}  {'warning+':>8}  {'charted':>7}  {'report s':>8}  {'HTML MB':>7}")
    for n in args.sizes:
        result = analyze(build_dataset(n, args.samples))
        severe = sum(1 for w in result if w.worst_severity in ("warning", "critical"))
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            paths = write_report(result, Path(tmp))
            elapsed = time.perf_counter() - t
            size = paths.html.stat().st_size / 1e6
            charted = paths.html.read_text().count('class="chart"') - 1  # minus the host chart
        print(f"{n:>9}  {severe:>8}  {charted // 2:>7}  {elapsed:>8.2f}  {size:>7.2f}")


if __name__ == "__main__":
    main()
