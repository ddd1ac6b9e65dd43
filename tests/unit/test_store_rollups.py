"""Chunks, rollup tiers and the resolution a read is folded to."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rightsize
from rightsize.config import from_mapping
from rightsize.errors import UsageError
from rightsize.rows import EventRow, container_row
from rightsize.store import Retention, Store, codec, load
from rightsize.store.rollup import from_floats, rollup, to_floats
from rightsize.store.times import key, keys, seconds, seconds_of
from tests.store_rows import sample

T0 = 1_790_006_400.0  # a UTC midnight


def _tiers(db: Path) -> dict[int, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT tier, sum(n) FROM chunks GROUP BY tier").fetchall())
    finally:
        conn.close()


def _frame(cid: str, ts: np.ndarray, cpu_rate: np.ndarray, mem: np.ndarray) -> pd.DataFrame:
    interval = np.diff(ts, prepend=ts[0] - (ts[1] - ts[0]))
    cpu = np.cumsum(np.round(cpu_rate * interval * 1e9)).astype(np.int64)
    m = mem.astype(np.int64)
    return pd.DataFrame({"host": "h", "container_id": cid, "ts": ts, "cpu_total_ns": cpu,
                         "mem_working_set": m, "mem_usage": m})


def test_time_keys_round_trip_exactly_and_sort_like_times() -> None:
    ts = np.array([1.0, 1795761415.465998184, 1795761415.4659982, 2.5e9, 1e-3])
    assert np.array_equal(seconds_of(keys(ts)), ts)
    assert [seconds(key(t)) for t in ts] == ts.tolist()
    assert np.array_equal(np.argsort(keys(ts)), np.argsort(ts))


def test_the_codec_is_exact_for_every_int64_and_float() -> None:
    rng = np.random.default_rng(3)
    n = 1000
    ints = rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
    pages = (2**20 + np.cumsum(rng.integers(-9, 10, n))) * 4096
    floats = rng.random(n)
    floats[[3, 500]] = np.nan
    blob = codec.encode({"ts": np.arange(n, dtype=np.int64) * 7, "cpu_total_ns": ints,
                         "mem_usage": pages, "cpu_cores": floats}, {})
    _, got = codec.decode_exact(blob)
    assert np.array_equal(got["cpu_total_ns"][0], ints)
    assert np.array_equal(got["mem_usage"][0], pages)
    _, as_float = codec.decode(blob, ["cpu_cores", "pids"])
    assert np.array_equal(as_float["cpu_cores"], floats, equal_nan=True)
    assert np.isnan(as_float["pids"]).all()  # a column the chunk does not hold
    # page-granular memory moving a few pages a reading costs about a byte
    alone = codec.encode({"mem_usage": pages}, {})
    assert len(alone) < n * 1.5
    with pytest.raises(codec.ChunkError):
        codec.decode(blob[:-5])
    with pytest.raises(codec.ChunkError):
        codec.decode(b"nope" + blob[4:])


def test_a_rollup_keeps_counters_peaks_and_the_cpu_peak() -> None:
    # 1-second readings over 3 minutes: CPU 0.5 cores, one second at 4 cores,
    # a memory spike of one reading, a kernel OOM counter step
    ts = T0 + np.arange(180, dtype=np.float64)
    rate = np.full(180, 0.5)
    rate[70] = 4.0
    cpu = np.cumsum(rate * 1e9).astype(np.int64)
    mem = np.full(180, 100 * 2**20, dtype=np.int64)
    mem[125] = 900 * 2**20
    kills = (np.arange(180) >= 130).astype(np.int64)
    cols = from_floats({"cpu_total_ns": cpu.astype(np.float64),
                        "mem_working_set": mem.astype(np.float64),
                        "oom_kills_total": kills.astype(np.float64)})
    cols["ts"] = (keys(ts), np.ones(180, dtype=bool))
    out = rollup(cols, 60)
    f = to_floats({k: v for k, v in out.items() if k != "ts"})
    assert seconds_of(out["ts"][0]).tolist() == [T0 + 59, T0 + 119, T0 + 179]
    assert f["cpu_total_ns"].tolist() == cpu[[59, 119, 179]].astype(float).tolist()
    assert f["mem_working_set"].tolist() == [100 * 2**20, 100 * 2**20, 900 * 2**20]
    assert f["oom_kills_total"].tolist() == [0, 0, 1]
    assert f["cpu_peak"][1] == pytest.approx(4.0)  # the peak inside the bucket survives
    assert f["cpu_peak"][2] == pytest.approx(0.5)
    # the mean rate over a bucket from the counter at the bucket ends is exact
    mean = (f["cpu_total_ns"][1] - f["cpu_total_ns"][0]) / 60 / 1e9
    assert mean == pytest.approx(rate[60:120].mean())


def test_tiers_are_measured_from_each_containers_newest_sample(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    ts = T0 + np.arange(0, 5 * 86400, 30.0)  # five days at 30 s
    rng = np.random.default_rng(0)
    old = _frame("old", ts - 365 * 86400, rng.random(ts.size), rng.integers(1, 9, ts.size) * 2**20)
    with Store(db, retention=Retention(raw=2 * 86400, minute=3 * 86400)) as store:
        store.write_frame(old)
        store.write_frame(_frame("new", ts, rng.random(ts.size), np.full(ts.size, 2**20)))
        # imported old history is not rolled up at once: its newest day stays raw
        got = {cid: {int(t): int(n) for t, n in store.connection.execute(
            "SELECT tier, sum(n) FROM chunks JOIN series s ON s.id = series "
            "WHERE s.container_id = ? GROUP BY tier", (cid,))} for cid in ("old", "new")}
    for cid in ("old", "new"):  # cuts fall on bucket boundaries: a bucket more may stay
        assert 2 * 86400 // 30 <= got[cid][0] <= 2 * 86400 // 30 + 2  # the last 48 h raw
        assert abs(got[cid][1] - 86400 // 60) <= 5  # the day before at 1 minute
        assert abs(got[cid][2] - 2 * 86400 // 300) <= 1  # older at 5 minutes
        assert sum(got[cid].values()) < ts.size * 0.6
    # re-writing the same history adds nothing, rolled up or not
    with Store(db) as store:
        assert store.write_frame(old) == 0
        assert store.write(samples=[sample("new", float(ts[10]), cpu_total_ns=1)]) == 0
        assert store.write(samples=[sample("new", float(ts[-1]) + 30, cpu_total_ns=1)]) == 1


def test_a_rollup_never_loses_a_memory_peak_or_an_oom_event(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    ts = T0 + np.arange(0, 4 * 86400, 10.0)
    mem = np.full(ts.size, 200 * 2**20)
    spike = 1000  # a single reading, long rolled up
    mem[spike] = 3 * 2**30
    with Store(db, retention=Retention(raw=86400, minute=86400)) as store:
        store.write(containers=[container_row("h", "a", "web", memory_limit=3 * 2**30)])
        store.write_frame(_frame("a", ts, np.full(ts.size, 0.2), mem))
        store.write(events=[EventRow(host="h", container_id="a", ts=float(ts[spike]),
                                     action="oom", exit_code=None, name="web")])
    assert _tiers(db)[2] > 0
    data = load(db)
    assert data.step == 300
    assert data.samples["mem_working_set"].max() == 3 * 2**30
    assert len(data.events) == 1
    result = rightsize.analyze(db)
    web = result["web"]
    assert web.memory.max == 3 * 2**30
    assert web.oom_kills == 1


def test_a_long_window_is_read_at_one_coarser_resolution(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    ts = T0 + np.arange(0, 86400, 10.0)  # 8,640 readings
    rng = np.random.default_rng(1)
    with Store(db) as store:
        store.write_frame(_frame("a", ts, rng.random(ts.size), np.full(ts.size, 2**20)))
    assert load(db).step == 0 and len(load(db).samples) == ts.size
    folded = load(db, max_points=1000)
    assert folded.step == 120  # 86,400 s / 1,000 points -> the next round step
    assert len(folded.samples) == 720
    assert len(load(db, max_points=1000, since=T0 + 86400 - 3600).samples) == 360  # 1 h at 10 s


def test_rollups_match_raw_samples_within_the_stated_tolerances(tmp_path: Path) -> None:
    """Five days at 10 s, analysed from raw samples and from rollups (raw 24 h):
    memory statistics from peaks are exact, the CPU request within 15 %,
    the findings' kinds the same."""
    rng = np.random.default_rng(7)
    ts = T0 + np.arange(0, 5 * 86400, 10.0)
    day = np.sin(2 * np.pi * (ts - T0) / 86400)
    frames = []
    for i in range(6):
        rate = np.clip(0.3 * (i + 1) * (1 + 0.5 * day) * rng.lognormal(0, 0.4, ts.size), 0, None)
        mem = (300 + 50 * i + 40 * day + rng.normal(0, 5, ts.size)) * 2**20
        frames.append(_frame(f"c{i}", ts, rate, np.round(mem / 4096) * 4096))
    decl = [container_row("h", f"c{i}", f"svc{i}", cpu_request=0.1 + 0.4 * i,
                          memory_request=256 * 2**20, memory_limit=2**30) for i in range(6)]
    results = {}
    for name, retention in (("raw", Retention(raw=30 * 86400, minute=30 * 86400)),
                            ("rolled", Retention(raw=86400, minute=30 * 86400))):
        db = tmp_path / f"{name}.db"
        with Store(db, retention=retention) as store:
            store.write(containers=decl)
            for f in frames:
                store.write_frame(f)
        results[name] = rightsize.analyze(db)
    raw, rolled = results["raw"], results["rolled"]
    for r in raw.results:
        other = rolled[r.name]
        assert other.memory.max == r.memory.max
        assert other.recommendation.memory_request == pytest.approx(
            r.recommendation.memory_request, rel=0.02)
        assert other.recommendation.cpu_request == pytest.approx(
            r.recommendation.cpu_request, rel=0.15)
        assert other.cpu.max >= r.cpu.max * 0.999  # the bucket peaks keep the maximum
        assert {f.kind for f in other.findings} == {f.kind for f in r.findings}


