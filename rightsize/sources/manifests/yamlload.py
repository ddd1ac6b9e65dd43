"""YAML read the way Kubernetes and Compose read it, with the line of every value.

Kubernetes reads YAML with go-yaml v2 (through ``sigs.k8s.io/yaml``), a Go
port of libyaml; Compose with go-yaml v3. So the text is parsed by libyaml
itself (PyYAML's C parser, ``yaml.CParser``): it accepts what Go accepts where
PyYAML's pure-Python scanner does not (a tab after a value), and it is about
ten times faster. Plain scalars are then resolved as go-yaml v2 resolves them
into ``interface{}``, not by YAML 1.1 as PyYAML does:

- ``=`` is a string (PyYAML: an unconstructible ``!!value``), and so are
  ``1:30`` (PyYAML: sexagesimal 90) and ``2001-12-14`` (PyYAML: a date);
- integers follow Go's ``ParseInt(s, 0, 64)`` after removing ``_`` (``0x1f``,
  ``0o17``, ``017``, ``0b101``), then ``ParseUint``; floats
  ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`` and ``.inf``/``.nan``;
- booleans ``y yes true on``/``n no false off`` in their three spellings;
  nulls ``~ null Null NULL`` and the empty scalar;
- a key twice in one mapping is an error (the API server's strict field
  validation and go-yaml v3 refuse it); ``<<`` merges; unknown tags
  (``!Ref``) keep the node's value; ``!!binary`` gives bytes.

Without libyaml the pure-Python parser is used with the same resolution
(slower, and a tab after a value is then an error).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

__all__ = ["YAML_LOADER", "Map", "Seq", "YamlError", "line_of", "load_documents", "paused_gc"]


class Map(dict[Any, Any]):
    """A YAML mapping that remembers its line, each value's and each key's line (1-based).

    ``source`` is set on mappings that came from another file than the one
    being read (a kustomize patch), ``key_sources`` on values a patch set,
    so messages name the right file.
    """

    line: int = 0
    lines: dict[Any, int]
    key_lines: dict[Any, int]
    source: Path | None = None
    key_sources: dict[Any, Path] | None = None  # per key, when a patch set it

    def __getattr__(self, name: str) -> Any:
        if name in ("lines", "key_lines"):  # a mapping made in code, not parsed
            value: dict[Any, int] = {}
            setattr(self, name, value)
            return value
        raise AttributeError(name)


class Seq(list[Any]):
    """A YAML sequence that remembers its line and each item's line (1-based)."""

    line: int = 0
    lines: list[int]
    source: Path | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "lines":  # a sequence made in code, not parsed
            self.lines = [0] * len(self)
            return self.lines
        raise AttributeError(name)


class YamlError(Exception):
    """Text that is not YAML Go would read: ``problem`` at 1-based ``line`` (0: unknown)."""

    def __init__(self, problem: str, line: int = 0) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def line_of(obj: Any, key: Any = None, default: int = 0) -> int:
    """The line of ``obj[key]`` (or of ``obj`` itself), ``default`` when unknown."""
    if key is not None and isinstance(obj, Map):
        return obj.lines.get(key, obj.line)
    if key is not None and isinstance(obj, Seq) and isinstance(key, int):
        return obj.lines[key] if 0 <= key < len(obj.lines) else obj.line
    return getattr(obj, "line", default) or default


# --------------------------------------------------------------------------- the parser

_PLAIN = "?plain"  # tag given to plain (unquoted) scalars; resolved while building
_STR = "tag:yaml.org,2002:str"
_SEQ = BaseResolver.DEFAULT_SEQUENCE_TAG
_MAP = BaseResolver.DEFAULT_MAPPING_TAG


class _Resolve:
    """Tags during composition: plain scalars are left for :func:`_scalar`."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP

    # the composer's resolver hooks (unused: no path resolvers)
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


try:
    from yaml._yaml import CParser as _CParser

    class _Parser(_Resolve, _CParser):
        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)

    YAML_LOADER = "libyaml (yaml.CParser), go-yaml v2 scalar resolution"
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(_Resolve, Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)

    YAML_LOADER = "yaml.SafeLoader's pure-Python parser, go-yaml v2 scalar resolution"


# --------------------------------------------------------------------------- scalars

_WORDS: dict[str, Any] = {"": None, "~": None, "null": None, "Null": None, "NULL": None}
for _spellings, _value in (
    (("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    (("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    ((".nan", ".NaN", ".NAN"), float("nan")),
    ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    (("-.inf", "-.Inf", "-.INF"), float("-inf")),
):
    for _s in _spellings:
        _WORDS[_s] = _value
_NUMERIC_START = frozenset("0123456789+-.")
_GO_INT = re.compile(
    r"(?P<sign>[-+]?)(?:0[xX](?P<hex>[0-9a-fA-F]+)|0[bB](?P<bin>[01]+)|0[oO]?(?P<oct>[0-7]+)"
    r"|(?P<dec>[1-9][0-9]*|0))"
)
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INT64 = 2**63
_UINT64 = 2**64


def _go_int(text: str) -> int | None:
    """Go's ``ParseInt(text, 0, 64)``, then ``ParseUint``: the integer, or None."""
    m = _GO_INT.fullmatch(text)
    if m is None:
        return None
    if m["hex"] is not None:
        n = int(m["hex"], 16)
    elif m["bin"] is not None:
        n = int(m["bin"], 2)
    elif m["oct"] is not None:
        n = int(m["oct"], 8)
    else:
        n = int(m["dec"])
    if m["sign"] == "-":
        return -n if n <= _INT64 else None
    return n if n < _UINT64 and (n < _INT64 or not m["sign"]) else None


