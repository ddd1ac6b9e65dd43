"""rightsize.interchange: the fast import path (typed chunks, rows kept across chunks).

A CSV chunk is typed by pandas' C parser; a chunk that fails a check is read
again as text, so errors are those of the text path. These tests pin that the
typed path stores what the text path stores, that errors deep in a later chunk
name the same line, column and value, and that the rows kept between writes
stay bounded.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rightsize import interchange
from rightsize.errors import InputError
from rightsize.interchange import ImportSummary, import_file
from rightsize.store import Store, load
from tests.cli_run import one_line, run

T0 = 1_714_564_800  # 2024-05-01T12:00:00Z
HEADER = ("timestamp,container,cpu_seconds_total,memory_bytes,cpu_request,memory_limit,"
          "oom_kills_total")
BAD_LINE = 333  # in the 7th chunk of 50 rows


def _text_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read every CSV chunk as text: the row-wise checks the typed path falls back to."""
    monkeypatch.setattr(interchange._CsvReader, "_typed", lambda self: {"dtype": str})


def _file(tmp_path: Path, column: str, value: str, rows: int = 400) -> Path:
    """``rows`` valid rows of 3 containers, with ``value`` in ``column`` at BAD_LINE."""
    names = HEADER.split(",")
    lines = [HEADER]
    for i in range(rows):
        cells = [str(T0 + 10 * (i // 3)), f"c{i % 3}", f"{0.25 * i:.2f}", str(2**20 + i),
                 "250m", "512Mi", str(i // 100)]
        if len(lines) + 1 == BAD_LINE:
            cells[names.index(column)] = value
        lines.append(",".join(cells))
    path = tmp_path / "deep.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _error(path: Path, tmp_path: Path) -> str:
    with Store(tmp_path / f"s{len(list(tmp_path.iterdir()))}.db") as store:
        with pytest.raises(InputError) as info:
            import_file(path, store)
        assert store.counts()["samples"] == 0
    return str(info.value)


DEEP_BAD = [
    pytest.param("memory_bytes", "-5", ["negative value '-5'"], id="negative-int"),
    pytest.param("cpu_seconds_total", "Infinity", ["not a number: 'Infinity'"], id="infinity"),
    pytest.param("cpu_seconds_total", "1e400", ["'1e400'"], id="overflowing-float"),
    pytest.param("cpu_seconds_total", "1e10", ["too large", "'1e10'"], id="counter-overflow"),
    pytest.param("memory_bytes", "True", ["not a number: 'True'"], id="boolean"),
    pytest.param("memory_bytes", "1Gi", ["not a number: '1Gi'"], id="quantity-not-declared"),
    pytest.param("memory_bytes", " 12 kB", ["not a number: '12 kB'"], id="unit"),
    pytest.param("memory_limit", "12Qi", ["'memory_limit'"], id="bad-quantity"),
    pytest.param("cpu_request", "-250m", ["negative value '-250m'"], id="negative-quantity"),
    pytest.param("timestamp", "", ["'timestamp': value missing"], id="blank-timestamp"),
    pytest.param("timestamp", "1714564800000", ["milliseconds"], id="milliseconds"),
    pytest.param("timestamp", "-1", ["before 1970"], id="before-1970"),
    pytest.param("timestamp", "2024-13-45T00:00:00Z", ["cannot parse"], id="bad-iso"),
    pytest.param("container", "", ["'container': value missing"], id="blank-container"),
    pytest.param("oom_kills_total", "5000000", ["implausible jump"], id="oom-jump"),
]


@pytest.mark.parametrize("column,value,fragments", DEEP_BAD)
def test_a_bad_value_deep_in_a_later_chunk_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, column: str, value: str,
    fragments: list[str],
) -> None:
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 50)
    path = _file(tmp_path, column, value)
    typed = _error(path, tmp_path)
    assert "\n" not in typed and typed.startswith(f"{path}: line {BAD_LINE}, column {column!r}")
    for fragment in fragments:
        assert fragment in typed
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 10**9)  # the whole file as one chunk
    assert _error(path, tmp_path) == typed
    _text_only(monkeypatch)
    assert _error(path, tmp_path) == typed
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 50)
    assert _error(path, tmp_path) == typed


def test_a_deep_error_on_the_command_line_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 50)
    path = _file(tmp_path, "cpu_seconds_total", "-inf")
    code, _, err = run(capsys, "--db", str(tmp_path / "rs.db"), "import", str(path))
    line = one_line(err)
    assert code == 2
    assert f"line {BAD_LINE}, column 'cpu_seconds_total'" in line and "'-inf'" in line


