"""Backtest: fit strategies on the start of each workload's history, replay the rest.

Pure functions over ``{workload: History}`` (or a tidy DataFrame, see
:func:`histories_from_frame`). For each workload the history is split *by time*:
the first ``train`` share of its time span fits the strategy, the rest is held
out and replayed against that one recommendation. Scores (per workload, then
averaged over the workloads each strategy could size, every workload weighing
the same):

``oom_free``
    no held-out memory sample above the memory bound, where the bound is the
    recommended memory limit, or the memory request when no limit is
    recommended (VPA without a declared ratio): above it the container would
    be OOM-killed (or first in line under node pressure).
``memory_slack``
    Autopilot's relative slack, ``(bound - usage) / bound`` per held-out sample,
    clipped to 0 above the bound (that sample is an OOM, scored above), averaged
    weighted by sample interval.
``cpu_above_request``
    share of held-out CPU-seconds above the request:
    ``sum(max(0, cpu - req) * dt) / sum(cpu * dt)``.
``cpu_above_limit``
    the same above the CPU limit (would-be throttling); 0 without a limit.
``cpu_slack``
    share of requested core-seconds left unused:
    ``sum(max(0, req - cpu) * dt) / sum(req * dt)``.
``changes``
    how often the recommendation changes when refitted every ``refit_every``
    seconds through the held-out part on an expanding window (a change = any of
    the four values differs from the previous fit).

Workloads a strategy cannot size from its training part (insufficient data)
are counted in ``insufficient``, not as failures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from rightsize.analysis.strategies import recommend, resolve_params
from rightsize.analysis.strategies.base import FloatArray, History
from rightsize.errors import InputError, UsageError
from rightsize.model import Declared, Recommendation

SUMMARY_COLUMNS = [
    "strategy",
    "workloads",
    "scored",
    "insufficient",
    "oom_free",
    "memory_slack",
    "cpu_above_request",
    "cpu_above_limit",
    "cpu_slack",
    "changes",
    "changes_per_day",
]
DETAIL_COLUMNS = [
    "strategy",
    "workload",
    "status",
    "train_samples",
    "test_samples",
    "confidence",
    "cpu_request",
    "cpu_limit",
    "memory_request",
    "memory_limit",
    "oom_free",
    "oom_samples",
    "memory_slack",
    "cpu_above_request",
    "cpu_above_limit",
    "cpu_slack",
    "changes",
    "test_days",
]
_DECLARED = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")


@dataclass(frozen=True)
class BacktestResult:
    """Per-strategy ``summary`` and per-(strategy, workload) ``details``."""

    summary: pd.DataFrame
    details: pd.DataFrame
    train: float
    refit_every: float
    params: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes ``None``."""
        return {
            "train": self.train,
            "refit_every": self.refit_every,
            "params": self.params,
            "summary": _records(self.summary),
            "workloads": _records(self.details),
        }

    def format_table(self) -> str:
        """The summary as an aligned plain-text table."""
        header = [
            "strategy",
            "scored",
            "insuff.",
            "OOM-free",
            "mem slack",
            "CPU>req",
            "CPU>limit",
            "CPU slack",
            "changes/day",
        ]
        rows = [header]
        for rec in self.summary.to_dict("records"):
            rows.append(
                [
                    str(rec["strategy"]),
                    f"{int(rec['scored'])}/{int(rec['workloads'])}",
                    str(int(rec["insufficient"])),
                    _pct(rec["oom_free"]),
                    _pct(rec["memory_slack"]),
                    _pct(rec["cpu_above_request"]),
                    _pct(rec["cpu_above_limit"]),
                    _pct(rec["cpu_slack"]),
                    "-" if _isnan(rec["changes_per_day"]) else f"{rec['changes_per_day']:.2f}",
                ]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = []
        for n, row in enumerate(rows):
            cells = [row[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join(cells).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _isnan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _pct(value: Any) -> str:
    return "-" if _isnan(value) else f"{100 * float(value):.1f}%"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rec in df.to_dict("records"):
        clean: dict[str, Any] = {}
        for key, value in rec.items():
            if isinstance(value, np.generic):
                value = value.item()
            clean[str(key)] = None if _isnan(value) else value
        out.append(clean)
    return out


def _col(df: pd.DataFrame, name: str) -> FloatArray:
    return np.asarray(pd.to_numeric(df[name], errors="coerce"), dtype=np.float64)


def histories_from_frame(df: pd.DataFrame) -> dict[str, History]:
    """Build one :class:`History` per workload from a tidy frame.

    Columns: ``workload``, ``ts`` (Unix seconds or datetimes), ``cpu`` (cores),
    ``memory`` (bytes); optional ``interval`` (seconds; else the difference of
    ``ts``, the first sample getting the workload's median), ``throttled``
    (share of CFS periods throttled), ``oom`` (OOM kills in the interval) and
    the declared columns ``cpu_request``, ``cpu_limit``, ``memory_request``,
    ``memory_limit`` (the last known value per workload is used).
    """
    missing = [c for c in ("workload", "ts", "cpu", "memory") if c not in df.columns]
    if missing:
        raise InputError(f"backtest frame: missing column(s) {', '.join(missing)}")
    frame = df.copy()
    if pd.api.types.is_datetime64_any_dtype(frame["ts"]):
        ts = pd.to_datetime(frame["ts"], utc=True)
        frame["ts"] = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    out: dict[str, History] = {}
    for name, group in frame.groupby("workload", sort=True):
        g = group.sort_values("ts", kind="stable")
        ts_arr = _col(g, "ts")
        if "interval" in g.columns:
            interval = _col(g, "interval")
        else:
            diffs = np.diff(ts_arr)
            first = float(np.median(diffs)) if diffs.size else 0.0
            interval = np.r_[first, diffs].astype(np.float64)
        throttled = (
            _col(g, "throttled") if "throttled" in g.columns else np.full_like(ts_arr, np.nan)
        )
        if "oom" in g.columns:
            kills = np.nan_to_num(_col(g, "oom"))
            oom_ts = ts_arr[kills > 0]
        else:
            oom_ts = np.empty(0, dtype=np.float64)
        declared: dict[str, float | int | None] = {}
        for key in _DECLARED:
            value = None
            if key in g.columns:
                known = pd.to_numeric(g[key], errors="coerce").dropna()
                if len(known) and float(known.iloc[-1]) > 0:
                    value = float(known.iloc[-1])
            declared[key] = int(value) if value is not None and key.startswith("memory") else value
        out[str(name)] = History(
            ts=ts_arr,
            cpu=_col(g, "cpu"),
            memory=_col(g, "memory"),
            interval=interval,
            throttled=throttled,
            oom_ts=oom_ts,
            declared=Declared(**declared),  # type: ignore[arg-type]
        )
    return out


def slice_history(history: History, start: float, end: float) -> History:
    """The samples with ``start < ts <= end`` (OOMs in the same window)."""
    keep = (history.ts > start) & (history.ts <= end)
    ooms = history.oom_ts[(history.oom_ts > start) & (history.oom_ts <= end)]
    return replace(
        history,
        ts=history.ts[keep],
        cpu=history.cpu[keep],
        memory=history.memory[keep],
        interval=history.interval[keep],
        throttled=history.throttled[keep],
        oom_ts=ooms,
    )


def split_history(history: History, train: float) -> tuple[History, History, float]:
    """Split by time: ``(train part, held-out part, cut time)``; ``ts <= cut`` trains."""
    if not 0 < train < 1:
        raise UsageError(f"invalid train fraction {train!r}: expected a number between 0 and 1")
    if history.ts.size == 0:
        return history, history, math.nan
    t0, t1 = float(history.ts[0]), float(history.ts[-1])
    cut = t0 + train * (t1 - t0)
    return slice_history(history, -math.inf, cut), slice_history(history, cut, math.inf), cut


def _values(rec: Recommendation) -> tuple[Any, ...]:
    return (rec.cpu_request, rec.cpu_limit, rec.memory_request, rec.memory_limit)


def _sized(rec: Recommendation) -> bool:
    return rec.cpu_request is not None and rec.memory_request is not None


def score(rec: Recommendation, test: History) -> dict[str, float]:
    """Replay one recommendation on held-out samples (see the module docstring)."""
    dt = np.nan_to_num(test.interval, nan=0.0)
    dt = np.where(dt > 0, dt, 0.0)
    mem_ok = np.isfinite(test.memory)
    cpu_ok = np.isfinite(test.cpu)
    out: dict[str, float] = {}
    bound = rec.memory_limit if rec.memory_limit is not None else rec.memory_request
    if bound is not None and bound > 0 and mem_ok.any():
        mem = test.memory[mem_ok]
        w = dt[mem_ok] if dt[mem_ok].sum() > 0 else np.ones_like(mem)
        over = int(np.count_nonzero(mem > bound))
        out["oom_samples"] = float(over)
        out["oom_free"] = float(over == 0)
        out["memory_slack"] = float(np.average(np.clip((bound - mem) / bound, 0.0, 1.0), weights=w))
    else:
        out.update(oom_samples=math.nan, oom_free=math.nan, memory_slack=math.nan)
    cpu, cdt = test.cpu[cpu_ok], dt[cpu_ok]
    used = float(np.sum(cpu * cdt))
    req = rec.cpu_request
    if req is not None and req > 0 and cdt.sum() > 0:
        above = float(np.sum(np.maximum(cpu - req, 0.0) * cdt))
        out["cpu_above_request"] = above / used if used > 0 else 0.0
        out["cpu_slack"] = float(np.sum(np.maximum(req - cpu, 0.0) * cdt)) / (req * cdt.sum())
    else:
        out.update(cpu_above_request=math.nan, cpu_slack=math.nan)
    lim = rec.cpu_limit
    if lim is None:
        out["cpu_above_limit"] = 0.0
    else:
        above = float(np.sum(np.maximum(cpu - lim, 0.0) * cdt))
        out["cpu_above_limit"] = above / used if used > 0 else 0.0
    return out


def count_changes(
    name: str,
    history: History,
    cut: float,
    first: Recommendation,
    refit_every: float,
    params: Mapping[str, float],
) -> int:
    """Refit every ``refit_every`` s after ``cut`` on an expanding window; count value changes.

    Each refit sees the recommendation in effect as ``History.previous`` (a
    strategy with hysteresis keeps it when the new estimate is close).
    """
    if refit_every <= 0 or history.ts.size == 0:
        return 0
    end = float(history.ts[-1])
    current = first
    prev = _values(first)
    changes = 0
    t = cut + refit_every
    while t <= end:
        window = replace(slice_history(history, -math.inf, t), previous=current)
        rec = recommend(name, window, params)
        vals = _values(rec)
        if vals != prev:
            changes += 1
        prev = vals
        current = rec
        t += refit_every
    return changes


def backtest(
    histories: Mapping[str, History] | pd.DataFrame,
    strategies: Sequence[str],
    train: float = 0.7,
    refit_every: float = 86400.0,
    params: Mapping[str, Mapping[str, float]] | None = None,
) -> BacktestResult:
    """Fit each strategy on the first ``train`` share of every workload, score the rest.

    ``params`` maps a strategy name to parameter overrides (validated like
    :func:`rightsize.analysis.strategies.recommend` does).
    """
    if isinstance(histories, pd.DataFrame):
        histories = histories_from_frame(histories)
    if not strategies:
        raise UsageError("backtest needs at least one strategy")
    resolved = {s: resolve_params(s, (params or {}).get(s)) for s in strategies}
    splits = {w: split_history(h, train) for w, h in histories.items()}
    rows: list[dict[str, Any]] = []
    for name in strategies:
        p = resolved[name]
        for workload, (tr, te, cut) in splits.items():
            row: dict[str, Any] = {c: math.nan for c in DETAIL_COLUMNS}
            row.update(
                strategy=name,
                workload=workload,
                train_samples=int(tr.ts.size),
                test_samples=int(te.ts.size),
            )
            if te.ts.size == 0 or tr.ts.size == 0:
                row["status"] = "no held-out data"
                rows.append(row)
                continue
            rec = recommend(name, tr, p)
            row["confidence"] = rec.confidence
            if not _sized(rec):
                row["status"] = "insufficient"
                rows.append(row)
                continue
            row.update(
                status="scored",
                cpu_request=rec.cpu_request,
                cpu_limit=rec.cpu_limit,
                memory_request=rec.memory_request,
                memory_limit=rec.memory_limit,
                test_days=(float(te.ts[-1]) - cut) / 86400.0,
            )
            row.update(score(rec, te))
            row["changes"] = count_changes(name, histories[workload], cut, rec, refit_every, p)
            rows.append(row)
    details = pd.DataFrame(rows, columns=DETAIL_COLUMNS)
    summary = _summarise(details, list(strategies))
    return BacktestResult(summary, details, train, refit_every, resolved)


def _summarise(details: pd.DataFrame, strategies: list[str]) -> pd.DataFrame:
    out = []
    for name in strategies:
        d = details[details["strategy"] == name]
        scored = d[d["status"] == "scored"]
        days = float(scored["test_days"].sum())
        out.append(
            {
                "strategy": name,
                "workloads": len(d),
                "scored": len(scored),
                "insufficient": int((d["status"] == "insufficient").sum()),
                "oom_free": _mean(scored["oom_free"]),
                "memory_slack": _mean(scored["memory_slack"]),
                "cpu_above_request": _mean(scored["cpu_above_request"]),
                "cpu_above_limit": _mean(scored["cpu_above_limit"]),
                "cpu_slack": _mean(scored["cpu_slack"]),
                "changes": int(scored["changes"].sum()) if len(scored) else 0,
                "changes_per_day": float(scored["changes"].sum()) / days if days > 0 else math.nan,
            }
        )
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _mean(values: pd.Series) -> float:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return float(v.mean()) if len(v) else math.nan
