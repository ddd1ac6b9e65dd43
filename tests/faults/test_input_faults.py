"""Bad input, as a user types or receives it: one line, exit 2, naming the input (issue 11).

Every test runs the real CLI (``rightsize.cli.main``) on real files and a real
SQLite store built by ``rightsize import``.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tests.cli_run import one_line, run

#: what must never reach a terminal raw: C0/C1 controls, DEL, bidi controls
RAW_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


HEADER = ["timestamp", "container", "name", "cpu_cores", "memory_bytes",
          "cpu_request", "cpu_limit", "memory_request", "memory_limit"]


def write_csv(path: Path, rows: int = 40, *, name: str = "web", memory: int = 100_000_000,
              declared: tuple[str, str, str, str] = ("0.5", "1", "128Mi", "256Mi"),
              extra: dict[str, str] | None = None) -> Path:
    header = HEADER + list(extra or {})
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(rows):
            w.writerow([1_700_000_000 + 10 * i, "c1", name, "0.1", memory, *declared,
                        *(extra or {}).values()])
    return path


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    db = tmp_path / "s.db"
    code, _, err = run(capsys, "--db", str(db), "import", str(write_csv(tmp_path / "ok.csv")))
    assert code == 0, err
    return db


def manifest(tmp_path: Path, cpu: str, memory: str = "128Mi") -> Path:
    path = tmp_path / "deploy.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        "  template:\n    spec:\n      containers:\n      - name: web\n"
        "        resources:\n          limits:\n"
        f"            cpu: {cpu}\n            memory: {memory}\n",
        encoding="utf-8",
    )
    return path


# ---------------------------------------------------------------- 1. quantities


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("memory_limit", "99999999999Ei", "2^63-1 bytes"),
        ("memory_limit", "8Ei", "2^63-1 bytes"),
        ("memory_request", "500m", "fraction of a byte"),
        ("cpu_limit", "512Mi", "byte suffix"),
        ("cpu_request", "1Gi", "byte suffix"),
        ("cpu_limit", "10Ei", "millicores"),
    ],
)
def test_import_declared_column_with_a_bad_quantity(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, column: str, value: str, needle: str
) -> None:
    declared = dict(zip(HEADER[5:], ("0.5", "1", "128Mi", "256Mi"), strict=True))
    declared[column] = value
    path = write_csv(tmp_path / "in.csv", declared=tuple(declared.values()))  # type: ignore[arg-type]
    db = tmp_path / "s.db"
    code, _, err = run(capsys, "--db", str(db), "import", str(path))
    line = one_line(err)
    assert code == 2
    assert "in.csv" in line and "line 2" in line and repr(column) in line
    assert value in line and needle in line


@pytest.mark.parametrize(
    ("cpu", "memory", "needle"),
    [
        ("1e100", "128Mi", "'1e+100'"),  # a YAML float, as go-yaml hands it to the API server
        ("500m", "10Ei", "'10Ei'"),
        ("[1, 2]", "128Mi", "got a list"),
        ("{a: 1}", "128Mi", "got a mapping"),
        ("2024-01-01", "128Mi", "'2024-01-01'"),  # go-yaml keeps it a string, not a date
        ("1:30", "128Mi", "'1:30'"),  # not sexagesimal 90 (YAML 1.1); Go reads a string
        ("!!binary MTI4TWk=", "128Mi", "got binary data"),
    ],
)
def test_manifest_with_a_bad_quantity_names_file_line_and_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path,
    cpu: str, memory: str, needle: str
) -> None:
    path = manifest(tmp_path, cpu, memory)
    code, _, err = run(capsys, "--db", str(store), "analyze", "--manifests", str(path))
    line = one_line(err)
    assert code == 2
    assert "deploy.yaml:1" in line  # file:line (11 = cpu, 12 = memory)
    assert needle in line
    assert "expected" in line or "larger than" in line


def test_manifest_quantities_kubernetes_accepts_but_users_rarely_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path
) -> None:
    """Issue 12: memory 500m (0.5 bytes) and cpu 512Mi are read exactly, warned once per file."""
    from rightsize.sources.manifests import load_manifests

    path = manifest(tmp_path, "512Mi", "500m")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "          requests:\n            memory: 100m\n", encoding="utf-8")
    code, _, err = run(capsys, "--db", str(store), "analyze", "--manifests", str(path))
    assert code == 0, err
    assert "Traceback" not in err
    warned = [ln for ln in err.splitlines() if "did you mean" in ln]
    assert len(warned) == 2, err  # one per kind of value, not one per value
    memory = next(ln for ln in warned if "memory" in ln)
    assert f"{path}:14: " in memory and "100m is 0.1 bytes" in memory  # the first one read
    assert "read as 1 byte" in memory and "(2 such memory values in this file)" in memory
    cpu = next(ln for ln in warned if "limits.cpu" in ln)
    assert f"{path}:11: " in cpu and "512Mi is 536870912 cores" in cpu
    (mw,) = load_manifests([path])
    # the API server's Value(): 0.5 and 0.1 bytes round up to 1 byte
    assert (mw.declared.cpu_limit, mw.declared.memory_limit) == (536870912.0, 1)
    assert (mw.declared.cpu_request, mw.declared.memory_request) == (536870912.0, 1)


def test_compose_sizes_beyond_int64_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path
) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  web:\n    mem_limit: 99999999999999999999g\n    cpus: 1e100\n",
                    encoding="utf-8")
    code, _, err = run(capsys, "--db", str(store), "analyze", "--manifests", str(path))
    line = one_line(err)
    assert code == 2 and "compose.yaml:3" in line and "2^63-1 bytes" in line


# ------------------------------------------------------------------- 2. config files


def test_config_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 store: Path) -> None:
    cfg = tmp_path / "rightsize.toml"
    cfg.write_bytes(b'exclude = ["caf\xe9"]\n')
    code, _, err = run(capsys, "--db", str(store), "--config", str(cfg), "analyze")
    line = one_line(err)
    assert code == 2 and "rightsize.toml" in line and "UTF-8" in line


@pytest.mark.parametrize("nested", ["a = " + "[" * 5000 + "]" * 5000,
                                    "[strategy]\nx = " + "{a=" * 5000 + "1" + "}" * 5000])
def test_config_nested_5000_deep(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 store: Path, nested: str) -> None:
    cfg = tmp_path / "deep.toml"
    cfg.write_text(nested + "\n", encoding="utf-8")
    code, _, err = run(capsys, "--db", str(store), "--config", str(cfg), "analyze")
    line = one_line(err)
    assert code == 2 and "deep.toml" in line and "nested too deeply" in line


# ------------------------------------------------------------- 3. what users type


def config_run(capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path,
               text: str) -> tuple[int, str]:
    cfg = tmp_path / "rightsize.toml"
    cfg.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "--db", str(store), "--config", str(cfg), "analyze")
    return code, one_line(err) if code else err


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[strategy.rightsize]\ncpu_margin = -5\n",
         ["strategy.rightsize.cpu_margin = -5", "≥ 0"]),
        ("[strategy.rightsize]\ncpu_limit_percentile = 500\n",
         ["strategy.rightsize.cpu_limit_percentile = 500", "(0, 1]"]),
        ("[strategy.rightsize]\ncpu_half_life_hours = 0\n", ["cpu_half_life_hours", "> 0"]),
        ("[strategy.rightsize]\ncpu_limit = 512\n", ["strategy.rightsize.cpu_limit", "0 = off"]),
        ('[strategy.rightsize]\ncpu_limit = "512Mi"\n',
         ["strategy.rightsize.cpu_limit", "expected a number"]),
        ("[strategy.rightsize]\nmemory_window_days = -14\n",
         ["strategy.rightsize.memory_window_days = -14", "≥ 0", "0 = all the history"]),
        ("[strategy.rightsize]\nmemory_old_peak_weight = 1.5\n",
         ["strategy.rightsize.memory_old_peak_weight = 1.5", "[0, 1]"]),
        ("[strategy.rightsize]\nmemory_risk_ref = -0.04\n",
         ["strategy.rightsize.memory_risk_ref = -0.04", "≥ 0"]),
        ("[strategy.rightsize]\nmemory_usage_days = 0\n",
         ["strategy.rightsize.memory_usage_days = 0", "> 0"]),
        ("[strategy.rightsize]\nmemory_usage_days = nan\n",
         ["strategy.rightsize.memory_usage_days = nan", "> 0"]),
        ("[strategy.rightsize]\nmemory_record_days = 14.5\n",
         ["strategy.rightsize.memory_record_days = 14.5", "an integer ≥ 1"]),
        ("[strategy.krr-simple]\ncpu_percentile = 0\n", ["cpu_percentile", "(0, 100]"]),
        ("[strategy.vpa]\nhalf_life_hours = -1\n", ["strategy.vpa.half_life_hours"]),
        ("[strategy.vpa]\ntarget_percentile = 0.99\n",
         ["strategy.vpa.target_percentile = 0.99", "strategy.vpa.upper_percentile"]),
        ("[thresholds]\noom_risk_warning = 0.97\n",
         ["thresholds.oom_risk_warning = 0.97", "thresholds.oom_risk_critical = 0.95"]),
        ("[thresholds]\ncpu_throttled_warning = 0.8\ncpu_throttled_critical = 0.5\n",
         ["thresholds.cpu_throttled_warning = 0.8", "thresholds.cpu_throttled_critical = 0.5"]),
        ('[thresholds]\nover_request_min_memory = "500m"\n',
         ["thresholds.over_request_min_memory", "expected a number"]),
    ],
)
def test_config_values_out_of_range_name_the_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path, text: str,
    needles: list[str]
) -> None:
    code, line = config_run(capsys, tmp_path, store, text)
    assert code == 2, line
    assert "rightsize.toml" in line
    for needle in needles:
        assert needle in line


def test_config_values_in_range_are_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path
) -> None:
    code, err = config_run(capsys, tmp_path, store,
                           "[strategy.rightsize]\ncpu_margin = 0\ncpu_limit = 1\n"
                           "cpu_limit_percentile = 1\nmemory_window_days = 0\n"
                           "memory_old_peak_weight = 1\nmemory_risk_ref = 0\n"
                           "memory_usage_days = 0.5\n[thresholds]\noom_risk_warning = 0.95\n"
                           "oom_risk_critical = inf\n")
    assert code == 0, err


# -------------------------------------------------------------- 4. pyproject.toml


def test_a_broken_unrelated_pyproject_only_warns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project\nname = "x"\n', encoding="utf-8")
    monkeypatch.chdir(project)
    code, out, err = run(capsys, "--db", str(store), "analyze", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["schema"] == "rightsize/v1"
    warning = one_line(err)
    assert "pyproject.toml" in warning and "ignoring it" in warning


@pytest.mark.parametrize("named", [False, True])
def test_a_broken_pyproject_of_rightsize_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path,
    monkeypatch: pytest.MonkeyPatch, named: bool
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    text = '[project\nname = "x"\n' + ("" if named else "[tool.rightsize.strategy]\nname = 1\n")
    (project / "pyproject.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(project)
    args = ["--config", "pyproject.toml"] if named else []
    code, _, err = run(capsys, "--db", str(store), *args, "analyze")
    line = one_line(err)
    assert code == 2 and "pyproject.toml" in line and "invalid TOML" in line


def test_config_names_pyproject_and_reads_its_tool_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path
) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n[tool.rightsize.strategy]\nname = "vpa"\n',
                    encoding="utf-8")
    code, out, err = run(capsys, "--db", str(store), "--config", str(path), "analyze",
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["strategy"]["name"] == "vpa"


# ------------------------------------------------- 5. terminal control characters

HOSTILE_NAME = "we\x1b]0;pwned\x07b\x1b[2J\u202eé中😀\rX\x9b31m\u2066"
HOSTILE_LABEL = "a\u202eb\x1b[31m"
ORDINARY = "é中😀"


@pytest.fixture
def hostile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A store whose container name, image and labels carry control and bidi characters."""
    db = tmp_path / "h.db"
    extra = {"image": "img\x1b[1m\u200f", "labels": json.dumps({"team": HOSTILE_LABEL}),
             "bad\x1b[2Jheader": "1"}
    path = write_csv(tmp_path / "h.csv", name=HOSTILE_NAME, memory=260_000_000, extra=extra)
    code, _, err = run(capsys, "--db", str(db), "import", str(path))
    assert code == 0, err
    assert "\x1b" not in err and "bad\\x1b[2jheader" in err  # the unknown header, escaped
    return db


