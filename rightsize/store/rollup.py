"""Rollups: a container's samples folded into fixed time buckets, vectorised.

One bucket becomes one row that keeps what the analysis needs:

- the **last** reading of every cumulative counter (CPU time, CFS periods and
  throttling, failcnt, the kernel's OOM-kill counter) and of the gauges that
  only change by configuration (memory limit, CPUs), with its time as the
  row's ``ts``: rates over consecutive rows are the exact means over them;
- the **maximum** of the memory gauges (usage, working set, RSS) and pids, so
  a rollup never loses a memory peak;
- ``cpu_cores`` (imported rates): the mean of the bucket's rates;
- ``cpu_peak``: the highest rate inside the bucket (from the counter between
  consecutive readings, from ``cpu_cores``, or an earlier rollup's peak).

OOM kills are never lost either: the kernel's counter is carried, and the
engine's ``oom`` events are kept in the events table, which is not rolled up.

Columns are ``(values, present)`` pairs (:data:`Cols`), as the chunk codec
decodes them, so integer counters stay exact. Buckets are aligned to the UTC
epoch, so a 5-minute bucket holds whole 1-minute buckets. Times are the
stored keys (``rightsize.store.times``); they sort like the times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rightsize.store.times import seconds_of

__all__ = ["TIERS", "Cols", "Tier", "from_floats", "rollup", "sort_unique", "to_floats"]

BoolArray = npt.NDArray[np.bool_]
Array = npt.NDArray[Any]  # int64 (exact counters, time keys) or float64
Cols = dict[str, tuple[Array, BoolArray]]


@dataclass(frozen=True)
class Tier:
    """A stored resolution: ``level`` 0 is raw, then buckets of ``step`` seconds."""

    level: int
    step: int  # seconds (0 for raw)
    name: str


TIERS: tuple[Tier, ...] = (Tier(0, 0, "raw"), Tier(1, 60, "1m"), Tier(2, 300, "5m"))

_LAST = ("ts", "cpu_total_ns", "system_cpu_ns", "online_cpus", "periods",
         "throttled_periods", "throttled_ns", "mem_limit", "mem_failcnt", "oom_kills_total")
_MAX = ("mem_usage", "mem_working_set", "mem_rss", "pids")


def from_floats(columns: dict[str, npt.NDArray[np.float64]]) -> Cols:
    """float64-with-NaN columns as :data:`Cols`."""
    return {k: (v, ~np.isnan(v)) for k, v in columns.items()}


def to_floats(cols: Cols) -> dict[str, npt.NDArray[np.float64]]:
    """:data:`Cols` as float64 columns with NaN for missing."""
    out: dict[str, npt.NDArray[np.float64]] = {}
    for name, (values, present) in cols.items():
        as_float = values.astype(np.float64) if values.dtype != np.float64 else values
        out[name] = as_float if bool(present.all()) else np.where(present, as_float, np.nan)
    return out


def sort_unique(cols: Cols) -> Cols:
    """Rows in time order, one per timestamp (the first of equal ones is kept)."""
    ts = cols["ts"][0]
    if ts.size < 2:
        return cols
    d = np.diff(ts)
    if bool((d > 0).all()):
        return cols
    order = np.argsort(ts, kind="stable")
    ts_sorted = ts[order]
    keep = np.concatenate(([True], np.diff(ts_sorted) != 0))
    take = order[keep]
    return {k: (v[take], p[take]) for k, (v, p) in cols.items()}


def _rates(cols: Cols) -> npt.NDArray[np.float64]:
    """Per-row CPU rate (cores) over the interval ending at the row, NaN when unknown."""
    ts = seconds_of(cols["ts"][0])
    n = ts.size
    out = np.full(n, np.nan)
    if "cpu_total_ns" in cols and n > 1:
        values, present = cols["cpu_total_ns"]
        dv = np.diff(values.astype(np.float64))
        dt = np.diff(ts)
        ok = present[1:] & present[:-1] & (dv >= 0) & (dt > 0)
        rate = np.full(n - 1, np.nan)
        np.divide(dv * 1e-9, dt, out=rate, where=ok)
        out[1:] = np.where(ok, rate, np.nan)
    for extra in ("cpu_cores", "cpu_peak"):
        if extra in cols:
            values, present = cols[extra]
            v = np.where(present, values.astype(np.float64), np.nan)
            out = np.fmax(out, v)
    return out


def rollup(cols: Cols, step: int) -> Cols:
    """``cols`` (sorted by time) folded into ``step``-second buckets."""
    ts = cols["ts"][0]
    n = ts.size
    if n == 0:
        return {k: (v[:0], p[:0]) for k, (v, p) in cols.items()} | {
            "cpu_peak": (np.zeros(0), np.zeros(0, dtype=bool))}
    bucket = np.floor(seconds_of(ts) / step)
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    out: Cols = {}
    rows = np.arange(n, dtype=np.int64)
    for name, (values, present) in cols.items():
        if name == "cpu_peak":
            continue
        if name in _MAX:
            floor = np.iinfo(np.int64).min if values.dtype.kind == "i" else -np.inf
            top = np.maximum.reduceat(np.where(present, values, floor), starts)
            any_present = np.logical_or.reduceat(present, starts)
            out[name] = (np.where(any_present, top, 0).astype(values.dtype), any_present)
        elif name == "cpu_cores":
            v = np.where(present, values.astype(np.float64), 0.0)
            total = np.add.reduceat(v, starts)
            count = np.add.reduceat(present.astype(np.int64), starts)
            mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
            out[name] = (mean, count > 0)
        else:  # last present value (ts and counters; unknown columns too)
            last = np.maximum.reduceat(np.where(present, rows, -1), starts)
            got = last >= 0
            idx = np.where(got, last, 0)
            out[name] = (values[idx], got)
    peak = _rates(cols)
    has = ~np.isnan(peak)
    top = np.maximum.reduceat(np.where(has, peak, -np.inf), starts)
    any_peak = np.logical_or.reduceat(has, starts)
    out["cpu_peak"] = (np.where(any_peak, top, 0.0), any_peak)
    return out
