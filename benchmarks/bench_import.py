"""Benchmark ``rightsize import`` on a large CSV: wall time and peak RSS.

Run: ``python benchmarks/bench_import.py [--rows 2000000] [--csv /tmp/bench-import.csv]``.

Synthetic data (written once, reused when the file exists): ``--containers``
containers sampled every 10 s, rows interleaved in time order (as a system
exporting by time writes them), with cumulative CPU, CFS and OOM counters and
declared values that change once half-way (the import keeps the last). 2.9 M
rows are about 204 MB. The import runs in a child process
(``python -m rightsize --db TMP import CSV``) into a fresh store; peak RSS is
the child's ``ru_maxrss``. ``--pythonpath DIR`` runs another checkout's package
(e.g. the previous commit, for a before/after comparison).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = (
    "timestamp,container,cpu_seconds_total,memory_bytes,cpu_request,cpu_limit,"
    "memory_request,memory_limit,cpu_periods_total,cpu_throttled_periods_total,"
    "oom_kills_total\n"
)


def generate(path: Path, rows: int, containers: int) -> None:
    """Write ``rows`` rows over ``containers`` containers to ``path``."""
    t0 = 1_790_000_000
    per = rows // containers
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER)
        for i in range(per):
            ts = t0 + 10 * i
            lines = []
            for c in range(containers):
                mem = 100_000_000 + (c * 7919 + i * 104_729) % 400_000_000
                limit = "1Gi" if i < per // 2 else "768Mi"
                lines.append(
                    f"{ts},ctr-{c:05d},{i * 0.37 + c:.3f},{mem},0.5,1,256Mi,{limit},"
                    f"{i * 100},{i * (c % 7)},{i // 5000}\n"
                )
            fh.write("".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_900_000)
    ap.add_argument("--containers", type=int, default=500)
    ap.add_argument("--csv", type=Path, default=Path(tempfile.gettempdir()) / "bench-import.csv")
    ap.add_argument("--pythonpath", default=None, help="import rightsize from this folder")
    args = ap.parse_args()
    if not args.csv.exists():
        generate(args.csv, args.rows, args.containers)
    size = args.csv.stat().st_size
    env = dict(os.environ)
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    with tempfile.TemporaryDirectory(prefix="rightsize-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "rightsize", "--db", str(db), "import", str(args.csv)],
            env=env, capture_output=True, text=True, check=False,
        )
        seconds = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus")
    print(f"file: {args.csv} ({size / 1e6:.0f} MB)")
    print(f"exit {proc.returncode}: {proc.stdout.strip() or proc.stderr.strip()}")
    print(f"wall {seconds:.1f} s, peak RSS {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
