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
``cpu_samples_above_request``
    share of held-out samples whose CPU is above the request (a count, not
    load-weighted).
``cpu_above_limit``
    the same above the CPU limit (would-be throttling); 0 without a limit.
``cpu_slack``
    share of requested core-seconds left unused:
    ``sum(max(0, req - cpu) * dt) / sum(req * dt)``.
``changes``
    how often the recommendation changes when refitted every ``refit_every``
    seconds through the held-out part on an expanding window (a change = any of
    the four values differs from the previous fit).

``oom_free_days``
    share of held-out workload-days (``refit_every`` periods after the cut)
    without a sample above the memory bound, pooled over the workloads
    (Autopilot's "OOM-free job-days").

Two modes. ``static`` (:func:`backtest`): one fit at the cut, replayed on the
whole held-out part. ``dynamic`` (:func:`dynamic_backtest`): refit every
``refit_every`` seconds on all the history observed so far (the strategy sees
the recommendation in effect as ``History.previous`` and as the declared
values), apply it, and replay the next period. A replayed sample above the
applied memory bound is an OOM: the observed memory is capped at the bound and
each run of such samples becomes an OOM kill the next refit sees; CPU above an
applied CPU limit is observed capped at the limit and fully throttled. Scores
use the true usage.

Workloads a strategy cannot size from its training part (insufficient data)
are counted in ``insufficient``, not as failures.

One module although it is over 400 lines: both modes share the split, the
scores, the period OOM count and the result type, and a change to a score
must reach both replays at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from rightsize.analysis.strategies import recommend_pool, resolve_params
from rightsize.analysis.strategies.base import FloatArray, History, Pool
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
    "cpu_samples_above_request",
    "cpu_above_limit",
    "cpu_slack",
    "changes",
    "changes_per_day",
    "oom_free_days",
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
    "cpu_samples_above_request",
    "cpu_above_limit",
    "cpu_slack",
    "changes",
    "test_days",
    "days",
    "oom_days",
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
    mode: str = "static"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes ``None``."""
        return {
            "mode": self.mode,
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
            "OOM-free days",
            "CPU>req",
            "samples>req",
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
                    _pct(rec["oom_free_days"], 2),
                    _pct(rec["cpu_above_request"]),
                    _pct(rec["cpu_samples_above_request"]),
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


def _pct(value: Any, digits: int = 1) -> str:
    return "-" if _isnan(value) else f"{100 * float(value):.{digits}f}%"


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
        oom_limit: FloatArray | None = None
        if "oom" in g.columns:
            kills = np.nan_to_num(_col(g, "oom")) > 0
            oom_ts = ts_arr[kills]
            if "memory_limit" in g.columns:  # the limit declared on the row of each kill
                oom_limit = pd.to_numeric(g["memory_limit"], errors="coerce").to_numpy(
                    dtype=np.float64)[kills]
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
            oom_limit=oom_limit,
        )
    return out


def slice_history(history: History, start: float, end: float) -> History:
    """The samples with ``start < ts <= end`` (OOMs in the same window)."""
    keep = (history.ts > start) & (history.ts <= end)
    inside = (history.oom_ts > start) & (history.oom_ts <= end)
    return replace(
        history,
        ts=history.ts[keep],
        cpu=history.cpu[keep],
        memory=history.memory[keep],
        interval=history.interval[keep],
        throttled=history.throttled[keep],
        oom_ts=history.oom_ts[inside],
        oom_limit=None if history.oom_limit is None else history.oom_limits()[inside],
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
        out["cpu_samples_above_request"] = float(np.count_nonzero(cpu > req)) / cpu.size
    else:
        out.update(cpu_above_request=math.nan, cpu_slack=math.nan,
                   cpu_samples_above_request=math.nan)
    lim = rec.cpu_limit
    if lim is None:
        out["cpu_above_limit"] = 0.0
    else:
        above = float(np.sum(np.maximum(cpu - lim, 0.0) * cdt))
        out["cpu_above_limit"] = above / used if used > 0 else 0.0
    return out


def _recommend_all(name: str, windows: Sequence[History], params: Mapping[str, float]
               ) -> list[Recommendation]:
    """The strategy on every window at once (a :class:`Pool`)."""
    return recommend_pool(name, Pool.of(windows), params) if windows else []


@dataclass
class _Refits:
    """One workload's refits every ``refit_every`` s after ``cut`` on an expanding window."""

    history: History
    current: Recommendation
    t: float
    changes: int = 0

    @property
    def active(self) -> bool:
        return self.history.ts.size > 0 and self.t <= float(self.history.ts[-1])

    def window(self) -> History:
        return replace(slice_history(self.history, -math.inf, self.t), previous=self.current)

    def advance(self, rec: Recommendation, refit_every: float) -> None:
        if _values(rec) != _values(self.current):
            self.changes += 1
        self.current = rec
        self.t += refit_every


def count_changes_all(
    name: str,
    fits: Sequence[tuple[History, float, Recommendation]],
    refit_every: float,
    params: Mapping[str, float],
) -> list[int]:
    """Refit every ``refit_every`` s after each cut on an expanding window; count value
    changes. ``fits``: (history, cut, first fit) per workload; all are refitted in step.

    Each refit sees the recommendation in effect as ``History.previous`` (a
    strategy with hysteresis keeps it when the new estimate is close).
    """
    if refit_every <= 0:
        return [0] * len(fits)
    jobs = [_Refits(h, first, cut + refit_every) for h, cut, first in fits]
    while live := [j for j in jobs if j.active]:
        for job, rec in zip(live, _recommend_all(name, [j.window() for j in live], params),
                            strict=True):
            job.advance(rec, refit_every)
    return [j.changes for j in jobs]


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
        ready = [(w, tr, te, cut) for w, (tr, te, cut) in splits.items()
                 if te.ts.size and tr.ts.size]
        fitted = dict(zip([w for w, *_ in ready], _recommend_all(name, [r[1] for r in ready], p),
                          strict=True))
        scored: list[tuple[dict[str, Any], History, float, Recommendation]] = []
        for workload, (tr, te, cut) in splits.items():
            row: dict[str, Any] = {c: math.nan for c in DETAIL_COLUMNS}
            row.update(
                strategy=name,
                workload=workload,
                train_samples=int(tr.ts.size),
                test_samples=int(te.ts.size),
            )
            rows.append(row)
            if workload not in fitted:
                row["status"] = "no held-out data"
                continue
            rec = fitted[workload]
            row["confidence"] = rec.confidence
            if not _sized(rec):
                row["status"] = "insufficient"
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
            row["days"], row["oom_days"] = _period_ooms(rec, te, cut, refit_every or 86400.0)
            scored.append((row, histories[workload], cut, rec))
        changes = count_changes_all(name, [(h, cut, rec) for _, h, cut, rec in scored],
                                    refit_every, p)
        for (row, *_), n in zip(scored, changes, strict=True):
            row["changes"] = n
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
                "cpu_samples_above_request": _mean(scored["cpu_samples_above_request"]),
                "cpu_above_limit": _mean(scored["cpu_above_limit"]),
                "cpu_slack": _mean(scored["cpu_slack"]),
                "changes": int(scored["changes"].sum()) if len(scored) else 0,
                "changes_per_day": float(scored["changes"].sum()) / days if days > 0 else math.nan,
                "oom_free_days": _pooled_oom_free(scored),
            }
        )
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _pooled_oom_free(scored: pd.DataFrame) -> float:
    total = float(pd.to_numeric(scored["days"], errors="coerce").sum())
    bad = float(pd.to_numeric(scored["oom_days"], errors="coerce").sum())
    return 1.0 - bad / total if total > 0 else math.nan


