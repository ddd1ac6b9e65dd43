"""Compose files → one :class:`ManifestWorkload` per service.

Resource fields are mapped as docker/compose's ``getDeployResources`` does
(domain-reference.md §5), after compose-go's consistency check (``mem_limit``
and ``deploy.resources.limits.memory`` both set and different is an error, as
are ``cpus``/``limits.cpus`` and ``mem_reservation``/``reservations.memory``).
Memory strings follow go-units v0.5 ``RAMInBytes``: a number Go's
``ParseFloat`` reads (``1.5e3``) and a binary, case-insensitive unit
(``512m`` = 512 MiB).

One piece: the sizes, the consistency check and the mapping are the reading
of one service's resource fields, merged over the files that mention it.
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rightsize.model import Declared
from rightsize.sources.manifests.workload import Doc, ManifestWorkload, log
from rightsize.sources.manifests.yamlload import Map, line_of

__all__ = ["ComposeServices", "compose_document", "compose_project_name", "is_compose",
           "ram_in_bytes"]

_DEFAULT_CFS_PERIOD_US = 100_000
_INT64_MAX = 2**63 - 1

#: the number go-units hands to ParseFloat (decimal; hex floats are not read)
_RAM_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RAM_UNITS = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_INTERPOLATION = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def ram_in_bytes(text: str) -> int:
    """go-units v0.5 ``RAMInBytes``: ``512m`` = 512 MiB, ``1GB`` = 1 GiB, ``1.5e3m``.

    As go-units does: the number is what precedes the last digit, dot or
    space and is read by Go's ``ParseFloat`` (so ``1.5e3`` works); the unit
    is binary and case-insensitive (``k m g t p``, optionally followed by
    ``i``, ``b`` or ``ib``; or just ``b``); the result is float64 arithmetic
    truncated to an integer, as Go's ``int64(float)``. Raises ValueError.
    """
    expected = "expected a size like 512m, 1g or 1.5GB"
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep < 0:
        raise ValueError(f"invalid size {text!r}: {expected}")
    if text[sep] == " ":
        number, suffix = text[:sep], text[sep + 1:]
    else:
        number, suffix = text[: sep + 1], text[sep + 1:]
    if not _RAM_NUMBER.fullmatch(number):
        raise ValueError(f"invalid size {text!r}: {expected}")
    size = float(number)
    if size < 0 or not math.isfinite(size):
        raise ValueError(f"invalid size {text!r}: {expected}")
    unit = suffix.lower()
    if unit and unit != "b":
        if (len(unit) > 3 or unit[0] not in _RAM_UNITS
                or (len(unit) == 2 and unit[1] not in "ib")
                or (len(unit) == 3 and unit[1:] != "ib")):
            raise ValueError(f"invalid size {text!r}: invalid suffix {suffix!r}; {expected}")
        size *= float(_RAM_UNITS[unit[0]])
    if not math.isfinite(size) or size >= 2.0**63:
        raise ValueError(f"invalid size {text!r}: larger than 2^63-1 bytes")
    return int(size)


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

    def __init__(self, doc: Doc, env: Mapping[str, str]) -> None:
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
        line = line_of(parent, key)
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


#: compose-go's consistency check: a service-level field and the deploy field it duplicates
_DISTINCT = (
    ("cpus", "deploy.limits.cpus", "deploy.limits", "deploy.resources.limits.cpus"),
    ("mem_limit", "deploy.limits.memory", "deploy.limits", "deploy.resources.limits.memory"),
    ("mem_reservation", "deploy.reservations.memory", "deploy.reservations",
     "deploy.resources.reservations.memory"),
)


def _float32(value: Decimal | int | None) -> float:
    return float(struct.unpack("f", struct.pack("f", float(value or 0)))[0])


@dataclass
class ComposeService:
    """A service's resource fields, merged over the files that mention it."""

    project: str
    service: str
    source: Path
    line: int
    document: int
    fields: dict[str, Decimal | int | None] = field(default_factory=dict)
    #: where each field was last set: (file, line, document)
    where: dict[str, tuple[Path, int, int]] = field(default_factory=dict)
    #: the deploy.resources blocks that are present (``deploy.limits``, ``deploy.reservations``)
    blocks: set[str] = field(default_factory=set)
    #: ``container_name:``, the name Compose gives the service's one container
    container_name: str | None = None

    def check(self) -> None:
        """compose-go's rule: a field set twice (service level and deploy) with different values.

        As compose-go compares, an absent deploy value counts as 0 when its
        block is present. Raises :class:`InputError` naming the service-level field.
        """
        f = self.fields
        for top, deploy, block, deploy_name in _DISTINCT:
            value = f.get(top)
            if not value or block not in self.blocks:
                continue
            other = f.get(deploy)
            same = _float32(value) == _float32(other) if top == "cpus" else value == (other or 0)
            differ = not same
            if differ:
                path, line, document = self.where[top]
                shown = "not set" if other is None else str(other)
                raise Doc(path, document).error(
                    line,
                    f"service {self.service}: {top} ({value}) and {deploy_name} ({shown}) "
                    "differ; docker compose refuses this (\"can't set distinct values\")",
                )

    def workload(self) -> ManifestWorkload:
        """The service as a :class:`ManifestWorkload` (``project/service``)."""
        return ManifestWorkload(
            workload=f"{self.project}/{self.service}",
            kind="Compose",
            namespace=None,
            owner=self.project,
            container=self.service,
            role="container",
            declared=self.declared(),
            source=self.source,
            line=self.line,
            document=self.document,
            container_name=self.container_name,
        )

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


