"""Copy-paste fixes for one workload: Kubernetes YAML, ``docker update``, Compose YAML.

Values are the strategy's recommendation in each tool's own units: Kubernetes
quantities (``250m``, ``96Mi``), ``docker update`` flags (``--cpus 0.25``,
``--memory 96m``; the CPU request as ``--cpu-shares`` = cores x 1024, which is
how rightsize reads a Docker request back) and Compose ``deploy.resources``.

Container, service and workload names are untrusted: they only ever appear
as JSON-quoted YAML scalars (JSON strings are valid YAML double-quoted
scalars, and ``ensure_ascii`` leaves no line break or control character) or
``shlex.quote``-d shell words, never in comments.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rightsize.units import format_cpu

if TYPE_CHECKING:
    from rightsize.analysis.result import WorkloadResult
    from rightsize.model import Declared, Recommendation

__all__ = ["Fixes", "docker_memory", "fixes_for", "k8s_cpu", "k8s_memory", "yaml_quote"]

K8S_CONTAINER = "io.kubernetes.container.name"
COMPOSE_SERVICE = "com.docker.compose.service"


@dataclass(frozen=True)
class Fixes:
    """The three snippets (plain text; the template escapes them)."""

    kubernetes: str
    docker: str
    compose: str


def yaml_quote(text: str) -> str:
    """A YAML double-quoted scalar that holds ``text`` exactly (pure ASCII, one line)."""
    return json.dumps(text, ensure_ascii=True)


def k8s_cpu(cores: float) -> str:
    """Cores as a Kubernetes CPU quantity (``250m``, ``1``, ``1.5``), rounded up to 1m."""
    return format_cpu(cores)


def k8s_memory(nbytes: int) -> str:
    """Bytes as an exact Kubernetes memory quantity (``2Gi``, ``96Mi``, ``300Ki``, ``1234``)."""
    n = int(nbytes)
    for suffix, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if n and n % factor == 0:
            return f"{n // factor}{suffix}"
    return str(n)


def docker_memory(nbytes: int) -> str:
    """Bytes in ``docker`` units (``2g``, ``96m``, ``300k``, else ``1234b``), exactly."""
    n = int(nbytes)
    for suffix, factor in (("g", 2**30), ("m", 2**20), ("k", 2**10)):
        if n and n % factor == 0:
            return f"{n // factor}{suffix}"
    return f"{n}b"


def _docker_cpus(cores: float) -> str:
    milli = math.ceil(round(cores * 1000, 6))
    return f"{milli / 1000:g}"


def _compose_memory(nbytes: int) -> str:
    return docker_memory(nbytes).upper().replace("B", "b")


def container_name(w: WorkloadResult) -> str:
    """The Kubernetes container name (or Compose service / Docker name) of a workload."""
    for key in (K8S_CONTAINER, COMPOSE_SERVICE):
        value = w.labels.get(key)
        if value:
            return value
    return w.name.rsplit("/", 1)[-1] or w.name


def _kubernetes(name: str, rec: Recommendation, declared: Declared) -> str:
    requests: list[str] = []
    limits: list[str] = []
    if rec.cpu_request is not None:
        requests.append(f"cpu: {k8s_cpu(rec.cpu_request)}")
    if rec.memory_request is not None:
        requests.append(f"memory: {k8s_memory(rec.memory_request)}")
    if rec.cpu_limit is not None:
        limits.append(f"cpu: {k8s_cpu(rec.cpu_limit)}")
    if rec.memory_limit is not None:
        limits.append(f"memory: {k8s_memory(rec.memory_limit)}")
    lines = ["containers:", f"  - name: {yaml_quote(name)}", "    resources:"]
    if requests:
        lines += ["      requests:", *(f"        {x}" for x in requests)]
    if limits:
        lines += ["      limits:", *(f"        {x}" for x in limits)]
    if rec.cpu_limit is None and declared.cpu_limit is not None:
        lines.append("      # no CPU limit recommended: delete limits.cpu")
    return "\n".join(lines)


def _cpu_shares(cores: float) -> int:
    """A CPU request as Docker CPU shares (1024 per core, at least 2 as the kernel allows)."""
    return max(2, round(cores * 1024))


def _docker(names: list[str], rec: Recommendation, declared: Declared) -> str:
    flags: list[str] = []
    if rec.cpu_limit is not None:
        flags.append(f"--cpus {_docker_cpus(rec.cpu_limit)}")
    if rec.cpu_request is not None:
        flags.append(f"--cpu-shares {_cpu_shares(rec.cpu_request)}")
    if rec.memory_limit is not None:
        mem = docker_memory(rec.memory_limit)
        # the swap limit must not stay below a raised memory limit; equal = no swap
        flags += [f"--memory {mem}", f"--memory-swap {mem}"]
    if rec.memory_request is not None:
        flags.append(f"--memory-reservation {docker_memory(rec.memory_request)}")
    targets = [shlex.quote(n) for n in names]
    if any(n.startswith("-") for n in names):
        targets.insert(0, "--")
    body = " \\\n  ".join(["docker update", *flags, " ".join(targets)])
    if rec.cpu_limit is None and declared.cpu_limit is not None:
        body = "# no CPU limit recommended: recreate the container without --cpus\n" + body
    return body


def _compose(service: str, rec: Recommendation) -> str:
    limits: list[str] = []
    reservations: list[str] = []
    if rec.cpu_limit is not None:
        limits.append(f'cpus: "{_docker_cpus(rec.cpu_limit)}"')
    if rec.memory_limit is not None:
        limits.append(f"memory: {_compose_memory(rec.memory_limit)}")
    if rec.cpu_request is not None:
        reservations.append(f'cpus: "{_docker_cpus(rec.cpu_request)}"')
    if rec.memory_request is not None:
        reservations.append(f"memory: {_compose_memory(rec.memory_request)}")
    lines = ["services:", f"  {yaml_quote(service)}:"]
    if rec.cpu_request is not None:
        lines.append(f"    cpu_shares: {_cpu_shares(rec.cpu_request)}")
    lines += ["    deploy:", "      resources:"]
    if limits:
        lines += ["        limits:", *(f"          {x}" for x in limits)]
    if reservations:
        lines += ["        reservations:", *(f"          {x}" for x in reservations)]
    return "\n".join(lines)


def fixes_for(w: WorkloadResult) -> Fixes | None:
    """The snippets applying ``w``'s recommendation, or None when it sizes nothing."""
    rec = w.recommendation
    if rec is None or all(
        v is None for v in (rec.cpu_request, rec.cpu_limit, rec.memory_request, rec.memory_limit)
    ):
        return None
    name = container_name(w)
    docker_names = sorted({n for n in w.container_names if n}) or [name]
    return Fixes(
        kubernetes=_kubernetes(name, rec, w.declared),
        docker=_docker(docker_names, rec, w.declared),
        compose=_compose(name, rec),
    )
