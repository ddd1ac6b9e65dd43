"""Tests for the Docker Engine API clients, driven by recorded payloads through MockTransport."""

from __future__ import annotations

import asyncio
import errno
import gzip
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from rightsize.errors import EngineError, NotFound, RuntimeFailure, UsageError
from rightsize.sources.docker.client import (
    MAX_API_VERSION,
    AsyncDockerClient,
    DockerClient,
    parse_api_version,
    parse_filters,
)
from rightsize.sources.docker.host import EngineHost, resolve_host

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docker-api"
LAB = FIXTURES / "rightsize-lab-session"
JBR_STREAM = FIXTURES / "jbr" / "DockerContainerHandler.test.ts.stats_stream.ndjson"
HOST = resolve_host(None, {}, home="/nonexistent")
CONTAINER = "4e36cbb2f53a621f0669e50e5ed931313346864c61fd6296047bb9f4e51a85d9"

T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def version_doc(api_version: str = "1.41") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((LAB / "version.json").read_text())
    doc["ApiVersion"] = api_version
    return doc


class Engine:
    """A fake engine: routes by (method, path without /vX.Y) and records every request."""

    def __init__(self, api_version: str = "1.41") -> None:
        self.api_version = api_version
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Handler] = {}

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def json(self, method: str, path: str, body: object, status: int = 200) -> None:
        self.route(method, path, lambda _req: httpx.Response(status, json=body))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/version":
            return httpx.Response(200, json=version_doc(self.api_version))
        prefix, _, rest = path.lstrip("/").partition("/")
        handler = self.routes.get((request.method, "/" + rest))
        if not prefix.startswith("v") or handler is None:
            return httpx.Response(404, json={"message": f"page not found: {path}"})
        return handler(request)

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def sync(self) -> DockerClient:
        return DockerClient(HOST, transport=httpx.MockTransport(self))

    def async_(self) -> AsyncDockerClient:
        return AsyncDockerClient(HOST, transport=httpx.MockTransport(self))


def lines_response(content: bytes) -> Handler:
    return lambda _req: httpx.Response(
        200, content=content, headers={"Content-Type": "application/json"}
    )


# --- version negotiation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("engine_version", "expected"),
    [("1.41", "1.41"), ("1.40", "1.40"), ("1.47", "1.47"), ("1.99", MAX_API_VERSION),
     ("2.0", MAX_API_VERSION)],
)  # fmt: skip
def test_negotiation_picks_min_of_engine_and_max(engine_version: str, expected: str) -> None:
    engine = Engine(engine_version)
    engine.json("GET", "/containers/json", [])
    with engine.sync() as client:
        assert client.negotiate() == expected
        client.containers()
    assert engine.paths == ["/version", f"/v{expected}/containers/json"]


@pytest.mark.parametrize("engine_version", ["1.39", "1.9", "1.12"])
def test_old_engines_are_refused(engine_version: str) -> None:
    with (
        Engine(engine_version).sync() as client,
        pytest.raises(RuntimeFailure, match=rf"API {engine_version}\b.*1\.40"),
    ):
        client.negotiate()


def test_unreadable_api_version_is_runtime_failure() -> None:
    def handler(_req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Version": "x"})

    with (
        DockerClient(HOST, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(RuntimeFailure, match="API version"),
    ):
        client.info()


def test_negotiation_is_lazy_and_happens_once() -> None:
    engine = Engine("1.41")
    info = json.loads((LAB / "info.json").read_text())
    engine.json("GET", "/info", info)
    with engine.sync() as client:
        assert client.api_version is None
        assert client.info()["CgroupVersion"] == info["CgroupVersion"] == "1"
        client.info()
    assert engine.paths == ["/version", "/v1.41/info", "/v1.41/info"]


@pytest.mark.parametrize(
    ("a", "b"), [("1.9", "1.40"), ("1.40", "1.41"), ("1.41", "1.100"), ("1.99", "2.0")]
)
def test_api_versions_compare_numerically(a: str, b: str) -> None:
    assert parse_api_version(a) < parse_api_version(b)


# --- filters and read-only calls -----------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["label=app=web"], {"label": ["app=web"]}),
        (["name=api", "status=running"], {"name": ["api"], "status": ["running"]}),
        (["label=a", "label=b=c"], {"label": ["a", "b=c"]}),
        ([" Name = api "], {"name": ["api"]}),
        ([], {}),
    ],
)
def test_parse_filters(values: list[str], expected: dict[str, list[str]]) -> None:
    assert parse_filters(values) == expected