def _bound(rec: Recommendation) -> float | None:
    return rec.memory_limit if rec.memory_limit is not None else rec.memory_request


def _period_ooms(
    rec: Recommendation, test: History, cut: float, period: float
) -> tuple[int, int]:
    """``(periods with samples, periods with a sample above the memory bound)`` after ``cut``."""
    if test.ts.size == 0:
        return 0, 0
    slot = np.floor((test.ts - cut) / period).astype(np.int64)
    days = int(np.unique(slot).size)
    bound = _bound(rec)
    if bound is None:
        return days, 0
    over = np.isfinite(test.memory) & (test.memory > bound)
    return days, int(np.unique(slot[over]).size)


def _applied(rec: Recommendation) -> Declared:
    """What is declared once ``rec`` is applied (a None limit: none set, as scored)."""
    return Declared(rec.cpu_request, rec.cpu_limit, rec.memory_request, rec.memory_limit)


class _Replay:
    """One workload in the dynamic mode: refit, apply, replay a period, repeat."""

    def __init__(self, history: History, cut: float, period: float) -> None:
        self.history, self.period, self.t = history, period, cut
        self.ts = history.ts
        self.cpu_obs = history.cpu.copy()
        self.mem_obs = history.memory.copy()
        self.thr_obs = history.throttled.copy()
        before = history.oom_ts <= cut
        self.ooms: list[float] = history.oom_ts[before].tolist()
        #: the memory limit at each kill (the applied bound for replayed ones)
        self.oom_limits: list[float] = history.oom_limits()[before].tolist()
        self.declared = history.declared
        self.end = float(self.ts[-1])
        self.current: Recommendation | None = None
        self.first: Recommendation | None = None
        self.changes = self.days = self.oom_days = 0
        self.parts: list[tuple[int, int, Recommendation]] = []  # (start, stop) slices scored
        self.k = 0

    @property
    def active(self) -> bool:
        return self.t < self.end

    def window(self) -> History | None:
        """What has been observed up to now (None before the first sample)."""
        k = self.k = int(np.searchsorted(self.ts, self.t, side="right"))
        if not k:
            return None
        return History(
            ts=self.ts[:k], cpu=self.cpu_obs[:k], memory=self.mem_obs[:k],
            interval=self.history.interval[:k], throttled=self.thr_obs[:k],
            oom_ts=np.asarray(self.ooms, dtype=np.float64), declared=self.declared,
            containers=self.history.containers, previous=self.current,
            oom_limit=np.asarray(self.oom_limits, dtype=np.float64),
        )

    def advance(self, rec: Recommendation | None) -> None:
        """Apply ``rec`` (the refit of :meth:`window`) and replay the next period."""
        history, ts, k, t = self.history, self.ts, self.k, self.t
        if rec is not None and _sized(rec):
            if self.current is not None and _values(rec) != _values(self.current):
                self.changes += 1
            self.current = rec
            self.first = self.first or rec
            self.declared = _applied(rec)
        stop = int(np.searchsorted(ts, t + self.period, side="right"))
        current = self.current
        if current is not None and stop > k:
            self.parts.append((k, stop, current))
            self.days += 1
            bound = _bound(current)
            mem = history.memory[k:stop]
            if bound is not None:
                over = np.isfinite(mem) & (mem > bound)
                if over.any():
                    self.oom_days += 1
                    starts = over & ~np.r_[False, over[:-1]]
                    killed = ts[k:stop][starts].tolist()
                    self.ooms.extend(killed)
                    self.oom_limits.extend([float(bound)] * len(killed))
                    self.mem_obs[k:stop] = np.where(over, bound, mem)
            lim = current.cpu_limit
            if lim is not None:
                hot = history.cpu[k:stop] > lim
                self.cpu_obs[k:stop] = np.where(hot, lim, history.cpu[k:stop])
                self.thr_obs[k:stop] = np.where(hot, 1.0, self.thr_obs[k:stop])
        self.t = t + self.period

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"changes": self.changes, "days": self.days,
                               "oom_days": self.oom_days, "first": self.first}
        if not self.parts:
            return out
        out.update(_score_parts(self.history, self.parts))
        out["oom_free"] = float(self.oom_days == 0)
        return out


