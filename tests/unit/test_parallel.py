"""Independent blocks on a few threads: block order kept, the same numbers as one thread."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from rightsize.analysis import parallel


def test_threads_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_THREADS", "3")
    assert parallel.threads() == 3
    monkeypatch.setenv("RIGHTSIZE_THREADS", "1")
    assert parallel.threads() == 1
    for bad in ("0", "-2", "two", ""):
        monkeypatch.setenv("RIGHTSIZE_THREADS", bad)
        assert 1 <= parallel.threads() <= parallel.MAX_THREADS  # the machine's default


def test_map_blocks_keeps_the_order_and_uses_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_THREADS", "3")
    names: set[str] = set()
    lock = threading.Lock()

    def work(i: int) -> int:
        time.sleep(0.02 * (5 - i % 5))  # later blocks finish first
        with lock:
            names.add(threading.current_thread().name)
        return i * i

    assert parallel.map_blocks(work, list(range(9))) == [i * i for i in range(9)]
    assert len(names) == 3 and all(n.startswith("rightsize-block") for n in names)
    names.clear()
    monkeypatch.setenv("RIGHTSIZE_THREADS", "1")
    assert parallel.map_blocks(work, [1, 2]) == [1, 4]
    assert names == {threading.current_thread().name}  # one thread: the caller's


def test_a_block_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_THREADS", "2")

    def work(i: int) -> int:
        if i == 3:
            raise ValueError("block 3")
        return i

    with pytest.raises(ValueError, match="block 3"):
        parallel.map_blocks(work, list(range(6)))


@pytest.mark.parametrize("seed", range(12))
def test_usage_on_threads_equals_one_thread(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks written over their own input rows, failcnt kills and gaps, on 3 threads."""
    import rightsize.analysis.usage as usage
    from rightsize.analysis.workloads import container_blocks
    from tests.unit.test_perf_equivalence import _random_samples

    samples, events = _random_samples(np.random.default_rng(seed))
    more, more_events = _random_samples(np.random.default_rng(seed + 100))
    for frame in (more, more_events):  # a second set of containers: several blocks
        frame["container_id"] = "x" + frame["container_id"].astype(str)
    samples = pd.concat([samples, more], ignore_index=True)
    events = pd.concat([events, more_events], ignore_index=True)
    monkeypatch.setattr(usage, "_BLOCK_ROWS", 2)
    monkeypatch.setenv("RIGHTSIZE_THREADS", "1")
    one = usage.usage_series(samples.copy(), events, failcnt_hosts=["h0"], reuse_inputs=True)
    monkeypatch.setenv("RIGHTSIZE_THREADS", "3")
    many = usage.usage_series(samples.copy(), events, failcnt_hosts=["h0"], reuse_inputs=True)
    pd.testing.assert_frame_equal(many.frame, one.frame, check_exact=True)
    pd.testing.assert_frame_equal(many.gaps, one.gaps, check_exact=True)
    pd.testing.assert_frame_equal(many.ooms, one.ooms, check_exact=True)
    assert len(container_blocks(one.codes, 2)) > 1


def test_stats_and_strategy_on_threads_equal_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from rightsize.analysis import workloads
    from rightsize.analysis.strategies import recommend_pool, resolve_params
    from rightsize.analysis.strategies import rightsize as strategy
    from rightsize.analysis.strategies.base import Pool
    from tests.unit.test_strategy_pool import HISTORIES

    rng = np.random.default_rng(5)
    counts = rng.integers(0, 3000, 40)
    codes = np.repeat(np.arange(40), counts)
    values = rng.lognormal(0, 1, codes.size)
    values[rng.random(codes.size) < 0.1] = np.nan
    monkeypatch.setattr(workloads, "STATS_BLOCK_ROWS", 2000)
    monkeypatch.setattr(strategy, "POOL_ROWS", 3000)  # several slices of the pool
    resolved = resolve_params("rightsize", {})
    got = {}
    for n in ("1", "4"):
        monkeypatch.setenv("RIGHTSIZE_THREADS", n)
        got[n] = (workloads.grouped_stats(codes, values, 41),
                  recommend_pool("rightsize", Pool.of(HISTORIES), resolved))
    (s1, r1), (s4, r4) = got["1"], got["4"]
    for field in ("quantiles", "max", "mean", "count", "duration"):
        np.testing.assert_array_equal(getattr(s4, field), getattr(s1, field))
    assert r4 == r1 and len(r1) == len(HISTORIES)


def test_per_workload_sums_in_blocks_on_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-workload sums (throttling, samples above the memory high-water mark) in
    blocks of 7 rows on 3 threads equal ``np.bincount`` over all rows at once, bit for bit
    (the blocks are added in row order, and cut the same way whatever the threads)."""
    from rightsize.analysis import pipeline

    rng = np.random.default_rng(3)
    codes = np.sort(rng.integers(0, 9, 200)).astype(np.int32)
    values = rng.lognormal(0, 1, 200)
    values[rng.random(200) < 0.2] = np.nan
    monkeypatch.setattr(pipeline, "_SUM_BLOCK_ROWS", 7)
    got = {}
    for n in ("1", "3"):
        monkeypatch.setenv("RIGHTSIZE_THREADS", n)
        got[n] = pipeline._sums(codes, [lambda rows: values[rows],
                                        lambda rows: (values[rows] > 1.0).astype(float)], 9)
    for total, ones in zip(got["3"], got["1"], strict=True):
        np.testing.assert_array_equal(total, ones)
    np.testing.assert_allclose(got["3"][0], np.bincount(codes, np.nan_to_num(values), 9))
    np.testing.assert_array_equal(got["3"][1], np.bincount(codes, values > 1.0, 9))
