"""Declared values and workload identity from Kubernetes manifests and Compose files.

``--manifests PATH`` (files or folders) supplies what each workload declares,
overriding what Docker shows: Docker cannot show a Kubernetes memory request,
and cri-dockerd only passes CPU shares and quota through. See docs/kubernetes.md.

- Kubernetes YAML: multi-document files and ``kind: List`` (any ``*List``);
  Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob. Every
  container, init container (role ``init``) and sidecar (an init container
  with ``restartPolicy: Always``, role ``sidecar``) becomes one workload
  ``<namespace>/<owner>/<container>`` (namespace ``default`` when absent).
  Quantities follow the apimachinery grammar, checked for their resource
  (``cpu: 512Mi`` and ``memory: 500m``, half a byte, are errors; at most
  2^63-1 bytes or millicores); a missing request defaults to the limit, as
  the API server does.
- Compose files (a top-level ``services:`` mapping): one workload
  ``<project>/<service>``; resource fields mapped as docker/compose's
  ``getDeployResources`` does (domain-reference.md §5); memory strings in
  go-units ``RAMInBytes`` (binary, case-insensitive: ``512m`` = 512 MiB).

Errors (bad YAML, bad quantities, wrong shapes) raise :class:`InputError`
naming the file and line.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from rightsize.errors import InputError, UsageError
from rightsize.model import Declared
from rightsize.units import parse_cpu, parse_memory

if TYPE_CHECKING:
    import pandas as pd

    from rightsize.store import Dataset

__all__ = [
    "KUBERNETES_KINDS",
    "ManifestMatch",
    "ManifestWorkload",
    "Role",
    "apply_manifests",
    "compose_project_name",
    "load_manifests",
    "match_manifests",
    "ram_in_bytes",
]

log = logging.getLogger(__name__)

Role = Literal["container", "init", "sidecar"]

#: Kubernetes kinds read, and the path from the object to its pod spec.
KUBERNETES_KINDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

COMPOSE_FILE_NAMES = frozenset(
    {
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
        "compose.override.yaml",
        "compose.override.yml",
        "docker-compose.override.yaml",
        "docker-compose.override.yml",
    }
)
_YAML_SUFFIXES = (".yaml", ".yml")

K8S_NAMESPACE = "io.kubernetes.pod.namespace"
K8S_POD = "io.kubernetes.pod.name"
K8S_CONTAINER = "io.kubernetes.container.name"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"

_DEFAULT_CFS_PERIOD_US = 100_000
_INT64_MAX = 2**63 - 1
_DECLARED_COLUMNS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")


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

    @property
    def is_kubernetes(self) -> bool:
        return self.kind != "Compose"

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


# --------------------------------------------------------------------------- YAML with lines


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers its line and each value's line (1-based)."""

    line: int = 0
    lines: dict[Any, int]
    key_lines: dict[Any, int]


class _List(list[Any]):
    """A YAML sequence that remembers each item's line (1-based)."""

    line: int = 0
    lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader building :class:`_Map`/:class:`_List` (line-aware containers)."""


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.lines = {}
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from exc
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = value_node.start_mark.line + 1
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> _List:
    out = _List(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _line(obj: Any, key: Any = None, default: int = 0) -> int:
    if key is not None and isinstance(obj, _Map):
        return obj.lines.get(key, obj.line)
    if key is not None and isinstance(obj, _List) and isinstance(key, int):
        return obj.lines[key] if 0 <= key < len(obj.lines) else obj.line
    return getattr(obj, "line", default) or default


def _read_documents(path: Path) -> list[Any]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        return list(yaml.load_all(text, Loader=_Loader))  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"{path}{where}: invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {exc}") from exc


# --------------------------------------------------------------------------- discovery


def _is_override(path: Path) -> bool:
    return ".override." in path.name


def _discover(paths: Sequence[Path]) -> list[Path]:
    """Files named directly, and ``*.yaml``/``*.yml`` under folders (hidden ones skipped).

    Within a folder, files are sorted by path, with Compose override files
    after the other files of their folder (so they merge on top).
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = [
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix in _YAML_SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            ]
            found.sort(key=lambda f: (f.parent, _is_override(f), f.name))
        elif p.exists():
            found = [p]
        else:
            raise InputError(f"{p}: no such manifest file or folder")
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


