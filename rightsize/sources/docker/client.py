"""A small Docker Engine API client: sync :class:`DockerClient`, async :class:`AsyncDockerClient`.

Both clients share everything except the I/O: request building (:class:`_Call`
and the ``_*_call`` helpers), API version negotiation, error mapping and JSON
line parsing live in module-level helpers and :class:`_ClientBase`.

Outside ``rightsize lab`` only GET endpoints are used (the Docker socket is
root-equivalent). The write calls (``create``, ``start``, ``stop``, ``remove``,
``import_image``, ``pull_image``) exist for the lab only.

Errors: an unreachable engine or a refused socket raises :class:`RuntimeFailure`;
an engine error status raises :class:`EngineError` (404/409: :class:`NotFound`).
Messages never contain request bodies or container environments.

Deadlines: every request, body included, must finish within
:data:`ENGINE_DEADLINE` (``RIGHTSIZE_TIMEOUT`` overrides it), whatever httpx's
per-read timeouts allow. Streams (``stats?stream=true``, ``/events``, image
progress) are long-lived: their response must start within the deadline, and
then each line within the call's ``silence`` (none for events, which may be
quiet for hours).

One piece: the sync and async clients mirror each other (as httpx's do) and
share every helper; apart, each change would be made twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from rightsize.errors import EngineError, NotFound, RuntimeFailure, UsageError
from rightsize.sources.deadlines import configured, sync_deadline
from rightsize.sources.docker.host import EngineHost, make_async_transport, make_transport
from rightsize.version import USER_AGENT

__all__ = [
    "MAX_API_VERSION",
    "MIN_API_VERSION",
    "AsyncDockerClient",
    "DockerClient",
    "parse_filters",
]

logger = logging.getLogger("rightsize.docker")

#: Oldest Engine API rightsize talks to: Docker 19.03. Current daemons accept
#: 1.40 as their default minimum too.
MIN_API_VERSION = "1.40"
#: Newest Engine API rightsize asks for: Docker 27.x. Newer daemons still serve
#: it, so response shapes stay the ones rightsize was written against (e.g. the
#: legacy ``status``/``id``/``from`` event fields dropped in 1.52).
MAX_API_VERSION = "1.47"
#: ``one-shot`` on the stats endpoint exists from this API version (Docker 20.10).
ONE_SHOT_API_VERSION = "1.41"

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: Total deadline of one request, body included; for a stream, until its response starts.
ENGINE_DEADLINE = 30.0
#: The longest a stats stream may stay silent (the engine sends a frame a second).
STATS_SILENCE = 30.0
#: Lab image imports and pulls: the longest wait for the response and for each progress line.
PROGRESS_DEADLINE = 300.0
#: Streams (stats, events, image progress) may be silent for a long time.
STREAM_TIMEOUT = httpx.Timeout(connect=5.0, read=None, write=60.0, pool=60.0)
HEADERS = {"User-Agent": USER_AGENT}

JSONDict = dict[str, Any]
Filters = Mapping[str, list[str]]
Timestamp = datetime | float | int


# --- pure helpers shared by both clients -------------------------------------------


def parse_filters(values: Iterable[str]) -> dict[str, list[str]]:
    """Turn CLI strings like ``label=app=web`` or ``status=running`` into a Docker filter map.

    Each string is split on its first ``=``; repeated keys accumulate values.
    """
    result: dict[str, list[str]] = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise UsageError(f"invalid filter {raw!r}: expected key=value (e.g. label=app=web)")
        result.setdefault(key, []).append(value.strip())
    return result


def parse_api_version(text: str) -> tuple[int, int]:
    """``"1.41"`` → ``(1, 41)`` so that versions compare numerically (1.9 < 1.40)."""
    major, sep, minor = text.strip().partition(".")
    if not sep or not major.isdigit() or not minor.isdigit():
        raise ValueError(f"not an API version: {text!r}")
    return int(major), int(minor)


def _encode_filters(filters: Filters | None) -> str | None:
    if not filters:
        return None
    return json.dumps({key: list(values) for key, values in filters.items()}, separators=(",", ":"))


def _encode_timestamp(value: Timestamp) -> str:
    """The engine wants unix seconds (optionally ``.nanoseconds``), not RFC 3339."""
    if isinstance(value, datetime):
        value = value.timestamp()
    if isinstance(value, int):
        return str(value)
    return f"{value:.9f}".rstrip("0").rstrip(".")


def _quote(segment: str) -> str:
    return quote(segment, safe="")


def _parse_line(line: str, endpoint: str) -> JSONDict | None:
    """One line of a JSON-lines stream; invalid lines are logged and skipped (``None``)."""
    text = line.strip()
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        logger.warning("skipping invalid JSON line from %s (%s): %.80r", endpoint, exc, text)
        return None
    if not isinstance(doc, dict):
        logger.warning("skipping non-object JSON line from %s: %.80r", endpoint, text)
        return None
    return doc


def _progress_error(doc: JSONDict) -> str | None:
    """The error message in an image progress document, if any."""
    detail = doc.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    if doc.get("error"):
        return str(doc["error"])
    return None


def _engine_message(response: httpx.Response) -> str:
    try:
        doc = json.loads(response.content)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    text = response.text.strip()
    return text[:300] if text else response.reason_phrase


def _json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _reason(chain: list[BaseException], exc: BaseException) -> str:
    """The innermost OS error's text (``Connection reset by peer``), else ``exc``'s."""
    os_errors = [err for err in chain if isinstance(err, OSError)]
    if os_errors and os_errors[-1].strerror:
        return str(os_errors[-1].strerror)
    return str(exc) or type(exc).__name__


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _expect_dict(value: object, what: str) -> JSONDict:
    if not isinstance(value, dict):
        raise EngineError(f"unexpected response from the Docker engine for {what}: not an object")
    return value


def _expect_list(value: object, what: str) -> list[JSONDict]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise EngineError(f"unexpected response from the Docker engine for {what}: not a list")
    return value


@dataclass(frozen=True)
class _Call:
    """One Engine API request, independent of sync/async I/O."""

    method: str
    endpoint: str  # without the /vX.Y prefix and without the query
    params: dict[str, str] = field(default_factory=dict)
    json_body: JSONDict | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    #: Total deadline (a stream: until the response starts); ``None``: the client's.
    deadline: float | None = None
    #: Streams only: the longest wait for the next line (``None``: unbounded).
    silence: float | None = None

    @property
    def label(self) -> str:
        """``METHOD /endpoint`` for messages (no query, no body)."""
        return f"{self.method} {self.endpoint}"


def _containers_call(filters: Filters | None, all: bool) -> _Call:
    params: dict[str, str] = {}
    if all:
        params["all"] = "1"
    encoded = _encode_filters(filters)
    if encoded:
        params["filters"] = encoded
    return _Call("GET", "/containers/json", params)


def _stats_once_call(container: str, api_version: str) -> _Call:
    params = {"stream": "false"}
    if parse_api_version(api_version) >= parse_api_version(ONE_SHOT_API_VERSION):
        params["one-shot"] = "true"
    return _Call("GET", f"/containers/{_quote(container)}/stats", params)


def _stats_stream_call(container: str) -> _Call:
    return _Call(
        "GET", f"/containers/{_quote(container)}/stats", {"stream": "true"},
        timeout=STREAM_TIMEOUT, silence=STATS_SILENCE,
    )


def _events_call(
    filters: Filters | None, since: Timestamp | None, until: Timestamp | None
) -> _Call:
    params: dict[str, str] = {}
    encoded = _encode_filters(filters)
    if encoded:
        params["filters"] = encoded
    if since is not None:
        params["since"] = _encode_timestamp(since)
    if until is not None:
        params["until"] = _encode_timestamp(until)
    return _Call("GET", "/events", params, timeout=STREAM_TIMEOUT)


def _create_call(name: str, config: JSONDict) -> _Call:
    return _Call("POST", "/containers/create", {"name": name}, json_body=config)


def _stop_call(container: str, timeout: int) -> _Call:
    wait = httpx.Timeout(timeout + 30.0, connect=5.0)
    return _Call("POST", f"/containers/{_quote(container)}/stop", {"t": str(timeout)},
                 timeout=wait, deadline=timeout + ENGINE_DEADLINE)


def _remove_call(container: str, force: bool) -> _Call:
    params = {"force": "true" if force else "false"}
    return _Call("DELETE", f"/containers/{_quote(container)}", params)


def _import_call(tar_bytes: bytes, repo: str, tag: str) -> _Call:
    return _Call(
        "POST",
        "/images/create",
        {"fromSrc": "-", "repo": repo, "tag": tag},
        content=tar_bytes,
        headers={"Content-Type": "application/x-tar"},
        timeout=STREAM_TIMEOUT,
        deadline=PROGRESS_DEADLINE,
        silence=PROGRESS_DEADLINE,
    )


def _pull_call(name: str, tag: str) -> _Call:
    params = {"fromImage": name, "tag": tag}
    return _Call("POST", "/images/create", params, timeout=STREAM_TIMEOUT,
                 deadline=PROGRESS_DEADLINE, silence=PROGRESS_DEADLINE)


def _image_call(name: str) -> _Call:
    return _Call("GET", f"/images/{quote(name, safe='/:@')}/json")


def _created_id(doc: JSONDict) -> str:
    for warning in doc.get("Warnings") or []:
        logger.warning("docker create: %s", warning)
    container_id = doc.get("Id")
    if not isinstance(container_id, str):
        raise EngineError("unexpected response from the Docker engine for container create")
    return container_id


class _Progress:
    """Drains an image progress stream: raises on an error document, keeps the last status."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.last_status: str | None = None

    def feed(self, doc: JSONDict) -> None:
        error = _progress_error(doc)
        if error is not None:
            raise EngineError(f"{self.what} failed: {error}")
        status = doc.get("status")
        if isinstance(status, str):
            self.last_status = status


