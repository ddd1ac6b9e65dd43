"""Workload identity (Kubernetes, Compose, explicit, name) and pooled statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsize.analysis.workloads import (
    QUANTILES,
    grouped_stats,
    owner_from_pod,
    workload_name,
    workload_names,
)


@pytest.mark.parametrize(
    ("pod", "owner"),
    [
        ("web-7d4b9c8f6d-x2x9z", "web"),  # Deployment: ReplicaSet hash + suffix
        ("api-server-5f6b7c9d8-qwz4k", "api-server"),
        ("db-0", "db"),  # StatefulSet ordinal
        ("kafka-broker-12", "kafka-broker"),
        ("node-exporter-x7kfp", "node-exporter"),  # DaemonSet suffix
        ("backup-29012345-bd9xk", "backup"),  # CronJob
        ("debug", "debug"),  # bare pod
        ("my-cache", "my-cache"),  # vowels: not a generated suffix
        ("web-backend", "web-backend"),
    ],
)
def test_owner_from_pod(pod: str, owner: str) -> None:
    assert owner_from_pod(pod) == owner


def k8s(pod: str, container: str, ns: str = "shop") -> dict[str, str]:
    return {
        "io.kubernetes.pod.namespace": ns,
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.container.name": container,
    }


def test_workload_name_rules() -> None:
    assert (
        workload_name("k8s_app_web-7d4b9c8f6d-x2x9z", k8s("web-7d4b9c8f6d-x2x9z", "app"))
        == "shop/web/app"
    )
    assert workload_name("x", k8s("db-1", "postgres", "data")) == "data/db/postgres"
    assert workload_name("k8s_POD_web", k8s("web-7d4b9c8f6d-x2x9z", "POD")) is None
    sandbox = {"io.kubernetes.docker.type": "podsandbox"}
    assert workload_name("k8s_POD_x", sandbox) is None
    compose = {"com.docker.compose.project": "blog", "com.docker.compose.service": "db"}
    assert workload_name("blog-db-1", compose) == "blog/db"
    assert workload_name("blog-db-1", compose, "explicit") == "explicit"
    assert workload_name("lab-idle", {"app": "x"}) == "lab-idle"


def test_workload_names_frame_pools_replicas() -> None:
    containers = pd.DataFrame(
        {
            "name": ["a", "b", "c", "d", "e"],
            "labels": [
                k8s("web-7d4b9c8f6d-x2x9z", "app"),
                k8s("web-7d4b9c8f6d-q8r2t", "app"),
                k8s("web-7d4b9c8f6d-x2x9z", "POD"),
                {"com.docker.compose.project": "p", "com.docker.compose.service": "s"},
                {},
            ],
            "workload": [None, None, None, None, "imported"],
        }
    )
    names = workload_names(containers).tolist()
    assert names == ["shop/web/app", "shop/web/app", None, "p/s", "imported"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.floats(0, 1e9, allow_nan=False) | st.just(float("nan"))),
        min_size=1,
        max_size=200,
    )
)
def test_grouped_stats_match_numpy(pairs: list[tuple[int, float]]) -> None:
    codes = np.array([c for c, _ in pairs], dtype=np.int64)
    values = np.array([v for _, v in pairs], dtype=np.float64)
    g = grouped_stats(codes, values, 6)
    for code in range(6):
        v = values[(codes == code) & ~np.isnan(values)]
        assert g.count[code] == v.size
        if v.size == 0:
            assert np.isnan(g.quantiles[code]).all() and np.isnan(g.max[code])
            continue
        expected = np.percentile(v, [q * 100 for q in QUANTILES])
        assert np.allclose(g.quantiles[code], expected, rtol=1e-9, atol=1e-6)
        assert g.max[code] == v.max()
        assert np.isclose(g.mean[code], v.mean())


def test_grouped_stats_contiguous_fast_path_matches_numpy() -> None:
    rng = np.random.default_rng(7)
    sizes = [120, 0, 75, 300]
    codes = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    values = rng.exponential(2.0, size=codes.size)
    values[::17] = np.nan
    g = grouped_stats(codes, values, len(sizes), interval=np.ones(codes.size))
    for code, size in enumerate(sizes):
        v = values[codes == code]
        v = v[~np.isnan(v)]
        assert g.count[code] == v.size
        if size:
            assert np.allclose(g.quantiles[code], np.percentile(v, [50, 90, 95, 99]))
            assert g.duration[code] == v.size
        else:
            assert np.isnan(g.max[code])


def test_grouped_stats_in_blocks_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from rightsize.analysis import workloads

    rng = np.random.default_rng(3)
    counts = rng.integers(0, 3000, 40)
    counts[7] = 9000  # a group longer than a block
    codes = np.repeat(np.arange(40), counts)
    values = rng.lognormal(0, 1, codes.size)
    values[rng.random(codes.size) < 0.1] = np.nan
    interval = rng.random(codes.size)
    whole = workloads.grouped_stats(codes, values, 44, interval=interval)
    monkeypatch.setattr(workloads, "STATS_BLOCK_ROWS", 2000)
    blocked = workloads.grouped_stats(codes, values, 44, interval=interval)
    for field in ("quantiles", "max", "mean", "count", "duration"):
        np.testing.assert_array_equal(getattr(blocked, field), getattr(whole, field))
    assert int(whole.count[7]) == int(np.isfinite(values[codes == 7]).sum())


@pytest.mark.parametrize("q", [0.0, 0.33, 0.5, 0.9, 0.999, 1.0])
def test_one_quantile_partitions_and_equals_the_sort(q: float,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With one quantile, groups of one size are partitioned, not sorted: the quantile
    and the maximum equal the sorted path's bit for bit (ties, NaN, groups of one row),
    and equal numpy's."""
    from rightsize.analysis import workloads

    rng = np.random.default_rng(int(q * 1000))
    counts = np.concatenate((np.full(12, 97), np.full(3, 1), rng.integers(50, 300, 6)))
    codes = np.repeat(np.arange(counts.size), counts)
    values = np.round(rng.lognormal(0, 1, codes.size), 1)  # ties
    values[rng.random(codes.size) < 0.1] = np.nan
    calls: list[int] = []
    partition = workloads._partition_rows

    def spy(rows: np.ndarray, quantile: float) -> None:
        calls.append(rows.shape[0])
        partition(rows, quantile)

    monkeypatch.setattr(workloads, "_partition_rows", spy)
    got = workloads._grouped_stats(codes, values, counts.size, None, (q,))
    assert calls  # the partition path ran
    monkeypatch.setattr(workloads, "_partition_rows",
                        lambda rows, quantile: rows.sort(axis=1))
    want = workloads._grouped_stats(codes, values, counts.size, None, (q,))
    np.testing.assert_array_equal(got.quantiles, want.quantiles)
    np.testing.assert_array_equal(got.max, want.max)
    for g in range(counts.size):
        mine = values[codes == g]
        mine = mine[~np.isnan(mine)]
        if mine.size:
            assert got.quantiles[g, 0] == pytest.approx(np.percentile(mine, 100 * q), abs=1e-12)
            assert got.max[g] == mine.max()
