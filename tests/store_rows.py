"""Test helpers: what the store should hold, built from the rows written (not read back)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from rightsize.rows import SampleRow
from rightsize.store import SAMPLE_COLUMNS, load


def sample(cid: str, ts: float, host: str = "h", **values: float | int | None) -> SampleRow:
    """A sample row with every column not given missing."""
    row = dict.fromkeys(SAMPLE_COLUMNS)
    row.update(host=host, container_id=cid, ts=ts, **values)
    return row  # type: ignore[return-value]


def expected_samples(rows: Iterable[SampleRow], columns: Sequence[str] = SAMPLE_COLUMNS
                     ) -> pd.DataFrame:
    """``rows`` as :func:`rightsize.store.load` gives them: sorted, one per (key, ts), float64."""
    seen: dict[tuple[str, str, int], SampleRow] = {}
    for r in rows:
        seen.setdefault((r["host"], r["container_id"], r["ts"]), r)
    ordered = [seen[k] for k in sorted(seen)]
    data: dict[str, object] = {}
    for c in columns:
        values = [r[c] for r in ordered]  # type: ignore[literal-required]
        if c in ("host", "container_id"):
            data[c] = values
        elif c == "ts":
            data[c] = np.array(values, dtype=np.float64)
        else:
            data[c] = np.array([np.nan if v is None else v for v in values],
                               dtype=object).astype(np.float64)
    return pd.DataFrame(data)


def stored_samples(db: object, columns: Sequence[str] = SAMPLE_COLUMNS) -> list[tuple[object, ...]]:
    """Every stored sample as tuples of ``columns`` (floats; NaN for missing), in key order."""
    frame = load(db, columns=[c for c in columns if c not in ("host", "container_id")]).samples  # type: ignore[arg-type]
    frame = frame[list(columns)]
    return [tuple(r) for r in frame.itertuples(index=False)]


def query_samples(db: object, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Run ``sql`` over ``samples`` and ``events`` tables of the store as :func:`load` reads
    them (the v1 row-wise tables, rebuilt in memory, so tests can keep asking in SQL)."""
    import sqlite3

    data = load(db)  # type: ignore[arg-type]
    frame = data.samples.astype({"host": str, "container_id": str})
    for c in frame.columns:  # integer columns as SQLite INTEGERs, as the v1 table held them
        if c not in ("host", "container_id", "ts", "cpu_cores"):
            present = frame[c].dropna()
            if (present == present.round()).all():
                frame[c] = frame[c].astype("Int64")
    conn = sqlite3.connect(":memory:")
    try:
        frame.to_sql("samples", conn, index=False)
        data.events.to_sql("events", conn, index=False)
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()
