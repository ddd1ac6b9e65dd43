"""Strategic-merge patches and JSON patches (RFC 6902), as kustomize applies them.

Strategic merge (``k8s.io/apimachinery/pkg/util/strategicpatch``, the subset
manifests use): mappings merge key by key; ``null`` deletes a key; lists of
containers, volumes, env, ports and mounts merge by their merge key
(``name``, ``containerPort``, ``mountPath``), other lists are replaced;
``$patch: delete`` removes a mapping or list item, ``$patch: replace``
replaces instead of merging (a ``{$patch: replace}`` item replaces the whole
list); ``$retainKeys``, ``$setElementOrder/…`` and
``$deleteFromPrimitiveList/…`` are honoured.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rightsize.sources.manifests.yamlload import Map, Seq

__all__ = ["DELETE", "PatchError", "json_patch", "strategic_merge"]

#: the merge key of the lists a pod template holds, by field name
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "resourceClaims": "name",
    "claims": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "hostAliases": "ip",
}


class PatchError(Exception):
    """A patch that cannot be applied (says why)."""


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


#: returned by :func:`strategic_merge` when the patch deletes the whole object
DELETE: Any = _Delete()


def _copy_map(source: Mapping[Any, Any]) -> Map:
    out = Map(source)
    out.line = getattr(source, "line", 0)
    out.lines = dict(getattr(source, "lines", {}))
    out.key_lines = dict(getattr(source, "key_lines", {}))
    out.source = getattr(source, "source", None)
    out.key_sources = getattr(source, "key_sources", None)
    return out


def _strip(patch: Any) -> Any:
    """A patch value placed where nothing was: directives and nulls removed."""
    if isinstance(patch, Mapping):
        merged = strategic_merge(Map(), patch)
        return Map() if merged is DELETE else merged
    if isinstance(patch, list):
        return _list(Seq(), patch, None)
    return patch


def strategic_merge(base: Any, patch: Any, field: str | None = None) -> Any:
    """``patch`` applied to ``base`` (neither is modified); :data:`DELETE` to remove it."""
    if not isinstance(patch, Mapping):
        if isinstance(patch, list):
            return _list(base if isinstance(base, list) else Seq(), patch, field)
        return patch
    directive = patch.get("$patch")
    if directive == "delete":
        return DELETE
    if directive == "replace":
        out = _copy_map(patch)
        out.pop("$patch", None)
        return _strip(out)
    if directive is not None and directive != "merge":
        raise PatchError(f"unknown $patch directive {directive!r}")
    out = _copy_map(base) if isinstance(base, Mapping) else Map()
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        key_str = key if isinstance(key, str) else None
        if key_str in ("$patch", "$retainKeys"):
            continue
        if key_str is not None and key_str.startswith("$setElementOrder/"):
            continue  # ordering only
        if key_str is not None and key_str.startswith("$deleteFromPrimitiveList/"):
            name = key_str.split("/", 1)[1]
            if isinstance(out.get(name), list) and isinstance(value, list):
                out[name] = Seq(v for v in out[name] if v not in value)
            continue
        if value is None:
            out.pop(key, None)
            continue
        merged = strategic_merge(out.get(key), value, key_str)
        if merged is DELETE:
            out.pop(key, None)
            continue
        out[key] = merged
        if isinstance(patch, Map):
            out.lines[key] = patch.lines.get(key, patch.line)
            out.key_lines[key] = patch.key_lines.get(key, patch.line)
            if patch.source is not None:
                out.key_sources = {**(out.key_sources or {}), key: patch.source}
    if isinstance(retain, list):
        for key in [k for k in out if k not in retain]:
            del out[key]
    return out


def _list(base: list[Any], patch: list[Any], field: str | None) -> Seq:
    merge_key = MERGE_KEYS.get(field or "")
    items = [p for p in patch if not (isinstance(p, Mapping) and p.get("$patch") == "replace")]
    if len(items) != len(patch):  # a {$patch: replace} item: the patch's items replace the list
        return Seq(_strip(p) for p in items)
    if merge_key is None or not all(isinstance(p, Mapping) for p in patch):
        return Seq(_strip(p) for p in patch)
    out = Seq(base)
    out.lines = list(getattr(base, "lines", [0] * len(base)))
    out.line = getattr(base, "line", 0)
    for item in patch:
        key = item.get(merge_key)
        index = next(
            (i for i, b in enumerate(out) if isinstance(b, Mapping) and b.get(merge_key) == key),
            None,
        )
        if index is None:
            if item.get("$patch") == "delete":
                continue
            out.append(_strip(item))
            out.lines.append(getattr(item, "line", 0))
            continue
        merged = strategic_merge(out[index], item, None)
        if merged is DELETE:
            del out[index]
            del out.lines[index]
        else:
            out[index] = merged
    return out


# --------------------------------------------------------------------------- RFC 6902


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _parent(doc: Any, parts: list[str], op: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"{op}: path /{'/'.join(parts)} does not exist")
    return node, parts[-1]


def _get(doc: Any, parts: list[str], op: str) -> Any:
    if not parts:
        return doc
    parent, last = _parent(doc, parts, op)
    if isinstance(parent, Mapping) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise PatchError(f"{op}: path /{'/'.join(parts)} does not exist")


def _remove(doc: Any, parts: list[str], op: str) -> Any:
    parent, last = _parent(doc, parts, op)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError(f"{op}: path /{'/'.join(parts)} does not exist")


def _add(doc: Any, parts: list[str], value: Any, op: str, *, replace: bool = False) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts, op)
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"{op}: path /{'/'.join(parts)} does not exist")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise PatchError(f"{op}: index {last} is out of range")
    else:
        raise PatchError(f"{op}: path /{'/'.join(parts)} does not exist")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 ``ops`` applied to a copy of ``doc``."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch is a list of operations")
    out = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, Mapping) or not isinstance(op.get("op"), str):
            raise PatchError(f"invalid JSON patch operation {op!r}")
        name = op["op"]
        parts = _pointer(op.get("path"))
        if name == "add":
            out = _add(out, parts, copy.deepcopy(op.get("value")), name)
        elif name == "replace":
            out = _add(out, parts, copy.deepcopy(op.get("value")), name, replace=True)
        elif name == "remove":
            _remove(out, parts, name)
        elif name in ("move", "copy"):
            source = _pointer(op.get("from"))
            value = _remove(out, source, name) if name == "move" else copy.deepcopy(
                _get(out, source, name))
            out = _add(out, parts, value, name)
        elif name == "test":
            if _get(out, parts, name) != op.get("value"):
                raise PatchError(f"test failed at {op.get('path')}")
        else:
            raise PatchError(f"unknown JSON patch operation {name!r}")
    return out
