"""Plain Docker containers from cAdvisor series in Prometheus or VictoriaMetrics (issue 16).

A standalone cAdvisor (``gcr.io/cadvisor/cadvisor`` on each Docker host,
scraped by Prometheus, VictoriaMetrics, Thanos or Mimir) exports no
``namespace``/``pod``/``container`` labels, so the Kubernetes path of
:mod:`rightsize.sources.prometheus.reader` finds nothing. This module reads those
series by cAdvisor's own Docker labels; ``collect_prometheus`` calls
:func:`discover` and :func:`collect` on its :class:`.plan.Plan`, so one call
reads a Kubernetes cluster, a Docker fleet, or both.

- **identity**: a container is one (``host_label``, ``id``) pair: the host is
  the ``instance`` label (or another ``host_label``), ``id`` is the cgroup
  (``/docker/<id>``, ``/system.slice/docker-<id>.scope``; the 64-hex id is
  the stored container id), ``name`` and ``image`` are cAdvisor's labels.
  ``container_label_*`` are the Docker labels, sanitised by Prometheus
  (``com.docker.compose.service`` → ``container_label_com_docker_compose_service``):
  the labels the analysis groups by (Compose, cri-dockerd's ``io.kubernetes.*``)
  are given back their dotted names, others keep the sanitised one. So a Compose
  service on two hosts is one workload with two containers. ``container_env_*``
  is never read. Series with a ``pod`` label (the kubelet's cAdvisor) are left
  to the Kubernetes path.
- **declared**: ``cpu_limit`` = ``container_spec_cpu_quota / container_spec_cpu_period``;
  ``cpu_request`` from ``container_spec_cpu_shares`` (/1024, or the kubelet's
  reverse mapping for ``io.kubernetes.*`` containers); the kernel defaults
  (1,024 shares on cgroup v1, 2,597 = cAdvisor's reading of ``cpu.weight`` 100
  on v2) and ≤ 2 mean no request; ``memory_limit``/``memory_request`` from
  ``container_spec_memory_limit_bytes``/``_reservation_limit_bytes`` (0 or ≥ 2^62
  = unlimited).
- **usage**: the same five counters as for Kubernetes, raw or aggregated at
  ``resolution`` with the same query (:func:`.plan.batch_query` grouped by
  ``<host>, id``) and the same rows (:func:`.rows.sample_rows`).
- **OOM kills**: increases of ``container_oom_events_total``, one ``oom_kill``
  event each. **hosts**: ``machine_cpu_cores``/``machine_memory_bytes`` per host.

Batches hold whole containers, at most ``max_points`` values per answer; the
next batch is fetched while the current one is written, so memory is bounded
by the batch size (two answers) plus one small record per container.

One piece: discovery, declared values, batches and OOM events all key on the
same (``host_label``, ``id``) identity and cAdvisor label rules.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from rightsize.rows import ContainerRow, EventRow, HostRow
from rightsize.sources.prometheus import client as prom
from rightsize.sources.prometheus.client import fetch_ahead
from rightsize.sources.prometheus.owners import value_of
from rightsize.sources.prometheus.plan import Plan, batch_query
from rightsize.sources.prometheus.rows import host_row, kill_events, sample_rows
from rightsize.store import Store

__all__ = ["Batch", "DockerContainer", "Plan", "collect", "discover", "docker_labels",
           "plan_batches"]

log = logging.getLogger("rightsize.prometheus")

#: Series of containers cAdvisor names (Docker, containerd), not the kubelet's pod containers.
DOCKER_MATCHERS = 'name!="", id!="", pod=""'
SPEC_QUOTA = "container_spec_cpu_quota"
SPEC_PERIOD = "container_spec_cpu_period"
SPEC_SHARES = "container_spec_cpu_shares"
SPEC_MEMORY = "container_spec_memory_limit_bytes"
SPEC_RESERVATION = "container_spec_memory_reservation_limit_bytes"
#: cpu.shares that mean "not set": the v1 default, and cAdvisor's reading of weight 100 on v2.
DEFAULT_SHARES = (1024, 2597)
#: Memory limits at or above this are "unlimited" (v1 reports 2^63 - 4096).
UNLIMITED_BYTES = 2**62
_LABEL_PREFIX = "container_label_"
#: Docker labels the analysis reads, by their Prometheus-sanitised name.
_KNOWN_LABELS = {
    re.sub(r"[^a-zA-Z0-9_]", "_", name): name
    for name in (
        "com.docker.compose.project",
        "com.docker.compose.service",
        "com.docker.compose.container-number",
        "com.docker.compose.oneoff",
        "com.docker.compose.version",
        "com.docker.stack.namespace",
        "com.docker.swarm.service.name",
        "io.kubernetes.pod.name",
        "io.kubernetes.pod.namespace",
        "io.kubernetes.pod.uid",
        "io.kubernetes.container.name",
        "io.kubernetes.docker.type",
        "io.kubernetes.sandbox.id",
    )
}
#: the hosts' ``api_version``
API = "prometheus (cAdvisor)"
_HEX_ID = re.compile(r"([0-9a-f]{64})(?:\.scope)?$")

DockerKey = tuple[str, str]  # host label value, cgroup id


@dataclass
class DockerContainer:
    """One container as cAdvisor names it."""

    host: str
    cgroup: str
    name: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def container_id(self) -> str:
        """The engine's container id when the cgroup holds one, else the cgroup path."""
        m = _HEX_ID.search(self.cgroup)
        return m.group(1) if m else self.cgroup


