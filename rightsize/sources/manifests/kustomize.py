"""Kustomization folders rendered as ``kubectl kustomize`` renders them.

:func:`render` runs ``kubectl kustomize DIR`` (or ``kustomize build DIR``)
when one is on PATH, and otherwise the built-in reader, which applies what
changes declared resources: ``resources`` (and the legacy ``bases``) in their
order, then ``components``, then the transformers in kustomize's order:
``patchesStrategicMerge``, ``patches`` (strategic merge or JSON 6902, with
or without a ``target`` selector), ``namespace``, ``namePrefix``,
``nameSuffix``, ``patchesJson6902``. Patches find their target by kind and
name, current or original (before a base's prefix). Generators, Helm charts,
replacements and plugins are not run by the built-in reader (a note says so).

``RIGHTSIZE_KUSTOMIZE`` chooses: ``auto`` (default), ``kubectl``,
``kustomize`` or ``builtin``.

One piece: both renderers give the same :class:`Rendered` documents, and the
built-in one is kustomize's fixed order of steps over one resource list
(the patch algorithms themselves are in ``merge``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightsize.errors import InputError, UsageError
from rightsize.sources.manifests.kubernetes import KUBERNETES_KINDS
from rightsize.sources.manifests.merge import DELETE, PatchError, json_patch, strategic_merge
from rightsize.sources.manifests.workload import log
from rightsize.sources.manifests.yamlload import Map, Seq, YamlError, load_documents

__all__ = ["KUSTOMIZATION_FILES", "Rendered", "engine", "kustomization_file",
           "referenced_folders", "render"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ENGINES = ("auto", "kubectl", "kustomize", "builtin")
_TIMEOUT_S = 120
_CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "APIService", "IngressClass",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "RuntimeClass",
    "CSIDriver", "Node",
})
_NOT_RUN = ("helmCharts", "helmChartInflationGenerator", "generators", "transformers",
            "validators", "replacements")
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/)", re.I)


def kustomization_file(folder: Path) -> Path | None:
    """The folder's kustomization file, if it has one."""
    for name in KUSTOMIZATION_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def engine() -> tuple[str, list[str] | None]:
    """The renderer to use: (name, command prefix), the command None for the built-in reader."""
    choice = os.environ.get("RIGHTSIZE_KUSTOMIZE", "auto").strip().lower() or "auto"
    if choice not in ENGINES:
        raise UsageError(f"RIGHTSIZE_KUSTOMIZE={choice!r}: expected one of {', '.join(ENGINES)}")
    if choice in ("auto", "kubectl") and (kubectl := shutil.which("kubectl")):
        return "kubectl kustomize", [kubectl, "kustomize"]
    if choice in ("auto", "kustomize") and (kustomize := shutil.which("kustomize")):
        return "kustomize build", [kustomize, "build"]
    if choice in ("kubectl", "kustomize"):
        raise UsageError(f"RIGHTSIZE_KUSTOMIZE={choice}: {choice} is not on PATH")
    return "the built-in reader", None


@dataclass
class Rendered:
    """One rendered object: the object, the file and document it came from, for messages."""

    obj: Map
    path: Path
    document: int
    label: str
    names: list[str] = field(default_factory=list)  # earlier names (before prefixes)
    namespaces: list[str | None] = field(default_factory=list)


def _yaml_file(path: Path, what: str) -> list[Any]:
    """The YAML documents of ``path``; InputError naming the file (and line) and ``what`` it is."""
    try:
        return load_documents(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc}") from exc
    except YamlError as exc:
        where = f":{exc.line}" if exc.line else ""
        raise InputError(f"{path}{where}: invalid YAML: {exc.problem}") from exc


def _read_kustomization(path: Path) -> Map:
    docs = _yaml_file(path, "kustomization")
    k = next((d for d in docs if d is not None), Map())
    if not isinstance(k, Map):
        raise InputError(f"{path}: a kustomization is a mapping")
    return k


