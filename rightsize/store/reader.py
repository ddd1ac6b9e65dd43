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
from rightsize.heap import populate_ahead
from rightsize.store.bulk import BulkError, decode_many
from rightsize.store.chunks import concat_cols, head_cols, take
from rightsize.store.extent import most_rows, resolution, window
from rightsize.store.files import default_db_path
from rightsize.store.rollup import Cols, rollup, sort_unique
from rightsize.store.schema import HEAD_VALUE_COLUMNS
from rightsize.store.times import key, seconds_of
from rightsize.store.writer import CONTAINER_COLUMNS, EVENT_COLUMNS, HOST_COLUMNS, Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NUMERIC_SAMPLE_COLUMNS", "Dataset", "load", "resolution"]

#: the numeric sample columns, in table order (``host`` and ``container_id`` are the keys)
NUMERIC_SAMPLE_COLUMNS: tuple[str, ...] = ("ts", *HEAD_VALUE_COLUMNS)
#: asked for by name only: the highest CPU rate inside a rollup bucket (NaN for raw rows)
EXTRA_COLUMNS: tuple[str, ...] = ("cpu_peak",)


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


def _key_column(values: list[str], counts: npt.NDArray[np.int64]) -> pd.Categorical:
    """``values[i]`` repeated ``counts[i]`` times, as a categorical (codes, not strings)."""
    import pandas as pd

    categories = sorted(set(values))
    index = {v: i for i, v in enumerate(categories)}
    codes = np.repeat(np.array([index[v] for v in values], dtype=np.int32), counts)
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))


def _damaged(path: Path, key: tuple[str, str], exc: Exception) -> InputError:
    return InputError(f"{path}: a damaged sample chunk of {key[1]} on {key[0]} ({exc}); "
                      "the store's other data is intact: `rightsize export` what "
                      "can be read, or delete that container's chunks")


def _series_cols(parts: list[Cols], head: list[tuple[Any, ...]], wanted: list[str],
                 lo: int | None, hi: int | None, step: int) -> Cols | None:
    """One container's rows the slow way: joined with its head, sorted, cut, folded."""
    if head:
        parts = [*parts, head_cols(head)]
    if not parts:
        return None
    cols = sort_unique(concat_cols(parts, wanted))
    ts = cols["ts"][0]
    if lo is not None or hi is not None:
        inside = _inside(ts, lo, hi)
        if not inside.all():
            cols = take(cols, inside)
    if cols["ts"][0].size == 0:
        return None
    if step and not _one_per_bucket(cols["ts"][0], step):
        cols = rollup(cols, step)
    return cols


def _inside(ts: npt.NDArray[np.int64], lo: int | None, hi: int | None) -> npt.NDArray[np.bool_]:
    inside = np.ones(ts.size, dtype=bool)
    if lo is not None:
        inside &= ts >= lo
    if hi is not None:
        inside &= ts <= hi
    return inside


def _one_per_bucket(ts: npt.NDArray[np.int64], step: int) -> bool:
    """True when no two readings share a ``step`` bucket (folding would change nothing)."""
    bucket = np.floor(seconds_of(ts) / step)
    return bool((bucket[1:] != bucket[:-1]).all())


#: chunk rows decoded together (bounds the decoder's scratch arrays)
BATCH_ROWS = 1 << 18

Batch = list[tuple[int, list[bytes]]]  # (series, its chunks oldest first)


