"""The v2 → v3 upgrade: row-wise samples into per-container chunks.

Runs inside the migration's one transaction (``rightsize.store.schema``), so
a killed upgrade leaves the v2 store as it was.
"""

from __future__ import annotations

import sqlite3

from rightsize.store import chunks
from rightsize.store.schema import HEAD_VALUE_COLUMNS
from rightsize.store.times import key


def copy_v2(conn: sqlite3.Connection, retention: chunks.Retention | None = None) -> None:
    """Copy ``samples`` and ``events`` (text keys, REAL seconds) into the v3 tables."""
    conn.execute(
        "INSERT OR IGNORE INTO series (host, container_id) "
        "SELECT host, container_id FROM samples GROUP BY host, container_id "
        "UNION SELECT host, container_id FROM events "
        "UNION SELECT host, container_id FROM containers "
        "ORDER BY 1, 2"
    )
    retention = retention or chunks.Retention()
    keys = conn.execute("SELECT id, host, container_id FROM series ORDER BY id").fetchall()
    select = (f"SELECT ts, {', '.join(HEAD_VALUE_COLUMNS)} "
              "FROM samples WHERE host = ? AND container_id = ? ORDER BY ts")
    for sid, host, container_id in keys:
        rows = conn.execute(select, (host, container_id)).fetchall()
        if rows:
            chunks.write_cols(conn, sid, chunks.head_cols([(key(r[0]), *r[1:]) for r in rows]))
            chunks.compact(conn, sid, retention)
    events = conn.execute(
        "SELECT s.id, e.ts, e.action, e.exit_code, e.name FROM events e JOIN series s "
        "ON s.host = e.host AND s.container_id = e.container_id ORDER BY e.rowid").fetchall()
    conn.executemany(
        "INSERT OR IGNORE INTO events_v3 (series, ts, action, exit_code, name) "
        "VALUES (?, ?, ?, ?, ?)", ((sid, key(ts), *rest) for sid, ts, *rest in events))
