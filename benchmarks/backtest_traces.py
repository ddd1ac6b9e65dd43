"""Backtest ``rightsize``, ``krr-simple`` and ``vpa`` on the shared real traces.

Usage::

    python benchmarks/backtest_traces.py [TRACES_DIR] [--train 0.7] [--json FILE] [--details]
        [--leave-one-out]

Converts the traces with ``convert_traces.py`` (Bitbrains VMs + Alibaba
containers) and prints the per-strategy table. ``--leave-one-out`` then checks
how robust the first strategy's lead is: for every workload left out in turn
(each workload's scores do not depend on the others, so the means are simply
recomputed), whether it still dominates each other strategy (OOM-free at least
as high; memory slack, CPU time above request and CPU slack all lower), and
which comparisons flip.
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


#: (column, the better direction) of the four criteria of the dominance target
CRITERIA = (
    ("oom_free", "higher-or-equal"),
    ("memory_slack", "lower"),
    ("cpu_above_request", "lower"),
    ("cpu_slack", "lower"),
)


def _means(details: pd.DataFrame) -> pd.DataFrame:
    scored = details[details["status"] == "scored"]
    return scored.groupby("strategy")[[c for c, _ in CRITERIA]].mean()


def _lost(means: pd.DataFrame, me: str, other: str) -> list[str]:
    """The criteria on which ``me`` does not beat ``other``."""
    lost = []
    for column, better in CRITERIA:
        a, b = float(means.at[me, column]), float(means.at[other, column])
        ok = a >= b if better == "higher-or-equal" else a < b
        if not ok:
            lost.append(f"{column} vs {other}")
    return lost


def leave_one_out(details: pd.DataFrame, strategies: list[str]) -> str:
    """How often the first strategy still dominates the others with one workload left out."""
    me, others = strategies[0], strategies[1:]
    workloads = sorted(details["workload"].unique())
    lines, held = [], 0
    for left in workloads:
        means = _means(details[details["workload"] != left])
        lost = [x for o in others for x in _lost(means, me, o)]
        held += not lost
        if lost:
            lines.append(f"  without {left}: loses {', '.join(lost)}")
    head = f"leave-one-out: {me} dominates {', '.join(others)} in {held} of {len(workloads)}"
    return "\n".join([head, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces", nargs="?", type=Path, default=DEFAULT_TRACES)
    parser.add_argument("--train", type=float, default=0.7)
    parser.add_argument("--refit-every", type=float, default=86400.0)
    parser.add_argument("--json", type=Path, help="also write the full result as JSON")
    parser.add_argument("--details", action="store_true", help="print per-workload scores")
    parser.add_argument("--strategy", action="append", help="strategies (default: all three)")
    parser.add_argument(
        "--leave-one-out", action="store_true", help="check the lead without each workload"
    )
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
    if args.leave_one_out:
        print(leave_one_out(result.details, args.strategy or STRATEGIES))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2))
    print(f"({time.perf_counter() - start:.1f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
