"""Backtest ``rightsize``, ``krr-simple`` and ``vpa`` on the shared real traces.

Usage::

    python benchmarks/backtest_traces.py [TRACES_DIR] [--train 0.7 ...] [--mode both]
        [--json FILE] [--details] [--bootstrap 2000] [--strategy NAME ...]
        [--param rightsize.KEY=VALUE ...]

Reads the 114 shared workloads: the 6 Bitbrains VMs and 8 Alibaba containers
of ``convert_traces.py`` plus the 100 Bitbrains VMs of
``bitbrains-rnd-2013-7-100/vms.csv.gz`` (already in the import format). The
parsed histories are cached in ``$TMPDIR/rightsize-backtest-cache`` (keyed by
the trace files' sizes and times), so a rerun spends its time on the strategies.

For every ``--train`` share and mode (``static``: one fit at the cut;
``dynamic``: refit daily, apply, replay the next day, OOMs fed back) it prints
the per-strategy table, then how robust the first strategy's lead over the
others is: the lead is held when, against every other strategy, OOM-free is at
least as high (static: share of OOM-free workloads; dynamic: OOM-free
workload-days, pooled) and memory slack, share of samples above the CPU
request, CPU time above it and CPU slack are all lower. Leave-one-out recomputes
the means without each workload in turn; the bootstrap resamples the workloads
with replacement (``--bootstrap`` times, seed 0) and gives the share of
resamples where the lead holds, overall and per comparison. Both use the
workloads every strategy could size (paired).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # run from a checkout without installing

from convert_traces import DEFAULT_TRACES, convert, to_tidy  # noqa: E402

from rightsize.analysis.backtest import (  # noqa: E402
    BacktestResult,
    backtest,
    dynamic_backtest,
    histories_from_frame,
)
from rightsize.analysis.strategies.base import History  # noqa: E402

STRATEGIES = ["rightsize", "krr-simple", "vpa"]
VMS_100 = Path("bitbrains-rnd-2013-7-100") / "vms.csv.gz"

#: (column, better direction) of the dominance target; OOM-free is mode-specific
CRITERIA = (
    ("memory_slack", "lower"),
    ("cpu_samples_above_request", "lower"),
    ("cpu_above_request", "lower"),
    ("cpu_slack", "lower"),
)
SHORT = {
    "oom": "OOM-free",
    "memory_slack": "mem slack",
    "cpu_samples_above_request": "samples>req",
    "cpu_above_request": "CPU>req",
    "cpu_slack": "CPU slack",
}


def _read_vms(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    return pd.DataFrame(
        {
            "workload": raw["container"],
            "ts": raw["timestamp"].astype(float),
            "cpu": raw["cpu_cores"].astype(float),
            "memory": raw["memory_bytes"].astype(float),
            "cpu_request": raw["cpu_request"],
            "cpu_limit": raw["cpu_limit"],
            "memory_request": raw["memory_request"],
            "memory_limit": raw["memory_limit"],
        }
    )


def load_histories(traces: Path) -> dict[str, History]:
    """All shared workloads as histories, cached by the trace files' sizes and times."""
    files = sorted(p for p in traces.rglob("*") if p.is_file())
    key = hashlib.sha256(
        "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files).encode()
    ).hexdigest()[:16]
    cache = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "rightsize-backtest-cache"
    path = cache / f"histories-{key}.pkl"
    if path.exists():
        with path.open("rb") as fh:
            cached: dict[str, History] = pickle.load(fh)
        return cached
    frames = [to_tidy(convert(traces))]
    if (traces / VMS_100).exists():
        frames.append(_read_vms(traces / VMS_100))
    histories = histories_from_frame(pd.concat(frames, ignore_index=True))
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(histories, fh)
    tmp.replace(path)
    return histories


