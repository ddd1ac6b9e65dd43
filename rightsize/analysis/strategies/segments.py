"""Reductions per workload over pooled rows: many workloads' samples in one set of arrays.

Rows are grouped by workload, one contiguous segment each (:class:`Segments`).
Every function gives each workload exactly what it would get alone: sums and
maxima run on its own rows (``ufunc.reduceat`` per segment), and sorts and
cumulative sums run on its row of a 2-D block, padded to a length that depends
only on the workload's own size (:func:`padded`). So a workload recommended among 10,000
gets the same numbers, bit for bit, as when it is recommended by itself.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Segments", "padded", "seg_max", "seg_median", "seg_sum"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: cells of one padded block (bounds the scratch memory of :func:`padded`)
BLOCK_CELLS = 1 << 16


@dataclass(frozen=True)
class Segments:
    """Workload ``w`` owns rows ``starts[w]:starts[w + 1]``."""

    starts: IntArray

    @classmethod
    def of_counts(cls, counts: IntArray) -> Segments:
        starts = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        return cls(starts)

    @property
    def size(self) -> int:
        return int(self.starts.size - 1)

    @functools.cached_property
    def counts(self) -> IntArray:
        return np.diff(self.starts)

    @functools.cached_property
    def ids(self) -> IntArray:
        """The workload of every row."""
        return np.repeat(np.arange(self.size, dtype=np.int64), self.counts)

    @functools.cached_property
    def position(self) -> IntArray:
        """Every row's position inside its workload (0 = its first row)."""
        return np.arange(int(self.starts[-1]), dtype=np.int64) - self.starts[:-1][self.ids]

    def select(self, keep: BoolArray) -> Segments:
        """The segments of the rows where ``keep`` holds."""
        return Segments.of_counts(seg_sum(keep.astype(np.int64), self).astype(np.int64))

    def first(self, values: FloatArray, empty: float = np.nan) -> FloatArray:
        out = np.full(self.size, empty)
        nz = self.counts > 0
        out[nz] = values[self.starts[:-1][nz]]
        return out

    def last(self, values: FloatArray, empty: float = np.nan) -> FloatArray:
        out = np.full(self.size, empty)
        nz = self.counts > 0
        out[nz] = values[self.starts[1:][nz] - 1]
        return out


def _reduceat(ufunc: np.ufunc, values: npt.NDArray[np.generic], seg: Segments,
              empty: float) -> FloatArray:
    out = np.full(seg.size, empty, dtype=np.float64)
    nz = seg.counts > 0
    if nz.any():
        out[nz] = ufunc.reduceat(values, seg.starts[:-1][nz])
    return out


def seg_sum(values: npt.NDArray[np.generic], seg: Segments) -> FloatArray:
    """Sum per workload (0 for none)."""
    return _reduceat(np.add, values, seg, 0.0)


def seg_max(values: FloatArray, seg: Segments, empty: float = np.nan) -> FloatArray:
    """Maximum per workload (``empty`` for none; NaN rows propagate, as ``max``)."""
    return _reduceat(np.maximum, values, seg, empty)


def seg_median(values: FloatArray, seg: Segments) -> FloatArray:
    """Median per workload (NaN for none), as ``np.median`` of its rows computes it."""
    out = np.full(seg.size, np.nan)
    n = seg.counts
    for block, index, real in padded(seg):
        rows = np.where(real, values[index], np.inf)
        k = n[block] // 2
        at = np.arange(block.size)
        odd = n[block] % 2 == 1
        if bool((k == k[0]).all()) and k[0] > 0 and not bool(np.isnan(rows).any()):
            # one middle for the whole block: partition there (a third of a sort); the
            # row below it in sorted order is the largest of those before it
            rows.partition(int(k[0]), axis=1)
            mid = rows[:, k[0]]
            low = rows[:, : k[0]].max(axis=1)
        else:
            rows.sort(axis=1)
            mid = rows[at, k]
            low = rows[at, np.maximum(k - 1, 0)]
        out[block] = np.where(odd, 0.0 + mid, (0.0 + low + mid) / 2.0)
    return out


def padded(seg: Segments, rows: BoolArray | None = None
           ) -> Iterator[tuple[IntArray, IntArray, BoolArray]]:
    """Blocks of workloads as 2-D row indices: (workloads, index matrix, real cells).

    A workload of n rows is padded to the next power of two (its own size only,
    so its row of any block is the same); padding cells index row 0 and are
    False in the mask. ``rows`` limits the workloads to those where it holds.
    """
    n = seg.counts
    width = np.where(n > 0, 1 << np.ceil(np.log2(np.maximum(n, 1))).astype(np.int64), 0)
    chosen = np.ones(seg.size, dtype=bool) if rows is None else rows
    for size in np.unique(width[chosen & (n > 0)]).tolist():
        members = np.flatnonzero(chosen & (width == size))
        per_block = max(1, BLOCK_CELLS // int(size))
        for at in range(0, members.size, per_block):
            block = members[at : at + per_block]
            cols = np.arange(int(size), dtype=np.int64)
            real = cols[None, :] < n[block][:, None]
            index = np.where(real, seg.starts[:-1][block][:, None] + cols[None, :], 0)
            yield block, index, real


def pool_order(codes: npt.NDArray[np.signedinteger[Any]], ts: FloatArray) -> IntArray | None:
    """``np.lexsort((ts, codes))`` (rows grouped by code, time-sorted within, ties in
    row order), or None when the rows already are in that order.

    The rows come container by container, each in time order, so a group of one
    container is one run: runs are moved whole, and only the rows of groups of
    several runs (replicas) are sorted, and only when they are the minority.
    """
    if codes.size < 2:
        return None
    same = codes[1:] == codes[:-1]
    back = ts[1:] < ts[:-1]
    if not bool(((codes[1:] < codes[:-1]) | (same & back)).any()):
        return None
    # a run: rows of one code in time order (a new container of the same code starts one)
    starts = np.flatnonzero(np.concatenate(([True], ~same | back)))
    run_code = codes[starts]
    runs_of = np.bincount(run_code)
    multi = runs_of[codes] > 1
    if 2 * int(multi.sum()) > codes.size:
        return np.lexsort((ts, codes))
    lengths = np.diff(np.append(starts, codes.size))
    by_code = np.argsort(run_code, kind="stable")
    moved = lengths[by_code]
    first = np.zeros(moved.size, dtype=np.int64)
    np.cumsum(moved[:-1], out=first[1:])
    order = np.repeat(starts[by_code] - first, moved) + np.arange(codes.size, dtype=np.int64)
    if multi.any():
        at = np.flatnonzero(multi[order])  # the replicas' rows, grouped by code already
        rows = order[at]
        order[at] = rows[np.lexsort((ts[rows], codes[rows]))]
    return order