def assert_terminal_safe(text: str) -> None:
    assert not RAW_UNSAFE.search(text), repr(RAW_UNSAFE.search(text))
    assert ORDINARY in text  # ordinary Unicode is left alone


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_analyze_text_formats_escape_controls(
    capsys: pytest.CaptureFixture[str], hostile: Path, fmt: str
) -> None:
    code, out, err = run(capsys, "--db", str(hostile), "analyze", "--format", fmt)
    assert code == 0, err
    assert_terminal_safe(out.replace("\n", ""))
    if fmt == "markdown":  # Markdown also escapes the backslash and brackets
        assert "we\\\\x1b\\]0;pwned\\\\x07b" in out
        assert "team=a\\\\u202eb\\\\x1b\\[31m" in out  # label values too
    else:
        assert "we\\x1b]0;pwned\\x07b\\x1b[2J\\u202eé中😀\\x0dX\\x9b31m\\u2066" in out


def test_analyze_json_keeps_values_but_escapes_them_in_the_text(
    capsys: pytest.CaptureFixture[str], hostile: Path
) -> None:
    code, out, err = run(capsys, "--db", str(hostile), "analyze", "--format", "json")
    assert code == 0, err
    assert_terminal_safe(out.replace("\n", ""))
    workload = json.loads(out)["workloads"][0]
    assert workload["workload"] == HOSTILE_NAME  # decoded exactly
    assert workload["labels"]["team"] == HOSTILE_LABEL


