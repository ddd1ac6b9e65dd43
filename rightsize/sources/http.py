"""HTTP(S) clients for the cluster sources (Prometheus and the kubelet).

One place for what both need: URL checks, bearer token or basic auth, TLS
(a CA file, skipping verification, a client certificate), the User-Agent,
total deadlines (:mod:`rightsize.sources.deadlines`) and the one-line error
for a server that cannot be reached.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from rightsize.errors import RuntimeFailure, UsageError
from rightsize.logs import redact
from rightsize.sources.deadlines import bound_client
from rightsize.version import USER_AGENT

__all__ = ["HEADERS", "client_options", "http_client", "unreachable_error"]

HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}


def _check_url(url: str, what: str) -> str:
    shown = redact(repr(url))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise UsageError(
            f"invalid {what} URL {shown}: {exc}; expected http(s)://host[:port][/path]"
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid {what} URL {shown}: expected http(s)://host[:port][/path], "
            "e.g. http://prometheus:9090"
        )
    return url.rstrip("/")


def _ssl_context(
    ca_file: str | None, insecure: bool, cert: tuple[str, str] | None
) -> ssl.SSLContext:
    try:
        if insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=ca_file)
        if cert is not None:
            ctx.load_cert_chain(certfile=cert[0], keyfile=cert[1])
    except (OSError, ssl.SSLError) as exc:
        source = ca_file if cert is None else f"{ca_file or 'system CAs'}, {cert[0]}"
        raise UsageError(f"cannot load TLS material ({source}): {exc}") from exc
    return ctx


def client_options(
    url: str,
    *,
    what: str,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    client_cert: tuple[str, str] | None = None,
    tenant: str | None = None,
    timeout: float,
) -> dict[str, Any]:
    """Keyword arguments for an ``httpx.Client``/``AsyncClient`` talking to ``url``.

    Bearer token or basic auth; ``ca_file``: CA bundle to verify the server
    with; ``insecure``: skip verification; ``client_cert``: (cert, key) files;
    ``tenant``: the ``X-Scope-OrgID`` header of multi-tenant Prometheus-compatible
    servers (Mimir, Cortex, Thanos Receive).
    A malformed URL or unreadable TLS material is a :class:`UsageError`.
    """
    base = _check_url(url, what)
    if token and basic_auth:
        raise UsageError(f"{what}: give a bearer token or basic auth, not both")
    headers = dict(HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token.strip()}"
    if tenant is not None:
        tenant = tenant.strip()
        if not tenant or any(ord(c) < 0x21 or ord(c) > 0x7E for c in tenant):
            raise UsageError(f"{what}: tenant {tenant!r}: expected a tenant id of printable "
                             "ASCII without blanks (X-Scope-OrgID, e.g. team-a or a|b)")
        headers["X-Scope-OrgID"] = tenant
    verify: ssl.SSLContext | bool = True
    if base.startswith("https://"):
        verify = _ssl_context(ca_file, insecure, client_cert)
    return {
        "base_url": base,
        "headers": headers,
        "auth": httpx.BasicAuth(*basic_auth) if basic_auth else None,
        "verify": verify,
        "timeout": httpx.Timeout(timeout, connect=10.0),
        "follow_redirects": True,
    }


def http_client(
    url: str,
    *,
    what: str,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> httpx.Client:
    """A sync client for ``url`` (see :func:`client_options`) honouring :func:`sync_deadline`."""
    return bound_client(
        httpx.Client(transport=transport, **client_options(url, what=what, **options))
    )


def unreachable_error(what: str, url: str, exc: Exception) -> RuntimeFailure:
    """The one-line RuntimeFailure for a server that did not answer ``exc``."""
    if isinstance(exc, httpx.TimeoutException):
        hint = "it did not answer in time; raise the timeout or query a shorter window"
    elif isinstance(exc, httpx.ConnectError) and "CERTIFICATE" in str(exc).upper():
        hint = "its TLS certificate was not trusted; pass its CA file or the insecure flag"
    else:
        hint = "check the URL and that the server is running and reachable from here"
    return RuntimeFailure(redact(f"cannot reach {what} at {url}: {exc}; {hint}"))
