"""The SQLite store: schema version, WAL, idempotent writes, windows, retention, exact reads."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from rightsize.errors import InputError, RuntimeFailure
from rightsize.rows import EventRow, container_row
from rightsize.store import SAMPLE_COLUMNS, SCHEMA_VERSION, Store, load
from tests.store_rows import expected_samples, sample


def test_a_new_store_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "s.db"
    with Store(db):
        pass
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_writes_are_idempotent(tmp_path: Path) -> None:
    rows = [sample("a", 1.0, cpu_total_ns=10), sample("a", 2.0, cpu_total_ns=20)]
    event = EventRow(host="h", container_id="a", ts=1.5, action="oom", exit_code=None, name="a")
    with Store(tmp_path / "s.db") as store:
        assert store.write(samples=rows, events=[event]) == 2
        assert store.write(samples=rows, events=[event]) == 0
        assert store.counts() == {"hosts": 0, "containers": 0, "samples": 2, "events": 1}


def test_container_rows_update_in_place(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.write(containers=[container_row("h", "a", "web", cpu_limit=1.0)], now=100.0)
        store.write(containers=[container_row("h", "a", "web", cpu_limit=0.5)], now=200.0)
    c = load(tmp_path / "s.db").containers
    assert len(c) == 1
    assert c.loc[0, "cpu_limit"] == 0.5
    assert (c.loc[0, "first_seen"], c.loc[0, "last_seen"]) == (100.0, 200.0)


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    bad = sample("a", 2.0)
    del bad["pids"]  # type: ignore[misc]
    with Store(tmp_path / "s.db") as store:
        store.write(samples=[sample("a", 1.0)])
        with pytest.raises(KeyError):
            store.write(samples=[sample("b", 1.0), bad])
        assert store.counts()["samples"] == 1  # the whole round was rolled back


def test_load_windows_and_retention(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.write(samples=[sample("a", float(t), mem_working_set=t) for t in range(10)])
        assert store.delete_samples_before(3.0) == 3
    assert list(load(db).samples["ts"]) == [float(t) for t in range(3, 10)]
    assert list(load(db, since=5, until=7).samples["ts"]) == [5.0, 6.0, 7.0]


@pytest.mark.parametrize("sealed", [False, True], ids=["head", "chunks"])
def test_load_reads_every_value_exactly(tmp_path: Path, sealed: bool) -> None:
    """NULLs, large counters and fractional times come back as written (to the µs),
    from the row-wise head and from sealed chunks alike."""
    db = tmp_path / "s.db"
    rows = [
        sample("b", 1795761415.465998184, host="h2", cpu_total_ns=2**62 + 12345,
               mem_working_set=0, pids=None),
        sample("a", 1795761416.123456789, cpu_total_ns=None, cpu_cores=0.25,
               mem_working_set=2**40 + 1, throttled_ns=7),
        sample("a", 1795761415.000000001, cpu_total_ns=1, online_cpus=2),
    ]
    with Store(db) as store:
        store.write(samples=rows)
        if sealed:
            store.seal_all()
        assert store.counts()["samples"] == 3
    got = load(db).samples
    expected = expected_samples(rows)
    numeric = [c for c in SAMPLE_COLUMNS if c not in ("host", "container_id")]
    assert list(got["container_id"]) == list(expected["container_id"]) == ["a", "a", "b"]
    for col in numeric:
        a, b = got[col].to_numpy(float), expected[col].to_numpy(float)
        assert np.array_equal(a, b, equal_nan=True), col
    assert math.isnan(got.loc[2, "pids"])
    a_times = got.loc[got["container_id"] == "a", "ts"]
    assert a_times.is_monotonic_increasing  # each container's samples in time order


def test_a_missing_store_is_a_runtime_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeFailure, match="no store"):
        load(tmp_path / "none.db")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store(db):
        pass
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="newer"):
        Store(db)


def test_another_sqlite_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="not a rightsize store"):
        Store(db)
