"""Kubernetes objects → one :class:`ManifestWorkload` per container.

Kinds with a pod template (:data:`KUBERNETES_KINDS`), ``kind: List`` and any
``*List`` with ``items``. Quantities follow the apimachinery grammar exactly
as the API server reads them, including values it accepts but users rarely
mean (``memory: 512m`` is 0.512 bytes, rounded up to 1 byte as ``Value()``
does; ``cpu: 512Mi`` is 536,870,912 cores): those are read exactly and
warned about once per file. At most 2^63-1 bytes or millicores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from rightsize.model import Declared
from rightsize.sources.manifests.limits import with_pod_level
from rightsize.sources.manifests.quantities import quantity
from rightsize.sources.manifests.workload import Doc, ManifestWorkload, Role, log
from rightsize.sources.manifests.yamlload import line_of

__all__ = ["KUBERNETES_KINDS", "kubernetes_document"]

#: Kubernetes kinds read, and the path from the object to its pod spec.
KUBERNETES_KINDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),  # Argo Rollouts
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_DEFAULT_API_VERSION = {
    "Pod": "v1",
    "ReplicationController": "v1",
    "Rollout": "argoproj.io/v1alpha1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


def _name_field(doc: Doc, obj: Any, key: str, what: str) -> str | None:
    """``obj[key]`` when it is a non-empty string; None when absent; an error otherwise."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise doc.error(line_of(obj, key), f"{what} {value!r} is not a string")
    return value


def _declared(doc: Doc, container: Mapping[str, Any], context: str) -> Declared:
    resources = container.get("resources")
    if resources is None:
        return Declared()
    if not isinstance(resources, Mapping):
        raise doc.error(line_of(container, "resources"), f"{context}: resources is not a mapping")
    values: dict[str, Any] = {}
    for section in ("requests", "limits"):
        block = resources.get(section)
        if block is not None and not isinstance(block, Mapping):
            raise doc.error(line_of(resources, section), f"{context}: {section} is not a mapping")
        for resource in ("cpu", "memory"):
            values[f"{resource}_{section[:-1]}"] = quantity(
                doc, block, resource, f"{context} {section}.{resource}"
            )
    # the API server copies a limit into a missing request (both resources)
    cpu_request = (
        values["cpu_request"] if values["cpu_request"] is not None else values["cpu_limit"]
    )
    memory_request = (
        values["memory_request"] if values["memory_request"] is not None else values["memory_limit"]
    )
    return Declared(
        cpu_request=None if cpu_request is None else float(cpu_request),
        cpu_limit=None if values["cpu_limit"] is None else float(values["cpu_limit"]),
        memory_request=None if memory_request is None else int(memory_request),
        memory_limit=None if values["memory_limit"] is None else int(values["memory_limit"]),
    )


def _running(spec: Mapping[str, Any]) -> int:
    """Containers that run together: ``containers`` and native sidecars."""
    containers = spec.get("containers")
    inits = spec.get("initContainers")
    n = len(containers) if isinstance(containers, list) else 0
    if isinstance(inits, list):
        n += sum(1 for c in inits if isinstance(c, Mapping) and c.get("restartPolicy") == "Always")
    return n


def _object(doc: Doc, obj: Mapping[str, Any], skipped: Counter[str]) -> Iterator[ManifestWorkload]:
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return
    if kind not in KUBERNETES_KINDS:
        skipped[kind] += 1
        return
    meta = obj.get("metadata")
    name = _name_field(doc, meta, "name", f"{kind} metadata.name")
    if name is None:
        raise doc.error(line_of(meta) or line_of(obj), f"{kind} without metadata.name")
    ns_given = _name_field(doc, meta, "namespace", f"{kind} {name}: metadata.namespace")
    namespace = ns_given or "default"
    api_version = _name_field(doc, obj, "apiVersion", f"{kind} {name}: apiVersion")
    api_version = api_version or _DEFAULT_API_VERSION.get(kind, "apps/v1")
    path = KUBERNETES_KINDS[kind]
    spec: Any = obj
    for step in path:
        nxt = spec.get(step) if isinstance(spec, Mapping) else None
        if nxt is None:
            workload_ref = isinstance(obj.get("spec"), Mapping) and obj["spec"].get("workloadRef")
            if kind == "Rollout" and workload_ref:
                log.info("%s:%d: Rollout %s takes its pod template from workloadRef; "
                         "its containers are read from that object", doc.label,
                         line_of(obj["spec"], "workloadRef"), name)
                return
            raise doc.error(line_of(spec), f"{kind} {name}: no {'.'.join(path)}")
        if not isinstance(nxt, Mapping):
            raise doc.error(line_of(spec, step), f"{kind} {name}: {step} is not a mapping")
        spec = nxt
    # pod-level resources (1.34+) and how many containers share them; see limits.py
    pod = _declared(doc, spec, f"{kind} {name} pod") if spec.get("resources") else None
    running = _running(spec)
    for list_name in ("initContainers", "containers"):
        entries = spec.get(list_name)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise doc.error(line_of(spec, list_name), f"{kind} {name}: {list_name} is not a list")
        for index, entry in enumerate(entries):
            line = line_of(entries, index)
            if not isinstance(entry, Mapping):
                raise doc.error(line, f"{kind} {name}: {list_name}[{index}] is not a mapping")
            cname = _name_field(doc, entry, "name", f"{kind} {name}: {list_name}[{index}] name")
            if cname is None:
                raise doc.error(line, f"{kind} {name}: {list_name}[{index}] has no name")
            role: Role = "container"
            if list_name == "initContainers":
                role = "sidecar" if entry.get("restartPolicy") == "Always" else "init"
            context = f"{kind} {name} container {cname}"
            yield ManifestWorkload(
                workload=f"{namespace}/{name}/{cname}",
                kind=kind,
                namespace=namespace,
                owner=name,
                container=cname,
                role=role,
                declared=(_declared(doc, entry, context) if pod is None else
                          with_pod_level(_declared(doc, entry, context), pod, running)),
                pod_declared=pod,
                source=getattr(entry, "source", None) or doc.path,
                line=line,
                document=doc.document,
                api_version=api_version,
                list_name=list_name,
                index=index,
                namespace_explicit=ns_given is not None,
            )


def kubernetes_document(
    doc: Doc, obj: Mapping[str, Any], skipped: Counter[str]
) -> Iterator[ManifestWorkload]:
    """The workloads of one object or ``*List``; other kinds are counted in ``skipped``."""
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in obj:
        items = obj.get("items") or []
        if not isinstance(items, list):
            raise doc.error(line_of(obj, "items"), f"{kind}: items is not a list")
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise doc.error(line_of(items, i), f"{kind}: items[{i}] is not a mapping")
            yield from kubernetes_document(doc, item, skipped)
        return
    yield from _object(doc, obj, skipped)
