"""Read a Kubernetes cluster's history from Prometheus (cAdvisor + kube-state-metrics).

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
- **events**: one ``oom`` event per OOM kill: a restart while
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
Pushing the statistics down (``quantile_over_time``/``max_over_time`` per
container, as KRR does) would cut the transfer to a few numbers per container
but gives up what the analysis needs from the raw series: pooled percentiles
across replicas, gap and restart handling, throttling shares per interval,
backtests and charts. It is not implemented; ``step`` is the lever for now.

Errors: a malformed URL or option is a :class:`UsageError`; an unreachable
server, a refused credential, or a query Prometheus rejects (its ``error``
field, the URL and the query are named) is a :class:`RuntimeFailure`.
"""

from __future__ import annotations

import logging
import math
import re
import ssl
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from rightsize import __version__
from rightsize.errors import RuntimeFailure, UsageError
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow
from rightsize.store import Store

__all__ = [
    "COUNTER_METRICS",
    "PrometheusClient",
    "PrometheusSummary",
    "choose_step",
    "client_options",
    "collect_prometheus",
    "http_client",
    "unreachable_error",
]

log = logging.getLogger("rightsize.prometheus")

#: Prometheus refuses range queries above this many points per series.
MAX_POINTS_PER_SERIES = 11_000
MIN_STEP = 60.0
#: Default cap on points (series x steps) in one range-query answer (~50 MB of JSON).
DEFAULT_MAX_POINTS = 2_000_000
DEFAULT_TIMEOUT = 120.0
HEADERS = {"User-Agent": f"rightsize/{__version__}", "Accept": "application/json"}

CPU = "container_cpu_usage_seconds_total"
MEMORY = "container_memory_working_set_bytes"
PERIODS = "container_cpu_cfs_periods_total"
THROTTLED = "container_cpu_cfs_throttled_periods_total"
THROTTLED_SECONDS = "container_cpu_cfs_throttled_seconds_total"
OOM_EVENTS = "container_oom_events_total"
RESTARTS = "kube_pod_container_status_restarts_total"
LAST_TERMINATED = "kube_pod_container_status_last_terminated_reason"

#: The cAdvisor series read as raw samples, in one query per batch.
COUNTER_METRICS: tuple[str, ...] = (CPU, MEMORY, PERIODS, THROTTLED, THROTTLED_SECONDS)
_CONTAINER_FILTER = 'container!="", container!="POD"'
_BY = "namespace, pod, container"

Key = tuple[str, str, str]  # namespace, pod, container


# --------------------------------------------------------------------------- HTTP


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid {what} URL {url!r}: expected http(s)://host[:port][/path], "
            "e.g. http://prometheus:9090"
        )
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise UsageError(f"invalid {what} URL {url!r}: {exc}") from exc
    return url.rstrip("/")


def _ssl_context(
    ca_file: str | None, insecure: bool, cert: tuple[str, str] | None
) -> ssl.SSLContext:
    try:
        if insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=ca_file)
        if cert is not None:
            ctx.load_cert_chain(certfile=cert[0], keyfile=cert[1])
    except (OSError, ssl.SSLError) as exc:
        source = ca_file if cert is None else f"{ca_file or 'system CAs'}, {cert[0]}"
        raise UsageError(f"cannot load TLS material ({source}): {exc}") from exc
    return ctx


