"""Prometheus answers → the store's rows (SampleRow, ContainerRow, HostRow, EventRow).

The rows are those the Docker collector writes, so the analysis computes
rates, percentiles, throttling and OOM kills exactly as for Docker data:

- **samples** (:func:`sample_rows`, both paths): the per-signal series of a
  batch merged into one row per container and grid time: raw counters
  (``cpu_total_ns`` = ``container_cpu_usage_seconds_total`` x 1e9, CFS
  periods, throttled periods and seconds) and the working set (raw or its
  interval maximum); with ``cpu_signal="peak"`` the interval's peak rate as
  ``cpu_cores`` (the analysis uses a rate when no counter is set).
- **containers** (Kubernetes, :func:`container_row`): one row per pod
  container, ``container_id`` = ``namespace/pod/container``, declared values
  and the workload from :mod:`.owners`; a container whose last termination in
  the window was an OOM kill is marked ``oom_killed``.
- **hosts** (:func:`host_row`): one row per node or Docker host.
- **events** (:func:`kill_events`): one ``oom_kill`` event per OOM kill, the
  k-th of one step stamped k µs earlier, as the store keys events by time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow
from rightsize.sources.prometheus.client import (
    CPU,
    CPU_PEAK,
    MEMORY,
    PERIODS,
    SIGNAL_LABEL,
    SIGNALS,
    THROTTLED,
    THROTTLED_SECONDS,
    Key,
    _floats,
    _ints,
    _series_points,
)
from rightsize.sources.prometheus.owners import KubeMeta, workload_of
from rightsize.sources.prometheus.plan import Plan

__all__ = ["container_row", "host_row", "kill_events", "node_rows", "sample_rows", "signal_of"]

#: a container's key: ``(namespace, pod, container)`` or ``(host, cgroup id)``
K = TypeVar("K", bound=tuple[str, ...])


def signal_of(metric: Mapping[str, str]) -> str:
    """The column of a batch series: its ``rightsize_signal`` label, else its metric name."""
    return metric.get(SIGNAL_LABEL) or metric.get("__name__", "")


def sample_rows(
    result: list[dict[str, Any]],
    ids: Mapping[K, tuple[str, str]],
    key_of: Callable[[Mapping[str, str]], K],
    plan: Plan,
) -> Iterator[SampleRow]:
    """Merge the per-signal series of a batch into one SampleRow per container and step.

    ``ids``: the batch's containers, by their key (``key_of`` a series' labels),
    → the stored ``(host, container_id)``; other series are ignored.
    Values are placed on the plan's grid (numpy, one array per container);
    several series of one signal and container are merged with max. Raw and
    aggregated answers share the columns: counters, the working set (raw or
    its interval maximum) and, for ``cpu_signal="peak"``, the peak rate.
    """
    import numpy as np

    column = {name: i for i, name in enumerate(SIGNALS)}
    table: dict[K, Any] = {}
    for series in result:
        metric = series.get("metric") or {}
        key, name = key_of(metric), signal_of(metric)
        values = series.get("values")
        if key not in ids or name not in column or not values:
            continue
        try:
            points = np.array(values, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            points = np.array(list(_series_points(values)), dtype=np.float64).reshape(-1, 2)
        idx = np.rint((points[:, 0] - plan.start) / plan.step).astype(np.int64)
        ok = (idx >= 0) & (idx < plan.npoints) & ~np.isnan(points[:, 1])
        if key not in table:
            table[key] = np.full((plan.npoints, len(SIGNALS)), np.nan)
        col = table[key][:, column[name]]
        col[idx[ok]] = np.fmax(col[idx[ok]], points[ok, 1])
    times = plan.start + plan.step * np.arange(plan.npoints)
    for key in sorted(table):
        grid = table[key]
        keep = (
            ~np.isnan(grid[:, column[CPU]])
            | ~np.isnan(grid[:, column[MEMORY]])
            | ~np.isnan(grid[:, column[CPU_PEAK]])
        )
        if not keep.any():
            continue
        g = grid[keep]
        ts = times[keep].tolist()
        cpu = _ints(g[:, column[CPU]], 1e9)
        peak = _floats(g[:, column[CPU_PEAK]])
        mem = _ints(g[:, column[MEMORY]], 1.0)
        periods = _ints(g[:, column[PERIODS]], 1.0)
        throttled = _ints(g[:, column[THROTTLED]], 1.0)
        throttled_ns = _ints(g[:, column[THROTTLED_SECONDS]], 1e9)
        host, cid = ids[key]
        for i, t in enumerate(ts):
            yield SampleRow(
                host=host,
                container_id=cid,
                ts=t,
                cpu_total_ns=cpu[i],
                cpu_cores=peak[i],
                system_cpu_ns=None,
                online_cpus=None,
                periods=periods[i],
                throttled_periods=throttled[i],
                throttled_ns=throttled_ns[i],
                mem_usage=None,
                mem_working_set=mem[i],
                mem_rss=None,
                mem_limit=None,
                mem_failcnt=None,
                pids=None,
                oom_kills_total=None,
            )


def container_row(key: Key, meta: KubeMeta, node: str) -> ContainerRow:
    namespace, pod, container = key
    labels = {
        "io.kubernetes.pod.namespace": namespace,
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.container.name": container,
    }
    p = meta.pods.get((namespace, pod))
    if p is not None and p.owner_kind:
        labels["rightsize.kubernetes.owner-kind"] = p.owner_kind
    declared = meta.declared.get(key, {})

    def mem(slot: str) -> int | None:
        v = declared.get(slot)
        return None if v is None else round(v)

    return ContainerRow(
        host=node,
        container_id="/".join(key),
        name=f"{pod}/{container}",
        image=meta.images.get(key, ""),
        labels=labels,
        workload=workload_of(key, meta),
        cpu_request=declared.get("cpu_request"),
        cpu_limit=declared.get("cpu_limit"),
        memory_request=mem("memory_request"),
        memory_limit=mem("memory_limit"),
        cpuset_cpus=None,
        restart_count=meta.restarts.get(key, 0),
        oom_killed=key in meta.oom_reason,
        started_at=None,
        os_type="linux",
    )


def host_row(host: str, cpu: float, memory: float, engine: str, api: str) -> HostRow:
    """A node or Docker host; NaN capacity is stored as 0 (unknown)."""
    return HostRow(
        host=host,
        name=host,
        ncpu=0 if math.isnan(cpu) else round(cpu),
        mem_total=0 if math.isnan(memory) else round(memory),
        engine_version=engine,
        api_version=api,
        cgroup_version="",
        os_type="linux",
    )


def node_rows(meta: KubeMeta, nodes: Iterable[str]) -> list[HostRow]:
    """The Kubernetes nodes, with the capacity kube-state-metrics (or cAdvisor) gave."""
    rows = []
    for node in sorted(set(nodes)):
        cap = meta.nodes.get(node, {})
        cpu, memory = cap.get("cpu", math.nan), cap.get("memory", math.nan)
        rows.append(host_row(node, cpu, memory, "kubernetes", "prometheus"))
    return rows


def kill_events(host: str, container_id: str, name: str, ts: float, n: int,
                action: str = "oom_kill") -> list[EventRow]:
    """``n`` events at ``ts``, the k-th stamped k µs earlier (the store keys events by time)."""
    return [
        EventRow(host=host, container_id=container_id, ts=ts - i * 1e-6, action=action,
                 exit_code=None, name=name)
        for i in range(n)
    ]