def docker_labels(metric: Mapping[str, str]) -> dict[str, str]:
    """The Docker labels of a cAdvisor series (``container_label_*``), dotted where known."""
    out: dict[str, str] = {}
    for key, value in metric.items():
        if key.startswith(_LABEL_PREFIX) and value:
            short = key[len(_LABEL_PREFIX) :]
            out[_KNOWN_LABELS.get(short, short)] = value
    return out


def _check_host_label(host_label: str) -> str:
    if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", host_label):
        from rightsize.errors import UsageError

        raise UsageError(
            f"invalid host label {host_label!r}: expected a Prometheus label name, e.g. instance"
        )
    return host_label


def discover(
    api: prom.PrometheusClient,
    selector: str,
    since: float,
    end: float,
    host_label: str = "instance",
) -> list[DockerContainer]:
    """The Docker containers with usage series in the window (one ``/api/v1/series`` call)."""
    hl = _check_host_label(host_label)
    names = f'__name__=~"{prom.MEMORY}|{prom.CPU}"'
    sel = prom._selector(names, DOCKER_MATCHERS, selector)
    found: dict[DockerKey, DockerContainer] = {}
    for m in api.series(f"{{{sel}}}", since, end):
        if m.get("pod") or not m.get("name") or not m.get("id"):
            continue  # the matchers again, for servers that apply them loosely
        key = (m.get(hl, "") or "unknown-host", m.get("id", ""))
        c = found.get(key)
        if c is None:
            c = found[key] = DockerContainer(key[0], key[1], m.get("name", ""), "")
        c.image = c.image or m.get("image", "")
        c.labels.update(docker_labels(m))
    return [found[k] for k in sorted(found)]


