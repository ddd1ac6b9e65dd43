"""The bracketed median equals ``np.nanmedian`` exactly, without numpy's copy when it can."""

from __future__ import annotations

import numpy as np
import pytest

import rightsize.analysis.median as median


def _values(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    kind = seed % 5
    if kind == 0:  # distinct values of both signs and a wide range
        values = rng.normal(0, 1, n) * 10.0 ** rng.integers(-300, 300, n)
    elif kind == 1:  # intervals: many exact repeats
        values = rng.choice([10.0, 10.0, 20.0, 300.0], n)
    elif kind == 2:  # zeros of both signs, infinities
        values = rng.choice([-0.0, 0.0, 1.5, -np.inf, np.inf, -2.0], n)
    elif kind == 3:  # jittered around one interval
        values = 10.0 + rng.normal(0, 0.004, n)
    else:  # sorted: a strided sample of it is a poor one at the ends
        values = np.sort(rng.exponential(1.0, n))
    values[rng.random(n) < 0.3] = np.nan
    return values


@pytest.mark.parametrize("seed", range(60))
def test_equals_numpy_nanmedian(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(median, "COPY_ROWS", 0)  # never the plain copy up front
    values = _values(seed)
    want = np.nanmedian(values) if np.any(~np.isnan(values)) else np.nan
    for sample, bracket in ((1 << 18, 0.01), (3, 0.01), (50, 0.0), (7, 0.4)):
        monkeypatch.setattr(median, "SAMPLE_ROWS", sample)
        monkeypatch.setattr(median, "BRACKET", bracket)
        for block in (1, 7, 1 << 20):
            got = median.nanmedian(values, block=block)
            assert got == want or (np.isnan(got) and np.isnan(want)), (block, got, want)


def test_the_bracket_finds_it_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a long jittered array the bracket holds the middle: no fallback copy."""
    monkeypatch.setattr(median, "COPY_ROWS", 0)
    monkeypatch.setattr(median, "SAMPLE_ROWS", 1000)

    def no_copy(values: np.ndarray) -> float:
        raise AssertionError("fell back to np.nanmedian")

    monkeypatch.setattr(median, "_numpy", no_copy)
    rng = np.random.default_rng(1)
    values = 300.0 + rng.normal(0, 0.004, 200_000)
    values[::97] = np.nan
    assert median.nanmedian(values, block=4096) == np.nanmedian(values)
    values[-1] = np.nan  # the other parity: the mean of the two middle values, or the middle one
    assert median.nanmedian(values, block=4096) == np.nanmedian(values)


def test_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(median, "COPY_ROWS", 0)
    monkeypatch.setattr(median, "SAMPLE_ROWS", 2)
    assert median.nanmedian(np.array([3.0, np.nan, 1.0, 2.0])) == 2.0
    assert median.nanmedian(np.array([4.0, 1.0, np.nan, 2.0, 10.0]), block=2) == 3.0
    assert median.nanmedian(np.array([5.0, 5.0, 1.0, 9.0])) == 5.0
    assert np.isnan(median.nanmedian(np.array([np.nan, np.nan])))
    assert np.isnan(median.nanmedian(np.array([], dtype=np.float64)))
