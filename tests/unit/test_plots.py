"""Notebook plot helpers draw on the given Axes and return it."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.figure import Figure

import rightsize
from rightsize.plots import plot_backtest, plot_distribution, plot_usage

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"


@pytest.fixture(scope="module")
def result() -> rightsize.AnalysisResult:
    return rightsize.analyze(LAB)


def test_plot_usage_draws_declared_lines_on_the_given_axes(
    result: rightsize.AnalysisResult
) -> None:
    ax = Figure().subplots()
    out = plot_usage(result, "lab-idle", "memory", ax=ax)
    assert out is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "request 512Mi" in labels and "limit 1Gi" in labels
    assert any(label.startswith("recommended request") for label in labels)


def test_plot_usage_marks_oom_kills(result: rightsize.AnalysisResult) -> None:
    ax = plot_usage(result, "lab-oomchild", "memory", ax=Figure().subplots())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "OOM kill" in labels


def test_plot_distribution_and_backtest(result: rightsize.AnalysisResult) -> None:
    ax = plot_distribution(result, "lab-bursty", "cpu", ax=Figure().subplots())
    assert any(t.get_text().startswith("p95") for t in ax.get_legend().get_texts())
    ax2 = plot_backtest(rightsize.backtest(LAB), ax=Figure().subplots())
    assert {t.get_text() for t in ax2.texts} == {"rightsize", "krr-simple", "vpa"}


def test_plot_rejects_unknown_resource(result: rightsize.AnalysisResult) -> None:
    with pytest.raises(ValueError, match="disk"):
        plot_usage(result, "lab-idle", "disk", ax=Figure().subplots())
