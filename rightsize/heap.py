"""Freed memory kept for reuse: large numpy scratch arrays reuse pages, not fault in new ones.

glibc hands allocations above its mmap threshold (128 KiB to start) straight
to the kernel and gives them back on free, and trims the heap's free top; the
next array of that size then faults in fresh zeroed pages. The analysis makes
many short-lived arrays of a few to a few hundred MB, and on virtual machines
a fresh page can cost 10-15 µs (measured on the 2-core VM of
``docs/benchmarks.md``: 1.6 GB of fresh pages took 6 s to fill, the same pages
again 0.13 s). :func:`keep_freed_memory` raises both thresholds, so freed
arrays stay in the process for the next one: the peak RSS is the same, the
memory is not given back until the process ends. The CLI calls it once at
start; it does nothing off glibc.
"""

from __future__ import annotations

import ctypes

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: allocations up to this size come from the heap (Debian 12's glibc 2.36 takes
#: 1 GiB; a glibc that refuses it gets its documented 64-bit maximum, 32 MiB)
_MMAP = (2**30, 32 * 2**20)
_TRIM = 2**30


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; True when the C library took them."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not any(mallopt(_M_MMAP_THRESHOLD, size) for size in _MMAP):
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, _TRIM))