def _plain(value: str) -> Any:
    """A plain scalar as go-yaml v2 decodes it into ``interface{}``."""
    if value in _WORDS:
        return _WORDS[value]
    if value[0] not in _NUMERIC_START:
        return value
    text = value.replace("_", "") if "_" in value else value
    n = _go_int(text)
    if n is not None:
        return n
    if _GO_FLOAT.fullmatch(text):
        return float(text)
    return value


def _explicit(node: ScalarNode) -> Any:
    """A scalar with an explicit tag (``!!int 3``, ``!!binary ...``, ``!Ref x``)."""
    tag, value = node.tag, node.value
    if tag == "tag:yaml.org,2002:str" or not tag.startswith("tag:yaml.org,2002:"):
        return value
    kind = tag.rsplit(":", 1)[1]
    if kind == "null":
        return None
    if kind == "bool":
        parsed = _WORDS.get(value)
        if isinstance(parsed, bool):
            return parsed
    elif kind == "int":
        n = _go_int(value.replace("_", ""))
        if n is not None:
            return n
    elif kind == "float":
        parsed = _plain(value) if value else None
        if isinstance(parsed, int | float) and not isinstance(parsed, bool):
            return float(parsed)
    elif kind == "binary":
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            pass
    elif kind == "timestamp":
        return value  # go-yaml v2 hands timestamps to interface{} as the text
    else:
        return value
    raise YamlError(f"cannot read {value!r} as !!{kind}", node.start_mark.line + 1)


# --------------------------------------------------------------------------- building


class _Builder:
    """Nodes → :class:`Map`/:class:`Seq`/scalars, aliases shared, merges applied."""

    def __init__(self) -> None:
        self.done: dict[int, Any] = {}
        self.busy: set[int] = set()

    def build(self, node: Node) -> Any:
        cls = type(node)
        if cls is ScalarNode:
            if node.tag == _PLAIN:
                value = node.value
                return _plain(value) if value else None
            return _explicit(node)  # type: ignore[arg-type]
        key = id(node)
        done = self.done
        if key in done:
            return done[key]
        if key in self.busy:
            raise YamlError("an alias refers to its own anchor", node.start_mark.line + 1)
        self.busy.add(key)
        out = self._mapping(node) if cls is MappingNode else self._sequence(node)
        self.busy.discard(key)
        done[key] = out
        return out

    def _sequence(self, node: Node) -> Seq:
        out = Seq()
        lines: list[int] = []
        append, add_line, build = out.append, lines.append, self.build
        for child in node.value:
            if type(child) is ScalarNode and child.tag == _PLAIN:
                value = child.value
                append(_plain(value) if value else None)
            else:
                append(build(child))
            add_line(child.start_mark.line + 1)
        out.line = node.start_mark.line + 1
        out.lines = lines
        return out

    def _mapping(self, node: Node) -> Map:
        out = Map()
        out.line = node.start_mark.line + 1
        lines: dict[Any, int] = {}
        key_lines: dict[Any, int] = {}
        merges: list[Map] | None = None
        build = self.build
        words = _WORDS
        for key_node, value_node in node.value:
            if type(key_node) is ScalarNode and key_node.tag == _PLAIN:
                key = key_node.value
                if key == "<<":
                    merges = (merges or []) + self._merge_sources(value_node)
                    continue
                if key in words or (key and key[0] in _NUMERIC_START):
                    key = _plain(key) if key else None
            else:
                key = build(key_node)
            key_line = key_node.start_mark.line + 1
            try:
                seen = key in key_lines
            except TypeError:
                raise YamlError("a mapping key that is a list or mapping", key_line) from None
            if seen:
                raise YamlError(
                    f"duplicate key {key!r} (first at line {key_lines[key]})", key_line
                )
            if type(value_node) is ScalarNode and value_node.tag == _PLAIN:
                value = value_node.value
                out[key] = _plain(value) if value else None
            else:
                out[key] = build(value_node)
            lines[key] = value_node.start_mark.line + 1
            key_lines[key] = key_line
        if merges:
            for source in merges:
                for key, value in source.items():
                    if key not in key_lines:
                        out[key] = value
                        lines[key] = source.lines.get(key, source.line)
                        key_lines[key] = source.key_lines.get(key, source.line)
        out.lines = lines
        out.key_lines = key_lines
        return out

    def _merge_sources(self, node: Node) -> list[Map]:
        value = self.build(node)
        sources = value if isinstance(value, Seq) else [value]
        if not all(isinstance(s, Map) for s in sources):
            raise YamlError("<< must merge a mapping or a list of mappings",
                            node.start_mark.line + 1)
        return list(sources)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused (bulk building makes no cycles; it would rescan).

    A 3 MB file builds about 400,000 containers; each collection of the
    oldest generation rescans all of them, which doubled the reading time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def load_documents(text: str) -> list[Any]:
    """Every YAML document of ``text`` (None for an empty one); :class:`YamlError` if not YAML."""
    parser = _Parser(text)
    out: list[Any] = []
    try:
        with paused_gc():
            while parser.check_node():
                node = parser.get_node()
                out.append(None if node is None else _Builder().build(node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(problem, mark.line + 1 if mark is not None else 0) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from exc
    except RecursionError as exc:
        raise YamlError("nested too deeply") from exc
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()
    return out
