"""Engines and servers that misbehave: deadlines, signals, bad input, secrets in URLs.

The engines are real unix-socket servers in the test (:mod:`tests.faults.fakes`);
the CLI runs as a subprocess, as a user would run it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rightsize.collect.kubelet import collect_kubelet
from rightsize.errors import RuntimeFailure, UsageError
from rightsize.logs import redact
from rightsize.sources.docker.client import AsyncDockerClient, DockerClient
from rightsize.sources.docker.host import resolve_host
from rightsize.store import Store
from tests.cli_run import one_line
from tests.faults import fakes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubelet"
SECRET = "s3cr3t-Pa55"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rightsize", *args]


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DOCKER_HOST", "RIGHTSIZE_TIMEOUT", "RIGHTSIZE_TOKEN")}
    env.update(extra)
    return env


Ran = tuple[subprocess.CompletedProcess[str], float]


def run_cli(*args: str, timeout: float = 60, **extra: str) -> Ran:
    t0 = time.monotonic()
    proc = subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout,
                          env=environ(**extra))
    return proc, time.monotonic() - t0


def interrupt_cli(server: fakes.Server, sig: int, *args: str,
                  after: float = 1.0) -> tuple[int, str, float]:
    """Start the CLI, send it ``sig`` ``after`` s once it reached ``server``.

    (exit code, stderr, seconds from the signal to the exit).
    """
    proc = subprocess.Popen(cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=environ())
    try:
        assert server.connected.wait(20), "the CLI never called the server"
        time.sleep(after)
        t0 = time.monotonic()
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=10)
        return proc.returncode, err, time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    return tmp_path / "engine.sock"


def serve(path: Path, handler: fakes.Handler) -> fakes.Server:
    return fakes.unix_server(path, handler)


# --- 1. deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "expect"),
    [(fakes.trickle, "within 2s"), (fakes.silent, "within 2s"),
     (fakes.reset, "lost the connection")],
    ids=["trickle", "silent", "reset"],
)
def test_stuck_engine_ends_with_exit_3_and_one_line(
    tmp_path: Path, sock: Path, behaviour: fakes.Handler, expect: str
) -> None:
    server = serve(sock, behaviour)
    try:
        proc, took = run_cli("--db", str(tmp_path / "s.db"), "collect", "--docker-host",
                             f"unix://{sock}", "--samples", "1", RIGHTSIZE_TIMEOUT="2s")
    finally:
        server.close()
    assert proc.returncode == 3, proc.stderr
    line = one_line(proc.stderr)
    assert str(sock) in line and expect in line, line
    assert took < 12  # startup + a 2 s deadline (today: 630 s for the trickle)


def test_stuck_list_call_is_bounded_too(tmp_path: Path, sock: Path) -> None:
    """The engine connects fine, then trickles the container list: the round gives up."""
    server = serve(sock, fakes.engine(fakes.trickle))
    try:
        proc, took = run_cli("--db", str(tmp_path / "s.db"), "collect", "--docker-host",
                             f"unix://{sock}", "--samples", "1", RIGHTSIZE_TIMEOUT="2s")
    finally:
        server.close()
    assert "Traceback" not in proc.stderr
    assert "did not answer GET /containers/json within 2s" in proc.stderr
    assert took < 12


@pytest.mark.parametrize(
    ("behaviour", "sig", "code"),
    [(fakes.trickle, signal.SIGTERM, 0), (fakes.trickle, signal.SIGINT, 130),
     (fakes.silent, signal.SIGTERM, 0), (fakes.silent, signal.SIGINT, 130),
     (fakes.engine(fakes.trickle), signal.SIGTERM, 0),
     (fakes.engine(fakes.silent), signal.SIGINT, 130)],
    ids=["trickle-term", "trickle-int", "silent-term", "silent-int", "list-trickle-term",
         "list-silent-int"],
)
def test_signals_stop_collect_within_2s(
    tmp_path: Path, sock: Path, behaviour: fakes.Handler, sig: int, code: int
) -> None:
    server = serve(sock, behaviour)
    try:  # after 1 s: well inside a stuck request
        returncode, err, took = interrupt_cli(server, sig, "--db", str(tmp_path / "s.db"),
                                              "collect", "--docker-host", f"unix://{sock}",
                                              "--interval", "1s")
    finally:
        server.close()
    assert took < 2.0, (took, err)
    assert returncode == code, err
    assert "Traceback" not in err
    assert "collected 0 samples" in err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_signals_stop_run_within_2s_on_a_stuck_engine(
    tmp_path: Path, sock: Path, sig: int, code: int
) -> None:
    """``run`` stops collecting at once; a cycle that collected nothing writes no report."""
    server = serve(sock, fakes.engine(fakes.silent))
    try:
        returncode, err, took = interrupt_cli(
            server, sig, "--db", str(tmp_path / "s.db"), "run", "--docker-host",
            f"unix://{sock}", "--duration", "1m", "--interval", "1s", "--out",
            str(tmp_path / "reports"), after=1.5)
    finally:
        server.close()
    assert took < 2.0, (took, err)
    assert returncode == code, err
    assert "Traceback" not in err and "collected anything: no report this cycle" in err


def test_sync_client_and_streams_have_deadlines(tmp_path: Path, sock: Path) -> None:
    server = serve(sock, fakes.trickle)
    try:
        t0 = time.monotonic()
        with (DockerClient(resolve_host(f"unix://{sock}"), deadline=1.5) as client,
              pytest.raises(RuntimeFailure, match=r"did not answer GET /version within 1.5s")):
            client.negotiate()
        assert time.monotonic() - t0 < 4
    finally:
        server.close()


def test_a_silent_stats_stream_ends(
    tmp_path: Path, sock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers, then nothing: the stream ends after its max silence, events never do."""
    from rightsize.sources.docker import client as client_module

    monkeypatch.setattr(client_module, "STATS_SILENCE", 1.0)

    def handler(conn: Any, line: str) -> None:
        if "/stats" in line or "/events" in line:
            fakes.headers_then_silence(conn, line)
        else:
            fakes.engine(fakes.bad_filter)(conn, line)

    server = serve(sock, handler)

    async def main() -> tuple[str, bool]:
        async with AsyncDockerClient(resolve_host(f"unix://{sock}"), deadline=2) as client:
            events = asyncio.ensure_future(anext(client.events()))
            t0 = time.monotonic()
            with pytest.raises(RuntimeFailure) as caught:
                async for _ in client.stats_lines("abc"):
                    pass
            assert time.monotonic() - t0 < 3
            await asyncio.sleep(0.5)
            alive = not events.done()
            events.cancel()
            return str(caught.value), alive

    try:
        message, events_alive = asyncio.run(main())
    finally:
        server.close()
    assert "sent nothing on GET /containers/abc/stats for 1s" in message
    assert events_alive  # events may be quiet for hours: no silence limit


