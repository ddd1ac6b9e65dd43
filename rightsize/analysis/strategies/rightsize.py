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
    kill raises the peak to ``max(peak before, limit at the OOM) x (1 + oom_bump)``.
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

One module although it is over 400 lines: the CPU rule, the memory rule, the
confidence and the hysteresis share one parameter set, one notes list (the
report's explanation) and one ``recommend``; split by resource, each half would
import the other's helpers and the defaults table would be cut in two.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from rightsize.analysis.strategies._common import (
    DAY,
    MIB,
    decay_weights,
    finish,
    insufficient,
    interval_peaks,
    median,
    nan_to_zero,
    weighted_quantile,
)
from rightsize.analysis.strategies.base import FloatArray, History, StrategySpec
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
    "memory_record_risk": 0.01,
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
    "memory_tail_cap": 0.5,
    "trend_days": 0.0,
    "trend_horizon_hours": 72.0,
    "oom_bump": 0.2,
    "uncertainty_margin": 0.1,
    "hysteresis": 0.1,
    "cpu_uncertainty_margin": 0.3,
    "cpu_min_cores": 0.010,
    "memory_min_bytes": 64.0 * MIB,
}


def _confidence(history: History, params: Mapping[str, float]) -> tuple[float, float, str]:
    """``(confidence, length confidence, note)``; the headroom follows the second
    (days x samples): gaps lower the confidence shown, not the headroom."""
    ts = history.ts
    n = int(np.count_nonzero(np.isfinite(history.cpu) & np.isfinite(history.memory)))
    dt = nan_to_zero(history.interval)
    span = float(ts[-1] - ts[0]) + float(dt[0]) if ts.size else 0.0
    days = span / DAY
    pos = dt[dt > 0]
    typical = median(pos) if pos.size else 0.0
    # an interval much longer than usual is a gap: count only a typical interval of it
    covered = float(np.minimum(np.clip(dt, 0, None), params["gap_factor"] * typical).sum())
    coverage = min(1.0, covered / span) if span > 0 else 0.0
    by_days = min(1.0, days / params["full_confidence_days"])
    by_samples = min(1.0, n / params["full_confidence_samples"])
    conf = by_days * by_samples * coverage
    note = (
        f"confidence {conf:.2f}: {days:.1f} of {params['full_confidence_days']:g} days, "
        f"{n} of {params['full_confidence_samples']:g} samples, {coverage:.0%} of the window "
        f"covered (gaps lower it); headroom grows as confidence falls"
    )
    return conf, by_days * by_samples, note


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


def _balanced_request(
    cpu: FloatArray, weights: FloatArray, cost: float, sample_cost: float = 0.0
) -> float:
    """The r minimising overrun share + ``sample_cost`` x share of time above r
    + ``cost`` x slack share, on the weighted samples."""
    order = np.argsort(cpu)
    x, w = cpu[order], weights[order]
    big_w, big_s = float(w.sum()), float(np.sum(w * x))
    if big_s <= 0 or big_w <= 0:
        return float(x[-1]) if x.size else 0.0
    wb = np.cumsum(w)
    sb = np.cumsum(w * x)
    over = (big_s - sb) - x * (big_w - wb)
    under = x * wb - sb
    with np.errstate(divide="ignore", invalid="ignore"):
        c = over / big_s + cost * np.where(x > 0, under / (x * big_w), 1.0)
    if sample_cost > 0:
        c = c + sample_cost * (big_w - wb) / big_w
    return float(x[int(np.argmin(c))])


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


def _tail_scale(peaks: FloatArray, k: int) -> float:
    """Mean excess of the ``k - 1`` largest peaks over the ``k``-th largest.

    The maximum-likelihood scale of an exponential tail fitted to the top ``k``
    order statistics (peaks over threshold): the expected excess of the next
    record over the current maximum.
    """
    if k < 2 or peaks.size < 2:
        return 0.0
    top = np.sort(peaks)[::-1][: min(k, peaks.size)]
    return float(np.mean(top[:-1] - top[-1]))


def _record_stats(peaks: FloatArray, days: int) -> tuple[float, float, float]:
    """``(share of days setting a record, mean record excess, largest excess)``.

    A record is a daily peak above the largest of the ``days`` peaks before it;
    its excess is relative (0.1 = 10 % above). All 0 with fewer than 3 peaks.
    """
    if peaks.size < 3:
        return 0.0, 0.0, 0.0
    n = peaks.size
    prev = np.array([peaks[max(0, i - days):i].max() for i in range(1, n)])
    ratio = peaks[1:] / np.where(prev > 0, prev, np.inf) - 1.0
    pos = ratio[ratio > 0]
    if pos.size == 0:
        return 0.0, 0.0, 0.0
    return pos.size / ratio.size, float(np.mean(pos)), float(pos.max())


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
    if ref <= 0 or risk <= 0 or scale <= 0:
        return risk  # nothing to scale (no records: no record headroom either)
    return min(max(risk * scale * usage / ref, risk / 5), risk * 5)


