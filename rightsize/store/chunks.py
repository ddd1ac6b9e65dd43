"""Samples in the v3 layout: the row-wise head, sealed chunks, compaction and tiers.

Every function here runs inside the caller's write transaction, so a round,
a seal and a rollup commit together or not at all.

- New readings go to ``head`` (one indexed row each: a collection round stays
  one cheap transaction). When a container's head holds :data:`SEAL_ROWS`
  rows, or spans :data:`SEAL_SPAN` seconds, they are sealed into one chunk.
- Bulk writers (``import``, the migration) write chunks directly.
- :func:`compact` then keeps each container's chunk list short: small raw
  chunks are merged into chunks of up to :data:`BIG_ROWS` rows, raw samples
  older than the container's newest minus ``Retention.raw`` are rolled up to
  1-minute buckets, and 1-minute ones older than ``Retention.minute`` to
  5-minute buckets (``rightsize.store.rollup``). Ages are measured from each
  container's newest sample, so importing old history does not roll it up at once.
- A reading whose time is already stored (in the head, a raw chunk, or inside
  a rollup's span) is ignored: replaying or re-importing adds nothing.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rightsize.store import codec
from rightsize.store.rollup import TIERS, Cols, rollup, sort_unique
from rightsize.store.schema import HEAD_VALUE_COLUMNS
from rightsize.store.times import key, seconds

__all__ = [
    "BIG_ROWS",
    "SEAL_ROWS",
    "Retention",
    "compact",
    "head_cols",
    "new_only",
    "seal",
    "write_cols",
]

#: head rows of one container that are sealed into a chunk (the environment variable
#: lets the engine tests seal within seconds)
SEAL_ROWS = int(os.environ.get("RIGHTSIZE_STORE_SEAL_ROWS", "256"))
#: ... or the span of its head rows (seconds) that is
SEAL_SPAN = 6 * 3600.0
#: raw chunks are merged up to this many rows
BIG_ROWS = 4096
#: small raw chunks of a container that trigger a merge
MERGE_AT = 8

STORED_COLUMNS: tuple[str, ...] = ("ts", *HEAD_VALUE_COLUMNS)


@dataclass(frozen=True)
class Retention:
    """How long each tier is kept, in seconds before the container's newest sample.

    ``raw``: raw readings; ``minute``: 1-minute buckets (older ones become
    5-minute buckets, kept until ``rightsize run --keep-samples`` removes them).
    """

    raw: float = 48 * 3600.0
    minute: float = 14 * 86400.0

    def __post_init__(self) -> None:
        if not 0 < self.raw <= self.minute:
            raise ValueError("retention: expected 0 < raw <= minute")


def int_or_float(values: Sequence[object]) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """Column values (None = missing) as exact int64 when all are Python ints, else float64."""
    present = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    if all(type(v) is int for v in values if v is not None):
        return np.array([0 if v is None else v for v in values], dtype=np.int64), present
    floats = np.array([np.nan if v is None else float(v) for v in values],  # type: ignore[arg-type]
                      dtype=np.float64)
    return floats, present & ~np.isnan(floats)


def head_cols(rows: Sequence[Sequence[object]]) -> Cols:
    """SQL rows (ts key, *values) of the head as :data:`Cols` (integers stay exact)."""
    cols: Cols = {}
    for i, name in enumerate(STORED_COLUMNS):
        cols[name] = int_or_float([r[i] for r in rows])
    return cols


def take(cols: Cols, idx: npt.NDArray[np.int64] | slice | npt.NDArray[np.bool_]) -> Cols:
    """The rows ``idx`` of every column."""
    return {k: (v[idx], p[idx]) for k, (v, p) in cols.items()}


def concat_cols(parts: Sequence[Cols], names: Sequence[str] | None = None) -> Cols:
    """``parts`` one after the other; ``names`` (default: every column of any part), a
    column a part lacks being missing there. Integer columns stay int64 when all are."""
    if names is None:
        names = []
        for part in parts:
            names += [k for k in part if k not in names]
    if len(parts) == 1 and all(n in parts[0] for n in names):
        return {n: parts[0][n] for n in names}
    out: Cols = {}
    for name in names:
        values, present = [], []
        for part in parts:
            n = part["ts"][0].size
            v, p = part.get(name, (np.zeros(n), np.zeros(n, dtype=bool)))
            values.append(v)
            present.append(p)
        kinds = {v.dtype.kind for v in values if v.size}
        dtype = np.int64 if kinds <= {"i"} and kinds else np.float64
        if dtype == np.float64:
            values = [v.astype(np.float64) for v in values]
        out[name] = (np.concatenate(values).astype(dtype, copy=False), np.concatenate(present))
    return out


def _encode(cols: Cols) -> bytes:
    return codec.encode({k: v for k, (v, _) in cols.items()}, {k: p for k, (_, p) in cols.items()})


def _insert(conn: sqlite3.Connection, sid: int, tier: int, cols: Cols) -> None:
    ts = cols["ts"][0]
    for start in range(0, ts.size, BIG_ROWS):
        part = take(cols, slice(start, start + BIG_ROWS))
        t = part["ts"][0]
        conn.execute("INSERT INTO chunks (series, tier, t0, t1, n, data) VALUES (?, ?, ?, ?, ?, ?)",
                     (sid, tier, int(t[0]), int(t[-1]), int(t.size), _encode(part)))


def decode_cols(blob: bytes, wanted: Sequence[str] | None = None) -> Cols:
    """A chunk's columns (``wanted``, default all) as :data:`Cols`."""
    _, cols = codec.decode_exact(blob, wanted)
    out: Cols = {}
    for name, (values, present) in cols.items():
        out[name] = (values, np.ones(values.size, dtype=bool) if present is None else present)
    return out