def _replay_all(name: str, jobs: Sequence[_Replay], params: Mapping[str, float]) -> None:
    """Every workload's replay in step: one pooled refit per period."""
    while live := [j for j in jobs if j.active]:
        windows = [(j, j.window()) for j in live]
        asked = [(j, w) for j, w in windows if w is not None]
        recs = _recommend_all(name, [w for _, w in asked], params)
        got = {id(j): rec for (j, _), rec in zip(asked, recs, strict=True)}
        for job in live:
            job.advance(got.get(id(job)))


def _score_parts(
    history: History, parts: list[tuple[int, int, Recommendation]]
) -> dict[str, float]:
    """The scores of :func:`score` over periods each replayed against its own recommendation."""
    idx = np.concatenate([np.arange(a, b) for a, b, _ in parts])
    n = [b - a for a, b, _ in parts]

    def per_sample(values: list[float | None]) -> FloatArray:
        return np.repeat(np.array([np.nan if v is None else v for v in values], dtype=float), n)

    req = per_sample([r.cpu_request for _, _, r in parts])
    lim = per_sample([r.cpu_limit for _, _, r in parts])
    bound = per_sample([_bound(r) for _, _, r in parts])
    dt = np.nan_to_num(history.interval[idx], nan=0.0)
    dt = np.where(dt > 0, dt, 0.0)
    cpu, mem = history.cpu[idx], history.memory[idx]
    out: dict[str, float] = {}
    m_ok = np.isfinite(mem) & np.isfinite(bound) & (bound > 0)
    if m_ok.any():
        w = dt[m_ok] if dt[m_ok].sum() > 0 else np.ones(int(m_ok.sum()))
        b, m = bound[m_ok], mem[m_ok]
        out["oom_samples"] = float(np.count_nonzero(m > b))
        out["memory_slack"] = float(np.average(np.clip((b - m) / b, 0.0, 1.0), weights=w))
    c_ok = np.isfinite(cpu) & np.isfinite(req) & (req > 0)
    c, r, d = cpu[c_ok], req[c_ok], dt[c_ok]
    used = float(np.sum(c * d))
    if d.sum() > 0:
        out["cpu_above_request"] = float(np.sum(np.maximum(c - r, 0.0) * d)) / used if used else 0.0
        out["cpu_slack"] = float(np.sum(np.maximum(r - c, 0.0) * d) / np.sum(r * d))
        out["cpu_samples_above_request"] = float(np.count_nonzero(c > r)) / c.size
        li = np.nan_to_num(lim[c_ok], nan=np.inf)
        out["cpu_above_limit"] = (
            float(np.sum(np.maximum(c - li, 0.0) * d)) / used if used else 0.0
        )
    return out


