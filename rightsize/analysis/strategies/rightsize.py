"""rightsize's own strategy: a cost-balanced CPU request and record-aware memory.

Chosen on the 114 shared workloads (``benchmarks/backtest_traces.py``, static
and dynamic replay, train 0.5-0.8; numbers in ``docs/benchmarks.md``).

CPU request
    The r minimising ``overrun(r) + cpu_sample_cost x above(r) +
    cpu_slack_cost x slack(r)`` on the training samples weighted by interval and
    a ``cpu_half_life_hours`` decay: overrun = share of CPU-seconds above r,
    above = share of time above r, slack = share of requested core-seconds idle.
    Why: one objective for every workload lets its own distribution decide --
    a steady workload gets a request close to a high percentile (covering its
    tail costs little idle request), a bursty one a request below its bursts
    (covering them would leave most of the request idle). The time share term
    is what users see (and the hidden sets score); the load share keeps large
    bursts costly. Throttled samples are bumped by ``throttle_bump``. Then
    ``cpu_margin`` + ``cpu_uncertainty_margin`` x (1 - length confidence).
    ``cpu_percentile`` > 0 replaces the rule by that decayed percentile (the
    user's choice, KRR-like); ``cpu_slack_cost`` = 0 gives the old
    ``cpu_overrun_target`` rule.
CPU limit
    None by default (``cpu_limit`` = 0); with 1 the decayed
    ``cpu_limit_percentile`` plus the same headroom, never below the request.
Memory request = limit
    The largest daily peak (``memory_peak_hours``) of the last
    ``memory_window_days`` (14), with older peaks above it counted shrunk:
    ``near x (old / near) ** memory_old_peak_weight`` (0.2; 1 keeps them whole,
    as the 0.5-0.6 defaults did, 0 forgets them as KRR's 14-day window does).
    Why: on the shared VMs most old peaks far above the recent ones (the first
    day of a trace, a one-off batch) did not come back, and keeping them whole
    cost 0.6-1.6 points of mean memory slack; 3-4 of the 114 workloads had such
    a peak come back (then an OOM the old rule avoided): the trade measured in
    ``docs/benchmarks.md``. It is never below a peak of the window. Headroom is *learned
    per workload from how its records grew*: for every day, the excess of its
    peak over the largest of the ``memory_record_days`` (14) before; with p the
    share of days that set a record and s their mean excess (an exponential
    tail), the headroom a new record exceeds on ``risk`` of days is
    ``s x ln(p / risk)`` (capped at ``memory_tail_cap``). ``risk`` is
    ``memory_record_risk`` x ``s x usage / memory_risk_ref`` within [/5, x5]
    (usage = mean of the last ``memory_usage_days`` / peak; ``memory_risk_ref``
    0 = ``memory_record_risk`` as is): headroom costs about ``usage x h`` of
    slack, so a busy workload (it pays for its headroom all day) or one whose
    records are erratic (each point of headroom buys little) takes more risk,
    an idle one whose rare peaks decide its OOMs takes less (the minimum of
    ``usage x h + c x P(record > h)``). A workload that never set a record gets
    ``memory_margin`` + ``uncertainty_margin`` x (1 - length confidence). Other
    terms (off by default, they cost slack without saving OOMs on the traces):
    fading old peaks (``memory_half_life_hours`` after ``memory_keep_hours``),
    the spread of the top daily peaks x ``memory_tail_factor``, an absolute
    ``memory_min_headroom_bytes``, a Theil-Sen trend of the last ``trend_days``
    daily peaks projected ``trend_horizon_hours`` ahead. ``memory_percentile``
    > 0 sizes from that percentile of the samples instead of the peak. Each OOM
    kill raises the peak to ``max(peak before, limit at the OOM) x (1 + oom_bump)``:
    the limit of the container it killed, or, where that is unknown, the limit
    declared now.
History window
    ``history_hours`` > 0 keeps only that much history for both resources.
Hysteresis
    With ``History.previous`` (the recommendation in effect: outside the
    backtest the declared values completed by the last report's, see
    :mod:`~rightsize.analysis.strategies.in_effect`), a CPU value within
    +-``hysteresis`` of it, or a memory value at most ``hysteresis`` below it,
    keeps it.
Confidence
    ``min(1, days / full_confidence_days) x min(1, samples /
    full_confidence_samples) x coverage`` (an interval longer than
    ``gap_factor`` x the median is a gap); the headroom follows the first two
    factors only. Below ``min_samples`` samples or ``min_hours`` hours:
    insufficient data (all values None).

Floors: ``cpu_min_cores`` (10m, KRR's) and ``memory_min_bytes``; everything is
rounded up to whole millicores and MiB.

The measurements behind these rules (confidence, the CPU cost rule, the daily
peaks, records and usage) are computed for every workload of a pool at once in
:mod:`~rightsize.analysis.strategies.measures`; :func:`recommend_pool` applies
the rules and writes the notes, and :func:`recommend` is a pool of one.

One module although it is over 400 lines: this docstring is the rules' one
description, and the CPU value, the memory value and the hysteresis share one
parameter set and one notes list (the report's explanation).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from rightsize.analysis.parallel import map_blocks, per_thread
from rightsize.analysis.strategies._common import (
    DAY,
    MIB,
    finish,
    insufficient,
    median,
    nan_to_zero,
    weighted_quantile,
)
from rightsize.analysis.strategies.base import (
    FloatArray,
    History,
    Pool,
    StrategySpec,
    oom_limits,
)
from rightsize.analysis.strategies.measures import (
    Confidence,
    MemoryMeasures,
    balanced_requests,
    confidence,
    cpu_measures,
    memory_measures,
    record_risks,
)
from rightsize.analysis.strategies.segments import Segments, pool_order
from rightsize.analysis.thresholds import MIN_DURATION, MIN_SAMPLES, data_shortfall
from rightsize.model import Recommendation
from rightsize.units import format_cpu, format_memory

DEFAULTS: dict[str, float] = {
    "min_samples": float(MIN_SAMPLES),
    "min_hours": MIN_DURATION / 3600,
    "full_confidence_days": 3.0,
    "full_confidence_samples": 500.0,
    "gap_factor": 3.0,
    "cpu_half_life_hours": 48.0,
    "cpu_overrun_target": 0.03,
    "cpu_margin": 0.0,
    "cpu_slack_cost": 2.7,
    "cpu_sample_cost": 10.0,
    "cpu_percentile": 0.0,
    "history_hours": 0.0,
    "memory_percentile": 0.0,
    "memory_record_risk": 0.015,
    "memory_record_days": 14.0,
    "memory_window_days": 14.0,
    "memory_old_peak_weight": 0.2,
    "memory_risk_ref": 0.04,
    "memory_usage_days": 7.0,
    "cpu_limit": 0.0,
    "cpu_limit_percentile": 0.99,
    "throttle_threshold": 0.1,
    "throttle_bump": 0.2,
    "memory_peak_hours": 24.0,
    "memory_keep_hours": 336.0,
    "memory_half_life_hours": 0.0,
    "memory_min_headroom_bytes": 0.0,
    "memory_recent_hours": 24.0,
    "memory_margin": 0.03,
    "memory_tail_peaks": 5.0,
    "memory_tail_factor": 0.0,
    "memory_tail_cap": 0.35,
    "trend_days": 0.0,
    "trend_horizon_hours": 72.0,
    "oom_bump": 0.2,
    "uncertainty_margin": 0.1,
    "hysteresis": 0.05,
    "cpu_uncertainty_margin": 0.3,
    "cpu_min_cores": 0.010,
    "memory_min_bytes": 64.0 * MIB,
}


def _overrun_request(cpu: FloatArray, weights: FloatArray, target: float) -> float:
    """Smallest r with sum(w (x - r)+) <= target x sum(w x): the load share above r."""
    order = np.argsort(cpu)
    x, w = cpu[order], weights[order]
    total = float(np.sum(w * x))
    if total <= 0:
        return float(x[-1]) if x.size else 0.0
    # above(r) at r = x[k]: sum over j > k of w_j (x_j - x_k)
    wx_tail = np.cumsum((w * x)[::-1])[::-1]
    w_tail = np.cumsum(w[::-1])[::-1]
    wx_after = np.concatenate((wx_tail[1:], [0.0]))
    w_after = np.concatenate((w_tail[1:], [0.0]))
    above = wx_after - x * w_after
    ok = np.nonzero(above <= target * total)[0]
    k = int(ok[0])
    if k == 0:
        return float(x[0])
    # interpolate linearly between x[k-1] and x[k] (above() is piecewise linear in r)
    lo, hi = float(x[k - 1]), float(x[k])
    a_lo = float(above[k - 1])
    slope = float(w_after[k - 1])  # d above / d r on (lo, hi)
    r = lo + (a_lo - target * total) / slope if slope > 0 else hi
    return min(max(r, lo), hi)


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """``np.triu_indices(n, k=1)``, built once per size (the trend uses a handful of sizes)."""
    i, j = np.triu_indices(n, k=1)
    i.setflags(write=False)
    j.setflags(write=False)
    return i, j


def _theil_sen(t: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Median pairwise slope and the matching intercept."""
    i, j = _pairs(t.size)
    dt = t[j] - t[i]
    ok = dt > 0
    if not ok.any():
        return 0.0, median(y)
    slope = median((y[j] - y[i])[ok] / dt[ok])
    return slope, median(y - slope * t)


