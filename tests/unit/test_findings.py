"""Finding rules, severities and messages (rightsize.analysis.findings)."""

from __future__ import annotations

import math

import pytest

from rightsize.analysis.findings import OomKills, Throttling, workload_findings
from rightsize.analysis.thresholds import Prices, Thresholds
from rightsize.analysis.workloads import ResourceStats
from rightsize.errors import UsageError
from rightsize.model import FINDING_KINDS, Declared, Finding

MiB = 2**20


def stats(p95: float, peak: float | None = None, n: int = 1000) -> ResourceStats:
    peak = p95 if peak is None else peak
    return ResourceStats(
        p95 * 0.5, p95 * 0.9, p95, min(p95 * 1.01, peak), peak, p95 * 0.6, n, 86400.0, 0
    )


def run(
    declared: Declared, cpu: ResourceStats, memory: ResourceStats, **kw: object
) -> list[Finding]:
    args: dict[str, object] = {
        "throttling": Throttling(),
        "oom": OomKills(),
        "memory_share_above": 0.0,
        "samples": 1000,
        "span": 86400.0,
        "thresholds": Thresholds(),
    }
    args.update(kw)
    return workload_findings(declared=declared, cpu=cpu, memory=memory, **args)  # type: ignore[arg-type]


FULL = Declared(cpu_request=0.5, cpu_limit=1.0, memory_request=256 * MiB, memory_limit=512 * MiB)


def kinds(findings: list[Finding]) -> set[tuple[str, str | None, str]]:
    return {(f.kind, f.resource, f.severity) for f in findings}


def test_well_sized_workload_has_no_findings() -> None:
    assert run(FULL, stats(0.4), stats(200 * MiB, 220 * MiB)) == []


def test_over_request_cpu_message_carries_the_numbers() -> None:
    d = Declared(cpu_request=2.0, cpu_limit=2.0, memory_request=64 * MiB, memory_limit=128 * MiB)
    (f,) = [f for f in run(d, stats(0.05), stats(60 * MiB)) if f.kind == "over_request"]
    assert f.resource == "cpu" and f.severity == "warning"
    assert f.message == "CPU request 2 is 40\u00d7 the p95 usage of 50m; 1.95 cores idle"


def test_over_request_needs_a_minimum_idle_amount_and_prices_add_money() -> None:
    tiny = Declared(cpu_request=0.05, cpu_limit=None, memory_request=8 * MiB, memory_limit=None)
    assert not [f for f in run(tiny, stats(0.001), stats(1 * MiB)) if f.kind == "over_request"]
    t = Thresholds(prices=Prices(cpu_per_core_hour=0.04, memory_per_gib_hour=0.005))
    d = Declared(cpu_request=1.0, cpu_limit=None, memory_request=2048 * MiB, memory_limit=None)
    found = {
        f.resource: f
        for f in run(d, stats(0.2), stats(100 * MiB), thresholds=t)
        if f.kind == "over_request"
    }
    assert "per month" in found["cpu"].message
    assert found["cpu"].details["cost_per_month"] == pytest.approx(0.8 * 0.04 * 730)
    assert found["memory"].severity == "warning"
    assert found["memory"].details["cost_per_month"] == pytest.approx(1948 / 1024 * 0.005 * 730)


def test_under_request_is_told_apart_from_over_request() -> None:
    d = Declared(cpu_request=0.25, cpu_limit=None, memory_request=128 * MiB, memory_limit=None)
    got = kinds(run(d, stats(1.0), stats(300 * MiB)))
    assert ("under_request", "cpu", "warning") in got
    assert ("under_request", "memory", "warning") in got
    assert not any(k == "over_request" for k, _, _ in got)


def test_oom_killed_is_always_critical() -> None:
    t = Thresholds(oom_risk_critical=None, oom_risk_warning=None, oom_risk_info=None)
    (f,) = [
        f
        for f in run(
            FULL, stats(0.4), stats(200 * MiB), oom=OomKills(kills=3, from_events=3), thresholds=t
        )
        if f.kind == "oom_killed"
    ]
    assert f.severity == "critical"
    assert f.message.startswith("3 OOM kills of a child process while the container kept running")


