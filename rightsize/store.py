"""The SQLite store: schema and migrations, one transaction per round, DataFrames out.

The store is the only state rightsize keeps. It is written by the collector
(live or replayed) and by ``rightsize import``, and read back as pandas
DataFrames by the analysis and by notebooks (:func:`load`).

Durability: WAL journal, ``synchronous=NORMAL`` and one transaction per
collection round, so a collector that is interrupted, killed or crashes
leaves a readable database holding every round it committed.

pandas is imported only inside :func:`load`, so the collector starts fast.

One piece: schema, migrations, the read-only check, writers and :func:`load`
share one connection discipline (WAL, locks, read-only fallbacks).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rightsize.errors import InputError, RightsizeError, RuntimeFailure, UsageError
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("rightsize.store")

SCHEMA_VERSION = 2
DEFAULT_DB = Path("data") / "rightsize.db"

SAMPLE_COLUMNS: tuple[str, ...] = tuple(SampleRow.__annotations__)
CONTAINER_COLUMNS: tuple[str, ...] = tuple(ContainerRow.__annotations__)
EVENT_COLUMNS: tuple[str, ...] = tuple(EventRow.__annotations__)
HOST_COLUMNS: tuple[str, ...] = tuple(HostRow.__annotations__)

_SCHEMA_V1 = """
CREATE TABLE hosts (
    host TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    ncpu INTEGER NOT NULL,
    mem_total INTEGER NOT NULL,
    engine_version TEXT NOT NULL,
    api_version TEXT NOT NULL,
    cgroup_version TEXT NOT NULL,
    os_type TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE containers (
    host TEXT NOT NULL,
    container_id TEXT NOT NULL,
    name TEXT NOT NULL,
    image TEXT NOT NULL,
    labels TEXT NOT NULL,
    workload TEXT,
    cpu_request REAL,
    cpu_limit REAL,
    memory_request INTEGER,
    memory_limit INTEGER,
    cpuset_cpus INTEGER,
    restart_count INTEGER NOT NULL,
    oom_killed INTEGER NOT NULL,
    started_at REAL,
    os_type TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (host, container_id)
);
CREATE TABLE samples (
    host TEXT NOT NULL,
    container_id TEXT NOT NULL,
    ts REAL NOT NULL,
    cpu_total_ns INTEGER,
    cpu_cores REAL,
    system_cpu_ns INTEGER,
    online_cpus INTEGER,
    periods INTEGER,
    throttled_periods INTEGER,
    throttled_ns INTEGER,
    mem_usage INTEGER,
    mem_working_set INTEGER,
    mem_rss INTEGER,
    mem_limit INTEGER,
    mem_failcnt INTEGER,
    pids INTEGER,
    PRIMARY KEY (host, container_id, ts)
) WITHOUT ROWID;
CREATE INDEX samples_ts ON samples (ts);
CREATE TABLE events (
    host TEXT NOT NULL,
    container_id TEXT NOT NULL,
    ts REAL NOT NULL,
    action TEXT NOT NULL,
    exit_code INTEGER,
    name TEXT NOT NULL,
    UNIQUE (host, container_id, ts, action)
);
CREATE INDEX events_container_ts ON events (container_id, ts);
"""

# v2: the kernel's oom_kill counter of the container's memory cgroup, per sample
_SCHEMA_V2 = """
ALTER TABLE samples ADD COLUMN oom_kills_total INTEGER;
"""

_MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2}


def default_db_path(env: dict[str, str] | None = None) -> Path:
    """``RIGHTSIZE_DB`` if set, else ``data/rightsize.db`` under the working directory."""
    env = dict(os.environ) if env is None else env
    return Path(env["RIGHTSIZE_DB"]) if env.get("RIGHTSIZE_DB") else DEFAULT_DB


_TABLES = ("hosts", "containers", "samples", "events")
_EXPECTED = (
    f"a rightsize store (SQLite, user_version 1 to {SCHEMA_VERSION}, tables "
    + ", ".join(_TABLES)
    + ")"
)
#: seconds a writer waits for another writer's lock (``rightsize import``, retention)
LOCK_WAIT = 10.0
#: seconds a collection round waits before keeping its rows for the next round
ROUND_LOCK_WAIT = 1.0
#: collection rounds kept in memory while the store stays locked (then the oldest go)
MAX_PENDING_ROUNDS = 360

# SQLite primary result codes (sqlite3.Error.sqlite_errorcode & 0xff)
_BUSY, _LOCKED, _READONLY, _FULL, _CANTOPEN = 5, 6, 8, 13, 14


class StoreLocked(RuntimeFailure):
    """Another connection holds the store's write lock (exit 3)."""


class StoreReadOnly(UsageError):
    """A writing command on a store that cannot be written (exit 2)."""


def _code(exc: BaseException) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def lock_holders(path: Path) -> list[str]:
    """Other processes that have the store open (best effort, from ``/proc/*/fd``)."""
    real = os.path.realpath(path)
    names = {real, real + "-wal", real + "-shm", real + "-journal"}
    found: list[str] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = list((entry / "fd").iterdir())
            if not any(os.readlink(fd) in names for fd in fds):
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode("utf-8", "replace") for a in argv if a]
        found.append(f"pid {entry.name} ({_command(words)})")
    return found


