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