def _record_risk(risk: float, scale: float, usage: float, ref: float) -> float:
    """The risk a workload's headroom is sized for: ``risk x scale x usage / ref``,
    kept within [risk / 5, risk x 5] (``ref`` 0 or no records: ``risk`` itself).

    Headroom h costs about ``usage x h`` of memory slack (``usage`` = mean usage /
    peak) and buys ``P(excess > h) = p exp(-h / s)``; the h minimising
    ``usage x h + c x P`` is where ``usage = c (p / s) exp(-h / s)``, i.e.
    ``h = s ln(p / risk')`` with ``risk'`` proportional to ``s x usage``: a busy
    workload (headroom is slack it pays for all day) or one whose records are
    erratic (large s: each point of headroom buys little) accepts more risk, an
    idle one whose rare peaks decide its OOMs accepts less.
    """
    return float(record_risks(risk, np.array([scale]), np.array([usage]), ref)[0])


def _keep(new: float, old: float | None, band: float, down_only: bool) -> bool:
    if old is None or old <= 0 or band <= 0:
        return False
    if down_only and new > old:
        return False
    return abs(new / old - 1) <= band


def _hysteresis(
    previous: Recommendation | None,
    cpu_req: float,
    cpu_lim: float | None,
    mem: float,
    params: Mapping[str, float],
    notes: list[str],
) -> tuple[float, float | None, float]:
    """Keep the recommendation in effect where the new estimate is within ``hysteresis``.

    CPU values are kept within +-band either way; memory only when the new value is
    lower (a higher working-set estimate always raises the memory, an OOM is not a
    churn problem).
    """
    band = params["hysteresis"]
    if previous is None or band <= 0 or not _sized(previous):
        return cpu_req, cpu_lim, mem
    kept: list[str] = []
    if _keep(cpu_req, previous.cpu_request, band, False):
        cpu_req = float(previous.cpu_request or cpu_req)
        kept.append("CPU request")
    if cpu_lim is not None and _keep(cpu_lim, previous.cpu_limit, band, False):
        cpu_lim = max(cpu_req, float(previous.cpu_limit or cpu_lim))
        kept.append("CPU limit")
    if _keep(mem, previous.memory_limit or previous.memory_request, band, True):
        mem = float(previous.memory_limit or previous.memory_request or mem)
        kept.append("memory")
    if kept:
        notes.append(
            f"kept the current {', '.join(kept)}: the new estimate is within "
            f"{band:.0%} of it (hysteresis)"
        )
    return cpu_req, cpu_lim, mem