def _command(argv: list[str]) -> str:
    """``rightsize collect`` for a rightsize process, else its program name."""
    for i, word in enumerate(argv):
        base = os.path.basename(word)
        if base == "rightsize" or (base == "-m" and argv[i + 1 : i + 2] == ["rightsize"]):
            rest = [a for a in argv[i + 1 :] if not a.startswith("-") and a != "rightsize"]
            return "rightsize " + (rest[0] if rest else "")
    return os.path.basename(argv[0]) if argv else "?"


def store_error(exc: sqlite3.Error, path: Path, doing: str = "write") -> RightsizeError:
    """One-line error for a failed SQLite call on the store at ``path``."""
    code, text = _code(exc), str(exc)
    if code == _FULL or "disk is full" in text:
        return RuntimeFailure(
            f"disk full: the {doing} to the store {path} was rolled back (nothing was kept); "
            "free some space and run it again"
        )
    if code in (_BUSY, _LOCKED) or "database is locked" in text:
        holders = lock_holders(path)
        who = f" (open in {', '.join(holders)})" if holders else ""
        return StoreLocked(
            f"the store {path} is locked by another writer{who}; wait for it to finish "
            "or stop it, or use another --db"
        )
    if code == _READONLY or "readonly database" in text:
        return StoreReadOnly(_read_only_text(path, "it cannot be written"))
    return RuntimeFailure(f"the store {path}: SQLite said: {text}")


def _read_only_text(path: Path, why: str) -> str:
    return (
        f"the store {path} is read-only ({why}); reading commands (analyze, report, "
        "export) work, writing ones need write access to the file and its folder"
    )


def _read_only_reason(path: Path) -> str | None:
    """Why ``path`` (an existing store) cannot be written, or None."""
    folder = path.resolve().parent
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "on a read-only file system"
    except OSError:
        pass
    if not os.access(path, os.W_OK):
        return f"file mode {stat.S_IMODE(path.stat().st_mode):04o}"
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable (SQLite keeps its -wal file there)"
    return None