def _record_headroom(peaks: FloatArray, days: int, risk: float) -> float:
    """Relative headroom a new daily record exceeds on ``risk`` of days.

    Each daily peak's excess over the largest of the ``days`` before it; the
    positive ones are an exponential tail with scale s seen on p of the days,
    so ``P(excess > h) = p exp(-h / s)`` and ``h = s ln(p / risk)`` (the largest
    excess seen when p <= risk).
    """
    if risk <= 0:
        return 0.0
    share, scale, top = _record_stats(peaks, days)
    if share == 0:
        return 0.0
    if share <= risk:
        return top
    return float(scale * np.log(share / risk))


def _memory_peak(
    history: History, params: Mapping[str, float], notes: list[str]
) -> tuple[float, float, float, float]:
    """``(peak, spread of the top peaks, record headroom, the risk it is sized for)``."""
    ts, mem = history.ts, history.memory
    end = float(ts[-1])
    length = params["memory_peak_hours"] * 3600
    peaks, peak_ts = interval_peaks(ts, mem, end + 1e-9, length)
    recent_mask = ts > end - params["memory_recent_hours"] * 3600
    recent_vals = mem[recent_mask & np.isfinite(mem)]
    recent = float(recent_vals.max()) if recent_vals.size else float(np.nanmax(mem))
    # old peaks keep their level, only their excess over the recent level fades
    keep = params["memory_keep_hours"] * 3600
    fade = decay_weights(
        np.minimum(peak_ts + keep, end), end, params["memory_half_life_hours"] * 3600
    )
    faded = recent + np.maximum(peaks - recent, 0.0) * fade
    peak = max(recent, float(faded.max()) if faded.size else recent)
    window = params["memory_window_days"] * DAY
    if window > 0 and faded.size:
        # peaks older than the window count shrunk towards the window's largest:
        # near x (old / near) ** weight (1 = kept whole, 0 = forgotten)
        inside = peak_ts > end - window
        near = max(recent, float(faded[inside].max()) if inside.any() else recent)
        if peak > near > 0:
            peak = near * (peak / near) ** params["memory_old_peak_weight"]
    tail = _tail_scale(faded, int(params["memory_tail_peaks"]))
    days_back = int(params["memory_record_days"])
    _, scale, _ = _record_stats(peaks, days_back)
    since = ts > end - params["memory_usage_days"] * DAY
    used = since & np.isfinite(mem)
    usage = (float(np.average(mem[used], weights=nan_to_zero(history.interval[used]) + 1e-9))
             / peak if used.any() and peak > 0 else 1.0)
    risk = _record_risk(params["memory_record_risk"], scale, usage, params["memory_risk_ref"])
    record = _record_headroom(peaks, days_back, risk)
    if risk != params["memory_record_risk"] and record > 0:
        notes.append(
            f"record risk {100 * risk:.2g}% (of {100 * params['memory_record_risk']:.2g}%): "
            f"mean usage {usage:.0%} of the peak, records {scale:.0%} above the last "
            f"{days_back} days' largest on average (headroom is sized where its slack "
            f"buys the most)"
        )
    if params["memory_percentile"] > 0:
        ok = np.isfinite(mem)
        peak = weighted_quantile(mem[ok], nan_to_zero(history.interval[ok]) + 1e-9,
                                 params["memory_percentile"])
        recent = peak
    top = float(np.nanmax(mem))
    if peak < top:
        notes.append(
            f"memory peak {format_memory(top)} is old; weighted down to {format_memory(peak)}"
        )
    # trend: the last trend_days daily peaks
    days = int(params["trend_days"])
    if days >= 3 and peaks.size >= 3:
        t, y = peak_ts[-days:], peaks[-days:]
        slope, icpt = _theil_sen(t, y)
        if slope > 0 and y.size >= 3:
            projected = icpt + slope * (end + params["trend_horizon_hours"] * 3600)
            if projected > peak:
                notes.append(
                    f"working set growing {format_memory(slope * DAY)}/day; projected "
                    f"{params['trend_horizon_hours']:g} h ahead to {format_memory(projected)}"
                )
                peak = projected
    # OOM kills: the usage seen was cut short by the limit; go above both
    decl_limit = float(history.declared.memory_limit or 0)
    for t_oom in history.oom_ts[np.isfinite(history.oom_ts)]:
        before = mem[(ts <= t_oom) & np.isfinite(mem)]
        seen = float(before.max()) if before.size else 0.0
        bumped = max(seen, decl_limit) * (1 + params["oom_bump"])
        if bumped > peak:
            peak = bumped
        notes.append(
            f"OOM kill at {t_oom:.0f}: memory sized above {format_memory(max(seen, decl_limit))} "
            f"(+{params['oom_bump']:.0%})"
        )
    return peak, tail, record, risk


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


def _window(history: History, start: float) -> History:
    """The samples (and OOM kills) after ``start``."""
    keep = history.ts > start
    return dataclasses.replace(
        history, ts=history.ts[keep], cpu=history.cpu[keep], memory=history.memory[keep],
        interval=history.interval[keep], throttled=history.throttled[keep],
        oom_ts=history.oom_ts[history.oom_ts > start],
    )


