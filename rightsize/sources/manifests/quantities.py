"""Kubernetes quantities in manifests, read exactly as the API server reads them.

Values the API server accepts but users rarely mean (``memory: 512m`` is
0.512 bytes, rounded up to 1 byte as ``Value()`` does; ``cpu: 512Mi`` is
536,870,912 cores) are read exactly and noted once per file; a value that is
no quantity, too large or negative is an error naming file, line and key.
Shared by the container resources (:mod:`.kubernetes`) and LimitRanges
(:mod:`.limits`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rightsize.errors import UsageError
from rightsize.sources.manifests.workload import Doc
from rightsize.sources.manifests.yamlload import line_of
from rightsize.units import parse_cpu, parse_memory, parse_quantity

__all__ = ["quantity"]

_NUMBER = re.compile(r"^[+-]?[0-9.]+")

#: quantities already parsed (strictly, without a note): manifests repeat the same few
_PARSED: dict[tuple[str, type, Any], float | int] = {}


def quantity(doc: Doc, parent: Any, key: str, context: str) -> float | int | None:
    """``parent[key]`` as cores (``cpu``) or bytes (else); None when absent."""
    value = parent.get(key) if isinstance(parent, Mapping) else None
    if value is None:
        return None
    cache_key = (key, type(value), value) if isinstance(value, str | int | float) else None
    if cache_key is not None and (cached := _PARSED.get(cache_key)) is not None:
        return cached
    line = line_of(parent, key)
    source = (getattr(parent, "key_sources", None) or {}).get(key) or getattr(
        parent, "source", None)
    parse = parse_cpu if key == "cpu" else parse_memory
    parsed: float | int
    try:
        parsed = parse(value)
    except UsageError:
        try:
            parsed = parse(value, lenient=True)
        except UsageError as exc:  # not a quantity at all, or too large
            raise doc.error(line, f"{context}: {exc}", source) from exc
        doc.notes.add(key, f"{source or doc.label}:{line}", _unusual(context, key, value, parsed))
        cache_key = None
    if parsed < 0:
        raise doc.error(line, f"{context}: negative {key} quantity {value!r}", source)
    if cache_key is not None and len(_PARSED) < 100_000:
        _PARSED[cache_key] = parsed
    return parsed


def _unusual(context: str, resource: str, value: Any, parsed: float) -> str:
    """The warning for a quantity Kubernetes accepts but that is rarely meant."""
    text = str(value)
    number = m.group(0) if (m := _NUMBER.match(text)) else text
    exact = parse_quantity(text).normalize()
    if resource == "memory":
        unit = "byte" if parsed == 1 else "bytes"
        return (
            f"{context}: {text} is {exact:f} bytes (m, u and n are fractions), read as "
            f"{int(parsed)} {unit} as Kubernetes rounds up; did you mean {number}Mi?"
        )
    return (
        f"{context}: {text} is {exact:f} cores ({text[len(number):]} is a byte unit or "
        f"multiplier); did you mean {number}m?"
    )