def _cpu_request(shares: float | None, labels: Mapping[str, str]) -> float | None:
    """As ``docker/payloads.py``: shares / 1024, or the kubelet's reverse mapping."""
    if shares is None or not math.isfinite(shares) or round(shares) in DEFAULT_SHARES:
        return None
    s = round(shares)
    if labels.get("io.kubernetes.container.name"):
        return None if s <= 2 else -(-s * 1000 // 1024) / 1000
    return None if s <= 2 else s / 1024


def _bytes(v: float | None) -> int | None:
    if v is None or not math.isfinite(v) or v <= 0 or v >= UNLIMITED_BYTES:
        return None
    return round(v)


def _by(plan: Plan) -> str:
    return f"{plan.host_label}, id"


def _key(metric: Mapping[str, str], plan: Plan) -> DockerKey:
    return (metric.get(plan.host_label, "") or "unknown-host", metric.get("id", ""))


def _instant_by_key(
    api: prom.PrometheusClient, query: str, plan: Plan
) -> dict[DockerKey, float]:
    out: dict[DockerKey, float] = {}
    for item in api.instant(query, plan.end):
        v = value_of(item)
        if math.isfinite(v):
            out[_key(item.get("metric") or {}, plan)] = v
    return out


def _declared(
    api: prom.PrometheusClient, plan: Plan, sel: str
) -> dict[str, dict[DockerKey, float]]:
    """The last value in the window of each ``container_spec_*`` metric, per container."""
    out = {}
    for name in (SPEC_QUOTA, SPEC_PERIOD, SPEC_SHARES, SPEC_MEMORY, SPEC_RESERVATION):
        query = f"max by ({_by(plan)}) (last_over_time({name}{{{sel}}}[{plan.lookback}]))"
        out[name] = _instant_by_key(api, query, plan)
    return out


def _host_info(api: prom.PrometheusClient, plan: Plan) -> dict[str, HostRow]:
    """Host rows from cAdvisor's machine metrics and ``cadvisor_version_info`` (two queries)."""
    hl = plan.host_label
    machine: dict[str, dict[str, float]] = {}
    names = '__name__=~"machine_cpu_cores|machine_memory_bytes"'
    query = (
        f"max by ({hl}, __name__) "
        f"(last_over_time({{{prom._selector(names, plan.selector)}}}[{plan.lookback}]))"
    )
    for item in api.instant(query, plan.end):
        m = item.get("metric") or {}
        try:
            machine.setdefault(m.get(hl, ""), {})[m.get("__name__", "")] = float(item["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    versions: dict[str, str] = {}
    vsel = prom._selector(plan.selector)
    for item in api.instant(
        f"last_over_time(cadvisor_version_info{{{vsel}}}[{plan.lookback}])", plan.end
    ):
        m = item.get("metric") or {}
        if m.get("dockerVersion"):
            versions[m.get(hl, "")] = m["dockerVersion"]
    rows = {}
    for host in set(machine) | set(versions):
        cap = machine.get(host, {})
        cpu = cap.get("machine_cpu_cores", math.nan)
        memory = cap.get("machine_memory_bytes", math.nan)
        rows[host] = host_row(host, cpu, memory, versions.get(host, "docker"), API)
    return rows


def _container_row(
    c: DockerContainer, declared: Mapping[str, Mapping[DockerKey, float]]
) -> ContainerRow:
    key = (c.host, c.cgroup)
    quota = declared[SPEC_QUOTA].get(key)
    period = declared[SPEC_PERIOD].get(key) or 100_000.0
    cpu_limit = quota / period if quota is not None and quota > 0 and period > 0 else None
    return ContainerRow(
        host=c.host,
        container_id=c.container_id,
        name=c.name,
        image=c.image,
        labels=dict(c.labels),
        workload=None,
        cpu_request=_cpu_request(declared[SPEC_SHARES].get(key), c.labels),
        cpu_limit=cpu_limit,
        memory_request=_bytes(declared[SPEC_RESERVATION].get(key)),
        memory_limit=_bytes(declared[SPEC_MEMORY].get(key)),
        cpuset_cpus=None,
        restart_count=0,
        oom_killed=False,
        started_at=None,
        os_type="linux",
    )


#: Bytes of host and id matchers in one batch query (VictoriaMetrics refuses queries over
#: 16 KiB by default, ``-search.maxQueryLen``; an aggregated query repeats its selector 3 times).
MAX_MATCHER_BYTES = 4_000


@dataclass(frozen=True)
class Batch:
    """Containers read by one range query: whole hosts, or part of one host by id."""

    containers: tuple[DockerContainer, ...]
    hosts: tuple[str, ...]
    by_id: bool


def _host_value(host: str) -> str:
    return "" if host == "unknown-host" else host


def _batch_matchers(batch: Batch, plan: Plan) -> str:
    hosts = f'{plan.host_label}=~"{prom._regex_alternation(_host_value(h) for h in batch.hosts)}"'
    if not batch.by_id:
        return hosts
    return f'{hosts}, id=~"{prom._regex_alternation(c.cgroup for c in batch.containers)}"'


def plan_batches(
    containers: Sequence[DockerContainer], per_batch: int, max_bytes: int = MAX_MATCHER_BYTES
) -> Iterator[Batch]:
    """Batches of at most ``per_batch`` containers and ``max_bytes`` of matchers.

    Whole hosts are selected by the host label alone (short queries whatever
    the number of containers); a host with more containers than a batch takes
    is split by an ``id`` regex.
    """
    by_host: dict[str, list[DockerContainer]] = {}
    for c in containers:
        by_host.setdefault(c.host, []).append(c)
    group: list[DockerContainer] = []
    hosts: list[str] = []
    size = 0
    for host in sorted(by_host):
        members = by_host[host]
        cost = len(prom._regex_alternation([_host_value(host)])) + 1
        if group and (len(group) + len(members) > per_batch or size + cost > max_bytes):
            yield Batch(tuple(group), tuple(hosts), False)
            group, hosts, size = [], [], 0
        if len(members) <= per_batch:
            group.extend(members)
            hosts.append(host)
            size += cost
            continue
        chunk: list[DockerContainer] = []
        used = cost
        for c in members:  # one host too large for a batch: split it by id
            c_cost = len(prom._regex_alternation([c.cgroup])) + 1
            if chunk and (len(chunk) >= per_batch or used + c_cost > max_bytes):
                yield Batch(tuple(chunk), (host,), True)
                chunk, used = [], cost
            chunk.append(c)
            used += c_cost
        yield Batch(tuple(chunk), (host,), True)
    if group:
        yield Batch(tuple(group), tuple(hosts), False)


def _oom_events(
    api: prom.PrometheusClient, plan: Plan, sel: str, written: Mapping[DockerKey, DockerContainer]
) -> list[EventRow]:
    """One ``oom_kill`` event per increase of ``container_oom_events_total``."""
    query = (
        f"max by ({_by(plan)}) (increase({prom.OOM_EVENTS}{{{sel}}}[{plan.lookback}])) > 0"
    )
    hit = [written[k] for k in sorted(_instant_by_key(api, query, plan)) if k in written]
    events: list[EventRow] = []
    per_batch = max(1, plan.max_points // max(1, plan.npoints))
    for batch in plan_batches(hit, per_batch):
        batch_sel = prom._selector(sel, _batch_matchers(batch, plan))
        q = f"max by ({_by(plan)}) ({prom.OOM_EVENTS}{{{batch_sel}}})"
        for series in api.range(q, plan.start, plan.end, plan.step):
            c = written.get(_key(series.get("metric") or {}, plan))
            if c is None:
                continue
            for t, n in prom._increases(series.get("values") or []):
                events += kill_events(c.host, c.container_id, c.name, t, n)
    return events


def collect(
    api: prom.PrometheusClient,
    store: Store,
    containers: Sequence[DockerContainer],
    plan: Plan,
    summary: prom.PrometheusSummary,
    on_batch: Callable[[prom.PrometheusSummary], None] | None = None,
) -> int:
    """Copy the Docker containers' window into ``store``; returns the containers written.

    Adds to ``summary`` (containers, hosts, samples, batches, events, points).
    """
    if not containers:
        return 0
    sel = prom._selector(DOCKER_MATCHERS, plan.selector)
    declared = _declared(api, plan, sel)
    batches = list(plan_batches(containers, plan.per_batch))
    written: dict[DockerKey, DockerContainer] = {}
    hosts: set[str] = set()
    base_containers, base_hosts = summary.containers, summary.hosts
    host_info = _host_info(api, plan)

    def fetch(batch: Batch) -> list[dict[str, Any]]:
        return api.range(
            batch_query(prom._selector(sel, _batch_matchers(batch, plan)), plan, _by(plan)),
            plan.start,
            plan.end,
            plan.step,
        )

    def key_of(metric: Mapping[str, str]) -> DockerKey:
        return _key(metric, plan)

    with closing(fetch_ahead(batches, fetch)) as answers:
        for i, (batch, result) in enumerate(answers):
            summary.points += sum(len(s.get("values") or ()) for s in result)
            present = {_key(s.get("metric") or {}, plan) for s in result if s.get("values")}
            batch_written = [c for c in batch.containers if (c.host, c.cgroup) in present]
            new_hosts = {c.host for c in batch_written} - hosts
            hosts |= new_hosts
            written.update({(c.host, c.cgroup): c for c in batch_written})
            summary.samples += store.write(
                containers=[_container_row(c, declared) for c in batch_written],
                hosts=[
                    host_info.get(h) or host_row(h, math.nan, math.nan, "docker", API)
                    for h in sorted(new_hosts)
                ],
                samples=sample_rows(
                    result, {(c.host, c.cgroup): (c.host, c.container_id) for c in batch_written},
                    key_of, plan),
            )
            summary.batches += 1
            summary.containers = base_containers + len(written)
            summary.hosts = base_hosts + len(hosts)
            summary.queries, summary.bytes = api.queries, api.bytes
            if on_batch is not None:
                on_batch(summary)
            log.info("docker batch %d: %d containers, %d samples so far",
                     i + 1, len(batch.containers), summary.samples)
    events = _oom_events(api, plan, sel, written)
    store.write(events=events)
    summary.events += len(events)
    return len(written)