def test_a_slow_kubelet_is_bounded(tmp_path: Path) -> None:
    server, port = fakes.tcp_server(fakes.trickle)
    try:
        with Store(tmp_path / "s.db") as store:
            t0 = time.monotonic()
            with pytest.raises(RuntimeFailure, match="did not answer /stats/summary within 1s"):
                asyncio.run(collect_kubelet(store, f"http://127.0.0.1:{port}", samples=1,
                                            timeout=1.0))
            assert time.monotonic() - t0 < 4
    finally:
        server.close()


def test_a_slow_prometheus_is_bounded(tmp_path: Path) -> None:
    server, port = fakes.tcp_server(fakes.trickle)
    try:
        proc, took = run_cli("--db", str(tmp_path / "s.db"), "collect", "--source",
                             "prometheus", "--prometheus-url", f"http://127.0.0.1:{port}",
                             RIGHTSIZE_TIMEOUT="2s")
    finally:
        server.close()
    assert proc.returncode == 3, proc.stderr
    assert "did not answer /api/v1/series within 2s" in one_line(proc.stderr)
    assert took < 12


def test_ctrl_c_stops_a_prometheus_read_within_2s(tmp_path: Path) -> None:
    server, port = fakes.tcp_server(fakes.trickle)
    try:
        returncode, err, took = interrupt_cli(
            server, signal.SIGINT, "--db", str(tmp_path / "s.db"), "collect", "--source",
            "prometheus", "--prometheus-url", f"http://127.0.0.1:{port}")
    finally:
        server.close()
    assert took < 2.0 and returncode == 130, (took, returncode, err)
    assert "Traceback" not in err


