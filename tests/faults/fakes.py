"""Misbehaving servers on real sockets: a Docker engine on a unix socket, plain HTTP on TCP."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERSION = {"ApiVersion": "1.41", "Version": "20.10.0", "Os": "linux"}
INFO = {"ID": "FAKE", "Name": "fake", "NCPU": 2, "MemTotal": 2 << 30,
        "ServerVersion": "20.10.0", "CgroupVersion": "2", "OSType": "linux"}

#: A handler gets the connected socket and the request line ("GET /path?query HTTP/1.1").
Handler = Callable[[socket.socket, str], None]


def response(status: int, body: Any, reason: str = "OK") -> bytes:
    data = json.dumps(body).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


def _read_request(conn: socket.socket) -> bytes | None:
    """The request's head (request line and headers); bodies are not expected."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0]


class Server:
    """Accepts connections on ``sock`` and runs ``handler`` for each request, in threads."""

    def __init__(self, sock: socket.socket, handler: Handler) -> None:
        self.sock = sock
        self.handler = handler
        self.requests: list[str] = []
        self.headers: list[bytes] = []
        self.connected = threading.Event()
        self.closed = False
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while not self.closed:
                head = _read_request(conn)
                if head is None:
                    return
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                self.headers.append(head)
                self.requests.append(line)
                self.connected.set()
                self.handler(conn, line)
        except OSError:
            pass

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()


def unix_server(path: Path, handler: Handler) -> Server:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(64)
    return Server(sock, handler)


def tcp_server(handler: Handler) -> tuple[Server, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return Server(sock, handler), sock.getsockname()[1]


# --- behaviours ----------------------------------------------------------------------


def trickle(conn: socket.socket, _line: str) -> None:
    """A valid answer, one byte a second."""
    for byte in response(200, VERSION):
        conn.sendall(bytes([byte]))
        time.sleep(1.0)


def silent(conn: socket.socket, _line: str) -> None:
    """Accept the request and never answer."""
    time.sleep(3600)


def reset(conn: socket.socket, _line: str) -> None:
    """Close with SO_LINGER 0: the client sees a connection reset."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    raise OSError("reset")


def engine(containers: Handler) -> Handler:
    """A healthy engine for /version, /info and /events; ``containers`` answers the list."""

    def handle(conn: socket.socket, line: str) -> None:
        path = line.split(" ")[1]
        if path.startswith("/version") or "/version" in path.split("?")[0]:
            conn.sendall(response(200, VERSION))
        elif path.split("?")[0].endswith("/info"):
            conn.sendall(response(200, INFO))
        elif "/events" in path:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            time.sleep(3600)
        elif "/containers/json" in path:
            containers(conn, line)
        else:
            conn.sendall(response(404, {"message": "no such thing"}, "Not Found"))

    return handle


def bad_filter(conn: socket.socket, _line: str) -> None:
    conn.sendall(response(400, {"message": "invalid filter 'bogus'"}, "Bad Request"))


def headers_then_silence(conn: socket.socket, _line: str) -> None:
    """A 200 that starts a chunked body and then sends nothing."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    time.sleep(3600)