def test_the_bucket_peaks_count_and_are_dropped_only_from_data_analyze_loaded(
        tmp_path: Path) -> None:
    """From rollups, a workload's CPU maximum is its largest bucket peak, whether
    analyze() loaded the store or was given the Dataset; only its own load loses the
    cpu_peak column (read once, then its memory is reused)."""
    from rightsize.analysis import pipeline
    from rightsize.analysis.usage import ANALYSIS_POINTS, SAMPLE_INPUTS

    rng = np.random.default_rng(3)
    ts = T0 + np.arange(0, 3 * 86400, 10.0)
    db = tmp_path / "rolled.db"
    with Store(db, retention=Retention(raw=86400, minute=30 * 86400)) as store:
        for i in range(3):
            rate = np.clip(0.2 * (i + 1) * rng.lognormal(0, 0.5, ts.size), 0, None)
            rate[1000 + 500 * i] = 4.0 + i  # one 10 s burst inside a rolled-up minute
            store.write_frame(_frame(f"c{i}", ts, rate, np.full(ts.size, 2.0**28)))

    def dataset() -> rightsize.Dataset:
        return load(db, columns=SAMPLE_INPUTS, max_points=ANALYSIS_POINTS)

    given = dataset()
    peaks = given.samples.groupby("container_id", observed=True)["cpu_peak"].max()
    from_dataset = rightsize.analyze(given)
    assert "cpu_peak" in given.samples.columns  # the user's Dataset keeps it
    from_store = rightsize.analyze(db)
    assert from_store.to_dict()["workloads"] == from_dataset.to_dict()["workloads"]
    for i in range(3):
        assert from_store[f"c{i}"].cpu.max == pytest.approx(float(peaks[f"c{i}"]), rel=1e-9)
        assert from_store[f"c{i}"].cpu.max == pytest.approx(4.0 + i, rel=0.01)
    loaded = dataset()
    pipeline.analyze(loaded, reuse_inputs=True)
    assert "cpu_peak" not in loaded.samples.columns


