"""``load``, ``analyze``, ``backtest``: from any source to an :class:`AnalysisResult`.

``source`` is anything rightsize can read: a :class:`~rightsize.store.Dataset`,
a :class:`StorePath`, the path of a store (``data/rightsize.db`` by default; a path that does not
exist is a missing store), a folder recorded with ``collect --record`` (such
as ``data/lab-session``), or a CSV/Parquet file in the import format. Folders
and files are loaded through a temporary store, with exactly the parsing
``rightsize import`` uses. With ``prometheus``, the window is read from
Prometheus instead, also through a temporary store.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rightsize.api.options import Prometheus, check_window, namespaces_or_none
from rightsize.config import Config
from rightsize.errors import RuntimeFailure
from rightsize.store import Dataset, default_db_path

if TYPE_CHECKING:
    from rightsize.analysis.backtest import BacktestResult
    from rightsize.analysis.result import AnalysisResult
    from rightsize.analysis.strategies.base import History
    from rightsize.analysis.thresholds import Thresholds
    from rightsize.sources.manifests import ManifestWorkload
    from rightsize.sources.prometheus import PrometheusSummary
    from rightsize.store import Store

__all__ = [
    "DEFAULT_PROMETHEUS_WINDOW",
    "Manifests",
    "Source",
    "StorePath",
    "analyze",
    "backtest",
    "load",
    "read_manifests",
    "read_prometheus",
    "source_block",
]

log = logging.getLogger("rightsize")



@dataclass(frozen=True)
class StorePath:
    """A path that is a store whatever its name or content (``--db``): a file that
    is not one is an error, never read as an import file."""

    path: Path


Source = Dataset | StorePath | str | Path | None
#: ``--manifests``: paths of files or folders, or workloads already read
Manifests = Sequence["str | Path | ManifestWorkload"]
#: what a Prometheus read covers without ``since``: the last 7 days
DEFAULT_PROMETHEUS_WINDOW = 7 * 86400.0


def _is_store(path: Path) -> bool:
    if not path.exists() or path.suffix in (".db", ".sqlite", ".sqlite3"):
        return True
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        return fh.read(16).startswith(b"SQLite format 3")


def load(source: Source = None, *, since: float | None = None,
         until: float | None = None, columns: Sequence[str] | None = None,
         max_points: int | None = None) -> Dataset:
    """Read ``source`` into a :class:`Dataset` (samples, containers, events, hosts).

    ``columns``: the numeric sample columns to read (default: all of them);
    ``max_points``: at most that many rows per container, folded to one coarser
    resolution when the window holds more (default: as stored).
    """
    from rightsize.store import Store, load

    if isinstance(source, Dataset):
        return source
    if isinstance(source, StorePath):
        return load(source.path, since=since, until=until, columns=columns,
                    max_points=max_points)
    path = default_db_path() if source is None else Path(source)
    if _is_store(path):
        return load(path, since=since, until=until, columns=columns, max_points=max_points)
    with tempfile.TemporaryDirectory(prefix="rightsize-") as tmp:
        db = Path(tmp) / "load.db"
        with Store(db) as store:
            if path.is_dir():
                from rightsize.sources.recording import import_recordings

                import_recordings(path, store)
            else:
                from rightsize.interchange import import_file

                import_file(path, store)
        return load(db, since=since, until=until, columns=columns, max_points=max_points)


def read_prometheus(store: Store, prometheus: Prometheus, since: float, until: float | None,
                    *, raw_workloads: Sequence[str] | None = None) -> PrometheusSummary:
    """Copy ``[since, until]`` from Prometheus into ``store``.

    ``raw_workloads``: only these workloads, at the raw step (for the charts of
    an aggregated analysis).
    """
    from rightsize.sources.prometheus import CopyOptions, collect_prometheus

    resolution = None if raw_workloads is not None else prometheus.resolution
    options = CopyOptions(
        since=since, until=until, step=prometheus.step, resolution=resolution,
        workloads=None if raw_workloads is None else list(raw_workloads),
        selector=prometheus.selector, namespaces=namespaces_or_none(prometheus.namespaces),
        host_label=prometheus.host_label, tenant=prometheus.tenant,
        **prometheus.auth.kwargs(),
    )
    return collect_prometheus(store, prometheus.url, options)


def _from_prometheus(prometheus: Prometheus, since: float | None, until: float | None,
                     columns: Sequence[str]) -> Dataset:
    from rightsize.store import Store, load

    start = since if since is not None else time.time() - DEFAULT_PROMETHEUS_WINDOW
    with tempfile.TemporaryDirectory(prefix="rightsize-") as tmp:
        db = Path(tmp) / "prometheus.db"
        with Store(db) as store:
            summary = read_prometheus(store, prometheus, start, until)
        log.info("%s", summary.describe())
        return load(db, columns=columns)


def read_manifests(manifests: Manifests) -> list[ManifestWorkload]:
    """The workloads of ``manifests`` (paths are read, workloads kept as they are)."""
    from rightsize.sources.manifests import load_manifests

    paths = [Path(m) for m in manifests if isinstance(m, str | Path)]
    read = load_manifests(paths) if paths else []
    return [m for m in manifests if not isinstance(m, str | Path)] + read


def source_block(dataset: Dataset) -> dict[str, Any]:
    """The JSON document's ``source``: the kind of every host and the hosts.

    ``recording`` (a replayed ``collect --record`` folder), ``docker`` (an
    engine URL), ``import`` (anything else); ``mixed`` when they differ.
    """
    hosts = sorted(str(h) for h in dataset.samples["host"].unique())
    kinds = {
        "recording" if h.startswith("recording:")
        else "docker" if h.split("://")[0] in ("unix", "tcp", "http", "https")
        else "import"
        for h in hosts
    }
    return {"kind": kinds.pop() if len(kinds) == 1 else "mixed", "hosts": hosts}


def _where(source: Source, prometheus: Prometheus | None) -> str:
    if prometheus is not None:
        return f"Prometheus at {prometheus.url}"
    if isinstance(source, Dataset):
        return "the dataset"
    if isinstance(source, StorePath):
        return str(source.path)
    return str(default_db_path() if source is None else source)


def analyze(source: Source = None, *, manifests: Manifests = (),
            prometheus: Prometheus | None = None, strategy: str | None = None,
            params: Mapping[str, float] | None = None, thresholds: Thresholds | None = None,
            config: Config | None = None, workload: str | None = None,
            since: float | None = None, until: float | None = None,
            history: Path | str | None = None) -> AnalysisResult:
    """Findings and recommendations for every workload in ``source`` (or ``prometheus``).

    ``manifests``: Kubernetes YAML or Compose files (or folders, or workloads
    from :func:`read_manifests`) supplying declared values and workload
    identity. ``strategy``, ``params`` and ``thresholds`` default to
    ``config``'s (``config`` defaults to the built-in defaults; the CLI passes
    the file it read); workloads matching one of ``config.exclude``'s fnmatch
    patterns are left out. The result has DataFrames (``findings``,
    ``recommendations``, ``usage``, ``workloads``), the ``rightsize/v1``
    document (``to_dict()``) and renders itself in Jupyter. ``history``: a
    report folder (its ``report.json``) whose recommendations count as in
    effect where nothing is declared, so hysteresis keeps them rather than
    moving them again (``rightsize report`` and ``run`` pass their ``--out``).
    """
    import rightsize.analysis.pipeline
    from rightsize.analysis.usage import ANALYSIS_POINTS, SAMPLE_INPUTS

    check_window(since, until)
    cfg = Config() if config is None else config
    name = strategy or cfg.strategy
    if prometheus is not None:
        dataset = _from_prometheus(prometheus, since, until, SAMPLE_INPUTS)
    else:
        dataset = load(source, since=since, until=until, columns=SAMPLE_INPUTS,
                       max_points=ANALYSIS_POINTS)
        if dataset.step:
            log.info("analysing at %d s resolution: the window holds more than %d samples "
                     "of a container, or rollups", dataset.step, ANALYSIS_POINTS)
    if dataset.samples.empty:
        raise RuntimeFailure(f"no samples in {_where(source, prometheus)}"
                             + (" in the requested window" if since or until else "")
                             + ": collect or import some first")
    if manifests:
        from rightsize.analysis.manifests import apply_manifests

        dataset = apply_manifests(dataset, read_manifests(manifests))
    last = None
    if history is not None:
        from rightsize.analysis.strategies.in_effect import last_recommendations

        last = last_recommendations(Path(history) / "report.json") or None
    return rightsize.analysis.pipeline.analyze(
        dataset, strategy=name, params=cfg.params_for(name) if params is None else params,
        thresholds=cfg.thresholds if thresholds is None else thresholds, workload=workload,
        exclude=cfg.exclude, source=source_block(dataset), last=last,
        reuse_inputs=not isinstance(source, Dataset),  # loaded here: nobody else reads it
    )


def raw_histories(result: AnalysisResult, prometheus: Prometheus | None,
                  workloads: Iterable[str]) -> Mapping[str, History] | None:
    """Aggregated Prometheus data: ``workloads`` re-read at the raw step, for their charts.

    None (the result's own histories serve) unless ``prometheus`` is in
    aggregate mode and there is something to re-read.
    """
    import rightsize.analysis.pipeline
    from rightsize.analysis.usage import SAMPLE_INPUTS
    from rightsize.store import Store, load

    names = list(workloads)
    if prometheus is None or not prometheus.resolution or result.window is None or not names:
        return None
    with tempfile.TemporaryDirectory(prefix="rightsize-") as tmp:
        db = Path(tmp) / "raw.db"
        with Store(db) as store:
            read_prometheus(store, prometheus, result.window[0], result.window[1],
                            raw_workloads=names)
        raw = rightsize.analysis.pipeline.analyze(load(db, columns=SAMPLE_INPUTS),
                                                  strategy=result.strategy, reuse_inputs=True)
    log.info("re-read %d flagged workloads at full resolution for their charts", len(names))
    return raw.histories


def backtest(source: Source = None, strategies: Sequence[str] | None = None, *,
             train: float = 0.7, refit_every: float = 86400.0, mode: str = "static",
             params: Mapping[str, Mapping[str, float]] | None = None,
             config: Config | None = None, result: AnalysisResult | None = None,
             manifests: Manifests = (), prometheus: Prometheus | None = None,
             workload: str | None = None, since: float | None = None,
             until: float | None = None) -> BacktestResult:
    """Fit each strategy on the first ``train`` share of every workload, score the rest.

    ``mode``: ``static`` (one fit at the cut) or ``dynamic`` (refit every
    ``refit_every`` seconds, apply, replay the next period). ``params``
    default to ``config``'s per strategy. ``result``: an analysis already
    made; otherwise ``source`` is analysed with the data options of
    :func:`analyze`.
    """
    from rightsize.analysis.backtest import backtest as static_backtest
    from rightsize.analysis.backtest import dynamic_backtest
    from rightsize.analysis.strategies import get_strategy, strategy_names

    cfg = Config() if config is None else config
    names = [get_strategy(s).name for s in strategies or ()] or strategy_names()
    if result is None:
        result = analyze(source, manifests=manifests, prometheus=prometheus, config=cfg,
                         workload=workload, since=since, until=until)
    if params is None:
        params = {n: cfg.params_for(n) for n in names}
    run = dynamic_backtest if mode == "dynamic" else static_backtest
    return run(result.histories, names, train=train, refit_every=refit_every, params=params)