# --- the state and error mapping shared by both clients ------------------------------


class _ClientBase:
    """API version state, paths and error mapping common to both clients."""

    def __init__(self, host: EngineHost, deadline: float | None = None) -> None:
        self.host = host
        self._api_version: str | None = None
        #: Total deadline of a request (:data:`ENGINE_DEADLINE`, or ``RIGHTSIZE_TIMEOUT``).
        self.deadline = configured(ENGINE_DEADLINE) if deadline is None else deadline

    @property
    def api_version(self) -> str | None:
        """The negotiated API version, or ``None`` before the first call."""
        return self._api_version

    def _path(self, endpoint: str) -> str:
        assert self._api_version is not None, "negotiate() first"
        return f"/v{self._api_version}{endpoint}"

    def _accept_version(self, doc: object) -> str:
        """Pick ``min(engine ApiVersion, MAX_API_VERSION)``; refuse engines below the minimum."""
        raw = doc.get("ApiVersion") if isinstance(doc, dict) else None
        try:
            engine = parse_api_version(str(raw)) if raw is not None else None
        except ValueError:
            engine = None
        if engine is None:
            raise RuntimeFailure(
                f"the Docker engine at {self.host.url} did not report a usable API version "
                f"({raw!r})"
            )
        if engine < parse_api_version(MIN_API_VERSION):
            raise RuntimeFailure(
                f"the Docker engine at {self.host.url} speaks API {raw}; rightsize needs "
                f"API {MIN_API_VERSION} or newer (Docker 19.03+)"
            )
        if engine > parse_api_version(MAX_API_VERSION):
            self._api_version = MAX_API_VERSION
        else:
            self._api_version = f"{engine[0]}.{engine[1]}"
        logger.debug("using Engine API %s (engine offers %s)", self._api_version, raw)
        return self._api_version

    def _status_error(self, response: httpx.Response, call: _Call) -> EngineError:
        """Map an error status (body already read) to NotFound or EngineError."""
        status = response.status_code
        message = _engine_message(response)
        if status in (404, 409):
            return NotFound(message, status)
        return EngineError(
            f"the Docker engine returned HTTP {status} for {call.label}: {message}", status
        )

    def _transport_failure(self, exc: BaseException) -> RuntimeFailure:
        chain = list(_exception_chain(exc))
        where = self.host.socket_path or self.host.url
        if any(isinstance(err, PermissionError) for err in chain):
            return RuntimeFailure(
                f"permission denied on the Docker socket {where}: add the user to the docker "
                f"group or run with sufficient rights"
            )
        if any(isinstance(err, ssl.SSLError) for err in chain):
            return RuntimeFailure(
                f"TLS handshake with the Docker engine at {self.host.url} failed: {exc}; "
                f"check DOCKER_CERT_PATH and DOCKER_TLS_VERIFY"
            )
        closed = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
        if self.host.tls and self._api_version is None and (
            any(isinstance(err, closed) for err in chain)
            or isinstance(exc, httpx.RemoteProtocolError)
        ):
            # TLS 1.3 finishes the client's side of the handshake before the engine checks
            # the client certificate: a rejection shows up as a reset on the first request
            # (later, after a successful call, a reset is a lost connection like any other)
            return RuntimeFailure(
                f"the Docker engine at {self.host.url} closed the TLS connection "
                f"({_reason(chain, exc)}): engines do that when they reject the client "
                f"certificate; check DOCKER_CERT_PATH and DOCKER_TLS_VERIFY"
            )
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return RuntimeFailure(
                f"the Docker engine at {self.host.url} did not answer in time: {type(exc).__name__}"
            )
        reason = _reason(chain, exc)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | OSError):
            return RuntimeFailure(
                f"cannot reach the Docker engine at {self.host.url}: {reason}; is dockerd running?"
            )
        return RuntimeFailure(
            f"lost the connection to the Docker engine at {self.host.url}: {reason}"
        )

    def _deadline_of(self, call: _Call) -> float:
        return self.deadline if call.deadline is None else max(self.deadline, call.deadline)

    def _late(self, call: _Call, seconds: float, *, silent: bool = False) -> RuntimeFailure:
        """The error of a request that ran out of time."""
        if silent:
            what = f"sent nothing on {call.label} for {seconds:g}s"
        else:
            what = f"did not answer {call.label} within {seconds:g}s"
        return RuntimeFailure(
            f"the Docker engine at {self.host.url} {what} (a total deadline; "
            f"RIGHTSIZE_TIMEOUT sets it)"
        )

    @contextlib.contextmanager
    def _within(
        self, call: _Call, seconds: float | None, *, silent: bool = False
    ) -> Iterator[None]:
        """Sync: map errors (:meth:`_mapped`) and give the block ``seconds`` in total."""
        with sync_deadline(seconds) as limit:
            try:
                with self._mapped():
                    yield
            except RuntimeFailure as exc:
                if limit is not None and seconds is not None and limit.expired:
                    raise self._late(call, seconds, silent=silent) from exc
                raise

    @contextlib.asynccontextmanager
    async def _async_within(
        self, call: _Call, seconds: float | None, *, silent: bool = False
    ) -> AsyncIterator[None]:
        """Async: map errors (:meth:`_mapped`) and give the block ``seconds`` in total."""
        try:
            async with asyncio.timeout(seconds):
                with self._mapped():
                    yield
        except TimeoutError as exc:  # from asyncio.timeout: _mapped maps socket timeouts
            if seconds is None:
                raise
            raise self._late(call, seconds, silent=silent) from exc

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[None]:
        """Re-raise transport and socket errors as :class:`RuntimeFailure`."""
        try:
            yield
        except (httpx.TransportError, OSError) as exc:
            raise self._transport_failure(exc) from exc

    def _request_kwargs(self, call: _Call) -> dict[str, Any]:
        return {
            "params": call.params,
            "json": call.json_body,
            "content": call.content,
            "headers": call.headers,
            "timeout": call.timeout,
        }


