"""Owners and declared values of a cluster's pods, from kube-state-metrics.

One instant query per kube-state-metrics family, each with
``last_over_time(...[window])`` so that sparse series and pods gone before
the end of the window are still seen. A container's workload is
``namespace/<owner>/container`` with the owner resolved through
``kube_pod_owner`` → ``kube_replicaset_owner`` (Deployment) or
``kube_job_owner`` (CronJob); bare pods keep their name; without
kube-state-metrics the owner is inferred from the pod name. The same
queries give the declared values (``kube_pod_container_resource_requests/limits``),
images, restart counts, the OOMKilled termination reasons, cAdvisor's OOM
counters and the nodes' capacity (``kube_node_status_capacity``, else
cAdvisor's ``machine_cpu_cores``/``machine_memory_bytes``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rightsize.sources.prometheus.client import (
    _BY,
    LAST_TERMINATED,
    OOM_EVENTS,
    RESTARTS,
    Key,
    PrometheusClient,
    PrometheusSummary,
    _selector,
)

__all__ = ["KubeMeta", "PodInfo", "key_of", "meta_queries", "read_meta", "value_of",
           "workload_of"]


def key_of(metric: Mapping[str, str]) -> Key:
    """``(namespace, pod, container)`` of a series."""
    return (metric.get("namespace", ""), metric.get("pod", ""), metric.get("container", ""))


def value_of(item: Mapping[str, Any]) -> float:
    """An instant answer's value, NaN when it has none."""
    try:
        return float(item["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return math.nan


@dataclass
class PodInfo:
    node: str = ""
    owner_kind: str = ""
    owner_name: str = ""


@dataclass
class KubeMeta:
    """Everything kube-state-metrics (and cAdvisor's machine metrics) told us."""

    pods: dict[tuple[str, str], PodInfo] = field(default_factory=dict)
    replicasets: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    jobs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    declared: dict[Key, dict[str, float]] = field(default_factory=dict)
    images: dict[Key, str] = field(default_factory=dict)
    restarts: dict[Key, int] = field(default_factory=dict)
    oom_reason: set[Key] = field(default_factory=set)
    oom_counter: set[Key] = field(default_factory=set)
    nodes: dict[str, dict[str, float]] = field(default_factory=dict)

    def pod(self, namespace: str, pod: str) -> PodInfo:
        return self.pods.setdefault((namespace, pod), PodInfo())

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


def meta_queries(ns: str, lookback: str) -> dict[str, str]:
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


def read_meta(
    api: PrometheusClient,
    ns: str,
    cadvisor: str,
    lookback: str,
    at: float,
    summary: PrometheusSummary,
) -> KubeMeta:
    meta = KubeMeta()
    q = meta_queries(ns, lookback)
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
            v = value_of(item)
            if math.isnan(v):
                continue
            found_declared = True
            slot = f"{m.get('resource', '')}_{'request' if which == 'requests' else 'limit'}"
            meta.declared.setdefault(key_of(m), {})[slot] = v
    if not found_declared:
        summary.missing.append("kube_pod_container_resource_requests/limits (no declared values)")
    for item in api.instant(q["image"], at):
        meta.images[key_of(item["metric"])] = item["metric"].get("image", "")
    for item in api.instant(q["restarts"], at):
        v = value_of(item)
        if not math.isnan(v):
            meta.restarts[key_of(item["metric"])] = int(v)
    for item in api.instant(q["oom_reason"], at):
        meta.oom_reason.add(key_of(item["metric"]))
    counter_q = f"max by ({_BY}) (increase({OOM_EVENTS}{{{cadvisor}}}[{lookback}])) > 0"
    for item in api.instant(counter_q, at):
        meta.oom_counter.add(key_of(item["metric"]))
    # nodes: kube-state-metrics capacity, else cAdvisor machine metrics
    node_sel = _selector('resource=~"cpu|memory"')
    for item in api.instant(
        f"last_over_time(kube_node_status_capacity{{{node_sel}}}[{lookback}])", at
    ):
        m = item["metric"]
        meta.nodes.setdefault(m.get("node", ""), {})[m.get("resource", "")] = value_of(item)
    if not meta.nodes:
        query = (
            "max by (node, instance, __name__) "
            f'(last_over_time({{__name__=~"machine_cpu_cores|machine_memory_bytes"}}[{lookback}]))'
        )
        for item in api.instant(query, at):
            m = item["metric"]
            node = m.get("node") or m.get("instance", "")
            slot = "cpu" if m.get("__name__") == "machine_cpu_cores" else "memory"
            meta.nodes.setdefault(node, {})[slot] = value_of(item)
    return meta


def workload_of(key: Key, meta: KubeMeta) -> str:
    """``namespace/<owner>/container``, as the container row's ``workload``."""
    from rightsize.analysis.workloads import owner_from_pod

    namespace, pod, container = key
    owner = meta.owner(namespace, pod)
    return f"{namespace}/{owner if owner is not None else owner_from_pod(pod)}/{container}"
