"""Counter-to-rate maths of rightsize.analysis.usage: properties and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsize.analysis.usage import USAGE_COLUMNS, usage_series
from rightsize.store import SAMPLE_COLUMNS


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A samples frame shaped like store.load's (float64 numerics, NaN = missing)."""
    full = [{c: r.get(c, math.nan) for c in SAMPLE_COLUMNS} for r in rows]
    df = pd.DataFrame(full, columns=list(SAMPLE_COLUMNS))
    numeric = [c for c in SAMPLE_COLUMNS if c not in ("host", "container_id")]
    df[numeric] = df[numeric].astype("float64")
    return df


def events(rows: list[tuple[str, float, str]], host: str = "h") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "host": host,
                "container_id": c,
                "ts": t,
                "action": a,
                "exit_code": math.nan,
                "name": c,
            }
            for c, t, a in rows
        ],
        columns=["host", "container_id", "ts", "action", "exit_code", "name"],
    )


# one container: (seconds since previous, CPU ns used, reset-before-this-sample?)
steps = st.lists(
    st.tuples(
        st.floats(0.5, 20.0),
        st.integers(0, 4_000_000_000),
        st.booleans(),
    ),
    min_size=2,
    max_size=60,
)


def build(
    series: list[tuple[float, int, bool]], cid: str = "c1"
) -> tuple[pd.DataFrame, list[float]]:
    ts, counter, rows, expected = 1_000.0, 0, [], []
    for i, (dt, used, reset) in enumerate(series):
        ts += dt if i else 0.0
        if reset and i:
            counter = used // 7  # the new process' own CPU since the restart
        else:
            counter += used if i else 0
        rows.append(
            {
                "host": "h",
                "container_id": cid,
                "ts": ts,
                "cpu_total_ns": counter,
                "mem_working_set": 1000 + i,
            }
        )
        expected.append(math.nan if i == 0 or reset else used / dt / 1e9)
    return frame(rows), expected


@settings(max_examples=150, deadline=None)
@given(steps)
def test_rates_are_never_negative_and_resets_are_dropped(
    series: list[tuple[float, int, bool]],
) -> None:
    samples, expected = build(series)
    out = usage_series(samples, gap_factor=1e9).frame
    cpu = out["cpu"].to_numpy()
    assert (cpu[~np.isnan(cpu)] >= 0).all()
    for got, want in zip(cpu, expected, strict=True):
        if math.isnan(want):
            # the first sample has no predecessor; a reset interval is dropped unless
            # the new counter happens to be above the old one (undetectable without events)
            continue
        assert got == pytest_approx(want)
    # every interval whose counter went down is NaN
    counter = samples["cpu_total_ns"].to_numpy()
    down = np.r_[False, np.diff(counter) < 0]
    assert np.isnan(cpu[down]).all()
    assert list(out.columns) == list(USAGE_COLUMNS)
    assert math.isnan(cpu[0])


def pytest_approx(x: float) -> object:
    import pytest

    return pytest.approx(x, rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(5, 40),
    st.floats(1.0, 30.0),
    st.integers(1, 3),
    st.floats(4.0, 50.0),
)
def test_gaps_are_not_averaged_across(n: int, step: float, where: int, factor: float) -> None:
    where = min(where, n - 1)
    ts = [1000.0 + step * i for i in range(n)]
    for i in range(where, n):
        ts[i] += step * factor  # one long hole before sample `where`
    rows = [
        {
            "host": "h",
            "container_id": "c",
            "ts": t,
            "cpu_total_ns": 1e9 * i * step,
            "mem_working_set": 5.0,
        }
        for i, t in enumerate(ts)
    ]
    use = usage_series(frame(rows), gap_factor=3.0)
    cpu = use.frame["cpu"].to_numpy()
    assert math.isnan(cpu[where])  # the interval across the hole is dropped
    assert math.isnan(use.frame["interval"].iloc[where])
    assert len(use.gaps) == 1
    assert use.gaps["end"].iloc[0] == ts[where]
    others = np.delete(cpu, [0, where])
    assert np.allclose(others, 1.0)  # one core everywhere else
    assert use.frame["memory"].notna().all()  # memory readings stand on their own


