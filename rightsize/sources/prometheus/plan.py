"""The query plan of a Prometheus copy: the grid, raw or aggregated, the batches, the queries.

Both paths (Kubernetes in :mod:`.reader`, Docker fleets in :mod:`.cadvisor`)
read their usage series with the same range query, :func:`batch_query`,
grouped by their own identity labels (``namespace, pod, container``, or the
host label and ``id``), on the same :class:`Plan`.

- **raw**: the cAdvisor counters read at a fixed ``step`` (default the
  window / 11,000 points, Prometheus' per-series cap, at least 60 s), all five
  metrics in one query, ``max by`` merging duplicate scrapes of one container
  (kubelet ``/metrics/cadvisor`` and ``/metrics/resource``).
- **aggregate** (``resolution``): one sample per container every
  ``resolution`` seconds, on a grid anchored at the end so the intervals
  ``(t - resolution, t]`` tile the window: the CPU and CFS counters as they
  are at that time (rates over a coarse interval are the exact averages of the
  fine ones), ``max_over_time`` of the working set over the interval (every
  peak survives) and, with ``cpu_signal="peak"``, the interval's largest
  per-scrape rate ``max_over_time(irate(cpu[3 x peak_step])[<resolution>:<peak_step>])``
  instead of the CPU counter.

Batches hold whole pods (or whole hosts, :mod:`.cadvisor`) so that no answer
holds more than ``max_points`` points.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from rightsize.errors import UsageError
from rightsize.sources.prometheus.client import (
    _BY,
    _SIGNALS_PER_QUERY,
    COUNTER_METRICS,
    CPU,
    CPU_PEAK,
    MAX_POINTS_PER_SERIES,
    MEMORY,
    PERIODS,
    SIGNAL_LABEL,
    THROTTLED,
    THROTTLED_SECONDS,
    Key,
    _open_window,
    _quote,
    _regex_alternation,
    _window,
    choose_step,
)

__all__ = [
    "Plan",
    "batch_query",
    "check_points",
    "grid",
    "namespace_matcher",
    "plan_window",
    "pod_batches",
    "pod_matchers",
]


@dataclass(frozen=True)
class Plan:
    """The grid and options ``collect_prometheus`` chose, shared by both paths."""

    start: float
    end: float
    step: float
    npoints: int
    resolution: float | None
    cpu_signal: str
    peak_step: float
    max_points: int
    lookback: str
    selector: str = ""
    host_label: str = "instance"

    @property
    def per_batch(self) -> int:
        """Containers per range query: all signals of a batch stay under ``max_points``."""
        return max(1, self.max_points // (self.npoints * _SIGNALS_PER_QUERY))


def grid(start: float, end: float, step: float) -> tuple[float, int]:
    """The raw grid: multiples of ``step`` from the one at or before ``start``, and its size."""
    first = math.floor(start / step) * step
    n = math.floor((end - first) / step) + 1
    return first, n


def plan_window(
    since: float,
    end: float,
    resolution: float | None,
    step: float | None,
    *,
    cpu_signal: str,
    peak_step: float,
    max_points: int,
    selector: str,
    host_label: str,
) -> Plan:
    """The raw grid at ``step`` (default :func:`choose_step`), or the aggregated one."""
    window = end - since
    grid_step = resolution if resolution is not None else (float(step) if step else
                                                           choose_step(window))
    if resolution is None:
        start, npoints = grid(since, end, grid_step)
    else:
        # anchored at the end: the intervals (t - res, t] tile the window up to ``end``
        # (a grid of multiples of res would leave up to res - 1 s at the end unread)
        k = math.floor(window / resolution + 1e-9)
        start, npoints = end - k * resolution, k + 1
    lookback = _window(end - start + grid_step)
    return Plan(start, end, grid_step, npoints, resolution, cpu_signal, peak_step,
                max_points, lookback, selector, host_label)


def check_points(since: float, end: float, step: float | None) -> None:
    """A UsageError when ``step`` gives more points per series than Prometheus allows."""
    if step is None:
        return
    _, npoints = grid(since, end, step)
    if npoints > MAX_POINTS_PER_SERIES:
        raise UsageError(
            f"step {step:g}s gives {npoints} points per series over the window; Prometheus "
            f"allows {MAX_POINTS_PER_SERIES}: use a step of at least "
            f"{choose_step(end - since, minimum=1):g}s"
        )


def pod_batches(keys: Sequence[Key], per_batch: int) -> Iterator[list[Key]]:
    """Consecutive chunks of whole pods, each ≤ ``per_batch`` containers (≥ one pod)."""
    by_pod: dict[tuple[str, str], list[Key]] = defaultdict(list)
    for k in keys:
        by_pod[(k[0], k[1])].append(k)
    batch: list[Key] = []
    for pod in sorted(by_pod):
        members = by_pod[pod]
        if batch and len(batch) + len(members) > per_batch:
            yield batch
            batch = []
        batch.extend(members)
    if batch:
        yield batch


def namespace_matcher(namespaces: Iterable[str]) -> str:
    chosen = sorted(set(namespaces))
    if len(chosen) == 1:
        return f"namespace={_quote(chosen[0])}"
    return f'namespace=~"{_regex_alternation(chosen)}"'


def pod_matchers(batch: Sequence[Key]) -> str:
    namespaces = {k[0] for k in batch}
    pods = {k[1] for k in batch}
    ns = (
        f"namespace={_quote(next(iter(namespaces)))}"
        if len(namespaces) == 1
        else f'namespace=~"{_regex_alternation(namespaces)}"'
    )
    return f'{ns}, pod=~"{_regex_alternation(pods)}"'


def batch_query(sel: str, plan: Plan, by: str = _BY) -> str:
    """The range query of one batch: raw counters, or the aggregated signals.

    ``by``: the labels naming a container (Kubernetes' by default).
    Aggregated: the counters as they are (``max by`` merges duplicate scrapes),
    ``max_over_time`` of the working set over each interval ``(t - resolution, t]``
    and, for ``cpu_signal="peak"``, the largest per-scrape rate in the interval
    (``irate`` every ``peak_step`` in a subquery) instead of the CPU counter.
    Nameless aggregated series carry a ``rightsize_signal`` label, which also
    keeps ``or`` from dropping them (it matches label sets ignoring ``__name__``).
    """
    resolution = plan.resolution
    if resolution is None:
        names = "|".join(COUNTER_METRICS)
        return f'max by (__name__, {by}) ({{__name__=~"{names}", {sel}}})'
    counters = [PERIODS, THROTTLED, THROTTLED_SECONDS]
    if plan.cpu_signal == "mean":
        counters.insert(0, CPU)
    interval = _open_window(resolution)
    parts = [
        f'max by (__name__, {by}) ({{__name__=~"{"|".join(counters)}", {sel}}})',
        f"label_replace(max by ({by}) (max_over_time({MEMORY}{{{sel}}}[{interval}])), "
        f'"{SIGNAL_LABEL}", "{MEMORY}", "", "")',
    ]
    if plan.cpu_signal == "peak":
        rate = f"irate({CPU}{{{sel}}}[{_window(max(3 * plan.peak_step, 180.0))}])"
        parts.append(
            f"label_replace(max by ({by}) (max_over_time({rate}[{interval}:"
            f'{_window(plan.peak_step)}])), "{SIGNAL_LABEL}", "{CPU_PEAK}", "", "")'
        )
    return " or ".join(parts)