# --------------------------------------------------------------------------- Kubernetes


def _str_field(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, str) and value else None


class _Doc:
    """Where we are: file and document, for error messages."""

    def __init__(self, path: Path, document: int) -> None:
        self.path = path
        self.document = document

    def error(self, line: int, message: str) -> InputError:
        where = f"{self.path}:{line}" if line else str(self.path)
        return InputError(f"{where}: document {self.document}: {message}")


def _quantity(doc: _Doc, parent: Any, key: str, what: str, context: str) -> float | int | None:
    value = parent.get(key) if isinstance(parent, Mapping) else None
    if value is None:
        return None
    line = _line(parent, key)
    try:
        parsed: float | int = parse_cpu(value) if what == "cpu" else parse_memory(value)
    except UsageError as exc:
        raise doc.error(line, f"{context}: {exc}") from exc
    if parsed < 0:
        raise doc.error(line, f"{context}: negative {what} quantity {value!r}")
    return parsed


def _k8s_declared(doc: _Doc, container: Mapping[str, Any], context: str) -> Declared:
    resources = container.get("resources")
    if resources is None:
        return Declared()
    if not isinstance(resources, Mapping):
        raise doc.error(_line(container, "resources"), f"{context}: resources is not a mapping")
    values: dict[str, Any] = {}
    for section in ("requests", "limits"):
        block = resources.get(section)
        if block is not None and not isinstance(block, Mapping):
            raise doc.error(_line(resources, section), f"{context}: {section} is not a mapping")
        for resource in ("cpu", "memory"):
            values[f"{resource}_{section[:-1]}"] = _quantity(
                doc, block, resource, resource, f"{context} {section}.{resource}"
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


def _kubernetes_object(doc: _Doc, obj: Mapping[str, Any]) -> Iterator[ManifestWorkload]:
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return
    if kind not in KUBERNETES_KINDS:
        log.debug("%s: document %d: skipping kind %s", doc.path, doc.document, kind)
        return
    meta = obj.get("metadata")
    name = _str_field(meta, "name")
    if name is None:
        raise doc.error(_line(meta) or _line(obj), f"{kind} without metadata.name")
    ns_given = _str_field(meta, "namespace")
    namespace = ns_given or "default"
    api_version = _str_field(obj, "apiVersion") or ("v1" if kind == "Pod" else "apps/v1")
    spec: Any = obj
    for step in KUBERNETES_KINDS[kind]:
        nxt = spec.get(step) if isinstance(spec, Mapping) else None
        if nxt is None:
            raise doc.error(_line(spec), f"{kind} {name}: no {'.'.join(KUBERNETES_KINDS[kind])}")
        if not isinstance(nxt, Mapping):
            raise doc.error(_line(spec, step), f"{kind} {name}: {step} is not a mapping")
        spec = nxt
    for list_name in ("initContainers", "containers"):
        entries = spec.get(list_name)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise doc.error(_line(spec, list_name), f"{kind} {name}: {list_name} is not a list")
        for index, entry in enumerate(entries):
            line = _line(entries, index)
            if not isinstance(entry, Mapping):
                raise doc.error(line, f"{kind} {name}: {list_name}[{index}] is not a mapping")
            cname = _str_field(entry, "name")
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
                declared=_k8s_declared(doc, entry, context),
                source=doc.path,
                line=line,
                document=doc.document,
                api_version=api_version,
                list_name=list_name,
                index=index,
                namespace_explicit=ns_given is not None,
            )


def _kubernetes_document(doc: _Doc, obj: Mapping[str, Any]) -> Iterator[ManifestWorkload]:
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in obj:
        items = obj.get("items") or []
        if not isinstance(items, list):
            raise doc.error(_line(obj, "items"), f"{kind}: items is not a list")
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise doc.error(_line(items, i), f"{kind}: items[{i}] is not a mapping")
            yield from _kubernetes_document(doc, item)
        return
    yield from _kubernetes_object(doc, obj)


# --------------------------------------------------------------------------- Compose

