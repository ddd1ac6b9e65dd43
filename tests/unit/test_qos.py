"""QoS classes and the Guaranteed/Burstable options, against hand-computed values."""

from __future__ import annotations

import math

import pytest

from rightsize.analysis.qos import qos_options, with_qos_options
from rightsize.analysis.workloads import ResourceStats
from rightsize.model import Recommendation, qos_class

MI = 2**20


def _cpu(p99: float) -> ResourceStats:
    return ResourceStats(
        p50=p99 / 4, p90=p99 / 2, p95=p99 / 1.5, p99=p99, max=p99 * 2, mean=p99 / 4,
        samples=100, duration=3600.0, gaps=0,
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((None, None, None, None), "BestEffort"),
        ((0.5, 0.5, 256 * MI, 256 * MI), "Guaranteed"),
        ((None, 0.5, None, 256 * MI), "Guaranteed"),  # requests default to the limits
        ((0.25, 0.5, 256 * MI, 256 * MI), "Burstable"),
        ((0.5, None, 256 * MI, 256 * MI), "Burstable"),  # no CPU limit
        ((0.5, 0.5, 256 * MI, None), "Burstable"),  # no memory limit
        ((None, None, 256 * MI, None), "Burstable"),
    ],
)
def test_qos_class_follows_kubernetes(
    values: tuple[float | None, float | None, int | None, int | None], expected: str
) -> None:
    assert qos_class(*values) == expected


def test_options_for_a_request_without_cpu_limit() -> None:
    rec = Recommendation(0.2, None, 256 * MI, 256 * MI, 0.9, ("n",))
    guaranteed, burstable = qos_options(rec, _cpu(0.5))
    # Guaranteed: CPU request = limit = p99 0.5 x 1.1 = 550m; memory request = limit
    assert guaranteed.qos == "Guaranteed"
    assert (guaranteed.cpu_request, guaranteed.cpu_limit) == (0.55, 0.55)
    assert (guaranteed.memory_request, guaranteed.memory_limit) == (256 * MI, 256 * MI)
    assert "350m more CPU reserved than Burstable" in guaranteed.note
    # Burstable: the strategy's values unchanged
    assert burstable.qos == "Burstable"
    assert (burstable.cpu_request, burstable.cpu_limit) == (0.2, None)
    assert (burstable.memory_request, burstable.memory_limit) == (256 * MI, 256 * MI)
    assert "no CPU limit" in burstable.note
    assert rec.qos == "Burstable"
    for option in (guaranteed, burstable):
        assert qos_class(
            option.cpu_request, option.cpu_limit, option.memory_request, option.memory_limit
        ) == option.qos


def test_guaranteed_never_goes_below_the_recommended_values() -> None:
    rec = Recommendation(0.8, 1.2, 300 * MI, 400 * MI, 1.0)
    guaranteed, burstable = qos_options(rec, _cpu(0.1))
    assert (guaranteed.cpu_request, guaranteed.cpu_limit) == (1.2, 1.2)
    assert (guaranteed.memory_request, guaranteed.memory_limit) == (400 * MI, 400 * MI)
    assert "more CPU reserved" in guaranteed.note  # 1.2 vs the Burstable request 0.8
    assert (burstable.cpu_request, burstable.cpu_limit) == (0.8, 1.2)
    assert burstable.memory_limit == 400 * MI


def test_a_guaranteed_recommendation_gets_a_burstable_option_without_cpu_limit() -> None:
    rec = Recommendation(1.0, 1.0, 512 * MI, 512 * MI, 1.0)
    assert rec.qos == "Guaranteed"
    guaranteed, burstable = qos_options(rec, _cpu(0.5))
    assert (guaranteed.cpu_request, guaranteed.cpu_limit) == (1.0, 1.0)
    assert "more CPU reserved" not in guaranteed.note
    assert burstable.qos == "Burstable" and burstable.cpu_limit is None
    assert qos_class(
        burstable.cpu_request, burstable.cpu_limit, burstable.memory_request,
        burstable.memory_limit,
    ) == "Burstable"


def test_no_options_without_a_recommendation_and_nan_usage_is_safe() -> None:
    empty = Recommendation(None, None, None, None, 0.0, ("insufficient data: 3 samples",))
    assert qos_options(empty, _cpu(1.0)) == ()
    assert empty.qos is None
    assert empty.to_dict()["qos_options"] == {}
    rec = with_qos_options(Recommendation(0.1, None, 64 * MI, 64 * MI, 0.5), _cpu(math.nan))
    guaranteed = rec.options[0]
    assert guaranteed.cpu_request == 0.1  # no usage known: the recommended request stands
    doc = rec.to_dict()
    assert doc["qos"] == "Burstable"
    assert doc["qos_options"]["guaranteed"]["cpu_limit"] == 0.1
    assert doc["qos_options"]["burstable"]["cpu_limit"] is None