@pytest.mark.parametrize(
    ("peak", "p99", "share", "severity"),
    [
        (0.5, 0.5, 0.0, None),
        (0.85, 0.7, 0.0, "info"),
        (0.92, 0.8, 0.0, "warning"),
        (0.85, 0.8, 0.3, "warning"),
        (0.99, 0.96, 0.5, "critical"),
    ],
)
def test_oom_risk_grades(peak: float, p99: float, share: float, severity: str | None) -> None:
    limit = 1000 * MiB
    mem = ResourceStats(
        0.1 * limit,
        0.2 * limit,
        0.3 * limit,
        p99 * limit,
        peak * limit,
        0.2 * limit,
        500,
        3600.0,
        0,
    )
    d = Declared(0.5, 1.0, 100 * MiB, limit)
    got = [f for f in run(d, stats(0.4), mem, memory_share_above=share) if f.kind == "oom_risk"]
    assert [f.severity for f in got] == ([severity] if severity else [])


def test_cpu_throttled_grades_and_minimum_periods() -> None:
    heavy = Throttling(periods=3000, throttled_periods=2900, throttled_seconds=200.0)
    (f,) = [
        f
        for f in run(FULL, stats(1.0), stats(200 * MiB), throttling=heavy)
        if f.kind == "cpu_throttled"
    ]
    assert f.severity == "critical" and "97% of CFS periods" in f.message
    few = Throttling(periods=50, throttled_periods=50, throttled_seconds=5.0)
    assert not [
        f
        for f in run(FULL, stats(1.0), stats(200 * MiB), throttling=few)
        if f.kind == "cpu_throttled"
    ]
    mild = Throttling(periods=1000, throttled_periods=300, throttled_seconds=5.0)
    assert ("cpu_throttled", "cpu", "warning") in kinds(
        run(FULL, stats(0.9), stats(1), throttling=mild)
    )


def test_nothing_declared_and_insufficient_data() -> None:
    got = kinds(run(Declared(), stats(0.1), stats(10 * MiB), samples=20, span=60.0))
    assert {
        ("no_limit", "cpu", "info"),
        ("no_limit", "memory", "warning"),
        ("no_request", "cpu", "info"),
        ("no_request", "memory", "info"),
        ("insufficient_data", None, "info"),
    } == got


def test_findings_sorted_and_kinds_known() -> None:
    found = run(
        Declared(), stats(0.1), stats(10 * MiB), oom=OomKills(kills=1, exits=1, from_events=1)
    )
    assert found[0].kind == "oom_killed"
    assert all(f.kind in FINDING_KINDS for f in found)


def test_thresholds_from_mapping() -> None:
    t = Thresholds.from_mapping(
        {
            "min_samples": 10,
            "oom_risk_critical": math.inf,
            "prices": {"cpu_per_core_hour": 0.03},
            "no_limit_cpu_severity": "warning",
        }
    )
    assert t.min_samples == 10 and isinstance(t.min_samples, int)
    assert t.oom_risk_critical is None
    assert t.prices.cpu_per_core_hour == 0.03
    assert t.no_limit_cpu_severity == "warning"
    with pytest.raises(UsageError, match=r"thresholds\.bogus"):
        Thresholds.from_mapping({"bogus": 1})
    with pytest.raises(UsageError, match=r"thresholds\.prices\.eur"):
        Thresholds.from_mapping({"prices": {"eur": 1}})
    with pytest.raises(UsageError, match="min_samples"):
        Thresholds.from_mapping({"min_samples": "many"})
    with pytest.raises(UsageError, match="severity"):
        Thresholds.from_mapping({"no_limit_cpu_severity": "fatal"})


# ------------------------------------------------ findings agree with the recommendation