def test_bad_timeout_setting_is_exit_2(tmp_path: Path, sock: Path) -> None:
    proc, _ = run_cli("--db", str(tmp_path / "s.db"), "collect", "--docker-host",
                      f"unix://{sock}", "--samples", "1", RIGHTSIZE_TIMEOUT="soon")
    assert proc.returncode == 2
    assert "RIGHTSIZE_TIMEOUT" in one_line(proc.stderr)


# --- 2. a refused filter is a usage error -------------------------------------------------


def test_engine_400_on_the_list_is_exit_2_with_its_message(tmp_path: Path, sock: Path) -> None:
    server = serve(sock, fakes.engine(fakes.bad_filter))
    try:
        proc, _ = run_cli("--db", str(tmp_path / "s.db"), "collect", "--docker-host",
                          f"unix://{sock}", "--samples", "1", "--filter", "bogus=1")
    finally:
        server.close()
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and "reconnecting" not in proc.stderr
    assert "invalid filter 'bogus'" in line and "--filter bogus=1" in line, line


# --- 3. malformed engine addresses --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expect"),
    [("http://[::1", "Invalid IPv6 URL"),
     ("tcp://256.256.256.256:2375", "'256.256.256.256' is not an IPv4 address"),
     ("tcp://example.com:99999", "Port out of range"),
     ("tcp://bad host:2375", "is not a host name")],
)
def test_malformed_docker_host_is_exit_2(tmp_path: Path, value: str, expect: str) -> None:
    proc, _ = run_cli("--db", str(tmp_path / "s.db"), "collect", "--samples", "1",
                      DOCKER_HOST=value)
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc.stderr)
    assert expect in line and "expected" in line and "DOCKER_HOST" in line, line
    with pytest.raises(UsageError):
        resolve_host(value)


# --- 4. passwords in URLs -----------------------------------------------------------------


def test_redact_masks_only_the_password() -> None:
    assert redact("at http://me:pw@h:1/x and https://u:p%40q@h") == (
        "at http://me:***@h:1/x and https://u:***@h")
    assert redact("unix:///var/run/docker.sock http://h:9090/a:b@c") == (
        "unix:///var/run/docker.sock http://h:9090/a:b@c")


def _summary_without_node_name() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / "summary-1.json").read_text())
    doc["node"].pop("nodeName", None)
    return doc


def _kubelet_handler(seen: list[str]) -> fakes.Handler:
    body = _summary_without_node_name()

    def handle(conn: Any, line: str) -> None:
        seen.append(line)
        conn.sendall(fakes.response(200, body))

    return handle


def _store_text(db: Path) -> bytes:
    data = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    with sqlite3.connect(db) as conn:
        hosts = [r[0] for r in conn.execute("SELECT host FROM series GROUP BY host")]
    return data + "\n".join(hosts).encode()


