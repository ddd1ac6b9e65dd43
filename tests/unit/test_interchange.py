"""rightsize.interchange: CSV/Parquet import and export of samples."""

from __future__ import annotations

import gzip
import logging
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rightsize import interchange
from rightsize.errors import InputError, UsageError
from rightsize.interchange import ImportSummary, export_samples, import_file
from rightsize.rows import ContainerRow, EventRow, SampleRow
from rightsize.store import Store, load

FIXTURES = Path(__file__).parent.parent / "fixtures" / "import"
LAB = Path(__file__).parent.parent.parent / "data" / "lab-session"
T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
HEADER = "timestamp,container,cpu_seconds_total,memory_bytes"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store.db") as s:
        yield s


def _csv(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _sample(cid: str, ts: float, **values: Any) -> SampleRow:
    row: dict[str, Any] = {c: None for c in SampleRow.__annotations__}
    row.update(host="unix:///var/run/docker.sock", container_id=cid, ts=ts, **values)
    return row  # type: ignore[return-value]


def _container(cid: str, name: str, **values: Any) -> ContainerRow:
    row: dict[str, Any] = {
        "host": "unix:///var/run/docker.sock",
        "container_id": cid,
        "name": name,
        "image": "busybox",
        "labels": {},
        "workload": None,
        "cpu_request": None,
        "cpu_limit": None,
        "memory_request": None,
        "memory_limit": None,
        "cpuset_cpus": None,
        "restart_count": 0,
        "oom_killed": False,
        "started_at": None,
        "os_type": "linux",
    }
    row.update(values)
    return row  # type: ignore[return-value]


def _oom(cid: str, ts: float) -> EventRow:
    return EventRow(
        host="unix:///var/run/docker.sock",
        container_id=cid,
        ts=ts,
        action="oom",
        exit_code=None,
        name=cid,
    )


def _source_store(path: Path) -> None:
    """A store as the Docker collector would leave it (counters, declared, oom events)."""
    samples = [
        _sample(
            "aaa",
            T0 + i * 10.123456,
            cpu_total_ns=5_000_000_000 + i * 1_234_567_891,
            periods=100 * i,
            throttled_periods=7 * i,
            throttled_ns=i * 2_500_000,
            mem_usage=60_000_000 + i,
            mem_working_set=50_000_000 + 1000 * i,
        )
        for i in range(6)
    ]
    samples += [
        _sample("bbb", T0 + i * 10.0, cpu_cores=0.25 * i, mem_working_set=1_000_000 * (i + 1))
        for i in range(3)
    ]
    containers = [
        _container(
            "aaa",
            "lab-grower",
            cpu_request=0.25,
            cpu_limit=0.5,
            memory_request=64 * 2**20,
            memory_limit=96 * 2**20,
        ),
        _container("bbb", "lab-nolimits", workload="team/batch"),
    ]
    # Two kills between samples 1 and 2, one exactly at sample 4.
    events = [_oom("aaa", T0 + 12.0), _oom("aaa", T0 + 15.0), _oom("aaa", T0 + 4 * 10.123456)]
    with Store(path) as s:
        s.write(samples=samples, containers=containers, events=events)


def _cumulative_ooms(events: pd.DataFrame, samples: pd.DataFrame, cid: str) -> list[int]:
    kills = events["action"].isin(("oom", "oom_kill"))  # engine notes (source), counted kills
    ev = events.loc[(events["container_id"] == cid) & kills, "ts"]
    ts = samples.loc[samples["container_id"] == cid, "ts"]
    return [int((ev <= t + 1e-6).sum()) for t in ts]


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize(
    "fmt,name", [("csv", "out.csv"), ("csv", "out.csv.gz"), ("parquet", "o.pq")]
)
def test_round_trip_keeps_samples_declared_and_oom_counts(
    tmp_path: Path, fmt: str, name: str
) -> None:
    src = tmp_path / "src.db"
    _source_store(src)
    out = tmp_path / name
    assert export_samples(src, out, fmt=fmt) == 9
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    dst = tmp_path / "dst.db"
    with Store(dst) as s:
        summary = import_file(out, s)
    assert summary == ImportSummary(
        rows=9, containers=2, samples_added=9, events_added=3, skipped_duplicates=0
    )

    a, b = load(src), load(dst)
    assert list(b.samples["host"].unique()) == ["unix:///var/run/docker.sock"]
    assert b.samples["ts"].tolist() == pytest.approx(a.samples["ts"].tolist(), abs=1e-6)
    for col in ("cpu_total_ns", "cpu_cores", "periods", "throttled_periods", "throttled_ns"):
        pd.testing.assert_series_equal(b.samples[col], a.samples[col], check_exact=True)
    assert b.samples["mem_working_set"].tolist() == a.samples["mem_working_set"].tolist()

    declared = ["container_id", "name", "cpu_request", "cpu_limit", "memory_request"]
    declared += ["memory_limit"]
    pd.testing.assert_frame_equal(
        b.containers[declared].reset_index(drop=True),
        a.containers[declared].reset_index(drop=True),
    )
    workloads = dict(zip(b.containers["container_id"], b.containers["workload"], strict=True))
    assert workloads == {"aaa": "lab-grower", "bbb": "team/batch"}

    assert _cumulative_ooms(b.events, b.samples, "aaa") == [0, 0, 2, 2, 3, 3]
    assert _cumulative_ooms(a.events, a.samples, "aaa") == [0, 0, 2, 2, 3, 3]


def test_export_csv_columns_and_values(tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    _source_store(src)
    out = tmp_path / "out.csv"
    export_samples(src, out)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert tuple(frame.columns) == interchange.EXPORT_COLUMNS
    first = frame.iloc[0]
    assert first["timestamp"] == "2024-05-01T12:00:00.000000000Z"
    assert frame.iloc[1]["timestamp"] == "2024-05-01T12:00:10.123456000Z"
    assert first["container"] == "aaa"
    assert first["cpu_seconds_total"] == "5.0"
    assert first["cpu_cores"] == ""
    assert first["memory_limit"] == str(96 * 2**20)
    assert frame["oom_kills_total"].tolist() == ["0", "0", "2", "2", "3", "3", "0", "0", "0"]
    rate_rows = frame[frame["container"] == "bbb"]
    assert rate_rows["cpu_cores"].tolist() == ["0.0", "0.25", "0.5"]
    assert set(rate_rows["cpu_seconds_total"]) == {""}


def test_export_window_stdout_and_workload_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src.db"
    _source_store(src)

    def grouping(containers: pd.DataFrame) -> pd.Series[str]:
        return "derived-" + containers["name"].astype("str")

    n = export_samples(src, None, since=T0 + 5, until=T0 + 25, workload_of=grouping)
    lines = capsys.readouterr().out.splitlines()
    assert n == 4 and len(lines) == 5
    assert lines[0].startswith("timestamp,container,workload,")
    rows = [line.split(",") for line in lines[1:]]
    assert [r[1] for r in rows] == ["aaa", "aaa", "bbb", "bbb"]
    # explicit workload wins; the callable derives the rest
    assert [r[2] for r in rows] == ["derived-lab-grower"] * 2 + ["team/batch"] * 2
    # only kills inside the window count (both at T0+12/15, before the 2nd row)
    k = lines[0].split(",").index("oom_kills_total")
    assert [r[k] for r in rows] == ["0", "2", "0", "0"]


def test_export_usage_errors(tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    _source_store(src)
    with pytest.raises(UsageError, match="output file"):
        export_samples(src, None, fmt="parquet")
    with pytest.raises(UsageError, match="csv or parquet"):
        export_samples(src, tmp_path / "x.json", fmt="json")
    (tmp_path / "no").write_text("a file where a folder should be")
    with pytest.raises(UsageError, match=r"cannot write the export .*dir\.csv: Not a directory"):
        export_samples(src, tmp_path / "no" / "such" / "dir.csv")


def test_export_replaces_existing_file_atomically(tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    _source_store(src)
    out = tmp_path / "out.csv"
    out.write_text("old contents\n")
    export_samples(src, out, since=T0 + 1000)
    assert out.read_text().splitlines() == [",".join(interchange.EXPORT_COLUMNS)]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert out.stat().st_mode & 0o044  # a normal file, not mkstemp's 0600


# --------------------------------------------------------------------------- import semantics


def test_fixture_timestamps_quantities_and_last_declared(store: Store) -> None:
    summary = import_file(FIXTURES / "mixed.csv", store, host="prom")
    assert summary == ImportSummary(
        rows=6, containers=2, samples_added=6, events_added=1, skipped_duplicates=0,
        declared_changed=1,
    )
    ds = load(store.path)
    web = ds.samples[ds.samples["container_id"] == "web-1"]
    # Z, +02:00 (same instant + 10 s), naive (UTC), Unix seconds
    assert web["ts"].tolist() == [T0, T0 + 10, T0 + 20, T0 + 30]
    assert set(ds.samples["host"]) == {"prom"}
    batch = ds.samples[ds.samples["container_id"] == "batch"]
    assert batch["ts"].tolist() == [T0, T0 + 10.5]
    assert batch["cpu_cores"].tolist() == [1.5, 0.25]

    c = ds.containers.set_index("container_id")
    # the last non-blank value in time order wins
    assert c.loc["web-1", "cpu_request"] == 0.5
    assert c.loc["web-1", "cpu_limit"] == 1.0
    assert c.loc["web-1", "memory_request"] == 256 * 2**20
    assert c.loc["web-1", "memory_limit"] == 2**30
    assert c.loc["web-1", "workload"] == "shop/web"
    assert c.loc["batch", "cpu_request"] == 1.5
    assert c.loc["batch", "memory_request"] == 1_000_000_000
    assert c.loc["batch", "memory_limit"] == 2_000_000_000
    assert dict(c["workload"].isna()) == {"batch": True, "web-1": False}

    assert web["periods"].tolist() == [1000, 1100, 1200, 1300]
    assert web["throttled_periods"].tolist() == [10, 12, 20, 21]
    assert ds.events["ts"].tolist() == [T0 + 20]
    assert ds.hosts.empty


def test_counters_and_rates_together(tmp_path: Path, store: Store) -> None:
    path = _csv(
        tmp_path,
        "timestamp,container,cpu_cores,cpu_seconds_total,memory_bytes\n"
        f"{T0},ctr,,100,10\n"
        f"{T0 + 10},ctr,,115,10\n"
        f"{T0 + 20},ctr,9.9,120,10\n"  # both: the counter wins
        f"{T0},rate,0.75,,20\n"
        f"{T0 + 10},rate,1.25,,20\n",
    )
    import_file(path, store)
    s = load(store.path).samples.set_index("container_id")
    ctr = s.loc["ctr"]
    assert ctr["cpu_total_ns"].tolist() == [100e9, 115e9, 120e9]
    assert ctr["cpu_cores"].isna().all()
    rates = ctr["cpu_total_ns"].diff().iloc[1:] / 1e9 / ctr["ts"].diff().iloc[1:]
    assert rates.tolist() == pytest.approx([1.5, 0.5])
    rate = s.loc[["rate"]]
    assert rate["cpu_cores"].tolist() == [0.75, 1.25]
    assert rate["cpu_total_ns"].isna().all()
    assert s["mem_working_set"].tolist() == s["mem_usage"].tolist()


def test_counter_resets(tmp_path: Path, store: Store) -> None:
    rows = [(0, 50.0, 0), (10, 60.0, 2), (20, 70.0, 2), (30, 1.0, 1), (40, 3.0, 3)]
    text = "timestamp,container,cpu_seconds_total,memory_bytes,oom_kills_total\n"
    # unsorted on purpose: the import orders by time
    for dt, cpu, oom in reversed(rows):
        text += f"{T0 + dt},c,{cpu},1,{oom}\n"
    summary = import_file(_csv(tmp_path, text), store)
    ds = load(store.path)
    # CPU counters are stored raw (the reset stays visible to the analysis)
    assert ds.samples["cpu_total_ns"].tolist() == [50e9, 60e9, 70e9, 1e9, 3e9]
    # 0→2: two kills; 2→1: reset, one kill since; 1→3: two more
    assert summary.events_added == 5
    ts = ds.events["ts"].tolist()
    assert sum(T0 + 5 < t <= T0 + 10 for t in ts) == 2
    assert sum(T0 + 25 < t <= T0 + 30 for t in ts) == 1
    assert sum(T0 + 35 < t <= T0 + 40 for t in ts) == 2
    assert set(ds.events["action"]) == {"oom_kill"}


def test_first_oom_value_counts_and_blank_cells_do_not_break_the_counter(
    tmp_path: Path, store: Store
) -> None:
    text = (
        "timestamp,container,cpu_seconds_total,memory_bytes,oom_kills_total\n"
        f"{T0},c,1,1,1\n"
        f"{T0 + 10},c,2,1,\n"
        f"{T0 + 20},c,3,1,1\n"
        f"{T0 + 30},c,4,,2\n"
    )
    assert import_file(_csv(tmp_path, text), store).events_added == 2
    ds = load(store.path)
    assert ds.events["ts"].tolist() == [T0, T0 + 30]
    assert math.isnan(ds.samples["mem_working_set"].iloc[3])


@pytest.mark.parametrize(
    "stamp,expected",
    [
        ("2024-05-01T12:00:00Z", T0),
        ("2024-05-01T12:00:00.250000Z", T0 + 0.25),
        ("2024-05-01T14:00:00+02:00", T0),
        ("2024-05-01T07:00:00-05:00", T0),
        ("2024-05-01T12:00:00", T0),
        ("2024-05-01 12:00:00", T0),
        ("1714564800", T0),
        ("1714564800.5", T0 + 0.5),
    ],
)
def test_timestamp_forms(tmp_path: Path, store: Store, stamp: str, expected: float) -> None:
    import_file(_csv(tmp_path, f"{HEADER}\n{stamp},c,1,1\n"), store)
    assert load(store.path).samples["ts"].tolist() == [pytest.approx(expected, abs=1e-6)]


def test_mixed_timestamp_forms_in_one_column(tmp_path: Path, store: Store) -> None:
    text = f"{HEADER}\n2024-05-01T12:00:00Z,c,1,1\n{T0 + 10},c,2,1\n2024-05-01T12:00:20,c,3,1\n"
    import_file(_csv(tmp_path, text), store)
    assert load(store.path).samples["ts"].tolist() == [T0, T0 + 10, T0 + 20]


@pytest.mark.parametrize(
    "cpu,mem,cores,nbytes",
    [
        ("250m", "512Mi", 0.25, 512 * 2**20),
        ("1.5", "1Gi", 1.5, 2**30),
        ("2", "1G", 2.0, 10**9),
        ("100m", "134217728", 0.1, 134217728),
        ("0.5", "1.5Ki", 0.5, 1536),
    ],
)
def test_quantity_strings_in_declared_columns(
    tmp_path: Path, store: Store, cpu: str, mem: str, cores: float, nbytes: int
) -> None:
    text = f"{HEADER},cpu_limit,memory_request\n{T0},c,1,1,{cpu},{mem}\n"
    import_file(_csv(tmp_path, text), store)
    c = load(store.path).containers.iloc[0]
    assert c["cpu_limit"] == pytest.approx(cores)
    assert c["memory_request"] == nbytes


def test_reimport_adds_nothing(tmp_path: Path, store: Store) -> None:
    first = import_file(FIXTURES / "mixed.csv", store)
    counts = store.counts()
    again = import_file(FIXTURES / "mixed.csv", store)
    assert store.counts() == counts
    assert first.samples_added == 6
    assert again == ImportSummary(
        rows=6, containers=2, samples_added=0, events_added=0, skipped_duplicates=6,
        declared_changed=1,
    )


def test_duplicate_rows_in_one_file_count_as_skipped(tmp_path: Path, store: Store) -> None:
    text = f"{HEADER}\n{T0},c,1,1\n{T0},c,1,1\n{T0 + 1},c,2,1\n"
    summary = import_file(_csv(tmp_path, text), store)
    assert (summary.samples_added, summary.skipped_duplicates) == (2, 1)


def test_gzip_csv_header_case_and_unknown_columns_warn(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "in.csv.gz"
    body = f" Timestamp ,CONTAINER,cpu_cores,Memory_Bytes,pod_uid\n{T0},c,0.5,7,u-1\n"
    path.write_bytes(gzip.compress(body.encode()))
    with caplog.at_level(logging.WARNING, logger="rightsize.import"):
        summary = import_file(path, store)
    assert summary.samples_added == 1
    assert "pod_uid" in caplog.text
    assert load(store.path).samples["mem_working_set"].tolist() == [7]


def test_chunks_share_one_transaction(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 2)
    monkeypatch.setattr(interchange, "WRITE_ROWS", 3)
    calls: list[tuple[int, bool]] = []
    real_write = store.write_frame

    def counting_write(frame: Any) -> int:
        pairs = list(frame)  # ((host, container_id), cols) of the kept rows
        calls.append((sum(cols["ts"][0].size for _, cols in pairs),
                      store.connection.in_transaction))
        return real_write(pairs)

    monkeypatch.setattr(store, "write_frame", counting_write)
    text = HEADER + "\n" + "".join(f"{T0 + i},c,{i},1\n" for i in range(5))
    assert import_file(_csv(tmp_path, text), store).samples_added == 5
    # chunks of 2, 2 and 1 rows, kept until 3 or more (then the rest at the end),
    # all in one transaction
    assert calls == [(4, True), (1, True)]


def test_parquet_import_with_native_types(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "in.parquet"
    pd.DataFrame(
        {
            "timestamp": pd.to_datetime([T0, T0 + 10], unit="s"),  # naive → UTC
            "container": ["p", "p"],
            "cpu_cores": [0.5, 1.0],
            "memory_bytes": [10, 20],
            "memory_limit": ["64Mi", None],
        }
    ).to_parquet(path)
    assert import_file(path, store).samples_added == 2
    ds = load(store.path)
    assert ds.samples["ts"].tolist() == [T0, T0 + 10]
    assert ds.containers["memory_limit"].tolist() == [64 * 2**20]


# --------------------------------------------------------------------------- malformed input


BAD_CASES = [
    pytest.param(
        "timestamp,container,cpu_cores\n1,c,1\n",
        ["missing required column 'memory_bytes'", "required: timestamp"],
        id="missing-column",
    ),
    pytest.param(
        "timestamp,container,memory_bytes\n1,c,1\n",
        ["missing a CPU column", "cpu_cores or cpu_seconds_total"],
        id="no-cpu-column",
    ),
    pytest.param(
        f"{HEADER}\n{T0},c,1,1\n2024-13-45T00:00:00Z,c,1,1\n",
        ["line 3", "'timestamp'", "'2024-13-45T00:00:00Z'", "ISO 8601"],
        id="bad-timestamp",
    ),
    pytest.param(
        f"{HEADER}\n{T0},c,1,1\n\n{T0 + 1},c,1,lots\n",
        ["line 4", "'memory_bytes'", "'lots'", "bytes"],
        id="bad-number-after-blank-line",
    ),
    pytest.param(
        f"{HEADER}\n{T0},c,-3,1\n",
        ["line 2", "'cpu_seconds_total'", "negative", "'-3'"],
        id="negative",
    ),
    pytest.param(
        f"{HEADER}\n{T0},c,inf,1\n",
        ["line 2", "'cpu_seconds_total'", "'inf'"],
        id="infinite",
    ),
    pytest.param(
        f"{HEADER}\n1714564800000,c,1,1\n",
        ["line 2", "'timestamp'", "milliseconds"],
        id="milliseconds",
    ),
    pytest.param(
        f"{HEADER}\n,c,1,1\n",
        ["line 2", "'timestamp'", "missing"],
        id="missing-timestamp",
    ),
    pytest.param(
        f"{HEADER}\n{T0},c,1,1\n{T0},,1,1\n",
        ["line 3", "'container'", "missing"],
        id="missing-container",
    ),
    pytest.param(
        f"{HEADER},cpu_request\n{T0},c,1,1,250x\n",
        ["line 2", "'cpu_request'", "'250x'", "250m"],
        id="bad-quantity",
    ),
    pytest.param(
        f"{HEADER}\n{T0},c,1,1\n{T0},c,1\n{T0},c,1,1,9\n",
        ["line 4: 5 fields; expected 4"],
        id="ragged-later",
    ),
    pytest.param(
        f"{HEADER}\n{T0},c,1e10,1\n",
        ["line 2", "'cpu_seconds_total'", "too large", "'1e10'"],
        id="counter-overflow",
    ),
    pytest.param(
        f"{HEADER}\n{T0},c,1,9223372036854775808\n",
        ["line 2", "'memory_bytes'", "too large"],
        id="int64-overflow",
    ),
    pytest.param(
        f"{HEADER},oom_kills_total\n{T0},c,1,1,0\n{T0 + 1},c,1,1,5000000\n",
        ["line 3", "'oom_kills_total'", "implausible"],
        id="oom-jump",
    ),
    pytest.param("", ["empty file"], id="empty"),
    pytest.param(f"{HEADER}\n", ["no data rows"], id="header-only"),
    pytest.param(
        f"{HEADER}\n{T0},c,1,1\n{T0},c,1,1,extra,fields\n",
        ["line 3: 6 fields; expected 4"],
        id="ragged",
    ),
]


@pytest.mark.parametrize("text,fragments", BAD_CASES)
def test_malformed_csv_one_line_error(
    tmp_path: Path, store: Store, text: str, fragments: list[str]
) -> None:
    path = _csv(tmp_path, text)
    with pytest.raises(InputError) as info:
        import_file(path, store)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message
    assert store.counts()["samples"] == 0  # nothing written from an invalid file


def test_missing_file_is_an_input_error(tmp_path: Path, store: Store) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: cannot read the file"):
        import_file(tmp_path / "nope.csv", store)


def test_binary_file_is_refused(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(InputError, match=r"image\.csv: binary data, not a CSV"):
        import_file(path, store)


def test_non_utf8_text_is_refused(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\n{T0},caf\xe9,1,1\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.csv: not UTF-8"):
        import_file(path, store)


def test_corrupt_parquet_is_refused(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match=r"broken\.parquet: not a readable Parquet file"):
        import_file(path, store)


def test_parquet_errors_name_the_row(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "in.parquet"
    pd.DataFrame(
        {"timestamp": [T0, T0 + 1], "container": ["a", "a"], "cpu_cores": [1.0, -1.0]}
        | {"memory_bytes": [1, 1]}
    ).to_parquet(path)
    with pytest.raises(InputError, match=r"in\.parquet: row 2, column 'cpu_cores': negative"):
        import_file(path, store)


def test_parquet_without_pyarrow(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "in.parquet"
    pd.DataFrame(
        {"timestamp": [T0], "container": ["a"], "cpu_cores": [1.0], "memory_bytes": [1]}
    ).to_parquet(path)
    src = tmp_path / "src.db"
    _source_store(src)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(UsageError, match=r"rightsize\[parquet\]"):
        import_file(path, store)
    with pytest.raises(UsageError, match=r"rightsize\[parquet\]"):
        export_samples(src, tmp_path / "out.parquet", fmt="parquet")
    assert not (tmp_path / "out.parquet").exists()


# --------------------------------------------------------------------------- lab session


def _analysis(db: Path) -> dict[str, dict[str, Any]]:
    from rightsize.analysis.pipeline import analyze

    out = {}
    for w in analyze(load(db)).to_dict()["workloads"]:
        w.pop("containers")
        w.pop("oom_evidence")  # the store's engine events vs the import's counter
        out[w["workload"]] = w
    return out


def test_export_then_import_of_the_lab_session_gives_the_same_analysis(tmp_path: Path) -> None:
    from rightsize.sources.recording import import_recordings

    src, dst, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "lab.csv"
    with Store(src) as store:
        import_recordings(LAB, store)
    export_samples(src, out)
    with Store(dst) as store:
        import_file(out, store)
    before, after = _analysis(src), _analysis(dst)
    assert sorted(after) == sorted(before)
    for name, w in before.items():
        assert after[name] == w, name
    # what used to be lost: the grower's last kill (after its last sample) and its exit
    assert after["lab-grower"]["oom_kills"] == 1
    first = after["lab-grower"]["findings"][0]
    assert first["kind"] == "oom_killed" and "ended the container" in first["message"]
    assert after["lab-hostile"]["labels"] == before["lab-hostile"]["labels"] != {}
    frame = pd.read_csv(out)
    docker_rows = frame["cpu_seconds_total"].notna()
    assert frame.loc[docker_rows, "cpu_cores"].notna().mean() > 0.9  # every interval's rate


def test_compose_grouping_survives_export_and_import(tmp_path: Path) -> None:
    src, dst, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "x.csv"
    compose = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
    with Store(src) as s:
        s.write(
            samples=[_sample(c, T0 + 10 * i, cpu_total_ns=10**9 * i, mem_working_set=1)
                     for c in ("web1", "web2") for i in range(3)],
            containers=[_container(c, f"shop-web-{c[-1]}", labels=compose)
                        for c in ("web1", "web2")],
        )
    export_samples(src, out)
    with Store(dst) as s:
        import_file(out, s)
    from rightsize.analysis.pipeline import analyze

    names = [w.name for w in analyze(load(dst))]
    assert names == [w.name for w in analyze(load(src))] == ["shop/web"]
    assert load(dst).containers["labels"].tolist() == [compose, compose]


def test_contract_throttling_columns_alone_are_read(tmp_path: Path, store: Store) -> None:
    # product.md's columns: periods and throttled periods, no throttled seconds
    text = "timestamp,container,cpu_seconds_total,memory_bytes,cpu_periods_total,"
    text += "cpu_throttled_periods_total\n"
    for i in range(5):
        text += f"{T0 + 10 * i},c,{i},1,{100 * i},{40 * i}\n"
    import_file(_csv(tmp_path, text), store)
    from rightsize.analysis.pipeline import analyze

    (w,) = analyze(load(store.path))
    assert w.throttling.periods == 400 and w.throttling.throttled_periods == 160
    assert w.throttling.share == pytest.approx(0.4)


def test_labels_must_be_a_json_object_of_strings(tmp_path: Path, store: Store) -> None:
    text = f'timestamp,container,cpu_cores,memory_bytes,labels\n{T0},c,1,1,"[1, 2]"\n'
    with pytest.raises(InputError, match=r"line 2.*'labels'.*JSON object"):
        import_file(_csv(tmp_path, text), store)


def test_an_oom_kill_is_bumped_from_the_limit_of_the_container_it_killed(
    tmp_path: Path, store: Store
) -> None:
    """``web-1`` (512 MiB limit) is OOM-killed, ``web-2`` replaces it with 1 GiB (the
    limit declared now). The kill says the workload needs more than 512 MiB, not more
    than 1 GiB: the memory is 20 % over 512 MiB plus headroom, below 1 GiB."""
    from rightsize.analysis.pipeline import analyze

    mib = 2**20
    rows = ["timestamp,container,workload,cpu_cores,memory_bytes,memory_limit,oom_kills_total"]
    for i in range(3 * 24 * 60):  # 3 days a minute apart, a day on the first container
        c, lim = ("web-1", 512 * mib) if i < 24 * 60 else ("web-2", 1024 * mib)
        oom = int(i >= 24 * 60 - 1) if c == "web-1" else 0
        rows.append(f"{T0 + 60 * i},{c},web,0.1,{400 * mib},{lim},{oom}")
    import_file(_csv(tmp_path, "\n".join(rows) + "\n"), store)
    (w,) = analyze(load(store.path)).to_dict()["workloads"]
    rec = w["recommendation"]
    assert w["oom_kills"] == 1 and w["declared"]["memory_limit"] == 1024 * mib
    # 512 MiB x 1.2 x 1.03 (the margin) = 633 MiB; from the 1 GiB it would be 1,266 MiB
    assert 512 * mib * 1.2 <= rec["memory_limit"] < 700 * mib