# --- sync client ----------------------------------------------------------------


class DockerClient(_ClientBase):
    """Synchronous Engine API client. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        host: EngineHost,
        transport: httpx.BaseTransport | None = None,
        *,
        deadline: float | None = None,
    ) -> None:
        super().__init__(host, deadline)
        self._http = httpx.Client(
            base_url=host.base_url,
            transport=transport if transport is not None else make_transport(host),
            timeout=DEFAULT_TIMEOUT,
            headers=HEADERS,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def negotiate(self) -> str:
        """``GET /version`` (unversioned) and fix the API version for later calls."""
        call = _Call("GET", "/version")
        with self._within(call, self._deadline_of(call)):
            response = self._http.get(call.endpoint)
        if response.status_code >= 400:
            raise self._status_error(response, call)
        return self._accept_version(_json_or_none(response))

    def _ensure_version(self) -> None:
        if self._api_version is None:
            self.negotiate()

    def _send(self, call: _Call) -> httpx.Response:
        self._ensure_version()
        with self._within(call, self._deadline_of(call)):
            response = self._http.request(
                call.method, self._path(call.endpoint), **self._request_kwargs(call)
            )
        if response.status_code >= 400:
            raise self._status_error(response, call)
        return response

    def _json(self, call: _Call) -> object:
        response = self._send(call)
        try:
            return response.json()
        except ValueError as exc:
            raise EngineError(f"invalid JSON from the Docker engine for {call.label}") from exc

    def _lines(self, call: _Call) -> Iterator[str]:
        self._ensure_version()
        request = self._http.build_request(
            call.method, self._path(call.endpoint), **self._request_kwargs(call)
        )
        deadline = self._deadline_of(call)
        with self._within(call, deadline):
            response = self._http.send(request, stream=True)
        try:
            if response.status_code >= 400:
                with self._within(call, deadline):
                    response.read()
                raise self._status_error(response, call)
            lines = response.iter_lines()
            while True:
                with self._within(call, call.silence, silent=True):
                    line = next(lines, None)
                if line is None:
                    return
                if line.strip():
                    yield line.strip()
        finally:
            response.close()

    def _stream(self, call: _Call) -> Iterator[JSONDict]:
        for line in self._lines(call):
            doc = _parse_line(line, call.endpoint)
            if doc is not None:
                yield doc

    # read-only calls

    def version(self) -> JSONDict:
        """``GET /version``."""
        return _expect_dict(self._json(_Call("GET", "/version")), "version")

    def info(self) -> JSONDict:
        """``GET /info``."""
        return _expect_dict(self._json(_Call("GET", "/info")), "info")

    def containers(self, filters: Filters | None = None, all: bool = False) -> list[JSONDict]:
        """``GET /containers/json``; ``filters`` is a Docker filter map (:func:`parse_filters`)."""
        return _expect_list(self._json(_containers_call(filters, all)), "containers")

    def inspect(self, container: str) -> JSONDict:
        """``GET /containers/{id}/json``."""
        call = _Call("GET", f"/containers/{_quote(container)}/json")
        return _expect_dict(self._json(call), "inspect")

    def stats_once(self, container: str) -> JSONDict:
        """One stats sample (``one-shot`` on API ≥ 1.41, so ``precpu_stats`` is empty)."""
        self._ensure_version()
        assert self._api_version is not None
        call = _stats_once_call(container, self._api_version)
        return _expect_dict(self._json(call), "stats")

    def stats_stream(self, container: str) -> Iterator[JSONDict]:
        """Stream stats samples (about one a second) until the caller stops iterating."""
        return self._stream(_stats_stream_call(container))

    def stats_lines(self, container: str) -> Iterator[str]:
        """Like :meth:`stats_stream` but yields the raw JSON lines, unparsed (for recording)."""
        return self._lines(_stats_stream_call(container))

    def events(
        self,
        filters: Filters | None = None,
        since: Timestamp | None = None,
        until: Timestamp | None = None,
    ) -> Iterator[JSONDict]:
        """Stream engine events; ends by itself only when ``until`` is given."""
        return self._stream(_events_call(filters, since, until))

    def image_exists(self, name: str) -> bool:
        """Whether the engine has image ``name`` (``repo:tag`` or id)."""
        try:
            self._send(_image_call(name))
        except NotFound:
            return False
        return True

    # lab-only write calls (used only by `rightsize lab`)

    def create(self, name: str, config: JSONDict) -> str:
        """Lab only: ``POST /containers/create?name=``; returns the container id."""
        doc = _expect_dict(self._json(_create_call(name, config)), "create")
        return _created_id(doc)

    def start(self, container: str) -> None:
        """Lab only: start a container (already running is fine)."""
        self._send(_Call("POST", f"/containers/{_quote(container)}/start"))

    def stop(self, container: str, timeout: int = 10) -> None:
        """Lab only: stop a container, killing it after ``timeout`` seconds."""
        self._send(_stop_call(container, timeout))

    def remove(self, container: str, force: bool = True) -> None:
        """Lab only: remove a container (``force`` kills it first)."""
        self._send(_remove_call(container, force))

    def import_image(self, tar_bytes: bytes, repo: str, tag: str) -> str | None:
        """Lab only: ``docker import`` a root filesystem tar; returns the engine's last status
        (the image id on success)."""
        progress = _Progress(f"importing image {repo}:{tag}")
        for doc in self._stream(_import_call(tar_bytes, repo, tag)):
            progress.feed(doc)
        return progress.last_status

    def pull_image(self, name: str, tag: str = "latest") -> None:
        """Lab only: pull ``name:tag`` from its registry."""
        progress = _Progress(f"pulling image {name}:{tag}")
        for doc in self._stream(_pull_call(name, tag)):
            progress.feed(doc)


# --- async client ---------------------------------------------------------------


class AsyncDockerClient(_ClientBase):
    """Asynchronous Engine API client; its pool is sized for hundreds of concurrent streams.

    Close async iterators you abandon early (``contextlib.aclosing``) so that
    their connection goes back to the pool.
    """

    def __init__(
        self,
        host: EngineHost,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        deadline: float | None = None,
    ) -> None:
        super().__init__(host, deadline)
        self._http = httpx.AsyncClient(
            base_url=host.base_url,
            transport=transport if transport is not None else make_async_transport(host),
            timeout=DEFAULT_TIMEOUT,
            headers=HEADERS,
        )
        self._negotiation_lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def negotiate(self) -> str:
        """``GET /version`` (unversioned) and fix the API version for later calls."""
        call = _Call("GET", "/version")
        async with self._async_within(call, self._deadline_of(call)):
            response = await self._http.get(call.endpoint)
        if response.status_code >= 400:
            raise self._status_error(response, call)
        return self._accept_version(_json_or_none(response))

    async def _ensure_version(self) -> str:
        if self._api_version is None:
            async with self._negotiation_lock:
                if self._api_version is None:
                    await self.negotiate()
        assert self._api_version is not None
        return self._api_version

    async def _send(self, call: _Call) -> httpx.Response:
        await self._ensure_version()
        async with self._async_within(call, self._deadline_of(call)):
            response = await self._http.request(
                call.method, self._path(call.endpoint), **self._request_kwargs(call)
            )
        if response.status_code >= 400:
            raise self._status_error(response, call)
        return response

    async def _json(self, call: _Call) -> object:
        response = await self._send(call)
        try:
            return response.json()
        except ValueError as exc:
            raise EngineError(f"invalid JSON from the Docker engine for {call.label}") from exc

    async def _lines(self, call: _Call) -> AsyncIterator[str]:
        await self._ensure_version()
        request = self._http.build_request(
            call.method, self._path(call.endpoint), **self._request_kwargs(call)
        )
        deadline = self._deadline_of(call)
        async with self._async_within(call, deadline):
            response = await self._http.send(request, stream=True)
        try:
            if response.status_code >= 400:
                async with self._async_within(call, deadline):
                    await response.aread()
                raise self._status_error(response, call)
            lines = response.aiter_lines()
            while True:
                async with self._async_within(call, call.silence, silent=True):
                    line = await anext(lines, None)
                if line is None:
                    return
                if line.strip():
                    yield line.strip()
        finally:
            await response.aclose()

    async def _stream(self, call: _Call) -> AsyncIterator[JSONDict]:
        async for line in self._lines(call):
            doc = _parse_line(line, call.endpoint)
            if doc is not None:
                yield doc

    # read-only calls

    async def version(self) -> JSONDict:
        """``GET /version``."""
        return _expect_dict(await self._json(_Call("GET", "/version")), "version")

    async def info(self) -> JSONDict:
        """``GET /info``."""
        return _expect_dict(await self._json(_Call("GET", "/info")), "info")

    async def containers(self, filters: Filters | None = None, all: bool = False) -> list[JSONDict]:
        """``GET /containers/json``; ``filters`` is a Docker filter map (:func:`parse_filters`)."""
        return _expect_list(await self._json(_containers_call(filters, all)), "containers")

    async def inspect(self, container: str) -> JSONDict:
        """``GET /containers/{id}/json``."""
        call = _Call("GET", f"/containers/{_quote(container)}/json")
        return _expect_dict(await self._json(call), "inspect")

    async def stats_once(self, container: str) -> JSONDict:
        """One stats sample (``one-shot`` on API ≥ 1.41, so ``precpu_stats`` is empty)."""
        api_version = await self._ensure_version()
        call = _stats_once_call(container, api_version)
        return _expect_dict(await self._json(call), "stats")

    def stats_stream(self, container: str) -> AsyncIterator[JSONDict]:
        """Stream stats samples (about one a second) until the caller stops iterating."""
        return self._stream(_stats_stream_call(container))

    def stats_lines(self, container: str) -> AsyncIterator[str]:
        """Like :meth:`stats_stream` but yields the raw JSON lines, unparsed (for recording)."""
        return self._lines(_stats_stream_call(container))

    def events(
        self,
        filters: Filters | None = None,
        since: Timestamp | None = None,
        until: Timestamp | None = None,
    ) -> AsyncIterator[JSONDict]:
        """Stream engine events; ends by itself only when ``until`` is given."""
        return self._stream(_events_call(filters, since, until))

    async def image_exists(self, name: str) -> bool:
        """Whether the engine has image ``name`` (``repo:tag`` or id)."""
        try:
            await self._send(_image_call(name))
        except NotFound:
            return False
        return True

    # lab-only write calls (used only by `rightsize lab`)

    async def create(self, name: str, config: JSONDict) -> str:
        """Lab only: ``POST /containers/create?name=``; returns the container id."""
        doc = _expect_dict(await self._json(_create_call(name, config)), "create")
        return _created_id(doc)

    async def start(self, container: str) -> None:
        """Lab only: start a container (already running is fine)."""
        await self._send(_Call("POST", f"/containers/{_quote(container)}/start"))

    async def stop(self, container: str, timeout: int = 10) -> None:
        """Lab only: stop a container, killing it after ``timeout`` seconds."""
        await self._send(_stop_call(container, timeout))

    async def remove(self, container: str, force: bool = True) -> None:
        """Lab only: remove a container (``force`` kills it first)."""
        await self._send(_remove_call(container, force))

    async def import_image(self, tar_bytes: bytes, repo: str, tag: str) -> str | None:
        """Lab only: ``docker import`` a root filesystem tar; returns the engine's last status
        (the image id on success)."""
        progress = _Progress(f"importing image {repo}:{tag}")
        async for doc in self._stream(_import_call(tar_bytes, repo, tag)):
            progress.feed(doc)
        return progress.last_status

    async def pull_image(self, name: str, tag: str = "latest") -> None:
        """Lab only: pull ``name:tag`` from its registry."""
        progress = _Progress(f"pulling image {name}:{tag}")
        async for doc in self._stream(_pull_call(name, tag)):
            progress.feed(doc)
