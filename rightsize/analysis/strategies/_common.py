"""Numeric helpers shared by the strategies: weighted quantiles, decay, peaks, rounding."""

from __future__ import annotations

import math

import numpy as np

from rightsize.analysis.strategies.base import FloatArray, History
from rightsize.model import Recommendation
from rightsize.units import round_cpu_up, round_memory_up

MIB = 2**20
DAY = 86400.0


def weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """The smallest value whose cumulative weight reaches ``q`` of the total (inverse CDF).

    Values with non-positive or non-finite weight are ignored; ``nan`` when nothing is left.
    """
    ok = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    v, w = values[ok], weights[ok]
    if v.size == 0:
        return math.nan
    order = np.argsort(v, kind="stable")
    v, cw = v[order], np.cumsum(w[order])
    idx = int(np.searchsorted(cw, q * cw[-1], side="left"))
    return float(v[min(idx, v.size - 1)])


def median(values: FloatArray) -> float:
    """``float(np.median(values))``: the same value (NaN if empty or any NaN), less overhead."""
    n = values.size
    if n == 0 or np.isnan(values).any():
        return math.nan
    k = n // 2
    if n % 2:
        return float(0.0 + np.partition(values, k)[k])  # numpy's mean starts from 0.0
    part = np.partition(values, (k - 1, k))
    return float((0.0 + part[k - 1] + part[k]) / 2.0)  # numpy's summation order


def nan_to_zero(values: FloatArray) -> FloatArray:
    """``np.nan_to_num(values, nan=0.0)`` (a new array), without its overhead."""
    out = np.array(values, dtype=np.float64)
    out[np.isnan(out)] = 0.0
    if not np.isfinite(out).all():  # rare: ±inf become the largest finite floats, as there
        return np.asarray(np.nan_to_num(out), dtype=np.float64)
    return out


def decay_weights(ts: FloatArray, ref: float | FloatArray, half_life: float) -> FloatArray:
    """``2 ** ((ts - ref) / half_life)``: 1 at ``ref``, halving every ``half_life`` seconds
    (``ref`` may be one per element)."""
    if half_life <= 0 or not math.isfinite(half_life):
        return np.ones_like(ts)
    return np.asarray(np.exp2((ts - ref) / half_life), dtype=np.float64)


def interval_peaks(
    ts: FloatArray, values: FloatArray, end: float, length: float = DAY, count: int = 0
) -> tuple[FloatArray, FloatArray]:
    """One peak per ``length``-second interval counted back from ``end``.

    Returns ``(peaks, peak_ts)`` oldest first, keeping the last ``count`` intervals
    (all when ``count`` is 0); empty intervals are skipped.
    """
    ok = np.isfinite(values)
    t, v = ts[ok], values[ok]
    if t.size == 0:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy()
    slot = np.floor((end - t) / length).astype(np.int64)  # 0 = most recent interval
    keep = slot >= 0
    if count > 0:
        keep &= slot < count
    t, v, slot = t[keep], v[keep], slot[keep]
    if t.size == 0:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty.copy()
    if slot.size > 1 and not np.any(slot[1:] > slot[:-1]):
        # time-sorted input (the usual case): each slot is one run, oldest first;
        # per run, the last position holding its largest value (as the sort below)
        starts = np.flatnonzero(np.concatenate(([True], slot[1:] != slot[:-1])))
        top = np.maximum.reduceat(v, starts)
        run = np.cumsum(np.concatenate(([False], slot[1:] != slot[:-1])))
        hit = np.where(v == top[run], np.arange(v.size), -1)
        at = np.maximum.reduceat(hit, starts)
        return v[at].astype(np.float64), t[at].astype(np.float64)
    order = np.lexsort((v, -slot))  # by slot descending (oldest first), then value
    t, v, slot = t[order], v[order], slot[order]
    last = np.concatenate((slot[1:] != slot[:-1], [True]))  # the largest value comes last
    return v[last].astype(np.float64), t[last].astype(np.float64)


def insufficient(reason: str, confidence: float = 0.0) -> Recommendation:
    """A recommendation with every value unknown, saying why."""
    return Recommendation(None, None, None, None, confidence, (f"insufficient data: {reason}",))


def finish(
    cpu_request: float | None,
    cpu_limit: float | None,
    memory_request: float | None,
    memory_limit: float | None,
    confidence: float,
    notes: list[str],
) -> Recommendation:
    """Round up to Kubernetes quantities and keep every limit at or above its request."""
    cr = round_cpu_up(cpu_request) if cpu_request is not None else None
    cl = round_cpu_up(cpu_limit) if cpu_limit is not None else None
    if cr is not None and cl is not None and cl < cr:
        cl = cr
    mr = round_memory_up(memory_request) if memory_request is not None else None
    ml = round_memory_up(memory_limit) if memory_limit is not None else None
    if mr is not None and ml is not None and ml < mr:
        ml = mr
    conf = min(1.0, max(0.0, confidence)) if math.isfinite(confidence) else 0.0
    return Recommendation(cr, cl, mr, ml, conf, tuple(notes))


def finite_count(history: History) -> int:
    """Samples with both CPU and memory known."""
    return int(np.count_nonzero(np.isfinite(history.cpu) & np.isfinite(history.memory)))


def span_seconds(history: History) -> float:
    """Seconds covered: from the start of the first interval to the last sample."""
    if history.ts.size == 0:
        return 0.0
    first = float(history.ts[0]) - float(np.nan_to_num(history.interval[0]))
    return float(history.ts[-1]) - first