def _sized(rec: Recommendation) -> bool:
    return rec.cpu_request is not None and rec.memory_request is not None


def recommend(history: History, params: Mapping[str, float]) -> Recommendation:
    """rightsize's default strategy (see the module docstring)."""
    if params["history_hours"] > 0 and history.ts.size:
        start = float(history.ts[-1]) - params["history_hours"] * 3600
        history = _window(history, start)
    ok = np.isfinite(history.cpu) & np.isfinite(history.memory)
    n = int(np.count_nonzero(ok))
    conf, length, conf_note = _confidence(history, params) if history.ts.size else (0.0, 0.0, "")
    span = float(history.ts[-1] - history.ts[0]) if history.ts.size else 0.0
    short = data_shortfall(n, span, params["min_samples"], params["min_hours"] * 3600)
    if short is not None:
        return insufficient(short, confidence=0.0)
    notes = [conf_note]
    unc = params["uncertainty_margin"] * (1 - length)

    # --- CPU ---
    cmask = np.isfinite(history.cpu)
    ts, cpu = history.ts[cmask], history.cpu[cmask].copy()
    throttled = history.throttled[cmask]
    hot = nan_to_zero(throttled) > params["throttle_threshold"]
    if hot.any():
        cpu[hot] *= 1 + params["throttle_bump"]
        notes.append(
            f"{hot.mean():.0%} of samples were throttled: their usage is a lower bound of demand, "
            f"counted +{params['throttle_bump']:.0%}"
        )
    dt = nan_to_zero(history.interval[cmask])
    positive = dt > 0
    if not positive.all():
        dt = np.where(positive, dt, median(dt[positive]) if positive.any() else 1.0)
    w = decay_weights(ts, float(ts[-1]), params["cpu_half_life_hours"] * 3600) * dt
    if params["cpu_percentile"] > 0:
        base = weighted_quantile(np.maximum(cpu, 0.0), w, params["cpu_percentile"])
    elif params["cpu_slack_cost"] > 0:
        base = _balanced_request(
            np.maximum(cpu, 0.0), w, params["cpu_slack_cost"], params["cpu_sample_cost"]
        )
    else:
        base = _overrun_request(np.maximum(cpu, 0.0), w, params["cpu_overrun_target"])
    cunc = params["cpu_uncertainty_margin"] * (1 - length)
    cpu_req = max(base * (1 + params["cpu_margin"] + cunc), params["cpu_min_cores"])
    if params["cpu_percentile"] > 0:
        target = f"p{100 * params['cpu_percentile']:g} of usage (cpu_percentile)"
    elif params["cpu_slack_cost"] > 0:
        target = (
            f"minimises CPU time above it + {params['cpu_sample_cost']:g} x time above it + "
            f"{params['cpu_slack_cost']:g} x unused request"
        )
    else:
        target = f"expected {params['cpu_overrun_target']:.0%} of CPU time above it"
    notes.append(
        f"CPU request {format_cpu(cpu_req)}: {target} (decayed, half-life "
        f"{params['cpu_half_life_hours']:g} h) +{params['cpu_margin'] + cunc:.0%} headroom"
    )
    cpu_lim: float | None = None
    if params["cpu_limit"] >= 1:
        top = weighted_quantile(cpu, w, params["cpu_limit_percentile"])
        cpu_lim = max(cpu_req, top * (1 + params["cpu_margin"] + cunc))
    else:
        notes.append(
            "no CPU limit: a quota throttles bursts the node could serve "
            "(set cpu_limit = 1 for one)"
        )

    # --- memory ---
    peak, tail, record, risk = _memory_peak(history, params, notes)
    headroom = max(
        peak * (params["memory_margin"] + unc),
        min(tail * params["memory_tail_factor"], peak * params["memory_tail_cap"]),
        peak * min(record, params["memory_tail_cap"]),
        params["memory_min_headroom_bytes"],
    )
    mem = max(peak + headroom, params["memory_min_bytes"])
    rule = (f"p{100 * params['memory_percentile']:g}" if params["memory_percentile"] > 0
            else "peak")
    notes.append(
        f"memory {format_memory(mem)} = {rule} {format_memory(peak)} + headroom "
        f"{format_memory(headroom)} (the largest of {params['memory_margin'] + unc:.0%}, "
        f"{min(record, params['memory_tail_cap']):.0%} that its own daily records say a new "
        f"record exceeds on {100 * risk:.2g}% of days, the spread of the top "
        f"daily peaks x {params['memory_tail_factor']:g} = "
        f"{format_memory(tail * params['memory_tail_factor'])}, and "
        f"{format_memory(params['memory_min_headroom_bytes'])})"
    )
    cpu_req, cpu_lim, mem = _hysteresis(history.previous, cpu_req, cpu_lim, mem, params, notes)
    return finish(cpu_req, cpu_lim, mem, mem, conf, notes)


SPEC = StrategySpec(
    name="rightsize",
    func=recommend,
    defaults=DEFAULTS,
    summary="CPU request balancing time/CPU above it against idle request, no CPU limit; "
    "memory from the peak with headroom learned from the workload's own records, and OOMs",
)
