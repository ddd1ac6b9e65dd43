"""The open store: one transaction per round, rows in, and the bookkeeping of the layout.

Durability: WAL journal, ``synchronous=NORMAL`` and one transaction per
collection round, so a collector that is interrupted, killed or crashes
leaves a readable database holding every round it committed. A round's
sealing and rollups (``rightsize.store.chunks``) commit with the round.

One piece: the transaction discipline, the kept rounds of a locked store and
the per-container caches (series ids, head sizes) must agree, and the caches
are dropped whenever a transaction rolls back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from rightsize.errors import InputError, RightsizeError
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow
from rightsize.store import chunks, files, schema, upgrade
from rightsize.store.files import StoreLocked, connect, sqlite_code, store_error
from rightsize.store.rollup import Cols
from rightsize.store.times import key, keys, seconds

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("rightsize.store")

SAMPLE_COLUMNS: tuple[str, ...] = tuple(SampleRow.__annotations__)
CONTAINER_COLUMNS: tuple[str, ...] = tuple(ContainerRow.__annotations__)
EVENT_COLUMNS: tuple[str, ...] = tuple(EventRow.__annotations__)
HOST_COLUMNS: tuple[str, ...] = tuple(HostRow.__annotations__)

_BUSY, _LOCKED, _READONLY, _FULL = 5, 6, 8, 13


def _insert_sql(table: str, columns: tuple[str, ...], verb: str = "INSERT OR IGNORE") -> str:
    return (f"{verb} INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})")


_HEAD_SQL = _insert_sql("head", ("series", "ts", *schema.HEAD_VALUE_COLUMNS))
_EVENT_SQL = _insert_sql("events", ("series", "ts", "action", "exit_code", "name"))
_HOST_SQL = _insert_sql("hosts", (*HOST_COLUMNS, "updated_at"), "INSERT OR REPLACE")
_CONTAINER_SQL = (
    _insert_sql("containers", (*CONTAINER_COLUMNS, "first_seen", "last_seen"), "INSERT")
    + " ON CONFLICT (host, container_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*CONTAINER_COLUMNS, "last_seen")
                if c not in ("host", "container_id"))
)




class Store:
    """An open store. Use as a context manager; writes go through :meth:`write`.

    ``create=False`` (readers) opens a store in a read-only file or folder
    read-only, so it can still be read. A writer (``create=True``) on a store
    it cannot write gets :class:`StoreReadOnly`. ``retention`` sets how long
    each resolution tier is kept (``[store]`` in the config) and is kept in the
    store's ``meta`` table for later writers; without it the kept one applies.
    """

    def __init__(self, path: Path | str, *, create: bool = True,
                 retention: chunks.Retention | None = None) -> None:
        self.path = Path(path)
        self.retention = chunks.Retention()
        self._conn, writable = connect(self.path, create=create)
        self.read_only = not writable
        self._depth = 0
        self._pending: list[dict[str, list[Any]]] = []
        self._dropped_rounds = 0
        self._series: dict[tuple[str, str], int] = {}
        self._head: dict[int, tuple[int, int]] = {}  # series -> (rows, oldest ts key)
        self._sealed: dict[int, int] = {}  # series -> newest chunk t1
        try:
            if writable:
                schema.migrate(self._conn, self.path, upgrade.copy_v2)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if sqlite_code(exc) in (_BUSY, _LOCKED, _READONLY, _FULL):
                raise store_error(exc, self.path, "upgrade") from exc
            raise InputError(f"{self.path}: not a rightsize store (SQLite said: {exc})") from exc
        except BaseException:
            self._conn.close()
            raise
        self._retention(retention)

    def _retention(self, given: chunks.Retention | None) -> None:
        """Keep ``given`` in the store (``[store]`` of the config), else use the kept one."""
        conn = self._conn
        if given is not None and not self.read_only:
            with self.transaction("config"):
                conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 [("retention.raw", repr(given.raw)),
                                  ("retention.minute", repr(given.minute))])
            self.retention = given
            return
        try:
            kept = dict(conn.execute(
                "SELECT key, value FROM meta WHERE key LIKE 'retention.%'").fetchall())
        except sqlite3.OperationalError:  # an empty read-only file
            kept = {}
        if kept:
            self.retention = chunks.Retention(raw=float(kept["retention.raw"]),
                                              minute=float(kept["retention.minute"]))
        if given is not None:
            self.retention = given

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write rounds still kept from a locked store (waiting ``files.LOCK_WAIT``), close."""
        try:
            if self._pending:
                try:
                    self._flush_pending()
                except RightsizeError as exc:
                    rows = sum(len(r["samples"]) for r in self._pending)
                    log.error("%s; %d samples of %d rounds kept in memory are lost",
                              exc, rows, len(self._pending))
        finally:
            self._conn.close()

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    @contextlib.contextmanager
    def transaction(self, doing: str = "write") -> Iterator[None]:
        """One write transaction (nested uses join the outer one).

        SQLite errors become one-line errors: disk full (exit 3, rolled back),
        locked by another writer (exit 3, naming the holder), read-only (exit 2).
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise store_error(exc, self.path, doing) from exc
        self._depth = 1
        try:
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            self._forget()
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise store_error(exc, self.path, doing) from exc
            raise
        finally:
            self._depth = 0

    def _forget(self) -> None:
        """Drop the caches: what a rolled-back transaction wrote is gone."""
        self._series.clear()
        self._head.clear()
        self._sealed.clear()

    def series_id(self, host: str, container_id: str) -> int:
        """The integer key of (host, container_id), created when new (inside a transaction)."""
        key = (host, container_id)
        sid = self._series.get(key)
        if sid is None:
            conn = self._conn
            conn.execute("INSERT OR IGNORE INTO series (host, container_id) VALUES (?, ?)", key)
            (sid,) = conn.execute("SELECT id FROM series WHERE host = ? AND container_id = ?",
                                  key).fetchone()
            self._series[key] = sid
        return int(sid)

    def _sealed_until(self, sid: int) -> int:
        got = self._sealed.get(sid)
        if got is None:
            (t1,) = self._conn.execute("SELECT max(t1) FROM chunks WHERE series = ?",
                                       (sid,)).fetchone()
            got = self._sealed[sid] = -1 if t1 is None else int(t1)
        return got

    def _head_state(self, sid: int) -> tuple[int, int]:
        got = self._head.get(sid)
        if got is None:
            n, oldest = self._conn.execute(
                "SELECT count(*), min(ts) FROM head WHERE series = ?", (sid,)).fetchone()
            got = self._head[sid] = (int(n), -1 if oldest is None else int(oldest))
        return got

    def write(
        self,
        *,
        samples: Iterable[SampleRow] = (),
        containers: Iterable[ContainerRow] = (),
        events: Iterable[EventRow] = (),
        hosts: Iterable[HostRow] = (),
        now: float | None = None,
    ) -> int:
        """Write one round in one transaction; returns the number of new samples.

        Samples and events already stored (same container and time) are
        ignored, so replaying a recording or re-importing a file twice adds
        nothing. Inside :meth:`transaction` the rows join that transaction.
        """
        now = time.time() if now is None else now
        conn = self._conn
        with self.transaction():
            for h in hosts:
                conn.execute(_HOST_SQL, (*(h[c] for c in HOST_COLUMNS), now))  # type: ignore[literal-required]
            for c in containers:
                values = [c[k] for k in CONTAINER_COLUMNS]  # type: ignore[literal-required]
                values[CONTAINER_COLUMNS.index("labels")] = json.dumps(c["labels"], sort_keys=True)
                values[CONTAINER_COLUMNS.index("oom_killed")] = int(c["oom_killed"])
                conn.execute(_CONTAINER_SQL, (*values, now, now))
            added = self._write_samples(samples)
            conn.executemany(_EVENT_SQL, (
                (self.series_id(e["host"], e["container_id"]), key(e["ts"]), e["action"],
                 e["exit_code"], e["name"]) for e in events))
        return added

    def _write_samples(self, samples: Iterable[SampleRow]) -> int:
        by_series: dict[int, list[tuple[Any, ...]]] = {}
        for s in samples:
            sid = self.series_id(s["host"], s["container_id"])
            by_series.setdefault(sid, []).append(
                (sid, key(s["ts"]), *(s[c] for c in schema.HEAD_VALUE_COLUMNS)))  # type: ignore[literal-required]
        conn = self._conn
        added = 0
        for sid, rows in by_series.items():
            if min(r[1] for r in rows) <= self._sealed_until(sid):
                keep = chunks.new_only(conn, sid, np.array([r[1] for r in rows], dtype=np.int64))
                rows = [r for r, k in zip(rows, keep.tolist(), strict=True) if k]
            before = conn.total_changes
            conn.executemany(_HEAD_SQL, rows)
            new = conn.total_changes - before
            added += new
            if not new:
                continue
            count, oldest = self._head_state(sid)
            first = min(r[1] for r in rows)
            oldest = first if oldest < 0 else min(oldest, first)
            count += new
            newest = max(r[1] for r in rows)
            if count >= chunks.SEAL_ROWS or seconds(newest) - seconds(oldest) >= chunks.SEAL_SPAN:
                self._seal(sid)
            else:
                self._head[sid] = (count, oldest)
        return added

    def _seal(self, sid: int) -> None:
        chunks.seal(self._conn, sid)
        chunks.compact(self._conn, sid, self.retention)
        self._head[sid] = (0, -1)
        self._sealed.pop(sid, None)

    def write_frame(
        self, frame: pd.DataFrame | Iterable[tuple[tuple[str, str], Cols]]
    ) -> int:
        """Bulk-write samples (columns ``host``, ``container_id``, ``ts`` and numeric
        sample columns) straight into chunks; returns the new samples.

        Integers stay exact (int64 or object columns of Python ints); NaN/None
        is missing. ``frame`` may also be each container's rows already as chunk
        columns, ``((host, container_id), cols)`` pairs (``ts`` as stored keys),
        taken one at a time. Used by ``rightsize import``.
        """
        import pandas as pd

        series: Iterable[tuple[tuple[str, str], Cols]]
        if isinstance(frame, pd.DataFrame):
            if frame.empty:
                return 0
            whole = _frame_cols(frame)  # every column to numpy once, then sliced per container
            keys = frame[["host", "container_id"]].astype(str)
            groups = keys.groupby(["host", "container_id"], sort=False).indices
            series = ((cast(tuple[str, str], group), chunks.take(whole, np.asarray(idx)))
                      for group, idx in groups.items())
        else:
            series = frame
        added = 0
        with self.transaction():
            for (host, container_id), cols in series:
                sid = self.series_id(host, container_id)
                n = chunks.write_cols(self._conn, sid, cols)
                added += n
                if n:
                    chunks.compact(self._conn, sid, self.retention)
                    self._sealed.pop(sid, None)
        return added

    def write_round(
        self,
        *,
        samples: Iterable[SampleRow] = (),
        containers: Iterable[ContainerRow] = (),
        events: Iterable[EventRow] = (),
        hosts: Iterable[HostRow] = (),
    ) -> int:
        """A collection round: like :meth:`write`, but a locked store does not stop it.

        While another writer holds the lock (waiting :data:`ROUND_LOCK_WAIT`),
        the round's rows are kept in memory and written with the next round
        that gets the lock; at most :data:`MAX_PENDING_ROUNDS` rounds are kept
        (the oldest are dropped, with a warning). Returns the new samples written.
        """
        self._pending.append({"samples": list(samples), "containers": list(containers),
                              "events": list(events), "hosts": list(hosts)})
        try:
            return self._flush_pending(files.ROUND_LOCK_WAIT)
        except StoreLocked as exc:
            if len(self._pending) > files.MAX_PENDING_ROUNDS:
                drop = len(self._pending) - files.MAX_PENDING_ROUNDS
                del self._pending[:drop]
                self._dropped_rounds += drop
                log.warning("dropped the oldest %d kept round(s) (%d so far): more than %d "
                            "rounds waiting for the store", drop, self._dropped_rounds,
                            files.MAX_PENDING_ROUNDS)
            log.warning("%s; keeping %d round(s) in memory and retrying with the next round",
                        exc, len(self._pending))
            return 0

    def _flush_pending(self, wait: float | None = None) -> int:
        """Write every kept round in one transaction (``wait``: busy timeout, seconds)."""
        conn = self._conn
        if wait is not None:
            conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            added = 0
            kept = len(self._pending)
            with self.transaction():
                for rows in self._pending:
                    added += self.write(**rows)  # type: ignore[arg-type]
            if kept > 1:
                log.info("the store is writable again: wrote %d kept rounds", kept)
            self._pending.clear()
            return added
        finally:
            if wait is not None:
                conn.execute(f"PRAGMA busy_timeout = {int(files.LOCK_WAIT * 1000)}")

    def touch_containers(self, host: str, ids: Iterable[str], now: float | None = None) -> None:
        """Mark containers as still seen (``last_seen``) without rewriting them."""
        now = time.time() if now is None else now
        with self.transaction():
            self._conn.executemany(
                "UPDATE containers SET last_seen = ? WHERE host = ? AND container_id = ?",
                ((now, host, i) for i in ids),
            )

    def seal_all(self) -> None:
        """Seal every container's head into chunks and compact (benchmarks, tests)."""
        with self.transaction():
            for (sid,) in self._conn.execute("SELECT DISTINCT series FROM head").fetchall():
                self._seal(int(sid))

    def delete_samples_before(self, ts: float) -> int:
        """Retention: drop samples and events older than ``ts``; returns samples removed."""
        conn = self._conn
        with self.transaction("retention"):
            n = chunks.drop_before(conn, key(ts))
            conn.execute("DELETE FROM events WHERE ts < ?", (key(ts),))
            self._forget()
        return n

    def counts(self) -> dict[str, int]:
        """Rows per table (``samples``: stored readings and rollup rows), for progress and tests."""
        one = self._conn.execute

        def count(sql: str) -> int:
            return int(one(sql).fetchone()[0])

        return {
            "hosts": count("SELECT count(*) FROM hosts"),
            "containers": count("SELECT count(*) FROM containers"),
            "samples": count("SELECT count(*) FROM head")
            + count("SELECT coalesce(sum(n), 0) FROM chunks"),
            "events": count("SELECT count(*) FROM events"),
        }


def _frame_cols(part: pd.DataFrame) -> Cols:
    """A container's rows of an import frame as chunk columns."""
    ts = part["ts"].to_numpy(dtype=np.float64)
    cols: Cols = {"ts": (keys(ts), np.ones(ts.size, dtype=bool))}
    for name in schema.HEAD_VALUE_COLUMNS:
        if name not in part.columns:
            continue
        column = part[name]
        if column.dtype == object:
            cols[name] = chunks.int_or_float(
                [None if v is None or v != v else v for v in column.tolist()])
        elif column.dtype.kind in "iu" or str(column.dtype) in ("Int64", "Int32", "UInt32"):
            present = column.notna().to_numpy(dtype=bool)
            values = column.to_numpy(dtype=np.int64, na_value=0)
            cols[name] = (values, present)
        else:
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            cols[name] = (values, ~np.isnan(values))
    return cols
