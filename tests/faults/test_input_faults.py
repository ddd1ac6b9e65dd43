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

from rightsize.cli import main

#: what must never reach a terminal raw: C0/C1 controls, DEL, bidi controls
RAW_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


def one_line(err: str) -> str:
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


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
        ("1e100", "128Mi", "'1e100'"),
        ("500m", "10Ei", "'10Ei'"),
        ("[1, 2]", "128Mi", "got a list"),
        ("{a: 1}", "128Mi", "got a mapping"),
        ("2024-01-01", "128Mi", "got a date"),
        ("512Mi", "128Mi", "'512Mi': Mi is a byte suffix"),
        ("500m", "500m", "'500m': m means 1e-3 (a fraction of a byte)"),
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


def test_compose_sizes_beyond_int64_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store: Path
) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  web:\n    mem_limit: 99999999999999999999g\n    cpus: 1e100\n",
                    encoding="utf-8")
    code, _, err = run(capsys, "--db", str(store), "analyze", "--manifests", str(path))
    line = one_line(err)
    assert code == 2 and "compose.yaml:3" in line and "2^63-1 bytes" in line
