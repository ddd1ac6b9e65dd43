"""Sample pod containers from the kubelet Summary API (``GET /stats/summary``).

The Summary API (kubernetes/kubelet ``pkg/apis/stats/v1alpha1`` types) gives,
per node, every pod's containers with ``cpu.usageCoreNanoSeconds`` (cumulative:
stored as ``cpu_total_ns``), ``memory.workingSetBytes``, ``rssBytes`` and
``usageBytes``, each stamped with the kubelet's ``time`` (the sample's ``ts``).
Every field is an optional pointer; a container without CPU or memory yet
(just started) is skipped for that poll.

:func:`rightsize.collect.kubelet.collect_kubelet` polls one or more kubelets (``https://node:10250``
or the API server proxy ``https://apiserver/api/v1/nodes/NODE/proxy``) every
``interval`` seconds, like the Docker collector: one transaction per round,
until ``samples`` rounds, ``duration`` seconds or ``stop``. The kubelet
refreshes its stats every 10-15 s; a poll that returns an unchanged ``time``
adds nothing (the store ignores duplicate readings).

Rows: ``container_id`` = ``namespace/pod/container`` (as the Prometheus source
writes it), host = the node name, Kubernetes pod labels so the analysis
groups ``namespace/owner/container`` (owner inferred from the pod name).
A new container ``startTime`` is a ``restart`` event. The Summary API has
no declared values, throttling counters or OOM kills: declared values come
from ``--manifests``; node CPU count is not reported (0), node memory is
``availableBytes + workingSetBytes``.

Each poll must finish within ``timeout`` seconds in total (default 30 s,
``RIGHTSIZE_TIMEOUT`` overrides it), however slowly the kubelet answers. URLs
are shown (and used as a node's fallback name) with any password masked.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from rightsize.errors import RuntimeFailure
from rightsize.logs import redact
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow, container_row
from rightsize.sources.http import unreachable_error

__all__ = ["DEFAULT_TIMEOUT", "KubeletClient", "Snapshot", "parse_summary", "summary_path"]

log = logging.getLogger("rightsize.kubelet")

SUMMARY_PATH = "/stats/summary"
DEFAULT_TIMEOUT = 30.0


def summary_path(url: str) -> tuple[str, str]:
    """(base URL, path) of the Summary API for a kubelet or API-server-proxy URL."""
    base = url.rstrip("/")
    if base.endswith(SUMMARY_PATH):
        base = base[: -len(SUMMARY_PATH)]
    return base, SUMMARY_PATH


def parse_time(value: object) -> float | None:
    """RFC 3339 (``2020-04-20T22:52:23Z``, fractions up to ns) → Unix seconds."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:  # Python parses at most 6 fractional digits
        head, _, rest = text.partition(".")
        n = len(rest) - len(rest.lstrip("0123456789"))
        digits, zone = rest[:n], rest[n:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass
class Snapshot:
    """The rows of one ``/stats/summary`` answer."""

    host: HostRow
    containers: list[ContainerRow] = field(default_factory=list)
    samples: list[SampleRow] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)  # container_id → startTime