def _entries(k: Map, key: str, path: Path) -> list[Any]:
    value = k.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{path}:{k.lines.get(key, 0)}: {key} is not a list")
    return list(value)


def referenced_folders(folder: Path) -> set[Path]:
    """The folders a kustomization names in ``resources``, ``bases`` and ``components``."""
    kfile = kustomization_file(folder)
    if kfile is None:
        return set()
    try:
        k = _read_kustomization(kfile)
    except InputError:
        return set()
    out: set[Path] = set()
    for key in ("resources", "bases", "components"):
        for entry in k.get(key) or []:
            if isinstance(entry, str) and not _REMOTE.match(entry):
                target = (folder / entry).resolve()
                if target.is_dir():
                    out.add(target)
    return out


def render(folder: Path) -> tuple[list[Rendered], str]:
    """The objects a kustomization folder renders to, and which renderer was used."""
    name, command = engine()
    kfile = kustomization_file(folder) or folder / "kustomization.yaml"
    if command is None:
        return _Builder().build(folder, ()), name
    try:
        done = subprocess.run([*command, str(folder)], capture_output=True, text=True,
                              timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise InputError(f"{kfile}: {name} did not finish within {_TIMEOUT_S} s") from exc
    except OSError as exc:
        raise InputError(f"{kfile}: cannot run {name}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.lower().startswith("error")] or lines or ["no output"]
        raise InputError(f"{kfile}: {name} failed: {errors[-1]}")
    label = f"{kfile} rendered by {name}, line"
    try:
        docs = load_documents(done.stdout)
    except YamlError as exc:  # pragma: no cover - kustomize writes YAML
        raise InputError(f"{label} {exc.line}: invalid YAML: {exc.problem}") from exc
    out = [Rendered(d, kfile, i, f"{label}") for i, d in enumerate(docs, 1) if isinstance(d, Map)]
    return out, name


# --------------------------------------------------------------------------- built-in


def _mark(obj: Any, source: Path) -> None:
    """Mark every mapping and list of a patch with the file it came from."""
    if isinstance(obj, Map | Seq):
        obj.source = source
        for value in obj.values() if isinstance(obj, Map) else obj:
            _mark(value, source)


def _kind_name(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return str(obj.get("kind") or ""), str(name or "")


def _namespace(obj: Mapping[str, Any]) -> str | None:
    meta = obj.get("metadata")
    ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    return ns if isinstance(ns, str) and ns else None


class _Builder:
    """The built-in kustomize reader (see the module docstring)."""

    def build(self, folder: Path, stack: tuple[Path, ...]) -> list[Rendered]:
        folder = folder.resolve()
        if folder in stack:
            raise InputError(f"{folder}: kustomizations include each other in a cycle")
        kfile = kustomization_file(folder)
        if kfile is None:
            raise InputError(f"{folder}: not a kustomization folder (no kustomization.yaml)")
        resmap: list[Rendered] = []
        self._accumulate(folder, kfile, _read_kustomization(kfile), resmap, (*stack, folder))
        return resmap

    def _accumulate(self, folder: Path, kfile: Path, k: Map, resmap: list[Rendered],
                    stack: tuple[Path, ...]) -> None:
        skipped = [key for key in _NOT_RUN if k.get(key)]
        if skipped:
            log.info("%s: the built-in kustomize reader does not run %s (install kubectl to "
                     "render them)", kfile, ", ".join(skipped))
        for entry in _entries(k, "resources", kfile) + _entries(k, "bases", kfile):
            local = self._local(folder, kfile, entry)
            if local.is_dir():
                resmap.extend(self.build(local, stack))
            else:
                resmap.extend(self._load(local))
        for entry in _entries(k, "components", kfile):
            component = self._local(folder, kfile, entry).resolve()
            ckfile = kustomization_file(component)
            if ckfile is None:
                raise InputError(f"{kfile}: component {entry} has no kustomization.yaml")
            if component in stack:
                raise InputError(f"{component}: kustomizations include each other in a cycle")
            self._accumulate(component, ckfile, _read_kustomization(ckfile), resmap,
                             (*stack, component))
        for entry in _entries(k, "patchesStrategicMerge", kfile):
            for patch in self._patch_docs(folder, kfile, entry):
                self._strategic(resmap, patch, None, kfile)
        for entry in _entries(k, "patches", kfile):
            if not isinstance(entry, Mapping):
                raise InputError(f"{kfile}: a patches entry is a mapping with path or patch")
            target = entry.get("target")
            content = entry.get("patch") if entry.get("patch") is not None else entry.get("path")
            for patch in self._patch_docs(folder, kfile, content, inline="patch" in entry):
                if isinstance(patch, list):
                    self._json(resmap, patch, target, kfile)
                else:
                    self._strategic(resmap, patch, target, kfile)
        namespace = k.get("namespace")
        if isinstance(namespace, str) and namespace:
            for r in resmap:
                if r.obj.get("kind") not in _CLUSTER_SCOPED:
                    r.namespaces.append(_namespace(r.obj))
                    self._set_meta(r, "namespace", namespace)
        prefix, suffix = k.get("namePrefix") or "", k.get("nameSuffix") or ""
        if prefix or suffix:
            for r in resmap:
                if r.obj.get("kind") not in ("Namespace", "CustomResourceDefinition"):
                    _, name = _kind_name(r.obj)
                    r.names.append(name)
                    self._set_meta(r, "name", f"{prefix}{name}{suffix}")
        for entry in _entries(k, "patchesJson6902", kfile):
            if not isinstance(entry, Mapping):
                raise InputError(f"{kfile}: a patchesJson6902 entry is a mapping")
            content = entry.get("patch") if entry.get("patch") is not None else entry.get("path")
            for patch in self._patch_docs(folder, kfile, content, inline="patch" in entry):
                self._json(resmap, patch, entry.get("target"), kfile)

    @staticmethod
    def _set_meta(r: Rendered, key: str, value: str) -> None:
        meta = r.obj.get("metadata")
        if not isinstance(meta, Map):
            meta = Map(meta or {})
            meta.lines, meta.key_lines = {}, {}
            r.obj["metadata"] = meta
        meta[key] = value

    @staticmethod
    def _local(folder: Path, kfile: Path, entry: Any) -> Path:
        if not isinstance(entry, str) or not entry:
            raise InputError(f"{kfile}: resource entry {entry!r} is not a path")
        if _REMOTE.match(entry):
            raise InputError(f"{kfile}: {entry} is a remote resource, which the built-in "
                             "kustomize reader does not fetch; install kubectl to render it")
        target = folder / entry
        if not target.exists():
            raise InputError(f"{kfile}: {entry}: no such file or folder")
        return target

    @staticmethod
    def _load(path: Path) -> list[Rendered]:
        out: list[Rendered] = []
        for number, doc in enumerate(_yaml_file(path, "resource"), 1):
            if not isinstance(doc, Map):
                continue
            kind = doc.get("kind")
            items = doc.get("items")
            if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
                out.extend(Rendered(i, path, number, str(path)) for i in items
                           if isinstance(i, Map))
            else:
                out.append(Rendered(doc, path, number, str(path)))
        return out

    def _patch_docs(self, folder: Path, kfile: Path, content: Any,
                    inline: bool = False) -> list[Any]:
        if not isinstance(content, str) or not content:
            raise InputError(f"{kfile}: a patch needs a path or an inline patch")
        source: Path
        if inline or "\n" in content:
            text, source = content, kfile
        else:
            source = self._local(folder, kfile, content)
            try:
                text = source.read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"{source}: cannot read the patch: {exc}") from exc
        try:
            docs = [d for d in load_documents(text) if d is not None]
        except YamlError as exc:
            where = f":{exc.line}" if exc.line and source != kfile else ""
            raise InputError(f"{source}{where}: invalid YAML in a patch: {exc.problem}") from exc
        for d in docs:
            _mark(d, source)
        return docs

    @staticmethod
    def _matches_id(r: Rendered, kind: str, name: str, namespace: str | None,
                    api_version: Any) -> bool:
        rkind, rname = _kind_name(r.obj)
        if rkind != kind or name not in (rname, *r.names):
            return False
        if isinstance(api_version, str) and api_version and r.obj.get("apiVersion") != api_version:
            return False
        wanted = namespace or "default"
        return any((ns or "default") == wanted for ns in (_namespace(r.obj), *r.namespaces))

    @staticmethod
    def _selected(r: Rendered, target: Mapping[str, Any]) -> bool:
        kind, name = _kind_name(r.obj)
        api = str(r.obj.get("apiVersion") or "")
        group, _, version = api.rpartition("/")
        checks = (
            ("kind", [kind]), ("group", [group]), ("version", [version]),
            ("name", [name, *r.names]), ("namespace", [_namespace(r.obj) or "default"]),
        )
        for key, values in checks:
            want = target.get(key)
            if want is None or want == "":
                continue
            if not any(re.fullmatch(str(want), v or "") for v in values):
                return False
        for key, meta_key in (("labelSelector", "labels"), ("annotationSelector", "annotations")):
            selector = target.get(key)
            if isinstance(selector, str) and selector:
                meta = r.obj.get("metadata")
                have = meta.get(meta_key) if isinstance(meta, Mapping) else None
                if not _select(selector, have if isinstance(have, Mapping) else {}):
                    return False
        return True

    def _targets(self, resmap: list[Rendered], patch: Mapping[str, Any], target: Any,
                 kfile: Path) -> list[Rendered]:
        if isinstance(target, Mapping):
            return [r for r in resmap if self._selected(r, target)]
        kind, name = _kind_name(patch)
        found = [r for r in resmap
                 if self._matches_id(r, kind, name, _namespace(patch), patch.get("apiVersion"))]
        if len(found) != 1 and kind in KUBERNETES_KINDS:
            where = getattr(patch, "source", None) or kfile
            what = "nothing" if not found else f"{len(found)} resources"
            raise InputError(f"{where}: the patch of {kind} {name} matches {what} in "
                             f"{kfile.parent} (kustomize: failed to find unique target for patch)")
        return found

    def _strategic(self, resmap: list[Rendered], patch: Any, target: Any, kfile: Path) -> None:
        if not isinstance(patch, Mapping):
            raise InputError(f"{kfile}: a strategic-merge patch is a mapping")
        for r in self._targets(resmap, patch, target, kfile):
            body = patch
            if isinstance(target, Mapping):  # the patch's own name and kind do not matter
                body = Map(patch)
                body.lines, body.key_lines = patch.lines, patch.key_lines  # type: ignore[attr-defined]
                body.pop("metadata", None)
                body.pop("kind", None)
                body.pop("apiVersion", None)
            try:
                merged = strategic_merge(r.obj, body)
            except PatchError as exc:
                raise InputError(f"{getattr(patch, 'source', kfile)}: {exc}") from exc
            if merged is DELETE:
                resmap.remove(r)
            else:
                r.obj = merged

    def _json(self, resmap: list[Rendered], ops: Any, target: Any, kfile: Path) -> None:
        if not isinstance(target, Mapping):
            raise InputError(f"{kfile}: a JSON patch needs a target")
        for r in [r for r in resmap if self._selected(r, target)]:
            try:
                patched = json_patch(r.obj, ops)
            except PatchError as exc:
                raise InputError(f"{getattr(ops, 'source', kfile)}: JSON patch: {exc}") from exc
            r.obj = patched if isinstance(patched, Map) else Map(patched)


def _select(selector: str, labels: Mapping[str, Any]) -> bool:
    """A label selector (``a=b,c!=d,e``) against ``labels``."""
    for term in (t.strip() for t in selector.split(",")):
        if not term:
            continue
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if str(labels.get(key)) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if str(labels.get(key)) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def names(rendered: Iterable[Rendered]) -> list[str]:
    """``kind/name`` of each rendered object (for tests and notes)."""
    return ["/".join(_kind_name(r.obj)) for r in rendered]