@pytest.mark.parametrize("bad", ["running", "=web", ""])
def test_parse_filters_rejects_values_without_key(bad: str) -> None:
    with pytest.raises(UsageError, match="key=value") as info:
        parse_filters(["name=ok", bad])
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    ("filters", "all_", "expected_params"),
    [
        (None, False, {}),
        ({}, True, {"all": "1"}),
        (
            {"label": ["app=web", "tier"], "status": ["running"]},
            True,
            {"all": "1", "filters": {"label": ["app=web", "tier"], "status": ["running"]}},
        ),
    ],
)
def test_containers_query(
    filters: dict[str, list[str]] | None, all_: bool, expected_params: dict[str, Any]
) -> None:
    engine = Engine()
    listing = json.loads((LAB / "containers.json").read_text())
    engine.json("GET", "/containers/json", listing)
    with engine.sync() as client:
        result = client.containers(filters, all=all_)
    assert [c["Id"] for c in result] == [c["Id"] for c in listing]
    params: dict[str, Any] = dict(engine.requests[-1].url.params)
    if "filters" in params:
        params["filters"] = json.loads(params["filters"])
    assert params == expected_params


def test_inspect_quotes_the_id_and_returns_payload() -> None:
    engine = Engine()
    payload = json.loads((LAB / "inspect.json").read_text())[CONTAINER]
    engine.json("GET", f"/containers/{CONTAINER}/json", payload)
    with engine.sync() as client:
        doc = client.inspect(CONTAINER)
    assert doc["Name"] == "/lab-oomchild"
    assert doc["State"]["OOMKilled"] is False


@pytest.mark.parametrize(
    ("engine_version", "expected"),
    [
        ("1.40", {"stream": "false"}),
        ("1.41", {"stream": "false", "one-shot": "true"}),
        ("1.45", {"stream": "false", "one-shot": "true"}),
    ],
)
def test_stats_once_params_follow_api_version(
    engine_version: str, expected: dict[str, str]
) -> None:
    engine = Engine(engine_version)
    sample = json.loads((FIXTURES / "otel-dockerstatsreceiver/cgroups_v2/stats.json").read_text())
    engine.json("GET", f"/containers/{CONTAINER}/stats", sample)
    with engine.sync() as client:
        assert client.stats_once(CONTAINER) == sample
    assert dict(engine.requests[-1].url.params) == expected
    assert engine.requests[-1].url.path == f"/v{engine_version}/containers/{CONTAINER}/stats"


