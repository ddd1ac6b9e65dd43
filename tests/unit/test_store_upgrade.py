"""The in-place upgrade to schema 3: from stores the landed code made, and killed midway."""

from __future__ import annotations

import gzip
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rightsize.errors import InputError
from rightsize.store import SCHEMA_VERSION, Store, load
from rightsize.store.schema import V1, V2

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "store" / "v2-lab.db.gz"
COLUMNS = ("host", "container_id", "ts", "cpu_total_ns", "cpu_cores", "system_cpu_ns",
           "online_cpus", "periods", "throttled_periods", "throttled_ns", "mem_usage",
           "mem_working_set", "mem_rss", "mem_limit", "mem_failcnt", "pids")


def _v2_copy(tmp_path: Path) -> Path:
    db = tmp_path / "v2.db"
    with gzip.open(FIXTURE, "rb") as src, db.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return db


def _old_rows(db: Path, columns: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Samples and events as the row-wise schema holds them (read with plain SQL)."""
    conn = sqlite3.connect(db)
    try:
        samples = pd.read_sql_query(
            f"SELECT {', '.join(columns)} FROM samples ORDER BY host, container_id, ts", conn)
        events = pd.read_sql_query(
            "SELECT host, container_id, ts, action, exit_code, name FROM events "
            "ORDER BY ts, rowid", conn)
    finally:
        conn.close()
    numeric = [c for c in columns if c not in ("host", "container_id")]
    samples[numeric] = samples[numeric].astype("float64")
    events = events.astype({"ts": "float64", "exit_code": "float64", "host": "str",
                            "container_id": "str", "action": "str", "name": "str"})
    return samples, events


def _assert_same(db: Path, samples: pd.DataFrame, events: pd.DataFrame) -> None:
    got = load(db, columns=[c for c in samples.columns if c not in ("host", "container_id")])
    frame = got.samples.astype({"host": str, "container_id": str})
    pd.testing.assert_frame_equal(frame.reset_index(drop=True),
                                  samples.astype({"host": str, "container_id": str}),
                                  check_exact=True)
    pd.testing.assert_frame_equal(got.events.reset_index(drop=True).astype(events.dtypes.to_dict()),
                                  events, check_exact=True)


def test_a_v2_store_of_the_landed_code_upgrades_in_place(tmp_path: Path) -> None:
    db = _v2_copy(tmp_path)
    samples, events = _old_rows(db, (*COLUMNS, "oom_kills_total"))
    assert len(samples) == 2082 and len(events) == 81
    before = db.stat().st_size
    with Store(db) as store:
        assert store.counts()["samples"] == 2082
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "samples" not in tables and {"series", "head", "chunks", "events"} <= tables
    conn.close()
    _assert_same(db, samples, events)
    assert db.stat().st_size < before / 3  # vacuumed: the row-wise pages are given back


def test_a_v1_store_upgrades_through_v2(tmp_path: Path) -> None:
    """A v1 file (no oom_kills_total) built with the v1 DDL from the fixture's rows."""
    source = _v2_copy(tmp_path)
    samples, events = _old_rows(source, COLUMNS)
    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db)
    conn.executescript(V1)
    conn.execute("ATTACH ? AS old", (str(source),))
    for table in ("hosts", "containers", "events"):
        conn.execute(f"INSERT INTO {table} SELECT * FROM old.{table}")
    conn.execute(f"INSERT INTO samples SELECT {', '.join(COLUMNS)} FROM old.samples")
    conn.commit()
    conn.execute("DETACH old")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with Store(db):
        pass
    _assert_same(db, samples, events)
    assert load(db).samples["oom_kills_total"].isna().all()


