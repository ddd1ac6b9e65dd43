"""Strategy tests: hand-computed anchors (KRR simple, VPA), rightsize behaviour, properties."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsize.analysis.strategies import (
    PARAM_RANGES,
    get_strategy,
    recommend,
    resolve_params,
    strategy_names,
)
from rightsize.analysis.strategies._common import interval_peaks, weighted_quantile
from rightsize.analysis.strategies.base import History
from rightsize.analysis.strategies.vpa import ExponentialBuckets, histogram_percentile
from rightsize.errors import UsageError
from rightsize.model import Declared
from rightsize.units import round_cpu_up, round_memory_up

MIB = 2**20


def make(
    cpu: np.ndarray | list[float],
    memory: np.ndarray | list[float],
    step: float = 60.0,
    oom_ts: list[float] | None = None,
    declared: Declared | None = None,
) -> History:
    c = np.asarray(cpu, dtype=np.float64)
    m = np.asarray(memory, dtype=np.float64)
    ts = np.arange(c.size, dtype=np.float64) * step
    return History(
        ts=ts,
        cpu=c,
        memory=m,
        interval=np.full(c.size, step),
        throttled=np.full(c.size, np.nan),
        oom_ts=np.asarray(oom_ts or [], dtype=np.float64),
        declared=declared or Declared(),
    )


# --- registry -------------------------------------------------------------


def test_registry_names_and_default_first() -> None:
    names = strategy_names()
    assert names[0] == "rightsize"
    assert {"krr-simple", "vpa"} <= set(names)
    assert get_strategy("vpa").defaults["target_percentile"] == 0.9


def test_unknown_strategy_lists_known() -> None:
    with pytest.raises(UsageError, match=r"'nope'.*krr-simple.*vpa"):
        get_strategy("nope")


def test_unknown_param_names_full_key() -> None:
    with pytest.raises(UsageError, match=r"strategy\.vpa\.bogus"):
        resolve_params("vpa", {"bogus": 1.0})
    assert resolve_params("vpa", {"safety_margin": 0.2})["safety_margin"] == 0.2


@pytest.mark.parametrize("name", ["rightsize", "krr-simple", "vpa"])
def test_every_builtin_param_has_a_range_holding_its_default(name: str) -> None:
    defaults = get_strategy(name).defaults
    assert set(PARAM_RANGES[name]) == set(defaults)
    for key, value in defaults.items():
        assert value in PARAM_RANGES[name][key], key


def test_contract_notes_table_lists_every_builtin_param() -> None:
    text = (Path(__file__).parents[2] / "docs" / "contract-notes.md").read_text(encoding="utf-8")
    for name in ("rightsize", "krr-simple", "vpa"):
        for key, value in get_strategy(name).defaults.items():
            row = f"| `{name}` | `{key}` | {PARAM_RANGES[name][key]} | {value:.12g} |"
            assert row in text, row


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("memory_window_days", -1.0, "a number ≥ 0"),
        ("memory_old_peak_weight", 1.5, "a number in [0, 1]"),
        ("memory_old_peak_weight", -0.1, "a number in [0, 1]"),
        ("memory_risk_ref", -0.04, "a number ≥ 0"),
        ("memory_usage_days", 0.0, "a number > 0"),
        ("memory_record_days", 0.0, "an integer ≥ 1"),
    ],
)
def test_memory_knobs_out_of_range(key: str, value: float, expected: str) -> None:
    with pytest.raises(UsageError, match=rf"strategy\.rightsize\.{key} = .*expected") as err:
        resolve_params("rightsize", {key: value})
    assert expected in str(err.value)


# --- krr-simple -----------------------------------------------------------


def test_krr_simple_hand_computed() -> None:
    cpu = np.linspace(0.0, 1.0, 200)  # linear p95 = 0.95 exactly
    mem = np.full(200, 100.0 * MIB)
    mem[17] = 200.0 * MIB
    rec = recommend("krr-simple", make(cpu, mem))
    assert rec.cpu_request == 0.95
    assert rec.cpu_limit is None
    assert rec.memory_request == rec.memory_limit == 230 * MIB  # 200 MiB x 1.15


def test_krr_simple_floors() -> None:
    rec = recommend("krr-simple", make(np.zeros(150), np.full(150, 10.0 * MIB)))
    assert rec.cpu_request == 0.010
    assert rec.memory_request == 100 * MIB


def test_krr_simple_insufficient_below_100_points() -> None:
    rec = recommend("krr-simple", make(np.ones(99), np.full(99, 1e9)))
    assert rec.cpu_request is None and rec.memory_limit is None
    assert rec.confidence == 0
    assert any("insufficient data" in n for n in rec.notes)
    assert recommend("krr-simple", make(np.ones(100), np.full(100, 1e9))).cpu_request == 1.0


def test_krr_simple_uses_last_14_days_only() -> None:
    step = 3600.0
    n = 20 * 24
    mem = np.full(n, 100.0 * MIB)
    mem[0] = 1000.0 * MIB  # 20 days ago: outside KRR's 336 h
    rec = recommend("krr-simple", make(np.ones(n), mem, step=step))
    assert rec.memory_limit == 115 * MIB


# --- vpa ------------------------------------------------------------------


def test_vpa_buckets_and_percentile_is_bucket_end() -> None:
    b = ExponentialBuckets(0.01, 1.05, 1000.0)
    assert b.count == 176
    assert b.find(np.array([0.005, 0.5]))[1] == 25
    assert b.find(np.array([0.005]))[0] == 0
    p = histogram_percentile(b, np.full(10, 0.5), np.ones(10), 0.9)
    end = 0.01 * (1.05**26 - 1) / 0.05
    assert p == pytest.approx(end)
    assert 0.5 < p <= 0.5 * 1.05 + 0.01


def test_vpa_target_p90_plus_margin() -> None:
    n = 3000
    rec = recommend("vpa", make(np.full(n, 0.5), np.full(n, 1e9)))
    assert rec.cpu_request == round_cpu_up(0.5111345375888712 * 1.15)  # 588m
    assert rec.cpu_request == 0.588
    mem_end = histogram_percentile(
        ExponentialBuckets(1e7, 1.05, 1e12), np.array([1e9]), np.ones(1), 0.9
    )
    assert rec.memory_request == round_memory_up(mem_end * 1.15)
    assert rec.cpu_limit is None and rec.memory_limit is None  # nothing declared: no ratio


def test_vpa_keeps_declared_ratio_and_minimums() -> None:
    decl = Declared(cpu_request=1.0, cpu_limit=2.0, memory_request=MIB, memory_limit=4 * MIB)
    rec = recommend("vpa", make(np.zeros(100), np.full(100, MIB), declared=decl))
    assert rec.cpu_request == 0.025
    assert rec.cpu_limit == 0.05
    assert rec.memory_request == 250 * MIB
    assert rec.memory_limit == 1000 * MIB


def test_vpa_confidence_scales_with_lifespan_and_samples() -> None:
    half_day = recommend("vpa", make(np.ones(720), np.full(720, 1e9)))  # 720 samples, 0.5 d
    assert half_day.confidence == pytest.approx(0.5, abs=0.01)
    sparse = recommend("vpa", make(np.ones(144), np.full(144, 1e9), step=1200.0))  # 2 days
    assert sparse.confidence == pytest.approx(0.1)  # samples/1440 bound
    assert any("upper bound" in n for n in sparse.notes)


def test_vpa_oom_adds_bumped_peak() -> None:
    n = 1440
    mem = np.full(n, 1000.0 * MIB)
    plain = recommend("vpa", make(np.ones(n), mem))
    oom = recommend("vpa", make(np.ones(n), mem, oom_ts=[600.0 * 60]))
    assert plain.memory_request is not None and oom.memory_request is not None
    assert oom.memory_request >= 1200 * MIB * 1.15 > plain.memory_request


# --- rightsize ------------------------------------------------------------


def test_rightsize_bumps_memory_after_oom() -> None:
    n = 2000
    mem = np.full(n, 500.0 * MIB)
    decl = Declared(memory_limit=512 * MIB)
    before = recommend("rightsize", make(np.ones(n), mem, declared=decl))
    after = recommend("rightsize", make(np.ones(n), mem, oom_ts=[1000 * 60.0], declared=decl))
    assert before.memory_limit is not None and after.memory_limit is not None
    assert after.memory_limit >= 512 * MIB * 1.2 > before.memory_limit
    assert any("OOM" in n for n in after.notes)


def test_rightsize_oom_bump_uses_the_limit_at_the_kill() -> None:
    """Killed at a 512 MiB limit, then raised to 1 GiB (say, by applying the bump):
    the kill says nothing about 1 GiB, so the memory stays 512 x 1.2 = 614.4 MiB ->
    615 MiB (no headroom on top here). Without the limit at the kill the declared
    1 GiB stands in (x 1.2)."""
    n = 2000
    mem = np.full(n, 500.0 * MIB)
    raised = Declared(memory_limit=1024 * MIB)
    bare = {"memory_margin": 0.0, "uncertainty_margin": 0.0, "memory_record_risk": 0.0}
    hist = make(np.ones(n), mem, oom_ts=[1000 * 60.0], declared=raised)
    known = recommend("rightsize", replace(hist, oom_limit=np.array([512.0 * MIB])),
                      bare)
    assert known.memory_limit == round_memory_up(512 * MIB * 1.2) == 615 * MIB
    assert any("sized above 512Mi" in n for n in known.notes)
    unknown = recommend("rightsize", replace(hist, oom_limit=np.array([np.nan])), bare)
    assert unknown.memory_limit == recommend("rightsize", hist, bare).memory_limit
    assert unknown.memory_limit == round_memory_up(1024 * MIB * 1.2)


def test_rightsize_insufficient_data() -> None:
    rec = recommend("rightsize", make(np.ones(10), np.full(10, 1e9)))
    assert rec.cpu_request is None and rec.memory_request is None
    assert rec.confidence < 0.5
    assert any("insufficient data" in n for n in rec.notes)
    rec = recommend(
        "rightsize", make(np.ones(10), np.full(10, 1e9)), {"min_samples": 5, "min_hours": 0.1}
    )
    assert rec.cpu_request is not None  # configurable


def test_rightsize_no_cpu_limit_by_default_and_limit_when_configured() -> None:
    rng = np.random.default_rng(1)
    h = make(rng.uniform(0.1, 1.0, 3000), np.full(3000, 1e9))
    rec = recommend("rightsize", h)
    assert rec.cpu_limit is None and any("no CPU limit" in n for n in rec.notes)
    lim = recommend("rightsize", h, {"cpu_limit": 1})
    assert lim.cpu_limit is not None and lim.cpu_request is not None
    assert lim.cpu_limit >= lim.cpu_request


def test_rightsize_cpu_request_meets_overrun_target() -> None:
    # 90 % of time at 0.1 core, 10 % at 1 core: CPU-seconds above r must be <= 3 %
    cpu = np.tile(np.r_[np.full(9, 0.1), 1.0], 300)
    # the overrun-target mode (cpu_slack_cost = 0)
    params = {"cpu_margin": 0.0, "cpu_slack_cost": 0.0, "cpu_uncertainty_margin": 0.0}
    rec = recommend("rightsize", make(cpu, np.full(cpu.size, 1e9)), params)
    assert rec.cpu_request is not None
    r = rec.cpu_request
    over = np.maximum(cpu - r, 0).sum() / cpu.sum()
    assert over <= 0.03 + 1e-9
    assert r < 1.0  # not simply the max


def test_rightsize_cpu_request_balances_overrun_and_slack() -> None:
    # 90 % of time at 0.1 core, 10 % at 1 core (mean 0.19). Hand-computed on the two
    # candidate levels: r = 0.1 -> overrun 0.09/0.19 = 47.4 %, slack 0; r = 1 -> overrun 0,
    # slack 0.81. With cost c the balance picks 1 core iff 0.81 c < 0.474.
    cpu = np.tile(np.r_[np.full(9, 0.1), 1.0], 300)
    mem = np.full(cpu.size, 1e9)
    base = {"cpu_margin": 0.0, "cpu_uncertainty_margin": 0.0, "cpu_sample_cost": 0.0}
    cheap = recommend("rightsize", make(cpu, mem), {**base, "cpu_slack_cost": 0.5})
    dear = recommend("rightsize", make(cpu, mem), {**base, "cpu_slack_cost": 0.7})
    assert cheap.cpu_request == pytest.approx(1.0)
    assert dear.cpu_request == pytest.approx(0.1)


def test_rightsize_cpu_request_counts_the_time_above_it() -> None:
    # the same workload with the default sample cost s = 10: r = 0.1 costs
    # 0.474 + 10 x 0.10 (time above) = 1.474, r = 1 costs c x 0.81; the default
    # c = 2.7 gives 2.187 (keeps 0.1), c = 1.5 gives 1.215 (covers the bursts)
    cpu = np.tile(np.r_[np.full(9, 0.1), 1.0], 300)
    mem = np.full(cpu.size, 1e9)
    base = {"cpu_margin": 0.0, "cpu_uncertainty_margin": 0.0}
    assert recommend("rightsize", make(cpu, mem), base).cpu_request == pytest.approx(0.1)
    cheap = recommend("rightsize", make(cpu, mem), {**base, "cpu_slack_cost": 1.5})
    assert cheap.cpu_request == pytest.approx(1.0)
    # users' choice: a plain (decayed) percentile instead of the cost rule
    p80 = recommend("rightsize", make(cpu, mem), {**base, "cpu_percentile": 0.8})
    assert p80.cpu_request == pytest.approx(0.1)
    p95 = recommend("rightsize", make(cpu, mem), {**base, "cpu_percentile": 0.95})
    assert p95.cpu_request == pytest.approx(1.0)


def test_rightsize_memory_headroom_from_the_spread_of_daily_peaks() -> None:
    # same top peak (2000 MiB), one steady, one whose daily peaks vary: the varying one
    # gets the mean excess of its top 4 daily peaks over the 5th as headroom
    day = 24 * 12  # 5-minute samples
    steady = np.full(10 * day, 2000.0 * MIB)
    peaks = [1500, 1600, 1700, 1800, 2000, 1500, 1500, 1900, 1500, 1500]
    varying = np.concatenate([np.full(day, p * MIB) for p in peaks])
    params = {"memory_margin": 0.03, "uncertainty_margin": 0.0, "memory_tail_factor": 1.0,
              "memory_min_headroom_bytes": 64.0 * MIB, "memory_record_risk": 0.0}
    cpu = np.ones(steady.size)
    s = recommend("rightsize", make(cpu, steady, step=300.0), params)
    v = recommend("rightsize", make(cpu, varying, step=300.0), params)
    assert s.memory_limit == round_memory_up(2000 * MIB + 64 * MIB)  # min headroom wins
    tail = ((2000 - 1600) + (1900 - 1600) + (1800 - 1600) + (1700 - 1600)) / 4
    assert v.memory_limit == round_memory_up((2000 + tail) * MIB)


def test_rightsize_old_peaks_count_shrunk_outside_the_window() -> None:
    # 20 days of 5-minute samples at 1000 MiB, one 4000 MiB sample on day 1 (18+ days
    # before the end, outside the 14-day window): the peak is 1000 x (4000 / 1000) ** 0.2
    day = 24 * 12
    mem = np.full(20 * day, 1000.0 * MIB)
    mem[day + 10] = 4000.0 * MIB
    cpu = np.ones(mem.size)
    flat = {"memory_record_risk": 0.0, "uncertainty_margin": 0.0, "memory_margin": 0.03}
    rec = recommend("rightsize", make(cpu, mem, step=300.0), flat)
    assert rec.memory_limit == round_memory_up(1000 * 4**0.2 * 1.03 * MIB)  # 1360 MiB
    assert rec.memory_limit == 1360 * MIB
    assert any("is old; weighted down" in n for n in rec.notes)
    whole = recommend("rightsize", make(cpu, mem, step=300.0),
                      {**flat, "memory_old_peak_weight": 1.0})
    assert whole.memory_limit == round_memory_up(4000 * 1.03 * MIB)
    gone = recommend("rightsize", make(cpu, mem, step=300.0),
                     {**flat, "memory_old_peak_weight": 0.0})
    assert gone.memory_limit == round_memory_up(1000 * 1.03 * MIB)
    # all the history (memory_window_days 0) or the spike inside the window: kept whole
    for params, data in (({**flat, "memory_window_days": 0.0}, mem),
                         (flat, np.roll(mem, 10 * day))):
        assert recommend("rightsize", make(cpu, data, step=300.0), params).memory_limit == (
            round_memory_up(4000 * 1.03 * MIB))


def test_rightsize_record_headroom_risk_follows_usage_and_record_size() -> None:
    # 10 days; each day half its samples at the day's peak, half at half of it. Peaks
    # 1000, 1100 x 3, 1210 x 6: records (vs the 14 days before) on 2 of 9 days, both +10 %
    day = 24 * 12
    peaks = [1000, 1100, 1100, 1100, 1210, 1210, 1210, 1210, 1210, 1210]
    mem = np.concatenate(
        [np.r_[np.full(day // 2, p), np.full(day // 2, p / 2)] * MIB for p in peaks])
    cpu = np.ones(mem.size)
    h = make(cpu, mem, step=300.0)
    # the last 7 days: one at mean 825, six at 907.5 -> usage 895.71 / 1210 of the peak
    usage = (825 + 6 * 907.5) / 7 / 1210
    risk = 0.015 * 0.1 * usage / 0.04  # 2.78 %: within [0.3 %, 7.5 %]
    rec = recommend("rightsize", h, {"uncertainty_margin": 0.0})
    assert rec.memory_limit == round_memory_up(1210 * (1 + 0.1 * math.log((2 / 9) / risk)) * MIB)
    assert rec.memory_limit == 1462 * MIB
    assert any("record risk 2.8%" in n for n in rec.notes)
    plain = recommend("rightsize", h, {"uncertainty_margin": 0.0, "memory_risk_ref": 0.0})
    assert plain.memory_limit == round_memory_up(
        1210 * (1 + 0.1 * math.log((2 / 9) / 0.015)) * MIB)  # 1537 MiB
    assert plain.memory_limit == 1537 * MIB


def test_rightsize_record_risk_is_scaled_within_a_fifth_and_five_times() -> None:
    from rightsize.analysis.strategies.rightsize import _record_risk

    assert _record_risk(0.01, 0.1, 0.5, 0.04) == pytest.approx(0.0125)
    assert _record_risk(0.01, 0.5, 0.9, 0.04) == pytest.approx(0.05)  # busy, erratic: x5
    assert _record_risk(0.01, 0.01, 0.05, 0.04) == pytest.approx(0.002)  # idle: / 5
    assert _record_risk(0.01, 0.5, 0.9, 0.0) == 0.01  # ref 0: as configured
    assert _record_risk(0.0, 0.5, 0.9, 0.04) == 0.0  # risk 0: off
    assert _record_risk(0.01, 0.0, 0.9, 0.04) == 0.01  # no records: nothing to scale


def test_rightsize_hysteresis_keeps_a_close_previous_recommendation() -> None:
    cpu = np.full(3000, 1.0)
    mem = np.full(3000, 1000.0 * MIB)
    h = make(cpu, mem)
    fresh = recommend("rightsize", h)
    assert fresh.cpu_request is not None and fresh.memory_limit is not None
    close = replace(
        fresh,
        cpu_request=round_cpu_up(fresh.cpu_request * 1.04),
        memory_request=fresh.memory_limit + 40 * MIB,
        memory_limit=fresh.memory_limit + 40 * MIB,
    )
    kept = recommend("rightsize", replace(h, previous=close))
    assert (kept.cpu_request, kept.memory_limit) == (close.cpu_request, close.memory_limit)
    assert any("hysteresis" in n for n in kept.notes)
    # memory is never kept below the new estimate; far values are not kept
    low = replace(
        fresh, memory_request=fresh.memory_limit - MIB, memory_limit=fresh.memory_limit - MIB
    )
    assert recommend("rightsize", replace(h, previous=low)).memory_limit == fresh.memory_limit
    far = replace(fresh, cpu_request=fresh.cpu_request * 2)
    assert recommend("rightsize", replace(h, previous=far)).cpu_request == fresh.cpu_request
    # the default band is 5 %: 8 % above is not kept, 4 % is (above)
    out = replace(fresh, cpu_request=round_cpu_up(fresh.cpu_request * 1.08))
    assert recommend("rightsize", replace(h, previous=out)).cpu_request == fresh.cpu_request
    off = recommend("rightsize", replace(h, previous=close), {"hysteresis": 0.0})
    assert off.cpu_request == fresh.cpu_request


def test_rightsize_short_history_gets_more_headroom() -> None:
    mem = np.full(3000, 1000.0 * MIB)
    long = recommend("rightsize", make(np.ones(3000), mem, step=300.0))
    short = recommend("rightsize", make(np.ones(120), mem[:120], step=60.0))
    assert long.memory_limit is not None and short.memory_limit is not None
    assert short.confidence < long.confidence
    assert short.memory_limit > long.memory_limit


def test_rightsize_projects_growing_memory() -> None:
    step = 3600.0
    n = 10 * 24
    growing = np.linspace(1000, 2000, n) * MIB
    flat = np.full(n, 2000.0 * MIB)
    trend = {"trend_days": 7.0, "memory_record_risk": 0.0}
    g = recommend("rightsize", make(np.ones(n), growing, step=step), trend)
    f = recommend("rightsize", make(np.ones(n), flat, step=step), trend)
    assert g.memory_limit is not None and f.memory_limit is not None
    assert g.memory_limit > f.memory_limit
    assert any("growing" in n for n in g.notes)


def test_helpers() -> None:
    assert weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 2.0]), 0.5) == 2.0
    assert math.isnan(weighted_quantile(np.array([]), np.array([]), 0.5))
    peaks, _ = interval_peaks(np.array([0.0, 10, 20, 30]), np.array([1.0, 5, 2, 3]), 31, 15)
    assert list(peaks) == [1.0, 5.0, 3.0]


# --- properties -------------------------------------------------------------

values = st.lists(
    st.tuples(
        st.floats(0, 64, allow_nan=False),
        st.floats(0, 64 * 2**30, allow_nan=False),
    ),
    min_size=100,
    max_size=200,
)


@settings(max_examples=25, deadline=None)
@given(values, st.sampled_from(["rightsize", "krr-simple", "vpa"]))
def test_recommendations_are_well_formed(rows: list[tuple[float, float]], name: str) -> None:
    cpu = np.array([r[0] for r in rows])
    mem = np.array([r[1] for r in rows])
    rec = recommend(name, make(cpu, mem))
    assert rec.cpu_request is not None and rec.memory_request is not None
    assert rec.cpu_request >= 0.001
    assert rec.memory_request >= MIB and rec.memory_request % MIB == 0
    assert rec.memory_limit is None or rec.memory_limit >= rec.memory_request
    assert rec.cpu_limit is None or rec.cpu_limit >= rec.cpu_request
    assert 0.0 <= rec.confidence <= 1.0
    if name != "vpa":  # VPA's p90 of daily peaks may sit below the max by design
        assert rec.memory_limit is not None and rec.memory_limit >= mem.max()


@given(st.floats(0, 1e4, allow_nan=False), st.floats(0, 1e13, allow_nan=False))
def test_rounding_never_below_input(cores: float, nbytes: float) -> None:
    assert round_cpu_up(cores) >= cores
    assert round_memory_up(nbytes) >= nbytes


# --- lower bounds from OOM kills and throttling (short histories) ------------


def test_oom_kill_with_short_history_gives_a_memory_limit_lower_bound() -> None:
    """VPA's OOM rule: max(+20 %, +100 MiB) over the limit at the kill, marked a lower bound."""
    decl = Declared(cpu_request=0.25, cpu_limit=0.5, memory_limit=96 * MIB)
    hist = make(np.full(10, 0.1), np.full(10, 40.0 * MIB), step=2.0, oom_ts=[10.0], declared=decl)
    for name in ("rightsize", "krr-simple"):  # vpa sizes from any history
        rec = recommend(name, hist)
        assert rec.lower_bound and rec.basis == ("oom_kill",), name
        assert rec.memory_limit == round_memory_up(max(96 * MIB * 1.2, 196 * MIB)) == 196 * MIB
        assert rec.cpu_request is None and rec.memory_request is None and rec.cpu_limit is None
        assert rec.qos is None and rec.to_dict()["lower_bound"] is True
        assert any(n.startswith("lower bound: 1 OOM kill at 96Mi") for n in rec.notes)
    big = replace(hist, declared=replace(decl, memory_limit=2048 * MIB))
    assert recommend("rightsize", big).memory_limit == round_memory_up(2048 * MIB * 1.2)
    # the limit the kill hit, when known, stands for the one declared now
    raised = replace(big, oom_limit=np.array([96.0 * MIB]))
    assert recommend("rightsize", raised).memory_limit == 196 * MIB