def test_stats_stream_skips_invalid_line(caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine()
    engine.route("GET", "/containers/c1/stats", lines_response(JBR_STREAM.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="rightsize.docker"), engine.sync() as client:
        docs = list(client.stats_stream("c1"))
    assert len(docs) == 4
    assert [d["read"] for d in docs][:2] == [
        "2021-06-03T07:47:20.122032222Z",
        "2021-06-03T07:47:21.128130761Z",
    ]
    assert dict(engine.requests[-1].url.params) == {"stream": "true"}
    assert any("invalid JSON" in r.getMessage() for r in caplog.records)


def test_stats_stream_reads_recorded_lab_session() -> None:
    raw = gzip.decompress((LAB / "stats.jsonl.gz").read_bytes())
    expected = [json.loads(line) for line in raw.splitlines() if line.strip()]
    engine = Engine()
    engine.route("GET", "/containers/c1/stats", lines_response(raw))
    with engine.sync() as client:
        docs = list(client.stats_stream("c1"))
    assert docs == expected
    assert len(docs) > 1000


def test_events_stream_and_query() -> None:
    raw = (LAB / "events.jsonl").read_bytes()
    engine = Engine()
    engine.route("GET", "/events", lines_response(raw))
    filters = {"type": ["container"], "event": ["oom", "die"]}
    with engine.sync() as client:
        events = list(client.events(filters=filters, since=1795761400, until=1795761700.5))
    assert len(events) == len(raw.splitlines())
    assert {e["Type"] for e in events} >= {"container"}
    assert any(e["Action"] == "oom" for e in events)
    params = engine.requests[-1].url.params
    assert json.loads(params["filters"]) == filters
    assert params["since"] == "1795761400"
    assert params["until"] == "1795761700.5"


# --- error mapping --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "exc_type"),
    [
        (404, "No such container: nope", NotFound),
        (409, "Container nope is not running", NotFound),
        (500, "driver failed", EngineError),
        (400, "Invalid filter 'bogus'", EngineError),
    ],
)
def test_error_status_mapping(status: int, message: str, exc_type: type[EngineError]) -> None:
    engine = Engine()
    engine.json("GET", "/containers/nope/json", {"message": message}, status=status)
    with engine.sync() as client, pytest.raises(exc_type) as info:
        client.inspect("nope")
    assert info.value.status == status
    assert type(info.value) is exc_type
    assert message in str(info.value)


def test_error_message_never_contains_request_body() -> None:
    engine = Engine()
    engine.json("POST", "/containers/create", {"message": "boom"}, status=500)
    config = {"Image": "x", "Env": ["DB_PASSWORD=hunter2-secret"]}
    with engine.sync() as client, pytest.raises(EngineError) as info:
        client.create("lab-hostile", config)
    assert "hunter2" not in str(info.value)
    assert "POST /containers/create" in str(info.value)


def test_stream_error_status_is_mapped() -> None:
    engine = Engine()
    engine.json("GET", "/containers/gone/stats", {"message": "No such container: gone"}, 404)
    with engine.sync() as client, pytest.raises(NotFound, match="No such container: gone"):
        list(client.stats_stream("gone"))


def _wrapping(
    cause: OSError, error: type[httpx.TransportError]
) -> Handler:
    """A handler raising ``error`` from ``cause``, as httpx wraps a socket error."""

    def handler(_req: httpx.Request) -> httpx.Response:
        raise error(f"[Errno {cause.errno}] {cause.strerror}") from cause

    return handler


_refused = _wrapping(
    ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), httpx.ConnectError
)


def _missing_socket(_req: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 2] No such file or directory")


def _denied(_req: httpx.Request) -> httpx.Response:
    raise PermissionError(errno.EACCES, "Permission denied")


_denied_wrapped = _wrapping(PermissionError(errno.EACCES, "Permission denied"), httpx.ConnectError)


