"""Reading the store: :class:`Dataset` and :func:`load`, arrays straight from the chunks.

Each container's chunks are decoded column by column into numpy arrays (no
per-value Python objects), joined with its head rows, cut to the window and,
when asked, folded to one resolution (:func:`resolution`), then laid out as
one DataFrame sorted by (host, container_id, ts). pandas is imported only
here, so the collector starts fast.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rightsize.errors import InputError, UsageError
from rightsize.store import codec
from rightsize.store.chunks import concat_cols, decode_cols, head_cols, take
from rightsize.store.files import default_db_path
from rightsize.store.rollup import TIERS, Cols, rollup, sort_unique, to_floats
from rightsize.store.schema import HEAD_VALUE_COLUMNS
from rightsize.store.times import key, seconds, seconds_of
from rightsize.store.writer import CONTAINER_COLUMNS, EVENT_COLUMNS, HOST_COLUMNS, Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NUMERIC_SAMPLE_COLUMNS", "Dataset", "load", "resolution"]

#: the numeric sample columns, in table order (``host`` and ``container_id`` are the keys)
NUMERIC_SAMPLE_COLUMNS: tuple[str, ...] = ("ts", *HEAD_VALUE_COLUMNS)
#: asked for by name only: the highest CPU rate inside a rollup bucket (NaN for raw rows)
EXTRA_COLUMNS: tuple[str, ...] = ("cpu_peak",)

#: bucket sizes (seconds) a read may fold to: round numbers that nest
_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 3600, 7200,
          10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class Dataset:
    """The store's contents as DataFrames (the API analysis and notebooks use).

    - ``samples``: one row per container reading (or rollup bucket), columns of
      :class:`~rightsize.rows.SampleRow`, sorted by (host, container_id, ts);
      from :func:`load`, ``host`` and ``container_id`` are categorical (the
      analysis takes plain strings too).
    - ``containers``: one row per container, columns of :class:`ContainerRow`
      plus ``first_seen``/``last_seen``; ``labels`` holds dicts.
    - ``events``: columns of :class:`EventRow`, sorted by ts.
    - ``hosts``: columns of :class:`HostRow`.
    - ``step``: the bucket size (seconds) the samples were folded to, 0 for
      samples as stored.
    """

    samples: pd.DataFrame
    containers: pd.DataFrame
    events: pd.DataFrame
    hosts: pd.DataFrame
    step: int = 0

    @property
    def window(self) -> tuple[float, float] | None:
        """(first, last) sample time, or None when there are no samples."""
        if self.samples.empty:
            return None
        return float(self.samples["ts"].min()), float(self.samples["ts"].max())


def _numeric_columns(columns: Iterable[str] | None) -> list[str]:
    """The numeric sample columns to read: all of them, or ``columns`` in table order."""
    if columns is None:
        return list(NUMERIC_SAMPLE_COLUMNS)
    wanted = set(columns) - {"host", "container_id"}
    known = (*NUMERIC_SAMPLE_COLUMNS, *EXTRA_COLUMNS)
    unknown = sorted(wanted - set(known))
    if unknown:
        raise UsageError(
            f"columns: unknown sample column(s) {', '.join(unknown)}; expected some of "
            + ", ".join(known)
        )
    return [c for c in known if c in wanted or c == "ts"]


def resolution(conn: sqlite3.Connection, lo: int | None, hi: int | None,
               max_points: int | None) -> int:
    """The bucket size (seconds) for a read of [lo, hi] µs; 0 = as stored.

    The coarsest tier stored in the window sets the floor (one resolution for
    every container, so intervals compare); ``max_points`` caps the rows per
    container, so an analysis of a long window costs what a short one does.
    """
    where, params = _window(lo, hi)
    head_where, head_params = _window(lo, hi, "ts", "ts")
    tier, first, last, most = conn.execute(
        f"SELECT max(tier), min(t0), max(t1), max(rows) FROM (SELECT series, max(tier) AS tier, "
        f"min(t0) AS t0, max(t1) AS t1, sum(n) AS rows FROM chunks{where} GROUP BY series)",
        params).fetchone()
    h_first, h_last, h_most = conn.execute(
        "SELECT min(t0), max(t1), max(rows) FROM (SELECT min(ts) AS t0, max(ts) AS t1, "
        f"count(*) AS rows FROM head{head_where} GROUP BY series)", head_params).fetchone()
    floor = TIERS[int(tier)].step if tier else 0
    rows = int(most or 0) + int(h_most or 0)
    if max_points is None or rows <= max_points:
        return floor
    first_all = min(t for t in (first, h_first) if t is not None)
    last_all = max(t for t in (last, h_last) if t is not None)
    span = seconds(min(last_all, hi) if hi is not None else last_all) - seconds(
        max(first_all, lo) if lo is not None else first_all)
    need = span / max_points
    for step in _STEPS:
        if step >= need and step >= floor and (floor == 0 or step % floor == 0):
            return step
    return _STEPS[-1]


def _window(lo: int | None, hi: int | None, end: str = "t1", start: str = "t0"
            ) -> tuple[str, list[Any]]:
    """WHERE clause for rows whose [``start``, ``end``] span meets [lo, hi] (time keys)."""
    clauses, params = [], []
    if lo is not None:
        clauses.append(f"{end} >= ?")
        params.append(lo)
    if hi is not None:
        clauses.append(f"{start} <= ?")
        params.append(hi)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _key_column(values: list[str], counts: npt.NDArray[np.int64]) -> pd.Categorical:
    """``values[i]`` repeated ``counts[i]`` times, as a categorical (codes, not strings)."""
    import pandas as pd

    categories = sorted(set(values))
    index = {v: i for i, v in enumerate(categories)}
    codes = np.repeat(np.array([index[v] for v in values], dtype=np.int32), counts)
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))


def _series_cols(blobs: list[bytes], head: list[tuple[Any, ...]], wanted: list[str],
                 lo: int | None, hi: int | None, step: int, path: Path, key: tuple[str, str]
                 ) -> Cols | None:
    parts: list[Cols] = []
    for blob in blobs:
        try:
            parts.append(decode_cols(blob, wanted))
        except codec.ChunkError as exc:
            raise InputError(f"{path}: a damaged sample chunk of {key[1]} on {key[0]} ({exc}); "
                             "the store's other data is intact: `rightsize export` what "
                             "can be read, or delete that container's chunks") from exc
    if head:
        parts.append(head_cols(head))
    if not parts:
        return None
    cols = sort_unique(concat_cols(parts, wanted))
    ts = cols["ts"][0]
    if lo is not None or hi is not None:
        inside = np.ones(ts.size, dtype=bool)
        if lo is not None:
            inside &= ts >= lo
        if hi is not None:
            inside &= ts <= hi
        if not inside.all():
            cols = take(cols, inside)
    if cols["ts"][0].size == 0:
        return None
    if step and not _one_per_bucket(cols["ts"][0], step):
        cols = rollup(cols, step)
    return cols


def _one_per_bucket(ts: npt.NDArray[np.int64], step: int) -> bool:
    """True when no two readings share a ``step`` bucket (folding would change nothing)."""
    bucket = np.floor(seconds_of(ts) / step)
    return bool((bucket[1:] != bucket[:-1]).all())


def _samples(conn: sqlite3.Connection, path: Path, since: float | None, until: float | None,
             numeric: list[str], max_points: int | None) -> tuple[pd.DataFrame, int]:
    import pandas as pd

    lo = None if since is None else key(since)
    hi = None if until is None else key(until)
    step = resolution(conn, lo, hi, max_points)
    names = list(numeric)
    wanted = list(names)
    if step:  # the peak needs the rates
        wanted += [c for c in ("cpu_total_ns", "cpu_cores", "cpu_peak") if c not in wanted]
    keys = {int(i): (str(h), str(c)) for i, h, c in conn.execute(
        "SELECT id, host, container_id FROM series")}
    where, params = _window(lo, hi)
    hwhere, hparams = _window(lo, hi, "ts", "ts")
    heads: dict[int, list[tuple[Any, ...]]] = {}
    for row in conn.execute(f"SELECT series, ts, {', '.join(HEAD_VALUE_COLUMNS)} FROM head"
                            f"{hwhere} ORDER BY series, ts", hparams):
        heads.setdefault(int(row[0]), []).append(row[1:])
    (stored,) = conn.execute(f"SELECT coalesce(sum(n), 0) FROM chunks{where}", params).fetchone()
    # one preallocated array per column, filled container by container (no second
    # copy); sized for every stored row, pages a folded read never fills stay unused
    total = int(stored) + sum(len(rows) for rows in heads.values())
    filled: dict[str, npt.NDArray[np.float64]] = {n: np.empty(total) for n in names}
    got_keys: list[tuple[str, str]] = []
    counts: list[int] = []
    peaks = False
    pos = 0

    def add(sid: int, found: list[tuple[int, bytes]]) -> None:
        nonlocal pos, peaks
        found.sort(key=lambda c: c[0])  # oldest first, across tiers: already in time order
        cols = _series_cols([b for _, b in found], heads.pop(sid, []), wanted, lo, hi, step,
                            path, keys[sid])
        if cols is None:
            return
        n = int(cols["ts"][0].size)
        floats = to_floats({k: v for k, v in cols.items() if k in names and k != "ts"})
        floats["ts"] = seconds_of(cols["ts"][0])
        peaks = peaks or ("cpu_peak" in cols and bool(cols["cpu_peak"][1].any()))
        for name in names:
            filled[name][pos : pos + n] = floats[name]
        pos += n
        got_keys.append(keys[sid])
        counts.append(n)

    # chunks stream in key order (CROSS JOIN: the series index leads, no sort of BLOBs)
    chunk_where = where.replace("t1", "c.t1").replace("t0", "c.t0")
    current: int = -1
    blobs: list[tuple[int, bytes]] = []
    heads_left = sorted(heads, key=lambda s: keys[s])
    for sid, t0, blob in conn.execute(
            "SELECT s.id, c.t0, c.data FROM series s CROSS JOIN chunks c ON c.series = s.id"
            f"{chunk_where} ORDER BY s.host, s.container_id", params):
        if sid != current:
            if current >= 0:
                add(current, blobs)
            while heads_left and keys[heads_left[0]] < keys[sid]:
                add(heads_left.pop(0), [])
            if heads_left and heads_left[0] == sid:
                heads_left.pop(0)
            current, blobs = sid, []
        blobs.append((t0, blob))
    if current >= 0:
        add(current, blobs)
    for sid in heads_left:
        add(sid, [])
    data: dict[str, Any] = {}
    for name in names:
        column = filled.pop(name)
        data[name] = column[:pos] if pos == total else column[:pos].copy()
    if "cpu_peak" in data and not peaks:
        del data["cpu_peak"]  # nothing was rolled up: no peaks to give
        numeric = [c for c in numeric if c != "cpu_peak"]
    frame = pd.DataFrame(data, copy=False)
    frame = frame[numeric]
    n_counts = np.array(counts, dtype=np.int64)
    for pos, name in ((1, "container_id"), (0, "host")):
        frame.insert(0, name, pd.Series(_key_column([k[pos] for k in got_keys], n_counts),
                                        index=frame.index))
    return frame, step


def load(
    path: Path | str | None = None,
    *,
    since: float | None = None,
    until: float | None = None,
    columns: Iterable[str] | None = None,
    max_points: int | None = None,
) -> Dataset:
    """Read the store into a :class:`Dataset` (samples and events within the window).

    ``columns``: the numeric sample columns to read (``ts`` and the keys always
    come); the default is every column of :class:`SampleRow`. ``max_points``:
    fold the samples to one resolution with at most that many rows per
    container (:func:`resolution`); the default reads them as stored, except
    that a window holding rollups is read at the coarsest rollup's step.
    """
    import pandas as pd

    numeric = _numeric_columns(columns)
    path = default_db_path() if path is None else Path(path)
    with Store(path, create=False) as store:
        conn = store.connection
        conn.execute("BEGIN")  # one read snapshot for every query below
        try:
            samples, step = _samples(conn, path, since, until, numeric, max_points)
            clauses, params = [], []
            if since is not None:
                clauses.append("e.ts >= ?")
                params.append(key(since))
            if until is not None:
                clauses.append("e.ts <= ?")
                params.append(key(until))
            where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
            events = pd.read_sql_query(
                "SELECT s.host, s.container_id, e.ts, e.action, e.exit_code, "
                f"e.name FROM events e JOIN series s ON s.id = e.series{where} "
                "ORDER BY e.ts, e.rowid",
                conn, params=params)
            containers = pd.read_sql_query(
                f"SELECT {', '.join(CONTAINER_COLUMNS)}, first_seen, last_seen FROM containers "
                "ORDER BY host, name, container_id", conn)
            hosts = pd.read_sql_query(f"SELECT {', '.join(HOST_COLUMNS)} FROM hosts ORDER BY host",
                                      conn)
        finally:
            conn.execute("COMMIT")
    events = events[list(EVENT_COLUMNS)]
    events["ts"] = seconds_of(events["ts"].to_numpy(dtype=np.int64))
    declared = ["cpu_request", "cpu_limit", "memory_request", "memory_limit", "cpuset_cpus"]
    containers[declared] = containers[declared].astype("float64")
    events["exit_code"] = events["exit_code"].astype("float64")
    containers["labels"] = containers["labels"].map(json.loads)
    containers["oom_killed"] = containers["oom_killed"].astype(bool)
    return Dataset(samples=samples, containers=containers, events=events, hosts=hosts, step=step)