def test_over_request_only_when_the_recommendation_lowers_the_request() -> None:
    """A 250m request over a 100m p95 is not "over" when the recommendation raises it."""
    from rightsize.model import Recommendation

    d = Declared(cpu_request=0.25, cpu_limit=None, memory_request=64 * MiB, memory_limit=None)
    cpu, mem = stats(0.1), stats(60 * MiB)
    assert [f for f in run(d, cpu, mem) if f.kind == "over_request"]  # usage alone says "over"
    raises = Recommendation(0.349, None, 96 * MiB, 96 * MiB, 0.5)
    found = run(d, cpu, mem, recommendation=raises)
    assert not [f for f in found if f.kind in ("over_request", "under_request")]
    lowers = Recommendation(0.12, None, 96 * MiB, 96 * MiB, 0.5)
    (f,) = [f for f in run(d, cpu, mem, recommendation=lowers) if f.kind == "over_request"]
    assert f.message.endswith("; recommended request 120m")


def test_under_request_only_when_the_recommendation_raises_the_request() -> None:
    from rightsize.model import Recommendation

    d = Declared(cpu_request=0.5, cpu_limit=None, memory_request=64 * MiB, memory_limit=None)
    cpu, mem = stats(0.8), stats(60 * MiB)
    lowers = Recommendation(0.4, None, 96 * MiB, 96 * MiB, 0.5)
    assert not [f for f in run(d, cpu, mem, recommendation=lowers) if f.kind == "under_request"]
    raises = Recommendation(0.9, None, 96 * MiB, 96 * MiB, 0.5)
    (f,) = [f for f in run(d, cpu, mem, recommendation=raises) if f.kind == "under_request"]
    assert f.message.endswith("; recommended request 0.9")


def test_one_insufficient_data_rule_and_message() -> None:
    """The finding and the strategy's note state the same rule (thresholds.data_shortfall)."""
    import numpy as np

    from rightsize.analysis.strategies import recommend
    from rightsize.analysis.strategies.base import History
    from rightsize.analysis.thresholds import MIN_DURATION, MIN_SAMPLES, data_shortfall

    n = 20
    hist = History(
        ts=np.arange(n, dtype=np.float64),
        cpu=np.full(n, 0.1),
        memory=np.full(n, 50.0 * MiB),
        interval=np.ones(n),
        throttled=np.full(n, np.nan),
        oom_ts=np.empty(0),
    )
    rec = recommend("rightsize", hist)
    assert not rec.sized
    reason = data_shortfall(n, n - 1.0)
    assert reason == "20 samples over 19s (at least 30 samples over 1m needed)"
    assert rec.notes == (f"insufficient data: {reason}",)
    (f,) = [
        f
        for f in run(FULL, stats(0.1), stats(50 * MiB), samples=n, span=n - 1.0, recommendation=rec)
        if f.kind == "insufficient_data"
    ]
    assert f.message == f"not enough data for a recommendation: {reason}"
    # the thresholds' defaults are the strategy's defaults: one rule, not two
    from rightsize.analysis.strategies import get_strategy

    defaults = get_strategy("rightsize").defaults
    assert Thresholds().min_samples == MIN_SAMPLES == defaults["min_samples"]
    assert Thresholds().min_duration == MIN_DURATION == defaults["min_hours"] * 3600
    # enough data: no insufficient_data finding, whatever the confidence
    sized = recommend("rightsize", replace_n(hist, 40, 2.0))
    assert sized.sized
    assert not [
        f
        for f in run(FULL, stats(0.1), stats(50 * MiB), samples=40, span=78.0, recommendation=sized)
        if f.kind == "insufficient_data"
    ]


def replace_n(hist: object, n: int, step: float) -> object:
    import numpy as np

    from rightsize.analysis.strategies.base import History

    return History(
        ts=np.arange(n, dtype=np.float64) * step,
        cpu=np.full(n, 0.1),
        memory=np.full(n, 50.0 * MiB),
        interval=np.full(n, step),
        throttled=np.full(n, np.nan),
        oom_ts=np.empty(0),
    )


def test_lab_insufficient_finding_matches_the_strategy_note() -> None:
    import rightsize

    result = rightsize.analyze("data/lab-session")
    for w in result:
        rec = w.recommendation
        assert rec is not None
        found = [f for f in w.findings if f.kind == "insufficient_data"]
        if rec.sized:
            assert not found, w.name
        else:
            (f,) = found
            (note,) = [n for n in rec.notes if n.startswith("insufficient data: ")]
            assert note.removeprefix("insufficient data: ") in f.message
