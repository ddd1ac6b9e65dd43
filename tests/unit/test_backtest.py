"""Backtest tests: hand-checkable scores on synthetic histories, changes, time split."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pytest

from rightsize.analysis.backtest import (
    _Replay,
    backtest,
    dynamic_backtest,
    histories_from_frame,
    score,
    split_history,
)
from rightsize.analysis.strategies import register, unregister
from rightsize.analysis.strategies.base import History, StrategySpec
from rightsize.errors import UsageError
from rightsize.model import Declared, Recommendation

MIB = 2**20
DAY = 86400.0


def _fixed(history: History, params: Mapping[str, float]) -> Recommendation:
    mem = int(params["memory"])
    return Recommendation(params["cpu"], None, mem, mem, 1.0)


def _max_seen(history: History, params: Mapping[str, float]) -> Recommendation:
    mem = int(np.nanmax(history.memory))
    return Recommendation(1.0, None, mem, mem, 1.0)


@pytest.fixture(autouse=True)
def _test_strategies() -> Iterator[None]:
    """Register the test strategies for each test only, so other modules never see them."""
    register(StrategySpec("test-fixed", _fixed, {"cpu": 2.0, "memory": 2000.0 * MIB}, "test"))
    register(StrategySpec("test-max", _max_seen, {}, "test"))
    yield
    unregister("test-fixed")
    unregister("test-max")


def hourly(days: int, cpu: float = 1.0, memory: float = 1000.0 * MIB) -> History:
    ts = np.arange(0, days * DAY + 1, 3600.0)
    n = ts.size
    return History(
        ts=ts,
        cpu=np.full(n, cpu),
        memory=np.full(n, memory),
        interval=np.full(n, 3600.0),
        throttled=np.full(n, np.nan),
        oom_ts=np.empty(0),
        declared=Declared(),
    )


def test_hand_checkable_scores() -> None:
    res = backtest({"a": hourly(10), "b": hourly(10)}, ["test-fixed"], refit_every=0)
    s = res.summary.iloc[0]
    assert s["scored"] == 2 and s["insufficient"] == 0
    assert s["oom_free"] == 1.0
    assert s["memory_slack"] == pytest.approx(0.5)  # (2000 - 1000) / 2000
    assert s["cpu_slack"] == pytest.approx(0.5)  # 1 of 2 requested cores unused
    assert s["cpu_above_request"] == 0.0
    assert s["cpu_above_limit"] == 0.0


def test_undersized_memory_is_never_oom_free_and_cpu_above_request() -> None:
    res = backtest(
        {"a": hourly(10)},
        ["test-fixed"],
        refit_every=0,
        params={"test-fixed": {"memory": 500.0 * MIB, "cpu": 0.25}},
    )
    s = res.summary.iloc[0]
    assert s["oom_free"] == 0.0
    assert s["memory_slack"] == 0.0  # every sample above the limit: clipped to 0
    assert s["cpu_above_request"] == pytest.approx(0.75)
    d = res.details.iloc[0]
    assert d["oom_samples"] == d["test_samples"]


def test_score_cpu_limit_share() -> None:
    h = hourly(1, cpu=2.0)
    rec = Recommendation(1.0, 1.5, 4 * MIB * 1000, 4 * MIB * 1000, 1.0)
    out = score(rec, h)
    assert out["cpu_above_limit"] == pytest.approx(0.25)
    assert out["cpu_above_request"] == pytest.approx(0.5)
    assert out["cpu_slack"] == 0.0


def test_change_counting() -> None:
    rising = hourly(10)
    rising = History(
        ts=rising.ts,
        cpu=rising.cpu,
        memory=np.linspace(1, 2, rising.ts.size) * 1e9,
        interval=rising.interval,
        throttled=rising.throttled,
        oom_ts=rising.oom_ts,
    )
    # cut at day 7; refits at days 8, 9, 10 -> 3 changes when memory keeps rising
    res = backtest({"r": rising, "flat": hourly(10)}, ["test-max"], refit_every=DAY)
    changes = res.details.set_index("workload")["changes"]
    assert changes["r"] == 3
    assert changes["flat"] == 0
    assert res.summary.iloc[0]["changes"] == 3


def test_refits_see_the_recommendation_in_effect() -> None:
    seen: list[Recommendation | None] = []

    def spy(history: History, params: Mapping[str, float]) -> Recommendation:
        seen.append(history.previous)
        return Recommendation(1.0, None, MIB * (len(seen) % 2 + 1), MIB * (len(seen) % 2 + 1), 1.0)

    register(StrategySpec("test-spy", spy, {}, "records History.previous"))
    try:
        backtest({"w": hourly(10)}, ["test-spy"], refit_every=DAY)
    finally:
        unregister("test-spy")
    # the first (scored) fit has no previous; each refit gets the one before it
    assert seen[0] is None and len(seen) == 4
    assert [p.memory_limit if p else None for p in seen[1:]] == [2 * MIB, MIB, 2 * MIB]


def test_train_split_is_by_time_not_count() -> None:
    ts = np.r_[np.arange(0.0, 100.0), np.arange(100.0, 1001.0, 100.0)]
    n = ts.size
    h = History(ts, np.ones(n), np.ones(n), np.ones(n), np.full(n, np.nan), np.array([650.0]))
    train, test, cut = split_history(h, 0.7)
    assert cut == 700.0
    assert train.ts.size == 107 and train.ts[-1] == 700.0  # 100 dense + 100..700
    assert list(test.ts) == [800.0, 900.0, 1000.0]
    assert list(train.oom_ts) == [650.0] and test.oom_ts.size == 0
    with pytest.raises(UsageError):
        split_history(h, 1.5)


def test_insufficient_counted_separately() -> None:
    res = backtest({"tiny": hourly(2), "big": hourly(10)}, ["krr-simple"], refit_every=0)
    s = res.summary.iloc[0]
    assert s["insufficient"] == 1 and s["scored"] == 1
    assert s["oom_free"] == 1.0
    status = res.details.set_index("workload")["status"]
    assert status["tiny"] == "insufficient"


def test_frame_input_and_outputs() -> None:
    ts = np.arange(0, 300 * 60, 60.0)
    df = pd.DataFrame(
        {
            "workload": "w",
            "ts": ts,
            "cpu": 0.5,
            "memory": 1e8,
            "cpu_limit": 1.0,
            "memory_limit": 2e8,
        }
    )
    hs = histories_from_frame(df)
    assert hs["w"].interval[0] == 60.0 and hs["w"].declared.memory_limit == 200_000_000
    res = backtest(df, ["rightsize", "krr-simple", "vpa"], refit_every=3600)
    assert list(res.summary["strategy"]) == ["rightsize", "krr-simple", "vpa"]
    table = res.format_table()
    assert "krr-simple" in table and "OOM-free" in table
    payload = json.loads(json.dumps(res.to_dict()))
    assert len(payload["workloads"]) == 3
    assert payload["summary"][0]["scored"] == 1


def _max_or_double(history: History, params: Mapping[str, float]) -> Recommendation:
    """Memory = the largest observed working set, doubled once an OOM was seen."""
    mem = int(np.nanmax(history.memory)) * (2 if history.oom_ts.size else 1)
    return Recommendation(1.0, None, mem, mem, 1.0)


def test_dynamic_replay_feeds_ooms_back() -> None:
    """10 days hourly, memory 1000 MiB then 1500 MiB from day 8; train 0.5 (cut at day 5).

    Days 5..9 are replayed. ``test-max`` sizes 1000 MiB; on day 8 usage exceeds it, the
    observed memory is capped at 1000 MiB, so it never learns: days 8 and 9 OOM
    (3/5 OOM-free days). ``test-oom`` doubles after the OOM it is told about: only day 8.
    """
    h = hourly(10)
    mem = np.where(h.ts > 8 * DAY, 1500.0 * MIB, 1000.0 * MIB)
    h = History(h.ts, h.cpu, mem, h.interval, h.throttled, h.oom_ts)
    register(StrategySpec("test-oom", _max_or_double, {}, "test"))
    try:
        res = dynamic_backtest({"w": h}, ["test-max", "test-oom"], train=0.5)
    finally:
        unregister("test-oom")
    d = res.details.set_index("strategy")
    assert res.mode == "dynamic"
    assert d.at["test-max", "days"] == 5 and d.at["test-max", "oom_days"] == 2
    assert d.at["test-max", "changes"] == 0  # the capped observations never exceed 1000 MiB
    assert d.at["test-oom", "oom_days"] == 1
    assert d.at["test-oom", "changes"] == 1  # 1000 -> 3000 MiB after day 8
    s = res.summary.set_index("strategy")
    assert s.at["test-max", "oom_free_days"] == pytest.approx(3 / 5)
    assert s.at["test-oom", "oom_free_days"] == pytest.approx(4 / 5)
    assert s.at["test-oom", "changes_per_day"] == pytest.approx(1 / 5)


def test_dynamic_replay_does_not_ratchet_memory_after_one_oom(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """14 days hourly at 1000 MiB with one hour at 1300 MiB on day 9; train 0.5.

    ``rightsize`` sizes about 1.03 x 1000 MiB, so day 9 OOMs (capped at that bound)
    and the next fit goes 20 % above the bound at the kill. Later fits see no new
    kill: the memory must stay put, not grow 20 % a day by bumping the limit it
    set itself (which is what the declared limit is after it is applied).
    """
    h = hourly(14)
    mem = np.where((h.ts > 9 * DAY) & (h.ts <= 9 * DAY + 3600), 1300.0 * MIB, 1000.0 * MIB)
    h = History(h.ts, h.cpu, mem, h.interval, h.throttled, h.oom_ts)
    bounds: list[int] = []
    advance = _Replay.advance

    def spy(self: _Replay, rec: Recommendation | None) -> None:
        advance(self, rec)
        if self.current is not None and self.current.memory_limit is not None:
            bounds.append(self.current.memory_limit)

    monkeypatch.setattr(_Replay, "advance", spy)
    res = dynamic_backtest({"w": h}, ["rightsize"], train=0.5)
    d = res.details.iloc[0]
    assert d["oom_days"] == 1
    killed_at = bounds[2]  # days 7, 8 and 9 ran on the first bound
    assert bounds[:3] == [killed_at] * 3 and killed_at < 1300 * MIB
    after = bounds[3:]
    assert len(after) == 4 and len(set(after)) == 1  # one change, then none
    assert after[0] >= killed_at * 1.2


def test_dynamic_cpu_scores_and_samples_above_request() -> None:
    """Request 0.5 core on usage alternating 0.25 / 1.0: half the samples above it,
    CPU time above = 0.5 / 1.25 = 40 %, slack = 0.25 / 2 per pair / 0.5 = 25 %."""
    h = hourly(10)
    cpu = np.where(np.arange(h.ts.size) % 2 == 0, 0.25, 1.0)
    h = History(h.ts, cpu, h.memory, h.interval, h.throttled, h.oom_ts)
    params = {"test-fixed": {"cpu": 0.5, "memory": 2000.0 * MIB}}
    for run in (backtest, dynamic_backtest):
        s = run({"w": h}, ["test-fixed"], train=0.5, params=params).summary.iloc[0]
        assert s["cpu_samples_above_request"] == pytest.approx(0.5, abs=0.01)
        assert s["cpu_above_request"] == pytest.approx(0.4, abs=0.01)
        assert s["cpu_slack"] == pytest.approx(0.25, abs=0.01)
        assert s["oom_free_days"] == 1.0