def test_store_retention_comes_from_the_config_and_is_kept(tmp_path: Path) -> None:
    cfg = from_mapping({"store": {"raw": "12h", "minute": "7d"}})
    assert cfg.retention == Retention(raw=12 * 3600, minute=7 * 86400)
    for bad, match in (({"raw": 5}, "expected a duration"), ({"hourly": "1h"}, "hourly"),
                       ({"raw": "8d", "minute": "7d"}, "raw <= minute")):
        with pytest.raises(UsageError, match=match):
            from_mapping({"store": bad})
    db = tmp_path / "s.db"
    rightsize.api.configure_store(db, cfg.retention)  # type: ignore[arg-type]
    with Store(db) as store:
        assert store.retention == Retention(raw=12 * 3600, minute=7 * 86400)


def test_retention_cuts_chunks_and_rollups_at_the_time_given(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    ts = T0 + np.arange(0, 3 * 86400, 30.0)
    with Store(db, retention=Retention(raw=86400, minute=86400 * 1.5)) as store:
        store.write_frame(_frame("a", ts, np.full(ts.size, 0.1), np.full(ts.size, 2**20)))
        store.write(samples=[sample("a", float(ts[-1]) + 30, cpu_total_ns=1)])  # in the head
        before = store.counts()["samples"]
        cut = T0 + 86400 + 7.0  # inside a rollup chunk's span, not on a boundary
        removed = store.delete_samples_before(cut)
        assert store.counts()["samples"] == before - removed
    left = load(db).samples["ts"]
    assert left.min() >= cut and left.max() == ts[-1] + 30
    assert removed > 0
