"""Which files and kustomizations ``--manifests PATH`` reads.

A named file is read as it is (a named ``kustomization.yaml`` renders its
folder). A folder is searched recursively, hidden folders skipped, for
``.yaml``, ``.yml`` and ``.json`` files in any letter case (as ``kubectl
apply -f DIR`` reads them); a folder holding a kustomization file is
rendered as a whole instead, and its own files are not read one by one. A
kustomization that another one found in the same search includes (as a
resource, base or component) is not rendered on its own. Within a folder,
files are sorted by path with Compose override files last.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rightsize.errors import InputError
from rightsize.sources.manifests.kustomize import (
    KUSTOMIZATION_FILES,
    kustomization_file,
    referenced_folders,
)

__all__ = ["MANIFEST_SUFFIXES", "Found", "discover"]

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})


@dataclass(frozen=True)
class Found:
    """A file to read, or (``kustomize``) a kustomization folder to render."""

    path: Path
    named: bool  # given on the command line (errors are never skipped)
    kustomize: bool = False


def _is_override(path: Path) -> bool:
    return ".override." in path.name


def _walk(root: Path) -> tuple[list[Path], list[Path], int]:
    """Manifest files, kustomization folders and the count of other files under ``root``."""
    files: list[Path] = []
    kustomizations: list[Path] = []
    others = 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if any(name in filenames for name in KUSTOMIZATION_FILES):
            kustomizations.append(here)
            dirnames[:] = []  # the kustomization says which of its files count
            continue
        for name in filenames:
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in MANIFEST_SUFFIXES:
                files.append(here / name)
            else:
                others += 1
    return files, kustomizations, others


def discover(paths: Sequence[Path]) -> tuple[list[Found], int]:
    """What to read under ``paths``, in order, and how many other files were passed over."""
    out: list[Found] = []
    seen: set[Path] = set()
    others = 0
    for given in paths:
        p = Path(given)
        found: list[Found]
        if p.is_dir():
            if kustomization_file(p) is not None:
                found = [Found(p, named=True, kustomize=True)]
            else:
                files, roots, n = _walk(p)
                others += n
                included: set[Path] = set()
                for root in roots:
                    included |= referenced_folders(root)
                items = [(f, False) for f in files] + [
                    (r, True) for r in roots if r.resolve() not in included
                ]
                items.sort(key=lambda it: (it[0].parent if not it[1] else it[0], it[1],
                                           _is_override(it[0]), it[0].name))
                found = [Found(path, named=False, kustomize=k) for path, k in items]
        elif p.is_file():
            if p.name in KUSTOMIZATION_FILES:
                found = [Found(p.parent, named=True, kustomize=True)]
            else:
                found = [Found(p, named=True)]
        elif p.exists():
            raise InputError(f"{p}: not a regular file or folder")
        else:
            raise InputError(f"{p}: no such manifest file or folder")
        for f in found:
            key = f.path.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out, others