def _matrices(
    details: pd.DataFrame, strategies: list[str], dynamic: bool
) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Per strategy, per criterion: one value per workload every strategy scored."""
    scored = details[details["status"] == "scored"]
    sets = [set(scored.loc[scored["strategy"] == s, "workload"]) for s in strategies]
    common = sorted(set.intersection(*sets))
    out: dict[str, dict[str, np.ndarray]] = {}
    for s in strategies:
        d = scored[scored["strategy"] == s].set_index("workload").loc[common]
        cols = {c: d[c].to_numpy(float) for c, _ in CRITERIA}
        if dynamic:
            cols["days"] = d["days"].to_numpy(float)
            cols["oom_days"] = d["oom_days"].to_numpy(float)
        else:
            cols["oom_free"] = d["oom_free"].to_numpy(float)
        out[s] = cols
    return common, out


def _means(m: dict[str, np.ndarray], idx: np.ndarray, dynamic: bool) -> dict[str, np.ndarray]:
    """Criterion means for each resample (rows of ``idx``)."""
    res = {c: np.nanmean(m[c][idx], axis=-1) for c, _ in CRITERIA}
    if dynamic:
        res["oom"] = 1 - m["oom_days"][idx].sum(axis=-1) / m["days"][idx].sum(axis=-1)
    else:
        res["oom"] = m["oom_free"][idx].mean(axis=-1)
    return res


def _wins(
    mats: dict[str, dict[str, np.ndarray]], strategies: list[str], idx: np.ndarray, dynamic: bool
) -> dict[str, np.ndarray]:
    """``{"<criterion> vs <other>": bool per resample}`` for the first strategy."""
    me = _means(mats[strategies[0]], idx, dynamic)
    out: dict[str, np.ndarray] = {}
    for other in strategies[1:]:
        them = _means(mats[other], idx, dynamic)
        out[f"OOM-free vs {other}"] = me["oom"] >= them["oom"] - 1e-12
        for c, _ in CRITERIA:
            out[f"{SHORT[c]} vs {other}"] = me[c] < them[c]
    return out


def robustness(result: BacktestResult, strategies: list[str], boot: int) -> str:
    """Leave-one-out and bootstrap summary of the first strategy's lead."""
    dynamic = result.mode == "dynamic"
    common, mats = _matrices(result.details, strategies, dynamic)
    n = len(common)
    loo_idx = np.array([[j for j in range(n) if j != i] for i in range(n)])
    loo = _wins(mats, strategies, loo_idx, dynamic)
    loo_all = np.logical_and.reduce(list(loo.values()))
    lines = [f"paired on {n} workloads"]
    flips = {k: [common[i] for i in np.flatnonzero(~v)] for k, v in loo.items() if not v.all()}
    lines.append(f"leave-one-out: {strategies[0]} leads in {int(loo_all.sum())} of {n}")
    for k, names in flips.items():
        shown = ", ".join(names) if len(names) <= 4 else f"{len(names)} of them"
        lines.append(f"  {k} lost without {shown}")
    if boot > 0:
        rng = np.random.default_rng(0)
        bidx = rng.integers(0, n, size=(boot, n))
        bw = _wins(mats, strategies, bidx, dynamic)
        b_all = np.logical_and.reduce(list(bw.values()))
        lines.append(f"bootstrap ({boot} resamples): full lead in {b_all.mean():.1%}")
        lines.append(
            "  " + "; ".join(f"{k} {v.mean():.0%}" for k, v in bw.items())
        )
    return "\n".join(lines)


def _parse_params(items: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for item in items:
        key, value = item.split("=", 1)
        strategy, name = key.rsplit(".", 1)
        out.setdefault(strategy, {})[name] = float(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces", nargs="?", type=Path, default=DEFAULT_TRACES)
    parser.add_argument("--train", type=float, action="append", help="repeatable (default 0.7)")
    parser.add_argument("--mode", choices=["static", "dynamic", "both"], default="both")
    parser.add_argument("--refit-every", type=float, default=86400.0)
    parser.add_argument("--json", type=Path, help="also write the full results as JSON")
    parser.add_argument("--details", action="store_true", help="print per-workload scores")
    parser.add_argument("--strategy", action="append", help="strategies (default: all three)")
    parser.add_argument("--bootstrap", type=int, default=2000, help="resamples (0: none)")
    parser.add_argument("--param", action="append", default=[], help="STRATEGY.KEY=VALUE")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    histories = load_histories(args.traces)
    strategies = args.strategy or STRATEGIES
    params = _parse_params(args.param)
    modes = ["static", "dynamic"] if args.mode == "both" else [args.mode]
    dump: list[dict[str, Any]] = []
    for train in args.train or [0.7]:
        for mode in modes:
            run = backtest if mode == "static" else dynamic_backtest
            result = run(histories, strategies, train, args.refit_every, params)
            print(f"\n{len(histories)} workloads, {mode}, train {train:g}, "
                  f"refit every {args.refit_every:g}s")
            print(result.format_table())
            if len(strategies) > 1:
                print(robustness(result, strategies, args.bootstrap))
            if args.details:
                cols = ["strategy", "workload", "status", "oom_free", "oom_days", "memory_slack",
                        "cpu_samples_above_request", "cpu_above_request", "cpu_slack", "changes"]
                with pd.option_context("display.width", 200, "display.max_rows", 1000):
                    print(result.details[cols].round(3).to_string(index=False))
            dump.append(result.to_dict())
            sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(dump, indent=2))
    print(f"({time.perf_counter() - start:.1f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
