"""The SQLite store: schema and migrations, one transaction per round, DataFrames out.

The store is the only state rightsize keeps. It is written by the collector
(live or replayed) and by ``rightsize import``, and read back as pandas
DataFrames by the analysis and by notebooks (:func:`load`).

Durability: WAL journal, ``synchronous=NORMAL`` and one transaction per
collection round, so a collector that is interrupted, killed or crashes
leaves a readable database holding every round it committed.

pandas is imported only inside :func:`load`, so the collector starts fast.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rightsize.errors import InputError, RuntimeFailure, UsageError
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow

if TYPE_CHECKING:
    import pandas as pd

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


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not create and not path.exists():
        raise RuntimeFailure(
            f"no store at {path}: run `rightsize collect` or `rightsize import` first, "
            "or pass --db"
        )
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RuntimeFailure(f"cannot create the folder for the store {path}: {exc}") from exc
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a rightsize store (SQLite said: {exc})") from exc
    return conn


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
        for statement in _MIGRATIONS[target].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")


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
    """An open store. Use as a context manager; writes go through :meth:`write`."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self._conn = _connect(self.path, create=create)
        try:
            _migrate(self._conn, self.path)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise InputError(f"{self.path}: not a rightsize store (SQLite said: {exc})") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

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
        a recording or re-importing a file twice adds nothing.
        """
        now = time.time() if now is None else now
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
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
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return added

    def touch_containers(self, host: str, ids: Iterable[str], now: float | None = None) -> None:
        """Mark containers as still seen (``last_seen``) without rewriting them."""
        now = time.time() if now is None else now
        self._conn.executemany(
            "UPDATE containers SET last_seen = ? WHERE host = ? AND container_id = ?",
            ((now, host, i) for i in ids),
        )

    def delete_samples_before(self, ts: float) -> int:
        """Retention: drop samples and events older than ``ts``; returns samples removed."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            n = conn.execute("DELETE FROM samples WHERE ts < ?", (ts,)).rowcount
            conn.execute("DELETE FROM events WHERE ts < ?", (ts,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
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
