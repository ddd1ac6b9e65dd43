"""Sample times as stored: the IEEE-754 bits of the Unix-seconds double, as an integer.

A positive double's bits order like its value, so SQL can index and compare
them; the round trip is exact (the collector's and an import's times come
back bit for bit); and within one binade (2004 to 2038 for Unix seconds) the
bits are a fixed-point count of 2**-22 s (238 ns), so regular intervals
delta-encode to small integers in the chunks.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["key", "keys", "seconds", "seconds_of"]

_D, _Q = struct.Struct("<d"), struct.Struct("<q")


def key(ts: float) -> int:
    """The stored key of ``ts`` (Unix seconds, > 0 keeps the order)."""
    return int(_Q.unpack(_D.pack(float(ts)))[0])


def keys(ts: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """:func:`key` of every element."""
    return np.ascontiguousarray(ts, dtype=np.float64).view(np.int64).copy()


def seconds(k: int) -> float:
    """The time a stored key stands for."""
    return float(_D.unpack(_Q.pack(int(k)))[0])


def seconds_of(k: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """:func:`seconds` of every element."""
    return np.ascontiguousarray(k, dtype=np.int64).view(np.float64).copy()
