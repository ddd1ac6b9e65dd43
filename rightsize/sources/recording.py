"""A recorded folder of Docker Engine API payloads, as a source and a writer.

Layout (the one of ``tests/fixtures/docker-api/rightsize-lab-session``)::

    stats.jsonl[.gz]   one stats document a line, each with ``id`` and ``name``
    inspect.json       {container id: inspect payload}
    inspect-end.json   optional later inspect state; it wins where both exist
    events.jsonl       optional ``/events`` messages, one a line
    info.json          optional ``/info`` (allow-listed fields)
    version.json       optional ``/version``
    containers.json    optional ``/containers/json?all=1``

Reading replays every payload through ``sources.docker.payloads``, the same
parsing live collection uses. Writing keeps only sanitized payloads: the
writer never stores an environment, a command line or exec events.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rightsize.errors import InputError
from rightsize.outputs import AppendStream, write_text
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow, container_row
from rightsize.sources.docker import payloads

if TYPE_CHECKING:
    from rightsize.store import Store

__all__ = [
    "Recording",
    "RecordingWriter",
    "is_recording",
    "read_recording",
    "read_recordings",
]

log = logging.getLogger("rightsize.recording")

STATS_FILES = ("stats.jsonl", "stats.jsonl.gz")
INSPECT_FILE = "inspect.json"
INSPECT_END_FILE = "inspect-end.json"
EVENTS_FILE = "events.jsonl"
INFO_FILE = "info.json"
VERSION_FILE = "version.json"
CONTAINERS_FILE = "containers.json"


@dataclass
class Recording:
    """Everything one recorded folder (one engine) yields, as rows."""

    host: HostRow
    containers: list[ContainerRow] = field(default_factory=list)
    samples: list[SampleRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)


# --------------------------------------------------------------------------
# reading


def is_recording(path: Path) -> bool:
    """True if ``path`` is a folder holding a stats file or an inspect file."""
    names = (*STATS_FILES, INSPECT_FILE)
    return path.is_dir() and any((path / name).is_file() for name in names)


def _load_json(path: Path, *, required: bool) -> Any:
    if not path.is_file():
        if required:
            raise InputError(f"{path}: missing (a recording needs {path.name})")
        return None
    try:
        with path.open("rb") as fh:
            return json.load(fh)
    except (ValueError, OSError) as exc:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        line = getattr(exc, "lineno", None)
        where = f":{line}" if line is not None else ""
        raise InputError(f"{path}{where}: not valid JSON ({exc})") from exc


def _open_lines(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """Yield (line number, object) per non-blank line; None for a bad line.

    A bad line is logged and yielded as None so the caller can count it. A
    file whose every line is bad, or a gzip file that cannot be opened at
    all, raises InputError naming the file and the first bad line. A gzip
    stream cut short (a killed recorder) ends the iteration with a warning.
    """
    good = 0
    first_bad: tuple[int, str] | None = None
    lineno = 0
    try:
        with _open_lines(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError as exc:
                    obj, reason = None, f"not valid JSON ({exc})"
                else:
                    reason = "not a JSON object"
                if isinstance(obj, dict):
                    good += 1
                    yield lineno, obj
                    continue
                if first_bad is None:
                    first_bad = (lineno, reason)
                log.warning("%s:%d: skipping line: %s", path, lineno, reason)
                yield lineno, None
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        if good == 0 and first_bad is None:
            raise InputError(f"{path}: cannot read ({exc})") from exc
        log.warning("%s: truncated after line %d (%s); keeping what was read", path, lineno, exc)
    if good == 0 and first_bad is not None:
        line, reason = first_bad
        raise InputError(f"{path}:{line}: no valid JSON lines; first bad line: {reason}")


def _inspect_docs(data: Any, path: Path) -> list[Mapping[str, Any]]:
    if isinstance(data, Mapping):
        docs = list(data.values())
    elif isinstance(data, list):  # `docker inspect a b c` prints a list
        docs = data
    else:
        raise InputError(f"{path}: expected an object of container id -> inspect payload")
    out: list[Mapping[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("Id"), str):
            raise InputError(f"{path}: an entry is not an inspect payload (no Id)")
        out.append(doc)
    return out


def _containers_from_inspect(path: Path, host: str, *, required: bool) -> dict[str, ContainerRow]:
    data = _load_json(path, required=required)
    if data is None:
        return {}
    rows: dict[str, ContainerRow] = {}
    for doc in _inspect_docs(data, path):
        row = payloads.container_from_inspect(doc, host)
        rows[row["container_id"]] = row
    return rows


def _minimal_container(cid: str, name: str, image: str, host: str, os_type: str) -> ContainerRow:
    return container_row(host, cid, name.removeprefix("/"), image=image, os_type=os_type)


def _summaries(path: Path) -> list[Mapping[str, Any]]:
    data = _load_json(path, required=False)
    if data is None:
        return []
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of /containers/json entries")
    return [entry for entry in data if isinstance(entry, Mapping)]


def _stats_files(path: Path) -> list[Path]:
    files = [path / name for name in STATS_FILES if (path / name).is_file()]
    if not files:
        raise InputError(f"{path}: missing stats.jsonl or stats.jsonl.gz (not a recording?)")
    return files


def read_recording(path: Path, host: str | None = None) -> Recording:
    """Read one recorded folder into rows.

    ``host`` is the label every row carries (default ``recording:<folder>``).
    Bad lines are skipped with a warning; a missing stats or inspect file, or
    a JSON file that is malformed as a whole, raises InputError. Samples with
    the same (container_id, ts) are kept once; containers seen only in the
    stats get a minimal row named after the stats ``name``.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a recording folder")
    label = host or f"recording:{path.name}"
    stats_files = _stats_files(path)

    info = _load_json(path / INFO_FILE, required=False)
    version = _load_json(path / VERSION_FILE, required=False)
    if info is not None and not isinstance(info, Mapping):
        raise InputError(f"{path / INFO_FILE}: expected a JSON object")
    if version is not None and not isinstance(version, Mapping):
        raise InputError(f"{path / VERSION_FILE}: expected a JSON object")
    host_os = None
    if isinstance(info, Mapping) and isinstance(info.get("OSType"), str):
        host_os = info["OSType"]
    elif isinstance(version, Mapping) and isinstance(version.get("Os"), str):
        host_os = version["Os"]

    containers = _containers_from_inspect(path / INSPECT_FILE, label, required=True)
    containers.update(_containers_from_inspect(path / INSPECT_END_FILE, label, required=False))

    samples: dict[tuple[str, float], SampleRow] = {}
    stats_names: dict[str, str] = {}
    skipped = 0
    for stats_file in stats_files:
        for lineno, doc in _json_lines(stats_file):
            if doc is None:
                skipped += 1
                continue
            try:
                sample = payloads.sample_from_stats(doc, label, host_os)
            except (ValueError, TypeError) as exc:
                skipped += 1
                log.warning("%s:%d: skipping stats document: %s", stats_file, lineno, exc)
                continue
            name = doc.get("name")
            if isinstance(name, str) and name:
                stats_names.setdefault(str(doc["id"]), name)
            if sample is not None:
                samples.setdefault((sample["container_id"], sample["ts"]), sample)

    events: list[EventRow] = []
    events_file = path / EVENTS_FILE
    if events_file.is_file():
        for _lineno, ev in _json_lines(events_file):
            if ev is None:
                skipped += 1
                continue
            row = payloads.event_from_docker(ev, label)
            if row is not None:
                events.append(row)
    if skipped:
        log.warning("%s: skipped %d bad line(s)", path, skipped)

    os_type = (host_os or "linux").lower()
    summaries = {str(s.get("Id")): s for s in _summaries(path / CONTAINERS_FILE) if s.get("Id")}
    for cid in sorted(set(stats_names) | {sample["container_id"] for sample in samples.values()}):
        if cid in containers:
            continue
        summary = summaries.get(cid, {})
        names = summary.get("Names")
        name = names[0] if isinstance(names, list) and names else stats_names.get(cid, cid[:12])
        image = summary.get("Image")
        containers[cid] = _minimal_container(
            cid, str(name), image if isinstance(image, str) else "", label, os_type
        )

    host_row = payloads.host_from_info(info or {}, version, label)
    if not host_row["ncpu"]:
        host_row["ncpu"] = max((s["online_cpus"] or 0 for s in samples.values()), default=0)

    return Recording(
        host=host_row,
        containers=sorted(containers.values(), key=lambda c: (c["name"], c["container_id"])),
        samples=sorted(samples.values(), key=lambda s: (s["ts"], s["container_id"])),
        events=sorted(events, key=lambda e: (e["ts"], e["container_id"])),
    )


