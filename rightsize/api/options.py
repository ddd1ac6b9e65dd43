"""Typed options of the cluster sources, as the CLI and notebooks give them.

:class:`ClusterAuth` is how Prometheus and the kubelet are reached;
:class:`Prometheus` and :class:`Kubelet` say what to read from them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rightsize.errors import UsageError
from rightsize.units import iso_utc

__all__ = ["ClusterAuth", "Kubelet", "Prometheus", "check_window"]


@dataclass(frozen=True)
class ClusterAuth:
    """Credentials and TLS settings for a cluster source (never logged or stored)."""

    token: str | None = None
    basic_auth: tuple[str, str] | None = None
    ca_file: str | None = None
    insecure: bool = False

    @classmethod
    def resolve(
        cls,
        *,
        token: str | None = None,
        token_file: Path | str | None = None,
        user: str | None = None,
        ca_file: Path | str | None = None,
        insecure: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> ClusterAuth:
        """From the options: ``token_file`` wins over ``token``, ``user``'s password
        is ``RIGHTSIZE_PASSWORD``; an unreadable token file is a :class:`UsageError`."""
        env = os.environ if env is None else env
        if token_file is not None:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as exc:
                raise UsageError(f"cannot read --token-file {token_file}: "
                                 f"{exc.strerror or exc}") from exc
        return cls(
            token=token or None,
            basic_auth=(str(user), env.get("RIGHTSIZE_PASSWORD", "")) if user else None,
            ca_file=None if ca_file is None else str(ca_file),
            insecure=bool(insecure),
        )

    def kwargs(self) -> dict[str, Any]:
        """The connection keyword arguments the sources take."""
        return {"token": self.token, "basic_auth": self.basic_auth, "ca_file": self.ca_file,
                "insecure": self.insecure}


@dataclass(frozen=True)
class Prometheus:
    """A Prometheus to read cAdvisor and kube-state-metrics history from.

    ``step``: seconds between raw samples (default: from the window);
    ``resolution``: aggregate mode (seconds, or ``"auto"``), see
    :func:`rightsize.sources.prometheus.collect_prometheus`; ``host_label``:
    the label naming the host of standalone-cAdvisor (Docker fleet) series;
    ``tenant``: the ``X-Scope-OrgID`` of a multi-tenant server (Mimir, Cortex).
    """

    url: str
    auth: ClusterAuth = field(default_factory=ClusterAuth)
    namespaces: tuple[str, ...] = ()
    selector: str = ""
    step: float | None = None
    resolution: float | Literal["auto"] | None = None
    host_label: str = "instance"
    tenant: str | None = None


@dataclass(frozen=True)
class Kubelet:
    """Kubelets (or API-server node proxies) whose Summary API is polled."""

    urls: tuple[str, ...]
    auth: ClusterAuth = field(default_factory=ClusterAuth)
    namespaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.urls:
            raise UsageError("--source kubelet needs --kubelet-url URL")


def check_window(since: float | None, until: float | None) -> None:
    """``since`` must come before ``until`` (a :class:`UsageError` naming both)."""
    if since is not None and until is not None and since >= until:
        raise UsageError(f"--since ({iso_utc(since)}) must be before --until ({iso_utc(until)})")


def namespaces_or_none(namespaces: Sequence[str]) -> list[str] | None:
    """The sources' ``namespaces`` argument: None for every namespace."""
    return list(namespaces) or None
