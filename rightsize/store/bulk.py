"""Decoding many chunks at once: one numpy pass per column and encoding, not per chunk.

:func:`decode_many` gives what :func:`rightsize.store.codec.decode_exact` gives
for each chunk, concatenated: the chunks' rows one after the other. Only the
headers are read in Python (a few ``struct`` calls per column) and each packed
column is inflated by zlib on its own; everything else runs on the whole
batch: the byte planes are gathered with one index per width, zigzag and the
common factors are undone element-wise, and the running sums (delta and
delta-of-delta) and XOR chains restart at each chunk's first row by
subtracting (XORing) the running total at the start of the chunk, which is
exact in 64-bit modular arithmetic. Reading 10,000 containers this way costs
a few numpy calls per column instead of a dozen per column and chunk.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rightsize.store import codec
from rightsize.store.codec import CHUNK_COLUMNS, ChunkError

__all__ = ["BulkError", "decode_many"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Array = npt.NDArray[Any]

_ID = {name: i for i, name in enumerate(CHUNK_COLUMNS)}
_Q = struct.Struct("<q")


class BulkError(ChunkError):
    """A damaged chunk in a batch; ``index`` is its position in the batch."""

    def __init__(self, index: int, cause: ChunkError) -> None:
        super().__init__(str(cause))
        self.index = index


@dataclass
class _Column:
    """One column's pieces across the batch, sorted by encoding as the headers are read."""

    consts: list[tuple[int, int, int]] = field(default_factory=list)  # (chunk, count, raw int)
    fconsts: list[tuple[int, int, bytes]] = field(default_factory=list)  # (chunk, count, 8 bytes)
    # pieces of equal shape decode as one 2-D array: (order, width, rows) and rows
    deltas: dict[tuple[int, int, int], list[tuple[int, int, bytes]]] = field(
        default_factory=dict)
    xors: dict[int, list[tuple[int, int, bytes]]] = field(default_factory=dict)
    masks: dict[int, BoolArray] = field(default_factory=dict)  # chunk -> present rows
    floats: bool = False  # some chunk holds it as floats: the whole column is float64


def _read(blob: bytes, index: int, wanted: set[str], columns: dict[str, _Column]) -> int:
    """Sort the ``wanted`` columns of one chunk into ``columns``; returns its rows."""
    n, layout, offset = codec.header(blob)
    body = memoryview(blob)[offset:]
    pos = 0
    missing = set(wanted)
    for cid, enc, param, length in layout:
        if cid >= len(CHUNK_COLUMNS):
            raise ChunkError(f"unknown column id {cid}")
        if pos + length > len(body):
            raise ChunkError("chunk body is shorter than its columns")
        name = CHUNK_COLUMNS[cid]
        start, pos = pos, pos + length
        if name not in wanted:
            continue
        missing.discard(name)
        if enc & codec._PACKED:  # zlib reads the blob in place: no copy of the packed bytes
            try:
                part = zlib.decompress(body[start:pos])
            except zlib.error as exc:
                raise ChunkError(f"damaged column {name} ({exc})") from exc
            enc &= ~codec._PACKED
        else:
            part = bytes(body[start:pos])
        _sort_piece(columns[name], index, enc, param, part, n)
    if pos != len(body):
        raise ChunkError("chunk body is longer than its columns")
    for name in missing:  # a column the chunk lacks is missing in all its rows
        columns[name].masks[index] = np.zeros(n, dtype=bool)
    return n


def _sort_piece(col: _Column, index: int, enc: int, param: int, part: bytes, n: int) -> None:
    masked, enc = bool(enc & codec._MASKED), enc & ~codec._MASKED
    if enc == codec._NULL:
        col.masks[index] = np.zeros(n, dtype=bool)
        return
    count = n
    if masked:
        size = (n + 7) // 8
        if len(part) < size:
            raise ChunkError("mask is shorter than the chunk")
        valid = np.unpackbits(np.frombuffer(part[:size], dtype=np.uint8), count=n).astype(bool)
        col.masks[index] = valid
        part = part[size:]
        count = int(valid.sum())
    if enc == codec._INT_CONST:
        if len(part) != 8:
            raise ChunkError("integer constant length does not match")
        col.consts.append((index, count, _Q.unpack(part)[0]))
    elif enc == codec._INT_DELTA:
        order, width = param >> 4, param & 0x0F
        if order not in (1, 2) or width > 8 or count < 1:
            raise ChunkError("bad integer column header")
        k = min(order, count)
        if len(part) != 8 * k + 8 + (count - k) * width:
            raise ChunkError("integer column length does not match")
        col.deltas.setdefault((k, width, count), []).append((index, count, part))
    elif enc == codec._FLOAT_CONST:
        if len(part) != 8:
            raise ChunkError("float constant length does not match")
        col.fconsts.append((index, count, part))
        col.floats = True
    elif enc == codec._FLOAT_XOR:
        if len(part) != 8 * count:
            raise ChunkError("float column length does not match")
        col.xors.setdefault(count, []).append((index, count, part))
        col.floats = True
    else:
        raise ChunkError(f"unknown column encoding {enc}")


