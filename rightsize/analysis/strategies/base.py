"""The strategy interface: pure functions from one workload's history to a recommendation.

A strategy is ``(history: History, params: Mapping[str, float]) -> Recommendation``.
It never touches the store, the clock or the network, so the backtest can
refit it on any slice of history. A strategy may also size many workloads at
once from a :class:`Pool` (``StrategySpec.batch``), which the analysis uses;
it must give each workload what the one-workload function gives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    the times of observed OOM kills and ``oom_limit``, aligned with it, the
    memory limit of the container each one killed (None or NaN: unknown, taken
    to be ``declared.memory_limit``). NaN marks unknown values.
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
    oom_limit: FloatArray | None = None

    def oom_limits(self) -> FloatArray:
        """The memory limit at each OOM kill of ``oom_ts`` (NaN: unknown)."""
        return oom_limits(self.oom_ts, self.oom_limit)


def oom_limits(oom_ts: FloatArray, oom_limit: FloatArray | None) -> FloatArray:
    """``oom_limit`` as floats aligned with ``oom_ts``, NaN where unknown."""
    if oom_limit is None or np.size(oom_limit) != np.size(oom_ts):
        return np.full(np.shape(oom_ts), np.nan)
    return np.asarray(oom_limit, dtype=np.float64)


Strategy = Callable[[History, Mapping[str, float]], Recommendation]


@dataclass(frozen=True)
class Pool:
    """Many workloads' histories as one set of arrays.

    Workload ``w`` owns rows ``starts[w]:starts[w + 1]`` of ``ts``, ``cpu``,
    ``memory``, ``interval`` and ``throttled`` (each as in :class:`History`,
    time-sorted within the workload); the other fields hold one entry per workload.
    """

    ts: FloatArray
    cpu: FloatArray
    memory: FloatArray
    interval: FloatArray
    throttled: FloatArray
    starts: npt.NDArray[np.int64]
    oom_ts: Sequence[FloatArray]
    declared: Sequence[Declared]
    previous: Sequence[Recommendation | None]
    containers: Sequence[int]
    #: per workload, the memory limit at each OOM kill (see :class:`History`)
    oom_limit: Sequence[FloatArray | None] | None = None

    @classmethod
    def of(cls, histories: Sequence[History]) -> Pool:
        """The histories one after the other."""
        counts = np.array([h.ts.size for h in histories], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)

        def joined(name: str) -> FloatArray:
            parts = [np.asarray(getattr(h, name), dtype=np.float64) for h in histories]
            return np.concatenate(parts) if parts else np.empty(0)

        return cls(joined("ts"), joined("cpu"), joined("memory"), joined("interval"),
                   joined("throttled"), starts, [h.oom_ts for h in histories],
                   [h.declared for h in histories], [h.previous for h in histories],
                   [h.containers for h in histories], [h.oom_limit for h in histories])

    def __len__(self) -> int:
        return int(self.starts.size - 1)

    def history(self, w: int) -> History:
        """Workload ``w`` as a :class:`History` (views of the pooled arrays)."""
        lo, hi = int(self.starts[w]), int(self.starts[w + 1])
        return History(ts=self.ts[lo:hi], cpu=self.cpu[lo:hi], memory=self.memory[lo:hi],
                       interval=self.interval[lo:hi], throttled=self.throttled[lo:hi],
                       oom_ts=self.oom_ts[w], declared=self.declared[w],
                       containers=self.containers[w], previous=self.previous[w],
                       oom_limit=self.oom_limit[w] if self.oom_limit is not None else None)


class PoolHistories(Mapping[str, History]):
    """Each named workload of a pool as a :class:`History` without its ``previous``
    (the recommendation in effect is an input, not history), built when asked for:
    views of the pooled arrays, so 10,000 workloads cost nothing until a chart reads one."""

    def __init__(self, pool: Pool, names: Sequence[str]) -> None:
        self._pool = pool
        self._index = {name: w for w, name in enumerate(names)}

    def __getitem__(self, name: str) -> History:
        history = self._pool.history(self._index[name])
        return dataclasses.replace(history, previous=None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


BatchStrategy = Callable[[Pool, Mapping[str, float]], list[Recommendation]]


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy with its documented default parameters."""

    name: str
    func: Strategy
    defaults: Mapping[str, float]
    summary: str
    #: every workload of a pool at once (None: ``func`` one workload at a time)
    batch: BatchStrategy | None = None
