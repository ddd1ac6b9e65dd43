"""SIGINT and SIGTERM for the long-running commands (collect, run): the one stop path.

:func:`run_until_signalled` runs a coroutine with both signals setting its
``stop`` event, and records the first signal in the result's ``signal``. The loops then stop within
about a second: the round in flight is committed when the engine answers in
time, dropped otherwise. The CLI exits 0 after SIGTERM and 130 after SIGINT.
A second signal aborts at once (``KeyboardInterrupt``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

__all__ = ["Signalled", "StopSignals", "run_until_signalled"]

log = logging.getLogger("rightsize.collect")

class Signalled(Protocol):
    """A loop's result that says which signal stopped it."""

    signal: int | None


T = TypeVar("T", bound=Signalled)


class StopSignals:
    """SIGINT/SIGTERM set ``stop`` on the running loop; ``received`` is the first one.

    A second signal raises ``KeyboardInterrupt`` (exit 130) so that nothing can
    hold the process up. Use as a context manager inside the event loop.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.received: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on_signal(self, sig: int) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = sig
        log.debug("%s: stopping", signal.Signals(sig).name)
        self.stop.set()

    def __enter__(self) -> StopSignals:
        self._loop = asyncio.get_running_loop()
        for sig in self.SIGNALS:
            self._loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None
        for sig in self.SIGNALS:
            self._loop.remove_signal_handler(sig)


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """``asyncio.run(main(stop))`` with SIGINT/SIGTERM setting ``stop``; the result's
    ``signal`` is the first signal received (None if none)."""

    async def guarded() -> T:
        with StopSignals(asyncio.Event()) as signals:
            result = await main(signals.stop)
        result.signal = signals.received
        return result

    return asyncio.run(guarded())
