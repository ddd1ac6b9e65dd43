"""The application layer: everything the CLI does, callable from Python.

The CLI (:mod:`rightsize.cli`) parses options and calls these functions;
the scheduler and notebooks call the same ones, so the same inputs give the
same results (and the same ``rightsize/v1`` document) from every door.

- :func:`load`, :func:`analyze`, :func:`backtest` (:mod:`.analysis`): a
  store, a recorded folder or an import file → a Dataset, an
  AnalysisResult, backtest scores;
- :func:`check` (:mod:`.check`): the CI gate and its files.
"""

from __future__ import annotations

from rightsize.api.analysis import Source, analyze, backtest, load
from rightsize.api.check import check, load_baseline, write_baseline

__all__ = [
    "Source",
    "analyze",
    "backtest",
    "check",
    "load",
    "load_baseline",
    "write_baseline",
]
