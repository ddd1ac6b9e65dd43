"""Running the Docker collector from the command line: the progress display.

On a TTY, a live status line (rich) shows containers, samples, elapsed or
remaining time and errors; otherwise a one-line log every 30 s. SIGINT and
SIGTERM stop it through :mod:`rightsize.collect.signals` (``stats.signal``
says which).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rightsize.collect import CollectOptions, CollectStats, collect, describe
from rightsize.collect.signals import run_until_signalled
from rightsize.store import Store

log = logging.getLogger("rightsize.collect")

LOG_EVERY = 30.0


def log_progress(options: CollectOptions) -> Callable[[CollectStats], None]:
    """A round callback that logs one status line at the first round and every 30 s."""
    last = [time.monotonic()]

    def on_round(stats: CollectStats) -> None:
        now = time.monotonic()
        if stats.rounds == 1 or now - last[0] >= LOG_EVERY:
            last[0] = now
            log.info("%s", describe(stats, options))

    return on_round


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
        return run_until_signalled(functools.partial(_collect, store, options))
