"""Copy a Kubernetes cluster's history from Prometheus (cAdvisor + kube-state-metrics).

:func:`collect_prometheus` copies a window of history into the store as the
same rows the Docker collector writes, so the analysis computes rates,
percentiles, throttling and OOM kills exactly as it does for Docker data:

- **samples**: raw cAdvisor counters read at a fixed ``step`` (``cpu_total_ns``
  = ``container_cpu_usage_seconds_total`` x 1e9, CFS periods, throttled periods
  and seconds, ``container_memory_working_set_bytes``). The step defaults to
  the window / 11,000 points (Prometheus' per-series cap), at least 60 s.
- **containers**: one row per pod container, ``container_id`` =
  ``namespace/pod/container``; declared values from
  ``kube_pod_container_resource_requests/limits``; ``workload`` =
  ``namespace/<owner>/container`` with the owner resolved through
  ``kube_pod_owner`` → ``kube_replicaset_owner`` (Deployment) or
  ``kube_job_owner`` (CronJob); bare pods keep their name; without
  kube-state-metrics the owner is inferred from the pod name.
- **events**: one ``oom_kill`` event per OOM kill (a counted kill, unlike the
  engine's bursts of ``oom`` notifications; the k-th of one step is stamped
  k µs earlier, as the store keys events by time): a restart while
  ``kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}`` is
  set, else an increase of cAdvisor's ``container_oom_events_total``. A
  container whose last termination in the window was an OOM kill is marked
  ``oom_killed`` (counted only when no event was).
- **hosts**: one row per node from ``kube_node_status_capacity`` (else
  cAdvisor's ``machine_cpu_cores``/``machine_memory_bytes``).

Query plan (a handful of queries whatever the cluster size, plus the batches):
one ``/api/v1/series`` call finds the containers; one instant query per
kube-state-metrics family uses ``last_over_time(...[window])`` so sparse
series and pods gone before the end of the window are still seen; the
counters come from range queries ``max by (__name__, namespace, pod,
container) ({__name__=~"…"})``, all five metrics in one query, batched over
pods so that no answer holds more than ``max_points`` points. ``max`` merges
duplicate scrapes of one container (kubelet ``/metrics/cadvisor`` and
``/metrics/resource``); the pod cgroup (``container=""``) and the sandbox
(``container="POD"``) are left out.

The next batch is fetched while the current one is written (one request in
flight), so at most two answers (~2 x ``max_points`` points) are in memory.

Raw samples keep the analysis identical for every source and leave the
history for the report charts; the price is transfer: 7 days at 60 s is
~10,000 points per series. ``step`` trades resolution for volume (5 min → 2,016).

**Aggregate mode** (``resolution=<seconds>`` or ``"auto"``) pushes the
aggregation into Prometheus but keeps the sample model, so the analysis, the
strategies and the report run unchanged on its rows: one sample per container
every ``resolution`` seconds, with

- the CPU and CFS counters as they are at that time (``max by`` of the
  counters): rates over a coarse interval are the exact averages of the fine
  ones, throttling shares exact per interval;
- ``max_over_time(container_memory_working_set_bytes[<resolution>])`` over
  ``(t - resolution, t]``: every peak survives (maximum, daily peaks of VPA and
  ``rightsize``, OOM risk), so memory sizing is what raw samples give;
- with ``cpu_signal="peak"``, instead of the CPU counter, the interval's
  largest per-scrape rate ``max_over_time(irate(cpu[3 x peak_step])[<resolution>:<peak_step>])``
  stored as ``cpu_cores`` (the analysis uses a rate when no counter is set).

What the coarse step costs: a sample holds one CPU number, and ``SampleRow``
has no second CPU field (a counter *and* a peak), so the CPU signal is a
choice. ``"mean"`` (default) flattens bursts: percentiles of 15-minute
averages are below those of 1-minute rates (KRR's p95 and VPA's histogram
read low for bursty workloads; the mean is exact). ``"peak"`` keeps the
maximum exactly but every interval counts as its peak, so percentiles read
high (safe for requests, pessimistic for savings). Memory is exact at the
peaks and slightly high between them. Fewer samples also lower the
``rightsize`` and VPA confidence (they count samples). Aggregated rows must
not be mixed with raw rows of the same containers in one store (the analysis
would see both as readings); see below for charts.

:func:`choose_resolution` picks raw or aggregate from the number of
containers and the window so the copy stays under ``points_budget`` samples
(default 10 M: 100 containers x 7 days stay raw, 1,000 x 7 days → 120 s,
10,000 x 7 days → 900 s). ``pods=["ns/pod"]`` and
``workloads=["ns/owner/container"]`` restrict the copy, e.g. to re-fetch the
raw series of a few flagged workloads into a second store for charts.

Errors: a malformed URL or option is a :class:`UsageError`; an unreachable
server, a refused credential, or a query Prometheus rejects (its ``error``
field, the URL and the query are named) is a :class:`RuntimeFailure`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from rightsize.errors import RuntimeFailure, UsageError
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow
from rightsize.sources.deadlines import configured
from rightsize.sources.http import http_client
from rightsize.sources.prometheus import cadvisor as docker_fleet
from rightsize.sources.prometheus.client import (
    _BY,
    _CONTAINER_FILTER,
    _SIGNALS_PER_QUERY,
    COUNTER_METRICS,
    CPU,
    CPU_PEAK,
    DEFAULT_MAX_POINTS,
    DEFAULT_POINTS_BUDGET,
    DEFAULT_TIMEOUT,
    LAST_TERMINATED,
    MAX_POINTS_PER_SERIES,
    MEMORY,
    MIN_STEP,
    OOM_EVENTS,
    PERIODS,
    RESTARTS,
    SIGNAL_LABEL,
    SIGNALS,
    THROTTLED,
    THROTTLED_SECONDS,
    Key,
    PrometheusClient,
    PrometheusSummary,
    _floats,
    _increases,
    _ints,
    _open_window,
    _quote,
    _regex_alternation,
    _selector,
    _series_points,
    _utc,
    _window,
    choose_resolution,
    choose_step,
)
from rightsize.store import Store

__all__ = ["collect_prometheus"]

log = logging.getLogger("rightsize.prometheus")



def _key(metric: Mapping[str, str]) -> Key:
    return (metric.get("namespace", ""), metric.get("pod", ""), metric.get("container", ""))


def _value(item: Mapping[str, Any]) -> float:
    try:
        return float(item["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return math.nan


@dataclass
class _Pod:
    node: str = ""
    owner_kind: str = ""
    owner_name: str = ""


@dataclass
class _Meta:
    """Everything kube-state-metrics (and cAdvisor's machine metrics) told us."""

    pods: dict[tuple[str, str], _Pod] = field(default_factory=dict)
    replicasets: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    jobs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    declared: dict[Key, dict[str, float]] = field(default_factory=dict)
    images: dict[Key, str] = field(default_factory=dict)
    restarts: dict[Key, int] = field(default_factory=dict)
    oom_reason: set[Key] = field(default_factory=set)
    oom_counter: set[Key] = field(default_factory=set)
    nodes: dict[str, dict[str, float]] = field(default_factory=dict)

    def pod(self, namespace: str, pod: str) -> _Pod:
        return self.pods.setdefault((namespace, pod), _Pod())

    def owner(self, namespace: str, pod: str) -> str | None:
        """The owning controller's name, or None when kube-state-metrics has no owner."""
        p = self.pods.get((namespace, pod))
        if p is None or not p.owner_kind:
            return None
        kind, name = p.owner_kind, p.owner_name
        if kind == "ReplicaSet":
            up_kind, up_name = self.replicasets.get((namespace, name), ("", ""))
            return up_name if up_kind and up_kind != "<none>" and up_name else name
        if kind == "Job":
            up_kind, up_name = self.jobs.get((namespace, name), ("", ""))
            return up_name if up_kind == "CronJob" and up_name else name
        if kind in ("<none>", "Node", "") or not name or name == "<none>":
            return pod  # a bare or static pod
        return name


def _meta_queries(ns: str, lookback: str) -> dict[str, str]:
    cpu_mem = _selector(ns, 'resource=~"cpu|memory"')
    cronjob = _selector(ns, 'owner_kind="CronJob"')
    oom = _selector(ns, 'reason="OOMKilled"')
    last = "last_over_time({}{{{}}}[" + lookback + "])"
    return {
        "requests": last.format("kube_pod_container_resource_requests", cpu_mem),
        "limits": last.format("kube_pod_container_resource_limits", cpu_mem),
        "owner": last.format("kube_pod_owner", ns),
        "replicaset": last.format("kube_replicaset_owner", ns),
        "job": last.format("kube_job_owner", cronjob),
        "info": last.format("kube_pod_info", ns),
        "image": last.format("kube_pod_container_info", ns),
        "restarts": last.format(RESTARTS, ns),
        "oom_reason": f"max_over_time({LAST_TERMINATED}{{{oom}}}[{lookback}]) > 0",
    }


def _read_meta(
    api: PrometheusClient,
    ns: str,
    cadvisor: str,
    lookback: str,
    at: float,
    summary: PrometheusSummary,
) -> _Meta:
    meta = _Meta()
    q = _meta_queries(ns, lookback)
    for item in api.instant(q["owner"], at):
        m = item["metric"]
        p = meta.pod(m.get("namespace", ""), m.get("pod", ""))
        kind = m.get("owner_kind", "")
        # a pod has one controller; prefer it over "<none>" rows left by re-creation
        if not p.owner_kind or p.owner_kind == "<none>" or m.get("owner_is_controller") == "true":
            p.owner_kind, p.owner_name = kind, m.get("owner_name", "")
    if not meta.pods:
        summary.missing.append("kube_pod_owner (owners inferred from pod names)")
    for item in api.instant(q["replicaset"], at):
        m = item["metric"]
        meta.replicasets[(m.get("namespace", ""), m.get("replicaset", ""))] = (
            m.get("owner_kind", ""),
            m.get("owner_name", ""),
        )
    for item in api.instant(q["job"], at):
        m = item["metric"]
        meta.jobs[(m.get("namespace", ""), m.get("job_name", ""))] = (
            m.get("owner_kind", ""),
            m.get("owner_name", ""),
        )
    for item in api.instant(q["info"], at):
        m = item["metric"]
        if m.get("node"):
            meta.pod(m.get("namespace", ""), m.get("pod", "")).node = m["node"]
    found_declared = False
    for which in ("requests", "limits"):
        for item in api.instant(q[which], at):
            m = item["metric"]
            v = _value(item)
            if math.isnan(v):
                continue
            found_declared = True
            slot = f"{m.get('resource', '')}_{'request' if which == 'requests' else 'limit'}"
            meta.declared.setdefault(_key(m), {})[slot] = v
    if not found_declared:
        summary.missing.append("kube_pod_container_resource_requests/limits (no declared values)")
    for item in api.instant(q["image"], at):
        meta.images[_key(item["metric"])] = item["metric"].get("image", "")
    for item in api.instant(q["restarts"], at):
        v = _value(item)
        if not math.isnan(v):
            meta.restarts[_key(item["metric"])] = int(v)
    for item in api.instant(q["oom_reason"], at):
        meta.oom_reason.add(_key(item["metric"]))
    counter_q = f"max by ({_BY}) (increase({OOM_EVENTS}{{{cadvisor}}}[{lookback}])) > 0"
    for item in api.instant(counter_q, at):
        meta.oom_counter.add(_key(item["metric"]))
    # nodes: kube-state-metrics capacity, else cAdvisor machine metrics
    node_sel = _selector('resource=~"cpu|memory"')
    for item in api.instant(
        f"last_over_time(kube_node_status_capacity{{{node_sel}}}[{lookback}])", at
    ):
        m = item["metric"]
        meta.nodes.setdefault(m.get("node", ""), {})[m.get("resource", "")] = _value(item)
    if not meta.nodes:
        query = (
            "max by (node, instance, __name__) "
            f'(last_over_time({{__name__=~"machine_cpu_cores|machine_memory_bytes"}}[{lookback}]))'
        )
        for item in api.instant(query, at):
            m = item["metric"]
            node = m.get("node") or m.get("instance", "")
            slot = "cpu" if m.get("__name__") == "machine_cpu_cores" else "memory"
            meta.nodes.setdefault(node, {})[slot] = _value(item)
    return meta


def _batches(keys: Sequence[Key], per_batch: int) -> Iterator[list[Key]]:
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


def _pod_matchers(batch: Sequence[Key]) -> str:
    namespaces = {k[0] for k in batch}
    pods = {k[1] for k in batch}
    ns = (
        f"namespace={_quote(next(iter(namespaces)))}"
        if len(namespaces) == 1
        else f'namespace=~"{_regex_alternation(namespaces)}"'
    )
    return f'{ns}, pod=~"{_regex_alternation(pods)}"'


def _grid(start: float, end: float, step: float) -> tuple[float, int]:
    first = math.floor(start / step) * step
    n = math.floor((end - first) / step) + 1
    return first, n








def _signal(metric: Mapping[str, str]) -> str:
    """The column of a batch series: its ``rightsize_signal`` label, else its metric name."""
    return metric.get(SIGNAL_LABEL) or metric.get("__name__", "")


def _sample_rows(
    result: list[dict[str, Any]],
    wanted: set[Key],
    node_of: Callable[[Key], str],
    start: float,
    step: float,
    npoints: int,
) -> Iterator[SampleRow]:
    """Merge the per-signal series of a batch into one SampleRow per container and step.

    Values are placed on the query's step grid (numpy, one array per
    container); several series of one signal and container are merged with max.
    Raw and aggregated answers share the columns: counters, the working set
    (raw or its interval maximum) and, for ``cpu_signal="peak"``, the peak rate.
    """
    import numpy as np

    column = {name: i for i, name in enumerate(SIGNALS)}
    table: dict[Key, Any] = {}
    for series in result:
        metric = series.get("metric") or {}
        key, name = _key(metric), _signal(metric)
        values = series.get("values")
        if key not in wanted or name not in column or not values:
            continue
        try:
            points = np.array(values, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            points = np.array(list(_series_points(values)), dtype=np.float64).reshape(-1, 2)
        idx = np.rint((points[:, 0] - start) / step).astype(np.int64)
        ok = (idx >= 0) & (idx < npoints) & ~np.isnan(points[:, 1])
        if key not in table:
            table[key] = np.full((npoints, len(SIGNALS)), np.nan)
        col = table[key][:, column[name]]
        col[idx[ok]] = np.fmax(col[idx[ok]], points[ok, 1])
    times = start + step * np.arange(npoints)
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
        host, cid = node_of(key), "/".join(key)
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




def _oom_events(
    api: PrometheusClient,
    meta: _Meta,
    known: set[Key],
    cadvisor: str,
    start: float,
    end: float,
    step: float,
    node_of: Callable[[Key], str],
) -> list[EventRow]:
    """``oom``/``restart`` events: restarts under an OOMKilled reason, else the OOM counter."""
    events: list[EventRow] = []
    covered: set[Key] = set()
    candidates = sorted(meta.oom_reason & known)
    if candidates:
        query = (
            f"max by (__name__, {_BY}) "
            f'({{__name__=~"{RESTARTS}|{LAST_TERMINATED}", reason=~"|OOMKilled", '
            f"{_pod_matchers(candidates)}}})"
        )
        restarts: dict[Key, list[list[Any]]] = {}
        oom_at: dict[Key, set[float]] = defaultdict(set)
        for series in api.range(query, start, end, step):
            m = series.get("metric") or {}
            key = _key(m)
            if m.get("__name__") == RESTARTS:
                restarts[key] = series.get("values") or []
            else:
                oom_at[key].update(
                    t for t, v in _series_points(series.get("values") or ()) if v > 0
                )
        for key in candidates:
            for t, n in _increases(restarts.get(key, [])):
                action = "oom_kill" if t in oom_at[key] else "restart"
                for i in range(n if action == "oom_kill" else 1):
                    events.append(_event(key, node_of, t - i * 1e-6, action))
                if action == "oom_kill":
                    covered.add(key)
                    events.append(_event(key, node_of, t, "restart"))
    rest = sorted((meta.oom_counter & known) - covered)
    if rest:
        query = f"max by ({_BY}) ({OOM_EVENTS}{{{_selector(cadvisor, _pod_matchers(rest))}}})"
        for series in api.range(query, start, end, step):
            key = _key(series.get("metric") or {})
            if key not in rest:
                continue
            for t, n in _increases(series.get("values") or []):
                events.extend(_event(key, node_of, t - i * 1e-6, "oom_kill") for i in range(n))
    # one restart event per timestamp is enough; duplicates would be ignored by the store anyway
    seen: set[tuple[str, float, str]] = set()
    out: list[EventRow] = []
    for e in events:
        key_ts = (e["container_id"], e["ts"], e["action"])
        if e["action"] == "restart" and key_ts in seen:
            continue
        seen.add(key_ts)
        out.append(e)
    return out


def _event(key: Key, node_of: Callable[[Key], str], ts: float, action: str) -> EventRow:
    return EventRow(
        host=node_of(key),
        container_id="/".join(key),
        ts=ts,
        action=action,
        exit_code=None,
        name=f"{key[1]}/{key[2]}",
    )


def _workload(key: Key, meta: _Meta) -> str:
    """``namespace/<owner>/container``, as the container row's ``workload``."""
    from rightsize.analysis.workloads import owner_from_pod

    namespace, pod, container = key
    owner = meta.owner(namespace, pod)
    return f"{namespace}/{owner if owner is not None else owner_from_pod(pod)}/{container}"


def _container_row(key: Key, meta: _Meta, node: str) -> ContainerRow:
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
        workload=_workload(key, meta),
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


def _host_rows(meta: _Meta, nodes: Iterable[str]) -> list[HostRow]:
    rows = []
    for node in sorted(set(nodes)):
        cap = meta.nodes.get(node, {})
        cpu, memory = cap.get("cpu", math.nan), cap.get("memory", math.nan)
        rows.append(
            HostRow(
                host=node,
                name=node,
                ncpu=0 if math.isnan(cpu) else round(cpu),
                mem_total=0 if math.isnan(memory) else round(memory),
                engine_version="kubernetes",
                api_version="prometheus",
                cgroup_version="",
                os_type="linux",
            )
        )
    return rows


def _batch_query(sel: str, resolution: float | None, cpu_signal: str, peak_step: float) -> str:
    """The range query of one batch: raw counters, or the aggregated signals.

    Aggregated: the counters as they are (``max by`` merges duplicate scrapes),
    ``max_over_time`` of the working set over each interval ``(t - resolution, t]``
    and, for ``cpu_signal="peak"``, the largest per-scrape rate in the interval
    (``irate`` every ``peak_step`` in a subquery) instead of the CPU counter.
    Nameless aggregated series carry a ``rightsize_signal`` label, which also
    keeps ``or`` from dropping them (it matches label sets ignoring ``__name__``).
    """
    if resolution is None:
        names = "|".join(COUNTER_METRICS)
        return f'max by (__name__, {_BY}) ({{__name__=~"{names}", {sel}}})'
    counters = [PERIODS, THROTTLED, THROTTLED_SECONDS]
    if cpu_signal == "mean":
        counters.insert(0, CPU)
    interval = _open_window(resolution)
    parts = [
        f'max by (__name__, {_BY}) ({{__name__=~"{"|".join(counters)}", {sel}}})',
        f"label_replace(max by ({_BY}) (max_over_time({MEMORY}{{{sel}}}[{interval}])), "
        f'"{SIGNAL_LABEL}", "{MEMORY}", "", "")',
    ]
    if cpu_signal == "peak":
        rate = f"irate({CPU}{{{sel}}}[{_window(max(3 * peak_step, 180.0))}])"
        parts.append(
            f"label_replace(max by ({_BY}) (max_over_time({rate}[{interval}:{_window(peak_step)}]))"
            f', "{SIGNAL_LABEL}", "{CPU_PEAK}", "", "")'
        )
    return " or ".join(parts)


def _namespace_matcher(namespaces: Iterable[str]) -> str:
    chosen = sorted(set(namespaces))
    if len(chosen) == 1:
        return f"namespace={_quote(chosen[0])}"
    return f'namespace=~"{_regex_alternation(chosen)}"'


def _split(values: Sequence[str], parts: int, what: str, example: str) -> list[tuple[str, ...]]:
    out = []
    for v in values:
        fields = tuple(v.strip().split("/"))
        if len(fields) != parts or not all(fields):
            raise UsageError(f"invalid {what} {v!r}: expected {example}")
        out.append(fields)
    return out


def collect_prometheus(
    store: Store,
    url: str,
    *,
    since: float,
    until: float | None = None,
    step: float | None = None,
    resolution: float | Literal["auto"] | None = None,
    points_budget: int = DEFAULT_POINTS_BUDGET,
    cpu_signal: Literal["mean", "peak"] = "mean",
    peak_step: float = MIN_STEP,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    client_cert: tuple[str, str] | None = None,
    namespaces: Sequence[str] | None = None,
    pods: Sequence[str] | None = None,
    workloads: Sequence[str] | None = None,
    selector: str = "",
    max_points: int = DEFAULT_MAX_POINTS,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    on_batch: Callable[[PrometheusSummary], None] | None = None,
    host_label: str = "instance",
) -> PrometheusSummary:
    """Copy the window ``[since, until]`` (Unix seconds; ``until`` defaults to now) into ``store``.

    ``step``: seconds between raw samples (default :func:`choose_step`).
    ``resolution``: aggregate mode, the aggregation done by Prometheus: one
    sample per container every ``resolution`` seconds holding the counters at
    that time (exact interval averages) and the working set's maximum over the
    interval; ``"auto"``: :func:`choose_resolution` decides from the number of
    containers found and ``points_budget`` (raw at ``step`` when it fits).
    ``cpu_signal`` (aggregate mode): ``"mean"`` stores the CPU counter (the
    interval's average rate), ``"peak"`` the interval's largest rate over
    ``peak_step`` (as ``cpu_cores``, no counter).
    ``namespaces``: only these namespaces. ``pods``: only these
    ``namespace/pod``. ``workloads``: only the containers of these
    ``namespace/owner/container`` workloads (as the analysis names them), e.g.
    to re-fetch raw series of flagged workloads for charts.
    ``selector``: extra label matchers for the cAdvisor series, e.g.
    ``job="kubelet", metrics_path="/metrics/cadvisor"``.
    ``max_points``: cap on series x steps per range query (batch size).
    Each batch is committed on its own, so an interrupted copy keeps what it read.
    Plain Docker containers of a standalone cAdvisor are read too (see
    :mod:`rightsize.sources.prometheus.cadvisor`; ``host_label`` names their host), unless a
    namespace, pod or workload filter is given.
    """
    t0 = time.monotonic()
    end = time.time() if until is None else float(until)
    if not math.isfinite(since) or since >= end:
        raise UsageError(f"empty Prometheus window: start {since} is not before end {end}")
    if step is not None and not step > 0:
        raise UsageError(f"invalid Prometheus step {step}: must be greater than zero")
    if max_points < 1:
        raise UsageError(f"invalid max_points {max_points}: must be at least 1")
    if cpu_signal not in ("mean", "peak"):
        raise UsageError(f"invalid cpu_signal {cpu_signal!r}: expected 'mean' or 'peak'")
    if not peak_step > 0:
        raise UsageError(f"invalid peak_step {peak_step}: must be greater than zero")
    if points_budget < 1:
        raise UsageError(f"invalid points budget {points_budget}: must be at least 1")
    auto = resolution == "auto"
    if isinstance(resolution, str) and not auto:
        raise UsageError(f"invalid resolution {resolution!r}: seconds or 'auto'")
    if not auto and resolution is not None:
        if not float(resolution) > 0:
            raise UsageError(f"invalid resolution {resolution}: must be greater than zero")
        if step is not None:
            raise UsageError("give a raw step or an aggregate resolution, not both")
    window = end - since
    fixed = None if auto or resolution is None else float(resolution)
    _check_points(since, end, fixed if fixed is not None else step)

    ns_filter: set[str] | None = set(namespaces) if namespaces else None
    pod_set: set[tuple[str, str]] | None = None
    if pods is not None:
        pod_set = {(a, b) for a, b in _split(pods, 2, "pod", "namespace/pod")}
        in_pods = {n for n, _ in pod_set}
        ns_filter = in_pods if ns_filter is None else ns_filter & in_pods
    wanted_workloads: set[str] | None = None
    if workloads is not None:
        parsed = _split(workloads, 3, "workload", "namespace/owner/container")
        wanted_workloads = {"/".join(w) for w in parsed}
        mine = {w[0] for w in parsed}
        ns_filter = mine if ns_filter is None else ns_filter & mine
    if ns_filter is not None and not ns_filter:
        raise UsageError("the namespace, pod and workload filters select nothing together")
    ns = _namespace_matcher(ns_filter) if ns_filter is not None else ""
    cadvisor = _selector(ns, _CONTAINER_FILTER, selector.strip().strip(","))
    discover = cadvisor
    if pod_set is not None:
        discover = _selector(cadvisor, _pod_matchers([(n, p, "") for n, p in sorted(pod_set)]))

    deadline = configured(timeout)
    client = http_client(
        url,
        what="Prometheus",
        token=token,
        basic_auth=basic_auth,
        ca_file=ca_file,
        insecure=insecure,
        client_cert=client_cert,
        timeout=deadline,
        transport=transport,
    )
    api = PrometheusClient(client, deadline)
    summary = PrometheusSummary(url=api.url, start=since, end=end, step=step or 0.0)
    try:
        # 1. which containers have usage series in the window (index lookup only)
        found = api.series(f"{MEMORY}{{{discover}}}", since, end)
        found += api.series(f"{CPU}{{{discover}}}", since, end)
        keys = sorted({k for k in map(_key, found) if all(k) and k[2] != "POD"})
        if pod_set is not None:
            keys = [k for k in keys if (k[0], k[1]) in pod_set]
        # --- issue 16 hook: plain Docker containers (standalone cAdvisor), cadvisor.py
        docker = (
            docker_fleet.discover(api, selector.strip().strip(","), since, end, host_label)
            if ns_filter is None
            else []
        )
        # --- end hook
        if not keys and not docker:
            scope = f" in namespaces {', '.join(sorted(ns_filter))}" if ns_filter else ""
            raise RuntimeFailure(
                f"Prometheus at {api.url} has no cAdvisor container series ({MEMORY}, {CPU})"
                f"{scope} between {_utc(since)} and {_utc(end)} UTC: does it scrape the "
                "kubelet's /metrics/cadvisor, or cAdvisor on the Docker hosts?"
            )
        # 2. raw or aggregated, and the grid
        if auto:
            fixed = choose_resolution(len(keys) + len(docker), window, points_budget, step=step)
        res = fixed
        grid_step = res if res is not None else (float(step) if step else choose_step(window))
        if res is None:
            start, npoints = _grid(since, end, grid_step)
        else:
            # anchored at the end: the intervals (t - res, t] tile the window up to ``end``
            # (a grid of multiples of res would leave up to res - 1 s at the end unread)
            k = math.floor(window / res + 1e-9)
            start, npoints = end - k * res, k + 1
        lookback = _window(end - start + grid_step)
        summary.start, summary.step = start, grid_step
        summary.mode = "raw" if res is None else "aggregate"
        summary.cpu_signal = cpu_signal if res is not None else "mean"
        # --- issue 16 hook: the Docker containers, after the Kubernetes ones (or alone)
        plan = docker_fleet.Plan(start, end, grid_step, npoints, res, cpu_signal, peak_step,
                                 max_points, lookback, selector.strip().strip(","), host_label)
        if not keys:
            docker_fleet.collect(api, store, docker, plan, summary, on_batch)
            return summary
        # --- end hook
        # 3. kube-state-metrics: owners, declared values, nodes, OOM kills
        meta = _read_meta(api, ns, cadvisor, lookback, end, summary)
        if wanted_workloads is not None:
            keys = [k for k in keys if _workload(k, meta) in wanted_workloads]
            if not keys:
                raise RuntimeFailure(
                    f"Prometheus at {api.url} has no containers of the workloads "
                    f"{', '.join(sorted(wanted_workloads))} between {_utc(since)} and "
                    f"{_utc(end)} UTC"
                )
        known = set(keys)

        def node_of(key: Key) -> str:
            p = meta.pods.get((key[0], key[1]))
            return p.node if p is not None and p.node else "unknown-node"

        summary.oom_killed = len(meta.oom_reason & known)
        # 4. the usage series, in batches of whole pods; a container is written with its samples
        per_batch = max(1, max_points // (npoints * _SIGNALS_PER_QUERY))
        nodes: set[str] = set()
        with_data: set[Key] = set()
        batches = list(_batches(keys, per_batch))

        def fetch(batch: list[Key]) -> list[dict[str, Any]]:
            query = _batch_query(
                _selector(cadvisor, _pod_matchers(batch)), res, cpu_signal, peak_step
            )
            return api.range(query, start, end, grid_step)

        # the next batch is fetched while this one is written (one request in flight)
        pending = _in_background(fetch, batches[0])
        try:
            for i, batch in enumerate(batches):
                result = pending.result()
                if i + 1 < len(batches):
                    pending = _in_background(fetch, batches[i + 1])
                wanted = set(batch)
                summary.points += sum(len(s.get("values") or ()) for s in result)
                present = sorted(
                    {_key(s.get("metric") or {}) for s in result if s.get("values")} & wanted
                )
                new_nodes = {node_of(k) for k in present} - nodes
                nodes |= new_nodes
                with_data.update(present)
                summary.samples += store.write(
                    containers=[_container_row(k, meta, node_of(k)) for k in present],
                    hosts=_host_rows(meta, new_nodes),
                    samples=_sample_rows(result, wanted, node_of, start, grid_step, npoints),
                )
                summary.batches += 1
                summary.containers, summary.hosts = len(with_data), len(nodes)
                summary.queries, summary.bytes = api.queries, api.bytes
                if on_batch is not None:
                    on_batch(summary)
                log.info(
                    "batch %d: %d containers, %d samples so far",
                    summary.batches,
                    len(batch),
                    summary.samples,
                )
        finally:
            pending.cancel()  # on an error or Ctrl-C: the fetch in flight is abandoned
        if not with_data:
            raise RuntimeFailure(
                f"Prometheus at {api.url} returned no samples for the {len(keys)} containers "
                f"it lists between {_utc(start)} and {_utc(end)} UTC"
            )
        # 5. OOM kills with their times
        events = _oom_events(api, meta, with_data, cadvisor, start, end, grid_step, node_of)
        store.write(events=events)
        summary.events = len(events)
        docker_fleet.collect(api, store, docker, plan, summary, on_batch)  # issue 16 hook
    finally:
        summary.queries, summary.bytes = api.queries, api.bytes
        summary.seconds = time.monotonic() - t0
        api.close()
    return summary


def _in_background(fn: Callable[[list[Key]], list[dict[str, Any]]],
                   batch: list[Key]) -> Future[list[dict[str, Any]]]:
    """``fn(batch)`` on a daemon thread, so that an abandoned fetch never holds up exit."""
    future: Future[list[dict[str, Any]]] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(batch))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)

    threading.Thread(target=run, name="rightsize-prometheus", daemon=True).start()
    return future


def _check_points(since: float, end: float, step: float | None) -> None:
    """A UsageError when ``step`` gives more points per series than Prometheus allows."""
    if step is None:
        return
    _, npoints = _grid(since, end, step)
    if npoints > MAX_POINTS_PER_SERIES:
        raise UsageError(
            f"step {step:g}s gives {npoints} points per series over the window; Prometheus "
            f"allows {MAX_POINTS_PER_SERIES}: use a step of at least "
            f"{choose_step(end - since, minimum=1):g}s"
        )
