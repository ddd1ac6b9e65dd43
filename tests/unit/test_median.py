"""The block-wise radix median equals ``np.nanmedian`` exactly."""

from __future__ import annotations

import numpy as np
import pytest

import rightsize.analysis.median as median


@pytest.mark.parametrize("seed", range(40))
def test_equals_numpy_nanmedian(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(median, "COPY_ROWS", 0)  # always the radix path
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    kind = seed % 4
    if kind == 0:  # distinct values of both signs and wide range
        values = rng.normal(0, 1, n) * 10.0 ** rng.integers(-300, 300, n)
    elif kind == 1:  # intervals: many exact repeats
        values = rng.choice([10.0, 10.0, 20.0, 300.0], n)
    elif kind == 2:  # zeros of both signs, infinities
        values = rng.choice([-0.0, 0.0, 1.5, -np.inf, np.inf, -2.0], n)
    else:  # jittered
        values = 10.0 + rng.normal(0, 0.004, n)
    values[rng.random(n) < 0.3] = np.nan
    want = np.nanmedian(values) if np.any(~np.isnan(values)) else np.nan
    for block in (1, 7, 1 << 20):
        got = median.nanmedian(values, block=block)
        assert got == want or (np.isnan(got) and np.isnan(want)), (block, got, want)


def test_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(median, "COPY_ROWS", 0)
    assert median.nanmedian(np.array([3.0, np.nan, 1.0, 2.0])) == 2.0
    assert median.nanmedian(np.array([4.0, 1.0, np.nan, 2.0, 10.0]), block=2) == 3.0
    assert median.nanmedian(np.array([5.0, 5.0, 1.0, 9.0])) == 5.0
    assert np.isnan(median.nanmedian(np.array([np.nan, np.nan])))
    assert np.isnan(median.nanmedian(np.array([], dtype=np.float64)))
