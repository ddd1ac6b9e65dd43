"""``run()``: collect for a while, then analyze and report; ``every`` repeats it.

One cycle = collect for ``duration`` (Docker, the kubelet, or what is new in
Prometheus) → :func:`rightsize.api.analyze` the store (the whole history, or
the last ``window``) → :func:`rightsize.api.report` → apply retention. With
``every`` the cycles start on a monotonic clock every ``every`` seconds
(a cycle that overruns starts the next one at once). SIGINT/SIGTERM stop
the collection within about a second (even on a stuck engine: see
:mod:`rightsize.collect.signals`); the cycle then still writes its
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

from rightsize.api.analysis import Manifests, StorePath, analyze, read_prometheus
from rightsize.api.collection import poll_kubelet
from rightsize.api.options import Kubelet, Prometheus
from rightsize.api.report import report
from rightsize.collect import CollectOptions, collect
from rightsize.config import Config
from rightsize.errors import RuntimeFailure
from rightsize.store import Store, default_db_path

if TYPE_CHECKING:
    from rightsize.render.html import ReportPaths
    from rightsize.render.model import ChartMode

log = logging.getLogger("rightsize.run")

#: One cycle's collection into the store, instead of the Docker one; ends early when the
#: event (SIGINT/SIGTERM) is set. It runs on the event loop's thread, which owns the store.
CollectStep = Callable[[Store, asyncio.Event], Awaitable[object]]


@dataclass
class RunOptions:
    """A scheduled run: what to collect, how to analyze, where to report, what to keep.

    ``prometheus`` or ``kubelet`` replace the Docker collection of ``collect``
    (its ``interval`` and ``duration`` still apply; Prometheus is read for the
    last ``duration``, then for what is new at each cycle). ``window``: analyze
    only the last ``window`` seconds of samples.
    """

    collect: CollectOptions
    out: Path = Path("reports")
    every: float | None = None
    keep_reports: int | None = None
    keep_samples: float | None = None
    charts: ChartMode = "auto"
    window: float | None = None
    manifests: Manifests = ()
    strategy: str | None = None
    config: Config = field(default_factory=Config)
    prometheus: Prometheus | None = None
    kubelet: Kubelet | None = None
    max_cycles: int | None = None  # for tests: stop after this many cycles


@dataclass
class RunState:
    """What happened so far (for logs and tests)."""

    cycles: int = 0
    reports: list[Path] = field(default_factory=list)
    signal: int | None = None  # the signal that stopped the run, if any


def _step(options: RunOptions) -> CollectStep | None:
    """The cycle's collection when it is not the Docker one."""
    prometheus, kubelet = options.prometheus, options.kubelet
    if prometheus is not None:
        last_end: list[float] = []

        async def read(store: Store, _stop: asyncio.Event) -> None:
            now = time.time()
            since = last_end[-1] if last_end else now - (options.collect.duration or 0.0)
            log.info("%s", read_prometheus(store, prometheus, since, now).describe())
            last_end.append(now)

        return read
    if kubelet is not None:

        async def poll(store: Store, stop: asyncio.Event) -> None:
            stats = await poll_kubelet(store, kubelet, stop, interval=options.collect.interval,
                                       duration=options.collect.duration)
            log.info("%s", stats.describe())

        return poll
    return None


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


def _report(db: Path, options: RunOptions) -> ReportPaths | None:
    since = None if options.window is None else time.time() - options.window
    try:
        result = analyze(StorePath(db), manifests=options.manifests, strategy=options.strategy,
                         config=options.config, since=since, history=options.out)
    except RuntimeFailure as exc:  # e.g. no samples yet: say so, keep the schedule going
        log.warning("no report this cycle: %s", exc)
        return None
    return report(result, options.out, charts=options.charts, prometheus=options.prometheus)


async def _run(db: Path, store: Store, options: RunOptions, stop: asyncio.Event) -> RunState:
    from rightsize.progress import log_progress

    state = RunState()
    started = time.monotonic()
    on_round = log_progress(options.collect)
    step = _step(options)
    while True:
        samples: int | None = None  # what the Docker collection of this cycle added
        try:
            if step is not None:
                await step(store, stop)
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
        paths = await asyncio.to_thread(_report, db, options)
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


def run(db: Path | str | None, options: RunOptions) -> RunState:
    """Run the cycles until done or signalled (see the module docstring)."""
    from rightsize.collect.signals import run_until_signalled
    from rightsize.sources.docker.host import resolve_host

    for host in options.collect.hosts:  # validate every URL before anything is created
        if host is not None:
            resolve_host(host)
    path = default_db_path() if db is None else Path(db)

    async def main(stop: asyncio.Event) -> RunState:
        with Store(path) as store:
            return await _run(path, store, options, stop)

    return run_until_signalled(main)
