"""Memory pages: freed memory kept for reuse, and fresh arrays mapped ahead of their writes.

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

Pages that are new to the process still cost their first touch.
:func:`populate_ahead` asks the kernel to map them (``MADV_POPULATE_WRITE``,
Linux 5.14+) from a background thread, a few MiB at a time, while the main
thread decodes into the front of the arrays: the faults are taken on the
other core and in bulk. It only maps pages, it never writes them, so it is
safe whichever thread gets to a page first; where the kernel refuses, it stops
and the writes fault as they always did.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["keep_freed_memory", "populate_ahead"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: allocations up to this size come from the heap (Debian 12's glibc 2.36 takes
#: 1 GiB; a glibc that refuses it gets its documented 64-bit maximum, 32 MiB)
_MMAP = (2**30, 32 * 2**20)
_TRIM = 2**30


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds, one arena for all threads; True when the
    C library took the thresholds."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not any(mallopt(_M_MMAP_THRESHOLD, size) for size in _MMAP):
        return False
    # one arena for every thread: what the analysis' block threads free, the next block
    # reuses, whichever thread it runs on (per-thread arenas would each keep their own)
    mallopt(_M_ARENA_MAX, 1)
    return bool(mallopt(_M_TRIM_THRESHOLD, _TRIM))


_MADV_POPULATE_WRITE = 23  # <linux/mman.h>, Linux 5.14+
_PAGE = 4096
#: bytes mapped per call, taken round-robin over the arrays (they fill front to back together)
_PIECE = 8 * 2**20
#: below this many bytes a thread costs more than the faults it saves
POPULATE_MIN_BYTES = 64 * 2**20


def _madvise() -> Any:
    """libc's ``madvise``, or None off a C library that has it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


def _spans(arrays: Sequence[npt.NDArray[Any]]) -> list[tuple[int, int]]:
    """The whole pages inside each array: (first address, end address)."""
    out = []
    for a in arrays:
        lo = -(-a.ctypes.data // _PAGE) * _PAGE
        end = (a.ctypes.data + a.nbytes) // _PAGE * _PAGE
        if end > lo:
            out.append((lo, end))
    return out


def populate(arrays: Sequence[npt.NDArray[Any]], madvise: Any = None) -> int:
    """Map the pages of ``arrays``, ``_PIECE`` bytes of each in turn; the bytes mapped.

    Stops at the first call the kernel refuses (no ``MADV_POPULATE_WRITE``, no
    memory): nothing is lost, the pages fault when written.
    """
    call = _madvise() if madvise is None else madvise
    if call is None:
        return 0
    spans = _spans(arrays)
    mapped, offset = 0, 0
    while True:
        left = False
        for lo, end in spans:
            start = lo + offset
            if start >= end:
                continue
            left = True
            size = min(_PIECE, end - start)
            if call(start, size, _MADV_POPULATE_WRITE) != 0:
                return mapped
            mapped += size
        if not left:
            return mapped
        offset += _PIECE


def populate_ahead(arrays: Sequence[npt.NDArray[Any]]) -> threading.Thread | None:
    """:func:`populate` ``arrays`` in a daemon thread (None when they are too small to bother).

    The thread holds the arrays until it ends, so their memory outlives it.
    """
    if sum(a.nbytes for a in arrays) < POPULATE_MIN_BYTES:
        return None
    thread = threading.Thread(target=populate, args=(list(arrays),), daemon=True,
                              name="rightsize-populate")
    thread.start()
    return thread
