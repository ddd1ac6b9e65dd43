"""Filling and emptying the store: ``collect`` (Docker, Prometheus, kubelet), ``import_``,
``export``.

Each takes the store's path first (``db``; None for ``data/rightsize.db`` or
``RIGHTSIZE_DB``) and returns what it did, with a ``describe()`` line where
the CLI prints one. SIGINT/SIGTERM stop the sampling loops (the stats'
``signal`` says which).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rightsize.api.analysis import DEFAULT_PROMETHEUS_WINDOW, read_prometheus
from rightsize.api.options import Kubelet, Prometheus, check_window, namespaces_or_none
from rightsize.errors import UsageError
from rightsize.store import default_db_path

if TYPE_CHECKING:
    from rightsize.collect import CollectOptions, CollectStats
    from rightsize.collect.kubelet import KubeletStats
    from rightsize.sources.prometheus import PrometheusSummary
    from rightsize.store import Retention, Store

__all__ = [
    "Imported",
    "collect",
    "collect_kubelet",
    "collect_prometheus",
    "configure_store",
    "export",
    "import_",
    "poll_kubelet",
]


def _db(db: Path | str | None) -> Path:
    return default_db_path() if db is None else Path(db)


def configure_store(db: Path | str | None, retention: Retention) -> None:
    """Keep ``retention`` (how long each resolution is kept) in the store at ``db``;
    later writers of that store roll up by it."""
    from rightsize.store import Store

    with Store(_db(db), retention=retention):
        pass


def collect(db: Path | str | None, options: CollectOptions) -> CollectStats:
    """Sample the Docker engines of ``options`` into the store until done or signalled."""
    from rightsize.progress import run_collect
    from rightsize.sources.docker.host import resolve_host

    for host in options.hosts:  # validate every URL before anything is created
        if host is not None:
            resolve_host(host)
    return run_collect(_db(db), options)


def collect_prometheus(db: Path | str | None, prometheus: Prometheus, *,
                       since: float | None = None,
                       until: float | None = None) -> PrometheusSummary:
    """Copy ``[since, until]`` (default: the last 7 days) from Prometheus into the store."""
    from rightsize.store import Store

    check_window(since, until)
    start = since if since is not None else time.time() - DEFAULT_PROMETHEUS_WINDOW
    with Store(_db(db)) as store:
        return read_prometheus(store, prometheus, start, until)


async def poll_kubelet(store: Store, kubelet: Kubelet, stop: asyncio.Event, *,
                       interval: float, duration: float | None,
                       samples: int | None = None) -> KubeletStats:
    """Poll the kubelets into ``store`` until done or ``stop`` is set (one ``run`` cycle)."""
    import rightsize.collect.kubelet

    return await rightsize.collect.kubelet.collect_kubelet(
        store, list(kubelet.urls), interval=interval, samples=samples, duration=duration,
        stop=stop, namespaces=namespaces_or_none(kubelet.namespaces), **kubelet.auth.kwargs())


def collect_kubelet(db: Path | str | None, kubelet: Kubelet, *, interval: float = 10.0,
                    duration: float | None = None, samples: int | None = None) -> KubeletStats:
    """Poll the kubelets' Summary API into the store until done or signalled."""
    from rightsize.collect.signals import run_until_signalled
    from rightsize.store import Store

    async def main(stop: asyncio.Event) -> KubeletStats:
        with Store(_db(db)) as store:
            return await poll_kubelet(store, kubelet, stop, interval=interval,
                                      duration=duration, samples=samples)

    return run_until_signalled(main)


@dataclass(frozen=True)
class Imported:
    """What :func:`import_` added to the store at ``db``."""

    db: Path
    samples: int
    containers: int | None = None  # an import file
    hosts: int | None = None  # recorded folders
    notes: str = ""

    def describe(self) -> str:
        if self.hosts is not None:
            return (f"imported {self.samples} samples from {self.hosts} recorded host(s) "
                    f"into {self.db}")
        return (f"imported {self.samples} samples of {self.containers} containers into "
                f"{self.db}" + (f"; {self.notes}" if self.notes else ""))


def import_(db: Path | str | None, source: Path | str, *, host: str | None = None) -> Imported:
    """Load a CSV/Parquet file (rows under ``host``, default ``import``) or a recorded
    folder into the store, all or nothing."""
    from rightsize.store import Store

    path, target = Path(source), _db(db)
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    with Store(target) as store:
        if path.is_dir():
            from rightsize.sources.recording import import_recordings

            with store.transaction("import"):  # all or nothing
                added, nhosts = import_recordings(path, store)
            return Imported(target, added, hosts=nhosts)
        from rightsize.interchange import import_file

        summary = import_file(path, store, host=host or "import")
        return Imported(target, summary.samples_added, containers=summary.containers,
                        notes=summary.notes())


def export(db: Path | str | None = None, output: Path | str | None = None, *,
           fmt: str = "csv", since: float | None = None, until: float | None = None) -> int:
    """Write the store's samples in the import format to ``output`` (None or ``-``:
    stdout; Parquet needs a file); returns how many."""
    from rightsize.interchange import export_samples

    to_stdout = output is None or str(output) == "-"
    if fmt == "parquet" and to_stdout:
        raise UsageError("--format parquet needs --output FILE")
    check_window(since, until)
    return export_samples(_db(db), None if to_stdout else Path(str(output)), fmt=fmt,
                          since=since, until=until)