def test_heavy_throttling_with_short_history_gives_a_cpu_limit_lower_bound() -> None:
    decl = Declared(cpu_request=0.2, cpu_limit=0.2, memory_limit=64 * MIB)
    hist = replace(
        make(np.full(10, 0.2), np.full(10, 30.0 * MIB), step=2.0, declared=decl),
        throttled=np.full(10, 0.9),
    )
    rec = recommend("rightsize", hist)
    assert rec.lower_bound and rec.basis == ("cpu_throttled",)
    assert rec.cpu_limit == pytest.approx(0.24) and rec.memory_limit is None
    light = replace(hist, throttled=np.full(10, 0.2))  # not most periods: no bound
    assert recommend("rightsize", light).basis == ("usage",)
    assert not recommend("rightsize", light).sized


def test_sized_recommendations_are_not_bounds() -> None:
    hist = make(np.full(100, 0.1), np.full(100, 30.0 * MIB), oom_ts=[600.0],
                declared=Declared(memory_limit=32 * MIB))
    rec = recommend("rightsize", hist)
    assert rec.sized and not rec.lower_bound and rec.basis == ("usage",)
    assert rec.to_dict()["basis"] == ["usage"]


def test_lab_grower_gets_a_lower_bound() -> None:
    import rightsize

    w = rightsize.analyze("data/lab-session")["lab-grower"]
    rec = w.recommendation
    assert w.oom_kills >= 1 and rec is not None
    assert rec.lower_bound and rec.memory_limit == 196 * MIB and rec.confidence == 1.0


