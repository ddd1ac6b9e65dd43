"""rightsize's own strategy: decayed, load-aware CPU and peak-based, trend-aware memory.

CPU request
    The request r minimising ``overrun(r) + cpu_slack_cost x slack(r)`` on the
    training samples weighted by time (``interval``) and an exponential decay
    (``cpu_half_life_hours``): overrun = share of CPU-seconds above r
    (load-weighted, as in Autopilot), slack = share of requested core-seconds
    left idle. ``cpu_slack_cost`` = 0 gives the older rule: the smallest r whose
    overrun is ``cpu_overrun_target``. Throttled samples (``throttled`` >
    ``throttle_threshold``) only show the demand the quota allowed, so they are
    bumped by ``throttle_bump``. Then headroom ``cpu_margin`` plus
    ``cpu_uncertainty_margin`` x (1 - confidence).
CPU limit
    None by default (``cpu_limit`` = 0): a CFS quota throttles bursts the node
    could have served, and the request already buys the fair share under
    contention. With ``cpu_limit`` = 1 the limit is the decayed
    ``cpu_limit_percentile`` of usage plus the same headroom, never below the
    request.
Memory request = limit
    Memory cannot be throttled, only killed, so it is sized from peaks: one
    peak per ``memory_peak_hours`` interval. Old peaks are not forgotten (a
    monthly batch job comes back) but their *excess over the recent level*
    fades with ``memory_half_life_hours``. A rising working set (robust
    Theil-Sen slope of the last ``trend_days`` daily peaks, when it explains
    the recent peaks) is projected ``trend_horizon_hours`` forward. Each
    observed OOM raises the peak to ``max(peak before the OOM, limit at the
    OOM) x (1 + oom_bump)``. Then headroom: the largest of ``memory_margin`` plus
    ``uncertainty_margin`` x (1 - confidence), ``memory_min_headroom_bytes`` (a
    relative margin is meaningless for a 50 MiB container) and the spread of the
    top daily peaks (mean excess of the ``memory_tail_peaks`` - 1 largest over the
    next one: the expected excess of a new record, capped at ``memory_tail_cap``).
Hysteresis
    With ``History.previous`` (the recommendation in effect), a CPU value within
    +-``hysteresis`` of it, or a memory value at most ``hysteresis`` below it, keeps it.
Confidence
    ``min(1, days / full_confidence_days) x min(1, samples / full_confidence_samples)
    x coverage``, where coverage is the share of the window covered by samples
    (an interval longer than ``gap_factor`` x the median interval is a gap and
    lowers it). Below ``min_samples`` samples or ``min_hours`` hours (by default
    the one rule of :mod:`rightsize.analysis.thresholds`, ``MIN_SAMPLES`` over
    ``MIN_DURATION``): insufficient data (all values None).

Floors: ``cpu_min_cores`` and ``memory_min_bytes``; everything is rounded up to
whole millicores and MiB.
"""

from __future__ import annotations

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
    "cpu_half_life_hours": 168.0,
    "cpu_overrun_target": 0.03,
    "cpu_margin": 0.05,
    "cpu_slack_cost": 0.28,
    "cpu_limit": 0.0,
    "cpu_limit_percentile": 0.99,
    "throttle_threshold": 0.1,
    "throttle_bump": 0.2,
    "memory_peak_hours": 24.0,
    "memory_keep_hours": 336.0,
    "memory_half_life_hours": 24.0,
    "memory_min_headroom_bytes": 64.0 * MIB,
    "memory_recent_hours": 24.0,
    "memory_margin": 0.03,
    "memory_tail_peaks": 5.0,
    "memory_tail_factor": 1.0,
    "memory_tail_cap": 0.5,
    "trend_days": 7.0,
    "trend_horizon_hours": 72.0,
    "oom_bump": 0.2,
    "uncertainty_margin": 0.1,
    "hysteresis": 0.1,
    "cpu_uncertainty_margin": 0.3,
    "cpu_min_cores": 0.025,
    "memory_min_bytes": 64.0 * MIB,
}


def _confidence(history: History, params: Mapping[str, float]) -> tuple[float, str]:
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
    return conf, note


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


def _balanced_request(cpu: FloatArray, weights: FloatArray, cost: float) -> float:
    """The r minimising overrun share + cost x slack share on the weighted samples."""
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


def _memory_peak(
    history: History, params: Mapping[str, float], notes: list[str]
) -> tuple[float, float]:
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
    tail = _tail_scale(faded, int(params["memory_tail_peaks"]))
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
    return peak, tail


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


def recommend(history: History, params: Mapping[str, float]) -> Recommendation:
    """rightsize's default strategy (see the module docstring)."""
    ok = np.isfinite(history.cpu) & np.isfinite(history.memory)
    n = int(np.count_nonzero(ok))
    conf, conf_note = _confidence(history, params) if history.ts.size else (0.0, "")
    span = float(history.ts[-1] - history.ts[0]) if history.ts.size else 0.0
    short = data_shortfall(n, span, params["min_samples"], params["min_hours"] * 3600)
    if short is not None:
        return insufficient(short, confidence=0.0)
    notes = [conf_note]
    unc = params["uncertainty_margin"] * (1 - conf)

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
    if params["cpu_slack_cost"] > 0:
        base = _balanced_request(np.maximum(cpu, 0.0), w, params["cpu_slack_cost"])
    else:
        base = _overrun_request(np.maximum(cpu, 0.0), w, params["cpu_overrun_target"])
    cunc = params["cpu_uncertainty_margin"] * (1 - conf)
    cpu_req = max(base * (1 + params["cpu_margin"] + cunc), params["cpu_min_cores"])
    target = (
        f"balances CPU time above it against unused request at {params['cpu_slack_cost']:g}:1"
        if params["cpu_slack_cost"] > 0
        else f"expected {params['cpu_overrun_target']:.0%} of CPU time above it"
    )
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
    peak, tail = _memory_peak(history, params, notes)
    headroom = max(
        peak * (params["memory_margin"] + unc),
        min(tail * params["memory_tail_factor"], peak * params["memory_tail_cap"]),
        params["memory_min_headroom_bytes"],
    )
    mem = max(peak + headroom, params["memory_min_bytes"])
    notes.append(
        f"memory {format_memory(mem)} = peak {format_memory(peak)} + headroom "
        f"{format_memory(headroom)} (the larger of {params['memory_margin'] + unc:.0%}, the "
        f"spread of the top daily peaks {format_memory(tail)}, and "
        f"{format_memory(params['memory_min_headroom_bytes'])})"
    )
    cpu_req, cpu_lim, mem = _hysteresis(history.previous, cpu_req, cpu_lim, mem, params, notes)
    return finish(cpu_req, cpu_lim, mem, mem, conf, notes)


SPEC = StrategySpec(
    name="rightsize",
    func=recommend,
    defaults=DEFAULTS,
    summary="decayed load-aware CPU request for an overrun target, no CPU limit; memory from "
    "peaks (old excess fades), trend and OOMs; headroom by confidence",
)
