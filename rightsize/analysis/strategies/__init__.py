"""The strategy registry: names → :class:`StrategySpec`, and ``recommend`` by name.

Built in: ``rightsize`` (the default), ``krr-simple`` and ``vpa`` (faithful
re-implementations of the reference tools' defaults, for comparison).
:func:`recommend` falls back on the lower bounds of
:mod:`~rightsize.analysis.strategies.bounds` (OOM kills, heavy throttling)
when a strategy finds too little data to size a workload.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rightsize.analysis.strategies import krr_simple, vpa
from rightsize.analysis.strategies import rightsize as rightsize_strategy
from rightsize.analysis.strategies.base import History, Pool, Strategy, StrategySpec
from rightsize.analysis.strategies.bounds import with_evidence_bounds
from rightsize.errors import UsageError
from rightsize.model import Recommendation

DEFAULT_STRATEGY = "rightsize"

_REGISTRY: dict[str, StrategySpec] = {}


def register(spec: StrategySpec) -> None:
    """Add (or replace) a strategy under ``spec.name``."""
    if not spec.name:
        raise UsageError("a strategy needs a non-empty name")
    _REGISTRY[spec.name] = spec


def unregister(name: str) -> None:
    """Remove a strategy (for plugins and tests that register their own)."""
    _REGISTRY.pop(name, None)


def strategy_names() -> list[str]:
    """The registered names, the default first, then alphabetical."""
    rest = sorted(n for n in _REGISTRY if n != DEFAULT_STRATEGY)
    return ([DEFAULT_STRATEGY] if DEFAULT_STRATEGY in _REGISTRY else []) + rest


def get_strategy(name: str) -> StrategySpec:
    """The spec registered as ``name``; :class:`UsageError` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(strategy_names())
        raise UsageError(f"unknown strategy {name!r}: known strategies are {known}") from None


@dataclass(frozen=True)
class Range:
    """The values a strategy parameter accepts: ``low``..``high``, ends open or closed."""

    low: float = 0.0
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    hint: str = ""

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value) or (self.integer and value != int(value)):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.high == math.inf:
            text = f"{kind} {'>' if self.low_open else '≥'} {self.low:g}"
        else:
            text = (f"{kind} in {'(' if self.low_open else '['}{self.low:g}, "
                    f"{self.high:g}{')' if self.high_open else ']'}")
        return f"{text} ({self.hint})" if self.hint else text


_NON_NEGATIVE = Range()
_POSITIVE = Range(low_open=True)
_FRACTION = Range(0.0, 1.0, hint="a fraction: 0.1 = 10 %")
_QUANTILE = Range(0.0, 1.0, low_open=True, hint="a fraction: 0.99 for p99")
_FLAG = Range(0.0, 1.0, integer=True, hint="0 = off, 1 = on")

#: documented range of every built-in strategy parameter (checked by :func:`resolve_params`)
PARAM_RANGES: dict[str, dict[str, Range]] = {
    "rightsize": {
        "min_samples": Range(integer=True),
        "min_hours": _NON_NEGATIVE,
        "full_confidence_days": _POSITIVE,
        "full_confidence_samples": _POSITIVE,
        "gap_factor": Range(1.0, hint="x the median interval"),
        "cpu_half_life_hours": _POSITIVE,
        "cpu_overrun_target": Range(0.0, 1.0, high_open=True, hint="a fraction: 0.03 = 3 %"),
        "cpu_margin": Range(hint="a fraction: 0.05 = 5 %"),
        "cpu_slack_cost": _NON_NEGATIVE,
        "cpu_sample_cost": _NON_NEGATIVE,
        "cpu_percentile": Range(0.0, 1.0, hint="0 = the cost rule; 0.95 for p95"),
        "history_hours": Range(hint="0 = all the history"),
        "memory_percentile": Range(0.0, 1.0, hint="0 = daily peaks; 0.99 for p99"),
        "memory_record_risk": Range(0.0, 1.0, high_open=True, hint="0 = off; 0.01 = 1 % a day"),
        "memory_record_days": Range(1.0, integer=True),
        "memory_window_days": Range(hint="0 = all the history: old peaks kept whole"),
        "memory_old_peak_weight": Range(0.0, 1.0, hint="1 = old peaks kept whole, 0 = forgotten"),
        "memory_risk_ref": Range(hint="0 = memory_record_risk as is"),
        "memory_usage_days": _POSITIVE,
        "cpu_limit": _FLAG,
        "cpu_limit_percentile": _QUANTILE,
        "throttle_threshold": _FRACTION,
        "throttle_bump": Range(hint="a fraction: 0.2 = 20 %"),
        "memory_peak_hours": _POSITIVE,
        "memory_keep_hours": _NON_NEGATIVE,
        "memory_half_life_hours": Range(hint="0 = old peaks never fade"),
        "memory_min_headroom_bytes": _NON_NEGATIVE,
        "memory_recent_hours": _POSITIVE,
        "memory_margin": Range(hint="a fraction: 0.03 = 3 %"),
        "memory_tail_peaks": Range(integer=True),
        "memory_tail_factor": _NON_NEGATIVE,
        "memory_tail_cap": _NON_NEGATIVE,
        "trend_days": Range(integer=True),
        "trend_horizon_hours": _NON_NEGATIVE,
        "oom_bump": Range(hint="a fraction: 0.2 = 20 %"),
        "uncertainty_margin": _NON_NEGATIVE,
        "hysteresis": _FRACTION,
        "cpu_uncertainty_margin": _NON_NEGATIVE,
        "cpu_min_cores": _NON_NEGATIVE,
        "memory_min_bytes": _NON_NEGATIVE,
    },
    "krr-simple": {
        "history_hours": _POSITIVE,
        "cpu_percentile": Range(0.0, 100.0, low_open=True, hint="a percentile: 95 for p95"),
        "memory_buffer_percentage": Range(hint="percent: 15 = 15 %"),
        "points_required": Range(1.0, integer=True),
        "cpu_min_cores": _NON_NEGATIVE,
        "memory_min_bytes": _NON_NEGATIVE,
    },
    "vpa": {
        "bucket_growth": Range(1.0, low_open=True),
        "cpu_first_bucket": _POSITIVE,
        "cpu_max": _POSITIVE,
        "memory_first_bucket": _POSITIVE,
        "memory_max": _POSITIVE,
        "half_life_hours": _POSITIVE,
        "target_percentile": _QUANTILE,
        "upper_percentile": _QUANTILE,
        "memory_interval_hours": _POSITIVE,
        "memory_intervals": Range(1.0, integer=True),
        "safety_margin": Range(hint="a fraction: 0.15 = 15 %"),
        "oom_bump_ratio": Range(1.0),
        "oom_min_bump_bytes": _NON_NEGATIVE,
        "cpu_min_cores": _NON_NEGATIVE,
        "memory_min_bytes": _NON_NEGATIVE,
    },
}


