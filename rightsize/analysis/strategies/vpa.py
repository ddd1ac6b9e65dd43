"""The Kubernetes VPA recommender with its defaults, as a reference anchor.

Decaying exponential histograms (bucket growth 1.05; first bucket 0.01 core for
CPU and 1e7 bytes for memory; half-life 24 h; a percentile is the *end* of its
bucket). CPU: every sample weighted equally (by decay only), target p90.
Memory: one peak per 24 h interval over the last 8 intervals, target p90 of
those peaks; an observed OOM adds an artificial peak of
``max(used + 100 MiB, used x 1.2)`` with ``used = max(memory request, peak)``.
Then +15 % safety margin and minimums 25m / 250 MiB. The request is the target.

Limits: VPA keeps the declared request:limit ratio. When both were declared
for a resource the limit is ``target x limit/request``; otherwise no limit is
recommended (``None``) -- the backtest then scores memory against the request.

Confidence is VPA's ``min(lifespan days, samples / 1440)``, clipped to 1 for
:class:`Recommendation`; the raw value and the upper bound
``p95 x 1.15 x (1 + 1/conf)`` are given in the notes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rightsize.analysis.strategies._common import DAY, MIB, finish, insufficient, interval_peaks
from rightsize.analysis.strategies.base import FloatArray, History, StrategySpec
from rightsize.model import Recommendation
from rightsize.units import format_cpu, format_memory

DEFAULTS: dict[str, float] = {
    "bucket_growth": 1.05,
    "cpu_first_bucket": 0.01,
    "cpu_max": 1000.0,
    "memory_first_bucket": 1e7,
    "memory_max": 1e12,
    "half_life_hours": 24.0,
    "target_percentile": 0.9,
    "upper_percentile": 0.95,
    "memory_interval_hours": 24.0,
    "memory_intervals": 8.0,
    "safety_margin": 0.15,
    "oom_bump_ratio": 1.2,
    "oom_min_bump_bytes": 100.0 * MIB,
    "cpu_min_cores": 0.025,
    "memory_min_bytes": 250.0 * MIB,
}


@dataclass(frozen=True)
class ExponentialBuckets:
    """VPA's exponential bucketing: bucket ``i`` starts at ``first x (r**i - 1)/(r - 1)``."""

    first: float
    ratio: float
    max_value: float

    @property
    def count(self) -> int:
        top = math.log(self.max_value * (self.ratio - 1) / self.first + 1, self.ratio)
        return math.ceil(top) + 1

    def start(self, bucket: int) -> float:
        return self.first * (self.ratio**bucket - 1) / (self.ratio - 1)

    def find(self, values: FloatArray) -> npt.NDArray[np.int64]:
        safe = np.maximum(values, 0.0)
        idx = np.floor(np.log(safe * (self.ratio - 1) / self.first + 1) / math.log(self.ratio))
        idx = np.where(safe < self.first, 0, idx)
        return np.clip(idx, 0, self.count - 1).astype(np.int64)


def histogram_percentile(
    buckets: ExponentialBuckets, values: FloatArray, weights: FloatArray, p: float
) -> float:
    """VPA ``Percentile``: the end of the first bucket where the cumulative weight reaches p."""
    ok = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    if not ok.any():
        return 0.0
    idx = buckets.find(values[ok])
    w = np.bincount(idx, weights=weights[ok], minlength=buckets.count)
    cw = np.cumsum(w)
    b = int(np.searchsorted(cw, p * cw[-1] * (1 - 1e-12), side="left"))
    b = min(b, buckets.count - 1)
    return buckets.start(b + 1) if b < buckets.count - 1 else buckets.start(b)


def _limit(target: float, req: float | None, lim: float | None) -> float | None:
    if req is None or lim is None or req <= 0:
        return None
    return target * lim / req


def recommend(history: History, params: Mapping[str, float]) -> Recommendation:
    """VPA target as the request; limits keep the declared ratio, else none."""
    ok = np.isfinite(history.cpu)
    n = int(np.count_nonzero(ok))
    if n == 0 or not np.isfinite(history.memory).any():
        return insufficient("no samples")
    ts = history.ts
    ref = float(ts[-1])
    half = params["half_life_hours"] * 3600
    growth = params["bucket_growth"]
    cpu_b = ExponentialBuckets(params["cpu_first_bucket"], growth, params["cpu_max"])
    mem_b = ExponentialBuckets(params["memory_first_bucket"], growth, params["memory_max"])

    cpu_w = np.exp2((ts[ok] - ref) / half)
    cpu_t = histogram_percentile(cpu_b, history.cpu[ok], cpu_w, params["target_percentile"])
    cpu_u = histogram_percentile(cpu_b, history.cpu[ok], cpu_w, params["upper_percentile"])

    length = params["memory_interval_hours"] * 3600
    peaks, peak_ts = interval_peaks(
        ts, history.memory, ref + 1e-9, length, int(params["memory_intervals"])
    )
    decl = history.declared
    notes: list[str] = []
    for t_oom in history.oom_ts[np.isfinite(history.oom_ts)]:
        window = (ts > t_oom - length) & (ts <= t_oom)
        seen = history.memory[window]
        peak = float(np.nanmax(seen)) if np.isfinite(seen).any() else 0.0
        used = max(float(decl.memory_request or 0), peak)
        bump = max(used + params["oom_min_bump_bytes"], used * params["oom_bump_ratio"])
        peaks = np.r_[peaks, bump]
        peak_ts = np.r_[peak_ts, t_oom]
        notes.append(f"OOM at {t_oom:.0f}: artificial peak {format_memory(bump)}")
    mem_w = np.exp2((peak_ts - ref) / half)
    mem_t = histogram_percentile(mem_b, peaks, mem_w, params["target_percentile"])
    mem_u = histogram_percentile(mem_b, peaks, mem_w, params["upper_percentile"])

    margin = 1 + params["safety_margin"]
    cpu_req = max(cpu_t * margin, params["cpu_min_cores"])
    mem_req = max(mem_t * margin, params["memory_min_bytes"])

    days = (ref - float(ts[0])) / DAY
    conf = min(days, n / 1440)
    if conf > 0:
        scale = 1 + 1 / conf
        notes.append(
            f"VPA confidence {conf:.2f} (min of {days:.2f} days, {n}/1440 samples); upper bound "
            f"{format_cpu(cpu_u * margin * scale)} CPU, {format_memory(mem_u * margin * scale)}"
        )
    else:
        notes.append("VPA confidence 0: upper bound unbounded")
    cpu_lim = _limit(cpu_req, decl.cpu_request, decl.cpu_limit)
    mem_lim = _limit(
        mem_req,
        None if decl.memory_request is None else float(decl.memory_request),
        None if decl.memory_limit is None else float(decl.memory_limit),
    )
    if cpu_lim is None or mem_lim is None:
        notes.append("no limit where request and limit were not both declared (VPA keeps ratio)")
    return finish(cpu_req, cpu_lim, mem_req, mem_lim, conf, notes)


SPEC = StrategySpec(
    name="vpa",
    func=recommend,
    defaults=DEFAULTS,
    summary="Kubernetes VPA recommender: decaying histograms, CPU p90, daily memory peaks p90, "
    "+15% (reference)",
)
