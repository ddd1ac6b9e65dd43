"""Manifest workloads meet the collected containers: by pod name, workload name, container_name.

Reading the manifests is ``rightsize.sources.manifests``' work; this module
matches what it read to a dataset's container rows and applies the declared
values (see docs/kubernetes.md, "How manifests meet the collected containers").
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rightsize.analysis.workloads import is_pause, workload_names
from rightsize.sources.manifests.workload import ManifestWorkload

if TYPE_CHECKING:
    import pandas as pd

    from rightsize.store import Dataset

__all__ = ["ManifestMatch", "apply_manifests", "match_manifests"]

#: the manifests' log lines keep the logger name they had when they were read and matched in one
#: package (``--log-format json`` prints it)
log = logging.getLogger("rightsize.sources.manifests")

K8S_NAMESPACE = "io.kubernetes.pod.namespace"
K8S_POD = "io.kubernetes.pod.name"
K8S_CONTAINER = "io.kubernetes.container.name"
_DECLARED_COLUMNS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
_UNMATCHED_SHOWN = 5

_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_POD_PATTERNS: dict[str, str] = {
    "Pod": "",
    "Deployment": rf"-{_SAFE}{{6,10}}-{_SAFE}{{5}}",
    "Rollout": rf"-{_SAFE}{{6,10}}-{_SAFE}{{5}}",
    "ReplicaSet": rf"-{_SAFE}{{5}}",
    "ReplicationController": rf"-{_SAFE}{{5}}",
    "DaemonSet": rf"-{_SAFE}{{5}}",
    "StatefulSet": r"-\d+",
    "Job": rf"(?:-\d+)?-{_SAFE}{{5}}",
    "CronJob": rf"-\d{{8,}}(?:-\d+)?-{_SAFE}{{5}}",
}


def _pod_matches(mw: ManifestWorkload, pod: str) -> bool:
    """Whether ``pod`` is a name ``mw``'s controller gives its pods."""
    tail = _POD_PATTERNS.get(mw.kind)
    return tail is not None and re.fullmatch(re.escape(mw.owner) + tail, pod) is not None


@dataclass(frozen=True)
class ManifestMatch:
    """Which manifest workload each container row belongs to.

    ``rows``: ``containers`` index label → manifest workload;
    ``unmatched``: manifest workloads no container belongs to.
    """

    rows: dict[Any, ManifestWorkload]
    unmatched: list[ManifestWorkload]


def _labels(value: Any) -> Mapping[str, str]:
    return value if isinstance(value, Mapping) else {}


def _plain(labels: Mapping[str, str], given: Any) -> bool:
    """A container no orchestrator labelled and no import named."""
    return not (isinstance(given, str) and given) and not any(
        k.startswith(("com.docker.compose.", "io.kubernetes.")) for k in labels
    )


def match_manifests(
    containers: pd.DataFrame, manifests: Iterable[ManifestWorkload]
) -> ManifestMatch:
    """Match container rows to manifest workloads.

    A Kubernetes-labelled row without an explicit workload is matched by its
    pod name first: namespace and container equal, and the pod named as the
    manifest's controller names its pods (``web-7d4b9c8f6d-x2x9z`` for
    Deployment ``web``, ``db-0`` for StatefulSet ``db``, exactly ``worker-1``
    for Pod ``worker-1``, which name inference alone takes for a StatefulSet
    ``worker``); a bare Pod wins over a controller, then the longest owner
    name. Otherwise a row matches the manifest workload whose name equals its
    workload name (``workload_names``; Compose: ``project/service`` from the
    labels). A plain container (no Compose or Kubernetes labels, no explicit
    workload) matches the Compose service whose ``container_name`` is its
    name, the container Compose would have created. Pause containers match
    nothing.
    """
    manifests = list(manifests)
    by_name = {m.workload: m for m in manifests}
    k8s_by_key: dict[tuple[str, str], list[ManifestWorkload]] = {}
    for m in manifests:
        if m.is_kubernetes and m.namespace is not None:
            k8s_by_key.setdefault((m.namespace, m.container), []).append(m)
    by_container_name = {m.container_name: m for m in manifests if m.container_name}
    for group in k8s_by_key.values():
        group.sort(key=lambda m: (m.kind != "Pod", -len(m.owner)))

    rows: dict[Any, ManifestWorkload] = {}
    if len(containers):
        names = workload_names(containers)
        explicit = (
            containers["workload"].tolist()
            if "workload" in containers
            else [None] * len(containers)
        )
        own_names = (
            containers["name"].tolist() if "name" in containers else [None] * len(containers)
        )
        for index, name, labels_value, given, own in zip(
            containers.index,
            names.tolist(),
            containers["labels"].tolist(),
            explicit,
            own_names,
            strict=True,
        ):
            if name is None:
                continue
            mw: ManifestWorkload | None = None
            labels = _labels(labels_value)
            if not (isinstance(given, str) and given) and not is_pause(labels):
                ns, pod, cname = (labels.get(k) for k in (K8S_NAMESPACE, K8S_POD, K8S_CONTAINER))
                if ns and pod and cname:
                    mw = next(
                        (m for m in k8s_by_key.get((ns, cname), ()) if _pod_matches(m, pod)),
                        None,
                    )
            if mw is None:
                mw = by_name.get(name)
            if mw is None and _plain(labels, given) and isinstance(own, str):
                mw = by_container_name.get(own)
            if mw is not None:
                rows[index] = mw
    used = {id(m) for m in rows.values()}
    return ManifestMatch(rows=rows, unmatched=[m for m in manifests if id(m) not in used])


def _log_unmatched(unmatched: list[ManifestWorkload]) -> None:
    """One info line: how many manifest workloads matched no container, the first few named."""
    if not unmatched:
        return
    shown = ", ".join(f"{m.workload} ({m.where})" for m in unmatched[:_UNMATCHED_SHOWN])
    more = len(unmatched) - _UNMATCHED_SHOWN
    tail = f" and {more} more" if more > 0 else ""
    noun = "workload" if len(unmatched) == 1 else "workloads"
    log.info("%d manifest %s matched no collected container: %s%s",
             len(unmatched), noun, shown, tail)


def apply_manifests(dataset: Dataset, manifests: Iterable[ManifestWorkload]) -> Dataset:
    """A copy of ``dataset`` whose matching containers carry the manifests' declarations.

    Matched rows (see :func:`match_manifests`) get the manifest's declared
    values, undeclared ones as NaN (the manifest is the truth, also for what
    Docker showed), and the manifest's workload name in ``workload``. Manifest
    workloads no container matched are logged in one info line; call
    :func:`match_manifests` to get them as a list.
    """
    import pandas as pd

    match = match_manifests(dataset.containers, manifests)
    _log_unmatched(match.unmatched)
    if not match.rows:
        return dataset
    containers = dataset.containers.copy()
    if "workload" not in containers:
        containers["workload"] = pd.Series(
            [None] * len(containers), index=containers.index, dtype=object
        )
    elif not (
        pd.api.types.is_string_dtype(containers["workload"])
        or pd.api.types.is_object_dtype(containers["workload"])
    ):
        containers["workload"] = containers["workload"].astype(object)
    for column in _DECLARED_COLUMNS:
        containers[column] = containers[column].astype("float64")
    for index, mw in match.rows.items():
        d = mw.declared
        for column in _DECLARED_COLUMNS:
            value = getattr(d, column)
            containers.at[index, column] = math.nan if value is None else float(value)
        containers.at[index, "workload"] = mw.workload
    log.info("manifests supplied declared values for %d containers", len(match.rows))
    return replace(dataset, containers=containers)
