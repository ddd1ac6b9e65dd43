"""Declared values and workload identity from Kubernetes manifests and Compose files.

``--manifests PATH`` (files or folders) supplies what each workload declares,
overriding what Docker shows: Docker cannot show a Kubernetes memory request,
and cri-dockerd only passes CPU shares and quota through. See docs/kubernetes.md.

The package, in the order data flows through it:

- ``discovery``: which files and kustomization folders a PATH means;
- ``yamlload``: YAML parsed by libyaml and resolved as go-yaml v2 does, lines kept;
- ``kustomize`` (with ``merge``: strategic-merge and JSON patches): a
  kustomization rendered by ``kubectl kustomize`` or the built-in reader;
- ``kubernetes``: objects with pod templates → one workload per container;
- ``compose``: Compose files → one workload per service;
- ``limits``: LimitRange defaults and pod-level resources in the declared values.

Matching the workloads read to the collected containers is analysis work:
``rightsize.analysis.manifests``.

Errors (bad YAML in a workload file, bad quantities, wrong shapes) raise
:class:`InputError` naming the file and line.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from rightsize.errors import InputError
from rightsize.sources.manifests.compose import (
    ComposeServices,
    compose_document,
    compose_project_name,
    is_compose,
    ram_in_bytes,
)
from rightsize.sources.manifests.discovery import Found, discover
from rightsize.sources.manifests.kubernetes import KUBERNETES_KINDS, kubernetes_document
from rightsize.sources.manifests.kustomize import render
from rightsize.sources.manifests.limits import (
    ContainerDefaults,
    apply_limit_ranges,
    limit_range_defaults,
)
from rightsize.sources.manifests.workload import Doc, FileNotes, ManifestWorkload, Role
from rightsize.sources.manifests.yamlload import (
    YAML_LOADER,
    YamlError,
    load_documents,
    paused_gc,
)

__all__ = [
    "KUBERNETES_KINDS",
    "YAML_LOADER",
    "ManifestWorkload",
    "Role",
    "compose_project_name",
    "load_manifests",
    "ram_in_bytes",
]

log = logging.getLogger(__name__)

_WORKLOAD_KIND = re.compile(
    r"^[ \t-]*kind[ \t]*:[ \t]*[\"']?(?:" + "|".join(KUBERNETES_KINDS) + r")[\"']?[ \t]*(?:#|$)",
    re.MULTILINE,
)
_SHOWN_KINDS = 6


class _Reading:
    """The state of one :func:`load_manifests` call: what was found and what was skipped."""

    def __init__(self) -> None:
        self.found: dict[str, ManifestWorkload] = {}
        self.compose: ComposeServices = {}
        self.skipped_kinds: Counter[str] = Counter()
        self.files = 0
        self.unreadable: list[str] = []
        self.other_documents = 0
        self.renderers: Counter[str] = Counter()
        self.limit_ranges: list[ContainerDefaults] = []

    def add(self, mw: ManifestWorkload) -> None:
        if mw.workload in self.found:
            log.warning("%s: workload %s is also declared at %s; using the later one",
                        mw.where, mw.workload, self.found[mw.workload].where)
        self.found[mw.workload] = mw

    def document(self, doc: Doc, obj: object) -> None:
        if obj is None:
            return
        if not isinstance(obj, Mapping):
            self.other_documents += 1
            return
        if is_compose(obj):
            compose_document(doc, obj, self.compose)
            return
        if not isinstance(obj.get("kind"), str):
            self.other_documents += 1
            return
        if obj.get("kind") == "LimitRange":  # container defaults, see limits.py
            lr = limit_range_defaults(doc, obj)
            if lr is not None:
                self.limit_ranges.append(lr)
                return
        for mw in kubernetes_document(doc, obj, self.skipped_kinds):
            self.add(mw)

    def file(self, found: Found) -> None:
        path = found.path
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            if found.named:
                raise InputError(
                    f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
            self.unreadable.append(f"{path} (not UTF-8 text)")
            log.warning("%s: skipped: not UTF-8 text (%s at byte %d)", path, exc.reason,
                        exc.start)
            return
        try:
            docs = load_documents(text)
        except YamlError as exc:
            where = f"{path}:{exc.line}" if exc.line else str(path)
            if found.named or _WORKLOAD_KIND.search(text):
                raise InputError(f"{where}: invalid YAML: {exc.problem}") from exc
            self.unreadable.append(str(path))
            log.warning("%s: skipped: invalid YAML (%s) and no workload kind in it",
                        where, exc.problem)
            return
        self.files += 1
        notes = FileNotes()
        for number, obj in enumerate(docs, start=1):
            self.document(Doc(path, number, notes=notes), obj)
        notes.flush()

    def kustomization(self, found: Found) -> None:
        rendered, renderer = render(found.path)
        self.renderers[renderer] += 1
        log.info("%s: kustomization rendered with %s", found.path, renderer)
        notes = FileNotes()
        for r in rendered:
            self.document(Doc(r.path, r.document, label=r.label, notes=notes), r.obj)
        notes.flush()

    def summary(self) -> None:
        parts = [f"{len(self.found)} workloads from {self.files} files"]
        if self.renderers:
            parts.append(", ".join(f"{n} kustomizations rendered with {r}"
                                   for r, n in self.renderers.items()))
        if self.skipped_kinds:
            kinds = self.skipped_kinds.most_common()
            shown = ", ".join(f"{k} {n}" for k, n in kinds[:_SHOWN_KINDS])
            rest = len(kinds) - _SHOWN_KINDS
            shown += f", {rest} more kinds" if rest > 0 else ""
            parts.append(f"skipped {sum(self.skipped_kinds.values())} objects of other "
                         f"kinds ({shown})")
        if self.other_documents:
            parts.append(f"skipped {self.other_documents} documents that are not "
                         "Kubernetes objects or Compose files")
        if self.unreadable:
            parts.append(f"skipped {len(self.unreadable)} files that are not YAML")
        log.info("manifests: %s", "; ".join(parts))


def load_manifests(paths: Sequence[Path]) -> list[ManifestWorkload]:
    """Every workload declared by the Kubernetes manifests and Compose files under ``paths``.

    ``paths``: files or folders (see ``discovery``). Documents that are
    neither a Kubernetes kind with a pod template nor a Compose file are
    skipped, and so are files found in a folder that are not YAML and hold
    no workload kind (one warning each); one info line sums up what was
    skipped. A workload defined twice keeps the last definition (logged as
    a warning); Compose services are merged over the files that mention them
    (override files last). Raises :class:`InputError` (file and line) for
    bad YAML or values.
    """
    reading = _Reading()
    items, _ = discover(paths)
    with paused_gc():
        for found in items:
            if found.kustomize:
                reading.kustomization(found)
            else:
                reading.file(found)
    for svc in reading.compose.values():
        svc.check()
        name = f"{svc.project}/{svc.service}"
        if name in reading.found:
            log.warning("%s:%d: workload %s is also declared at %s; using the Compose service",
                        svc.source, svc.line, name, reading.found[name].where)
        reading.found[name] = svc.workload()
    reading.summary()
    return apply_limit_ranges(reading.found.values(), reading.limit_ranges)