_RAM = re.compile(
    r"^(?P<num>\d+(?:\.\d*)?|\.\d+) ?(?:(?P<unit>[kmgtp])(?:i?b)?|b)?$", re.IGNORECASE
)
_RAM_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_INTERPOLATION = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def ram_in_bytes(text: str) -> int:
    """go-units ``RAMInBytes``: binary, case-insensitive (``512m`` = 512 MiB, ``1GB`` = 1 GiB).

    Fractions of a byte are dropped, as Go's ``int64(float)`` does.
    Raises ValueError for anything else.
    """
    m = _RAM.match(text)
    if not m:
        raise ValueError(f"invalid size {text!r}: expected a size like 512m, 1g or 1.5GB")
    try:
        number = Decimal(m["num"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only digits
        raise ValueError(f"invalid size {text!r}") from exc
    unit = (m["unit"] or "").lower()
    value = number * _RAM_UNITS.get(unit, 1)
    return int(value.to_integral_value(ROUND_FLOOR))


def compose_project_name(name: str) -> str:
    """Compose's ``NormalizeProjectName``: lowercase, ``[a-z0-9_-]`` only, no leading ``_-``."""
    return re.sub(r"[^-_a-z0-9]", "", name.lower()).lstrip("_-")


def _dotenv(folder: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of ``.env`` beside a Compose file (quotes stripped)."""
    path = folder / ".env"
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return out
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value
    return out


class _ComposeFile:
    """One Compose document being read: file, document, variables for interpolation."""

    def __init__(self, doc: _Doc, env: Mapping[str, str]) -> None:
        self.doc = doc
        self.env = env

    def interpolate(self, value: str, line: int, context: str) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            var = m["braced"] or m["plain"]
            op, arg = m["op"], m["arg"] or ""
            current = self.env.get(var)
            unset = current is None or (op is not None and op.startswith(":") and not current)
            if op in (":-", "-"):
                return arg if unset else str(current)
            if op in (":?", "?") and unset:
                raise self.doc.error(
                    line, f"{context}: variable {var} is not set ({arg or 'required'})"
                )
            if current is None:
                log.warning(
                    "%s:%d: %s: variable %s is not set; using an empty string",
                    self.doc.path,
                    line,
                    context,
                    var,
                )
                return ""
            return current

        return _INTERPOLATION.sub(sub, value)

    def scalar(self, parent: Mapping[str, Any], key: str, context: str) -> tuple[Any, int]:
        """The value at ``key`` (interpolated when a string; "" → None) and its line."""
        value = parent.get(key)
        line = _line(parent, key)
        if isinstance(value, str):
            value = self.interpolate(value, line, f"{context} {key}").strip()
            if not value:
                value = None
        return value, line

    def memory(self, parent: Any, key: str, context: str) -> int | None:
        if not isinstance(parent, Mapping) or parent.get(key) is None:
            return None
        value, line = self.scalar(parent, key, context)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.doc.error(line, f"{context}: {key}: invalid size {value!r}")
        if isinstance(value, int | float):
            if value < 0 or not math.isfinite(value):
                raise self.doc.error(line, f"{context}: {key}: invalid size {value!r}")
            nbytes = int(value)
        elif isinstance(value, str):
            try:
                nbytes = ram_in_bytes(value)
            except ValueError as exc:
                raise self.doc.error(line, f"{context}: {key}: {exc}") from exc
        else:
            raise self.doc.error(
                line, f"{context}: {key}: expected a size like 512m, 1g or 1.5GB, got {value!r}"
            )
        if nbytes > _INT64_MAX:
            raise self.doc.error(
                line, f"{context}: {key}: size {value!r} is larger than 2^63-1 bytes"
            )
        return nbytes

    def number(self, parent: Any, key: str, context: str, *, integer: bool) -> Decimal | None:
        if not isinstance(parent, Mapping) or parent.get(key) is None:
            return None
        value, line = self.scalar(parent, key, context)
        if value is None:
            return None
        expected = "an integer" if integer else "a number like 0.5"
        if isinstance(value, bool):
            raise self.doc.error(line, f"{context}: {key}: expected {expected}, got {value!r}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise self.doc.error(
                line, f"{context}: {key}: expected {expected}, got {value!r}"
            ) from exc
        if not number.is_finite() or number < 0 or (integer and number != number.to_integral()):
            raise self.doc.error(line, f"{context}: {key}: expected {expected}, got {value!r}")
        # cpus are cores (at most 2^63-1 millicores, as for Kubernetes); the rest int64
        limit = _INT64_MAX if integer else _INT64_MAX // 1000
        if number > limit:
            raise self.doc.error(
                line, f"{context}: {key}: {value!r} is larger than {limit}; expected {expected}"
            )
        return number


#: Compose fields rightsize reads, flattened (deploy.* overrides service-level fields).
_COMPOSE_FIELDS = (
    "mem_limit",
    "mem_reservation",
    "cpus",
    "cpu_shares",
    "cpu_quota",
    "cpu_period",
    "deploy.limits.memory",
    "deploy.limits.cpus",
    "deploy.reservations.memory",
    "deploy.reservations.cpus",
)


@dataclass
class _ComposeService:
    """A service's resource fields, merged over the files that mention it."""

    project: str
    service: str
    source: Path
    line: int
    document: int
    fields: dict[str, Decimal | int | None] = field(default_factory=dict)

    def declared(self) -> Declared:
        f = self.fields

        def positive(key: str) -> Decimal | int | None:
            value = f.get(key)
            return value if value is not None and value > 0 else None

        memory_limit = positive("deploy.limits.memory") or positive("mem_limit")
        memory_request = positive("deploy.reservations.memory") or positive("mem_reservation")
        cpus = positive("deploy.limits.cpus") or positive("cpus")
        cpu_limit: float | None = None
        if cpus is not None:
            cpu_limit = float(cpus)
        elif (quota := positive("cpu_quota")) is not None:
            period = positive("cpu_period") or _DEFAULT_CFS_PERIOD_US
            cpu_limit = float(Decimal(quota) / Decimal(period))
        shares = positive("cpu_shares")
        return Declared(
            cpu_request=None if shares is None else float(shares) / 1024,
            cpu_limit=cpu_limit,
            memory_request=None if memory_request is None else int(memory_request),
            memory_limit=None if memory_limit is None else int(memory_limit),
        )


def _compose_document(
    doc: _Doc, obj: Mapping[str, Any], services: dict[tuple[str, str], _ComposeService]
) -> None:
    env: dict[str, str] = {**_dotenv(doc.path.parent), **os.environ}
    cf = _ComposeFile(doc, env)
    raw_name, name_line = cf.scalar(obj, "name", "project") if "name" in obj else (None, 0)
    if raw_name is not None:
        project = str(raw_name)
        if not _PROJECT_NAME.match(project):
            raise doc.error(
                name_line,
                f"invalid project name {project!r}: use lowercase letters, digits, '-' and '_', "
                "starting with a letter or digit",
            )
    else:
        project = compose_project_name(doc.path.resolve().parent.name)
        if not project:
            raise doc.error(0, "cannot derive a Compose project name from the folder; set name:")
    block = obj["services"]
    for service, body in block.items():
        line = block.key_lines.get(service, 0) if isinstance(block, _Map) else 0
        if not isinstance(service, str) or not service:
            raise doc.error(line, f"service name {service!r} is not a string")
        if body is None:
            body = _Map()
        if not isinstance(body, Mapping):
            raise doc.error(line, f"service {service} is not a mapping")
        context = f"service {service}"
        key = (project, service)
        entry = services.get(key)
        if entry is None:
            entry = services[key] = _ComposeService(project, service, doc.path, line, doc.document)
        fields = entry.fields
        for k in ("mem_limit", "mem_reservation"):
            if k in body:
                fields[k] = cf.memory(body, k, context)
        if "cpus" in body:
            fields["cpus"] = cf.number(body, "cpus", context, integer=False)
        for k in ("cpu_shares", "cpu_quota", "cpu_period"):
            if k in body:
                number = cf.number(body, k, context, integer=True)
                fields[k] = None if number is None else int(number)
        deploy = body.get("deploy")
        resources = deploy.get("resources") if isinstance(deploy, Mapping) else None
        if not isinstance(resources, Mapping):
            continue
        for section in ("limits", "reservations"):
            part = resources.get(section)
            if part is None:
                continue
            if not isinstance(part, Mapping):
                raise doc.error(
                    _line(resources, section),
                    f"{context}: deploy.resources.{section} is not a mapping",
                )
            where = f"{context} deploy.resources.{section}"
            if "memory" in part:
                fields[f"deploy.{section}.memory"] = cf.memory(part, "memory", where)
            if "cpus" in part:
                fields[f"deploy.{section}.cpus"] = cf.number(part, "cpus", where, integer=False)
                if section == "reservations":
                    log.info(
                        "%s:%d: %s: deploy.resources.reservations.cpus is a Swarm option; "
                        "docker compose ignores it, so it is not read as a CPU request "
                        "(use cpu_shares)",
                        doc.path,
                        _line(part, "cpus"),
                        context,
                    )


def _is_compose(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and isinstance(obj.get("services"), Mapping)
        and "kind" not in obj
        and "apiVersion" not in obj
    )


# --------------------------------------------------------------------------- loading


def load_manifests(paths: Sequence[Path]) -> list[ManifestWorkload]:
    """Every workload declared by the Kubernetes manifests and Compose files under ``paths``.

    ``paths``: files or folders (searched recursively for ``*.yaml``/``*.yml``,
    hidden folders skipped). YAML documents that are neither a known
    Kubernetes kind nor a Compose file are skipped. A workload defined
    twice keeps the last definition (logged as a warning); Compose services
    are merged over the files that mention them (override files last).
    Raises :class:`InputError` (file and line) for bad YAML or values.
    """
    found: dict[str, ManifestWorkload] = {}
    compose: dict[tuple[str, str], _ComposeService] = {}
    for path in _discover(paths):
        for number, obj in enumerate(_read_documents(path), start=1):
            if obj is None:
                continue
            doc = _Doc(path, number)
            if not isinstance(obj, Mapping):
                log.debug("%s: document %d: not a mapping; skipped", path, number)
                continue
            if _is_compose(obj):
                _compose_document(doc, obj, compose)
                continue
            for mw in _kubernetes_document(doc, obj):
                if mw.workload in found:
                    log.warning(
                        "%s: workload %s is also declared at %s; using the later one",
                        mw.where,
                        mw.workload,
                        found[mw.workload].where,
                    )
                found[mw.workload] = mw
    for svc in compose.values():
        name = f"{svc.project}/{svc.service}"
        if name in found:
            log.warning(
                "%s:%d: workload %s is also declared at %s; using the Compose service",
                svc.source,
                svc.line,
                name,
                found[name].where,
            )
        found[name] = ManifestWorkload(
            workload=name,
            kind="Compose",
            namespace=None,
            owner=svc.project,
            container=svc.service,
            role="container",
            declared=svc.declared(),
            source=svc.source,
            line=svc.line,
            document=svc.document,
        )
    return list(found.values())


# --------------------------------------------------------------------------- matching

_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_POD_PATTERNS: dict[str, str] = {
    "Pod": "",
    "Deployment": rf"-{_SAFE}{{6,10}}-{_SAFE}{{5}}",
    "ReplicaSet": rf"-{_SAFE}{{5}}",
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
    labels). Pause containers match nothing.
    """
    from rightsize.analysis.workloads import is_pause, workload_names

    manifests = list(manifests)
    by_name = {m.workload: m for m in manifests}
    k8s_by_key: dict[tuple[str, str], list[ManifestWorkload]] = {}
    for m in manifests:
        if m.is_kubernetes and m.namespace is not None:
            k8s_by_key.setdefault((m.namespace, m.container), []).append(m)
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
        for index, name, labels_value, given in zip(
            containers.index,
            names.tolist(),
            containers["labels"].tolist(),
            explicit,
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
            if mw is not None:
                rows[index] = mw
    used = {id(m) for m in rows.values()}
    return ManifestMatch(rows=rows, unmatched=[m for m in manifests if id(m) not in used])


def apply_manifests(dataset: Dataset, manifests: Iterable[ManifestWorkload]) -> Dataset:
    """A copy of ``dataset`` whose matching containers carry the manifests' declarations.

    Matched rows (see :func:`match_manifests`) get the manifest's declared
    values, undeclared ones as NaN (the manifest is the truth, also for what
    Docker showed), and the manifest's workload name in ``workload``. Manifest
    workloads no container matched are logged at info level; call
    :func:`match_manifests` to get them as a list.
    """
    import pandas as pd

    match = match_manifests(dataset.containers, manifests)
    for mw in match.unmatched:
        log.info("%s: manifest workload %s matched no collected container", mw.where, mw.workload)
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
