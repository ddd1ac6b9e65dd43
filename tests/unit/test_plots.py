"""Notebook plot helpers draw on the given Axes and return it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import rightsize
from rightsize.model import Declared
from rightsize.plots import plot_backtest, plot_distribution, plot_usage

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"


def _legend(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


@pytest.fixture(scope="module")
def result() -> rightsize.AnalysisResult:
    return rightsize.analyze(LAB)


def test_plot_usage_draws_declared_lines_on_the_given_axes(
    result: rightsize.AnalysisResult
) -> None:
    ax = Figure().subplots()
    out = plot_usage(result, "lab-idle", "memory", ax=ax)
    assert out is ax
    labels = _legend(ax)
    assert "request 512Mi" in labels and "limit 1Gi" in labels
    assert any(label.startswith("recommended request") for label in labels)


def test_plot_usage_marks_oom_kills(result: rightsize.AnalysisResult) -> None:
    ax = plot_usage(result, "lab-oomchild", "memory", ax=Figure().subplots())
    labels = _legend(ax)
    assert any(label.startswith("OOM kill (") for label in labels), labels


def test_plot_distribution_and_backtest(result: rightsize.AnalysisResult) -> None:
    ax = plot_distribution(result, "lab-bursty", "cpu", ax=Figure().subplots())
    assert any(t.startswith("p95") for t in _legend(ax))
    ax2 = plot_backtest(rightsize.backtest(LAB), ax=Figure().subplots())
    assert {t.get_text() for t in ax2.texts} == {"rightsize", "krr-simple", "vpa"}


def test_plot_rejects_unknown_resource(result: rightsize.AnalysisResult) -> None:
    with pytest.raises(ValueError, match="disk"):
        plot_usage(result, "lab-idle", "disk", ax=Figure().subplots())


class _OneWorkload:
    """Just what plot_usage reads from an AnalysisResult."""

    def __init__(self, usage: pd.DataFrame) -> None:
        self.usage = usage

    def __getitem__(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(containers=("c",), declared=Declared(), recommendation=None)


def test_plot_usage_draws_thousands_of_kills_as_one_artist() -> None:
    n = 20_000
    usage = pd.DataFrame({"workload": "w", "container_id": "c", "ts": np.arange(n, dtype=float),
                          "cpu": 0.1, "memory": 1e6, "oom_kills": (np.arange(n) % 4 == 0) * 1.0})
    ax = plot_usage(_OneWorkload(usage), "w", "memory", ax=Figure().subplots())  # type: ignore[arg-type]
    assert len(ax.collections) + len(ax.lines) < 10
    labels = _legend(ax)
    assert "OOM kill (5,000)" in labels


NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "rightsize-tour.ipynb"


def test_tour_notebook_shows_each_plot_once() -> None:
    """Run the tour (as nbmake does) and count the figures each cell displays."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
                            ).execute()
    shown = [
        sum(1 for o in cell.outputs if "image/png" in o.get("data", {}))
        for cell in nb.cells
        if cell.cell_type == "code"
    ]
    assert max(shown) == 1 and shown.count(1) == 2, shown
