"""rightsize: are your containers asking for the right CPU and memory?

The public API (imported lazily, so ``import rightsize`` stays light)::

    import rightsize
    result = rightsize.analyze("data/lab-session")   # a store, recording folder or CSV
    result.findings                                   # DataFrames for notebooks
    rightsize.backtest("data/lab-session")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rightsize.version import __version__

__all__ = [
    "AnalysisResult",
    "BacktestResult",
    "Dataset",
    "__version__",
    "analyze",
    "backtest",
    "load",
]

if TYPE_CHECKING:
    from rightsize.analysis.backtest import BacktestResult
    from rightsize.analysis.result import AnalysisResult
    from rightsize.api import analyze, backtest, load
    from rightsize.store import Dataset

_LAZY = {
    "analyze": "rightsize.api",
    "backtest": "rightsize.api",
    "load": "rightsize.api",
    "Dataset": "rightsize.store",
    "AnalysisResult": "rightsize.analysis.result",
    "BacktestResult": "rightsize.analysis.backtest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rightsize' has no attribute {name!r}")