def client_options(
    url: str,
    *,
    what: str,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    client_cert: tuple[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Keyword arguments for an ``httpx.Client``/``AsyncClient`` talking to ``url``.

    Bearer token or basic auth; ``ca_file``: CA bundle to verify the server
    with; ``insecure``: skip verification; ``client_cert``: (cert, key) files.
    A malformed URL or unreadable TLS material is a :class:`UsageError`.
    """
    base = _check_url(url, what)
    if token and basic_auth:
        raise UsageError(f"{what}: give a bearer token or basic auth, not both")
    headers = dict(HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token.strip()}"
    verify: ssl.SSLContext | bool = True
    if base.startswith("https://"):
        verify = _ssl_context(ca_file, insecure, client_cert)
    return {
        "base_url": base,
        "headers": headers,
        "auth": httpx.BasicAuth(*basic_auth) if basic_auth else None,
        "verify": verify,
        "timeout": httpx.Timeout(timeout, connect=10.0),
        "follow_redirects": True,
    }


def http_client(
    url: str,
    *,
    what: str,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> httpx.Client:
    """A sync client for ``url`` (see :func:`client_options` for ``options``)."""
    return httpx.Client(transport=transport, **client_options(url, what=what, **options))


def unreachable_error(what: str, url: str, exc: Exception) -> RuntimeFailure:
    """The one-line RuntimeFailure for a server that did not answer ``exc``."""
    if isinstance(exc, httpx.TimeoutException):
        hint = "it did not answer in time; raise the timeout or query a shorter window"
    elif isinstance(exc, httpx.ConnectError) and "CERTIFICATE" in str(exc).upper():
        hint = "its TLS certificate was not trusted; pass its CA file or the insecure flag"
    else:
        hint = "check the URL and that the server is running and reachable from here"
    return RuntimeFailure(f"cannot reach {what} at {url}: {exc}; {hint}")


class PrometheusClient:
    """The two Prometheus HTTP API calls the source needs, with error mapping.

    Queries are POSTed (form-encoded), so long pod regexes never hit URL limits.
    ``queries`` counts the API calls made.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self.url = str(client.base_url).rstrip("/")
        self.queries = 0
        self.bytes = 0

    def close(self) -> None:
        self._client.close()

    def _call(self, path: str, data: Mapping[str, str], query: str) -> Any:
        self.queries += 1
        try:
            response = self._client.post(path, data=data)
        except httpx.HTTPError as exc:
            raise unreachable_error("Prometheus", self.url, exc) from exc
        self.bytes += len(response.content)
        status = response.status_code
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or "status" not in doc:
            if status in (401, 403):
                raise RuntimeFailure(
                    f"Prometheus at {self.url} refused the request (HTTP {status}): "
                    "pass a bearer token or basic auth that may read it"
                )
            raise RuntimeFailure(
                f"{self.url}{path} did not answer like the Prometheus HTTP API "
                f"(HTTP {status}, {response.headers.get('content-type', 'no content type')}): "
                "point the URL at the server root (e.g. http://prometheus:9090, "
                "plus any path prefix it is served under)"
            )
        if doc["status"] != "success" or status >= 400:
            error = doc.get("error") or f"HTTP {status}"
            kind = doc.get("errorType", "")
            hint = ""
            if kind in ("timeout", "execution") or status in (422, 503):
                hint = "; try a larger step, a smaller batch (max_points) or a shorter window"
            raise RuntimeFailure(
                f"Prometheus at {self.url} rejected the query {query!r}: {error}"
                f" (HTTP {status}{', ' + kind if kind else ''}){hint}"
            )
        for warning in doc.get("warnings") or ():
            log.warning("Prometheus warning for %s: %s", query[:120], warning)
        return doc.get("data")

    def instant(self, query: str, at: float) -> list[dict[str, Any]]:
        """``/api/v1/query`` at ``at``: the result vector."""
        data = self._call("/api/v1/query", {"query": query, "time": _fmt(at)}, query)
        return list(data.get("result") or []) if isinstance(data, dict) else []

    def range(self, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """``/api/v1/query_range``: the result matrix."""
        data = self._call(
            "/api/v1/query_range",
            {"query": query, "start": _fmt(start), "end": _fmt(end), "step": _fmt(step)},
            query,
        )
        return list(data.get("result") or []) if isinstance(data, dict) else []

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        """``/api/v1/series``: label sets of the series matching ``match`` in the window."""
        data = self._call(
            "/api/v1/series",
            {"match[]": match, "start": _fmt(start), "end": _fmt(end)},
            match,
        )
        return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------- PromQL


_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _regex_alternation(values: Iterable[str]) -> str:
    """``a|b.c`` → ``a|b\\.c`` escaped for a PromQL string literal."""
    escaped = (_RE2_SPECIAL.sub(r"\\\1", v) for v in sorted(set(values)))
    return "|".join(escaped).replace("\\", "\\\\").replace('"', '\\"')


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _window(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


def choose_step(window: float, *, minimum: float = MIN_STEP) -> float:
    """The default step: whole seconds, at least ``minimum``, ≤ 11,000 points per series."""
    return float(max(math.ceil(minimum), math.ceil(window / (MAX_POINTS_PER_SERIES - 1))))


def _selector(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


# --------------------------------------------------------------------------- rows


@dataclass
class PrometheusSummary:
    """What one :func:`collect_prometheus` call read and wrote."""

    url: str
    start: float
    end: float
    step: float
    queries: int = 0
    batches: int = 0
    bytes: int = 0
    containers: int = 0
    samples: int = 0
    events: int = 0
    hosts: int = 0
    oom_killed: int = 0
    seconds: float = 0.0
    missing: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """A one-line account, for logs and the CLI."""
        line = (
            f"{self.containers} containers, {self.samples} samples, {self.events} events, "
            f"{self.hosts} nodes from {self.url} (step {self.step:g}s, {self.queries} queries, "
            f"{self.bytes / 1e6:.1f} MB, {self.seconds:.1f}s)"
        )
        if self.missing:
            line += "; not found: " + ", ".join(self.missing)
        return line


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


def _series_points(values: Sequence[Sequence[Any]]) -> Iterator[tuple[float, float]]:
    for t, v in values:
        try:
            yield float(t), float(v)
        except (TypeError, ValueError):
            continue


def _ints(values: Any, scale: float) -> list[int | None]:
    """A float column (NaN or ±Inf = missing) as rounded Python ints and None."""
    import numpy as np

    missing = ~np.isfinite(values)
    ints = np.rint(np.where(missing, 0.0, values) * scale).astype(np.int64).tolist()
    if not missing.any():
        return list(ints)
    return [None if m else v for v, m in zip(ints, missing.tolist(), strict=True)]


def _sample_rows(
    result: list[dict[str, Any]],
    wanted: set[Key],
    node_of: Callable[[Key], str],
    start: float,
    step: float,
    npoints: int,
) -> Iterator[SampleRow]:
    """Merge the per-metric series of a batch into one SampleRow per container and step.

    Values are placed on the query's step grid (numpy, one array per
    container); several series of one metric and container are merged with max.
    """
    import numpy as np

    column = {name: i for i, name in enumerate(COUNTER_METRICS)}
    table: dict[Key, Any] = {}
    for series in result:
        metric = series.get("metric") or {}
        key, name = _key(metric), metric.get("__name__", "")
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
            table[key] = np.full((npoints, len(COUNTER_METRICS)), np.nan)
        col = table[key][:, column[name]]
        col[idx[ok]] = np.fmax(col[idx[ok]], points[ok, 1])
    times = start + step * np.arange(npoints)
    for key in sorted(table):
        grid = table[key]
        keep = ~np.isnan(grid[:, column[CPU]]) | ~np.isnan(grid[:, column[MEMORY]])
        if not keep.any():
            continue
        g = grid[keep]
        ts = times[keep].tolist()
        cpu = _ints(g[:, column[CPU]], 1e9)
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
                cpu_cores=None,
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
            )


def _increases(values: Sequence[Sequence[Any]]) -> Iterator[tuple[float, int]]:
    """(ts, n) for every increase of a counter series; a drop is a reset counting from 0."""
    prev: float | None = None
    for t, v in _series_points(values):
        if prev is not None:
            delta = v - prev if v >= prev else v
            if delta >= 0.5:
                yield t, round(delta)
        prev = v


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
                action = "oom" if t in oom_at[key] else "restart"
                for _ in range(n if action == "oom" else 1):
                    events.append(_event(key, node_of, t, action))
                if action == "oom":
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
                events.extend(_event(key, node_of, t, "oom") for _ in range(n))
    # one restart event per timestamp is enough; duplicates would be ignored by the store anyway
    seen: set[tuple[str, float, str]] = set()
    out: list[EventRow] = []
    for e in events:
        k = (e["container_id"], e["ts"], e["action"])
        if e["action"] == "restart" and k in seen:
            continue
        seen.add(k)
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


def _container_row(key: Key, meta: _Meta, node: str) -> ContainerRow:
    from rightsize.analysis.workloads import owner_from_pod

    namespace, pod, container = key
    owner = meta.owner(namespace, pod)
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
        workload=f"{namespace}/{owner if owner is not None else owner_from_pod(pod)}/{container}",
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


def collect_prometheus(
    store: Store,
    url: str,
    *,
    since: float,
    until: float | None = None,
    step: float | None = None,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    client_cert: tuple[str, str] | None = None,
    namespaces: Sequence[str] | None = None,
    selector: str = "",
    max_points: int = DEFAULT_MAX_POINTS,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    on_batch: Callable[[PrometheusSummary], None] | None = None,
) -> PrometheusSummary:
    """Copy the window ``[since, until]`` (Unix seconds; ``until`` defaults to now) into ``store``.

    ``step``: seconds between samples (default :func:`choose_step`).
    ``namespaces``: only these namespaces. ``selector``: extra label matchers
    for the cAdvisor series, e.g. ``job="kubelet", metrics_path="/metrics/cadvisor"``.
    ``max_points``: cap on series x steps per range query (batch size).
    Each batch is committed on its own, so an interrupted copy keeps what it read.
    """
    t0 = time.monotonic()
    end = time.time() if until is None else float(until)
    if not math.isfinite(since) or since >= end:
        raise UsageError(f"empty Prometheus window: start {since} is not before end {end}")
    if step is not None and not step > 0:
        raise UsageError(f"invalid Prometheus step {step}: must be greater than zero")
    if max_points < 1:
        raise UsageError(f"invalid max_points {max_points}: must be at least 1")
    window = end - since
    step = float(step) if step is not None else choose_step(window)
    start, npoints = _grid(since, end, step)
    if npoints > MAX_POINTS_PER_SERIES:
        raise UsageError(
            f"step {step:g}s gives {npoints} points per series over the window; Prometheus "
            f"allows {MAX_POINTS_PER_SERIES}: use a step of at least "
            f"{choose_step(window, minimum=1):g}s"
        )
    ns = ""
    if namespaces:
        chosen = list(dict.fromkeys(namespaces))
        ns = (
            f"namespace={_quote(chosen[0])}"
            if len(chosen) == 1
            else f'namespace=~"{_regex_alternation(chosen)}"'
        )
    cadvisor = _selector(ns, _CONTAINER_FILTER, selector.strip().strip(","))
    lookback = _window(end - start + step)

    client = http_client(
        url,
        what="Prometheus",
        token=token,
        basic_auth=basic_auth,
        ca_file=ca_file,
        insecure=insecure,
        client_cert=client_cert,
        timeout=timeout,
        transport=transport,
    )
    api = PrometheusClient(client)
    summary = PrometheusSummary(url=api.url, start=start, end=end, step=step)
    try:
        # 1. which containers have usage series in the window (index lookup only)
        found = api.series(f"{MEMORY}{{{cadvisor}}}", start, end)
        found += api.series(f"{CPU}{{{cadvisor}}}", start, end)
        keys = sorted({k for k in map(_key, found) if all(k) and k[2] != "POD"})
        if not keys:
            scope = f" in namespaces {', '.join(namespaces)}" if namespaces else ""
            raise RuntimeFailure(
                f"Prometheus at {api.url} has no cAdvisor container series ({MEMORY}, {CPU})"
                f"{scope} between {_utc(start)} and {_utc(end)} UTC: does it scrape the "
                "kubelet's /metrics/cadvisor?"
            )
        known = set(keys)
        # 2. kube-state-metrics: owners, declared values, nodes, OOM kills
        meta = _read_meta(api, ns, cadvisor, lookback, end, summary)

        def node_of(key: Key) -> str:
            p = meta.pods.get((key[0], key[1]))
            return p.node if p is not None and p.node else "unknown-node"

        summary.oom_killed = len(meta.oom_reason & known)
        # 3. the counters, in batches of whole pods; a container is written with its samples
        per_batch = max(1, max_points // (npoints * len(COUNTER_METRICS)))
        names = "|".join(COUNTER_METRICS)
        nodes: set[str] = set()
        with_data: set[Key] = set()
        batches = list(_batches(keys, per_batch))

        def fetch(batch: list[Key]) -> list[dict[str, Any]]:
            query = (
                f"max by (__name__, {_BY}) "
                f'({{__name__=~"{names}", {_selector(cadvisor, _pod_matchers(batch))}}})'
            )
            return api.range(query, start, end, step)

        # the next batch is fetched while this one is written (one request in flight)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rightsize-prometheus")
        try:
            pending = pool.submit(fetch, batches[0])
            for i, batch in enumerate(batches):
                result = pending.result()
                if i + 1 < len(batches):
                    pending = pool.submit(fetch, batches[i + 1])
                wanted = set(batch)
                present = sorted(
                    {_key(s.get("metric") or {}) for s in result if s.get("values")} & wanted
                )
                new_nodes = {node_of(k) for k in present} - nodes
                nodes |= new_nodes
                with_data.update(present)
                summary.samples += store.write(
                    containers=[_container_row(k, meta, node_of(k)) for k in present],
                    hosts=_host_rows(meta, new_nodes),
                    samples=_sample_rows(result, wanted, node_of, start, step, npoints),
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
            pending.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
        if not with_data:
            raise RuntimeFailure(
                f"Prometheus at {api.url} returned no samples for the {len(keys)} containers "
                f"it lists between {_utc(start)} and {_utc(end)} UTC"
            )
        # 4. OOM kills with their times
        events = _oom_events(api, meta, with_data, cadvisor, start, end, step, node_of)
        store.write(events=events)
        summary.events = len(events)
    finally:
        summary.queries, summary.bytes = api.queries, api.bytes
        summary.seconds = time.monotonic() - t0
        api.close()
    return summary
