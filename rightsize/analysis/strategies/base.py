"""The strategy interface: pure functions from one workload's history to a recommendation.

A strategy is ``(history: History, params: Mapping[str, float]) -> Recommendation``.
It never touches the store, the clock or the network, so the backtest can
refit it on any slice of history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rightsize.model import Declared, Recommendation

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class History:
    """The pooled usage of one workload (all its replicas and restarts).

    Arrays are aligned and sorted by ``ts``; one element per container sample
    interval. ``cpu`` is cores averaged over the interval ending at ``ts``;
    ``memory`` is the working set in bytes at ``ts``; ``interval`` is the
    seconds the element covers; ``throttled`` is the share of CFS periods
    throttled in the interval (NaN when no quota/unknown). ``oom_ts`` holds
    the times of observed OOM kills. NaN marks unknown values.
    ``previous`` is the recommendation currently applied, when known (a
    strategy may keep it when its new estimate is close, to avoid churn;
    ``None``, the default, means no previous recommendation).
    """

    ts: FloatArray
    cpu: FloatArray
    memory: FloatArray
    interval: FloatArray
    throttled: FloatArray
    oom_ts: FloatArray
    declared: Declared = field(default_factory=Declared)
    containers: int = 1
    previous: Recommendation | None = None


Strategy = Callable[[History, Mapping[str, float]], Recommendation]


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy with its documented default parameters."""

    name: str
    func: Strategy
    defaults: Mapping[str, float]
    summary: str