class _Reader:
    """Decodes batches of containers and lays their rows out in key order."""

    def __init__(self, path: Path, keys: dict[int, tuple[str, str]],
                 heads: dict[int, list[tuple[Any, ...]]], names: list[str], wanted: list[str],
                 lo: int | None, hi: int | None, step: int, total: int) -> None:
        self.path, self.keys, self.heads = path, keys, heads
        self.names, self.wanted = names, wanted
        self.lo, self.hi, self.step = lo, hi, step
        # one preallocated array per column, filled batch by batch (no second copy), sized
        # for the rows the read can give (``total``: :func:`~rightsize.store.extent.most_rows`)
        self.filled: dict[str, npt.NDArray[np.float64]] = {n: np.empty(total) for n in names}
        if lo is None and hi is None:
            # every chunk is read whole, so the bound is tight: map the pages on the other
            # core ahead of the writes (a window counts the chunks it cuts in full, and
            # mapping what it never fills would cost memory)
            populate_ahead(list(self.filled.values()))
        self.total = total
        self.got_keys: list[tuple[str, str]] = []
        self.counts: list[int] = []
        self.peaks = False
        self.pos = 0

    def _emit(self, cols: Cols, sids: list[int], counts: npt.NDArray[np.int64]) -> None:
        n = int(cols["ts"][0].size)
        if n == 0:
            return
        if self.pos + n > self.total:  # more than the bound said: grow (not expected)
            self.total = max(self.pos + n, self.total + self.total // 2)
            for name, column in self.filled.items():
                grown = np.empty(self.total)
                grown[: self.pos] = column[: self.pos]
                self.filled[name] = grown
        self.peaks = self.peaks or ("cpu_peak" in cols and bool(cols["cpu_peak"][1].any()))
        for name in self.names:  # straight into place: no float copy of the batch
            out = self.filled[name][self.pos : self.pos + n]
            values, present = cols[name]
            if name == "ts":
                out[:] = values.view(np.float64)  # the keys are the seconds' bits
                continue
            if not present.any():  # missing in the whole batch (a column nobody reports)
                out.fill(np.nan)
                continue
            out[:] = values
            if not present.all():
                out[~present] = np.nan
        self.pos += n
        for sid, count in zip(sids, counts.tolist(), strict=True):
            if count:
                self.got_keys.append(self.keys[sid])
                self.counts.append(count)

    def batch(self, batch: Batch) -> None:
        """Decode ``batch`` at once; containers that need more (a head to join, rows to
        sort, buckets to fold) take the one-container path for their rows."""
        blobs = [b for _, chunks in batch for b in chunks]
        owner = [sid for sid, chunks in batch for _ in chunks]
        try:
            rows, cols = decode_many(blobs, self.wanted)
        except BulkError as exc:
            raise _damaged(self.path, self.keys[owner[exc.index]], exc) from exc
        per = np.array([len(chunks) for _, chunks in batch], dtype=np.int64)
        of_blob = np.repeat(np.arange(len(batch)), per)
        counts = np.bincount(of_blob, weights=rows, minlength=len(batch)).astype(np.int64)
        ts = cols["ts"][0]
        series = np.repeat(np.arange(len(batch)), counts)
        same = series[1:] == series[:-1]
        special = np.array([sid in self.heads for sid, _ in batch], dtype=bool)
        special[series[1:][same & (ts[1:] <= ts[:-1])]] = True  # unsorted or repeated
        keep = _inside(ts, self.lo, self.hi) & ~special[series]
        if self.step:  # kept rows sharing a bucket: that container is folded
            kept = np.flatnonzero(keep)
            bucket = np.floor(seconds_of(ts[kept]) / self.step)
            clash = (series[kept][1:] == series[kept][:-1]) & (bucket[1:] == bucket[:-1])
            special[series[kept][1:][clash]] = True
            keep &= ~special[series]
        starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        kept_counts = np.bincount(series[keep], minlength=len(batch)).astype(np.int64)
        if not special.any():
            self._emit(cols if keep.all() else take(cols, keep), [sid for sid, _ in batch],
                       kept_counts)
            return
        # runs of plain containers in one piece, the others one by one, in key order
        i = 0
        while i < len(batch):
            if special[i]:
                sid = batch[i][0]
                part = take(cols, slice(int(starts[i]), int(starts[i + 1])))
                one = _series_cols([part] if counts[i] else [], self.heads.pop(sid, []),
                                   self.wanted, self.lo, self.hi, self.step)
                if one is not None:
                    self._emit(one, [sid], np.array([one["ts"][0].size], dtype=np.int64))
                i += 1
                continue
            j = i
            while j < len(batch) and not special[j]:
                j += 1
            lo, hi = int(starts[i]), int(starts[j])
            part = take(cols, slice(lo, hi))
            self._emit(part if keep[lo:hi].all() else take(part, keep[lo:hi]),
                       [sid for sid, _ in batch[i:j]], kept_counts[i:j])
            i = j

    def columns(self) -> dict[str, npt.NDArray[np.float64]]:
        data: dict[str, npt.NDArray[np.float64]] = {}
        for name in self.names:
            column = self.filled.pop(name)
            # the bound is tight, so the unused tail is small; far from it (a window that
            # cuts into chunks), a copy lets the rest go
            data[name] = column[: self.pos] if 10 * self.pos >= 9 * self.total \
                else column[: self.pos].copy()
        return data


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
    where, params = window(lo, hi)
    hwhere, hparams = window(lo, hi, "ts", "ts")
    heads: dict[int, list[tuple[Any, ...]]] = {}
    for row in conn.execute(f"SELECT series, ts, {', '.join(HEAD_VALUE_COLUMNS)} FROM head"
                            f"{hwhere} ORDER BY series, ts", hparams):
        heads.setdefault(int(row[0]), []).append(row[1:])
    total = most_rows(conn, where, params, step) + sum(len(rows) for rows in heads.values())
    reader = _Reader(path, keys, heads, names, wanted, lo, hi, step, total)

    # chunks stream in key order (CROSS JOIN: the series index leads, no sort of BLOBs);
    # containers with only head rows slot in at their key
    chunk_where = where.replace("t1", "c.t1").replace("t0", "c.t0")
    heads_left = sorted(heads, key=lambda s: keys[s])
    batch: Batch = []
    found: list[tuple[int, bytes]] = []
    current, rows = -1, 0

    def close() -> None:
        if current >= 0:
            found.sort(key=lambda c: c[0])  # oldest first, across tiers
            batch.append((current, [b for _, b in found]))

    for sid, t0, n, blob in conn.execute(
            "SELECT s.id, c.t0, c.n, c.data FROM series s CROSS JOIN chunks c ON c.series = s.id"
            f"{chunk_where} ORDER BY s.host, s.container_id", params):
        if sid != current:
            close()
            if rows >= BATCH_ROWS:
                reader.batch(batch)
                batch, rows = [], 0
            while heads_left and keys[heads_left[0]] < keys[sid]:
                batch.append((heads_left.pop(0), []))
            if heads_left and heads_left[0] == sid:
                heads_left.pop(0)
            current, found = sid, []
        found.append((t0, blob))
        rows += int(n)
    close()
    batch += [(sid, []) for sid in heads_left]
    if batch:
        reader.batch(batch)
    data: dict[str, Any] = dict(reader.columns())
    if "cpu_peak" in data and not reader.peaks:
        del data["cpu_peak"]  # nothing was rolled up: no peaks to give
        numeric = [c for c in numeric if c != "cpu_peak"]
    frame = pd.DataFrame(data, copy=False)
    frame = frame[numeric]
    n_counts = np.array(reader.counts, dtype=np.int64)
    for at, name in ((1, "container_id"), (0, "host")):
        frame.insert(0, name, pd.Series(_key_column([k[at] for k in reader.got_keys], n_counts),
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