def _big_v2(path: Path, containers: int, samples: int) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(V1 + V2)
    rng = np.random.default_rng(0)
    rows = []
    for c in range(containers):
        cid = f"{c:064x}"
        cpu = np.cumsum(rng.integers(0, 10**9, samples))
        mem = rng.integers(2**20, 2**32, samples)
        for i in range(samples):
            rows.append(("unix:///var/run/docker.sock", cid, 1.79e9 + 10.0 * i, int(cpu[i]),
                         None, None, 2, None, None, None, int(mem[i]), int(mem[i]), None,
                         None, 0, 5, 0))
    conn.executemany(f"INSERT INTO samples VALUES ({', '.join('?' * 17)})", rows)
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()


def test_an_upgrade_killed_at_any_point_leaves_a_readable_v2_or_v3_store(
    tmp_path: Path,
) -> None:
    db = tmp_path / "big.db"
    _big_v2(db, containers=40, samples=6000)  # 240,000 rows
    pristine = tmp_path / "pristine.db"
    shutil.copy(db, pristine)
    want = _old_rows(db, ("host", "container_id", "ts", "cpu_total_ns", "mem_working_set"))
    code = "import sys; from rightsize.store import Store; Store(sys.argv[1]).close(); print('ok')"
    versions = []
    for delay in (0.4, 0.8, 1.2, 1.6, 2.4, 3.2):
        shutil.copy(pristine, db)
        for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
            extra.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", code, str(db)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        conn = sqlite3.connect(db)
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        conn.close()
        versions.append(version)
        assert version in (2, 3)
        if version == 2:  # untouched: the plain SQL read still sees every row
            assert _old_rows(db, tuple(want[0].columns))[0].equals(want[0])
        # and either way the store opens, upgrades if needed, and holds every sample
        _assert_same(db, *want)
    assert 2 in versions, f"never killed during the upgrade: {versions}"


def test_a_store_from_a_newer_rightsize_is_one_line(tmp_path: Path) -> None:
    db = _v2_copy(tmp_path)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 9")
    conn.close()
    with pytest.raises(InputError, match="schema version 9 is newer"):
        load(db)


def test_a_damaged_chunk_names_the_store_and_the_container(tmp_path: Path) -> None:
    db = _v2_copy(tmp_path)
    with Store(db) as store:
        store.seal_all()
    conn = sqlite3.connect(db)
    # a chunk of the last container in read order: chunks before it in its batch decode fine
    rowid, data, cid = conn.execute(
        "SELECT c.rowid, c.data, s.container_id FROM chunks c JOIN series s ON s.id = c.series "
        "ORDER BY s.host DESC, s.container_id DESC, c.t0 DESC LIMIT 1").fetchone()
    conn.execute("UPDATE chunks SET data = ? WHERE rowid = ?", (data[:40] + b"\xff" * 30, rowid))
    conn.commit()
    (others,) = conn.execute("SELECT count(*) FROM chunks WHERE rowid != ?", (rowid,)).fetchone()
    (containers,) = conn.execute("SELECT count(DISTINCT series) FROM chunks").fetchone()
    conn.close()
    assert containers > 1
    with pytest.raises(InputError) as err:
        load(db)
    message = str(err.value)
    assert "\n" not in message and str(db) in message and "damaged sample chunk" in message
    assert f"of {cid} on" in message  # the container the damaged chunk belongs to
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM chunks WHERE rowid != ?", (rowid,)).fetchone()[0] \
        == others  # reading changed nothing
    conn.close()


def test_cli_on_a_damaged_chunk_exits_2(tmp_path: Path) -> None:
    db = _v2_copy(tmp_path)
    with Store(db) as store:
        store.seal_all()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE chunks SET data = x'00' WHERE rowid = (SELECT min(rowid) FROM chunks)")
    conn.commit()
    conn.close()
    proc = subprocess.run([sys.executable, "-m", "rightsize", "--db", str(db), "analyze",
                           "--format", "json"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "damaged" in proc.stderr
    assert "Traceback" not in proc.stderr
    json.dumps(proc.stdout)  # nothing half-written that is not text
