"""What a Prometheus copy reads and how: :class:`CopyOptions`, and their checks.

``collect_prometheus(store, url, options)`` takes one of these; the keyword
form ``collect_prometheus(store, url, since=..., ...)`` builds one from the
same names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from rightsize.errors import UsageError
from rightsize.sources.prometheus.client import (
    DEFAULT_MAX_POINTS,
    DEFAULT_POINTS_BUDGET,
    DEFAULT_TIMEOUT,
    MIN_STEP,
    PrometheusSummary,
)

__all__ = ["CopyOptions", "Scope"]


@dataclass(frozen=True)
class CopyOptions:
    """The window ``[since, until]`` (Unix seconds; ``until`` defaults to now) and how to read it.

    ``step``: seconds between raw samples (default :func:`choose_step`).
    ``resolution``: aggregate mode, the aggregation done by Prometheus: one
    sample per container every ``resolution`` seconds holding the counters at
    that time (exact interval averages) and the working set's maximum over the
    interval; ``"auto"``: :func:`choose_resolution` decides from the number of
    containers found and ``points_budget`` (raw at ``step`` when it fits).
    ``cpu_signal`` (aggregate mode): ``"mean"`` stores the CPU counter (the
    interval's average rate), ``"peak"`` the interval's largest rate over
    ``peak_step`` (as ``cpu_cores``, no counter).
    ``token``, ``basic_auth``, ``ca_file``, ``insecure``, ``client_cert``: how
    the server is reached (:mod:`rightsize.sources.http`).
    ``namespaces``: only these namespaces. ``pods``: only these
    ``namespace/pod``. ``workloads``: only the containers of these
    ``namespace/owner/container`` workloads (as the analysis names them), e.g.
    to re-fetch raw series of flagged workloads for charts.
    ``selector``: extra label matchers for the cAdvisor series, e.g.
    ``job="kubelet", metrics_path="/metrics/cadvisor"``.
    ``max_points``: cap on series x steps per range query (batch size).
    ``timeout``: seconds per request (``RIGHTSIZE_TIMEOUT`` overrides).
    ``transport``: an httpx transport (tests). ``on_batch``: called with the
    summary after each batch is committed. ``host_label``: the label naming
    the host of standalone-cAdvisor (Docker fleet) series.
    """

    since: float
    until: float | None = None
    step: float | None = None
    resolution: float | Literal["auto"] | None = None
    points_budget: int = DEFAULT_POINTS_BUDGET
    cpu_signal: Literal["mean", "peak"] = "mean"
    peak_step: float = MIN_STEP
    token: str | None = None
    basic_auth: tuple[str, str] | None = None
    ca_file: str | None = None
    insecure: bool = False
    client_cert: tuple[str, str] | None = None
    namespaces: Sequence[str] | None = None
    pods: Sequence[str] | None = None
    workloads: Sequence[str] | None = None
    selector: str = ""
    max_points: int = DEFAULT_MAX_POINTS
    timeout: float = DEFAULT_TIMEOUT
    transport: httpx.BaseTransport | None = None
    on_batch: Callable[[PrometheusSummary], None] | None = None
    host_label: str = "instance"
    tenant: str | None = None

    def connection(self) -> dict[str, Any]:
        """The keyword arguments of :func:`rightsize.sources.http.http_client` given here."""
        return {"token": self.token, "basic_auth": self.basic_auth, "ca_file": self.ca_file,
                "insecure": self.insecure, "client_cert": self.client_cert,
                "transport": self.transport, "tenant": self.tenant}

    @property
    def extra_selector(self) -> str:
        """``selector`` without surrounding blanks and commas."""
        return self.selector.strip().strip(",")

    def check(self, end: float) -> float | None:
        """A :class:`UsageError` for an empty window or a malformed option.

        Returns the fixed aggregate resolution (None: raw, or ``"auto"``).
        """
        since, step = self.since, self.step
        if not math.isfinite(since) or since >= end:
            raise UsageError(f"empty Prometheus window: start {since} is not before end {end}")
        if step is not None and not step > 0:
            raise UsageError(f"invalid Prometheus step {step}: must be greater than zero")
        if self.max_points < 1:
            raise UsageError(f"invalid max_points {self.max_points}: must be at least 1")
        if self.cpu_signal not in ("mean", "peak"):
            raise UsageError(
                f"invalid cpu_signal {self.cpu_signal!r}: expected 'mean' or 'peak'")
        if not self.peak_step > 0:
            raise UsageError(f"invalid peak_step {self.peak_step}: must be greater than zero")
        if self.points_budget < 1:
            raise UsageError(f"invalid points budget {self.points_budget}: must be at least 1")
        resolution = self.resolution
        auto = resolution == "auto"
        if isinstance(resolution, str) and not auto:
            raise UsageError(f"invalid resolution {resolution!r}: seconds or 'auto'")
        if not auto and resolution is not None:
            if not float(resolution) > 0:
                raise UsageError(f"invalid resolution {resolution}: must be greater than zero")
            if step is not None:
                raise UsageError("give a raw step or an aggregate resolution, not both")
        return None if auto or resolution is None else float(resolution)

    def scope(self) -> Scope:
        """The namespace, pod and workload filters (a :class:`UsageError` when malformed)."""
        ns_filter: set[str] | None = set(self.namespaces) if self.namespaces else None
        pod_set: set[tuple[str, str]] | None = None
        if self.pods is not None:
            pod_set = {(a, b) for a, b in _split(self.pods, 2, "pod", "namespace/pod")}
            in_pods = {n for n, _ in pod_set}
            ns_filter = in_pods if ns_filter is None else ns_filter & in_pods
        wanted: set[str] | None = None
        if self.workloads is not None:
            parsed = _split(self.workloads, 3, "workload", "namespace/owner/container")
            wanted = {"/".join(w) for w in parsed}
            mine = {w[0] for w in parsed}
            ns_filter = mine if ns_filter is None else ns_filter & mine
        if ns_filter is not None and not ns_filter:
            raise UsageError("the namespace, pod and workload filters select nothing together")
        return Scope(ns_filter, pod_set, wanted)


@dataclass(frozen=True)
class Scope:
    """What the filters leave: namespaces, ``(namespace, pod)`` pairs, workload names."""

    namespaces: set[str] | None
    pods: set[tuple[str, str]] | None
    workloads: set[str] | None


def _split(values: Sequence[str], parts: int, what: str, example: str) -> list[tuple[str, ...]]:
    out = []
    for v in values:
        fields = tuple(v.strip().split("/"))
        if len(fields) != parts or not all(fields):
            raise UsageError(f"invalid {what} {v!r}: expected {example}")
        out.append(fields)
    return out
