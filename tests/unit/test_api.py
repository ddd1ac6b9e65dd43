"""The public Python API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rightsize
from rightsize.errors import RuntimeFailure

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


def test_missing_source_is_a_missing_store_as_in_the_cli(tmp_path: Path) -> None:
    with pytest.raises(RuntimeFailure, match=r"no store at .*nope") as info:
        rightsize.load(tmp_path / "nope")
    assert info.value.exit_code == 3


def test_membership_is_by_workload_name() -> None:
    import rightsize

    result = rightsize.analyze(Path(__file__).parent.parent.parent / "data" / "lab-session")
    assert "lab-idle" in result
    assert "nope" not in result
    assert result["lab-oomchild"].oom.evidence == ["events"]  # a recording has no counter


LAB_SESSION = Path(__file__).parents[2] / "data" / "lab-session"
LAB_MANIFESTS = Path(__file__).parents[1] / "fixtures" / "manifests" / "lab"


def test_cli_and_api_give_the_same_document(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """One front door: ``analyze --format json`` and ``rightsize.analyze()`` agree,
    ``source`` included, for the recorded lab session with a manifest declaring one
    of its containers."""
    import json

    from click.testing import CliRunner

    from rightsize.cli import cli

    monkeypatch.chdir(tmp_path)  # no stray rightsize.toml
    db = tmp_path / "lab.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(LAB_SESSION)]).exit_code == 0
    out = runner.invoke(cli, ["--db", str(db), "analyze", "--format", "json",
                              "--manifests", str(LAB_MANIFESTS)])
    assert out.exit_code == 0, out.output
    from_cli = json.loads(out.stdout)
    from_api = rightsize.analyze(LAB_SESSION, manifests=[LAB_MANIFESTS]).to_dict()
    for doc in (from_cli, from_api):
        doc.pop("generated_at")
    assert from_cli["source"] == {"kind": "recording", "hosts": from_cli["source"]["hosts"]}
    assert from_cli == json.loads(json.dumps(from_api))
    # compose.yaml's service idle has container_name: lab-idle, so it declares that container
    names = {w["workload"] for w in from_api["workloads"]}
    assert names >= {"lab/idle", "lab-throttled"} and "lab-idle" not in names
    compose = {"cpu_request": 0.5, "cpu_limit": 1.5,  # cpu_shares 512, cpus 1.5
               "memory_request": 256 * 2**20, "memory_limit": 768 * 2**20}
    for doc in (from_cli, from_api):
        idle = next(w for w in doc["workloads"] if w["workload"] == "lab/idle")
        assert idle["declared"] == compose


def test_run_cycles_and_report_write_the_same_report(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``run``'s cycle and ``report`` go through one ``rightsize.api.report``: same
    document, same charts."""
    import json
    import re

    from click.testing import CliRunner

    from rightsize.api.schedule import RunOptions, _report
    from rightsize.cli import cli
    from rightsize.collect import CollectOptions

    monkeypatch.chdir(tmp_path)
    db = tmp_path / "lab.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(db), "import", str(LAB_SESSION)]).exit_code == 0
    assert runner.invoke(cli, ["--db", str(db), "report", "--out", "a"]).exit_code == 0
    paths = _report(db, RunOptions(collect=CollectOptions(), out=tmp_path / "b"))
    assert paths is not None
    docs = [json.loads((tmp_path / d / "report.json").read_text()) for d in ("a", "b")]
    for doc in docs:
        doc.pop("generated_at")
    assert docs[0] == docs[1]
    pages = [(tmp_path / d / "latest.html").read_text() for d in ("a", "b")]
    charts = [re.findall(r"<svg.*?</svg>", page, re.DOTALL) for page in pages]
    assert len(charts[0]) > 8 and charts[0] == charts[1]  # the same charts, to the byte


def test_report_history_is_the_recommendation_in_effect(tmp_path: Path) -> None:
    """A value in the last report.json within the hysteresis band of the new one is kept."""
    import json

    import rightsize

    lab = Path(__file__).parent.parent.parent / "data" / "lab-session"
    fresh = rightsize.analyze(lab)["lab-nolimits"].recommendation
    assert fresh is not None and fresh.cpu_request is not None
    nudged = round(fresh.cpu_request * 1.04, 3)  # inside the 5 % band
    (tmp_path / "report.json").write_text(json.dumps({"workloads": [
        {"workload": "lab-nolimits", "recommendation": {
            "cpu_request": nudged, "memory_request": fresh.memory_request,
            "memory_limit": fresh.memory_limit}}]}))
    kept = rightsize.api.analyze(lab, history=tmp_path)["lab-nolimits"].recommendation
    assert kept is not None and kept.cpu_request == nudged
    # no history, or an unreadable one: the fresh value
    unread = rightsize.api.analyze(lab, history=tmp_path / "none")
    assert unread["lab-nolimits"].recommendation == fresh


def test_config_exclude_leaves_workloads_out_of_analyze_and_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``exclude`` (fnmatch patterns) drops workloads in the CLI and the library alike."""
    import json

    from click.testing import CliRunner

    from rightsize.cli import cli
    from rightsize.config import Config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "rightsize.toml").write_text('exclude = ["lab-oom*", "lab-idle"]\n')
    db = str(tmp_path / "lab.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "import", str(LAB_SESSION)]).exit_code == 0
    out = runner.invoke(cli, ["--db", db, "analyze", "--format", "json"])
    assert out.exit_code == 0, out.output
    names = {w["workload"] for w in json.loads(out.stdout)["workloads"]}
    assert "lab-idle" not in names and not any(n.startswith("lab-oom") for n in names)
    assert "lab-throttled" in names
    api = rightsize.analyze(LAB_SESSION, config=Config(exclude=("lab-oom*", "lab-idle")))
    assert {w.name for w in api} == names
    check = runner.invoke(cli, ["--db", db, "check", "--format", "json"])
    assert "lab-idle" not in check.stdout and "lab-oomchild" not in check.stdout
    with pytest.raises(RuntimeFailure, match="excluded by the config's exclude"):
        rightsize.analyze(LAB_SESSION, config=Config(exclude=("*",)))  # exit 3 in the CLI


def test_reusing_the_loaded_counters_changes_no_result_and_no_users_dataset() -> None:
    """analyze() writes per-interval results over the counters of a dataset it loaded
    itself; a Dataset the user passes is left as it was, and the results are the same."""
    import pandas as pd

    from rightsize.analysis import pipeline

    mine = rightsize.load(LAB_SESSION)
    kept = mine.samples.copy()
    from_dataset = rightsize.analyze(mine)
    pd.testing.assert_frame_equal(mine.samples, kept)  # the user's dataset is untouched
    from_source = rightsize.analyze(LAB_SESSION)  # loaded inside: its counters are reused
    assert from_source.to_dict()["workloads"] == from_dataset.to_dict()["workloads"]
    pd.testing.assert_frame_equal(from_source.usage, from_dataset.usage)
    # and the reuse does happen: the loaded counters hold the results afterwards
    loaded = rightsize.load(LAB_SESSION)
    before = loaded.samples["cpu_total_ns"].to_numpy().copy()
    reused = pipeline.analyze(loaded, reuse_inputs=True)
    after = loaded.samples["cpu_total_ns"].to_numpy()
    assert not np.array_equal(before, after, equal_nan=True)
    order = reused.usage_frame.sort_values(["host", "container_id", "ts"], kind="stable")
    np.testing.assert_array_equal(np.sort(after[np.isfinite(after)]),
                                  np.sort(order["cpu"].dropna().to_numpy()))
