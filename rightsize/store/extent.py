"""What a read covers, before anything is decoded: its resolution, its window, its rows.

:func:`resolution` picks the one bucket size a read folds to; :func:`window`
is the SQL that selects chunks (and head rows) whose time span meets the
window; :func:`most_rows` bounds the rows those chunks give at that size, which
the reader sizes its column arrays by. Times are stored keys
(:mod:`rightsize.store.times`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np

from rightsize.store.rollup import TIERS
from rightsize.store.times import seconds, seconds_of

__all__ = ["STEPS", "most_rows", "resolution", "window"]

#: bucket sizes (seconds) a read may fold to: round numbers that nest
STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 3600, 7200,
          10800, 21600, 43200, 86400)


def resolution(conn: sqlite3.Connection, lo: int | None, hi: int | None,
               max_points: int | None) -> int:
    """The bucket size (seconds) for a read of [lo, hi] µs; 0 = as stored.

    The coarsest tier stored in the window sets the floor (one resolution for
    every container, so intervals compare); ``max_points`` caps the rows per
    container, so an analysis of a long window costs what a short one does.
    """
    where, params = window(lo, hi)
    head_where, head_params = window(lo, hi, "ts", "ts")
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
    for step in STEPS:
        if step >= need and step >= floor and (floor == 0 or step % floor == 0):
            return step
    return STEPS[-1]


def window(lo: int | None, hi: int | None, end: str = "t1", start: str = "t0"
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


def most_rows(conn: sqlite3.Connection, where: str, params: list[Any], step: int) -> int:
    """At most the rows the chunks matching ``where`` give at ``step`` (0: as stored).

    Folded, a chunk gives at most one row per bucket its time span meets, and never
    more than its rows: ``min(n, (t1 - t0) // step + 2)`` (buckets a chunk shares with
    its neighbour make the true count smaller, never larger).
    """
    if not step:
        (stored,) = conn.execute(f"SELECT coalesce(sum(n), 0) FROM chunks{where}",
                                 params).fetchone()
        return int(stored)
    rows = np.array(conn.execute(f"SELECT n, t0, t1 FROM chunks{where}", params).fetchall(),
                    dtype=np.int64).reshape(-1, 3)
    span = seconds_of(rows[:, 2]) - seconds_of(rows[:, 1])
    buckets = np.floor(span / step).astype(np.int64) + 2
    return int(np.minimum(rows[:, 0], buckets).sum())