ComposeServices = dict[tuple[str, str], ComposeService]


def compose_document(doc: Doc, obj: Mapping[str, Any], services: ComposeServices) -> None:
    """Merge one Compose document's services into ``services`` (later files win per field)."""
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
        line = block.key_lines.get(service, 0) if isinstance(block, Map) else 0
        if not isinstance(service, str) or not service:
            raise doc.error(line, f"service name {service!r} is not a string")
        if body is None:
            body = Map()
        if not isinstance(body, Mapping):
            raise doc.error(line, f"service {service} is not a mapping")
        context = f"service {service}"
        key = (project, service)
        entry = services.get(key)
        if entry is None:
            entry = services[key] = ComposeService(project, service, doc.path, line, doc.document)
        fields, where = entry.fields, entry.where

        def at(parent: Any, k: str, name: str, where: dict[str, Any] = where) -> None:
            where[name] = (doc.path, line_of(parent, k), doc.document)

        if "container_name" in body:
            value, _ = cf.scalar(body, "container_name", context)
            if isinstance(value, str | int) and not isinstance(value, bool):  # else: not a name
                entry.container_name = str(value)
        for k in ("mem_limit", "mem_reservation"):
            if k in body:
                fields[k] = cf.memory(body, k, context)
                at(body, k, k)
        if "cpus" in body:
            fields["cpus"] = cf.number(body, "cpus", context, integer=False)
            at(body, "cpus", "cpus")
        for k in ("cpu_shares", "cpu_quota", "cpu_period"):
            if k in body:
                number = cf.number(body, k, context, integer=True)
                fields[k] = None if number is None else int(number)
                at(body, k, k)
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
                    line_of(resources, section),
                    f"{context}: deploy.resources.{section} is not a mapping",
                )
            entry.blocks.add(f"deploy.{section}")
            place = f"{context} deploy.resources.{section}"
            if "memory" in part:
                fields[f"deploy.{section}.memory"] = cf.memory(part, "memory", place)
                at(part, "memory", f"deploy.{section}.memory")
            if "cpus" in part:
                fields[f"deploy.{section}.cpus"] = cf.number(part, "cpus", place, integer=False)
                at(part, "cpus", f"deploy.{section}.cpus")
                if section == "reservations":
                    log.info(
                        "%s:%d: %s: deploy.resources.reservations.cpus is a Swarm option; "
                        "docker compose ignores it, so it is not read as a CPU request "
                        "(use cpu_shares)",
                        doc.label,
                        line_of(part, "cpus"),
                        context,
                    )


def is_compose(obj: Any) -> bool:
    """A mapping with a top-level ``services:`` mapping and no ``kind``/``apiVersion``."""
    return (
        isinstance(obj, Mapping)
        and isinstance(obj.get("services"), Mapping)
        and "kind" not in obj
        and "apiVersion" not in obj
    )