def parse_summary(
    doc: object, *, fallback_host: str, namespaces: Sequence[str] | None = None
) -> Snapshot:
    """Rows from one Summary API document; raises RuntimeFailure when it is not one."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("node"), Mapping):
        raise RuntimeFailure(
            f"{fallback_host}{SUMMARY_PATH} did not return a kubelet Summary "
            "(expected a JSON object with `node` and `pods`)"
        )
    node = _dict(doc["node"])
    name = str(node.get("nodeName") or fallback_host)
    memory = _dict(node.get("memory"))
    available, working = _int(memory.get("availableBytes")), _int(memory.get("workingSetBytes"))
    host = HostRow(
        host=name,
        name=name,
        ncpu=0,
        mem_total=(available + working) if available is not None and working is not None else 0,
        engine_version="kubelet",
        api_version="stats/v1alpha1",
        cgroup_version="",
        os_type="linux",
    )
    snap = Snapshot(host=host)
    allowed = set(namespaces) if namespaces else None
    pods = doc.get("pods")
    for pod in pods if isinstance(pods, list) else ():
        ref = _dict(_dict(pod).get("podRef"))
        namespace, pod_name = str(ref.get("namespace") or ""), str(ref.get("name") or "")
        if not namespace or not pod_name or (allowed is not None and namespace not in allowed):
            continue
        containers = _dict(pod).get("containers")
        for c in containers if isinstance(containers, list) else ():
            c = _dict(c)
            cname = str(c.get("name") or "")
            if not cname or cname == "POD":
                continue
            cpu, mem = _dict(c.get("cpu")), _dict(c.get("memory"))
            cpu_ns = _int(cpu.get("usageCoreNanoSeconds"))
            ws = _int(mem.get("workingSetBytes"))
            ts = parse_time(cpu.get("time")) or parse_time(mem.get("time"))
            if ts is None or (cpu_ns is None and ws is None):
                continue
            cid = f"{namespace}/{pod_name}/{cname}"
            started = parse_time(c.get("startTime"))
            if started is not None:
                snap.started[cid] = started
            snap.containers.append(
                container_row(
                    name,
                    cid,
                    f"{pod_name}/{cname}",
                    labels={
                        "io.kubernetes.pod.namespace": namespace,
                        "io.kubernetes.pod.name": pod_name,
                        "io.kubernetes.container.name": cname,
                        "io.kubernetes.pod.uid": str(ref.get("uid") or ""),
                    },
                    started_at=started,
                )
            )
            snap.samples.append(
                SampleRow(
                    host=name,
                    container_id=cid,
                    ts=ts,
                    cpu_total_ns=cpu_ns,
                    cpu_cores=None,
                    system_cpu_ns=None,
                    online_cpus=None,
                    periods=None,
                    throttled_periods=None,
                    throttled_ns=None,
                    mem_usage=_int(mem.get("usageBytes")),
                    mem_working_set=ws,
                    mem_rss=_int(mem.get("rssBytes")),
                    mem_limit=None,
                    mem_failcnt=None,
                    pids=None,
                    oom_kills_total=None,
                )
            )
    return snap


class KubeletClient:
    """One kubelet's Summary API, polled with a total deadline; restarts seen between polls."""


    def __init__(
        self, url: str, client: httpx.AsyncClient, path: str, deadline: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = redact(url)  # for messages and as the fallback node name
        self.client = client
        self.path = path
        self.deadline = deadline
        self.started: dict[str, float] = {}

    async def poll(self, namespaces: Sequence[str] | None) -> Snapshot:
        try:
            async with asyncio.timeout(self.deadline):
                response = await self.client.get(
                    self.path, params={"only_cpu_and_memory": "true"}
                )
        except TimeoutError as exc:
            raise RuntimeFailure(
                f"the kubelet at {self.url} did not answer {self.path} within "
                f"{self.deadline:g}s (a total deadline; RIGHTSIZE_TIMEOUT sets it)"
            ) from exc
        except httpx.HTTPError as exc:
            raise unreachable_error("the kubelet", self.url, exc) from exc
        if response.status_code in (401, 403):
            raise RuntimeFailure(
                f"the kubelet at {self.url} refused {self.path} (HTTP {response.status_code}): "
                "pass a bearer token allowed to get nodes/stats (or nodes/proxy via the API server)"
            )
        if response.status_code >= 400:
            raise RuntimeFailure(
                f"the kubelet at {self.url} answered HTTP {response.status_code} for {self.path}: "
                f"{response.text[:200].strip()}; is the URL a kubelet (https://NODE:10250) or "
                "https://APISERVER/api/v1/nodes/NODE/proxy?"
            )
        try:
            doc = response.json()
        except ValueError as exc:
            raise RuntimeFailure(
                f"the kubelet at {self.url} did not return JSON for {self.path}"
            ) from exc
        return parse_summary(doc, fallback_host=self.url, namespaces=namespaces)

    def restarts(self, snap: Snapshot) -> list[EventRow]:
        """A ``restart`` event for every container whose startTime moved since the last poll."""
        events = []
        for cid, started in snap.started.items():
            before = self.started.get(cid)
            if before is not None and started > before:
                events.append(
                    EventRow(
                        host=snap.host["host"],
                        container_id=cid,
                        ts=started,
                        action="restart",
                        exit_code=None,
                        name=cid.split("/", 1)[1],
                    )
                )
            self.started[cid] = started
        return events
