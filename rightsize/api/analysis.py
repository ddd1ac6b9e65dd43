"""The Python API for notebooks and scripts: load, analyze, backtest.

``source`` is anything rightsize can read: a :class:`~rightsize.store.Dataset`,
the path of a store (``data/rightsize.db`` by default), a folder recorded with
``collect --record`` (such as ``data/lab-session``), or a CSV/Parquet file in
the import format. Folders and files are loaded through a temporary store,
with exactly the parsing ``rightsize import`` uses.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rightsize.errors import UsageError
from rightsize.store import Dataset, Store, default_db_path
from rightsize.store import load as load_store

if TYPE_CHECKING:
    from rightsize.analysis.backtest import BacktestResult
    from rightsize.analysis.result import AnalysisResult
    from rightsize.analysis.thresholds import Thresholds

Source = Dataset | str | Path | None


def load(source: Source = None, *, since: float | None = None,
         until: float | None = None, columns: Sequence[str] | None = None) -> Dataset:
    """Read ``source`` into a :class:`Dataset` (samples, containers, events, hosts).

    ``columns``: the numeric sample columns to read (default: all of them).
    """
    if isinstance(source, Dataset):
        return source
    path = default_db_path() if source is None else Path(source)
    if not path.exists():
        raise UsageError(f"{path}: no such store, recording folder or file")
    if path.is_file():
        with path.open("rb") as fh:
            is_store = fh.read(16).startswith(b"SQLite format 3")
        if is_store or path.suffix in (".db", ".sqlite", ".sqlite3"):
            return load_store(path, since=since, until=until, columns=columns)
    with tempfile.TemporaryDirectory(prefix="rightsize-") as tmp:
        db = Path(tmp) / "load.db"
        with Store(db) as store:
            if path.is_dir():
                from rightsize.sources.recording import import_recordings

                import_recordings(path, store)
            else:
                from rightsize.interchange import import_file

                import_file(path, store)
        return load_store(db, since=since, until=until, columns=columns)


def analyze(
    source: Source = None,
    *,
    strategy: str = "rightsize",
    params: Mapping[str, float] | None = None,
    thresholds: Thresholds | None = None,
    workload: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> AnalysisResult:
    """Findings and recommendations for every workload in ``source``.

    The result has DataFrames (``findings``, ``recommendations``, ``usage``,
    ``workloads``), the ``rightsize/v1`` document (``to_dict()``) and renders
    itself in Jupyter.
    """
    from rightsize.analysis.result import analyze as run
    from rightsize.analysis.usage import SAMPLE_INPUTS

    dataset = load(source, since=since, until=until, columns=SAMPLE_INPUTS)
    return run(dataset, strategy=strategy, params=params, thresholds=thresholds,
               workload=workload)


def backtest(
    source: Source = None,
    strategies: Sequence[str] | None = None,
    *,
    train: float = 0.7,
    refit_every: float = 86400.0,
    params: Mapping[str, Mapping[str, float]] | None = None,
    workload: str | None = None,
) -> BacktestResult:
    """Fit each strategy on the first ``train`` share of every workload, score the rest."""
    from rightsize.analysis.backtest import backtest as run
    from rightsize.analysis.strategies import strategy_names

    result = analyze(source, workload=workload)
    return run(result.histories, list(strategies or strategy_names()), train=train,
               refit_every=refit_every, params=params)
