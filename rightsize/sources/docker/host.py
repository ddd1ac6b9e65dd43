"""Where the Docker engine is: DOCKER_HOST, docker contexts, TLS, and httpx transports.

Resolution order (the same as the docker CLI, minus ``ssh://`` and ``npipe://``):

1. an explicit URL (``--docker-host``),
2. ``DOCKER_HOST``,
3. ``DOCKER_CONTEXT`` or the CLI's current context (``~/.docker/config.json``
   ``currentContext``; the context ``default`` means the default socket),
4. ``unix:///var/run/docker.sock``.

TLS is on for ``https://``, for ``tcp://`` on port 2376, when ``DOCKER_TLS_VERIFY``
is non-empty (verify the engine against ``ca.pem``), when ``DOCKER_TLS`` is
non-empty (encrypt without verifying, as ``docker --tls`` does) and for contexts
that carry TLS material. Certificates come from ``DOCKER_CERT_PATH`` (default
``~/.docker``): ``ca.pem``, ``cert.pem``, ``key.pem``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from rightsize.errors import UsageError
from rightsize.logs import redact
from rightsize.sources.deadlines import bound_transport

__all__ = [
    "ASYNC_POOL_LIMITS",
    "DEFAULT_HOST",
    "DEFAULT_SOCKET",
    "SUPPORTED_SCHEMES",
    "EngineHost",
    "make_async_transport",
    "make_transport",
    "resolve_host",
]

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_HOST = f"unix://{DEFAULT_SOCKET}"
SUPPORTED_SCHEMES = ("unix", "tcp", "http", "https")
UDS_BASE_URL = "http://docker"
PLAIN_PORT = 2375
TLS_PORT = 2376

# Hundreds of containers are sampled concurrently through one async client.
ASYNC_POOL_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128)


@dataclass(frozen=True)
class EngineHost:
    """A resolved Docker engine address and how to talk to it.

    ``url`` is the normalised address shown to users; ``base_url`` is what httpx
    needs (``http://docker`` for a unix socket, ``http(s)://host:port`` for TCP).
    ``cert_path`` is the directory holding ``ca.pem``/``cert.pem``/``key.pem``.
    """

    url: str
    base_url: str
    socket_path: str | None = None
    tls: bool = False
    cert_path: str | None = None
    verify: bool = True


def _supported() -> str:
    return ", ".join(f"{scheme}://" for scheme in SUPPORTED_SCHEMES)


def _unsupported(url: str, origin: str) -> UsageError:
    return UsageError(
        f"unsupported Docker host {redact(repr(url))}{origin}; supported schemes: {_supported()}"
    )


_HOSTNAME = re.compile(r"(?!-)[\w-]{1,63}(?<!-)(\.(?!-)[\w-]{1,63}(?<!-))*\.?", re.ASCII)


def _check_hostname(hostname: str) -> str | None:
    """Why ``hostname`` is not an IP address or a DNS name, or ``None`` when it is one."""
    if ":" in hostname:
        try:
            ipaddress.IPv6Address(hostname.split("%", 1)[0])
        except ValueError:
            return f"{hostname!r} is not an IPv6 address"
        return None
    if re.fullmatch(r"[0-9.]+", hostname):
        try:
            ipaddress.IPv4Address(hostname)
        except ValueError:
            return f"{hostname!r} is not an IPv4 address (four numbers 0-255)"
        return None
    if len(hostname) > 253 or not _HOSTNAME.fullmatch(hostname):
        return f"{hostname!r} is not a host name"
    return None


def _flag(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip())


def _parse_url(
    url: str,
    *,
    tls: bool,
    verify: bool,
    cert_path: str | None,
    origin: str = "",
) -> EngineHost:
    """Turn one host URL into an :class:`EngineHost` (``origin`` explains where it came from)."""
    raw = url.strip()
    if "://" not in raw:
        if raw.startswith("/"):
            raise UsageError(
                f"unsupported Docker host {redact(repr(url))}{origin}; "
                f"did you mean unix://{raw}? supported schemes: {_supported()}"
            )
        raw = f"tcp://{raw}"  # the docker CLI reads a bare host:port as tcp://
    scheme, _, rest = raw.partition("://")
    scheme = scheme.lower()
    if scheme not in SUPPORTED_SCHEMES:
        raise _unsupported(url, origin)

    if scheme == "unix":
        path = rest or DEFAULT_SOCKET
        if not path.startswith("/"):
            raise UsageError(
                f"invalid Docker host {redact(repr(url))}{origin}: a unix socket needs an "
                f"absolute path (unix:///path/to/docker.sock)"
            )
        return EngineHost(url=f"unix://{path}", base_url=UDS_BASE_URL, socket_path=path)

    shown = redact(repr(url))
    expected = f"expected {scheme}://host:port (host a name, an IPv4 address or [IPv6])"
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid Docker host {shown}{origin}: {exc}; {expected}") from exc
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"invalid Docker host {shown}{origin}: the engine takes no user or password in "
            f"its URL; {expected}"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"invalid Docker host {shown}{origin}: {expected}")
    if port == 0:
        raise UsageError(f"invalid Docker host {shown}{origin}: port 0; {expected}")
    hostname = parts.hostname or "127.0.0.1"
    problem = _check_hostname(hostname)
    if problem is not None:
        raise UsageError(f"invalid Docker host {shown}{origin}: {problem}; {expected}")
    if ":" in hostname:
        hostname = f"[{hostname}]"  # IPv6 literal
    if scheme == "https":
        tls = True
    elif scheme == "http":
        tls = False
    elif port == TLS_PORT:
        tls = True
    if port is None:
        port = TLS_PORT if tls else PLAIN_PORT
    path = parts.path.rstrip("/")
    authority = f"{hostname}:{port}"
    return EngineHost(
        url=f"{scheme}://{authority}{path}",
        base_url=f"{'https' if tls else 'http'}://{authority}{path}",
        socket_path=None,
        tls=tls,
        cert_path=cert_path if tls else None,
        verify=verify if tls else True,
    )


def _context_name_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _read_json(path: Path) -> object:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read docker CLI file {path}: {exc}") from exc


def _current_context(env: Mapping[str, str], config_dir: Path) -> str | None:
    name = env.get("DOCKER_CONTEXT", "").strip()
    if name:
        return name
    config_file = config_dir / "config.json"
    if not config_file.is_file():
        return None
    data = _read_json(config_file)
    if isinstance(data, dict):
        current = data.get("currentContext")
        if isinstance(current, str) and current.strip():
            return current.strip()
    return None


def _host_from_context(name: str, config_dir: Path) -> EngineHost:
    digest = _context_name_hash(name)
    meta_file = config_dir / "contexts" / "meta" / digest / "meta.json"
    origin = f" (from docker context {name!r})"
    if not meta_file.is_file():
        raise UsageError(f"docker context {name!r} not found (no {meta_file})")
    meta = _read_json(meta_file)
    endpoint: object = None
    if isinstance(meta, dict):
        endpoints = meta.get("Endpoints")
        if isinstance(endpoints, dict):
            endpoint = endpoints.get("docker")
    if not isinstance(endpoint, dict):
        raise UsageError(f"docker context {name!r} has no docker endpoint ({meta_file})")
    host = endpoint.get("Host")
    if not isinstance(host, str) or not host.strip():
        return _parse_url(DEFAULT_HOST, tls=False, verify=True, cert_path=None)
    skip_verify = bool(endpoint.get("SkipTLSVerify", False))
    tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
    has_tls = any((tls_dir / pem).is_file() for pem in ("ca.pem", "cert.pem", "key.pem"))
    return _parse_url(
        host,
        tls=has_tls,
        verify=not skip_verify,
        cert_path=str(tls_dir) if has_tls else None,
        origin=origin,
    )


def resolve_host(
    url: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
) -> EngineHost:
    """Resolve the Docker engine address (explicit URL > DOCKER_HOST > context > default).

    ``env`` defaults to ``os.environ`` and ``home`` to the user's home directory;
    both are injectable for tests. ``DOCKER_CONFIG`` overrides ``~/.docker`` as
    the docker CLI's config directory. Raises :class:`UsageError` for unsupported
    schemes (``ssh://``, ``npipe://``…), malformed URLs and missing contexts.
    """
    env = os.environ if env is None else env
    home_dir = Path(home) if home is not None else Path(os.path.expanduser("~"))
    config_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home_dir / ".docker"

    tls_verify = _flag(env, "DOCKER_TLS_VERIFY")
    tls = tls_verify or _flag(env, "DOCKER_TLS")
    cert_path = env.get("DOCKER_CERT_PATH", "").strip() or str(home_dir / ".docker")

    if url is not None and url.strip():
        return _parse_url(url, tls=tls, verify=tls_verify or not tls, cert_path=cert_path)
    docker_host = env.get("DOCKER_HOST", "").strip()
    if docker_host:
        return _parse_url(
            docker_host,
            tls=tls,
            verify=tls_verify or not tls,
            cert_path=cert_path,
            origin=" (from DOCKER_HOST)",
        )
    context = _current_context(env, config_dir)
    if context and context != "default":
        return _host_from_context(context, config_dir)
    return _parse_url(DEFAULT_HOST, tls=False, verify=True, cert_path=None)


def _ssl_context(host: EngineHost) -> ssl.SSLContext:
    """Build the client TLS context: CA from ``ca.pem`` if present, client cert/key if present."""
    cert_dir = Path(host.cert_path) if host.cert_path else None
    ca = cert_dir / "ca.pem" if cert_dir else None
    cert = cert_dir / "cert.pem" if cert_dir else None
    key = cert_dir / "key.pem" if cert_dir else None
    try:
        if host.verify:
            cafile = str(ca) if ca is not None and ca.is_file() else None
            ctx = ssl.create_default_context(cafile=cafile)
        else:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if cert is not None and key is not None and cert.is_file():
            if not key.is_file():
                raise UsageError(f"TLS client certificate {cert} has no matching key {key}")
            ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot load TLS material from {cert_dir}: {exc}") from exc
    return ctx


def make_transport(host: EngineHost) -> httpx.HTTPTransport:
    """A sync httpx transport for ``host`` (unix socket or TCP, with TLS if needed)."""
    if host.socket_path is not None:
        transport = httpx.HTTPTransport(uds=host.socket_path)
    elif host.tls:
        transport = httpx.HTTPTransport(verify=_ssl_context(host))
    else:
        transport = httpx.HTTPTransport()
    bound_transport(transport)  # honours the client's total deadlines
    return transport


def make_async_transport(host: EngineHost) -> httpx.AsyncHTTPTransport:
    """An async httpx transport for ``host`` with a pool sized for hundreds of streams."""
    if host.socket_path is not None:
        return httpx.AsyncHTTPTransport(uds=host.socket_path, limits=ASYNC_POOL_LIMITS)
    if host.tls:
        return httpx.AsyncHTTPTransport(verify=_ssl_context(host), limits=ASYNC_POOL_LIMITS)
    return httpx.AsyncHTTPTransport(limits=ASYNC_POOL_LIMITS)
