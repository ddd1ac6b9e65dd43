"""The batched strategy: every workload of a pool gets what it gets alone, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from rightsize.analysis.strategies import recommend, recommend_pool, resolve_params
from rightsize.analysis.strategies.base import History, Pool
from rightsize.analysis.strategies.segments import Segments, padded, pool_order, seg_median
from rightsize.model import Declared, Recommendation

DAY = 86400.0


def _history(rng: np.random.Generator, kind: int) -> History:
    """Histories of many shapes: short, gappy, throttled, with OOM kills and NaNs."""
    step = [60.0, 300.0, 20.0, 600.0][kind % 4]
    days = [0.01, 2.0, 5.0, 21.0][(kind // 4) % 4]
    n = max(2, int(days * DAY / step))
    ts = 1.79e9 + np.arange(n) * step + rng.normal(0, 0.5, n)
    if kind % 5 == 0 and n > 10:
        ts[n // 2 :] += 7200.0  # a gap
    base = rng.uniform(0.05, 2.0)
    cpu = base * rng.lognormal(0, 0.6 if kind % 2 else 0.1, n)
    mem = 2**28 * (1 + 0.3 * np.sin(ts / 40000.0)) * rng.lognormal(0, 0.05, n)
    if kind % 3 == 0:
        mem[rng.random(n) < 0.05] = np.nan
        cpu[rng.random(n) < 0.05] = np.nan
    if kind % 7 == 0:
        mem[-n // 10 :] *= 1.4  # a late record
    interval = np.full(n, step)
    interval[0] = np.nan
    throttled = np.where(rng.random(n) < 0.2, rng.random(n), 0.0) if kind % 4 == 1 else \
        np.full(n, np.nan)
    oom = np.array([float(ts[n // 3])]) if kind % 6 == 2 else np.empty(0)
    previous = (Recommendation(0.5, None, 2**28, 2**28, 1.0, ()) if kind % 8 == 3 else None)
    return History(ts=ts, cpu=cpu, memory=mem, interval=interval, throttled=throttled,
                   oom_ts=oom, declared=Declared(memory_limit=2**29), containers=1 + kind % 3,
                   previous=previous)


HISTORIES = [_history(np.random.default_rng(k), k) for k in range(40)]


@pytest.mark.parametrize("params", [
    {},
    {"history_hours": 72.0, "trend_days": 5.0, "memory_tail_factor": 1.0},
    {"cpu_percentile": 0.95, "memory_percentile": 0.99, "cpu_limit": 1.0},
    {"cpu_slack_cost": 0.0, "memory_half_life_hours": 24.0, "memory_keep_hours": 24.0},
    {"memory_window_days": 0.0, "memory_risk_ref": 0.0, "min_samples": 0.0, "min_hours": 0.0},
])
def test_a_pool_gives_each_workload_what_it_gets_alone(params: dict[str, float]) -> None:
    resolved = resolve_params("rightsize", params)
    pooled = recommend_pool("rightsize", Pool.of(HISTORIES), resolved)
    alone = [recommend("rightsize", h, params) for h in HISTORIES]
    assert pooled == alone
    assert any(r.sized for r in alone)
    assert any(not r.sized for r in alone) == ("min_samples" not in params)
    # and the order of the pool does not matter
    backwards = recommend_pool("rightsize", Pool.of(HISTORIES[::-1]), resolved)
    assert backwards[::-1] == alone


def test_rows_out_of_time_order_are_sorted_first() -> None:
    h = HISTORIES[9]
    order = np.random.default_rng(0).permutation(h.ts.size)
    shuffled = History(ts=h.ts[order], cpu=h.cpu[order], memory=h.memory[order],
                       interval=h.interval[order], throttled=h.throttled[order],
                       oom_ts=h.oom_ts, declared=h.declared, containers=h.containers)
    params = resolve_params("rightsize")
    assert recommend_pool("rightsize", Pool.of([shuffled]), params) == \
        recommend_pool("rightsize", Pool.of([h]), params)


def test_segment_median_and_padding_by_hand() -> None:
    seg = Segments.of_counts(np.array([3, 0, 4, 1], dtype=np.int64))
    values = np.array([5.0, 1.0, 3.0, 10.0, 2.0, 8.0, 4.0, 7.0])
    got = seg_median(values, seg)
    assert got[0] == 3.0 and np.isnan(got[1]) and got[2] == 6.0 and got[3] == 7.0
    blocks = list(padded(seg))
    shapes = sorted(index.shape for _, index, _ in blocks)
    assert shapes == [(1, 1), (2, 4)]  # 1 row -> 1; 3 and 4 rows -> 4, in one block
    for block, _, real in blocks:
        assert (real.sum(axis=1) == seg.counts[block]).all()


@pytest.mark.parametrize("seed", range(8))
def test_pool_order_is_lexsort(seed: int) -> None:
    """Containers' runs moved whole, replicas merged by time: np.lexsort((ts, codes))."""
    rng = np.random.default_rng(seed)
    ncont = int(rng.integers(2, 300))
    groups = rng.permutation(ncont) % int(rng.integers(1, ncont + 1))  # some share a code
    codes, times = [], []
    for c in range(ncont):
        m = int(rng.integers(1, 60))
        codes.append(np.full(m, groups[c]))
        times.append(np.sort(rng.integers(0, 40, m).astype(float)))  # ties across containers
    w, ts = np.concatenate(codes), np.concatenate(times)
    got = pool_order(w, ts)
    want = np.lexsort((ts, w))
    assert got is not None and (got == want).all()
    assert pool_order(w[want], ts[want]) is None


def test_pool_histories_are_each_workload_without_its_previous() -> None:
    """The result's histories, built on access: each workload's own rows (views of the
    pool), in the names' order, with ``previous`` cleared; an unknown name is a KeyError."""
    from rightsize.analysis.strategies.base import PoolHistories

    rng = np.random.default_rng(2)
    histories = [_history(rng, kind) for kind in (3, 11, 1)]  # kind 11: a previous
    assert histories[1].previous is not None
    pool = Pool.of(histories)
    got = PoolHistories(pool, ["b", "a", "c"])
    assert list(got) == ["b", "a", "c"] and len(got) == 3 and "a" in got
    for name, want in zip(["b", "a", "c"], histories, strict=True):
        h = got[name]
        assert h.previous is None and h.containers == want.containers
        np.testing.assert_array_equal(h.memory, want.memory)
        np.testing.assert_array_equal(h.ts, want.ts)
        assert np.shares_memory(h.cpu, pool.cpu)
    with pytest.raises(KeyError):
        got["d"]


@pytest.mark.parametrize("size", [1, 2, 7, 96, 2016])
def test_segment_median_of_equal_groups_is_numpys(size: int) -> None:
    """Blocks whose workloads all have ``size`` rows take the partition path: the medians
    are np.median's exactly, ties and odd and even sizes alike; a block with a NaN, or
    of unequal sizes, is sorted and gives what it gave before."""
    rng = np.random.default_rng(size)
    seg = Segments.of_counts(np.full(9, size, dtype=np.int64))
    values = np.round(rng.lognormal(0, 1, 9 * size), 2)
    want = np.array([np.median(values[i * size:(i + 1) * size]) for i in range(9)])
    np.testing.assert_array_equal(seg_median(values, seg), want)
    mixed = Segments.of_counts(np.array([size, size + 1, 0], dtype=np.int64))
    more = np.round(rng.lognormal(0, 1, 2 * size + 1), 2)
    np.testing.assert_array_equal(seg_median(more, mixed)[:2],
                                  [np.median(more[:size]), np.median(more[size:])])
