"""The public Python API."""

from __future__ import annotations

from pathlib import Path

import pytest

import rightsize
from rightsize.errors import UsageError

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"


def test_public_names_are_exactly_all() -> None:
    assert sorted(rightsize.__all__) == sorted(
        ["AnalysisResult", "BacktestResult", "Dataset", "__version__", "analyze", "backtest",
         "load"])
    for name in rightsize.__all__:
        assert getattr(rightsize, name) is not None


def test_analyze_a_recording_folder_gives_dataframes_and_html() -> None:
    result = rightsize.analyze(LAB)
    assert isinstance(result, rightsize.AnalysisResult)
    kinds = set(result.findings["kind"])
    assert {"oom_killed", "cpu_throttled", "over_request"} <= kinds
    assert set(result.recommendations["workload"]) >= {"lab-idle", "lab-throttled"}
    html = result._repr_html_()
    assert "&lt;script&gt;" in html and "<script>alert" not in html


def test_load_accepts_a_store_a_csv_and_a_dataset(tmp_path: Path) -> None:
    ds = rightsize.load(LAB)
    assert ds.samples.shape[0] == 2076
    assert rightsize.load(ds) is ds
    csv = tmp_path / "u.csv"
    csv.write_text("timestamp,container,cpu_cores,memory_bytes\n"
                   "2026-01-01T00:00:00Z,a,0.5,1000\n2026-01-01T00:00:10Z,a,0.25,2000\n")
    assert rightsize.load(csv).samples.shape[0] == 2


def test_backtest_scores_every_strategy() -> None:
    scored = rightsize.backtest(LAB)
    assert set(scored.summary["strategy"]) == {"rightsize", "krr-simple", "vpa"}


def test_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nope"):
        rightsize.load(tmp_path / "nope")


def test_membership_is_by_workload_name() -> None:
    import rightsize

    result = rightsize.analyze(Path(__file__).parent.parent.parent / "data" / "lab-session")
    assert "lab-idle" in result
    assert "nope" not in result
    assert result["lab-oomchild"].oom.evidence == ["events"]  # a recording has no counter
