"""Recommendations as Kubernetes patches: strategic-merge YAML, ``kubectl patch``, kustomize.

For a Kubernetes workload read from a manifest (:class:`ManifestWorkload`)
and its :class:`Recommendation`:

- :func:`strategic_merge_patch`: the object's apiVersion/kind/metadata and
  ``spec.template.spec.containers[{name, resources}]`` (CronJob:
  ``spec.jobTemplate.spec.template.spec``; Pod: ``spec``; init and sidecar
  containers under ``initContainers``);
- :func:`kubectl_patch_command`: ``kubectl -n NS patch KIND NAME --type strategic -p JSON``;
- :func:`write_kustomize_patches`: one patch file per workload and a
  ``kustomization.yaml`` (a kustomize Component) listing them under ``patches:``.

Values are Kubernetes quantities, never below the recommendation: CPU rounded
up to whole millicores (``250m``, ``1``, ``1.5``), memory up to whole MiB
(``384Mi``, ``2Gi``). In a sized recommendation (:attr:`Recommendation.sized`)
a ``cpu_limit`` of None means "no CPU limit": ``limits.cpu: null`` (delete it)
when the manifest had one. Other None values are left out (nothing
recommended; in a lower bound, "keep what is declared"). Without a value to
set there is no patch at all: a patch that only deletes is never written.

Names come from manifests and are untrusted: YAML goes through
``yaml.safe_dump`` and JSON through ``json.dumps``; shell words are
``shlex.quote``-d, and a name starting with ``-`` is put after ``--``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rightsize import outputs
from rightsize.units import round_cpu_up, round_memory_up

if TYPE_CHECKING:
    from rightsize.model import Recommendation
    from rightsize.sources.manifests import ManifestWorkload

__all__ = [
    "KUSTOMIZATION",
    "cpu_quantity",
    "kubectl_patch_command",
    "memory_quantity",
    "patch_document",
    "patch_resources",
    "strategic_merge_patch",
    "write_kustomize_patches",
]

KUSTOMIZATION = "kustomization.yaml"

#: path from the object to its pod spec, per kind
_POD_SPEC_PATH: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_TEMPLATE_PATH = ("spec", "template", "spec")
_MIB = 2**20
_GIB = 2**30


def cpu_quantity(cores: float) -> str:
    """Cores as the shortest exact CPU quantity, rounded up to whole millicores.

    ``0.25`` → ``250m``, ``1.0`` → ``1``, ``1.5`` → ``1.5``, ``0.0001`` → ``1m``; 0 → ``0``.
    """
    milli = round(round_cpu_up(cores) * 1000)
    if milli % 1000 == 0:
        return str(milli // 1000)
    if milli % 100 == 0:
        return format(Decimal(milli).scaleb(-3).normalize(), "f")
    return f"{milli}m"


def memory_quantity(nbytes: int | float) -> str:
    """Bytes as an exact memory quantity, rounded up to whole MiB: ``384Mi``, ``2Gi``; 0 → ``0``."""
    rounded = round_memory_up(nbytes)
    if rounded == 0:
        return "0"
    if rounded % _GIB == 0:
        return f"{rounded // _GIB}Gi"
    return f"{rounded // _MIB}Mi"


def _require_kubernetes(mw: ManifestWorkload) -> None:
    if not mw.is_kubernetes or mw.list_name is None or mw.namespace is None:
        raise ValueError(f"{mw.workload}: not a Kubernetes manifest workload")


def patch_resources(mw: ManifestWorkload, rec: Recommendation) -> dict[str, dict[str, str | None]]:
    """The ``resources`` block of the patch (empty when the recommendation sets no value)."""
    requests: dict[str, str | None] = {}
    limits: dict[str, str | None] = {}
    if rec.cpu_request is not None:
        requests["cpu"] = cpu_quantity(rec.cpu_request)
    if rec.memory_request is not None:
        requests["memory"] = memory_quantity(rec.memory_request)
    if rec.cpu_limit is not None:
        limits["cpu"] = cpu_quantity(rec.cpu_limit)
    elif rec.sized and mw.declared.cpu_limit is not None:
        limits["cpu"] = None  # strategic merge: delete the key
    if rec.memory_limit is not None:
        limits["memory"] = memory_quantity(rec.memory_limit)
    if not requests and not any(v is not None for v in limits.values()):
        return {}  # nothing recommended: never a patch that only deletes
    out: dict[str, dict[str, str | None]] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def _spec_body(mw: ManifestWorkload, rec: Recommendation) -> dict[str, Any]:
    """``{"spec": ...}``: the part of the patch below the object's top level."""
    _require_kubernetes(mw)
    pod_spec: dict[str, Any] = {
        str(mw.list_name): [{"name": mw.container, "resources": patch_resources(mw, rec)}]
    }
    path = _POD_SPEC_PATH.get(mw.kind, _TEMPLATE_PATH)
    body: dict[str, Any] = pod_spec
    for step in reversed(path):
        body = {step: body}
    return body