def _rich_lines(rows: int = 600) -> list[str]:
    """Every kind of cell the text path reads, spread so chunks differ in their types."""
    rng = np.random.default_rng(7)
    header = ("timestamp,container,host,name,workload,labels,cpu_seconds_total,cpu_cores,"
              "memory_bytes,cpu_request,cpu_limit,memory_request,memory_limit,"
              "cpu_periods_total,cpu_throttled_periods_total,cpu_throttled_seconds_total,"
              "oom_kills_total,restarts_total,extra")
    lines = [header]
    for i in range(rows):
        c = i % 4
        step = i // 4
        ts: str = str(T0 + 15 * step)
        if 200 <= i < 260:  # ISO times in one stretch
            ts = pd.Timestamp(T0 + 15 * step, unit="s").strftime("%Y-%m-%dT%H:%M:%SZ")
        elif i % 97 == 5:
            ts = f"{T0 + 15 * step}.25"
        cpu = f"{float(rng.random() * 1e4 + step):.17g}"
        if i % 23 == 3:
            cpu = ["", "NA", "null", " n/a "][i % 4]
        cores = f"{rng.random():.6f}" if i % 3 == 0 else ""
        mem = str(int(rng.integers(1, 2**52)))
        if i % 41 == 7:
            mem = ["", "NaN", " 123 "][i % 3]
        cpu_req = ["0.5", "250m", "", "1"][(step // 40 + c) % 4]
        cpu_lim = "" if i < 300 else "2"
        mem_req = ["512Mi", "536870912", "", "1G"][(step // 30 + c) % 4]
        mem_lim = "1Gi" if step < 80 else "768Mi"
        periods = str(step * 100)
        throttled = str(step * c) if i % 11 else "none"
        throttled_s = f"{step * c * 0.001:.9f}"
        kills = str(step // 20 if step < 100 else (step - 100) // 10)
        restarts = str(step // 50)
        labels = '"' + json.dumps({"app": f"a{c}", "tier": "web"}).replace('"', '""') + '"'
        name = f"name{c}-{step // 60}"
        host = "" if c == 3 else f"h{c % 2}"
        workload = f"w{c % 2}" if i % 5 else ""
        lines.append(",".join([ts, f"c{c}", host, name, workload, labels, cpu, cores, mem,
                               cpu_req, cpu_lim, mem_req, mem_lim, periods, throttled,
                               throttled_s, kills, restarts, "x"]))
        if i in (50, 51, 333):
            lines.append("")  # blank lines keep their line numbers
    return lines


def _contents(path: Path, db: Path) -> list[Any]:
    with Store(db) as store:
        summary = import_file(path, store)
    ds = load(db)
    return [summary, ds.samples, ds.events,
            ds.containers.drop(columns=["first_seen", "last_seen"])]


def _same(a: list[Any], b: list[Any]) -> None:
    assert isinstance(a[0], ImportSummary) and a[0] == b[0]
    for x, y in zip(a[1:], b[1:], strict=True):
        pd.testing.assert_frame_equal(x, y)


@pytest.mark.parametrize("gz", [False, True], ids=["csv", "gzip"])
def test_typed_and_text_reads_store_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gz: bool
) -> None:
    text = "\n".join(_rich_lines()) + "\n"
    path = tmp_path / ("rich.csv.gz" if gz else "rich.csv")
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 37)
    monkeypatch.setattr(interchange, "WRITE_ROWS", 100)
    kinds: list[str] = []  # memory_bytes as the parser typed it, chunk by chunk
    real_parse = interchange._parse

    def spying_parse(src: Any, frame: pd.DataFrame, host: str) -> pd.DataFrame:
        kinds.append(frame["memory_bytes"].dtype.kind)
        return real_parse(src, frame, host)

    monkeypatch.setattr(interchange, "_parse", spying_parse)
    typed = _contents(path, tmp_path / "typed.db")
    assert len(kinds) == 17 and kinds.count("i") >= 5  # typed chunks, no text re-read
    assert "O" in kinds or "U" in kinds or "T" in kinds  # and some with text cells
    assert typed[0].rows == 600 and typed[0].events_added > 10
    assert typed[0].blank_cpu > 0 and typed[0].blank_memory > 0
    assert typed[0].declared_changed == 4
    for chunk, kept in ((37, 1), (10**9, 10**9), (600, 100)):
        monkeypatch.setattr(interchange, "CHUNK_ROWS", chunk)
        monkeypatch.setattr(interchange, "WRITE_ROWS", kept)
        _same(_contents(path, tmp_path / f"typed-{chunk}-{kept}.db"), typed)
    _text_only(monkeypatch)
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 37)
    _same(_contents(path, tmp_path / "text.db"), typed)


def test_kept_rows_are_bounded_and_written_in_big_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 10)
    monkeypatch.setattr(interchange, "WRITE_ROWS", 25)
    lines = ["timestamp,container,cpu_seconds_total,memory_bytes"]
    lines += [f"{T0 + 10 * (i // 2)},c{i % 2},{i},{2**20}" for i in range(200)]
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n")
    written: list[int] = []
    real_write = Store.write_frame

    def counting_write(self: Store, frame: Any) -> int:
        pairs = list(frame)
        written.append(sum(cols["ts"][0].size for _, cols in pairs))
        return real_write(self, pairs)

    monkeypatch.setattr(Store, "write_frame", counting_write)
    with Store(tmp_path / "rs.db") as store:
        assert import_file(path, store).samples_added == 200
        pieces = store.connection.execute(
            "SELECT series, n FROM chunks ORDER BY series, t0").fetchall()
    # every 3 chunks of 10 rows (30 >= 25 kept), then the rest: never more than
    # WRITE_ROWS + CHUNK_ROWS rows are kept, whatever the file's size
    assert written == [30, 30, 30, 30, 30, 30, 20]
    # one piece per container and write (15 rows), not one per chunk (5 rows)
    assert pieces == [(1, 15)] * 6 + [(1, 10)] + [(2, 15)] * 6 + [(2, 10)]


def test_typed_and_text_reads_store_the_same_without_pyarrow(tmp_path: Path) -> None:
    # pandas keeps strings in Python objects without pyarrow: the typed path must
    # still read what the text path reads
    import subprocess
    import sys

    path = tmp_path / "rich.csv"
    path.write_text("\n".join(_rich_lines(300)) + "\n")
    code = f"""
import sys
sys.modules['pyarrow'] = None
from pathlib import Path
import pandas as pd
from rightsize import interchange
from rightsize.store import Store, load
interchange.CHUNK_ROWS = 37
interchange.WRITE_ROWS = 100

def contents(db):
    with Store(db) as store:
        summary = interchange.import_file(Path({str(path)!r}), store)
    ds = load(db)
    return summary, ds.samples, ds.events, ds.containers.drop(columns=["first_seen", "last_seen"])

typed = contents(Path({str(tmp_path / "typed.db")!r}))
interchange._CsvReader._typed = lambda self: {{"dtype": str}}
text = contents(Path({str(tmp_path / "text.db")!r}))
assert typed[0] == text[0], (typed[0], text[0])
assert typed[0].rows == 300 and typed[0].events_added > 5
for a, b in zip(typed[1:], text[1:]):
    pd.testing.assert_frame_equal(a, b)
print("same")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0 and proc.stdout.strip() == "same", proc.stderr


def test_kept_integers_stay_exact_across_narrow_and_wide_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kept rows hold int32 where a chunk's values fit; written, every column is int64
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 3)
    mems = [7, 2**31 - 1, 5, 2**40 + 1, -0, 2**52 + 1, 3]  # exact as float64 too
    lines = ["timestamp,container,cpu_seconds_total,memory_bytes,cpu_periods_total"]
    lines += [f"{T0 + i},c,{i},{m},{2**33 if i == 4 else i}" for i, m in enumerate(mems)]
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n")
    with Store(tmp_path / "rs.db") as store:
        assert import_file(path, store).samples_added == len(mems)
    samples = load(tmp_path / "rs.db").samples
    assert samples["mem_working_set"].tolist() == mems
    assert samples["periods"].tolist() == [2**33 if i == 4 else i for i in range(len(mems))]


def test_a_late_error_after_blank_lines_and_quoted_line_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the failing chunk is read again as text after skipping the records before it:
    # blank lines and a label with a line break count as the chunked read counts them
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 20)
    lines = ["timestamp,container,cpu_cores,memory_bytes,labels"]
    for i in range(90):
        label = '"{""note"":\n""two lines""}"' if i % 17 == 3 else ""
        memory = "-1" if i == 71 else str(2**20 + i)
        lines.append(f"{T0 + i},c{i % 2},0.5,{memory},{label}")
        if i % 13 == 5:
            lines.append("")
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n")
    typed = _error(path, tmp_path)
    assert "column 'memory_bytes': negative value '-1'" in typed
    _text_only(monkeypatch)
    assert _error(path, tmp_path) == typed
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 10**9)
    assert _error(path, tmp_path) == typed