def test_export_to_stdout_escapes_controls_and_says_so(
    capsys: pytest.CaptureFixture[str], hostile: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--db", str(hostile), "export")
    assert code == 0, err
    assert_terminal_safe(out.replace("\n", ""))
    assert "\\x1b]0;pwned" in out and "img\\x1b[1m\\u200f" in out
    assert "escaped on stdout" in err and "\x1b" not in err
    exact = tmp_path / "exact.csv"
    code, _, err = run(capsys, "--db", str(hostile), "export", "--output", str(exact))
    assert code == 0, err
    assert HOSTILE_NAME.encode() in exact.read_bytes()  # a file keeps the exact values


def test_github_annotations_and_step_summary_escape_controls(
    capsys: pytest.CaptureFixture[str], hostile: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, err = run(capsys, "--db", str(hostile), "check", "--github", "--fail-on",
                         "warning")
    assert code == 1, err  # the memory runs close to its limit
    annotations = [line for line in out.splitlines() if line.startswith("::")]
    assert annotations
    for line in annotations:
        assert not RAW_UNSAFE.search(line) and "\\u202e" in line
    assert_terminal_safe(out.replace("\n", ""))
    text = summary.read_text(encoding="utf-8")
    assert_terminal_safe(text.replace("\n", ""))
    assert "we\\\\x1b\\]0;pwned" in text


def test_errors_echoing_an_input_escape_controls(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--db", str(tmp_path / "s.db"), "import",
                       str(tmp_path / "no\x1b[2Jsuch\u202e.csv"))
    line = one_line(err)
    assert code == 2 and "\x1b" not in line and "\u202e" not in line
    assert "no\\x1b[2Jsuch\\u202e.csv" in line
