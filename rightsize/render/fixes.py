"""Copy-paste fixes for one workload, in the tools of the platform it runs on.

- Kubernetes (kubelet CRI labels, cri-dockerd, Prometheus, kubelet sources):
  the container's ``resources`` YAML, ``kubectl set resources`` and
  ``kubectl patch`` (strategic merge; ``--subresource resize`` for a bare pod),
  and for the pods of a controller ``kubectl patch pod … --subresource resize``
  (in-place resize, GA in Kubernetes 1.35), saying when a restart would still
  happen: a memory limit decrease (refused in place under the default
  ``NotRequired`` policy before 1.35, applied only below the usage in 1.35) or a
  ``resizePolicy`` of ``RestartContainer``.
  ``kubectl set resources`` cannot delete a limit (``cpu=0`` writes ``"0"``),
  so dropping a CPU limit is left to the ``kubectl patch`` (``"cpu": null``).
- Docker Compose (``com.docker.compose.*`` labels): the service's keys that
  ``docker compose`` honours (``deploy.resources.limits.cpus/memory``,
  ``deploy.resources.reservations.memory``, the ``cpu_shares`` service key;
  ``reservations.cpus`` is Swarm-only and ignored, so the CPU request is
  ``cpu_shares``), and ``docker update`` for the running containers.
- Plain Docker: ``docker update`` (applies live, no restart) and the
  ``docker run`` flags to recreate the container with.

Values are the recommendation in each tool's own units: Kubernetes quantities
(``250m``, ``96Mi``), ``docker`` flags (``--cpus 0.25``, ``--memory 96m``; the
CPU request as ``--cpu-shares`` = cores x 1024, which is how rightsize reads
a Docker request back). A value the recommendation leaves out (None) is not
touched, except a CPU limit a sized recommendation drops. A lower-bound
recommendation (:attr:`Recommendation.lower_bound`) only raises what it names.

Container, service and workload names are untrusted: they only ever appear
as JSON-quoted YAML scalars or JSON strings (``ensure_ascii`` leaves no line
break or control character) or ``shlex.quote``-d shell words, never in comments.

One piece: the platforms' fixes share the value formatting, the lower-bound
rule and the quoting rules above; each platform is one section.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rightsize.units import format_cpu

if TYPE_CHECKING:
    from rightsize.analysis.result import WorkloadResult
    from rightsize.model import Declared, Recommendation

__all__ = [
    "Fixes",
    "Platform",
    "docker_memory",
    "fixes_for",
    "k8s_cpu",
    "k8s_memory",
    "platform_of",
    "yaml_quote",
]

K8S_NAMESPACE = "io.kubernetes.pod.namespace"
K8S_POD = "io.kubernetes.pod.name"
K8S_CONTAINER = "io.kubernetes.container.name"
K8S_OWNER_KIND = "rightsize.kubernetes.owner-kind"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"

Platform = Literal["kubernetes", "compose", "docker"]


@dataclass(frozen=True)
class Fixes:
    """The snippets for one workload: ``(title, text)`` pairs (plain text; templates escape)."""

    platform: Platform
    snippets: tuple[tuple[str, str], ...]

    def get(self, title: str) -> str:
        """The snippet whose title starts with ``title`` ("" when there is none)."""
        return next((text for t, text in self.snippets if t.startswith(title)), "")


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


def platform_of(w: WorkloadResult) -> Platform:
    """Where the workload runs, from its labels."""
    if w.labels.get(K8S_NAMESPACE) and w.labels.get(K8S_CONTAINER):
        return "kubernetes"
    if w.labels.get(COMPOSE_PROJECT) and w.labels.get(COMPOSE_SERVICE):
        return "compose"
    return "docker"


def container_name(w: WorkloadResult) -> str:
    """The Kubernetes container name (or Compose service / Docker name) of a workload."""
    for key in (K8S_CONTAINER, COMPOSE_SERVICE):
        value = w.labels.get(key)
        if value:
            return value
    return w.name.rsplit("/", 1)[-1] or w.name


def _drops_cpu_limit(rec: Recommendation, declared: Declared) -> bool:
    """A sized recommendation without a CPU limit, for a workload that declares one."""
    return rec.sized and rec.cpu_limit is None and declared.cpu_limit is not None


# ---------------------------------------------------------------- Kubernetes


def _k8s_values(rec: Recommendation) -> tuple[dict[str, str], dict[str, str]]:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if rec.cpu_request is not None:
        requests["cpu"] = k8s_cpu(rec.cpu_request)
    if rec.memory_request is not None:
        requests["memory"] = k8s_memory(rec.memory_request)
    if rec.cpu_limit is not None:
        limits["cpu"] = k8s_cpu(rec.cpu_limit)
    if rec.memory_limit is not None:
        limits["memory"] = k8s_memory(rec.memory_limit)
    return requests, limits


def _kubernetes_yaml(name: str, rec: Recommendation, declared: Declared) -> str:
    requests, limits = _k8s_values(rec)
    lines = ["containers:", f"  - name: {yaml_quote(name)}", "    resources:"]
    if requests:
        lines += ["      requests:", *(f"        {k}: {v}" for k, v in requests.items())]
    if limits:
        lines += ["      limits:", *(f"        {k}: {v}" for k, v in limits.items())]
    if _drops_cpu_limit(rec, declared):
        lines.append("      # no CPU limit recommended: delete limits.cpu")
    return "\n".join(lines)


#: the kinds ``kubectl`` patches, from an owner kind or the pod-name pattern
_KINDS = {
    "deployment": "deployment",
    "replicaset": "deployment",
    "statefulset": "statefulset",
    "daemonset": "daemonset",
    "job": "job",
    "cronjob": "cronjob",
    "pod": "pod",
}


def _k8s_target(w: WorkloadResult) -> tuple[str, str, str]:
    """(namespace, kind, name) of the object owning the workload's pods."""
    from rightsize.analysis.workloads import (
        _CRONJOB,
        _DEPLOYMENT,
        _STATEFULSET,
        _SUFFIXED,
        owner_from_pod,
    )

    namespace = w.labels.get(K8S_NAMESPACE, "default")
    pod = w.labels.get(K8S_POD, "")
    parts = w.name.split("/")
    owner = parts[1] if len(parts) == 3 else (owner_from_pod(pod) if pod else container_name(w))
    kind = _KINDS.get(w.labels.get(K8S_OWNER_KIND, "").lower(), "")
    if not kind:
        if _DEPLOYMENT.match(pod):
            kind = "deployment"
        elif _CRONJOB.match(pod):
            kind = "cronjob"
        elif _STATEFULSET.match(pod):
            kind = "statefulset"
        elif _SUFFIXED.match(pod):
            kind = "daemonset"
        else:
            kind = "pod"
    return namespace, kind, owner


