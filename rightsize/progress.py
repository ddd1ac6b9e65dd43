"""Running the collector from the command line: signals and the progress display.

On a TTY, a live status line (rich) shows containers, samples, elapsed or
remaining time and errors; otherwise a one-line log every 30 s.

SIGINT and SIGTERM (:class:`StopSignals`) stop the loop within about a second:
the round in flight is committed when the engine answers in time, dropped
otherwise. The command then exits 0 after SIGTERM and 130 after SIGINT (the
stats say which signal: ``stats.signal``). A second signal aborts at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from rightsize.collect import CollectOptions, CollectStats, collect, describe
from rightsize.store import Store

log = logging.getLogger("rightsize.collect")

LOG_EVERY = 30.0


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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._loop is not None
        for sig in self.SIGNALS:
            self._loop.remove_signal_handler(sig)


def log_progress(options: CollectOptions) -> Callable[[CollectStats], None]:
    """A round callback that logs one status line at the first round and every 30 s."""
    last = [time.monotonic()]

    def on_round(stats: CollectStats) -> None:
        now = time.monotonic()
        if stats.rounds == 1 or now - last[0] >= LOG_EVERY:
            last[0] = now
            log.info("%s", describe(stats, options))

    return on_round


async def _run(store: Store, options: CollectOptions, stop: asyncio.Event) -> CollectStats:
    with StopSignals(stop) as signals:
        stats = await _collect(store, options, stop)
    stats.signal = signals.received
    return stats


async def _collect(store: Store, options: CollectOptions, stop: asyncio.Event) -> CollectStats:
    if sys.stderr.isatty() and log.getEffectiveLevel() <= logging.INFO:
        from rich.console import Console
        from rich.live import Live

        with Live(console=Console(stderr=True), refresh_per_second=4, transient=False) as live:

            def on_round(stats: CollectStats) -> None:
                live.update(f"[bold]collecting[/] {describe(stats, options)}")

            return await collect(store, options, stop=stop, on_round=on_round)
    return await collect(store, options, stop=stop, on_round=log_progress(options))


def run_collect(db: Path, options: CollectOptions) -> CollectStats:
    """Collect into the store at ``db`` until done or signalled."""
    with Store(db) as store:
        stats = asyncio.run(_run(store, options, asyncio.Event()))
    return stats