def read_recordings(path: Path) -> list[Recording]:
    """Read a recording folder, or a folder whose subfolders are recordings.

    Each subfolder is one engine (host label ``recording:<subfolder>``).
    """
    path = Path(path)
    if is_recording(path):
        return [read_recording(path)]
    if not path.is_dir():
        raise InputError(f"{path}: not a recording folder")
    subdirs = sorted(p for p in path.iterdir() if is_recording(p))
    if not subdirs:
        raise InputError(f"{path}: no recording found (expected stats.jsonl and inspect.json)")
    return [read_recording(sub) for sub in subdirs]


def import_recordings(path: Path, store: Store) -> tuple[int, int]:
    """Replay the recording(s) at ``path`` into ``store``; returns (samples added, hosts)."""
    recordings = read_recordings(path)
    added = 0
    for rec in recordings:
        added += store.write(samples=rec.samples, containers=rec.containers,
                             events=rec.events, hosts=[rec.host])
    return added, len(recordings)


# --------------------------------------------------------------------------
# writing


def _write_json_atomic(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n", what="the recording")


class RecordingWriter:
    """Write sanitized engine payloads into a recording folder.

    Stats and events are appended to plain ``stats.jsonl`` / ``events.jsonl``
    and flushed per line: a killed collector leaves at most one torn last
    line, which the reader skips (a gzip stream cut short loses its tail
    block instead; compress finished recordings afterwards if wanted, the
    reader takes ``stats.jsonl.gz`` too). Inspect and container summaries are
    kept in memory (latest payload per container wins) and rewritten
    atomically by ``flush()``. Reopening an existing folder appends.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._inspect: dict[str, dict[str, Any]] = {}
        self._summaries: dict[str, dict[str, Any]] = {}
        existing = _load_json(self.path / INSPECT_FILE, required=False)
        if existing is not None:
            for doc in _inspect_docs(existing, self.path / INSPECT_FILE):
                self._inspect[str(doc["Id"])] = payloads.sanitize_inspect(doc)
        self._stats = AppendStream(self.path / STATS_FILES[0], what="the recording")
        self._events = AppendStream(self.path / EVENTS_FILE, what="the recording")
        self._closed = False

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _append(self, stream: AppendStream, doc: Mapping[str, Any]) -> None:
        if self._closed:
            raise ValueError("RecordingWriter is closed")
        stream.write_line(json.dumps(doc, separators=(",", ":"), sort_keys=True))

    def write_meta(self, version: Mapping[str, Any], info: Mapping[str, Any]) -> None:
        """Write ``version.json`` and ``info.json`` (both allow-listed)."""
        _write_json_atomic(self.path / VERSION_FILE, payloads.sanitize_version(version))
        _write_json_atomic(self.path / INFO_FILE, payloads.sanitize_info(info))

    def add_inspect(self, inspect: Mapping[str, Any]) -> None:
        """Keep a sanitized inspect payload (the latest per container wins)."""
        cid = inspect.get("Id")
        if not isinstance(cid, str) or not cid:
            raise ValueError("inspect payload has no Id")
        self._inspect[cid] = payloads.sanitize_inspect(inspect)

    def add_containers(self, summaries: Iterable[Mapping[str, Any]]) -> None:
        """Keep sanitized ``/containers/json`` entries (latest per id wins)."""
        for summary in summaries:
            clean = payloads.sanitize_container_summary(summary)
            cid = clean.get("Id")
            if isinstance(cid, str) and cid:
                self._summaries[cid] = clean

    def add_stats(self, doc: Mapping[str, Any]) -> None:
        """Append one stats document (it must carry ``id``) to ``stats.jsonl``."""
        if not isinstance(doc.get("id"), str):
            raise ValueError("stats document has no id")
        self._append(self._stats, doc)

    def add_event(self, ev: Mapping[str, Any]) -> None:
        """Append a sanitized container lifecycle event; others are dropped."""
        clean = payloads.sanitize_event(ev)
        if clean is not None:
            self._append(self._events, clean)

    def flush(self) -> None:
        """Rewrite inspect.json / containers.json and sync the line files."""
        _write_json_atomic(self.path / INSPECT_FILE, self._inspect)
        if self._summaries:
            _write_json_atomic(self.path / CONTAINERS_FILE, list(self._summaries.values()))
        self._stats.sync()
        self._events.sync()

    def close(self) -> None:
        """Flush and close; further ``add_*`` calls raise ValueError."""
        if self._closed:
            return
        self.flush()
        self._stats.close()
        self._events.close()
        self._closed = True
