"""The kubelet sampling loop: the Summary API of each node, polled on the shared ticker.

The same rounds as the Docker loop (:class:`~rightsize.collect.ticker.Ticker`:
a slow round is followed at once), one transaction per round, until
``samples`` rounds, ``duration`` seconds or ``stop``. What a poll reads is in
:mod:`rightsize.sources.kubelet`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from rightsize.collect.ticker import RunTotals, Ticker, until_stopped
from rightsize.errors import UsageError
from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow
from rightsize.sources.deadlines import configured
from rightsize.sources.http import client_options
from rightsize.sources.kubelet import DEFAULT_TIMEOUT, KubeletClient, Snapshot, summary_path
from rightsize.store import Store

__all__ = ["KubeletStats", "collect_kubelet"]

log = logging.getLogger("rightsize.kubelet")


@dataclass
class KubeletStats(RunTotals):
    """Running totals of :func:`collect_kubelet`."""

    nodes: int = 0

    def describe(self) -> str:
        return (
            f"{self.containers} containers on {self.nodes} nodes, {self.samples} samples, "
            f"{self.rounds} rounds, {self.elapsed:.0f}s elapsed, {self.errors} errors"
        )



async def collect_kubelet(
    store: Store,
    url: str | Sequence[str],
    *,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    client_cert: tuple[str, str] | None = None,
    interval: float = 10.0,
    samples: int | None = None,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
    namespaces: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    on_round: Callable[[KubeletStats], None] | None = None,
) -> KubeletStats:
    """Poll the Summary API of each kubelet ``url`` into ``store`` until done.

    Stops after ``samples`` rounds, ``duration`` seconds, or when ``stop`` is
    set (none of them: until ``stop``). The first round decides: if every
    kubelet fails it, that error is raised; later failures are logged and
    retried next round. ``token`` (bearer) or ``basic_auth`` (user, password)
    authenticate; ``timeout`` is each poll's total deadline (``RIGHTSIZE_TIMEOUT``
    overrides it). A stop cancels polls still pending after a second.
    """
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise UsageError("no kubelet URL given")
    if not interval > 0:
        raise UsageError(f"invalid interval {interval}: must be greater than zero")
    if samples is not None and samples < 1:
        raise UsageError(f"invalid number of samples {samples}: must be at least 1")
    stop = stop or asyncio.Event()
    stats = KubeletStats()
    poll_deadline = configured(timeout)
    kubelets: list[KubeletClient] = []
    try:
        for u in urls:
            base, path = summary_path(u)
            opts = client_options(
                base,
                what="kubelet",
                token=token,
                basic_auth=basic_auth,
                ca_file=ca_file,
                insecure=insecure,
                client_cert=client_cert,
                timeout=poll_deadline,
            )
            client = httpx.AsyncClient(transport=transport, **opts)
            kubelets.append(KubeletClient(base, client, path, poll_deadline))
        ticker = Ticker(interval, None if duration is None else stats.started + duration)
        nodes: set[str] = set()
        while not stop.is_set():
            done, outcome = await until_stopped(
                asyncio.gather(*(k.poll(namespaces) for k in kubelets), return_exceptions=True),
                stop,
            )
            if not done or outcome is None:
                break  # stopped while polls were pending
            results = outcome
            failures = [r for r in results if isinstance(r, BaseException)]
            if stats.rounds == 0 and len(failures) == len(results):
                raise failures[0]
            for f in failures:
                if not isinstance(f, Exception):
                    raise f
                log.warning("%s; will retry", f)
            containers: list[ContainerRow] = []
            rows: list[SampleRow] = []
            events: list[EventRow] = []
            hosts: list[HostRow] = []
            for k, r in zip(kubelets, results, strict=True):
                if isinstance(r, Snapshot):
                    hosts.append(r.host)
                    containers += r.containers
                    rows += r.samples
                    events += k.restarts(r)
                    nodes.add(r.host["host"])
            stats.samples += store.write(
                samples=rows, containers=containers, events=events, hosts=hosts
            )
            stats.rounds += 1
            stats.events += len(events)
            stats.errors += len(failures)
            stats.containers = len({c["container_id"] for c in containers})
            stats.nodes = len(nodes)
            if on_round is not None:
                on_round(stats)
            if samples is not None and stats.rounds >= samples:
                break
            if not await ticker.wait(stop):
                break
    finally:
        for k in kubelets:
            await k.client.aclose()
    return stats
