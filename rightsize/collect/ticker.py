"""The one ticker of the sampling loops (Docker and kubelet), and the stop they share.

Rounds start on a monotonic clock every ``interval`` seconds. A round that
overruns its interval starts the next one at once (never a negative sleep);
the deadlines stay on the monotonic clock, so a slow round shifts the later
ones instead of bunching them up. ``duration`` ends the loop at its deadline,
also in the middle of a wait. :func:`until_stopped` bounds the work of a round
once ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["STOP_GRACE", "RunTotals", "Ticker", "until_stopped"]

STOP_GRACE = 1.0  # after a stop, how long calls in flight may take before cancellation

T = TypeVar("T")


async def until_stopped(
    work: Awaitable[T], stop: asyncio.Event, grace: float = STOP_GRACE
) -> tuple[bool, T | None]:
    """Await ``work``; once ``stop`` is set give it ``grace`` seconds, then cancel it.

    Returns ``(True, result)`` when it finished, ``(False, None)`` when cancelled.
    """
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait({task}, timeout=grace)
        if task.done():
            return True, task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False, None
    finally:
        stopped.cancel()
        if not task.done():  # we were cancelled ourselves
            task.cancel()


@dataclass
class RunTotals:
    """Running totals of a sampling loop (the Docker collector, the kubelet one)."""

    started: float = field(default_factory=time.monotonic)
    rounds: int = 0
    samples: int = 0
    events: int = 0
    errors: int = 0
    containers: int = 0
    #: The signal that stopped the loop (set by :mod:`rightsize.collect.signals`), if any.
    signal: int | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Ticker:
    """When the next round starts: every ``interval`` s from now, until ``deadline``.

    ``deadline`` is a :func:`time.monotonic` time (None: no end).
    """

    def __init__(self, interval: float, deadline: float | None = None) -> None:
        self.interval = interval
        self.deadline = deadline
        self._next = time.monotonic()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    async def wait(self, stop: asyncio.Event) -> bool:
        """Sleep until the next round is due; False when the deadline ends the loop.

        A set ``stop`` cuts the sleep short (the caller's loop checks it).
        """
        if self.expired():
            return False
        now = time.monotonic()
        self._next += self.interval
        if self._next < now:  # the round overran the interval: the next starts at once
            self._next = now
        wait = self._next - now
        if self.deadline is not None:
            wait = min(wait, max(0.0, self.deadline - now))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
        return not self.expired()
