"""The command line's error contract: one line, the right exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import one_line, run


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["collect", "--interval", "ten"], "'ten'"),
        (["collect", "--duration", "5x"], "'5x'"),
        (["collect", "--interval", "0s"], "greater than zero"),
        (["collect", "--samples", "0"], "--samples"),
        (["collect", "--filter", "label"], "key=value"),
        (["collect", "--docker-host", "ssh://host"], "ssh://host"),
        (["collect", "--bogus"], "--bogus"),
        (["nosuchcommand"], "nosuchcommand"),
        (["export", "--format", "parquet"], "--output"),
        (["--log-format", "xml", "collect"], "xml"),
    ],
)
def test_bad_usage_is_exit_2_and_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "--db", str(tmp_path / "s.db"), *args)
    assert code == 2
    assert needle in one_line(err)


def test_import_of_a_missing_file_names_it(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    code, _, err = run(capsys, "--db", str(tmp_path / "s.db"), "import",
                       str(tmp_path / "nope.csv"))
    assert code == 2
    assert "nope.csv" in one_line(err)


def test_import_of_a_malformed_csv_names_file_and_line(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,container,cpu_cores,memory_bytes\n"
                   "2026-01-01T00:00:00Z,a,0.5,1000\n"
                   "yesterday,a,0.5,1000\n")
    code, _, err = run(capsys, "--db", str(tmp_path / "s.db"), "import", str(bad))
    assert code == 2
    line = one_line(err)
    assert "bad.csv" in line and "line 3" in line


def test_import_of_a_recorded_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"
    code, out, _ = run(capsys, "--db", str(tmp_path / "s.db"), "import", str(folder))
    assert code == 0
    assert "imported 2076 samples" in out


def test_export_of_a_missing_store_is_exit_3(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    code, _, err = run(capsys, "--db", str(tmp_path / "none.db"), "export")
    assert code == 3
    assert "none.db" in one_line(err)


def test_a_file_that_is_not_a_store_is_exit_2(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    db.write_text("this is not sqlite\n" * 100)
    code, _, err = run(capsys, "--db", str(db), "export")
    assert code == 2
    assert "x.db" in one_line(err)


def test_export_then_import_round_trips(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    folder = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"
    run(capsys, "--db", str(tmp_path / "a.db"), "import", str(folder))
    out_csv = tmp_path / "a.csv"
    code, _, _ = run(capsys, "--db", str(tmp_path / "a.db"), "export", "-o", str(out_csv))
    assert code == 0
    code, out, _ = run(capsys, "--db", str(tmp_path / "b.db"), "import", str(out_csv))
    assert code == 0
    assert "imported 2076 samples of 8 containers" in out


def test_python_dash_m_entry_point() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "rightsize", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("collect", "import", "export", "lab"):
        assert command in proc.stdout


LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"


@pytest.fixture
def lab_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    db = tmp_path / "lab.db"
    run(capsys, "--db", str(db), "import", str(LAB))
    return db


def test_analyze_json_follows_the_contract(capsys: pytest.CaptureFixture[str],
                                           lab_db: Path) -> None:
    import json

    code, out, _ = run(capsys, "--db", str(lab_db), "analyze", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "rightsize/v1"
    assert doc["source"] == {"kind": "recording", "hosts": ["recording:rightsize-lab-session"]}
    names = {w["workload"] for w in doc["workloads"]}
    assert {"lab-idle", "lab-throttled", "lab-hostile"} <= names


def test_analyze_writes_output_files(capsys: pytest.CaptureFixture[str], lab_db: Path,
                                     tmp_path: Path) -> None:
    out = tmp_path / "out" / "result.csv"
    code, stdout, _ = run(capsys, "--db", str(lab_db), "analyze", "--format", "csv",
                          "--output", str(out), "--workload", "lab-idle")
    assert code == 0 and stdout == ""
    text = out.read_text()
    assert "lab-idle" in text and "lab-throttled" not in text


def test_analyze_of_an_empty_window_is_exit_3(capsys: pytest.CaptureFixture[str],
                                              lab_db: Path) -> None:
    code, _, err = run(capsys, "--db", str(lab_db), "analyze", "--since", "1h")
    assert code == 3
    assert "no samples" in one_line(err)


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[thresholds]\noom_risk_warnin = 0.9\n", "thresholds.oom_risk_warnin"),
        ("[thresholds]\noom_risk_warning = 'high'\n", "thresholds.oom_risk_warning"),
        ("[strategy]\nname = 'magic'\n", "strategy.name"),
        ("[strategy.rightsize]\ncpu_margn = 0.1\n", "strategy.rightsize.cpu_margn"),
        ("colour = 'blue'\n", "colour"),
        ("[check]\nfail_on = 'info'\n", "check.fail_on"),
        ("[thresholds\n", "invalid TOML"),
    ],
)
def test_bad_config_is_exit_2_naming_the_key(capsys: pytest.CaptureFixture[str], lab_db: Path,
                                             tmp_path: Path, toml: str, needle: str) -> None:
    cfg = tmp_path / "rightsize.toml"
    cfg.write_text(toml)
    code, _, err = run(capsys, "--db", str(lab_db), "--config", str(cfg), "analyze")
    assert code == 2
    line = one_line(err)
    assert needle in line and "rightsize.toml" in line


def test_config_changes_the_strategy(capsys: pytest.CaptureFixture[str], lab_db: Path,
                                     tmp_path: Path) -> None:
    import json

    cfg = tmp_path / "rightsize.toml"
    cfg.write_text("[strategy]\nname = 'vpa'\n")
    code, out, _ = run(capsys, "--db", str(lab_db), "--config", str(cfg), "analyze",
                       "--format", "json")
    assert code == 0
    assert json.loads(out)["strategy"]["name"] == "vpa"


def test_unknown_strategy_is_exit_2(capsys: pytest.CaptureFixture[str], lab_db: Path) -> None:
    code, _, err = run(capsys, "--db", str(lab_db), "analyze", "--strategy", "magic")
    assert code == 2
    assert "magic" in one_line(err)


def test_backtest_prints_a_table_and_writes_json(capsys: pytest.CaptureFixture[str],
                                                 lab_db: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "bt.json"
    code, stdout, _ = run(capsys, "--db", str(lab_db), "backtest", "--output", str(out))
    assert code == 0
    for name in ("rightsize", "krr-simple", "vpa"):
        assert name in stdout
    assert json.loads(out.read_text())


def test_check_fails_on_the_lab_and_passes_with_its_baseline(
    capsys: pytest.CaptureFixture[str], lab_db: Path, tmp_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    code, out, _ = run(capsys, "--db", str(lab_db), "check")
    assert code == 1
    assert "lab-throttled" in out and "cpu_throttled" in out
    code, _, _ = run(capsys, "--db", str(lab_db), "check", "--exit-zero")
    assert code == 0
    baseline = tmp_path / "baseline.json"
    code, _, _ = run(capsys, "--db", str(lab_db), "check", "--write-baseline", str(baseline))
    assert code == 0 and baseline.exists()
    junit = tmp_path / "junit.xml"
    code, out, _ = run(capsys, "--db", str(lab_db), "check", "--baseline", str(baseline),
                       "--junit", str(junit))
    assert code == 0
    assert ET.parse(junit).getroot().findall(".//testsuite")


def test_check_fail_on_warning_and_github_annotations(
    capsys: pytest.CaptureFixture[str], lab_db: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = run(capsys, "--db", str(lab_db), "check", "--fail-on", "warning", "--github")
    assert code == 1
    assert "::error" in out
    assert "lab-idle" in summary.read_text()  # over_request is a warning


def test_check_with_a_malformed_baseline_is_exit_2(capsys: pytest.CaptureFixture[str],
                                                   lab_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text("{not json")
    code, _, err = run(capsys, "--db", str(lab_db), "check", "--baseline", str(bad))
    assert code == 2
    assert "baseline.json" in one_line(err)


MANIFESTS = Path(__file__).parents[1] / "fixtures" / "manifests"


def test_a_bad_manifest_is_exit_2_naming_the_file(capsys: pytest.CaptureFixture[str],
                                                  lab_db: Path) -> None:
    code, _, err = run(capsys, "--db", str(lab_db), "analyze", "--manifests",
                       str(MANIFESTS / "bad" / "bad-quantity.yaml"))
    assert code == 2
    assert "bad-quantity.yaml" in one_line(err)


def test_patches_need_manifests(capsys: pytest.CaptureFixture[str], lab_db: Path,
                                tmp_path: Path) -> None:
    code, _, err = run(capsys, "--db", str(lab_db), "analyze", "--patches", str(tmp_path / "p"))
    assert code == 2
    assert "--manifests" in one_line(err)


def test_manifests_without_matching_containers_change_nothing(
    capsys: pytest.CaptureFixture[str], lab_db: Path
) -> None:
    import json

    _, plain, _ = run(capsys, "--db", str(lab_db), "analyze", "--format", "json")
    code, with_k8s, _ = run(capsys, "--db", str(lab_db), "analyze", "--format", "json",
                            "--manifests", str(MANIFESTS / "k8s"))
    assert code == 0
    a, b = json.loads(plain), json.loads(with_k8s)
    assert [w["declared"] for w in a["workloads"]] == [w["declared"] for w in b["workloads"]]


def test_log_format_json_gives_one_json_object_per_line(
    capsys: pytest.CaptureFixture[str], lab_db: Path, tmp_path: Path
) -> None:
    import json

    code, _, err = run(capsys, "--db", str(lab_db), "--log-format", "json", "export",
                       "-o", str(tmp_path / "x.csv"))
    assert code == 0
    lines = [json.loads(line) for line in err.strip().splitlines()]
    assert lines, "expected at least one log line"
    for doc in lines:
        assert {"ts", "level", "logger", "message"} <= set(doc)
    assert any("exported 2076 samples" in d["message"] for d in lines)


def test_quiet_hides_info_logs(capsys: pytest.CaptureFixture[str], lab_db: Path,
                               tmp_path: Path) -> None:
    code, _, err = run(capsys, "--db", str(lab_db), "-q", "export", "-o", str(tmp_path / "x.csv"))
    assert code == 0 and err == ""


def test_rightsize_db_environment_variable(capsys: pytest.CaptureFixture[str], lab_db: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_DB", str(lab_db))
    code, out, _ = run(capsys, "analyze", "--format", "csv")
    assert code == 0 and "lab-idle" in out


def test_internal_errors_are_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str], lab_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rightsize.render

    def boom(*_a: object, **_k: object) -> str:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(rightsize.render, "render", boom)
    code, _, err = run(capsys, "--db", str(lab_db), "analyze")
    assert code == 3
    assert "ZeroDivisionError" in one_line(err, internal=True)


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["collect", "--source", "prometheus"], 2, "--prometheus-url"),
        (["collect", "--source", "kubelet"], 2, "--kubelet-url"),
        (["collect", "--source", "prometheus", "--prometheus-url", "http://127.0.0.1:9"], 3,
         "127.0.0.1:9"),
        (["analyze", "--prometheus-url", "http://127.0.0.1:9"], 3, "127.0.0.1:9"),
        (["collect", "--source", "prometheus", "--prometheus-url", "ftp://x"], 2, "ftp://x"),
    ],
)
def test_cluster_source_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               args: list[str], code: int, needle: str) -> None:
    got, _, err = run(capsys, "--db", str(tmp_path / "s.db"), *args)
    assert got == code
    assert needle in one_line(err)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1795761415", 1795761415.0), ("2026-11-27T06:36:55Z", 1795761415.0),
     ("2026-11-27T06:36:55", 1795761415.0), ("2026-11-27T07:36:55+01:00", 1795761415.0)],
)
def test_time_options_accept_unix_seconds_and_iso(text: str, expected: float) -> None:
    from rightsize.cli import TIME

    assert TIME.convert(text, None, None) == expected


def test_time_options_accept_durations_ago() -> None:
    import time

    from rightsize.cli import TIME

    assert TIME.convert("2h", None, None) == pytest.approx(time.time() - 7200, abs=5)
