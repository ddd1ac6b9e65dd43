"""The store's schema, version by version, and the in-place migrations.

``PRAGMA user_version`` is the schema version. Each migration runs in one
``BEGIN IMMEDIATE`` transaction with the version bump, so a migration that is
interrupted, killed or runs out of disk leaves the previous version intact.

- **v1**: row-wise ``samples`` keyed by (host URL, container id, ts) text;
- **v2**: + ``samples.oom_kills_total``;
- **v3** (this layout): integer keys (``series``: one row per container),
  integer microsecond timestamps, a small row-wise ``head`` of each
  container's newest samples and column-wise compressed ``chunks``
  (``rightsize.store.codec``) per container, resolution tier and time span.
  Events are keyed by series too. ``samples`` and the text-keyed events go.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

log = logging.getLogger("rightsize.store")

SCHEMA_VERSION = 3

#: the numeric sample columns as stored (``ts`` in the head is integer microseconds)
HEAD_VALUE_COLUMNS: tuple[str, ...] = (
    "cpu_total_ns", "cpu_cores", "system_cpu_ns", "online_cpus", "periods",
    "throttled_periods", "throttled_ns", "mem_usage", "mem_working_set", "mem_rss",
    "mem_limit", "mem_failcnt", "pids", "oom_kills_total",
)

TABLES_V2 = ("hosts", "containers", "samples", "events")
TABLES = ("hosts", "containers", "series", "head", "chunks", "events", "meta")

V1 = """
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
V2 = """
ALTER TABLE samples ADD COLUMN oom_kills_total INTEGER;
"""

V3_TABLES = f"""
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    container_id TEXT NOT NULL,
    UNIQUE (host, container_id)
);
CREATE TABLE head (
    series INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    {", ".join(f"{c} {'REAL' if c == 'cpu_cores' else 'INTEGER'}" for c in HEAD_VALUE_COLUMNS)},
    PRIMARY KEY (series, ts)
) WITHOUT ROWID;
CREATE TABLE chunks (
    series INTEGER NOT NULL,
    tier INTEGER NOT NULL,
    t0 INTEGER NOT NULL,
    t1 INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX chunks_series ON chunks (series, tier, t0);
CREATE INDEX chunks_t1 ON chunks (t1);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE events_v3 (
    series INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    action TEXT NOT NULL,
    exit_code INTEGER,
    name TEXT NOT NULL,
    UNIQUE (series, ts, action)
);
"""

V3_FINISH = """
DROP TABLE samples;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
CREATE INDEX events_ts ON events (ts);
"""


def _run(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def migrate(conn: sqlite3.Connection, path: object,
            copy_v2: Callable[[sqlite3.Connection], None]) -> None:
    """Bring the store on ``conn`` to :data:`SCHEMA_VERSION`, one transaction per step.

    ``copy_v2`` moves the v2 ``samples`` and ``events`` rows into the v3
    tables (it lives with the chunk writer).
    """
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version >= SCHEMA_VERSION:
        return
    def to_v3() -> None:
        _run(conn, V3_TABLES)
        copy_v2(conn)
        _run(conn, V3_FINISH)

    steps: dict[int, Callable[[], None]] = {
        1: lambda: _run(conn, V1),
        2: lambda: _run(conn, V2),
        3: to_v3,
    }
    copied = False
    for target in range(version + 1, SCHEMA_VERSION + 1):
        if target == 3 and version > 0:
            (rows,) = conn.execute("SELECT count(*) FROM samples").fetchone()
            log.warning("%s: upgrading the store to schema %d (%d samples to compress)",
                        path, target, rows)
            copied = rows > 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            steps[target]()
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    if copied:
        try:  # give the row-wise table's pages back to the file system
            conn.execute("VACUUM")
        except sqlite3.Error as exc:  # pragma: no cover - best effort
            log.warning("%s: upgraded; VACUUM failed (%s), the file keeps its old size", path, exc)