def resolve_params(name: str, params: Mapping[str, float] | None = None) -> dict[str, float]:
    """The strategy's defaults with ``params`` merged over them.

    Unknown keys, and values outside the parameter's :data:`PARAM_RANGES`
    range (any non-finite value for a plugin's parameters), are UsageErrors
    naming ``strategy.<name>.<key>``.
    """
    spec = get_strategy(name)
    merged = dict(spec.defaults)
    ranges = PARAM_RANGES.get(name, {})
    for key, value in (params or {}).items():
        if key not in spec.defaults:
            known = ", ".join(sorted(spec.defaults))
            raise UsageError(f"unknown parameter strategy.{name}.{key}: known are {known}")
        number = float(value)
        allowed = ranges.get(key)
        if allowed is not None and number not in allowed:
            raise UsageError(f"strategy.{name}.{key} = {value!r}: expected {allowed}")
        if not math.isfinite(number):
            raise UsageError(f"strategy.{name}.{key} = {value!r}: expected a finite number")
        merged[key] = number
    _check_pairs(name, merged, params or {})
    return merged


#: parameters that must not be below another one: (strategy, lower, upper)
_ORDERED = (
    ("vpa", "target_percentile", "upper_percentile"),
    ("vpa", "cpu_first_bucket", "cpu_max"),
    ("vpa", "memory_first_bucket", "memory_max"),
)


def _check_pairs(name: str, merged: Mapping[str, float], given: Mapping[str, float]) -> None:
    for strategy, low, high in _ORDERED:
        if strategy == name and merged[low] > merged[high]:
            def shown(key: str) -> str:
                return f"strategy.{name}.{key} = {merged[key]:g}" + (
                    "" if key in given else " (the default)")
            raise UsageError(f"{shown(low)} is above {shown(high)}: expected {low} ≤ {high}")


def recommend_pool(name: str, pool: Pool, resolved: Mapping[str, float]) -> list[Recommendation]:
    """:func:`recommend` for every workload of ``pool``, with ``resolved`` parameters
    (from :func:`resolve_params`); at once when the strategy has a batch form."""
    spec = get_strategy(name)
    if spec.batch is not None:
        recs = spec.batch(pool, resolved)
    else:
        recs = [spec.func(pool.history(w), resolved) for w in range(len(pool))]
    return [rec if rec.sized else with_evidence_bounds(pool.history(w), rec)
            for w, rec in enumerate(recs)]


def recommend(
    name: str, history: History, params: Mapping[str, float] | None = None
) -> Recommendation:
    """Run the strategy ``name`` on ``history`` with ``params`` over its defaults.

    Without enough data to size the workload, the lower bounds that observed
    OOM kills or heavy throttling support (see :func:`with_evidence_bounds`).
    """
    spec = get_strategy(name)
    return with_evidence_bounds(history, spec.func(history, resolve_params(name, params)))


for _spec in (rightsize_strategy.SPEC, krr_simple.SPEC, vpa.SPEC):
    register(_spec)

__all__ = [
    "DEFAULT_STRATEGY",
    "PARAM_RANGES",
    "History",
    "Pool",
    "Range",
    "Strategy",
    "StrategySpec",
    "get_strategy",
    "recommend",
    "recommend_pool",
    "register",
    "resolve_params",
    "strategy_names",
]
