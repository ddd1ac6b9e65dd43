"""Independent blocks of the analysis on a few threads.

The pipeline already cuts its largest steps into blocks of whole workloads
(the strategy's pool slices, the statistics' blocks), and each block's numbers
depend on its own rows only. numpy releases the GIL inside its array
operations, which is where those blocks spend their time, so a second core
takes a real share: at 10,000 workloads x 2,016 samples on the 2-core VM of
``docs/benchmarks.md`` the strategy goes from 4.2 s to 3.0 s. Results come back
in block order, so they are the same, bit for bit, as one thread's.

``RIGHTSIZE_THREADS`` sets the number of threads (1: none); the default is the
machine's CPUs, at most :data:`MAX_THREADS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["MAX_THREADS", "map_blocks", "per_thread", "threads"]

#: beyond a few threads the Python between numpy calls (which holds the GIL) decides
MAX_THREADS = 4

T = TypeVar("T")
R = TypeVar("R")


def threads() -> int:
    """Threads for :func:`map_blocks`: ``RIGHTSIZE_THREADS`` if it is a positive integer,
    else the CPUs this process may run on, at most :data:`MAX_THREADS`."""
    text = os.environ.get("RIGHTSIZE_THREADS", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cpus))


def per_thread(rows: int) -> int:
    """A block size for each of :func:`threads` threads, so the blocks in flight together
    hold about ``rows`` rows of scratch, as one thread's block did (the peak memory stays)."""
    return max(1, rows // threads())


def map_blocks(fn: Callable[[T], R], blocks: Sequence[T]) -> list[R]:
    """``[fn(b) for b in blocks]``, on :func:`threads` threads when there are several blocks.

    ``fn`` must not write anything another block reads. The first exception a
    block raises is raised here.
    """
    n = min(threads(), len(blocks))
    if n <= 1:
        return [fn(b) for b in blocks]
    with ThreadPoolExecutor(n, thread_name_prefix="rightsize-block") as pool:
        return list(pool.map(fn, blocks))
