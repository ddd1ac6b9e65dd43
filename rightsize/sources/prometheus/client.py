"""The Prometheus HTTP API client and what the other Prometheus modules share.

:class:`PrometheusClient` (instant and range queries, series and label
calls, each with a total deadline), the cAdvisor and kube-state-metrics metric
names, PromQL text helpers, the step and resolution choice, the answer's
value helpers, :class:`PrometheusSummary` and :func:`fetch_ahead` (one range
query in flight while the previous answer is written). :mod:`.reader` (Kubernetes)
and :mod:`.cadvisor` (Docker fleets) both build on it.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from rightsize.errors import RuntimeFailure, UsageError
from rightsize.logs import redact
from rightsize.sources.deadlines import sync_deadline
from rightsize.sources.http import unreachable_error

log = logging.getLogger("rightsize.prometheus")

#: Prometheus refuses range queries above this many points per series.
MAX_POINTS_PER_SERIES = 11_000
MIN_STEP = 60.0
#: Default cap on points (series x steps) in one range-query answer (~50 MB of JSON).
DEFAULT_MAX_POINTS = 2_000_000
#: Total deadline of one Prometheus request, answer included (``RIGHTSIZE_TIMEOUT``
#: overrides it): a slow query fails with a hint instead of hanging.
DEFAULT_TIMEOUT = 120.0

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
#: Aggregate mode, ``cpu_signal="peak"``: the interval's peak rate (cores), as ``cpu_cores``.
CPU_PEAK = "cpu_peak_cores"
#: The columns a batch is placed into (one per signal; at most five are queried).
SIGNALS: tuple[str, ...] = (*COUNTER_METRICS, CPU_PEAK)
#: Label that names the signal of an aggregated (nameless) series in a batch answer.
SIGNAL_LABEL = "rightsize_signal"
#: Default budget of :func:`choose_resolution`: container x timestamp samples to store.
DEFAULT_POINTS_BUDGET = 10_000_000
#: The resolutions :func:`choose_resolution` picks from (then whole hours).
RESOLUTIONS: tuple[float, ...] = (120.0, 180.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0)
#: Values per timestamp a batch query returns for one container (its batch-size divisor).
_SIGNALS_PER_QUERY = 5
_CONTAINER_FILTER = 'container!="", container!="POD"'
_BY = "namespace, pod, container"

Key = tuple[str, str, str]  # namespace, pod, container


class PrometheusClient:
    """The two Prometheus HTTP API calls the source needs, with error mapping.

    Queries are POSTed (form-encoded), so long pod regexes never hit URL limits.
    ``queries`` counts the API calls made. Each call, answer included, must
    finish within ``deadline`` seconds. ``url`` has any password masked.
    """

    def __init__(self, client: httpx.Client, deadline: float = DEFAULT_TIMEOUT) -> None:
        self._client = client
        self.url = redact(str(client.base_url).rstrip("/"))
        self.deadline = deadline
        self.queries = 0
        self.bytes = 0

    def close(self) -> None:
        self._client.close()

    def _call(self, path: str, data: Mapping[str, str], query: str) -> Any:
        self.queries += 1
        with sync_deadline(self.deadline) as limit:
            try:
                response = self._client.post(path, data=data)
            except httpx.HTTPError as exc:
                if limit is not None and limit.expired:
                    raise RuntimeFailure(
                        f"Prometheus at {self.url} did not answer {path} within "
                        f"{self.deadline:g}s (a total deadline; RIGHTSIZE_TIMEOUT sets it): "
                        "try a larger step, a smaller batch (max_points) or a shorter window"
                    ) from exc
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


def choose_resolution(
    containers: int,
    window: float,
    points_budget: int = DEFAULT_POINTS_BUDGET,
    *,
    step: float | None = None,
) -> float | None:
    """Raw (``None``) or the aggregate resolution that keeps the copy under ``points_budget``.

    The budget counts what the store receives and the analysis loads: one sample
    per container and timestamp (each batch query moves five values per sample).
    Raw samples at ``step`` (default :func:`choose_step`) are kept when
    ``containers x timestamps`` fits; otherwise the finest of :data:`RESOLUTIONS`
    (2 min … 1 h, then whole hours) that fits. With the default budget
    (10 M samples, ~1.6 GB once loaded): 100 containers x 7 days stay raw
    (60 s), 1,000 x 7 days → 120 s, 10,000 x 7 days → 900 s (6.7 M samples),
    10,000 x 30 days → 1 h.
    """
    if containers < 0 or not window > 0:
        raise UsageError(f"invalid size: {containers} containers over {window} s")
    if points_budget < 1:
        raise UsageError(f"invalid points budget {points_budget}: must be at least 1")
    raw = float(step) if step is not None else choose_step(window)

    def samples(res: float) -> int:
        return containers * (math.floor(window / res) + 2)  # the grid may add one point a side

    if samples(raw) <= points_budget:
        return None
    for res in RESOLUTIONS:
        if res > raw and samples(res) <= points_budget:
            return res
    per_container = max(1, points_budget // max(1, containers) - 2)
    return float(max(3600, math.ceil(window / per_container / 3600) * 3600))


def _open_window(seconds: float) -> str:
    """A range of ``seconds`` minus 1 ms: ``(t - seconds, t]`` on Prometheus 2.x and 3.x alike."""
    return f"{max(1, round(seconds * 1000) - 1)}ms"


def _selector(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


# --------------------------------------------------------------------------- rows


@dataclass
class PrometheusSummary:
    """What one :func:`collect_prometheus` call read and wrote.

    ``mode`` is ``"raw"`` or ``"aggregate"`` (then ``step`` is the resolution);
    ``points`` counts the values the batch range queries returned.
    """

    url: str
    start: float
    end: float
    step: float
    mode: str = "raw"
    cpu_signal: str = "mean"
    queries: int = 0
    batches: int = 0
    bytes: int = 0
    points: int = 0
    containers: int = 0
    samples: int = 0
    events: int = 0
    hosts: int = 0
    oom_killed: int = 0
    seconds: float = 0.0
    missing: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """A one-line account, for logs and the CLI."""
        how = "step" if self.mode == "raw" else f"aggregated ({self.cpu_signal} CPU) at"
        line = (
            f"{self.containers} containers, {self.samples} samples, {self.events} events, "
            f"{self.hosts} nodes from {self.url} ({how} {self.step:g}s, {self.queries} queries, "
            f"{self.points} points, {self.bytes / 1e6:.1f} MB, {self.seconds:.1f}s)"
        )
        if self.missing:
            line += "; not found: " + ", ".join(self.missing)
        return line


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


def _floats(values: Any) -> list[float | None]:
    """A float column (NaN or ±Inf = missing) as Python floats and None."""
    import numpy as np

    if np.isnan(values).all():  # raw mode and aggregate "mean": no peak column
        return [None] * len(values)
    return [
        float(v) if ok else None
        for v, ok in zip(values.tolist(), np.isfinite(values).tolist(), strict=True)
    ]


def _increases(values: Sequence[Sequence[Any]]) -> Iterator[tuple[float, int]]:
    """(ts, n) for every increase of a counter series; a drop is a reset counting from 0."""
    prev: float | None = None
    for t, v in _series_points(values):
        if prev is not None:
            delta = v - prev if v >= prev else v
            if delta >= 0.5:
                yield t, round(delta)
        prev = v


_B = TypeVar("_B")


def fetch_ahead(
    batches: Sequence[_B], fetch: Callable[[_B], list[dict[str, Any]]]
) -> Generator[tuple[_B, list[dict[str, Any]]], None, None]:
    """``(batch, fetch(batch))`` in order, the next batch fetched while the caller writes.

    One request is in flight, so at most two answers are in memory. Closing the
    iterator (an error or Ctrl-C in the caller; use :func:`contextlib.closing`)
    abandons the fetch in flight.
    """
    if not batches:
        return
    pending = _in_background(fetch, batches[0])
    try:
        for i, batch in enumerate(batches):
            result = pending.result()
            if i + 1 < len(batches):
                pending = _in_background(fetch, batches[i + 1])
            yield batch, result
            del result
    finally:
        pending.cancel()  # on an error or Ctrl-C: the fetch in flight is abandoned


def _in_background(fn: Callable[[_B], list[dict[str, Any]]],
                   batch: _B) -> Future[list[dict[str, Any]]]:
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