def new_only(
    conn: sqlite3.Connection, sid: int, ts: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """True for the times (keys) not stored yet in ``sid``'s chunks (the head checks itself)."""
    keep = np.ones(ts.size, dtype=bool)
    if ts.size == 0:
        return keep
    lo, hi = int(ts.min()), int(ts.max())
    widest = TIERS[-1].step
    rows = conn.execute(
        "SELECT tier, t0, t1, data FROM chunks WHERE series = ? AND t1 >= ? AND t0 <= ?",
        (sid, lo, key(seconds(hi) + widest)),
    ).fetchall()
    for tier, t0, t1, data in rows:
        if tier == 0:
            if hi < t0 or lo > t1:
                continue
            stored = decode_cols(data)["ts"][0]
            keep &= ~np.isin(ts, stored)
        else:  # a rollup covers its first bucket's start to its last reading
            step = TIERS[tier].step
            start = key(np.floor(seconds(t0) / step) * step)
            keep &= ~((ts >= start) & (ts <= t1))
    return keep


def write_cols(conn: sqlite3.Connection, sid: int, cols: Cols) -> int:
    """Append readings straight to chunks (bulk writers); returns the new ones."""
    cols = sort_unique(cols)
    ts = cols["ts"][0]
    if ts.size == 0:
        return 0
    keep = new_only(conn, sid, ts)
    head = conn.execute("SELECT ts FROM head WHERE series = ? AND ts BETWEEN ? AND ?",
                        (sid, int(ts[0]), int(ts[-1]))).fetchall()
    if head:
        keep &= ~np.isin(ts, np.array([t for (t,) in head], dtype=np.int64))
    if not keep.all():
        cols = take(cols, keep)
    n = int(cols["ts"][0].size)
    if n:
        _insert(conn, sid, 0, cols)
    return n


def seal(conn: sqlite3.Connection, sid: int) -> int:
    """Move ``sid``'s head rows into a raw chunk; returns the rows moved."""
    rows = conn.execute(
        f"SELECT ts, {', '.join(HEAD_VALUE_COLUMNS)} FROM head WHERE series = ? ORDER BY ts",
        (sid,),
    ).fetchall()
    if not rows:
        return 0
    _insert(conn, sid, 0, head_cols(rows))
    conn.execute("DELETE FROM head WHERE series = ?", (sid,))
    return len(rows)


def _chunk_list(conn: sqlite3.Connection, sid: int) -> list[tuple[int, int, int, int, int]]:
    """(rowid, tier, t0, t1, n) of ``sid``'s chunks, oldest first within a tier."""
    return [tuple(r) for r in conn.execute(
        "SELECT rowid, tier, t0, t1, n FROM chunks WHERE series = ? ORDER BY tier, t0", (sid,))]


def _load(conn: sqlite3.Connection, rowids: Iterable[int]) -> Cols:
    ids = list(rowids)
    parts = [decode_cols(blob) for (blob,) in conn.execute(
        f"SELECT data FROM chunks WHERE rowid IN ({', '.join('?' for _ in ids)}) ORDER BY t0", ids)]
    return sort_unique(concat_cols(parts))


def _delete(conn: sqlite3.Connection, rowids: Iterable[int]) -> None:
    conn.executemany("DELETE FROM chunks WHERE rowid = ?", ((r,) for r in rowids))


def compact(conn: sqlite3.Connection, sid: int, retention: Retention) -> None:
    """Merge ``sid``'s small raw chunks and roll its old samples into coarser tiers."""
    chunks = _chunk_list(conn, sid)
    if not chunks:
        return
    newest = max(t1 for _, _, _, t1, _ in chunks)
    (head_max,) = conn.execute("SELECT max(ts) FROM head WHERE series = ?", (sid,)).fetchone()
    if head_max is not None:
        newest = max(newest, int(head_max))
    keep_for = {0: retention.raw, 1: retention.minute}
    for tier in (0, 1):
        target = TIERS[tier + 1]
        step = target.step
        cut = key(np.floor((seconds(newest) - keep_for[tier]) / step) * step)
        old = [c for c in chunks if c[1] == tier and c[2] < cut]
        if not old:
            continue
        cols = _load(conn, (c[0] for c in old))
        ts = cols["ts"][0]
        early = ts < cut
        _delete(conn, (c[0] for c in old))
        if not early.all():  # the part of a chunk that is still young stays
            _insert(conn, sid, tier, take(cols, ~early))
        rolled = rollup(take(cols, early), target.step)
        _insert(conn, sid, target.level, rolled)
        chunks = _chunk_list(conn, sid)
    for tier in (0, 1, 2):
        small = [c for c in chunks if c[1] == tier and c[4] < BIG_ROWS]
        if len(small) >= MERGE_AT:
            cols = _load(conn, (c[0] for c in small))
            _delete(conn, (c[0] for c in small))
            _insert(conn, sid, tier, cols)


def drop_before(conn: sqlite3.Connection, ts_key: int) -> int:
    """Retention: remove samples older than the key ``ts_key``; returns the samples removed."""
    removed = 0
    (n,) = conn.execute("SELECT count(*) FROM head WHERE ts < ?", (ts_key,)).fetchone()
    conn.execute("DELETE FROM head WHERE ts < ?", (ts_key,))
    removed += int(n)
    (n,) = conn.execute("SELECT coalesce(sum(n), 0) FROM chunks WHERE t1 < ?", (ts_key,)).fetchone()
    conn.execute("DELETE FROM chunks WHERE t1 < ?", (ts_key,))
    removed += int(n)
    straddling = conn.execute(
        "SELECT rowid, series, tier, data FROM chunks WHERE t0 < ? AND t1 >= ?", (ts_key, ts_key)
    ).fetchall()
    for rowid, sid, tier, data in straddling:
        cols = decode_cols(data)
        keep = cols["ts"][0] >= ts_key
        removed += int((~keep).sum())
        conn.execute("DELETE FROM chunks WHERE rowid = ?", (rowid,))
        _insert(conn, sid, tier, take(cols, keep))
    return removed
