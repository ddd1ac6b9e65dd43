"""Chunk codec: a container's samples over a time span as one compressed BLOB.

A chunk holds ``n`` rows of some sample columns, column by column. Each column
is encoded on its own, then compressed with zlib when that saves at least a
quarter (so a reader decompresses only the columns it asks for). Inflating is
the read's largest cost, ~6 us a KiB whatever the ratio, while a column that
shrinks by less (the noise bytes of CPU counters, jittered timestamps, working
sets, float peaks: 0.80-0.87 of their size) saves little: stored as they are,
they cost ~10 % more bytes and a copy to read:

- integer columns (every present value integral): the first value, then
  delta (or delta-of-delta, whichever is smaller) values divided by their
  greatest common divisor (memory moves in pages, host CPU in ticks), zigzag-mapped to
  unsigned, cut to the fewest bytes that hold the largest, and *byte-shuffled*
  (all lowest bytes first, then the next ...), so the high bytes that steady
  counters and regular timestamps leave at zero compress to almost nothing.
  Arithmetic is modulo 2**64, so every int64 round-trips exactly;
- float columns (imported rates, rollup peaks): the IEEE bits XORed with the
  previous value's and byte-shuffled; bit-exact;
- a constant column is one value; an all-missing column is one byte;
- missing values (``None``/NaN) are a packed bit mask before the values.

Layout: ``b"RSC1"``, ``n`` (u32), the column count (u8), then per column its id
(u8, the position in :data:`CHUNK_COLUMNS`), encoding (u8), parameter (u8)
and body length (u32); then the bodies in the same order.
Decoding checks every length, so a damaged chunk raises :class:`ChunkError`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CHUNK_COLUMNS", "ChunkError", "decode", "decode_exact", "encode", "header"]

FloatArray = npt.NDArray[np.float64]

#: every column a chunk may hold, in a fixed order (the id is the position)
CHUNK_COLUMNS: tuple[str, ...] = (
    "ts",
    "cpu_total_ns",
    "cpu_cores",
    "system_cpu_ns",
    "online_cpus",
    "periods",
    "throttled_periods",
    "throttled_ns",
    "mem_usage",
    "mem_working_set",
    "mem_rss",
    "mem_limit",
    "mem_failcnt",
    "pids",
    "oom_kills_total",
    "cpu_peak",
)
_ID = {name: i for i, name in enumerate(CHUNK_COLUMNS)}

_MAGIC = b"RSC1"
_HEAD = struct.Struct("<4sIB")
_COL = struct.Struct("<BBBI")

# encodings
_NULL, _INT_CONST, _INT_DELTA, _FLOAT_XOR, _FLOAT_CONST = 0, 1, 2, 3, 4
_MASKED = 0x80
_PACKED = 0x40  # the column's bytes are zlib-compressed
_PACK_BELOW = 0.75  # pack a column when zlib makes it at most this share of its size


class ChunkError(ValueError):
    """A chunk that cannot be decoded (damaged or from a newer rightsize)."""


Column = npt.NDArray[Any]  # int64 or float64


def _shuffle(u: npt.NDArray[np.uint64], width: int) -> bytes:
    as_bytes = u.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width]
    return bytes(np.ascontiguousarray(as_bytes.T).tobytes())


def _unshuffle(data: bytes, count: int, width: int) -> npt.NDArray[np.uint64]:
    planes = np.frombuffer(data, dtype=np.uint8).reshape(width, count)
    out: npt.NDArray[np.uint64] = planes[0].astype(np.uint64)
    for i in range(1, width):
        out |= planes[i].astype(np.uint64) << np.uint64(8 * i)
    return out


def _zigzag(d: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    return ((d << 1) ^ (d >> 63)).view(np.uint64)


def _unzigzag(u: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    sign = (u & np.uint64(1)).view(np.int64)
    np.negative(sign, out=sign)  # in place: half the temporaries of the plain expression
    out = np.right_shift(u, np.uint64(1)).view(np.int64)
    out ^= sign
    return out


def _width(u: npt.NDArray[np.uint64]) -> int:
    if u.size == 0:
        return 0
    top = int(u.max())
    return max(1, (top.bit_length() + 7) // 8)


def _bits(u: npt.NDArray[np.uint64]) -> float:
    """A rough cost of ``u`` (sum of bit lengths), to choose the delta order."""
    if u.size == 0:
        return 0.0
    return float(np.log2(u.astype(np.float64) + 1.0).sum())


def _encode_int(values: npt.NDArray[np.int64]) -> tuple[int, int, bytes]:
    if values.size and bool((values == values[0]).all()):
        return _INT_CONST, 0, struct.pack("<q", int(values[0]))
    with np.errstate(over="ignore"):
        d1 = np.diff(values)
        d2 = np.diff(d1)
    z1, z2 = _zigzag(d1), _zigzag(d2)
    if values.size > 2 and _bits(z2) < _bits(z1):
        head, rest, order = values[:1].tolist() + d1[:1].tolist(), d2, 2
    else:
        head, rest, order = values[:1].tolist(), d1, 1
    # a common factor of the steps (memory in pages, host CPU in ticks) is taken out
    scale = int(np.gcd.reduce(np.abs(rest))) if rest.size else 0
    if scale > 1 and bool((np.abs(rest) < 2**62).all()):
        rest = rest // scale
    else:
        scale = 1
    z = _zigzag(rest)
    width = _width(z)
    body = struct.pack(f"<{len(head)}qQ", *head, scale) + _shuffle(z, width)
    return _INT_DELTA, (order << 4) | width, body


def _decode_int(param: int, body: bytes, count: int) -> npt.NDArray[np.int64]:
    order, width = param >> 4, param & 0x0F
    if order not in (1, 2) or width > 8 or count < 1:
        raise ChunkError("bad integer column header")
    k = min(order, count)
    fixed = 8 * k + 8
    if len(body) < fixed:
        raise ChunkError("integer column length does not match")
    head = np.frombuffer(body[: 8 * k], dtype="<i8").astype(np.int64)
    (scale,) = struct.unpack_from("<Q", body, 8 * k)
    rest = count - k
    if len(body) != fixed + rest * width:
        raise ChunkError("integer column length does not match")
    deltas = _unzigzag(_unshuffle(body[fixed:], rest, width)) if rest else np.zeros(0, np.int64)
    with np.errstate(over="ignore"):
        if scale > 1:
            deltas = deltas * np.int64(scale)
        if order == 2 and count > 1:
            d1 = np.concatenate((head[1:2], deltas)).cumsum(dtype=np.int64)
            return np.concatenate((head[:1], d1)).cumsum(dtype=np.int64)
        return np.concatenate((head[:1], deltas)).cumsum(dtype=np.int64)


def _encode_float(values: FloatArray) -> tuple[int, int, bytes]:
    bits = np.ascontiguousarray(values, dtype="<f8").view(np.uint64)
    if values.size and bool((bits == bits[0]).all()):
        return _FLOAT_CONST, 0, bits[:1].tobytes()
    xored = bits.copy()
    xored[1:] ^= bits[:-1]
    return _FLOAT_XOR, 8, _shuffle(xored, 8)


def _decode_float(enc: int, body: bytes, count: int) -> FloatArray:
    if enc == _FLOAT_CONST:
        if len(body) != 8:
            raise ChunkError("float constant length does not match")
        return np.full(count, np.frombuffer(body, dtype="<f8")[0])
    if len(body) != 8 * count:
        raise ChunkError("float column length does not match")
    bits = _unshuffle(body, count, 8)
    return np.bitwise_xor.accumulate(bits).view(np.float64).astype(np.float64)


def _as_int(column: Column, valid: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64] | None:
    """The present values as int64 when they are all integers, else None."""
    if column.dtype.kind in "iu":
        return np.asarray(column[valid], dtype=np.int64)
    present = column[valid]
    if present.size == 0:
        return np.zeros(0, np.int64)
    if not bool(np.isfinite(present).all()) or not bool((present == np.round(present)).all()):
        return None
    if bool((np.abs(present) >= 2.0**63).any()):
        return None
    return present.astype(np.int64)


def encode(columns: Mapping[str, Column], masks: Mapping[str, npt.NDArray[np.bool_]],
           *, level: int = 6) -> bytes:
    """One chunk from equal-length columns; ``masks[name]`` is True where a value is present.

    A column without a mask is present where it is not NaN (integer columns: everywhere).
    """
    names = [c for c in CHUNK_COLUMNS if c in columns]
    unknown = set(columns) - set(names)
    if unknown:
        raise ValueError(f"unknown chunk columns {sorted(unknown)}")
    n = len(columns[names[0]]) if names else 0
    headers: list[bytes] = []
    bodies: list[bytes] = []
    for name in names:
        column = columns[name]
        if len(column) != n:
            raise ValueError(f"column {name} has {len(column)} rows, expected {n}")
        if name in masks:
            valid = np.asarray(masks[name], dtype=bool)
        elif column.dtype.kind == "f":
            valid = ~np.isnan(column)
        else:
            valid = np.ones(n, dtype=bool)
        count = int(valid.sum())
        if count == 0:
            enc, param, body = _NULL, 0, b""
        else:
            ints = _as_int(column, valid)
            if ints is not None and name != "cpu_cores" and name != "cpu_peak":
                enc, param, body = _encode_int(ints)
            else:
                enc, param, body = _encode_float(np.asarray(column[valid], dtype=np.float64))
            if count < n:
                enc |= _MASKED
                body = np.packbits(valid).tobytes() + body
            if len(body) > 32:
                packed = zlib.compress(body, level)
                if len(packed) <= len(body) * _PACK_BELOW:
                    enc, body = enc | _PACKED, packed
        headers.append(_COL.pack(_ID[name], enc, param, len(body)))
        bodies.append(body)
    return _HEAD.pack(_MAGIC, n, len(names)) + b"".join(headers) + b"".join(bodies)


def decode(blob: bytes, wanted: Iterable[str] | None = None) -> tuple[int, dict[str, FloatArray]]:
    """(rows, {column: float64 array with NaN for missing}) for ``wanted`` columns.

    Columns the chunk does not hold come back all-NaN. Integers above 2**53
    are rounded as numpy rounds them (what :func:`rightsize.store.load` gives).
    """
    n, cols = decode_exact(blob, wanted)
    out: dict[str, FloatArray] = {}
    for name, (values, valid) in cols.items():
        as_float = values.astype(np.float64) if values.dtype != np.float64 else values
        if valid is not None:
            as_float = np.where(valid, as_float, np.nan)
        out[name] = as_float
    return n, out


Exact = tuple[Column, "npt.NDArray[np.bool_] | None"]


def header(blob: bytes) -> tuple[int, list[tuple[int, int, int, int]], int]:
    """(rows, [(column id, encoding, parameter, body length)], where the bodies start)."""
    try:
        magic, n, ncols = _HEAD.unpack_from(blob, 0)
    except struct.error as exc:
        raise ChunkError("too short for a chunk header") from exc
    if magic != _MAGIC:
        raise ChunkError("not a rightsize chunk (bad magic)")
    offset = _HEAD.size
    layout: list[tuple[int, int, int, int]] = []
    try:
        for _ in range(ncols):
            layout.append(_COL.unpack_from(blob, offset))
            offset += _COL.size
    except struct.error as exc:
        raise ChunkError(f"damaged chunk header ({exc})") from exc
    return int(n), layout, offset


def decode_exact(
    blob: bytes, wanted: Iterable[str] | None = None
) -> tuple[int, dict[str, Exact]]:
    """Like :func:`decode`, but exact: {column: (values, present mask or None = all)}.

    Integer columns stay int64 (0 where missing); a column the chunk lacks is all-missing.
    """
    n, layout, offset = header(blob)
    body = memoryview(blob)[offset:]
    want = set(CHUNK_COLUMNS if wanted is None else wanted)
    out: dict[str, Exact] = {}
    pos = 0
    for cid, enc, param, length in layout:
        if cid >= len(CHUNK_COLUMNS):
            raise ChunkError(f"unknown column id {cid}")
        name = CHUNK_COLUMNS[cid]
        part = bytes(body[pos : pos + length]) if name in want else b""
        if pos + length > len(body):
            raise ChunkError("chunk body is shorter than its columns")
        pos += length
        if name not in want:
            continue
        if enc & _PACKED:
            try:
                part = zlib.decompress(part)
            except zlib.error as exc:
                raise ChunkError(f"damaged column {name} ({exc})") from exc
            enc &= ~_PACKED
        out[name] = _decode_column(enc, param, part, n)
    if pos != len(body):
        raise ChunkError("chunk body is longer than its columns")
    for name in want:
        if name not in out:
            out[name] = (np.full(n, np.nan), np.zeros(n, dtype=bool))
    return int(n), out


def _decode_column(enc: int, param: int, part: bytes, n: int) -> Exact:
    masked, enc = bool(enc & _MASKED), enc & ~_MASKED
    if enc == _NULL:
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    valid: npt.NDArray[np.bool_] | None = None
    if masked:
        size = (n + 7) // 8
        valid = np.unpackbits(np.frombuffer(part[:size], dtype=np.uint8), count=n).astype(bool)
        part = part[size:]
    count = n if valid is None else int(valid.sum())
    values: Column
    if enc == _INT_CONST:
        if len(part) != 8:
            raise ChunkError("integer constant length does not match")
        values = np.full(count, struct.unpack("<q", part)[0], dtype=np.int64)
    elif enc == _INT_DELTA:
        values = _decode_int(param, part, count)
    elif enc in (_FLOAT_XOR, _FLOAT_CONST):
        values = _decode_float(enc, part, count)
    else:
        raise ChunkError(f"unknown column encoding {enc}")
    if valid is None:
        return values, None
    full: Column = np.zeros(n, dtype=values.dtype)
    full[valid] = values
    return full, valid