def _sized(rec: Recommendation) -> bool:
    return rec.cpu_request is not None and rec.memory_request is not None


def _sorted(pool: Pool, seg: Segments) -> Pool:
    """``pool`` with each workload's rows in time order (they usually are)."""
    order = pool_order(seg.ids, pool.ts)
    if order is None:
        return pool
    return dataclasses.replace(pool, ts=pool.ts[order], cpu=pool.cpu[order],
                               memory=pool.memory[order], interval=pool.interval[order],
                               throttled=pool.throttled[order])


def _rows(pool: Pool, keep: npt.NDArray[np.bool_], starts: npt.NDArray[np.int64]) -> Pool:
    """``pool`` cut to the rows where ``keep`` holds (``starts``: their segments)."""
    return dataclasses.replace(
        pool, ts=pool.ts[keep], cpu=pool.cpu[keep], memory=pool.memory[keep],
        interval=pool.interval[keep], throttled=pool.throttled[keep], starts=starts)


def _last_hours(pool: Pool, seg: Segments, hours: float) -> Pool:
    """The samples (and OOM kills) of each workload's last ``hours``."""
    start = seg.last(pool.ts) - hours * 3600
    keep = pool.ts > start[seg.ids]
    limits = pool.oom_limit or [None] * len(pool)
    after = [o > s if np.isfinite(s) else np.ones(o.shape, dtype=bool)
             for o, s in zip(pool.oom_ts, start.tolist(), strict=True)]
    return dataclasses.replace(
        _rows(pool, keep, seg.select(keep).starts),
        oom_ts=[o[a] for o, a in zip(pool.oom_ts, after, strict=True)],
        oom_limit=[oom_limits(o, lim)[a]
                   for o, lim, a in zip(pool.oom_ts, limits, after, strict=True)])