def _starts(counts: IntArray) -> IntArray:
    out = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def _unshuffle(raw: npt.NDArray[np.uint8], width: int) -> npt.NDArray[np.uint64]:
    """(chunks, width x rows) byte planes -> (chunks, rows) values."""
    g, size = raw.shape
    rows = size // width if width else 0
    wide = np.zeros((g, rows, 8), dtype=np.uint8)
    if rows:
        wide[:, :, :width] = raw.reshape(g, width, rows).transpose(0, 2, 1)
    return wide.view("<u8").reshape(g, rows).astype(np.uint64, copy=False)


def _deltas(pieces: list[tuple[int, int, bytes]], k: int, width: int
            ) -> tuple[list[int], IntArray, IntArray]:
    """Integer delta pieces of one order, width and length: (chunks, counts, values)."""
    chunks = [p[0] for p in pieces]
    count = pieces[0][1]
    fixed = 8 * k + 8
    raw = np.frombuffer(b"".join(p[2] for p in pieces), dtype=np.uint8).reshape(len(pieces), -1)
    heads = np.ascontiguousarray(raw[:, :fixed]).view("<i8").astype(np.int64)  # (g, k + 1)
    d = codec._unzigzag(_unshuffle(raw[:, fixed:], width))
    scale = heads[:, k].astype(np.uint64)
    with np.errstate(over="ignore"):
        if bool((scale > 1).any()):
            d = d * np.maximum(scale, 1).view(np.int64)[:, None]
        if k == 2:
            d = np.cumsum(np.concatenate((heads[:, 1:2], d), axis=1), axis=1, dtype=np.int64)
        values = np.cumsum(np.concatenate((heads[:, :1], d), axis=1), axis=1, dtype=np.int64)
    return chunks, np.full(len(pieces), count, dtype=np.int64), values.reshape(-1)


def _xors(pieces: list[tuple[int, int, bytes]]) -> tuple[list[int], IntArray, Array]:
    """Float XOR pieces of one length: (chunks, counts, values)."""
    chunks = [p[0] for p in pieces]
    count = pieces[0][1]
    raw = np.frombuffer(b"".join(p[2] for p in pieces), dtype=np.uint8).reshape(len(pieces), -1)
    bits = np.bitwise_xor.accumulate(_unshuffle(raw, 8), axis=1)
    return chunks, np.full(len(pieces), count, dtype=np.int64), bits.view(np.float64).reshape(-1)


def _column(col: _Column, rows: IntArray) -> tuple[Array, BoolArray]:
    """One column of the batch: (values, present), int64 unless some chunk held floats."""
    total = int(rows.sum())
    starts = _starts(rows)
    dtype = np.float64 if col.floats else np.int64
    # present values first, in chunk order; then scattered to the rows where present
    present = np.ones(total, dtype=bool)
    for index, valid in col.masks.items():
        present[starts[index] : starts[index] + rows[index]] = valid
    counts = rows.copy()
    for index, valid in col.masks.items():
        counts[index] = int(valid.sum())
    dense = np.zeros(int(counts.sum()), dtype=dtype)
    dstarts = _starts(counts)

    def place(chunks: list[int], sizes: IntArray, values: Array) -> None:
        if not chunks:
            return
        idx = np.asarray(chunks, dtype=np.int64)
        local = np.arange(values.size, dtype=np.int64) - np.repeat(_starts(sizes), sizes)
        dense[np.repeat(dstarts[idx], sizes) + local] = values

    if col.consts:
        idx = [c[0] for c in col.consts]
        sizes = np.array([c[1] for c in col.consts], dtype=np.int64)
        place(idx, sizes, np.repeat(np.array([c[2] for c in col.consts], dtype=np.int64), sizes))
    if col.fconsts:
        idx = [c[0] for c in col.fconsts]
        sizes = np.array([c[1] for c in col.fconsts], dtype=np.int64)
        values = np.frombuffer(b"".join(c[2] for c in col.fconsts), dtype="<f8")
        place(idx, sizes, np.repeat(values, sizes))
    for (k, width, _), pieces in col.deltas.items():
        place(*_deltas(pieces, k, width))
    for pieces in col.xors.values():
        place(*_xors(pieces))
    if bool(present.all()):
        return dense, present
    values = np.zeros(total, dtype=dtype) if dtype == np.int64 else np.full(total, np.nan)
    values[present] = dense
    return values, present


def decode_many(blobs: Sequence[bytes], wanted: Sequence[str]
                ) -> tuple[IntArray, dict[str, tuple[Array, BoolArray]]]:
    """(rows per chunk, {column: (values, present)}) for ``blobs`` one after the other.

    Values are those of :func:`rightsize.store.codec.decode_exact`: int64 where
    every chunk holds the column as integers (0 where missing), else float64
    (NaN where missing). A damaged chunk raises :class:`BulkError` with its index.
    """
    want = [c for c in CHUNK_COLUMNS if c in set(wanted)]
    unknown = set(wanted) - set(want)
    if unknown:
        raise ValueError(f"unknown chunk columns {sorted(unknown)}")
    columns = {name: _Column() for name in want}
    rows = np.zeros(len(blobs), dtype=np.int64)
    wanted_set = set(want)
    for index, blob in enumerate(blobs):
        try:
            rows[index] = _read(blob, index, wanted_set, columns)
        except ChunkError as exc:
            raise BulkError(index, exc) from exc
    return rows, {name: _column(col, rows) for name, col in columns.items()}
