"""The strategy registry: names → :class:`StrategySpec`, and ``recommend`` by name.

Built in: ``rightsize`` (the default), ``krr-simple`` and ``vpa`` (faithful
re-implementations of the reference tools' defaults, for comparison).
:func:`recommend` falls back on the lower bounds of
:mod:`~rightsize.analysis.strategies.bounds` (OOM kills, heavy throttling)
when a strategy finds too little data to size a workload.
"""

from __future__ import annotations

from collections.abc import Mapping

from rightsize.analysis.strategies import krr_simple, vpa
from rightsize.analysis.strategies import rightsize as rightsize_strategy
from rightsize.analysis.strategies.base import History, Strategy, StrategySpec
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


def resolve_params(name: str, params: Mapping[str, float] | None = None) -> dict[str, float]:
    """The strategy's defaults with ``params`` merged over them (unknown keys are errors)."""
    spec = get_strategy(name)
    merged = dict(spec.defaults)
    for key, value in (params or {}).items():
        if key not in spec.defaults:
            known = ", ".join(sorted(spec.defaults))
            raise UsageError(f"unknown parameter strategy.{name}.{key}: known are {known}")
        merged[key] = float(value)
    return merged


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
    "History",
    "Strategy",
    "StrategySpec",
    "get_strategy",
    "recommend",
    "register",
    "resolve_params",
    "strategy_names",
]