def _workloads(pool: Pool, seg: Segments, index: npt.NDArray[np.int64]) -> Pool:
    """The workloads ``index`` of ``pool``, whole."""
    picked = index.tolist()
    chosen = np.zeros(seg.size, dtype=bool)
    chosen[index] = True
    return dataclasses.replace(
        _rows(pool, chosen[seg.ids], Segments.of_counts(seg.counts[index]).starts),
        oom_ts=[pool.oom_ts[w] for w in picked], declared=[pool.declared[w] for w in picked],
        previous=[pool.previous[w] for w in picked],
        containers=[pool.containers[w] for w in picked],
        oom_limit=None if pool.oom_limit is None else [pool.oom_limit[w] for w in picked])


#: rows measured together: bigger pools go in slices of whole workloads, whose
#: scratch arrays stay small enough to be reused rather than faulted in anew
POOL_ROWS = 1 << 18


def recommend_pool(pool: Pool, params: Mapping[str, float]) -> list[Recommendation]:
    """rightsize's default strategy for every workload of ``pool`` (see the module
    docstring); each gets what :func:`recommend` gives it alone."""
    starts = pool.starts
    bounds: list[tuple[int, int]] = []
    first, rows = 0, per_thread(POOL_ROWS)
    while first < len(pool):
        last = max(first + 1, int(np.searchsorted(starts, starts[first] + rows, "right")) - 1)
        last = min(last, len(pool))
        bounds.append((first, last))
        first = last
    # slices are independent: on a few threads, in order (rightsize.analysis.parallel)
    parts = map_blocks(lambda b: _recommend_slice(_slice(pool, *b), params), bounds)
    return [rec for part in parts for rec in part]


def _slice(pool: Pool, first: int, last: int) -> Pool:
    """Workloads ``first:last`` of ``pool``."""
    if first == 0 and last == len(pool):
        return pool
    lo, hi = int(pool.starts[first]), int(pool.starts[last])
    return Pool(ts=pool.ts[lo:hi], cpu=pool.cpu[lo:hi], memory=pool.memory[lo:hi],
                interval=pool.interval[lo:hi], throttled=pool.throttled[lo:hi],
                starts=pool.starts[first : last + 1] - lo, oom_ts=pool.oom_ts[first:last],
                declared=pool.declared[first:last], previous=pool.previous[first:last],
                containers=pool.containers[first:last],
                oom_limit=None if pool.oom_limit is None else pool.oom_limit[first:last])


def _recommend_slice(pool: Pool, params: Mapping[str, float]) -> list[Recommendation]:
    seg = Segments(pool.starts)
    pool = _sorted(pool, seg)
    if params["history_hours"] > 0:
        pool = _last_hours(pool, seg, params["history_hours"])
        seg = Segments(pool.starts)
    out: list[Recommendation | None] = [None] * len(pool)
    conf = confidence(pool.ts, pool.cpu, pool.memory, pool.interval, seg, params)
    first, last = seg.first(pool.ts, 0.0), seg.last(pool.ts, 0.0)
    n_list, span_list = conf.samples.tolist(), (last - first).tolist()
    sized = np.zeros(len(pool), dtype=bool)
    for w in range(len(pool)):
        short = data_shortfall(n_list[w], span_list[w], params["min_samples"],
                               params["min_hours"] * 3600)
        if short is None and n_list[w] == 0:
            short = "no sample with both CPU and memory"
        if short is not None:
            out[w] = insufficient(short, confidence=0.0)
        else:
            sized[w] = True
    if sized.any():
        index = np.flatnonzero(sized)
        sub = _workloads(pool, seg, index)
        recs = _sized_workloads(sub, Segments(sub.starts), conf.take(index), params)
        for w, rec in zip(index.tolist(), recs, strict=True):
            out[w] = rec
    return [r for r in out if r is not None]