def test_interleaved_containers_and_clock_steps() -> None:
    rows = [
        {"host": "h", "container_id": "b", "ts": 10.0, "cpu_total_ns": 0},
        {"host": "h", "container_id": "a", "ts": 10.0, "cpu_total_ns": 0},
        {"host": "h", "container_id": "b", "ts": 20.0, "cpu_total_ns": 5e9},
        {"host": "h", "container_id": "a", "ts": 20.0, "cpu_total_ns": 20e9},
        {"host": "h", "container_id": "a", "ts": 20.0, "cpu_total_ns": 21e9},  # Δts = 0
        {"host": "h", "container_id": "a", "ts": 30.0, "cpu_total_ns": 31e9},
    ]
    out = usage_series(frame(rows), gap_factor=100).frame
    by = {cid: g["cpu"].tolist() for cid, g in out.groupby("container_id")}
    assert by["b"][1] == 0.5
    assert by["a"][1] == 2.0
    assert math.isnan(by["a"][2])  # clock step / duplicate time dropped
    assert by["a"][3] == 1.0


def test_start_event_voids_the_interval_even_if_the_counter_grew() -> None:
    rows = [
        {"host": "h", "container_id": "c", "ts": float(t), "cpu_total_ns": v}
        for t, v in ((0, 0), (10, 1e9), (20, 9e9), (30, 10e9))
    ]
    out = usage_series(frame(rows), events([("c", 15.0, "start")]), gap_factor=100).frame
    cpu = out["cpu"].tolist()
    assert cpu[1] == 0.1 and math.isnan(cpu[2]) and cpu[3] == 0.1


def test_imported_rates_used_as_is_and_throttling() -> None:
    rows = [
        {"host": "h", "container_id": "r", "ts": 0.0, "cpu_cores": 0.25, "mem_working_set": 1.0},
        {"host": "h", "container_id": "r", "ts": 60.0, "cpu_cores": 0.5, "mem_working_set": 2.0},
        {
            "host": "h",
            "container_id": "t",
            "ts": 0.0,
            "cpu_total_ns": 0,
            "periods": 100,
            "throttled_periods": 10,
            "throttled_ns": 0,
        },
        {
            "host": "h",
            "container_id": "t",
            "ts": 10.0,
            "cpu_total_ns": 1e9,
            "periods": 200,
            "throttled_periods": 60,
            "throttled_ns": 2e9,
        },
        {
            "host": "h",
            "container_id": "t",
            "ts": 20.0,
            "cpu_total_ns": 2e9,
            "periods": 200,
            "throttled_periods": 60,
            "throttled_ns": 2e9,
        },
    ]
    out = usage_series(frame(rows), gap_factor=100).frame.set_index(["container_id", "ts"])
    assert out.loc[("r", 0.0), "cpu"] == 0.25 and out.loc[("r", 60.0), "cpu"] == 0.5
    assert out.loc[("t", 10.0), "throttled_share"] == 0.5
    assert out.loc[("t", 10.0), "throttled_seconds"] == 2.0
    assert out.loc[("t", 10.0), "periods"] == 100
    assert math.isnan(out.loc[("t", 20.0), "throttled_share"])  # no periods elapsed
    assert out.loc[("t", 20.0), "periods"] == 0


def test_oom_events_and_failcnt_growth() -> None:
    rows = [
        {
            "host": hst,
            "container_id": c,
            "ts": float(t),
            "cpu_total_ns": 0.0,
            "mem_failcnt": f,
            "mem_working_set": 1.0,
        }
        for hst, c in (("v2", "x"), ("v1", "y"), ("v2", "z"))
        for t, f in ((0, 0), (10, 0), (20, 2), (30, 2))
    ]
    ev = events([("z", 12.0, "oom"), ("z", 14.5, "oom")], host="v2")
    use = usage_series(frame(rows), ev, gap_factor=100, failcnt_hosts={"v2"})
    kills = use.frame.groupby("container_id")["oom_kills"].sum().to_dict()
    assert kills == {"x": 2.0, "y": 0.0, "z": 2.0}  # v1 failcnt ignored; z has events
    z = use.frame[use.frame["container_id"] == "z"]
    assert z["oom_kills"].tolist() == [0.0, 0.0, 2.0, 0.0]  # in the interval (10, 20]
    assert sorted(use.ooms["signal"]) == ["event", "event", "failcnt"]


def test_empty_samples() -> None:
    use = usage_series(frame([]))
    assert use.frame.empty and list(use.frame.columns) == list(USAGE_COLUMNS)
