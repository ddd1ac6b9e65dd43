"""The Docker sampling loop: rounds on the shared ticker over one or more engines.

Each round, for every host concurrently: list the running containers that
match the filters (so containers that start, stop, restart or vanish are
followed), inspect new or changed ones, and take the newest stats frame of
each. The round's rows are written in one transaction.

Stats come from one persistent ``stats?stream=true`` connection per
container: the engine pushes a frame per container on every collector tick
(~1 s). Readers keep only the newest raw line (no JSON parsing between
rounds), so a round costs one parse per container whatever the interval.
One-shot requests were measured too (``benchmarks/bench_collect.py``): on
Docker 20.10 each waits for the next engine tick, so rounds at ``--interval
1s`` would miss every other tick; streams keep every tick. With an interval
at or below the engine tick every frame is kept.

A background task per host follows ``/events`` (oom, die, start, restart,
destroy); its events are committed with the next round. An engine that goes
away is retried with exponential backoff; the loop itself never dies of it.
An engine that refuses the container list with a 4xx (a bad ``--filter``) is
a usage error, not an outage.

``stop`` ends the loop promptly: the round in flight stops waiting for
frames and is committed; engine calls still pending after
:data:`~rightsize.collect.ticker.STOP_GRACE` are cancelled (that round is
dropped), so a stuck engine never holds a stop up.

One piece: the per-host session, its stats streams and the round loop share
one round protocol (frame waits, reconnect backoff, the claim of an engine
reached under two URLs); apart, each half would be read only with the other.

Only read-only Engine endpoints are called here. Nothing from ``Config.Env``
or command lines is ever stored or logged (see ``payloads``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightsize.collect.ticker import RunTotals, Ticker, until_stopped
from rightsize.errors import EngineError, NotFound, RuntimeFailure, UsageError
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow
from rightsize.sources.docker import payloads
from rightsize.sources.docker.cgroups import OomCounters
from rightsize.sources.docker.client import AsyncDockerClient
from rightsize.sources.docker.host import EngineHost, resolve_host
from rightsize.sources.recording import RecordingWriter
from rightsize.store import Store

log = logging.getLogger("rightsize.collect")

REINSPECT_EVERY = 60  # rounds; picks up `docker update` changes to declared values
MAX_BACKOFF = 30.0
MAX_CONCURRENCY = 128
ENGINE_TICK = 1.0  # the engine's stats collector interval
FRAME_WAIT = 2.5  # how long a round waits for a fresh frame (first frame of a new stream)

@dataclass
class CollectOptions:
    """What to sample, how often and for how long."""

    hosts: list[str | None] = field(default_factory=lambda: [None])
    interval: float = 10.0
    duration: float | None = None
    samples: int | None = None
    filters: Mapping[str, list[str]] = field(default_factory=dict)
    record: Path | None = None


@dataclass
class CollectStats(RunTotals):
    """Running totals, shown by the progress display and returned at the end."""

    hosts_up: int = 0
    last_round_seconds: float = 0.0


@dataclass
class _RoundRows:
    samples: list[SampleRow] = field(default_factory=list)
    containers: list[ContainerRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    hosts: list[HostRow] = field(default_factory=list)
    errors: int = 0


def _label(host: EngineHost) -> str:
    return host.url


Frame = tuple[str, int | None]  # a raw stats line and the kernel's OOM count beside it


class _StatsStream:
    """One container's stats stream, read in the background; keeps the newest raw line.

    ``oom_count`` (when the container's cgroup is readable on this machine)
    is read as each frame arrives, so the kernel's count and the frame
    describe the same moment.
    """

    def __init__(
        self,
        client: AsyncDockerClient,
        cid: str,
        *,
        keep_all: bool,
        oom_count: Callable[[], int | None] | None = None,
    ) -> None:
        self.cid = cid
        self.keep_all = keep_all
        self.oom_count = oom_count
        self.latest: Frame | None = None
        self.backlog: list[Frame] = []
        self.fresh = asyncio.Event()
        self.ended = False
        self.task = asyncio.create_task(self._read(client))

    async def _read(self, client: AsyncDockerClient) -> None:
        try:
            async for line in client.stats_lines(self.cid):
                frame = (line, None if self.oom_count is None else self.oom_count())
                self.latest = frame
                if self.keep_all:
                    self.backlog.append(frame)
                self.fresh.set()
        except asyncio.CancelledError:
            raise
        except NotFound:
            log.debug("container %s is gone; its stats stream ended", self.cid[:12])
        except Exception as exc:
            log.debug("stats stream of %s ended: %s", self.cid[:12], exc)
        finally:
            self.ended = True
            self.fresh.set()

    def take(self) -> list[Frame]:
        """The frames since the last take (all, or only the newest)."""
        if not self.fresh.is_set():
            return []
        self.fresh.clear()
        if self.keep_all:
            lines, self.backlog = self.backlog, []
            return lines
        return [self.latest] if self.latest is not None else []

    def close(self) -> None:
        self.task.cancel()


class HostSession:
    """One engine: connection state, known containers, and its event follower."""

    def __init__(
        self,
        host: EngineHost,
        filters: Mapping[str, list[str]],
        *,
        client_factory: Callable[[EngineHost], AsyncDockerClient] = AsyncDockerClient,
        recorder: RecordingWriter | None = None,
        keep_all: bool = False,
        oom_counters: OomCounters | None = None,
        engines: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.label = _label(host)
        self.filters = {k: list(v) for k, v in filters.items()}
        self._client_factory = client_factory
        self.client: AsyncDockerClient | None = None
        self.recorder = recorder
        self.os_type = "linux"
        self.known: dict[str, ContainerRow] = {}
        self._dirty: set[str] = set()
        self._pending_events: list[tuple[str, EventRow]] = []
        self._events_task: asyncio.Task[None] | None = None
        self._backoff = 0.0
        self._retry_at = 0.0
        self._host_row: HostRow | None = None
        self._announce_host = False
        self._rounds = 0
        self._event_since: float | None = None
        self._streams: dict[str, _StatsStream] = {}
        self._leftover: list[tuple[str, Frame]] = []
        self.keep_all = keep_all
        # the kernel's OOM counters are readable only beside a local engine
        self.oom = oom_counters
        if self.oom is None and host.socket_path is not None:
            self.oom = OomCounters()
        self.engine_id: str | None = None
        # engine ID -> the label of the session that samples it (shared by all sessions)
        self._engines = engines if engines is not None else {}
        self.duplicate_of: str | None = None

    @property
    def up(self) -> bool:
        return self.client is not None

    async def _connect(self) -> None:
        client = self._client_factory(self.host)
        try:
            await client.negotiate()
            version = await client.version()
            info = await client.info()
        except BaseException:
            await client.close()
            raise
        engine_id = info.get("ID") if isinstance(info, dict) else None
        self.engine_id = engine_id if isinstance(engine_id, str) and engine_id else None
        self.client = client
        self._host_row = payloads.host_from_info(info, version, self.label)
        self.os_type = self._host_row["os_type"] or "linux"
        self._announce_host = True
        self._backoff = 0.0
        if self.recorder is not None:
            self.recorder.write_meta(version, info)
        if self._event_since is None:
            self._event_since = time.time()
        self._events_task = asyncio.create_task(self._follow_events(client))
        self._dirty.update(self.known)  # restart counts and states may have changed
        log.info("connected to %s (engine %s, API %s, cgroup v%s)", self.label,
                 self._host_row["engine_version"], self._host_row["api_version"],
                 self._host_row["cgroup_version"])

    async def claim(self) -> bool:
        """Claim this session's engine; False (and disconnect) if another session has it.

        The same engine reached through a second URL would double its
        capacity, samples and coverage, so only the first session samples it.
        """
        if self.engine_id is None or self.client is None:
            return True
        owner = self._engines.setdefault(self.engine_id, self.label)
        if owner == self.label:
            return True
        self.duplicate_of = owner
        log.warning(
            "%s is the same engine as %s (engine ID %s); sampling it once, through %s",
            self.label, owner, self.engine_id, owner,
        )
        await self.disconnect()
        return False

    async def start(self) -> None:
        """Connect for the first time; on failure schedule retries and re-raise."""
        try:
            await self._connect()
        except RuntimeFailure as exc:
            await self._lost(exc, quiet=True)
            raise

    async def disconnect(self) -> None:
        tasks = [st.task for st in self._streams.values()]
        for st in self._streams.values():
            st.close()
        self._streams.clear()
        self._leftover.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
        task, self._events_task = self._events_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    async def _lost(self, exc: BaseException, *, quiet: bool = False) -> None:
        was_up = self.up
        await self.disconnect()
        self._backoff = min(MAX_BACKOFF, max(1.0, self._backoff * 2))
        self._retry_at = time.monotonic() + self._backoff
        if quiet:
            return
        if was_up:
            log.warning("lost the engine at %s: %s; reconnecting", self.label, exc)
        else:
            log.warning("%s; retrying in %.0fs", exc, self._backoff)

    def _refused(self, exc: EngineError) -> UsageError:
        """The engine refused the container list: a bad filter, not an outage."""
        filters = " ".join(f"--filter {k}={v}" for k, vs in self.filters.items() for v in vs)
        message = str(exc).partition("/containers/json: ")[2] or str(exc)
        return UsageError(
            f"the Docker engine at {self.label} refused to list containers"
            f"{' with ' + filters if filters else ''}: {message} (HTTP {exc.status})"
        )

    async def _follow_events(self, client: AsyncDockerClient) -> None:
        filters = {"type": ["container"], "event": sorted(payloads.EVENT_ACTIONS)}
        while True:
            try:
                async for ev in client.events(filters=filters, since=self._event_since):
                    row = payloads.event_from_docker(ev, self.label)
                    if row is None:
                        continue
                    self._event_since = row["ts"]
                    if self.recorder is not None:
                        self.recorder.add_event(ev)
                    self._pending_events.append((row["container_id"], row))
                    if row["action"] in ("start", "restart", "die", "oom"):
                        self._dirty.add(row["container_id"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the stream broke; the round loop notices outages
                log.debug("event stream from %s ended: %s", self.label, exc)
            await asyncio.sleep(1.0)

    def _sync_streams(self, client: AsyncDockerClient, ids: list[str]) -> None:
        """Open a stats stream for each listed container; close those no longer listed."""
        wanted = set(ids)
        for cid in list(self._streams):
            if cid not in wanted or self._streams[cid].ended:
                old = self._streams.pop(cid)
                # Frames that arrived after the last round are still worth keeping.
                self._leftover.extend((cid, line) for line in old.take())
                old.close()
        for cid in ids:
            if cid not in self._streams:
                count = None if self.oom is None else functools.partial(self.oom.read, cid)
                self._streams[cid] = _StatsStream(
                    client, cid, keep_all=self.keep_all, oom_count=count
                )

    async def _take_frames(
        self, wait: float = FRAME_WAIT, stop: asyncio.Event | None = None
    ) -> list[tuple[str, dict[str, Any], int | None]]:
        """Wait (bounded, until ``stop``) for a frame newer than the last round from each
        stream, take them."""
        streams = list(self._streams.items())
        waiting = [asyncio.ensure_future(st.fresh.wait()) for _, st in streams
                   if not st.fresh.is_set()]
        if waiting:
            everything = asyncio.ensure_future(asyncio.wait(waiting))
            waits: set[asyncio.Future[Any]] = {everything}
            if stop is not None:
                waits.add(asyncio.ensure_future(stop.wait()))
            _, pending = await asyncio.wait(waits, timeout=wait,
                                            return_when=asyncio.FIRST_COMPLETED)
            for fut in [*pending, *waiting]:
                fut.cancel()
        frames: list[tuple[str, dict[str, Any], int | None]] = []
        lines, self._leftover = self._leftover, []
        lines += [(cid, frame) for cid, st in streams for frame in st.take()]
        for cid, (line, oom_kills) in lines:
            try:
                doc = json.loads(line)
            except ValueError:
                log.warning("skipping an invalid stats line for %s: %.80r", cid[:12], line)
                continue
            if isinstance(doc, dict):
                frames.append((cid, doc, oom_kills))
        return frames

    async def round(
        self, sem: asyncio.Semaphore, wait: float = FRAME_WAIT, stop: asyncio.Event | None = None
    ) -> _RoundRows:
        """Sample every matching running container once (4xx on the list: UsageError)."""
        rows = _RoundRows()
        self._rounds += 1
        if self.duplicate_of is not None:
            return rows
        if self.client is None:
            if time.monotonic() < self._retry_at:
                return rows
            try:
                await self._connect()
            except RuntimeFailure as exc:
                rows.errors += 1
                await self._lost(exc)
                return rows
            if not await self.claim():
                return rows
        client = self.client
        assert client is not None
        if self._announce_host and self._host_row is not None:
            rows.hosts.append(self._host_row)
            self._announce_host = False
        try:
            listed = await client.containers(filters=self.filters)
        except EngineError as exc:
            if 400 <= exc.status < 500 and exc.status not in (404, 408, 409, 429):
                raise self._refused(exc) from exc
            rows.errors += 1
            await self._lost(exc)
            return rows
        except RuntimeFailure as exc:
            rows.errors += 1
            await self._lost(exc)
            return rows
        if self.recorder is not None and (self._rounds == 1 or self._rounds % REINSPECT_EVERY == 0):
            self.recorder.add_containers(listed)
        ids = [c["Id"] for c in listed]
        reinspect = self._rounds % REINSPECT_EVERY == 0
        to_inspect = [i for i in ids if reinspect or i not in self.known or i in self._dirty]

        async def inspect(cid: str) -> None:
            async with sem:
                try:
                    doc = await client.inspect(cid)
                except NotFound:
                    log.debug("container %s vanished before inspect", cid[:12])
                    return
                except EngineError as exc:
                    rows.errors += 1
                    log.warning("inspect %s on %s failed: %s", cid[:12], self.label, exc)
                    return
            row = payloads.container_from_inspect(doc, self.label)
            self._dirty.discard(cid)
            if self.oom is not None:
                state = doc.get("State")
                pid = state.get("Pid") if isinstance(state, dict) else None
                self.oom.locate(cid, pid if isinstance(pid, int) else None)
            if self.recorder is not None:
                self.recorder.add_inspect(doc)
            if self.known.get(cid) != row:
                self.known[cid] = row
                rows.containers.append(row)

        try:
            await asyncio.gather(*(inspect(i) for i in to_inspect))
        except RuntimeFailure as exc:
            rows.errors += 1
            await self._lost(exc)
            return rows
        self._sync_streams(client, [i for i in ids if i in self.known])
        for cid, doc, oom_kills in await self._take_frames(wait, stop):
            row = payloads.sample_from_stats(doc, self.label, self.os_type, container_id=cid)
            if row is None:
                continue
            row["oom_kills_total"] = oom_kills
            if self.recorder is not None:
                self.recorder.add_stats(doc)
            rows.samples.append(row)
        # Events are kept for containers this run follows; others are dropped.
        pending, self._pending_events = self._pending_events, []
        for cid, ev in pending:
            if cid in self.known:
                rows.events.append(ev)
            elif ev["ts"] > time.time() - 60:
                self._pending_events.append((cid, ev))  # may be discovered next round
        return rows


async def collect(
    store: Store,
    options: CollectOptions,
    *,
    stop: asyncio.Event | None = None,
    on_round: Callable[[CollectStats], None] | None = None,
    client_factory: Callable[[EngineHost], AsyncDockerClient] = AsyncDockerClient,
) -> CollectStats:
    """Sample until ``duration``/``samples`` is reached or ``stop`` is set.

    Every round is committed before the next starts, so stopping at any
    moment (signal, crash, SIGKILL) loses at most the round in flight.
    """
    stop = stop or asyncio.Event()
    stats = CollectStats()
    hosts = list({h.url: h for h in map(resolve_host, options.hosts)}.values())
    recorders: list[RecordingWriter | None] = []
    for h in hosts:
        if options.record is None:
            recorders.append(None)
        elif len(hosts) == 1:
            recorders.append(RecordingWriter(options.record))
        else:
            slug = "".join(ch if ch.isalnum() else "_" for ch in h.url).strip("_")
            recorders.append(RecordingWriter(options.record / slug))
    engines: dict[str, str] = {}
    sessions = [
        HostSession(h, options.filters, client_factory=client_factory, recorder=r,
                    keep_all=options.interval <= ENGINE_TICK * 1.5, engines=engines)
        for h, r in zip(hosts, recorders, strict=True)
    ]
    sem = asyncio.Semaphore(MAX_CONCURRENCY)
    # The first connection decides whether to start at all: an engine that is
    # unreachable from the outset is a usage problem to report, not to retry.
    done, first = await until_stopped(
        asyncio.gather(*(s.start() for s in sessions), return_exceptions=True), stop
    )
    if not done or first is None:  # stopped while connecting
        for s in sessions:
            await s.disconnect()
        return stats
    failures = [f for f in first if isinstance(f, BaseException)]
    if len(failures) == len(sessions):
        for s in sessions:
            await s.disconnect()
        raise failures[0]
    for f in failures:
        log.warning("%s; will keep retrying", f)
    for s in sessions:  # in the order given: the first URL of an engine samples it
        await s.claim()
    ticker = Ticker(options.interval,
                    None if options.duration is None else stats.started + options.duration)
    try:
        while not stop.is_set():
            t0 = time.monotonic()
            # Near the end of --duration, don't wait past it for fresh frames.
            left = ticker.remaining()
            wait = FRAME_WAIT if left is None else min(FRAME_WAIT, max(0.2, left))
            done, outcome = await until_stopped(
                asyncio.gather(*(s.round(sem, wait, stop) for s in sessions),
                               return_exceptions=True), stop)
            if not done or outcome is None:
                break  # stopped, and the engine calls of this round did not finish in time
            for r in outcome:
                if isinstance(r, BaseException):
                    raise r
            results = [r for r in outcome if isinstance(r, _RoundRows)]
            merged = _RoundRows()
            for r in results:
                merged.samples += r.samples
                merged.containers += r.containers
                merged.events += r.events
                merged.hosts += r.hosts
                merged.errors += r.errors
            store.write_round(  # a locked store keeps the round for the next one
                samples=merged.samples,
                containers=merged.containers,
                events=merged.events,
                hosts=merged.hosts,
            )
            for rec in recorders:
                if rec is not None:
                    rec.flush()
            stats.rounds += 1
            stats.samples += len(merged.samples)
            stats.events += len(merged.events)
            stats.errors += merged.errors
            stats.containers = len({row["container_id"] for row in merged.samples})
            stats.hosts_up = sum(s.up for s in sessions)
            stats.last_round_seconds = time.monotonic() - t0
            if on_round is not None:
                on_round(stats)
            if options.samples is not None and stats.rounds >= options.samples:
                break
            # A round that waited for the engine's own tick past the interval is
            # followed at once; waiting for a fresh frame paces it.
            if not await ticker.wait(stop):
                break
    finally:
        for s in sessions:
            await s.disconnect()
        for rec in recorders:
            if rec is not None:
                rec.close()
    return stats


def describe(stats: CollectStats, options: CollectOptions) -> str:
    """A one-line status: containers, samples, elapsed/remaining, errors."""
    parts = [
        f"{stats.containers} containers",
        f"{stats.samples} samples",
        f"{stats.rounds} rounds",
        f"{stats.elapsed:.0f}s elapsed",
    ]
    if options.duration is not None:
        parts.append(f"{max(0.0, options.duration - stats.elapsed):.0f}s left")
    elif options.samples is not None:
        parts.append(f"{max(0, options.samples - stats.rounds)} rounds left")
    parts.append(f"{stats.errors} errors")
    return ", ".join(parts)

