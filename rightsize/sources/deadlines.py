"""Total deadlines for the HTTP requests of every source (engine, kubelet, Prometheus).

httpx's timeouts bound each socket operation, so a server that trickles one
byte a second never trips them. Every request therefore also gets a total
deadline: async code wraps the request (body included) in
``asyncio.timeout``; sync code sets :func:`sync_deadline` around it, which the
network streams of a transport passed through :func:`bound_transport` honour
by shrinking each socket timeout to the time left.

``RIGHTSIZE_TIMEOUT`` (a duration: ``10s``, ``2m``, or seconds) overrides the
default total deadline of every source.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import time
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpcore
import httpx

__all__ = ["ENV", "Deadline", "bound_client", "bound_transport", "configured", "sync_deadline"]

ENV = "RIGHTSIZE_TIMEOUT"

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "rightsize_deadline", default=None
)


def configured(default: float) -> float:
    """The total deadline in seconds: ``RIGHTSIZE_TIMEOUT`` if set, else ``default``."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return default
    from rightsize.units import parse_duration

    return parse_duration(text, what=ENV)


@dataclass
class Deadline:
    """One sync deadline: ``expired`` says whether it ran out."""

    end: float

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end


@contextlib.contextmanager
def sync_deadline(seconds: float | None) -> Iterator[Deadline | None]:
    """Bound every socket read/write/connect in this context to ``seconds`` in total."""
    if seconds is None:
        yield None
        return
    end = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(end if outer is None else min(end, outer))
    try:
        yield Deadline(end)
    finally:
        _deadline.reset(token)


def _bound(timeout: float | None) -> float | None:
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _BoundStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bound(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _BoundStream(self._inner.start_tls(ssl_context, server_hostname, _bound(timeout)))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _BoundBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _BoundStream(
            self._inner.connect_tcp(host, port, _bound(timeout), local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _BoundStream(self._inner.connect_unix_socket(path, _bound(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound_transport(transport: httpx.BaseTransport) -> httpx.BaseTransport:
    """Make ``transport`` (an ``httpx.HTTPTransport``) honour :func:`sync_deadline`.

    httpx has no public hook for this: the pool's network backend is wrapped.
    Other transports (``MockTransport``) are returned unchanged.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _BoundBackend):
        pool._network_backend = _BoundBackend(backend)  # type: ignore[union-attr]
    return transport


def bound_client(client: httpx.Client) -> httpx.Client:
    """:func:`bound_transport` for a client's transport and its proxy mounts."""
    transports = [getattr(client, "_transport", None)]
    transports += list(getattr(client, "_mounts", {}).values())
    for t in transports:
        if isinstance(t, httpx.BaseTransport):
            bound_transport(t)
    return client
