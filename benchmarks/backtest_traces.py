"""Backtest ``rightsize``, ``krr-simple`` and ``vpa`` on the shared real traces.

Usage::

    python benchmarks/backtest_traces.py [TRACES_DIR] [--train 0.7] [--json FILE] [--details]

Converts the traces with ``convert_traces.py`` (Bitbrains VMs + Alibaba
containers) and prints the per-strategy table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # run from a checkout without installing

from convert_traces import DEFAULT_TRACES, convert, to_tidy  # noqa: E402

from rightsize.analysis.backtest import backtest, histories_from_frame  # noqa: E402

STRATEGIES = ["rightsize", "krr-simple", "vpa"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces", nargs="?", type=Path, default=DEFAULT_TRACES)
    parser.add_argument("--train", type=float, default=0.7)
    parser.add_argument("--refit-every", type=float, default=86400.0)
    parser.add_argument("--json", type=Path, help="also write the full result as JSON")
    parser.add_argument("--details", action="store_true", help="print per-workload scores")
    parser.add_argument("--strategy", action="append", help="strategies (default: all three)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    histories = histories_from_frame(to_tidy(convert(args.traces)))
    result = backtest(histories, args.strategy or STRATEGIES, args.train, args.refit_every)
    print(f"{len(histories)} workloads, train {args.train:g}, refit every {args.refit_every:g}s")
    print(result.format_table())
    if args.details:
        cols = [
            "strategy",
            "workload",
            "status",
            "oom_free",
            "memory_slack",
            "cpu_above_request",
            "cpu_slack",
            "changes",
        ]
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            print(result.details[cols].round(3).to_string(index=False))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2))
    print(f"({time.perf_counter() - start:.1f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
