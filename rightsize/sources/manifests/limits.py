"""LimitRange defaults and pod-level ``resources`` in the declared values (issue 16).

What the API server makes of a container's resources, after the request ←
limit defaulting of ``kubernetes.py``:

- **LimitRange** (``type: Container``, per namespace): a container's missing
  limit takes ``default`` (else ``max``), a missing request ``defaultRequest``
  (else ``default``, else ``max``, else ``min``), as the LimitRange object's own
  defaulting and the LimitRanger admission plugin do. Several LimitRanges in
  one namespace: Kubernetes does not say which default wins; the first one
  read is used, with a warning.
- **Pod-level resources** (``spec.resources``, beta and on by default since
  1.34): the pod's requests and limits (a missing request ← the limit). When
  the pod has one container running (init containers aside) the container
  takes the pod's value for each request or limit it leaves out. With several
  containers the pod's budget is shared, so the containers keep their own
  values. Either way a resource the pod declares is not defaulted from a
  LimitRange on the containers (the pod-level value bounds them): rightsize's
  choice, as the per-container share of a pod-level budget is not defined.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from rightsize.model import Declared
from rightsize.sources.manifests.quantities import quantity
from rightsize.sources.manifests.workload import Doc, ManifestWorkload, log
from rightsize.sources.manifests.yamlload import line_of

__all__ = ["ContainerDefaults", "apply_limit_ranges", "limit_range_defaults", "with_pod_level"]

_RESOURCES = ("cpu", "memory")


@dataclasses.dataclass(frozen=True)
class ContainerDefaults:
    """A namespace's container defaults from one LimitRange (``where`` = file:line)."""

    namespace: str
    name: str
    where: str
    default: Declared


def _section(doc: Doc, item: Mapping[str, Any], key: str, context: str) -> dict[str, float]:
    block = item.get(key)
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        raise doc.error(line_of(item, key), f"{context}: {key} is not a mapping")
    out: dict[str, float] = {}
    for r in _RESOURCES:
        v = quantity(doc, block, r, f"{context} {key}.{r}")
        if v is not None:
            out[r] = float(v)
    return out


def limit_range_defaults(doc: Doc, obj: Mapping[str, Any]) -> ContainerDefaults | None:
    """The container defaults of a ``LimitRange`` object, or None when it sets none."""
    meta_obj = obj.get("metadata")
    meta: Mapping[str, Any] = meta_obj if isinstance(meta_obj, Mapping) else {}
    name = str(meta.get("name") or "")
    namespace = str(meta.get("namespace") or "default")
    spec = obj.get("spec")
    limits = spec.get("limits") if isinstance(spec, Mapping) else None
    if limits is None:
        return None
    if not isinstance(limits, list):
        raise doc.error(line_of(spec, "limits"), f"LimitRange {name}: spec.limits is not a list")
    for i, item in enumerate(limits):
        if not isinstance(item, Mapping):
            raise doc.error(line_of(limits, i), f"LimitRange {name}: limits[{i}] is not a mapping")
        if item.get("type", "Container") != "Container":
            continue
        context = f"LimitRange {name} limits[{i}]"
        default = _section(doc, item, "default", context)
        request = _section(doc, item, "defaultRequest", context)
        for r, v in _section(doc, item, "max", context).items():
            default.setdefault(r, v)
        for r, v in default.items():
            request.setdefault(r, v)
        for r, v in _section(doc, item, "min", context).items():
            request.setdefault(r, v)
        if not default and not request:
            continue
        mem_req, mem_lim = request.get("memory"), default.get("memory")
        return ContainerDefaults(
            namespace, name, f"{doc.label}:{line_of(limits, i)}",
            Declared(
                cpu_request=request.get("cpu"),
                cpu_limit=default.get("cpu"),
                memory_request=None if mem_req is None else int(mem_req),
                memory_limit=None if mem_lim is None else int(mem_lim),
            ),
        )  # fmt: skip
    return None


def _fill(own: Declared, extra: Declared, skip: Iterable[str] = ()) -> Declared:
    """``own`` with its missing fields taken from ``extra`` (fields in ``skip`` left alone)."""
    changes = {
        f.name: getattr(extra, f.name)
        for f in dataclasses.fields(Declared)
        if getattr(own, f.name) is None and f.name not in skip
    }
    return dataclasses.replace(own, **changes)


def with_pod_level(declared: Declared, pod: Declared, running: int) -> Declared:
    """A container's values under pod-level resources (``running`` containers in the pod)."""
    return _fill(declared, pod) if running == 1 else declared


def _pod_resources(pod: Declared | None) -> set[str]:
    if pod is None:
        return set()
    return {r for r in _RESOURCES
            if getattr(pod, f"{r}_request") is not None
            or getattr(pod, f"{r}_limit") is not None}  # fmt: skip


def apply_limit_ranges(
    workloads: Iterable[ManifestWorkload], ranges: Iterable[ContainerDefaults]
) -> list[ManifestWorkload]:
    """Kubernetes workloads with their namespace's LimitRange defaults filled in."""
    by_ns: dict[str, ContainerDefaults] = {}
    for lr in ranges:
        first = by_ns.setdefault(lr.namespace, lr)
        if first is not lr:
            log.warning("%s: LimitRange %s: namespace %s already has container defaults from "
                        "%s (%s); Kubernetes does not say which applies, using the first",
                        lr.where, lr.name, lr.namespace, first.name, first.where)
    out = []
    for mw in workloads:
        found = by_ns.get(mw.namespace or "") if mw.is_kubernetes else None
        if found is not None:
            skip = {f"{r}_{k}" for r in _pod_resources(mw.pod_declared)
                    for k in ("request", "limit")}  # fmt: skip
            mw = dataclasses.replace(mw, declared=_fill(mw.declared, found.default, skip))
        out.append(mw)
    return out