def _pod_spec_body(kind: str, pod_spec: dict[str, Any]) -> dict[str, Any]:
    if kind == "pod":
        return {"spec": pod_spec}
    if kind == "cronjob":
        return {"spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec}}}}}
    return {"spec": {"template": {"spec": pod_spec}}}


def _ns_words(namespace: str) -> list[str]:
    if namespace.startswith("-"):
        return [shlex.quote(f"--namespace={namespace}")]
    return ["-n", shlex.quote(namespace)]


def _resources_patch(w: WorkloadResult, rec: Recommendation) -> dict[str, Any]:
    """A strategic-merge ``resources`` block: the recommended values, ``cpu: null`` to drop
    a CPU limit."""
    requests, limits = _k8s_values(rec)
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    lim: dict[str, str | None] = dict(limits)
    if _drops_cpu_limit(rec, w.declared):
        lim["cpu"] = None  # strategic merge: delete the key
    if lim:
        resources["limits"] = lim
    return resources


def _kubectl_patch(w: WorkloadResult, rec: Recommendation) -> str:
    namespace, kind, owner = _k8s_target(w)
    container = {"name": container_name(w), "resources": _resources_patch(w, rec)}
    body = _pod_spec_body(kind, {"containers": [container]})
    patch = json.dumps(body, separators=(",", ":"), ensure_ascii=True)
    words = ["kubectl", *_ns_words(namespace), "patch", kind]
    options = ["--type", "strategic", "-p", shlex.quote(patch)]
    if kind == "pod":
        options += ["--subresource", "resize"]
    if owner.startswith("-"):
        words += [*options, "--", shlex.quote(owner)]
    else:
        words += [shlex.quote(owner), *options]
    return " ".join(words)


#: Pods the in-place resize snippet names (one command each); the rest are counted.
MAX_RESIZE_PODS = 20


def _pods(w: WorkloadResult) -> list[str]:
    """The pod names of a Kubernetes workload's containers (Prometheus, kubelet, cri-dockerd)."""
    pods = set()
    for name in w.container_names:
        if "/" in name:  # Prometheus and kubelet sources: pod/container
            pods.add(name.split("/", 1)[0])
        elif name.startswith("k8s_") and name.count("_") >= 3:  # k8s_<container>_<pod>_<ns>_…
            pods.add(name.split("_")[2])
    if not pods and w.labels.get(K8S_POD):
        pods.add(w.labels[K8S_POD])
    return sorted(p for p in pods if p)


def _resize_notes(rec: Recommendation, declared: Declared) -> list[str]:
    """When an in-place resize would still restart the container (values only, no names)."""
    notes = [
        "# in-place resize of the running pods (Kubernetes 1.33+, GA in 1.35); the owner's",
        "# template (kubectl patch above) keeps the values for new pods. No restart with",
        "# resizePolicy NotRequired (the default), except:",
    ]
    old, new = declared.memory_limit, rec.memory_limit
    if old is not None and new is not None and new < old:
        notes += [
            f"# - this lowers the memory limit ({k8s_memory(old)} -> {k8s_memory(new)}): "
            "under NotRequired 1.33-1.34",
            "#   refuse it in place (recreate the pod: a restart) and 1.35 applies it only",
            "#   while usage is below the new limit (else the resize stays in progress)",
        ]
    notes.append(
        "# - a resource whose resizePolicy is RestartContainer restarts the container"
    )
    return notes


def _kubectl_resize(w: WorkloadResult, rec: Recommendation) -> str:
    """``kubectl patch pod <pod> --subresource resize`` for each running pod of the workload."""
    namespace = _k8s_target(w)[0]
    resources = _resources_patch(w, rec)
    body = {"spec": {"containers": [{"name": container_name(w), "resources": resources}]}}
    patch = shlex.quote(json.dumps(body, separators=(",", ":"), ensure_ascii=True))
    lines = _resize_notes(rec, w.declared)
    pods = _pods(w) or ["POD"]
    for pod in pods[:MAX_RESIZE_PODS]:
        target = ["--", shlex.quote(pod)] if pod.startswith("-") else [shlex.quote(pod)]
        words = ["kubectl", *_ns_words(namespace), "patch", "pod"]
        options = ["--subresource", "resize", "--type", "strategic", "-p", patch]
        words += [*options, *target] if pod.startswith("-") else [*target, *options]
        lines.append(" ".join(words))
    if len(pods) > MAX_RESIZE_PODS:
        lines.append(f"# ... and {len(pods) - MAX_RESIZE_PODS} more pods, the same way")
    return "\n".join(lines)


def _kubectl_set_resources(w: WorkloadResult, rec: Recommendation) -> str:
    namespace, kind, owner = _k8s_target(w)
    requests, limits = _k8s_values(rec)
    words = ["kubectl", *_ns_words(namespace), "set", "resources", shlex.quote(f"{kind}/{owner}")]
    words.append(shlex.quote(f"--containers={container_name(w)}"))
    if requests:
        words.append("--requests=" + ",".join(f"{k}={v}" for k, v in requests.items()))
    if limits:
        words.append("--limits=" + ",".join(f"{k}={v}" for k, v in limits.items()))
    text = " ".join(words)
    if _drops_cpu_limit(rec, w.declared):
        text = "# set resources cannot delete a limit: drop limits.cpu with kubectl patch\n" + text
    return text


# ---------------------------------------------------------------- Docker


def _cpu_shares(cores: float) -> int:
    """A CPU request as Docker CPU shares (1024 per core, at least 2 as the kernel allows)."""
    return max(2, round(cores * 1024))


def _docker_flags(rec: Recommendation) -> list[str]:
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
    return flags


def _targets(names: list[str]) -> str:
    words = [shlex.quote(n) for n in names]
    if any(n.startswith("-") for n in names):
        words.insert(0, "--")
    return " ".join(words)


def _docker_update(names: list[str], rec: Recommendation, declared: Declared) -> str:
    body = " \\\n  ".join(["docker update", *_docker_flags(rec), _targets(names)])
    body = "# docker update applies to the running containers at once: no restart\n" + body
    if _drops_cpu_limit(rec, declared):
        body = "# no CPU limit recommended: recreate the container without --cpus\n" + body
    return body


def _docker_run(image: str | None, rec: Recommendation) -> str:
    target = shlex.quote(image) if image else "IMAGE"
    if image and image.startswith("-"):
        target = "-- " + target
    return " \\\n  ".join(["docker run", *_docker_flags(rec), f"{target} ..."])


def _compose_memory(nbytes: int) -> str:
    return docker_memory(nbytes)


def _compose(service: str, rec: Recommendation, declared: Declared) -> str:
    limits: list[str] = []
    if rec.cpu_limit is not None:
        limits.append(f'cpus: "{_docker_cpus(rec.cpu_limit)}"')
    if rec.memory_limit is not None:
        limits.append(f"memory: {_compose_memory(rec.memory_limit)}")
    lines = ["services:", f"  {yaml_quote(service)}:"]
    if rec.cpu_request is not None:
        lines.append(f"    cpu_shares: {_cpu_shares(rec.cpu_request)}")
    if limits or rec.memory_request is not None:
        lines += ["    deploy:", "      resources:"]
        if limits:
            lines += ["        limits:", *(f"          {x}" for x in limits)]
        if rec.memory_request is not None:
            lines += [
                "        reservations:",
                f"          memory: {_compose_memory(rec.memory_request)}",
            ]
    if _drops_cpu_limit(rec, declared):
        lines.append("    # no CPU limit recommended: delete cpus and deploy.resources.limits.cpus")
    return "\n".join(lines)


def fixes_for(w: WorkloadResult) -> Fixes | None:
    """The snippets applying ``w``'s recommendation, or None when it sizes nothing."""
    rec = w.recommendation
    if rec is None or all(
        v is None for v in (rec.cpu_request, rec.cpu_limit, rec.memory_request, rec.memory_limit)
    ):
        return None
    name = container_name(w)
    platform = platform_of(w)
    docker_names = sorted({n for n in w.container_names if n}) or [name]
    snippets: tuple[tuple[str, str], ...]
    if platform == "kubernetes":
        snippets = (
            ("Kubernetes resources", _kubernetes_yaml(name, rec, w.declared)),
            ("kubectl set resources", _kubectl_set_resources(w, rec)),
            ("kubectl patch", _kubectl_patch(w, rec)),
        )
        if _k8s_target(w)[1] != "pod":  # a bare pod's kubectl patch is the resize already
            snippets += (("kubectl patch pod --subresource resize (running pods, in place)",
                          _kubectl_resize(w, rec)),)
    elif platform == "compose":
        snippets = (
            ("Compose service", _compose(name, rec, w.declared)),
            ("docker update (live, until the service is recreated)",
             _docker_update(docker_names, rec, w.declared)),
        )
    else:
        image = w.images[0] if w.images else None
        snippets = (
            ("docker update (live)", _docker_update(docker_names, rec, w.declared)),
            ("docker run flags (when recreating)", _docker_run(image, rec)),
        )
    return Fixes(platform, snippets)
