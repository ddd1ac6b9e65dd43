"""Recorded folders: reading the lab session, failure modes, and the writer."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from rightsize.errors import InputError
from rightsize.sources.recording import (
    Recording,
    RecordingWriter,
    is_recording,
    read_recording,
    read_recordings,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docker-api"
LAB = FIXTURES / "rightsize-lab-session"
JBR = FIXTURES / "jbr" / "DockerContainerHandler.test.ts.stats_stream.ndjson"
SECRETS = ("DB_PASSWORD", "hunter2-secret")


@pytest.fixture(scope="module")
def lab() -> Recording:
    return read_recording(LAB)


def by_name(rec: Recording) -> dict[str, Any]:
    return {c["name"]: c for c in rec.containers}


def lab_stats_docs() -> list[dict[str, Any]]:
    with gzip.open(LAB / "stats.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


def write_stats(folder: Path, lines: list[str], name: str = "stats.jsonl") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(line + "\n" for line in lines))


# --------------------------------------------------------------------------
# the lab session


def test_lab_host_and_counts(lab: Recording) -> None:
    assert lab.host["host"] == "recording:rightsize-lab-session"
    assert lab.host["ncpu"] == 2
    assert lab.host["mem_total"] == 25276514304
    assert lab.host["cgroup_version"] == "1"
    assert lab.host["api_version"] == "1.41"
    assert len(lab.containers) == 8
    # 2353 stats lines, 277 of them zeroed frames of stopped containers
    assert len(lab.samples) == 2353 - 277
    assert len(lab.events) == 80
    rows = [*lab.containers, *lab.samples, *lab.events, lab.host]
    assert {r["host"] for r in rows} == {"recording:rightsize-lab-session"}


def test_lab_host_label_override() -> None:
    rec = read_recording(LAB, host="lab-box")
    assert rec.host["host"] == "lab-box"
    assert {s["host"] for s in rec.samples} == {"lab-box"}


def test_lab_declared_values(lab: Recording) -> None:
    c = by_name(lab)
    assert sorted(c) == [
        "lab-bursty",
        "lab-grower",
        "lab-hostile",
        "lab-idle",
        "lab-nolimits",
        "lab-oomchild",
        "lab-restarting",
        "lab-throttled",
    ]
    idle = c["lab-idle"]
    assert idle["cpu_request"] == 2.0
    assert idle["cpu_limit"] == 2.0
    assert idle["memory_limit"] == 1024**3
    assert idle["memory_request"] == 512 * 1024**2
    for key in ("cpu_request", "cpu_limit", "memory_request", "memory_limit"):
        assert c["lab-nolimits"][key] is None
    assert c["lab-oomchild"]["cpu_request"] is None  # CpuShares 0
    assert c["lab-throttled"]["cpu_request"] == pytest.approx(204 / 1024)
    assert c["lab-throttled"]["cpu_limit"] == pytest.approx(0.2)
    assert c["lab-bursty"]["memory_request"] == 64 * 1024**2


def test_lab_oomchild_ooms_come_from_events(lab: Recording) -> None:
    oomchild = by_name(lab)["lab-oomchild"]
    ooms = [
        e
        for e in lab.events
        if e["container_id"] == oomchild["container_id"] and e["action"] == "oom"
    ]
    assert len(ooms) == 15
    assert oomchild["oom_killed"] is False  # Docker 20.10 leaves the flag false
    assert oomchild["restart_count"] == 0


def test_lab_restarting_end_state_and_counter_reset(lab: Recording) -> None:
    restarting = by_name(lab)["lab-restarting"]
    assert restarting["restart_count"] == 13  # inspect-end wins (inspect.json says 0)
    assert restarting["oom_killed"] is True
    cid = restarting["container_id"]
    series = [s["cpu_total_ns"] for s in lab.samples if s["container_id"] == cid]
    assert len(series) == 291
    drops = [
        (a, b) for a, b in itertools.pairwise(series) if b is not None and a is not None and b < a
    ]
    assert len(drops) == 9
    assert drops[0] == (75976792, 33319662)
    events = [e for e in lab.events if e["container_id"] == cid]
    assert sum(e["action"] == "die" for e in events) == 12
    assert {e["exit_code"] for e in events if e["action"] == "die"} == {137}


def test_lab_grower_oom_killed_and_stream_zeroed(lab: Recording) -> None:
    grower = by_name(lab)["lab-grower"]
    assert grower["oom_killed"] is True
    samples = [s for s in lab.samples if s["container_id"] == grower["container_id"]]
    assert len(samples) == 20  # 294 frames, 274 zeroed after it died
    actions = sorted(e["action"] for e in lab.events if e["name"] == "lab-grower")
    assert actions == ["die", "oom"]


def test_lab_samples_sorted_unique_non_negative(lab: Recording) -> None:
    keys = [(s["container_id"], s["ts"]) for s in lab.samples]
    assert len(keys) == len(set(keys))
    assert [s["ts"] for s in lab.samples] == sorted(s["ts"] for s in lab.samples)
    for sample in lab.samples:
        for key, value in sample.items():
            if isinstance(value, int | float):
                assert value >= 0, (key, value)


def test_lab_rows_hold_no_secret(lab: Recording) -> None:
    text = repr(lab)
    for secret in SECRETS:
        assert secret not in text
    assert by_name(lab)["lab-hostile"]["labels"]["app"] == "<script>alert(1)</script>"


# --------------------------------------------------------------------------
# bad input, partial input


def test_jbr_stream_as_a_recording(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "jbr"
    folder.mkdir()
    shutil.copy(JBR, folder / "stats.jsonl")
    (folder / "inspect.json").write_text("{}")
    with caplog.at_level(logging.WARNING, logger="rightsize.recording"):
        rec = read_recording(folder)
    assert len(rec.samples) == 3  # line 3 invalid, line 5 a zeroed frame
    assert any("stats.jsonl:3" in r.getMessage() for r in caplog.records)
    assert any("skipped 1 bad line" in r.getMessage() for r in caplog.records)
    names = sorted(c["name"] for c in rec.containers)
    assert names == ["vigorous_brahmagupta", "wizardly_hofstadter"]  # minimal rows
    assert all(c["cpu_limit"] is None and c["image"] == "" for c in rec.containers)
    assert rec.host["ncpu"] == 4  # no info.json: from online_cpus
    assert rec.host["host"] == "recording:jbr"


def test_missing_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"stats\.jsonl"):
        read_recording(tmp_path)
    write_stats(tmp_path, [])
    with pytest.raises(InputError, match=r"inspect\.json"):
        read_recording(tmp_path)
    with pytest.raises(InputError, match="not a recording"):
        read_recording(tmp_path / "absent")


def test_malformed_inspect_names_file_and_line(tmp_path: Path) -> None:
    write_stats(tmp_path, [])
    (tmp_path / "inspect.json").write_text('{\n "a": {"Id": "a"},\n oops\n}')
    with pytest.raises(InputError, match=r"inspect\.json:3"):
        read_recording(tmp_path)
    (tmp_path / "inspect.json").write_text('"just a string"')
    with pytest.raises(InputError, match=r"inspect\.json"):
        read_recording(tmp_path)


def test_all_bad_stats_lines_is_fatal(tmp_path: Path) -> None:
    write_stats(tmp_path, ["", "not json", "{nope"])
    (tmp_path / "inspect.json").write_text("{}")
    with pytest.raises(InputError, match=r"stats\.jsonl:2"):
        read_recording(tmp_path)


def test_malformed_info_is_fatal(tmp_path: Path) -> None:
    write_stats(tmp_path, [])
    (tmp_path / "inspect.json").write_text("{}")
    (tmp_path / "info.json").write_text("{")
    with pytest.raises(InputError, match=r"info\.json"):
        read_recording(tmp_path)


def test_inspect_end_wins_and_start_fills_missing(tmp_path: Path) -> None:
    start = json.loads((LAB / "inspect.json").read_text())
    end = json.loads((LAB / "inspect-end.json").read_text())
    dropped = next(cid for cid, doc in end.items() if doc["Name"] == "/lab-idle")
    del end[dropped]
    write_stats(tmp_path, [])
    (tmp_path / "inspect.json").write_text(json.dumps(start))
    (tmp_path / "inspect-end.json").write_text(json.dumps(end))
    rec = read_recording(tmp_path)
    c = by_name(rec)
    assert len(c) == 8
    assert c["lab-idle"]["cpu_limit"] == 2.0
    assert c["lab-restarting"]["restart_count"] == 13


def test_duplicate_samples_kept_once(tmp_path: Path) -> None:
    lines = JBR.read_text().splitlines()
    write_stats(tmp_path, [lines[0], lines[0], lines[1]])
    with gzip.open(tmp_path / "stats.jsonl.gz", "wt") as fh:
        fh.write(lines[1] + "\n" + lines[3] + "\n")
    (tmp_path / "inspect.json").write_text("{}")
    rec = read_recording(tmp_path)
    assert len(rec.samples) == 3


def test_truncated_gzip_keeps_what_was_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = (LAB / "stats.jsonl.gz").read_bytes()
    (tmp_path / "stats.jsonl.gz").write_bytes(data[: len(data) // 2])
    shutil.copy(LAB / "inspect.json", tmp_path / "inspect.json")
    with caplog.at_level(logging.WARNING, logger="rightsize.recording"):
        rec = read_recording(tmp_path)
    assert 0 < len(rec.samples) < 2076
    assert any("truncated" in r.getMessage() for r in caplog.records)


def test_not_gzip_at_all(tmp_path: Path) -> None:
    (tmp_path / "stats.jsonl.gz").write_bytes(b"plain text, not gzip\n")
    (tmp_path / "inspect.json").write_text("{}")
    with pytest.raises(InputError, match=r"stats\.jsonl\.gz"):
        read_recording(tmp_path)


def test_containers_json_fills_names_for_uninspected(tmp_path: Path) -> None:
    first = lab_stats_docs()[0]  # lab-hostile
    write_stats(tmp_path, [json.dumps(first)])
    (tmp_path / "inspect.json").write_text("{}")
    shutil.copy(LAB / "containers.json", tmp_path / "containers.json")
    (hostile,) = read_recording(tmp_path).containers
    assert hostile["name"] == "lab-hostile"
    assert hostile["image"] == "rightsize/busybox:local"


# --------------------------------------------------------------------------
# several hosts


def test_read_recordings(tmp_path: Path) -> None:
    assert read_recordings(LAB)[0].host["host"] == "recording:rightsize-lab-session"
    shutil.copytree(LAB, tmp_path / "a")
    jbr = tmp_path / "b"
    jbr.mkdir()
    shutil.copy(JBR, jbr / "stats.jsonl")
    (jbr / "inspect.json").write_text("{}")
    (tmp_path / "notes").mkdir()
    assert not is_recording(tmp_path)
    recs = read_recordings(tmp_path)
    assert [r.host["host"] for r in recs] == ["recording:a", "recording:b"]
    assert [len(r.samples) for r in recs] == [2076, 3]
    with pytest.raises(InputError, match="no recording"):
        read_recordings(tmp_path / "notes")


# --------------------------------------------------------------------------
# the writer


def write_lab(folder: Path) -> None:
    with RecordingWriter(folder) as writer:
        writer.write_meta(
            json.loads((LAB / "version.json").read_text()),
            json.loads((LAB / "info.json").read_text()),
        )
        for name in ("inspect.json", "inspect-end.json"):
            for doc in json.loads((LAB / name).read_text()).values():
                writer.add_inspect(doc)
        writer.add_containers(json.loads((LAB / "containers.json").read_text()))
        for i, doc in enumerate(lab_stats_docs()):
            writer.add_stats(doc)
            if i % 8 == 7:
                writer.flush()
        for line in (LAB / "events.jsonl").read_text().splitlines():
            writer.add_event(json.loads(line))
        writer.add_event({"Type": "container", "Action": "exec_start: env", "time": 1})


def test_round_trip(tmp_path: Path, lab: Recording) -> None:
    folder = tmp_path / "rightsize-lab-session"
    write_lab(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "containers.json",
        "events.jsonl",
        "info.json",
        "inspect.json",
        "stats.jsonl",
        "version.json",
    ]
    again = read_recording(folder)
    assert again.host == lab.host
    assert again.containers == lab.containers
    assert again.samples == lab.samples
    assert again.events == lab.events


def test_writer_files_hold_no_secret(tmp_path: Path) -> None:
    write_lab(tmp_path)
    for path in tmp_path.iterdir():
        text = path.read_text()
        for secret in (*SECRETS, "sleep 100000", "exec_start"):
            assert secret not in text, (path.name, secret)
    inspect = json.loads((tmp_path / "inspect.json").read_text())
    assert all("Env" not in doc["Config"] and "Args" not in doc for doc in inspect.values())
    info = json.loads((tmp_path / "info.json").read_text())
    assert set(info) == {
        "NCPU",
        "MemTotal",
        "CgroupVersion",
        "CgroupDriver",
        "OperatingSystem",
        "KernelVersion",
        "ServerVersion",
        "Architecture",
        "OSType",
    }


def test_writer_lines_are_readable_before_close(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path)
    docs = lab_stats_docs()[:5]
    for doc in docs:
        writer.add_stats(doc)
    writer.add_inspect(json.loads((LAB / "inspect.json").read_text())[docs[0]["id"]])
    writer.flush()
    # simulate a killed collector: a torn last line and no close()
    with (tmp_path / "stats.jsonl").open("a") as fh:
        fh.write('{"read": "2026-11-27T06:3')
    rec = read_recording(tmp_path)
    assert len(rec.samples) == 5
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.add_stats(docs[0])


def test_writer_reopen_appends_and_keeps_inspect(tmp_path: Path) -> None:
    docs = lab_stats_docs()
    inspect = json.loads((LAB / "inspect.json").read_text())
    with RecordingWriter(tmp_path) as writer:
        writer.add_inspect(inspect[docs[0]["id"]])
        writer.add_stats(docs[0])
    with RecordingWriter(tmp_path) as writer:
        writer.add_inspect(inspect[docs[1]["id"]])
        writer.add_stats(docs[1])
    rec = read_recording(tmp_path)
    assert len(rec.samples) == 2
    assert len(rec.containers) == 2
    assert all(c["image"] for c in rec.containers)  # both from inspect


def test_writer_rejects_payloads_without_id(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path) as writer:
        with pytest.raises(ValueError):
            writer.add_stats({"read": "2026-01-01T00:00:00Z"})
        with pytest.raises(ValueError):
            writer.add_inspect({"Name": "/x"})


def test_a_full_disk_while_recording_is_exit_3_naming_the_file() -> None:
    """The line files go through outputs.AppendStream: ENOSPC is one line, exit 3."""
    from rightsize.errors import RuntimeFailure
    from rightsize.outputs import AppendStream

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    stream = AppendStream(Path("/dev/full"), what="the recording")
    with pytest.raises(RuntimeFailure, match="disk full: cannot append the recording to /dev/full"):
        stream.write_line("{}")
    with pytest.raises(RuntimeFailure, match="disk full"):
        stream.close()