def patch_document(mw: ManifestWorkload, rec: Recommendation) -> dict[str, Any]:
    """The strategic-merge patch as a mapping (apiVersion, kind, metadata, spec).

    ``metadata.namespace`` is written only when the manifest set one, so the
    patch targets the same object a kustomization (``namespace:``) produces.
    """
    _require_kubernetes(mw)
    metadata: dict[str, str] = {"name": mw.owner}
    if mw.namespace_explicit and mw.namespace is not None:
        metadata["namespace"] = mw.namespace
    return {
        "apiVersion": mw.api_version or "apps/v1",
        "kind": mw.kind,
        "metadata": metadata,
        **_spec_body(mw, rec),
    }


def strategic_merge_patch(mw: ManifestWorkload, rec: Recommendation) -> str:
    """The strategic-merge patch applying ``rec`` to ``mw``'s container, as YAML."""
    return yaml.safe_dump(
        patch_document(mw, rec), sort_keys=False, default_flow_style=False, allow_unicode=False
    )


def kubectl_patch_command(mw: ManifestWorkload, rec: Recommendation) -> str:
    """``kubectl -n NS patch KIND NAME --type strategic -p '<json>'`` (shell-quoted).

    A bare Pod is patched through the ``resize`` subresource (in-place
    resize, Kubernetes ≥ 1.33); other kinds roll out new pods.
    """
    _require_kubernetes(mw)
    namespace = str(mw.namespace)
    ns = f"-n {shlex.quote(namespace)}" if not namespace.startswith("-") else shlex.quote(
        f"--namespace={namespace}"
    )
    patch = json.dumps(_spec_body(mw, rec), separators=(",", ":"), ensure_ascii=True)
    words = ["kubectl", ns, "patch", shlex.quote(mw.kind.lower())]
    options = ["--type", "strategic", "-p", shlex.quote(patch)]
    if mw.kind == "Pod":
        options += ["--subresource", "resize"]
    if mw.owner.startswith("-"):
        words += [*options, "--", shlex.quote(mw.owner)]
    else:
        words += [shlex.quote(mw.owner), *options]
    return " ".join(words)


def _file_stem(mw: ManifestWorkload) -> str:
    raw = f"{mw.kind}-{mw.namespace}-{mw.owner}-{mw.container}".lower()
    stem = re.sub(r"[^a-z0-9._-]+", "_", raw).strip("._-")[:180]
    return stem or "patch"


def write_kustomize_patches(
    directory: Path, items: Iterable[tuple[ManifestWorkload, Recommendation]]
) -> list[Path]:
    """Write one strategic-merge patch file per Kubernetes workload, and a kustomization.

    ``items``: (manifest workload, recommendation) pairs; Compose workloads
    and recommendations that change nothing are skipped. ``directory`` is
    created. ``kustomization.yaml`` is a kustomize Component (apiVersion
    ``kustomize.config.k8s.io/v1alpha1``) listing the files under
    ``patches:``; include it from an overlay with ``components: [DIR]``.
    Returns the paths written, the kustomization last.
    """
    outputs.make_folder(directory, what="the patches folder")
    written: list[Path] = []
    used: set[str] = {KUSTOMIZATION}
    for mw, rec in items:
        if not mw.is_kubernetes or mw.list_name is None or not patch_resources(mw, rec):
            continue
        stem = _file_stem(mw)
        name, n = f"{stem}.yaml", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}.yaml"
        used.add(name)
        path = directory / name
        outputs.write_text(path, strategic_merge_patch(mw, rec), what="the patch")
        written.append(path)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "patches": [{"path": p.name} for p in written],
    }
    target = directory / KUSTOMIZATION
    outputs.write_text(
        target,
        "# written by rightsize: resource patches from its recommendations\n"
        + yaml.safe_dump(kustomization, sort_keys=False, default_flow_style=False),
        what="the kustomization",
    )
    return [*written, target]
