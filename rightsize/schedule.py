"""``rightsize run``: collect for a while, then analyze and report; ``--every`` repeats it.

One cycle = collect for ``duration`` → analyze the store (the whole history,
or ``since``) → write the report atomically → apply retention. With
``every`` the cycles start on a monotonic clock every ``every`` seconds
(a cycle that overruns starts the next one at once). SIGINT/SIGTERM stop
the collection within about a second (even on a stuck engine: see
:class:`rightsize.progress.StopSignals`); the cycle then still writes its
report (unless it collected nothing), so a stop never leaves a half-written
report, and the store keeps every committed round. ``RunState.signal`` says
which signal stopped it (SIGINT: exit 130).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rightsize.collect import CollectOptions, collect
from rightsize.errors import RuntimeFailure
from rightsize.store import Store

if TYPE_CHECKING:
    from rightsize.analysis.result import AnalysisResult
    from rightsize.render.html import ReportPaths

log = logging.getLogger("rightsize.run")

#: One cycle's collection into the store, instead of the Docker one; ends early when the
#: event (SIGINT/SIGTERM) is set. It runs on the event loop's thread, which owns the store.
CollectStep = Callable[[Store, asyncio.Event], Awaitable[object]]


@dataclass
class RunOptions:
    """A scheduled run: what to collect, where to report, what to keep."""

    collect: CollectOptions
    out: Path = Path("reports")
    every: float | None = None
    keep_reports: int | None = None
    keep_samples: float | None = None
    charts: str = "auto"
    max_cycles: int | None = None  # for tests: stop after this many cycles
    #: Replaces the Docker collection of a cycle (a Prometheus read, kubelet polling).
    collect_step: CollectStep | None = None


@dataclass
class RunState:
    """What happened so far (for logs and tests)."""

    cycles: int = 0
    reports: list[Path] = field(default_factory=list)
    signal: int | None = None  # the signal that stopped the run, if any


Analyzer = Callable[[], "AnalysisResult"]


def _retention(store: Store, options: RunOptions) -> None:
    if options.keep_samples is not None:
        removed = store.delete_samples_before(time.time() - options.keep_samples)
        if removed:
            log.info("retention: removed %d samples older than %.0fs", removed,
                     options.keep_samples)
    if options.keep_reports is not None:
        from rightsize.render.html import prune_reports

        for path in prune_reports(options.out, options.keep_reports):
            log.info("retention: removed %s", path)


def _report(analyzer: Analyzer, options: RunOptions) -> ReportPaths | None:
    from rightsize.render.html import write_report

    try:
        result = analyzer()
    except RuntimeFailure as exc:  # e.g. no samples yet: say so, keep the schedule going
        log.warning("no report this cycle: %s", exc)
        return None
    return write_report(result, options.out, charts_mode=options.charts)  # type: ignore[arg-type]


async def _run(store: Store, options: RunOptions, analyzer: Analyzer,
               stop: asyncio.Event) -> RunState:
    from rightsize.progress import log_progress

    state = RunState()
    started = time.monotonic()
    on_round = log_progress(options.collect)
    while True:
        samples: int | None = None  # what the Docker collection of this cycle added
        try:
            if options.collect_step is not None:
                await options.collect_step(store, stop)
            else:
                stats = await collect(store, options.collect, stop=stop, on_round=on_round)
                samples = stats.samples
        except RuntimeFailure as exc:
            if state.cycles == 0:
                raise  # unreachable from the outset: a setup problem, exit 3
            log.warning("cycle %d: %s; reporting on what the store holds", state.cycles + 1, exc)
        if stop.is_set() and samples == 0:  # e.g. a stuck engine: don't hold the stop up
            log.info("stopped before this cycle collected anything: no report this cycle")
            break
        paths = await asyncio.to_thread(_report, analyzer, options)
        state.cycles += 1
        if paths is not None:
            state.reports.append(paths.html)
            log.info("report written: %s", paths.html)
        _retention(store, options)
        if stop.is_set() or options.every is None:
            break
        if options.max_cycles is not None and state.cycles >= options.max_cycles:
            break
        next_start = started + state.cycles * options.every
        wait = next_start - time.monotonic()
        if wait > 0:
            log.info("next cycle in %.0fs", wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            if stop.is_set():
                break
    return state


def run(db: Path, options: RunOptions, analyzer: Analyzer) -> RunState:
    """Run the cycles until done or signalled (see the module docstring)."""

    from rightsize.progress import StopSignals

    async def main() -> RunState:
        with StopSignals(asyncio.Event()) as signals, Store(db) as store:
            state = await _run(store, options, analyzer, signals.stop)
        state.signal = signals.received
        return state

    return asyncio.run(main())
