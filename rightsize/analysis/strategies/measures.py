"""What the ``rightsize`` strategy measures in each workload's history, for a whole pool at once.

The rules and their reasons are in :mod:`rightsize.analysis.strategies.rightsize`;
this module computes their inputs for every workload of a
:class:`~rightsize.analysis.strategies.base.Pool` with per-workload reductions
(:mod:`~rightsize.analysis.strategies.segments`), so there is no Python loop
over workloads: the confidence, the cost-balanced CPU request, the daily
memory peaks, their fading and window, the spread of the top peaks, the
records and their risk, the recent usage. A workload gets the same numbers
whether it is measured alone or among thousands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rightsize.analysis.strategies._common import DAY, decay_weights, nan_to_zero
from rightsize.analysis.strategies.segments import (
    Segments,
    padded,
    seg_max,
    seg_median,
    seg_sum,
)

__all__ = ["Confidence", "CpuMeasures", "MemoryMeasures", "balanced_requests",
           "confidence", "cpu_measures", "memory_measures", "record_risks"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Confidence:
    """Per workload: samples with CPU and memory, days, coverage and the confidences."""

    samples: IntArray
    days: FloatArray
    coverage: FloatArray
    confidence: FloatArray
    length: FloatArray  # days x samples: what the headroom follows

    def take(self, index: IntArray) -> Confidence:
        """The workloads ``index``."""
        return Confidence(self.samples[index], self.days[index], self.coverage[index],
                          self.confidence[index], self.length[index])


def confidence(ts: FloatArray, cpu: FloatArray, memory: FloatArray, interval: FloatArray,
               seg: Segments, params: Mapping[str, float]) -> Confidence:
    """``min(1, days / full) x min(1, samples / full) x coverage``; an interval
    longer than ``gap_factor`` x the workload's median is a gap (counted as a
    typical interval)."""
    ok = np.isfinite(cpu) & np.isfinite(memory)
    n = seg_sum(ok.astype(np.int64), seg).astype(np.int64)
    dt = nan_to_zero(interval)
    span = (seg.last(ts) - seg.first(ts)) + seg.first(dt)
    days = span / DAY
    positive = dt > 0
    pseg = seg.select(positive)
    typical = np.where(pseg.counts > 0, seg_median(dt[positive], pseg), 0.0)
    covered = seg_sum(np.minimum(np.clip(dt, 0, None), params["gap_factor"] * typical[seg.ids]),
                      seg)
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(span > 0, np.minimum(1.0, covered / span), 0.0)
    by_days = np.minimum(1.0, days / params["full_confidence_days"])
    by_samples = np.minimum(1.0, n / params["full_confidence_samples"])
    return Confidence(n, days, coverage, by_days * by_samples * coverage, by_days * by_samples)


def balanced_requests(x: FloatArray, w: FloatArray, seg: Segments, cost: float,
                      sample_cost: float = 0.0) -> FloatArray:
    """Per workload, the r among its samples minimising overrun share + ``sample_cost``
    x share of time above r + ``cost`` x slack share (weights ``w``); its largest
    sample when it has no load or weight."""
    big_w = seg_sum(w, seg)
    big_s = seg_sum(w * x, seg)
    out = seg_max(x, seg, 0.0)
    for block, index, real in padded(seg, (big_s > 0) & (big_w > 0)):
        # ties may come in any order: over and under are the same at every tied
        # position, and the time-above term is least at the last, whatever the order
        order = np.argsort(np.where(real, x[index], np.inf), axis=1)
        index = np.take_along_axis(index, order, axis=1)
        real = np.take_along_axis(real, order, axis=1)
        xb = x[index]
        wb_ = np.where(real, w[index], 0.0)
        wb = np.cumsum(wb_, axis=1)
        sb = np.cumsum(wb_ * xb, axis=1)
        bw, bs = big_w[block][:, None], big_s[block][:, None]
        over = (bs - sb) - xb * (bw - wb)
        under = xb * wb - sb
        with np.errstate(divide="ignore", invalid="ignore"):
            c = over / bs + cost * np.where(xb > 0, under / (xb * bw), 1.0)
        if sample_cost > 0:
            c = c + sample_cost * (bw - wb) / bw
        c = np.where(real, c, np.inf)
        out[block] = xb[np.arange(block.size), np.argmin(c, axis=1)]
    return out


@dataclass(frozen=True)
class CpuMeasures:
    """The rows with a CPU value, bumped where throttled, with their weights."""

    seg: Segments
    x: FloatArray  # cores, >= 0, throttled samples bumped
    bumped: FloatArray  # cores, throttled samples bumped (may be < 0)
    weights: FloatArray  # interval x decay
    hot_share: FloatArray  # share of samples throttled over the threshold


def cpu_measures(ts: FloatArray, cpu: FloatArray, interval: FloatArray, throttled: FloatArray,
                 seg: Segments, params: Mapping[str, float]) -> CpuMeasures:
    """Throttled samples (share above ``throttle_threshold``) count
    ``+throttle_bump``; weights are the interval (a missing one: the workload's
    median) x a ``cpu_half_life_hours`` decay from its last CPU sample."""
    keep = np.isfinite(cpu)
    cseg = seg.select(keep)
    ts_c, bumped, thr = ts[keep], cpu[keep].copy(), throttled[keep]
    hot = nan_to_zero(thr) > params["throttle_threshold"]
    bumped[hot] *= 1 + params["throttle_bump"]
    with np.errstate(divide="ignore", invalid="ignore"):
        hot_share = seg_sum(hot.astype(np.int64), cseg) / cseg.counts
    dt = nan_to_zero(interval[keep])
    positive = dt > 0
    if not positive.all():
        pseg = cseg.select(positive)
        fill = np.where(pseg.counts > 0, seg_median(dt[positive], pseg), 1.0)
        dt = np.where(positive, dt, fill[cseg.ids])
    last = cseg.last(ts_c)
    weights = decay_weights(ts_c, last[cseg.ids], params["cpu_half_life_hours"] * 3600) * dt
    return CpuMeasures(cseg, np.maximum(bumped, 0.0), bumped, weights, hot_share)


def record_risks(risk: float, scale: FloatArray, usage: FloatArray, ref: float) -> FloatArray:
    """The risk each workload's record headroom is sized for: ``risk x scale x usage /
    ref`` within [risk / 5, risk x 5] (``ref`` 0 or no records: ``risk`` itself)."""
    if ref <= 0 or risk <= 0:
        return np.full(scale.shape, risk)
    scaled = np.clip(risk * scale * usage / ref, risk / 5, risk * 5)
    return np.where(scale > 0, scaled, risk)


@dataclass(frozen=True)
class MemoryMeasures:
    """Per workload: the peak rule's inputs and result (before OOMs and the trend)."""

    peaks: FloatArray  # daily peaks, oldest first, workload after workload
    peak_ts: FloatArray
    days: Segments  # the workloads' runs of daily peaks
    peak: FloatArray  # after fading and the window
    top: FloatArray  # largest working set seen
    tail: FloatArray  # spread of the top daily peaks
    share: FloatArray  # share of days setting a record
    scale: FloatArray  # mean record excess
    usage: FloatArray  # mean usage / peak over the last memory_usage_days
    risk: FloatArray
    record: FloatArray  # relative headroom for records