def test_passwords_never_reach_output_logs_or_the_store(tmp_path: Path, sock: Path) -> None:
    db = tmp_path / "s.db"
    outputs: list[str] = []
    # the kubelet: the URL with a password names the node (no nodeName in the summary)
    seen: list[str] = []
    server, port = fakes.tcp_server(_kubelet_handler(seen))
    url = f"http://me:{SECRET}@127.0.0.1:{port}"
    try:
        for fmt in ("text", "json"):
            proc, _ = run_cli("--db", str(db), "-v", "--log-format", fmt, "collect",
                              "--source", "kubelet", "--kubelet-url", url, "--samples", "1")
            assert proc.returncode == 0, proc.stderr
            outputs += [proc.stdout, proc.stderr]
    finally:
        server.close()
    proc, _ = run_cli("--db", str(db), "analyze", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    outputs += [proc.stdout, proc.stderr]
    assert f"http://me:***@127.0.0.1:{port}" in json.loads(proc.stdout)["source"]["hosts"]
    # Prometheus that does not answer like Prometheus: the error names the URL
    server, port = fakes.tcp_server(lambda c, _l: c.sendall(fakes.response(500, ["x"])))
    try:
        proc, _ = run_cli("--db", str(db), "-v", "collect", "--source", "prometheus",
                          "--prometheus-url", f"http://me:{SECRET}@127.0.0.1:{port}")
        assert proc.returncode == 3, proc.stderr
        assert "me:***@" in proc.stderr
        outputs += [proc.stdout, proc.stderr]
    finally:
        server.close()
    for args in (["--prometheus-url", f"http://me:{SECRET}@127.0.0.1:0"],
                 ["--prometheus-url", f"http://me:{SECRET}@[::1"]):
        proc, _ = run_cli("--db", str(db), "collect", "--source", "prometheus", *args)
        assert proc.returncode in (2, 3), proc.stderr
        outputs += [proc.stdout, proc.stderr]
    # Docker: an engine URL takes no credentials; the refusal masks them
    for where in ({"DOCKER_HOST": f"tcp://me:{SECRET}@127.0.0.1:2375"}, {}):
        args = [] if where else ["--docker-host", f"tcp://me:{SECRET}@127.0.0.1:2375"]
        proc, _ = run_cli("--db", str(db), "collect", "--samples", "1", *args, **where)
        assert proc.returncode == 2, proc.stderr
        assert "me:***@" in proc.stderr
        outputs += [proc.stdout, proc.stderr]
    leaked = [o for o in outputs if SECRET in o]
    assert not leaked, leaked
    assert SECRET.encode() not in _store_text(db)


# --- 5. basic auth for the kubelet ----------------------------------------------------------


def test_kubelet_basic_auth_is_sent(tmp_path: Path) -> None:
    requests: list[httpx.Request] = []
    body = json.loads((FIXTURES / "summary-1.json").read_text())

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=body)

    with Store(tmp_path / "s.db") as store:
        asyncio.run(collect_kubelet(store, "https://node:10250", basic_auth=("me", SECRET),
                                    samples=1, transport=httpx.MockTransport(handler)))
    expected = httpx.BasicAuth("me", SECRET)._auth_header
    assert [r.headers.get("authorization") for r in requests] == [expected]


def test_kubelet_user_option_reaches_the_kubelet(tmp_path: Path) -> None:
    """``--user`` with RIGHTSIZE_PASSWORD, through the CLI, to a kubelet on a socket."""
    body = json.loads((FIXTURES / "summary-1.json").read_text())

    def handle(conn: Any, _line: str) -> None:
        conn.sendall(fakes.response(200, body))

    server, port = fakes.tcp_server(handle)
    try:
        proc, _ = run_cli("--db", str(tmp_path / "s.db"), "collect", "--source", "kubelet",
                          "--kubelet-url", f"http://127.0.0.1:{port}", "--user", "me",
                          "--samples", "1", RIGHTSIZE_PASSWORD=SECRET)
    finally:
        server.close()
    assert proc.returncode == 0, proc.stderr
    expected = httpx.BasicAuth("me", SECRET)._auth_header
    assert server.headers and all(
        f"authorization: {expected}".lower().encode() in h.lower() for h in server.headers
    ), server.headers