def _read_timeout(_req: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out")


TRANSPORT_FAILURES = [
    pytest.param(
        _refused,
        "cannot reach the Docker engine at unix:///var/run/docker.sock: Connection refused; "
        "is dockerd running?",
        id="refused",
    ),
    pytest.param(
        _missing_socket,
        "cannot reach the Docker engine at unix:///var/run/docker.sock: "
        "[Errno 2] No such file or directory; is dockerd running?",
        id="missing-socket",
    ),
    pytest.param(
        _denied,
        "permission denied on the Docker socket /var/run/docker.sock: add the user to the "
        "docker group or run with sufficient rights",
        id="permission",
    ),
    pytest.param(
        _denied_wrapped,
        "permission denied on the Docker socket /var/run/docker.sock: add the user to the "
        "docker group or run with sufficient rights",
        id="permission-inside-connect-error",
    ),
    pytest.param(
        _read_timeout,
        "the Docker engine at unix:///var/run/docker.sock did not answer in time: ReadTimeout",
        id="read-timeout",
    ),
]


@pytest.mark.parametrize(("handler", "message"), TRANSPORT_FAILURES)
def test_transport_failures_are_runtime_failures(handler: Handler, message: str) -> None:
    with DockerClient(HOST, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(RuntimeFailure) as info:
            client.negotiate()
        assert not isinstance(info.value, EngineError)
        assert str(info.value) == message


_reset = _wrapping(
    ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), httpx.ReadError
)


def _disconnected(_req: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


TLS_HOST = resolve_host(
    "tcp://engine.example:2376",
    {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/nonexistent/certs"},
    home="/nonexistent",
)


@pytest.mark.parametrize("handler", [_reset, _disconnected], ids=["reset", "disconnected"])
def test_a_tls_engine_closing_the_connection_points_at_the_client_certificate(
    handler: Handler,
) -> None:
    """TLS 1.3: a rejected client certificate often reaches the client as a reset."""
    assert TLS_HOST.tls
    client = DockerClient(TLS_HOST, transport=httpx.MockTransport(handler))
    with client, pytest.raises(RuntimeFailure) as info:
        client.negotiate()
    message = str(info.value)
    assert message.startswith(
        "the Docker engine at tcp://engine.example:2376 closed the TLS connection ("
    )
    assert "reject the client certificate; check DOCKER_CERT_PATH" in message
    if handler is _reset:
        assert "(Connection reset by peer)" in message


def test_a_tls_engine_resetting_after_the_first_call_is_a_lost_connection() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/version":
            return httpx.Response(200, json={"ApiVersion": "1.41"})
        return _reset(request)

    client = DockerClient(TLS_HOST, transport=httpx.MockTransport(handler))
    with client, pytest.raises(RuntimeFailure, match="lost the connection") as info:
        client.negotiate()
        client.info()
    assert "certificate" not in str(info.value)
    assert len(calls) == 2


def test_a_plain_engine_resetting_is_a_lost_connection() -> None:
    client = DockerClient(HOST, transport=httpx.MockTransport(_reset))
    with client, pytest.raises(RuntimeFailure, match="lost the connection") as info:
        client.negotiate()
    assert "TLS" not in str(info.value)


class _BrokenStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield JBR_STREAM.read_bytes().splitlines(keepends=True)[0]
        raise httpx.ReadError("connection reset by peer")


def test_connection_lost_mid_stream() -> None:
    engine = Engine()
    engine.route(
        "GET", "/containers/c1/stats", lambda _r: httpx.Response(200, stream=_BrokenStream())
    )
    received: list[dict[str, Any]] = []
    with engine.sync() as client, pytest.raises(RuntimeFailure, match="lost the connection"):
        received.extend(client.stats_stream("c1"))
    assert len(received) == 1


# --- lab-only write calls --------------------------------------------------------


def test_create_start_stop_remove_requests() -> None:
    engine = Engine()
    engine.json("POST", "/containers/create", {"Id": "abc123", "Warnings": []}, status=201)
    engine.route("POST", "/containers/abc123/start", lambda _r: httpx.Response(204))
    engine.route("POST", "/containers/abc123/stop", lambda _r: httpx.Response(304))
    engine.route("DELETE", "/containers/abc123", lambda _r: httpx.Response(204))
    config = {"Image": "rightsize/busybox:local", "Cmd": ["sleep", "1"]}
    with engine.sync() as client:
        assert client.create("lab-idle", config) == "abc123"
        client.start("abc123")
        client.stop("abc123", timeout=3)
        client.remove("abc123")
    create, start, stop, remove = engine.requests[1:]
    assert create.url.params["name"] == "lab-idle"
    assert json.loads(create.content) == config
    assert (start.method, stop.url.params["t"]) == ("POST", "3")
    assert (remove.method, remove.url.params["force"]) == ("DELETE", "true")


def test_create_name_conflict_is_not_found_409() -> None:
    engine = Engine()
    engine.json("POST", "/containers/create", {"message": "Conflict. name in use"}, status=409)
    with engine.sync() as client, pytest.raises(NotFound) as info:
        client.create("lab-idle", {"Image": "x"})
    assert info.value.status == 409


IMPORT_OK = (
    b'{"status":"sha256:249f45c46cdcafe884433e26e9ca9408945e05cbef00d1036a4ce223d96c9e0a"}\r\n'
)
IMPORT_FAILED = (
    b'{"status":"Downloading","progress":"[==>  ]"}\r\n'
    b'{"errorDetail":{"message":"archive/tar: invalid tar header"},'
    b'"error":"archive/tar: invalid tar header"}\r\n'
)


def test_import_image_sends_tar_and_returns_id() -> None:
    engine = Engine()
    engine.route("POST", "/images/create", lines_response(IMPORT_OK))
    with engine.sync() as client:
        image_id = client.import_image(b"TARBYTES", "rightsize/busybox", "local")
    request = engine.requests[-1]
    assert image_id is not None and image_id.startswith("sha256:249f")
    assert dict(request.url.params) == {
        "fromSrc": "-",
        "repo": "rightsize/busybox",
        "tag": "local",
    }
    assert request.headers["content-type"] == "application/x-tar"
    assert request.content == b"TARBYTES"


def test_import_image_error_in_progress_stream() -> None:
    engine = Engine()
    engine.route("POST", "/images/create", lines_response(IMPORT_FAILED))
    with engine.sync() as client, pytest.raises(EngineError, match="invalid tar header"):
        client.import_image(b"x", "r", "t")


def test_pull_image_error_in_progress_stream() -> None:
    engine = Engine()
    body = b'{"status":"Pulling from library/busybox"}\n{"error":"manifest unknown"}\n'
    engine.route("POST", "/images/create", lines_response(body))
    with engine.sync() as client, pytest.raises(EngineError, match="manifest unknown"):
        client.pull_image("busybox", "nope")
    assert dict(engine.requests[-1].url.params) == {"fromImage": "busybox", "tag": "nope"}


@pytest.mark.parametrize(("status", "expected"), [(200, True), (404, False)])
def test_image_exists(status: int, expected: bool) -> None:
    engine = Engine()
    engine.json("GET", "/images/rightsize/busybox:local/json", {"Id": "sha256:x"}, status)
    with engine.sync() as client:
        assert client.image_exists("rightsize/busybox:local") is expected


def test_image_exists_propagates_other_errors() -> None:
    engine = Engine()
    engine.json("GET", "/images/img/json", {"message": "boom"}, 500)
    with engine.sync() as client, pytest.raises(EngineError):
        client.image_exists("img")


# --- async client ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine_version", "expected"), [("1.41", "1.41"), ("1.99", MAX_API_VERSION)]
)
def test_async_negotiation(engine_version: str, expected: str) -> None:
    engine = Engine(engine_version)
    engine.json("GET", "/containers/json", [])

    async def scenario() -> str:
        async with engine.async_() as client:
            await client.containers()
            assert client.api_version is not None
            return client.api_version

    assert run(scenario()) == expected
    assert engine.paths == ["/version", f"/v{expected}/containers/json"]


def test_async_old_engine_refused() -> None:
    async def scenario() -> None:
        async with Engine("1.39").async_() as client:
            await client.info()

    with pytest.raises(RuntimeFailure, match=r"1\.39"):
        run(scenario())


def test_async_concurrent_calls_negotiate_once() -> None:
    engine = Engine()
    engine.json("GET", "/info", {"ID": "x"})

    async def scenario() -> list[dict[str, Any]]:
        async with engine.async_() as client:
            return await asyncio.gather(*(client.info() for _ in range(25)))

    assert len(run(scenario())) == 25
    assert engine.paths.count("/version") == 1


def test_async_containers_filters_and_stats_once() -> None:
    engine = Engine("1.40")
    engine.json("GET", "/containers/json", [{"Id": "a"}])
    engine.json("GET", "/containers/a/stats", {"id": "a"})

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with engine.async_() as client:
            return await client.containers({"name": ["api"]}), await client.stats_once("a")

    listing, sample = run(scenario())
    assert listing == [{"Id": "a"}] and sample == {"id": "a"}
    assert json.loads(engine.requests[1].url.params["filters"]) == {"name": ["api"]}
    assert dict(engine.requests[2].url.params) == {"stream": "false"}


async def _collect(iterator: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc async for doc in iterator]


def test_async_stats_stream_skips_invalid_line(caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine()
    engine.route("GET", "/containers/c1/stats", lines_response(JBR_STREAM.read_bytes()))

    async def scenario() -> list[dict[str, Any]]:
        async with engine.async_() as client:
            return await _collect(client.stats_stream("c1"))

    with caplog.at_level(logging.WARNING, logger="rightsize.docker"):
        docs = run(scenario())
    assert len(docs) == 4
    assert any("invalid JSON" in r.getMessage() for r in caplog.records)


def test_async_events_stream() -> None:
    raw = (LAB / "events.jsonl").read_bytes()
    engine = Engine()
    engine.route("GET", "/events", lines_response(raw))

    async def scenario() -> list[dict[str, Any]]:
        async with engine.async_() as client:
            return await _collect(client.events(filters={"event": ["oom"]}, until=1795761700))

    events = run(scenario())
    assert len(events) == len(raw.splitlines())
    assert engine.requests[-1].url.params["until"] == "1795761700"


@pytest.mark.parametrize(
    ("status", "exc_type"), [(404, NotFound), (409, NotFound), (500, EngineError)]
)
def test_async_error_status_mapping(status: int, exc_type: type[EngineError]) -> None:
    engine = Engine()
    engine.json("GET", "/containers/x/json", {"message": "engine says no"}, status)

    async def scenario() -> None:
        async with engine.async_() as client:
            await client.inspect("x")

    with pytest.raises(exc_type, match="engine says no") as info:
        run(scenario())
    assert type(info.value) is exc_type and info.value.status == status


@pytest.mark.parametrize(("handler", "message"), TRANSPORT_FAILURES)
def test_async_transport_failures(handler: Handler, message: str) -> None:
    async def scenario() -> None:
        async with AsyncDockerClient(HOST, transport=httpx.MockTransport(handler)) as client:
            await client.negotiate()

    with pytest.raises(RuntimeFailure) as info:
        run(scenario())
    assert str(info.value) == message


def test_async_stream_permission_error() -> None:
    async def scenario() -> None:
        async with AsyncDockerClient(HOST, transport=httpx.MockTransport(_denied)) as client:
            await _collect(client.events())

    with pytest.raises(RuntimeFailure, match="docker group"):
        run(scenario())


def test_async_lab_calls() -> None:
    engine = Engine()
    engine.json("POST", "/containers/create", {"Id": "abc", "Warnings": ["w"]}, status=201)
    engine.route("POST", "/containers/abc/start", lambda _r: httpx.Response(204))
    engine.route("POST", "/containers/abc/stop", lambda _r: httpx.Response(204))
    engine.route("DELETE", "/containers/abc", lambda _r: httpx.Response(204))
    engine.route("POST", "/images/create", lines_response(IMPORT_FAILED))
    engine.json("GET", "/images/img:1/json", {"message": "no such image"}, 404)

    async def scenario() -> tuple[str, bool]:
        async with engine.async_() as client:
            container = await client.create("lab", {"Image": "img:1"})
            await client.start(container)
            await client.stop(container, timeout=1)
            await client.remove(container, force=False)
            exists = await client.image_exists("img:1")
            with pytest.raises(EngineError, match="invalid tar header"):
                await client.import_image(b"x", "img", "1")
            return container, exists

    assert run(scenario()) == ("abc", False)
    methods = [(r.method, r.url.path) for r in engine.requests[1:5]]
    assert methods == [
        ("POST", "/v1.41/containers/create"),
        ("POST", "/v1.41/containers/abc/start"),
        ("POST", "/v1.41/containers/abc/stop"),
        ("DELETE", "/v1.41/containers/abc"),
    ]
    assert engine.requests[4].url.params["force"] == "false"


def test_tcp_host_base_url_is_used() -> None:
    host = EngineHost("tcp://engine:2375", "http://engine:2375")
    engine = Engine()
    engine.json("GET", "/info", {"ID": "y"})
    with DockerClient(host, transport=httpx.MockTransport(engine)) as client:
        client.info()
    assert str(engine.requests[-1].url) == "http://engine:2375/v1.41/info"


def test_stats_lines_yield_raw_unparsed_lines() -> None:
    raw = JBR_STREAM.read_bytes()
    engine = Engine()
    engine.route("GET", "/containers/c1/stats", lines_response(raw))

    async def scenario() -> list[str]:
        async with engine.async_() as client:
            return [line async for line in client.stats_lines("c1")]

    with engine.sync() as client:
        sync_lines = list(client.stats_lines("c1"))
    expected = [line.strip() for line in raw.decode().splitlines() if line.strip()]
    assert sync_lines == expected == run(scenario())
    assert len(expected) == 5 and expected[2] == "{INVALID LINE...}"


def test_non_json_version_answer_is_runtime_failure() -> None:
    def handler(_req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>proxy</html>")

    with (
        DockerClient(HOST, transport=httpx.MockTransport(handler)) as client,
        pytest.raises(RuntimeFailure, match="usable API version"),
    ):
        client.negotiate()