def _daily_peaks(ts: FloatArray, memory: FloatArray, seg: Segments, end: FloatArray,
                 length: float) -> tuple[FloatArray, FloatArray, Segments]:
    """One peak per ``length`` seconds counted back from each workload's end, oldest
    first, empty intervals skipped; the peak's time is the last reading at that value."""
    fin = np.isfinite(memory)
    fseg = seg.select(fin)
    t, v = ts[fin], memory[fin]
    slot = np.floor(((end + 1e-9)[fseg.ids] - t) / length).astype(np.int64)
    brk = fseg.position == 0
    brk[1:] |= slot[1:] != slot[:-1]
    if v.size == 0:
        empty = np.empty(0)
        return empty, empty.copy(), Segments(np.zeros(seg.size + 1, dtype=np.int64))
    starts = np.flatnonzero(brk)
    top = np.maximum.reduceat(v, starts)
    run = np.cumsum(brk) - 1
    hit = np.where(v == top[run], np.arange(v.size), -1)
    at = np.maximum.reduceat(hit, starts)
    owner = fseg.ids[starts]
    return (v[at].astype(np.float64), t[at].astype(np.float64),
            Segments.of_counts(np.bincount(owner, minlength=seg.size).astype(np.int64)))


def _records(peaks: FloatArray, days: Segments, back: int
             ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(share of days setting a record, mean excess, largest excess): a record is a
    daily peak above the largest of the ``back`` peaks before it (0 with < 3 peaks)."""
    pos = days.position
    prev = np.full(peaks.size, -np.inf)
    for k in range(1, min(back, peaks.size) + 1):
        shifted = np.full(peaks.size, -np.inf)
        shifted[k:] = peaks[:-k]
        prev = np.where(pos >= k, np.maximum(prev, shifted), prev)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = peaks / np.where(prev > 0, prev, np.inf) - 1.0
    enough = (days.counts >= 3)[days.ids]
    hit = enough & (pos >= 1) & (ratio > 0)
    count = seg_sum(hit.astype(np.int64), days)
    rseg = days.select(hit)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(count > 0, count / (days.counts - 1), 0.0)
        scale = np.where(count > 0, seg_sum(ratio[hit], rseg) / count, 0.0)
    top = np.where(count > 0, seg_max(ratio[hit], rseg, 0.0), 0.0)
    return share, scale, top


def _tail(faded: FloatArray, days: Segments, k: int) -> FloatArray:
    """Mean excess of the ``k - 1`` largest daily peaks over the ``k``-th largest."""
    out = np.zeros(days.size)
    if k < 2 or faded.size == 0:
        return out
    order = np.lexsort((-faded, days.ids))
    f = faded[order]
    m = np.minimum(k, days.counts)
    two = days.counts >= 2
    last = np.zeros(days.size)
    last[two] = f[days.starts[:-1][two] + m[two] - 1]
    pick = days.position < (m - 1)[days.ids]
    pseg = days.select(pick)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[two] = (seg_sum(f[pick] - last[days.ids][pick], pseg) / (m - 1))[two]
    return out


def memory_measures(ts: FloatArray, memory: FloatArray, interval: FloatArray, seg: Segments,
                    params: Mapping[str, float]) -> MemoryMeasures:
    """The daily peaks (``memory_peak_hours``), the recent level (last
    ``memory_recent_hours``), old peaks' excess faded (``memory_half_life_hours``
    after ``memory_keep_hours``), peaks older than ``memory_window_days`` shrunk
    (``memory_old_peak_weight``), the records against ``memory_record_days``,
    the usage of the last ``memory_usage_days`` and the record headroom."""
    end = seg.last(ts)
    fin = np.isfinite(memory)
    peaks, peak_ts, days = _daily_peaks(ts, memory, seg, end, params["memory_peak_hours"] * 3600)
    top = seg_max(np.where(fin, memory, -np.inf), seg, -np.inf)
    recent_rows = (ts > (end - params["memory_recent_hours"] * 3600)[seg.ids]) & fin
    has_recent = seg_sum(recent_rows.astype(np.int64), seg) > 0
    recent = np.where(has_recent, seg_max(np.where(recent_rows, memory, -np.inf), seg, -np.inf),
                      top)
    owner = days.ids
    end_d, recent_d = end[owner], recent[owner]
    fade = decay_weights(np.minimum(peak_ts + params["memory_keep_hours"] * 3600, end_d), end_d,
                  params["memory_half_life_hours"] * 3600)
    faded = recent_d + np.maximum(peaks - recent_d, 0.0) * fade
    peak = np.maximum(recent, seg_max(faded, days, -np.inf))
    window = params["memory_window_days"] * DAY
    if window > 0:
        inside = peak_ts > end_d - window
        has_inside = seg_sum(inside.astype(np.int64), days) > 0
        near = np.maximum(recent, np.where(
            has_inside, seg_max(np.where(inside, faded, -np.inf), days, -np.inf), recent))
        shrink = (days.counts > 0) & (peak > near) & (near > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            peak = np.where(shrink, near * (peak / near) ** params["memory_old_peak_weight"], peak)
    tail = _tail(faded, days, int(params["memory_tail_peaks"]))
    share, scale, largest = _records(peaks, days, int(params["memory_record_days"]))
    used = (ts > (end - params["memory_usage_days"] * DAY)[seg.ids]) & fin
    useg = seg.select(used)
    weights = nan_to_zero(interval[used]) + 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = seg_sum(memory[used] * weights, useg) / seg_sum(weights, useg)
        usage = np.where((useg.counts > 0) & (peak > 0), mean / peak, 1.0)
    base = params["memory_record_risk"]
    risk = record_risks(base, scale, usage, params["memory_risk_ref"])
    with np.errstate(divide="ignore", invalid="ignore"):
        record = np.where(share <= risk, largest, scale * np.log(share / risk))
    record = np.where((risk <= 0) | (share == 0), 0.0, record)
    return MemoryMeasures(peaks, peak_ts, days, peak, top, tail, share, scale, usage, risk,
                          record)