def test_in_effect_is_the_declared_values_completed_by_the_last_recommendation(
    tmp_path: Path,
) -> None:
    from rightsize.analysis.strategies.in_effect import in_effect, last_recommendations
    from rightsize.model import Declared

    report = tmp_path / "report.json"
    report.write_text(
        '{"workloads": [{"workload": "web", "recommendation": {"cpu_request": 0.5, '
        '"cpu_limit": null, "memory_request": 1048576000, "memory_limit": 1048576000}}]}'
    )
    last = last_recommendations(report)
    assert last["web"].cpu_request == 0.5 and last["web"].memory_limit == 1048576000
    assert last_recommendations(tmp_path / "missing.json") == {}
    # declared CPU request wins; memory comes from the last recommendation
    got = in_effect(Declared(cpu_request=0.52), last["web"])
    assert got is not None
    assert (got.cpu_request, got.memory_request) == (0.52, 1048576000)
    assert in_effect(Declared(cpu_request=0.5)) is None  # no memory known


def test_rightsize_keeps_declared_values_within_the_band() -> None:
    """Applying our numbers does not move them the next day: a declared 1.04 core and a
    memory 5 % above the new estimate are kept (band 10 %), a 2-core request is not."""
    from rightsize.analysis.strategies.in_effect import in_effect
    from rightsize.model import Declared

    h = make(np.full(3000, 1.0), np.full(3000, 1000.0 * MIB))
    fresh = recommend("rightsize", h)
    assert fresh.cpu_request is not None and fresh.memory_limit is not None
    mem = int(fresh.memory_limit * 1.05)
    decl = Declared(cpu_request=fresh.cpu_request * 1.04, memory_request=mem, memory_limit=mem)
    kept = recommend("rightsize", replace(h, previous=in_effect(decl)))
    assert kept.cpu_request == round_cpu_up(fresh.cpu_request * 1.04)
    assert kept.memory_limit == round_memory_up(mem)
    far = Declared(cpu_request=2.0, memory_request=mem, memory_limit=mem)
    assert recommend("rightsize", replace(h, previous=in_effect(far))).cpu_request == (
        fresh.cpu_request
    )
