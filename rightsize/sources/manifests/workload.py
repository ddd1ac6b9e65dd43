"""What a manifest declares for one workload, and where a document being read came from."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rightsize.errors import InputError
from rightsize.model import Declared

__all__ = ["Doc", "FileNotes", "ManifestWorkload", "Role"]

log = logging.getLogger("rightsize.sources.manifests")

Role = Literal["container", "init", "sidecar"]


@dataclass(frozen=True)
class ManifestWorkload:
    """One container of a Kubernetes object, or one Compose service, as declared.

    ``workload`` is the name the analysis uses (``namespace/owner/container``
    or ``project/service``). ``declared`` is what the workload runs with:
    for Kubernetes, a request left out defaults to the limit (API server
    defaulting). For Kubernetes, ``api_version``, ``list_name``
    (``containers``/``initContainers``) and ``index`` locate the container for
    patches; ``namespace_explicit`` says whether ``metadata.namespace`` was set.
    """

    workload: str
    kind: str  # Kubernetes kind, or "Compose"
    namespace: str | None  # None for Compose
    owner: str  # the controller's metadata.name (CronJob name), or the Compose project
    container: str  # container name, or Compose service
    role: Role
    declared: Declared
    source: Path
    line: int  # 1-based line of the container entry / service key
    document: int  # 1-based YAML document in the file
    api_version: str | None = None
    list_name: str | None = None
    index: int | None = None
    namespace_explicit: bool = False
    #: the pod's own ``spec.resources`` (pod-level resources, Kubernetes 1.34+), if any
    pod_declared: Declared | None = None
    #: Compose's ``container_name``: the one container the service runs, named so
    container_name: str | None = None

    @property
    def is_kubernetes(self) -> bool:
        return self.kind != "Compose"

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class FileNotes:
    """Values of one file (or rendering) that Kubernetes accepts but users rarely mean.

    Collected while reading and logged once per file by :meth:`flush`: the
    first such value with its line, and how many there were.
    """

    first: dict[str, tuple[str, str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, where: str, text: str) -> None:
        """Note a value of ``kind`` (``cpu``/``memory``) at ``where`` (``file:line``)."""
        self.counts[kind] += 1
        self.first.setdefault(kind, (where, text))

    def flush(self) -> None:
        """Log one warning per kind noted, then forget them."""
        for kind, (where, text) in self.first.items():
            n = self.counts[kind]
            more = f" ({n} such {kind} values in this file)" if n > 1 else ""
            log.warning("%s: %s%s", where, text, more)
        self.first.clear()
        self.counts.clear()


class Doc:
    """Where we are (file or rendering, document), for messages and per-file notes."""

    def __init__(self, path: Path, document: int, *, label: str | None = None,
                 notes: FileNotes | None = None) -> None:
        self.path = path
        self.document = document
        self.label = label or str(path)
        self.notes = notes if notes is not None else FileNotes()

    def error(self, line: int, message: str, source: Path | None = None) -> InputError:
        label = str(source) if source is not None else self.label
        where = f"{label}:{line}" if line else label
        return InputError(f"{where}: document {self.document}: {message}")