def _uri(path: Path, **params: object) -> str:
    from urllib.parse import quote

    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path.resolve()))}?{query}"


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; ``immutable=1`` when SQLite cannot share the WAL index."""
    conn = sqlite3.connect(_uri(path, mode="ro"), uri=True, timeout=LOCK_WAIT,
                           isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if _code(exc) not in (_CANTOPEN, _READONLY) and "unable to open" not in str(exc):
            raise
    # A WAL store in a folder we cannot write: no -shm can be created. Read the
    # file as it is (rows still in an uncheckpointed -wal are not seen).
    if Path(str(path) + "-wal").exists() and os.path.getsize(str(path) + "-wal") > 0:
        log.warning("%s: read-only and its -wal file is not checkpointed; its newest rows "
                    "may not be seen", path)
    conn = sqlite3.connect(_uri(path, mode="ro", immutable=1), uri=True, isolation_level=None)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def _probe(path: Path) -> tuple[sqlite3.Connection, int]:
    """Check, read-only, that ``path`` is a rightsize store: (read-only connection, version).

    Nothing is written and no pragma is set before this passes, so another
    application's file is left byte-identical.
    """
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise StoreReadOnly(f"cannot read the store {path}: {exc.strerror or exc}") from exc
    if not header.startswith(b"SQLite format 3\x00") and header:
        raise InputError(f"{path}: not a rightsize store (not an SQLite file); "
                         f"expected {_EXPECTED}")
    try:
        if header and header[18] == 2 and not Path(f"{path}-wal").exists():
            # a WAL file closed cleanly: read it as it is, without creating -wal/-shm
            conn = sqlite3.connect(_uri(path, mode="ro", immutable=1), uri=True,
                                   isolation_level=None)
        else:
            conn = _open_read_only(path)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a rightsize store (SQLite said: {exc}); "
                         f"expected {_EXPECTED}") from exc
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise InputError(f"{path}: not a rightsize store (SQLite said: {exc}); "
                         f"expected {_EXPECTED}") from exc
    problem = None
    if version > SCHEMA_VERSION:
        problem = (f"{path}: store schema version {version} is newer than this rightsize "
                   f"understands ({SCHEMA_VERSION}); upgrade rightsize")
    elif version == 0 and objects:
        problem = (f"{path}: an SQLite file that is not a rightsize store (user_version 0 "
                   f"and tables {', '.join(sorted(tables)) or 'none'}); expected {_EXPECTED}")
    elif version > 0:
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            problem = (f"{path}: not a rightsize store: user_version {version} but no "
                       f"{', '.join(missing)} table{'s' if len(missing) > 1 else ''}; "
                       f"expected {_EXPECTED}")
    if problem is not None:
        conn.close()
        raise InputError(problem)
    return conn, int(version)


def _connect(path: Path, *, create: bool) -> tuple[sqlite3.Connection, bool]:
    """(connection, writable) to a checked store; read-only for readers when it can be."""
    if not path.exists():
        if not create:
            raise RuntimeFailure(
                f"no store at {path}: run `rightsize collect` or `rightsize import` first, "
                "or pass --db"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreReadOnly(
                f"cannot create the store {path}: {exc.strerror or exc}"
            ) from exc
        if not os.access(path.parent, os.W_OK):
            raise StoreReadOnly(f"cannot create the store {path}: its folder is not writable")
    else:
        ro, version = _probe(path)
        ro.close()
        reason = _read_only_reason(path)
        if reason is not None:
            if create:
                raise StoreReadOnly(_read_only_text(path, reason))
            if version == SCHEMA_VERSION:
                return _open_read_only(path), False
            if version == 0:
                raise RuntimeFailure(f"{path}: an empty store (and read-only); collect or "
                                     "import some data first")
            raise StoreReadOnly(_read_only_text(
                path, f"{reason}; it needs an upgrade to schema {SCHEMA_VERSION} first"))
    try:
        conn = sqlite3.connect(path, timeout=LOCK_WAIT, isolation_level=None)
    except sqlite3.Error as exc:
        raise store_error(exc, path, "open") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if _code(exc) in (_BUSY, _LOCKED, _READONLY, _FULL):
            raise store_error(exc, path, "open") from exc
        raise InputError(f"{path}: not a rightsize store (SQLite said: {exc})") from exc
    return conn, True


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise InputError(
            f"{path}: store schema version {version} is newer than this rightsize "
            f"understands ({SCHEMA_VERSION}); upgrade rightsize"
        )
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise InputError(f"{path}: an SQLite file that is not a rightsize store")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _insert_sql(table: str, columns: Sequence[str], verb: str = "INSERT OR IGNORE") -> str:
    return (
        f"{verb} INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )


_SAMPLE_SQL = _insert_sql("samples", SAMPLE_COLUMNS)
_EVENT_SQL = _insert_sql("events", EVENT_COLUMNS)
_HOST_SQL = _insert_sql("hosts", (*HOST_COLUMNS, "updated_at"), "INSERT OR REPLACE")
_CONTAINER_SQL = (
    _insert_sql("containers", (*CONTAINER_COLUMNS, "first_seen", "last_seen"), "INSERT")
    + " ON CONFLICT (host, container_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in (*CONTAINER_COLUMNS, "last_seen")
        if c not in ("host", "container_id")
    )
)


class Store:
    """An open store. Use as a context manager; writes go through :meth:`write`.

    ``create=False`` (readers) opens a store in a read-only file or folder
    read-only, so it can still be read. A writer (``create=True``)
    on a store it cannot write gets :class:`StoreReadOnly`.
    """

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self._conn, writable = _connect(self.path, create=create)
        self.read_only = not writable
        self._depth = 0
        self._pending: list[dict[str, list[Any]]] = []
        self._dropped_rounds = 0
        try:
            if writable:
                _migrate(self._conn, self.path)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if _code(exc) in (_BUSY, _LOCKED, _READONLY, _FULL):
                raise store_error(exc, self.path, "upgrade") from exc
            raise InputError(f"{self.path}: not a rightsize store (SQLite said: {exc})") from exc
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write rounds still kept from a locked store (waiting :data:`LOCK_WAIT`), close."""
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
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise store_error(exc, self.path, doing) from exc
            raise
        finally:
            self._depth = 0

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

        Samples and events already stored (same key) are ignored, so replaying
        a recording or re-importing a file twice adds nothing. Inside
        :meth:`transaction` the rows join that transaction.
        """
        now = time.time() if now is None else now
        conn = self._conn
        with self.transaction():
            for h in hosts:
                conn.execute(_HOST_SQL, (*(h[c] for c in HOST_COLUMNS), now))  # type: ignore[literal-required]
            for c in containers:
                values = [c[k] for k in CONTAINER_COLUMNS]  # type: ignore[literal-required]
                values[CONTAINER_COLUMNS.index("labels")] = json.dumps(
                    c["labels"], sort_keys=True
                )
                values[CONTAINER_COLUMNS.index("oom_killed")] = int(c["oom_killed"])
                conn.execute(_CONTAINER_SQL, (*values, now, now))
            before = conn.total_changes
            conn.executemany(
                _SAMPLE_SQL, ([s[c] for c in SAMPLE_COLUMNS] for s in samples)  # type: ignore[literal-required]
            )
            added = conn.total_changes - before
            conn.executemany(
                _EVENT_SQL, ([e[c] for c in EVENT_COLUMNS] for e in events)  # type: ignore[literal-required]
            )
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
            return self._flush_pending(ROUND_LOCK_WAIT)
        except StoreLocked as exc:
            if len(self._pending) > MAX_PENDING_ROUNDS:
                drop = len(self._pending) - MAX_PENDING_ROUNDS
                del self._pending[:drop]
                self._dropped_rounds += drop
                log.warning("dropped the oldest %d kept round(s) (%d so far): more than %d "
                            "rounds waiting for the store", drop, self._dropped_rounds,
                            MAX_PENDING_ROUNDS)
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
                conn.execute(f"PRAGMA busy_timeout = {int(LOCK_WAIT * 1000)}")

    def touch_containers(self, host: str, ids: Iterable[str], now: float | None = None) -> None:
        """Mark containers as still seen (``last_seen``) without rewriting them."""
        now = time.time() if now is None else now
        with self.transaction():
            self._conn.executemany(
                "UPDATE containers SET last_seen = ? WHERE host = ? AND container_id = ?",
                ((now, host, i) for i in ids),
            )

    def delete_samples_before(self, ts: float) -> int:
        """Retention: drop samples and events older than ``ts``; returns samples removed."""
        conn = self._conn
        with self.transaction("retention"):
            n = conn.execute("DELETE FROM samples WHERE ts < ?", (ts,)).rowcount
            conn.execute("DELETE FROM events WHERE ts < ?", (ts,))
        return int(n)

    def counts(self) -> dict[str, int]:
        """Rows per table, for progress and tests."""
        return {
            t: int(self._conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in ("hosts", "containers", "samples", "events")
        }


@dataclass(frozen=True)
class Dataset:
    """The store's contents as DataFrames (the API analysis and notebooks use).

    - ``samples``: one row per container reading, columns of :class:`SampleRow`,
      sorted by (host, container_id, ts); from :func:`load`, ``host`` and
      ``container_id`` are categorical (the analysis takes plain strings too).
    - ``containers``: one row per container, columns of :class:`ContainerRow`
      plus ``first_seen``/``last_seen``; ``labels`` holds dicts.
    - ``events``: columns of :class:`EventRow`, sorted by ts.
    - ``hosts``: columns of :class:`HostRow`.
    """

    samples: pd.DataFrame
    containers: pd.DataFrame
    events: pd.DataFrame
    hosts: pd.DataFrame

    @property
    def window(self) -> tuple[float, float] | None:
        """(first, last) sample time, or None when there are no samples."""
        if self.samples.empty:
            return None
        return float(self.samples["ts"].min()), float(self.samples["ts"].max())


def _window_sql(column: str, since: float | None, until: float | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(since)
    if until is not None:
        clauses.append(f"{column} <= ?")
        params.append(until)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


_CHUNK_ROWS = 65536

#: the numeric sample columns, in table order (``host`` and ``container_id`` are the keys)
NUMERIC_SAMPLE_COLUMNS: tuple[str, ...] = tuple(
    c for c in SAMPLE_COLUMNS if c not in ("host", "container_id")
)


def _numeric_columns(columns: Iterable[str] | None) -> list[str]:
    """The numeric sample columns to read: all of them, or ``columns`` in table order."""
    if columns is None:
        return list(NUMERIC_SAMPLE_COLUMNS)
    wanted = set(columns) - {"host", "container_id"}
    unknown = sorted(wanted - set(NUMERIC_SAMPLE_COLUMNS))
    if unknown:
        raise UsageError(
            f"columns: unknown sample column(s) {', '.join(unknown)}; expected some of "
            + ", ".join(NUMERIC_SAMPLE_COLUMNS)
        )
    return [c for c in NUMERIC_SAMPLE_COLUMNS if c in wanted or c == "ts"]


def _key_column(values: list[str], counts: Any) -> pd.Categorical:
    """``values[i]`` repeated ``counts[i]`` times, as a categorical (codes, not strings).

    A week of 5-minute samples repeats each key 2,016 times: as strings the two
    key columns of 10,000 containers would take over a gigabyte.
    """
    import numpy as np
    import pandas as pd

    categories = sorted(set(values))
    index = {v: i for i, v in enumerate(categories)}
    codes = np.repeat(np.array([index[v] for v in values], dtype=np.int32), counts)
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))


def _sample_frame(
    conn: sqlite3.Connection, where: str, params: list[Any], numeric: list[str]
) -> pd.DataFrame | None:
    """The ``samples`` rows as a DataFrame, built from column arrays (None when empty).

    One query for the (host, container_id) keys with their row counts, one for
    the ``numeric`` columns streamed straight from the cursor into a float64
    array (None → NaN): no Python tuple list is built, SQLite hands the values
    over as floats (``CAST ... AS REAL`` rounds an integer exactly as numpy
    would), and the key strings are built once per container, not once per
    row. Both queries run in the caller's read transaction, so they see the
    same rows.
    """
    import itertools

    import numpy as np
    import pandas as pd

    keys = conn.execute(
        f"SELECT host, container_id, count(*) FROM samples{where} "
        "GROUP BY host, container_id ORDER BY host, container_id",
        params,
    ).fetchall()
    n = sum(int(k[2]) for k in keys)
    if n == 0:
        return None
    select = ", ".join(f"CAST({c} AS REAL)" for c in numeric)
    cursor = conn.execute(
        f"SELECT {select} FROM samples{where} ORDER BY host, container_id, ts", params
    )
    # column-major block (one contiguous array per column), filled chunk by chunk
    width = len(numeric)
    block = np.empty((width, n), dtype=np.float64)
    done = 0
    while done < n:
        rows = min(_CHUNK_ROWS, n - done)
        chunk = np.fromiter(
            itertools.chain.from_iterable(itertools.islice(cursor, rows)), dtype=np.float64
        )
        got = chunk.size // width
        block[:, done : done + got] = chunk.reshape(got, width).T
        done += got
        if got < rows:
            break
    if done != n or cursor.fetchone() is not None:  # pragma: no cover - one read snapshot
        raise RuntimeFailure("the samples table changed while it was being read")
    frame = pd.DataFrame(block.T, columns=numeric, copy=False)
    counts = np.array([int(k[2]) for k in keys], dtype=np.int64)
    for pos, name in ((1, "container_id"), (0, "host")):
        frame.insert(0, name, pd.Series(_key_column([str(k[pos]) for k in keys], counts)))
    return frame


def load(
    path: Path | str | None = None,
    *,
    since: float | None = None,
    until: float | None = None,
    columns: Iterable[str] | None = None,
) -> Dataset:
    """Read the store into a :class:`Dataset` (samples and events within the window).

    ``columns``: the numeric sample columns to read (``ts`` and the keys always
    come); the default is every column. The analysis reads only
    :data:`rightsize.analysis.usage.SAMPLE_INPUTS`, which is much faster on a
    large store.
    """
    import pandas as pd

    numeric = _numeric_columns(columns)

    path = default_db_path() if path is None else Path(path)
    with Store(path, create=False) as store:
        conn = store.connection
        where, params = _window_sql("ts", since, until)
        conn.execute("BEGIN")  # one read snapshot for every query below
        try:
            samples = _sample_frame(conn, where, params, numeric)
            if samples is None:
                samples = pd.read_sql_query(
                    f"SELECT host, container_id, {', '.join(numeric)} FROM samples{where} "
                    "ORDER BY host, container_id, ts",
                    conn,
                    params=params,
                )
                samples[numeric] = samples[numeric].astype("float64")
                for key in ("host", "container_id"):
                    samples[key] = pd.Categorical(
                        [], categories=pd.Index([], dtype="str")
                    )
            events = pd.read_sql_query(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM events{where} ORDER BY ts",
                conn,
                params=params,
            )
            containers = pd.read_sql_query(
                f"SELECT {', '.join(CONTAINER_COLUMNS)}, first_seen, last_seen FROM containers "
                "ORDER BY host, name, container_id",
                conn,
            )
            hosts = pd.read_sql_query(
                f"SELECT {', '.join(HOST_COLUMNS)} FROM hosts ORDER BY host", conn
            )
        finally:
            conn.execute("COMMIT")
    # Numeric columns as float64 (NaN = not reported), whatever SQLite's affinity
    # gave, so the analysis gets one dtype no matter which sources wrote the rows.
    declared = ["cpu_request", "cpu_limit", "memory_request", "memory_limit", "cpuset_cpus"]
    containers[declared] = containers[declared].astype("float64")
    events["exit_code"] = events["exit_code"].astype("float64")
    containers["labels"] = containers["labels"].map(json.loads)
    containers["oom_killed"] = containers["oom_killed"].astype(bool)
    return Dataset(samples=samples, containers=containers, events=events, hosts=hosts)