def _sized_workloads(pool: Pool, seg: Segments, conf: Confidence,
                     params: Mapping[str, float]) -> list[Recommendation]:
    """Workloads with enough data (``conf``: theirs)."""
    cpu = cpu_measures(pool.ts, pool.cpu, pool.interval, pool.throttled, seg, params)
    cseg = cpu.seg
    if params["cpu_percentile"] > 0:
        base = np.array([weighted_quantile(cpu.x[a:b], cpu.weights[a:b], params["cpu_percentile"])
                         for a, b in zip(cseg.starts[:-1], cseg.starts[1:], strict=True)])
    elif params["cpu_slack_cost"] > 0:
        base = balanced_requests(cpu.x, cpu.weights, cseg, params["cpu_slack_cost"],
                                 params["cpu_sample_cost"])
    else:
        base = np.array([_overrun_request(cpu.x[a:b], cpu.weights[a:b],
                                          params["cpu_overrun_target"])
                         for a, b in zip(cseg.starts[:-1], cseg.starts[1:], strict=True)])
    mem = memory_measures(pool.ts, pool.memory, pool.interval, seg, params)
    length = conf.length.tolist()
    base_l, hot_l = base.tolist(), cpu.hot_share.tolist()
    peak_l, top_l, tail_l = mem.peak.tolist(), mem.top.tolist(), mem.tail.tolist()
    scale_l, usage_l = mem.scale.tolist(), mem.usage.tolist()
    risk_l, record_l = mem.risk.tolist(), mem.record.tolist()
    notes_conf = [
        f"confidence {c:.2f}: {d:.1f} of {params['full_confidence_days']:g} days, "
        f"{n} of {params['full_confidence_samples']:g} samples, {cov:.0%} of the window "
        f"covered (gaps lower it); headroom grows as confidence falls"
        for c, d, n, cov in zip(conf.confidence.tolist(), conf.days.tolist(),
                                conf.samples.tolist(), conf.coverage.tolist(), strict=True)]
    if params["cpu_percentile"] > 0:
        target = f"p{100 * params['cpu_percentile']:g} of usage (cpu_percentile)"
    elif params["cpu_slack_cost"] > 0:
        target = (
            f"minimises CPU time above it + {params['cpu_sample_cost']:g} x time above it + "
            f"{params['cpu_slack_cost']:g} x unused request"
        )
    else:
        target = f"expected {params['cpu_overrun_target']:.0%} of CPU time above it"
    out: list[Recommendation] = []
    for w in range(len(pool)):
        notes = [notes_conf[w]]
        unc = params["uncertainty_margin"] * (1 - length[w])
        # --- CPU ---
        if hot_l[w] > 0:
            notes.append(
                f"{hot_l[w]:.0%} of samples were throttled: their usage is a lower bound of "
                f"demand, counted +{params['throttle_bump']:.0%}"
            )
        cunc = params["cpu_uncertainty_margin"] * (1 - length[w])
        cpu_req = max(base_l[w] * (1 + params["cpu_margin"] + cunc), params["cpu_min_cores"])
        notes.append(
            f"CPU request {format_cpu(cpu_req)}: {target} (decayed, half-life "
            f"{params['cpu_half_life_hours']:g} h) +{params['cpu_margin'] + cunc:.0%} headroom"
        )
        cpu_lim: float | None = None
        if params["cpu_limit"] >= 1:
            a, b = int(cseg.starts[w]), int(cseg.starts[w + 1])
            top = weighted_quantile(cpu.bumped[a:b], cpu.weights[a:b],
                                    params["cpu_limit_percentile"])
            cpu_lim = max(cpu_req, top * (1 + params["cpu_margin"] + cunc))
        else:
            notes.append(
                "no CPU limit: a quota throttles bursts the node could serve "
                "(set cpu_limit = 1 for one)"
            )
        # --- memory ---
        peak = _memory_peak(pool.history(w), mem, w, peak_l[w], params, notes,
                            (scale_l[w], usage_l[w], risk_l[w], record_l[w], top_l[w]))
        record = record_l[w]
        headroom = max(
            peak * (params["memory_margin"] + unc),
            min(tail_l[w] * params["memory_tail_factor"], peak * params["memory_tail_cap"]),
            peak * min(record, params["memory_tail_cap"]),
            params["memory_min_headroom_bytes"],
        )
        memory = max(peak + headroom, params["memory_min_bytes"])
        rule = (f"p{100 * params['memory_percentile']:g}" if params["memory_percentile"] > 0
                else "peak")
        notes.append(
            f"memory {format_memory(memory)} = {rule} {format_memory(peak)} + headroom "
            f"{format_memory(headroom)} (the largest of {params['memory_margin'] + unc:.0%}, "
            f"{min(record, params['memory_tail_cap']):.0%} that its own daily records say a "
            f"new record exceeds on {100 * risk_l[w]:.2g}% of days, the spread of the top "
            f"daily peaks x {params['memory_tail_factor']:g} = "
            f"{format_memory(tail_l[w] * params['memory_tail_factor'])}, and "
            f"{format_memory(params['memory_min_headroom_bytes'])})"
        )
        cpu_req, cpu_lim, memory = _hysteresis(pool.previous[w], cpu_req, cpu_lim, memory,
                                               params, notes)
        out.append(finish(cpu_req, cpu_lim, memory, memory, float(conf.confidence[w]), notes))
    return out


