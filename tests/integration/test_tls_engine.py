"""The collector against a real engine over TCP + TLS with client certificates.

The engine only listens on its unix socket, so the test puts a TLS-terminating
proxy in front of it (inside the test process): it demands a client certificate
signed by the test CA, then pipes bytes to ``/var/run/docker.sock``. rightsize
reaches it the way ``docker -H tcp://... --tlsverify`` would: ``DOCKER_HOST``,
``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH`` holding ``ca.pem``/``cert.pem``/``key.pem``.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsize.store import load

from .conftest import Containers, unavailable

pytestmark = pytest.mark.engine

SOCKET = "/var/run/docker.sock"
CHUNK = 64 * 1024


# --- certificates -----------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, f"openssl {' '.join(args)}: {proc.stderr}"


def _make_ca(d: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", f"{name}-key.pem", "-out", f"{name}.pem", "-subj", f"/CN={name}",
             cwd=d)


def _make_leaf(d: Path, ca: str, name: str, ext: str) -> None:
    """A key + certificate ``name`` signed by ``ca``, with extensions ``ext``."""
    (d / f"{name}.ext").write_text(ext)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem",
             "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
             "-extfile", f"{name}.ext", cwd=d)


def _cert_dir(d: Path, ca: str, client: str) -> Path:
    """A DOCKER_CERT_PATH folder: ``ca.pem`` plus a client ``cert.pem``/``key.pem``."""
    out = d / f"certs-{ca}-{client}"
    out.mkdir()
    shutil.copy(d / f"{ca}.pem", out / "ca.pem")
    shutil.copy(d / f"{client}.pem", out / "cert.pem")
    shutil.copy(d / f"{client}-key.pem", out / "key.pem")
    return out


class Pki:
    """Two CAs: ``ca`` signs the server and a good client; ``rogue`` signs a bad client."""

    def __init__(self, d: Path) -> None:
        self.dir = d
        _make_ca(d, "ca")
        _make_ca(d, "rogue")
        _make_leaf(d, "ca", "server", "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                   "extendedKeyUsage = serverAuth\n")
        client_ext = "extendedKeyUsage = clientAuth\n"
        _make_leaf(d, "ca", "client", client_ext)
        _make_leaf(d, "rogue", "rogueclient", client_ext)
        self.good = _cert_dir(d, "ca", "client")           # what docker --tlsverify would use
        self.rogue_client = _cert_dir(d, "ca", "rogueclient")  # the proxy refuses the client
        self.rogue_ca = _cert_dir(d, "rogue", "client")     # the client refuses the server


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        unavailable("the openssl CLI is needed to make test certificates")
    return Pki(tmp_path_factory.mktemp("pki"))


# --- the TLS proxy ----------------------------------------------------------------------------


class TlsProxy:
    """127.0.0.1:<port> with mutual TLS → the engine's unix socket, a thread per connection.

    The handshake is blocking, so a refused peer gets a real TLS alert (as from dockerd);
    then one thread pumps both directions with ``select`` until the engine closes, which
    keeps ``stats?stream=true`` and ``/events`` streams flowing.
    """

    def __init__(self, pki: Pki, socket_path: str = SOCKET) -> None:
        self.socket_path = socket_path
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki.dir / "server.pem", pki.dir / "server-key.pem")
        self.ctx.load_verify_locations(pki.dir / "ca.pem")
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.accepted = 0  # handshakes that succeeded (and went on to the engine)
        self.refused = 0  # handshakes that failed
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, name="tls-proxy", daemon=True)

    def start(self) -> None:
        self.acceptor.start()

    def stop(self) -> None:
        self.stopping.set()
        self.acceptor.join(10)
        self.listener.close()
        for t in self.threads:
            t.join(15)

    def alive(self) -> bool:
        return self.acceptor.is_alive() or any(t.is_alive() for t in self.threads)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                raw, _addr = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        tls = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except OSError:  # ssl.SSLError included: the alert has been sent
            with self.lock:
                self.refused += 1
            self._linger(tls)
            return
        with self.lock:
            self.accepted += 1
        with tls:
            try:
                up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                up.connect(self.socket_path)
            except OSError:
                return
            with up:
                self._pump(tls, up)

    @staticmethod
    def _linger(tls: ssl.SSLSocket) -> None:
        """Close once the peer has read our alert: closing with its request unread would
        send a TCP reset that can overtake the alert."""
        raw = socket.socket(fileno=tls.detach())
        with raw, contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)
            raw.settimeout(2)
            while raw.recv(CHUNK):
                pass

    def _pump(self, tls: ssl.SSLSocket, up: socket.socket) -> None:
        tls.setblocking(False)
        up.setblocking(False)
        to_up = to_tls = b""
        tls_open = up_open = True  # reading sides
        up_shut = False
        while not self.stopping.is_set():
            if not tls_open and not to_up and not up_shut:
                up.shutdown(socket.SHUT_WR)  # the client is done sending; let the engine finish
                up_shut = True
            if not up_open and not to_tls:
                return  # the engine closed and everything reached the client
            rl = [s for s, want in ((tls, tls_open and not to_up), (up, up_open and not to_tls))
                  if want]
            wl = [s for s, want in ((up, bool(to_up)), (tls, bool(to_tls))) if want]
            buffered = tls in rl and tls.pending() > 0
            try:
                r, w, _x = select.select(rl, wl, [], 0 if buffered else 0.2)
            except (OSError, ValueError):
                return
            try:
                if tls in r or buffered:
                    with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        data = tls.recv(CHUNK)
                        tls_open, to_up = bool(data), data
                if up in r:
                    with contextlib.suppress(BlockingIOError):
                        data = up.recv(CHUNK)
                        up_open, to_tls = bool(data), data
                if up in w:
                    with contextlib.suppress(BlockingIOError):
                        to_up = to_up[up.send(to_up):]
                if tls in w:
                    # Without partial writes OpenSSL sends all or asks for the same buffer again.
                    with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        to_tls = to_tls[tls.send(to_tls):]
            except OSError:
                return


@pytest.fixture
def proxy(pki: Pki) -> Iterator[TlsProxy]:
    p = TlsProxy(pki)
    p.start()
    yield p
    p.stop()
    assert not p.alive()


# --- the collector ----------------------------------------------------------------------------


def collect(db: Path, port: int, cert_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DOCKER_") and k != "RIGHTSIZE_DB"}
    env.update(DOCKER_HOST=f"tcp://127.0.0.1:{port}", DOCKER_TLS_VERIFY="1",
               DOCKER_CERT_PATH=str(cert_path))
    return subprocess.run(
        [sys.executable, "-m", "rightsize", "--db", str(db), "collect", "--interval", "1s",
         *args],
        capture_output=True, text=True, timeout=90, env=env,
    )


def test_collect_over_mutual_tls(
    tmp_path: Path, containers: Containers, pki: Pki, proxy: TlsProxy
) -> None:
    cid = containers.start("tls", "sleep 600")
    db = tmp_path / "s.db"
    proc = collect(db, proxy.port, pki.good, "--samples", "3",
                   "--filter", f"label={containers.label}")
    assert proc.returncode == 0, proc.stderr
    assert proxy.accepted >= 1  # it really went through the TLS port
    ds = load(db)
    mine = ds.samples[ds.samples["container_id"] == cid]
    assert len(mine) >= 2, proc.stderr
    host = f"tcp://127.0.0.1:{proxy.port}"
    assert set(mine["host"]) == {host}
    assert host in set(ds.hosts["host"])


def _one_line_failure(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_a_client_cert_from_another_ca_is_refused(
    tmp_path: Path, pki: Pki, proxy: TlsProxy
) -> None:
    proc = collect(tmp_path / "s.db", proxy.port, pki.rogue_client, "--samples", "1")
    line = _one_line_failure(proc)
    assert f"127.0.0.1:{proxy.port}" in line
    assert "TLS" in line and "DOCKER_CERT_PATH" in line  # the alert is reported as TLS
    assert proxy.accepted == 0  # no connection got past the handshake to the engine
    assert proxy.refused >= 1


def test_a_ca_that_did_not_sign_the_engine_is_refused(
    tmp_path: Path, pki: Pki, proxy: TlsProxy
) -> None:
    proc = collect(tmp_path / "s.db", proxy.port, pki.rogue_ca, "--samples", "1")
    line = _one_line_failure(proc)
    assert f"127.0.0.1:{proxy.port}" in line
    assert "TLS" in line and "DOCKER_CERT_PATH" in line
    assert proxy.accepted == 0
    assert proxy.refused >= 1
