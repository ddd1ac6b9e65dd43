"""Copy a Kubernetes cluster's history from Prometheus (cAdvisor + kube-state-metrics).

:func:`collect_prometheus` copies a window of history into the store as the
same rows the Docker collector writes (:mod:`.rows`), so the analysis computes
rates, percentiles, throttling and OOM kills exactly as it does for Docker
data. This module is the copy loop; the pieces have their own modules:
:mod:`.options` (:class:`CopyOptions`), :mod:`.plan` (grid, raw or
aggregated, batches, the range query), :mod:`.owners` (kube-state-metrics:
owners, declared values, nodes), :mod:`.rows` (answers → rows) and
:mod:`.cadvisor` (plain Docker containers of standalone cAdvisors, read in
the same call unless a namespace, pod or workload filter is given).

Query plan (a handful of queries whatever the cluster size, plus the batches):
one ``/api/v1/series`` call finds the containers (the pod cgroup,
``container=""``, and the sandbox, ``container="POD"``, are left out); one
instant query per kube-state-metrics family; the counters come from range
queries, all five metrics in one query, batched over pods so that no answer
holds more than ``max_points`` points. The next batch is fetched while the
current one is written (one request in flight), so at most two answers
(~2 x ``max_points`` points) are in memory. Each batch is committed on its
own, so an interrupted copy keeps what it read.

**OOM kills**: one ``oom_kill`` event per kill (a counted kill, unlike the
engine's bursts of ``oom`` notifications): a restart while
``kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}`` is
set, else an increase of cAdvisor's ``container_oom_events_total``.

Raw samples keep the analysis identical for every source and leave the
history for the report charts; the price is transfer: 7 days at 60 s is
~10,000 points per series. ``step`` trades resolution for volume (5 min → 2,016).

**Aggregate mode** (``resolution=<seconds>`` or ``"auto"``) pushes the
aggregation into Prometheus but keeps the sample model (:mod:`.plan`), so the
analysis, the strategies and the report run unchanged on its rows. What the
coarse step costs: a sample holds one CPU number, and ``SampleRow`` has no
second CPU field (a counter *and* a peak), so the CPU signal is a choice.
``"mean"`` (default) flattens bursts: percentiles of 15-minute averages are
below those of 1-minute rates (KRR's p95 and VPA's histogram read low for
bursty workloads; the mean is exact). ``"peak"`` keeps the maximum exactly
but every interval counts as its peak, so percentiles read high (safe for
requests, pessimistic for savings). Memory is exact at the peaks and
slightly high between them. Fewer samples also lower the ``rightsize`` and
VPA confidence (they count samples). Aggregated rows must not be mixed with
raw rows of the same containers in one store (the analysis would see both as
readings); see below for charts.

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
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing
from typing import Any

from rightsize.errors import RuntimeFailure
from rightsize.rows import EventRow
from rightsize.sources.deadlines import configured
from rightsize.sources.http import http_client
from rightsize.sources.prometheus import cadvisor as docker_fleet
from rightsize.sources.prometheus.client import (
    _BY,
    _CONTAINER_FILTER,
    CPU,
    LAST_TERMINATED,
    MEMORY,
    OOM_EVENTS,
    RESTARTS,
    Key,
    PrometheusClient,
    PrometheusSummary,
    _increases,
    _selector,
    _series_points,
    _utc,
    choose_resolution,
    fetch_ahead,
)
from rightsize.sources.prometheus.options import CopyOptions
from rightsize.sources.prometheus.owners import KubeMeta, key_of, read_meta, workload_of
from rightsize.sources.prometheus.plan import (
    Plan,
    batch_query,
    check_points,
    namespace_matcher,
    plan_window,
    pod_batches,
    pod_matchers,
)
from rightsize.sources.prometheus.rows import container_row, kill_events, node_rows, sample_rows
from rightsize.store import Store

__all__ = ["CopyOptions", "collect_prometheus"]

log = logging.getLogger("rightsize.prometheus")


def collect_prometheus(
    store: Store, url: str, options: CopyOptions | None = None, /, **keywords: Any
) -> PrometheusSummary:
    """Copy the window of ``options`` (a :class:`CopyOptions`) from ``url`` into ``store``.

    ``collect_prometheus(store, url, since=..., ...)`` is the same call with
    the options given by name (``CopyOptions(**keywords)``).
    """
    if options is None:
        options = CopyOptions(**keywords)
    elif keywords:
        raise TypeError("collect_prometheus takes a CopyOptions or keywords, not both")
    return _copy(store, url, options)


def _copy(store: Store, url: str, o: CopyOptions) -> PrometheusSummary:
    t0 = time.monotonic()
    since = o.since
    end = time.time() if o.until is None else float(o.until)
    fixed = o.check(end)
    auto = o.resolution == "auto"
    check_points(since, end, fixed if fixed is not None else o.step)

    scope = o.scope()
    ns_filter, pod_set = scope.namespaces, scope.pods
    ns = namespace_matcher(ns_filter) if ns_filter is not None else ""
    extra = o.extra_selector
    cadvisor = _selector(ns, _CONTAINER_FILTER, extra)
    discover = cadvisor
    if pod_set is not None:
        discover = _selector(cadvisor, pod_matchers([(n, p, "") for n, p in sorted(pod_set)]))

    deadline = configured(o.timeout)
    client = http_client(url, what="Prometheus", timeout=deadline, **o.connection())
    api = PrometheusClient(client, deadline)
    summary = PrometheusSummary(url=api.url, start=since, end=end, step=o.step or 0.0)
    try:
        # 1. which containers have usage series in the window (index lookup only)
        found = api.series(f"{MEMORY}{{{discover}}}", since, end)
        found += api.series(f"{CPU}{{{discover}}}", since, end)
        keys = sorted({k for k in map(key_of, found) if all(k) and k[2] != "POD"})
        if pod_set is not None:
            keys = [k for k in keys if (k[0], k[1]) in pod_set]
        # plain Docker containers (standalone cAdvisor), cadvisor.py
        docker = (
            docker_fleet.discover(api, extra, since, end, o.host_label)
            if ns_filter is None
            else []
        )
        if not keys and not docker:
            scope_text = f" in namespaces {', '.join(sorted(ns_filter))}" if ns_filter else ""
            raise RuntimeFailure(
                f"Prometheus at {api.url} has no cAdvisor container series ({MEMORY}, {CPU})"
                f"{scope_text} between {_utc(since)} and {_utc(end)} UTC: does it scrape the "
                "kubelet's /metrics/cadvisor, or cAdvisor on the Docker hosts?"
            )
        # 2. raw or aggregated, and the grid
        if auto:
            fixed = choose_resolution(len(keys) + len(docker), end - since, o.points_budget,
                                      step=o.step)
        plan = plan_window(since, end, fixed, o.step, cpu_signal=o.cpu_signal,
                           peak_step=o.peak_step, max_points=o.max_points, selector=extra,
                           host_label=o.host_label)
        summary.start, summary.step = plan.start, plan.step
        summary.mode = "raw" if fixed is None else "aggregate"
        summary.cpu_signal = o.cpu_signal if fixed is not None else "mean"
        # the Docker containers come after the Kubernetes ones (or alone)
        if not keys:
            docker_fleet.collect(api, store, docker, plan, summary, o.on_batch)
            return summary
        # 3. kube-state-metrics: owners, declared values, nodes, OOM kills
        meta = read_meta(api, ns, cadvisor, plan.lookback, end, summary)
        if scope.workloads is not None:
            keys = [k for k in keys if workload_of(k, meta) in scope.workloads]
            if not keys:
                raise RuntimeFailure(
                    f"Prometheus at {api.url} has no containers of the workloads "
                    f"{', '.join(sorted(scope.workloads))} between {_utc(since)} and "
                    f"{_utc(end)} UTC"
                )
        with_data = _copy_usage(api, store, keys, meta, cadvisor, plan, summary, o)
        # 5. OOM kills with their times
        events = _oom_events(api, meta, with_data, cadvisor, plan, _node_of(meta))
        store.write(events=events)
        summary.events = len(events)
        docker_fleet.collect(api, store, docker, plan, summary, o.on_batch)
    finally:
        summary.queries, summary.bytes = api.queries, api.bytes
        summary.seconds = time.monotonic() - t0
        api.close()
    return summary


def _node_of(meta: KubeMeta) -> Callable[[Key], str]:
    def node_of(key: Key) -> str:
        p = meta.pods.get((key[0], key[1]))
        return p.node if p is not None and p.node else "unknown-node"

    return node_of


def _copy_usage(api: PrometheusClient, store: Store, keys: list[Key], meta: KubeMeta,
                cadvisor: str, plan: Plan, summary: PrometheusSummary,
                o: CopyOptions) -> set[Key]:
    """4. the usage series, in batches of whole pods; a container is written with its samples.

    Returns the containers that had samples.
    """
    node_of = _node_of(meta)
    summary.oom_killed = len(meta.oom_reason & set(keys))
    nodes: set[str] = set()
    with_data: set[Key] = set()

    def fetch(batch: list[Key]) -> list[dict[str, Any]]:
        query = batch_query(_selector(cadvisor, pod_matchers(batch)), plan)
        return api.range(query, plan.start, plan.end, plan.step)

    with closing(fetch_ahead(list(pod_batches(keys, plan.per_batch)), fetch)) as answers:
        for batch, result in answers:
            wanted = set(batch)
            summary.points += sum(len(s.get("values") or ()) for s in result)
            present = sorted(
                {key_of(s.get("metric") or {}) for s in result if s.get("values")} & wanted
            )
            new_nodes = {node_of(k) for k in present} - nodes
            nodes |= new_nodes
            with_data.update(present)
            ids = {k: (node_of(k), "/".join(k)) for k in batch}
            summary.samples += store.write(
                containers=[container_row(k, meta, node_of(k)) for k in present],
                hosts=node_rows(meta, new_nodes),
                samples=sample_rows(result, ids, key_of, plan),
            )
            summary.batches += 1
            summary.containers, summary.hosts = len(with_data), len(nodes)
            summary.queries, summary.bytes = api.queries, api.bytes
            if o.on_batch is not None:
                o.on_batch(summary)
            log.info(
                "batch %d: %d containers, %d samples so far",
                summary.batches,
                len(batch),
                summary.samples,
            )
    if not with_data:
        raise RuntimeFailure(
            f"Prometheus at {api.url} returned no samples for the {len(keys)} containers "
            f"it lists between {_utc(plan.start)} and {_utc(plan.end)} UTC"
        )
    return with_data


def _oom_events(
    api: PrometheusClient,
    meta: KubeMeta,
    known: set[Key],
    cadvisor: str,
    plan: Plan,
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
            f"{pod_matchers(candidates)}}})"
        )
        restarts: dict[Key, list[list[Any]]] = {}
        oom_at: dict[Key, set[float]] = defaultdict(set)
        for series in api.range(query, plan.start, plan.end, plan.step):
            m = series.get("metric") or {}
            key = key_of(m)
            if m.get("__name__") == RESTARTS:
                restarts[key] = series.get("values") or []
            else:
                oom_at[key].update(
                    t for t, v in _series_points(series.get("values") or ()) if v > 0
                )
        for key in candidates:
            for t, n in _increases(restarts.get(key, [])):
                action = "oom_kill" if t in oom_at[key] else "restart"
                events += _events(key, node_of, t, n if action == "oom_kill" else 1, action)
                if action == "oom_kill":
                    covered.add(key)
                    events += _events(key, node_of, t, 1, "restart")
    rest = sorted((meta.oom_counter & known) - covered)
    if rest:
        query = f"max by ({_BY}) ({OOM_EVENTS}{{{_selector(cadvisor, pod_matchers(rest))}}})"
        for series in api.range(query, plan.start, plan.end, plan.step):
            key = key_of(series.get("metric") or {})
            if key not in rest:
                continue
            for t, n in _increases(series.get("values") or []):
                events += _events(key, node_of, t, n, "oom_kill")
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


def _events(key: Key, node_of: Callable[[Key], str], ts: float, n: int,
            action: str) -> list[EventRow]:
    return kill_events(node_of(key), "/".join(key), f"{key[1]}/{key[2]}", ts, n, action)