def _memory_peak(history: History, mem: MemoryMeasures, w: int, peak: float,
                 params: Mapping[str, float], notes: list[str],
                 measured: tuple[float, float, float, float, float]) -> float:
    """The memory peak after the rules measured per workload: the percentile
    option, the trend and OOM kills, with their notes."""
    scale, usage, risk, record, top = measured
    days_back = int(params["memory_record_days"])
    if risk != params["memory_record_risk"] and record > 0:
        notes.append(
            f"record risk {100 * risk:.2g}% (of {100 * params['memory_record_risk']:.2g}%): "
            f"mean usage {usage:.0%} of the peak, records {scale:.0%} above the last "
            f"{days_back} days' largest on average (headroom is sized where its slack "
            f"buys the most)"
        )
    ts, values = history.ts, history.memory
    if params["memory_percentile"] > 0:
        ok = np.isfinite(values)
        peak = weighted_quantile(values[ok], nan_to_zero(history.interval[ok]) + 1e-9,
                                 params["memory_percentile"])
    if peak < top:
        notes.append(
            f"memory peak {format_memory(top)} is old; weighted down to {format_memory(peak)}"
        )
    days = int(params["trend_days"])
    a, b = int(mem.days.starts[w]), int(mem.days.starts[w + 1])
    if days >= 3 and b - a >= 3:
        t, y = mem.peak_ts[a:b][-days:], mem.peaks[a:b][-days:]
        slope, icpt = _theil_sen(t, y)
        if slope > 0 and y.size >= 3:
            projected = icpt + slope * (float(ts[-1]) + params["trend_horizon_hours"] * 3600)
            if projected > peak:
                notes.append(
                    f"working set growing {format_memory(slope * DAY)}/day; projected "
                    f"{params['trend_horizon_hours']:g} h ahead to {format_memory(projected)}"
                )
                peak = projected
    # OOM kills: the usage seen was cut short by the limit in effect at the kill;
    # go above both. The limit declared now stands in only where that one is
    # unknown: it may be the value sized after this very kill, and bumping it
    # again at every refit would ratchet the memory up while no new kill happens.
    decl_limit = float(history.declared.memory_limit or 0)
    at_kill = history.oom_limits()
    known = np.isfinite(history.oom_ts)
    for t_oom, lim in zip(history.oom_ts[known].tolist(), at_kill[known].tolist(), strict=True):
        before = values[(ts <= t_oom) & np.isfinite(values)]
        seen = float(before.max()) if before.size else 0.0
        limit = lim if math.isfinite(lim) and lim > 0 else decl_limit
        bumped = max(seen, limit) * (1 + params["oom_bump"])
        if bumped > peak:
            peak = bumped
        notes.append(
            f"OOM kill at {t_oom:.0f}: memory sized above {format_memory(max(seen, limit))} "
            f"(+{params['oom_bump']:.0%})"
        )
    return peak


def recommend(history: History, params: Mapping[str, float]) -> Recommendation:
    """rightsize's default strategy for one workload (see the module docstring)."""
    return recommend_pool(Pool.of([history]), params)[0]


SPEC = StrategySpec(
    name="rightsize",
    func=recommend,
    defaults=DEFAULTS,
    summary="CPU request balancing time/CPU above it against idle request, no CPU limit; "
    "memory from the peak with headroom learned from the workload's own records, and OOMs",
    batch=recommend_pool,
)