def dynamic_backtest(
    histories: Mapping[str, History] | pd.DataFrame,
    strategies: Sequence[str],
    train: float = 0.7,
    refit_every: float = 86400.0,
    params: Mapping[str, Mapping[str, float]] | None = None,
) -> BacktestResult:
    """Replay like production: refit every ``refit_every`` s after the cut, apply, replay.

    See the module docstring; the first fit is at the cut of :func:`split_history`.
    ``confidence`` and the four values in the details are those of the first fit.
    """
    if isinstance(histories, pd.DataFrame):
        histories = histories_from_frame(histories)
    if not strategies:
        raise UsageError("backtest needs at least one strategy")
    if refit_every <= 0:
        raise UsageError("the dynamic backtest needs a refit interval above 0")
    resolved = {s: resolve_params(s, (params or {}).get(s)) for s in strategies}
    rows: list[dict[str, Any]] = []
    for name in strategies:
        jobs: dict[str, _Replay] = {}
        for workload, history in histories.items():
            tr, te, cut = split_history(history, train)
            row: dict[str, Any] = {c: math.nan for c in DETAIL_COLUMNS}
            row.update(strategy=name, workload=workload, train_samples=int(tr.ts.size),
                       test_samples=int(te.ts.size))
            rows.append(row)
            if te.ts.size == 0 or tr.ts.size == 0:
                row["status"] = "no held-out data"
                continue
            jobs[workload] = _Replay(history, cut, refit_every)
        _replay_all(name, list(jobs.values()), resolved[name])
        for row in rows[-len(histories):]:
            if row["workload"] not in jobs:
                continue
            got = jobs[row["workload"]].result()
            first = got.pop("first")
            if first is None or not got["days"]:
                row["status"] = "insufficient"
                continue
            row.update(got)
            row.update(
                status="scored", confidence=first.confidence, cpu_request=first.cpu_request,
                cpu_limit=first.cpu_limit, memory_request=first.memory_request,
                memory_limit=first.memory_limit, test_days=float(got["days"]),
            )
    details = pd.DataFrame(rows, columns=DETAIL_COLUMNS)
    summary = _summarise(details, list(strategies))
    return BacktestResult(summary, details, train, refit_every, resolved, mode="dynamic")


def _mean(values: pd.Series) -> float:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return float(v.mean()) if len(v) else math.nan
