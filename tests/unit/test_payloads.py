"""Docker payload parsing, checked against real engine payloads by hand."""

from __future__ import annotations

import calendar
import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightsize.rows import SampleRow
from rightsize.sources.docker.payloads import (
    container_from_inspect,
    count_cpuset,
    event_from_docker,
    host_from_info,
    parse_ts,
    sample_from_stats,
    sanitize_container_summary,
    sanitize_event,
    sanitize_info,
    sanitize_inspect,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docker-api"
LAB = FIXTURES / "rightsize-lab-session"
HOSTILE_ID = "1e9c9887a15fcbe382721394063cf80fb057550345a5b6d5f2197c2b6843979d"
SECRETS = ("DB_PASSWORD", "hunter2-secret")


def load(rel: str) -> Any:
    return json.loads((FIXTURES / rel).read_text())


def lab_stats() -> list[dict[str, Any]]:
    with gzip.open(LAB / "stats.jsonl.gz", "rt") as fh:
        return [json.loads(line) for line in fh]


def jbr_lines() -> list[str]:
    return (
        (FIXTURES / "jbr" / "DockerContainerHandler.test.ts.stats_stream.ndjson")
        .read_text()
        .splitlines()
    )


def lab_inspect(name: str, end: bool = False) -> dict[str, Any]:
    docs: dict[str, dict[str, Any]] = json.loads(
        (LAB / ("inspect-end.json" if end else "inspect.json")).read_text()
    )
    return next(d for d in docs.values() if d["Name"] == f"/{name}")


def assert_no_negatives(row: SampleRow) -> None:
    for key, value in row.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert value >= 0, (key, value)


# --------------------------------------------------------------------------
# parse_ts


def test_parse_ts_nanoseconds_utc() -> None:
    ts = parse_ts("2026-11-27T06:36:55.465998184Z")
    expected = calendar.timegm((2026, 11, 27, 6, 36, 55, 0, 0, 0)) + 0.465998184
    assert ts == pytest.approx(expected, abs=1e-6)
    assert ts == pytest.approx(1795761415.465998184, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-07T21:09:36.000000000+00:00", 1778188176.0),
        ("2026-05-07T23:09:36+02:00", 1778188176.0),
        ("2026-05-07T15:39:36.5-05:30", 1778188176.5),
        ("2017-01-11T08:32:46.2413794Z", 1484123566.2413794),
        ("1970-01-01T00:00:00Z", 0.0),
    ],
)
def test_parse_ts_offsets_and_fractions(text: str, expected: float) -> None:
    assert parse_ts(text) == pytest.approx(expected, abs=1e-6)


def test_parse_ts_zero_time_is_none() -> None:
    assert parse_ts("0001-01-01T00:00:00Z") is None


@pytest.mark.parametrize("bad", ["", "yesterday", "2026-11-27 06:36", "2026-11-27T06:36:55"])
def test_parse_ts_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_ts(bad)


# --------------------------------------------------------------------------
# stats: Linux cgroup v1 (lab session, otel two_containers, jbr stream)


def test_lab_hostile_first_frame() -> None:
    first = lab_stats()[0]
    assert first["name"] == "/lab-hostile"
    row = sample_from_stats(first, "h")
    assert row is not None
    assert row["host"] == "h"
    assert row["container_id"] == HOSTILE_ID
    assert row["ts"] == pytest.approx(1795761415.465998, abs=1e-5)
    assert row["cpu_total_ns"] == 20840535
    assert row["cpu_cores"] is None
    assert row["system_cpu_ns"] == 582940000000
    assert row["online_cpus"] == 2
    assert (row["periods"], row["throttled_periods"], row["throttled_ns"]) == (2, 0, 0)
    assert row["mem_usage"] == 319488
    assert row["mem_working_set"] == 319488 - 0  # total_inactive_file = 0
    assert row["mem_rss"] == 49152  # total_rss
    assert row["mem_limit"] == 50331648  # 48 MiB
    assert row["mem_failcnt"] == 0  # omitempty: absent means 0
    assert row["pids"] == 1


def test_v1_working_set_subtracts_total_inactive_file() -> None:
    row = sample_from_stats(load("otel-dockerstatsreceiver/two_containers/stats1.json"), "h")
    assert row is not None
    assert row["container_id"].startswith("89d28931fd8b")
    assert row["cpu_total_ns"] == 34117917
    assert row["online_cpus"] == 1
    assert row["mem_usage"] == 1302528
    assert row["mem_working_set"] == 1302528 - 528384
    assert row["mem_rss"] == 151552
    assert row["mem_limit"] == 2074079232
    assert row["mem_failcnt"] == 0


def test_jbr_stream_throttling_invalid_line_and_final_zeroed_frame() -> None:
    lines = jbr_lines()
    assert len(lines) == 5
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[2])
    rows = [sample_from_stats(json.loads(line), "h") for i, line in enumerate(lines) if i != 2]
    first, second, other, zeroed = rows
    assert zeroed is None  # read = 0001-01-01, memory_stats = {}
    assert first is not None and second is not None and other is not None
    assert (first["periods"], first["throttled_periods"], first["throttled_ns"]) == (
        7,
        6,
        692628177,
    )
    assert second["cpu_total_ns"] == 155477984
    assert second["throttled_ns"] == 1701663534
    assert second["pids"] == 7
    assert other["online_cpus"] == 4
    assert other["mem_working_set"] == 52772864 - 77824
    assert other["mem_rss"] == 48664576


def test_percpu_fallback_for_online_cpus() -> None:
    doc = json.loads(jbr_lines()[0])
    del doc["cpu_stats"]["online_cpus"]
    row = sample_from_stats(doc, "h")
    assert row is not None and row["online_cpus"] == 4  # len(percpu_usage)


def test_lab_zeroed_frames_are_none() -> None:
    docs = lab_stats()
    zeroed = [d for d in docs if d["read"].startswith("0001-")]
    assert len(zeroed) == 277
    assert all(sample_from_stats(d, "h") is None for d in zeroed)
    # a non-zero read with no memory stats and no CPU is also a stopped frame
    stopped = copy.deepcopy(zeroed[0])
    stopped["read"] = "2026-11-27T06:40:00Z"
    assert sample_from_stats(stopped, "h") is None


# --------------------------------------------------------------------------
# stats: cgroup v2


def test_v2_working_set_rss_and_failcnt() -> None:
    row = sample_from_stats(load("otel-dockerstatsreceiver/cgroups_v2/stats.json"), "h")
    assert row is not None
    assert row["cpu_total_ns"] == 999478000
    assert row["system_cpu_ns"] == 4836970000000
    assert row["online_cpus"] == 2
    assert row["mem_usage"] == 234647552
    assert row["mem_working_set"] == 234647552 - 0  # usage - inactive_file
    assert row["mem_rss"] == 61440  # anon
    assert row["mem_limit"] == 268435456
    assert row["mem_failcnt"] == 1
    assert row["pids"] == 1


def test_v2_failcnt_absent_means_zero() -> None:
    doc = load("otel-dockerstatsreceiver/cgroups_v2/stats.json")
    del doc["memory_stats"]["failcnt"]
    doc["memory_stats"]["stats"]["inactive_file"] = 1000
    row = sample_from_stats(doc, "h")
    assert row is not None
    assert row["mem_failcnt"] == 0
    assert row["mem_working_set"] == 234647552 - 1000


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        ({"total_inactive_file": 300, "inactive_file": 200}, 700),
        ({"total_inactive_file": 5000, "inactive_file": 200}, 800),  # v1 key too big
        ({"total_inactive_file": 5000, "inactive_file": 5000}, 1000),
        ({"inactive_file": 1000}, 1000),  # not smaller than usage
        ({}, 1000),
    ],
)
def test_working_set_follows_docker_cli(stats: dict[str, int], expected: int) -> None:
    doc = {
        "id": "c",
        "read": "2026-01-01T00:00:00Z",
        "cpu_stats": {"cpu_usage": {"total_usage": 5}},
        "memory_stats": {"usage": 1000, "stats": stats},
    }
    row = sample_from_stats(doc, "h")
    assert row is not None and row["mem_working_set"] == expected


# --------------------------------------------------------------------------
# stats: Windows


def test_windows_telegraf_cpu_in_100ns_units_and_private_working_set() -> None:
    doc = load("telegraf/windows_memory_stats/stats_123456789.json")
    with pytest.raises(ValueError, match="no container id"):
        sample_from_stats(doc, "h")
    row = sample_from_stats(doc, "h", container_id="123456789")
    assert row is not None
    assert row["container_id"] == "123456789"
    assert row["cpu_total_ns"] == 536718750 * 100
    assert row["mem_working_set"] == 59961344
    assert row["online_cpus"] == 64  # num_procs
    assert row["system_cpu_ns"] is None
    assert row["mem_limit"] is None
    assert row["mem_rss"] is None
    assert row["mem_failcnt"] is None
    assert (row["periods"], row["throttled_periods"], row["throttled_ns"]) == (None, None, None)


def test_windows_ecs_wrapper() -> None:
    wrapper = load("datadog-ecs_fargate/stats_windows.json")
    (doc,) = wrapper.values()
    row = sample_from_stats(doc, "h")  # detected from privateworkingset
    assert row is not None
    assert row["container_id"] == "abcd-123456"
    assert row["cpu_total_ns"] == 17031250000 * 100
    assert row["mem_working_set"] == 140673024
    assert row["mem_usage"] == 210485248
    assert row["online_cpus"] is None  # num_procs 0
    assert row["pids"] is None
    assert row["mem_limit"] is None


def test_explicit_os_type_wins() -> None:
    doc = json.loads(jbr_lines()[0])
    row = sample_from_stats(doc, "h", os_type="windows")
    assert row is not None and row["cpu_total_ns"] == 67976781 * 100


# --------------------------------------------------------------------------
# no negative numbers, ever


def all_fixture_stats() -> list[dict[str, Any]]:
    docs = lab_stats()
    docs.append(load("otel-dockerstatsreceiver/cgroups_v2/stats.json"))
    docs.append(load("otel-dockerstatsreceiver/two_containers/stats1.json"))
    docs.extend(load("datadog-ecs_fargate/stats_windows.json").values())
    windows = load("telegraf/windows_memory_stats/stats_123456789.json")
    windows["id"] = "123456789"
    docs.append(windows)
    for i, line in enumerate(jbr_lines()):
        if i != 2:
            docs.append(json.loads(line))
    return docs


def test_no_negative_numbers_in_fixture_samples() -> None:
    rows = [sample_from_stats(doc, "h") for doc in all_fixture_stats()]
    kept = [row for row in rows if row is not None]
    assert len(kept) == 2076 + 2 + 1 + 1 + 3
    for row in kept:
        assert_no_negatives(row)


counter = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**64))


@given(
    total=counter,
    usage=counter,
    inactive=counter,
    total_inactive=counter,
    limit=counter,
    periods=counter,
    online=counter,
)
def test_never_negative_on_arbitrary_counters(
    total: int | None,
    usage: int | None,
    inactive: int | None,
    total_inactive: int | None,
    limit: int | None,
    periods: int | None,
    online: int | None,
) -> None:
    doc = {
        "id": "c",
        "read": "2026-01-01T00:00:00Z",
        "cpu_stats": {
            "cpu_usage": {"total_usage": total},
            "online_cpus": online,
            "throttling_data": {"periods": periods},
        },
        "memory_stats": {
            "usage": usage,
            "limit": limit,
            "stats": {"inactive_file": inactive, "total_inactive_file": total_inactive},
        },
    }
    row = sample_from_stats(doc, "h")
    if row is not None:
        assert_no_negatives(row)


# --------------------------------------------------------------------------
# inspect


def test_lab_idle_declared_values() -> None:
    row = container_from_inspect(lab_inspect("lab-idle"), "h")
    assert row["name"] == "lab-idle"
    assert row["image"] == "rightsize/busybox:local"
    assert row["labels"] == {"rightsize.lab": "1"}
    assert row["workload"] is None
    assert row["cpu_request"] == 2.0  # 2048 shares
    assert row["cpu_limit"] == 2.0  # NanoCpus 2e9
    assert row["memory_limit"] == 1024**3
    assert row["memory_request"] == 512 * 1024**2
    assert row["cpuset_cpus"] is None
    assert row["restart_count"] == 0
    assert row["oom_killed"] is False
    assert row["started_at"] == pytest.approx(1795761397.978209, abs=1e-5)
    assert row["os_type"] == "linux"


def test_lab_nolimits_declares_nothing() -> None:
    row = container_from_inspect(lab_inspect("lab-nolimits"), "h")
    declared = ("cpu_request", "cpu_limit", "memory_request", "memory_limit", "cpuset_cpus")
    assert all(row[key] is None for key in declared)  # type: ignore[literal-required]


def test_lab_oomchild_zero_shares_is_no_request() -> None:
    row = container_from_inspect(lab_inspect("lab-oomchild"), "h")
    assert row["cpu_request"] is None
    assert row["cpu_limit"] == 0.5
    assert row["memory_limit"] == 32 * 1024**2


def test_lab_hostile_label_kept_env_never_read() -> None:
    row = container_from_inspect(lab_inspect("lab-hostile"), "h")
    assert row["labels"]["app"] == "<script>alert(1)</script>"
    assert row["cpu_limit"] == pytest.approx(0.3)
    text = repr(row)
    for secret in (*SECRETS, "sleep 100000"):
        assert secret not in text


def test_lab_restarting_end_state() -> None:
    start = container_from_inspect(lab_inspect("lab-restarting"), "h")
    end = container_from_inspect(lab_inspect("lab-restarting", end=True), "h")
    assert (start["restart_count"], start["oom_killed"]) == (0, False)
    assert (end["restart_count"], end["oom_killed"]) == (13, True)
    assert start["started_at"] is not None and end["started_at"] is not None
    assert end["started_at"] > start["started_at"]


def synthetic_inspect(**host_config: Any) -> dict[str, Any]:
    return {
        "Id": "abc",
        "Name": "/web",
        "Config": {"Image": "nginx:1", "Labels": None, "Env": ["TOKEN=x"]},
        "HostConfig": host_config,
        "State": {"OOMKilled": False, "StartedAt": "0001-01-01T00:00:00Z"},
    }


@pytest.mark.parametrize(
    ("host_config", "cpu_limit", "cpuset"),
    [
        ({"CpuQuota": 50000, "CpuPeriod": 0}, 0.5, None),
        ({"CpuQuota": 50000, "CpuPeriod": 25000}, 2.0, None),
        ({"NanoCpus": 1_500_000_000, "CpuQuota": 0}, 1.5, None),
        ({"CpuQuota": 400000, "CpuPeriod": 100000, "CpusetCpus": "0-1"}, 2.0, 2),
        ({"NanoCpus": 500_000_000, "CpusetCpus": "0-3,5"}, 0.5, 5),
        ({"CpusetCpus": "2"}, None, 1),
        ({"CpuQuota": -1}, None, None),
    ],
)
def test_cpu_limit_mapping(
    host_config: dict[str, Any], cpu_limit: float | None, cpuset: int | None
) -> None:
    row = container_from_inspect(synthetic_inspect(**host_config), "h")
    assert row["cpu_limit"] == (None if cpu_limit is None else pytest.approx(cpu_limit))
    assert row["cpuset_cpus"] == cpuset


def test_synthetic_defaults() -> None:
    row = container_from_inspect(synthetic_inspect(CpuShares=512), "h")
    assert row["name"] == "web"
    assert row["labels"] == {}
    assert row["cpu_request"] == 0.5
    assert row["started_at"] is None
    assert row["os_type"] == "linux"
    assert row["restart_count"] == 0


@pytest.mark.parametrize(
    ("spec", "count"),
    [("0-3,5", 5), ("0", 1), ("0,0-1", 2), ("", None), ("a-b", None), ("3-1", None)],
)
def test_count_cpuset(spec: str, count: int | None) -> None:
    assert count_cpuset(spec) == count


def test_last_applied_configuration_label_dropped() -> None:
    doc = synthetic_inspect()
    doc["Config"]["Labels"] = {
        "annotation.kubectl.kubernetes.io/last-applied-configuration": '{"env":"s3cret"}',
        "io.kubernetes.pod.name": "web-1",
    }
    assert container_from_inspect(doc, "h")["labels"] == {"io.kubernetes.pod.name": "web-1"}
    assert "s3cret" not in json.dumps(sanitize_inspect(doc))


def test_sanitize_inspect_allow_list() -> None:
    for end in (False, True):
        docs: dict[str, dict[str, Any]] = json.loads(
            (LAB / ("inspect-end.json" if end else "inspect.json")).read_text()
        )
        for doc in docs.values():
            clean = sanitize_inspect(doc)
            # parsing the sanitized copy gives the very same row
            assert container_from_inspect(clean, "h") == container_from_inspect(doc, "h")
            for key in ("Path", "Args", "ExecIDs", "GraphDriver", "NetworkSettings", "Mounts"):
                assert key not in clean
            assert set(clean["Config"]) <= {"Image", "Labels"}
    hostile = sanitize_inspect(lab_inspect("lab-hostile"))
    text = json.dumps(hostile)
    for secret in (*SECRETS, "sleep 100000"):
        assert secret not in text
    assert lab_inspect("lab-hostile")["Config"]["Env"] == ["DB_PASSWORD=hunter2-secret"]


def test_sanitize_inspect_drops_health_log_and_state_error() -> None:
    doc = synthetic_inspect()
    doc["State"]["Error"] = 'exec: "run --password=x"'
    doc["State"]["Health"] = {"Status": "healthy", "FailingStreak": 0, "Log": [{"Output": "x"}]}
    doc["Config"]["Healthcheck"] = {"Test": ["CMD", "curl", "-u", "a:b"]}
    clean = sanitize_inspect(doc)
    assert clean["State"]["Health"] == {"Status": "healthy", "FailingStreak": 0}
    assert "Error" not in clean["State"]
    assert "Healthcheck" not in clean["Config"]


def test_sanitize_container_summary_drops_command() -> None:
    summaries: list[dict[str, Any]] = json.loads((LAB / "containers.json").read_text())
    assert len(summaries) == 8
    clean = [sanitize_container_summary(s) for s in summaries]
    assert all("Command" not in c for c in clean)
    assert "sleep 100000" not in json.dumps(clean)
    assert clean[0]["Names"] == ["/lab-hostile"]
    assert clean[0]["Labels"]["app"] == "<script>alert(1)</script>"


# --------------------------------------------------------------------------
# events


def lab_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (LAB / "events.jsonl").read_text().splitlines()]


def test_lab_events() -> None:
    rows = [event_from_docker(ev, "h") for ev in lab_events()]
    kept = [row for row in rows if row is not None]
    assert len(kept) == 80
    oomchild_ooms = [r for r in kept if r["name"] == "lab-oomchild" and r["action"] == "oom"]
    assert len(oomchild_ooms) == 15
    restarting = [r for r in kept if r["name"] == "lab-restarting"]
    assert sum(r["action"] == "oom" for r in restarting) == 39
    assert sum(r["action"] == "start" for r in restarting) == 12
    dies = [r for r in restarting if r["action"] == "die"]
    assert len(dies) == 12 and {r["exit_code"] for r in dies} == {137}
    first = kept[0]
    assert first["action"] == "oom" and first["exit_code"] is None
    assert first["ts"] == pytest.approx(1795761418.452672118, abs=1e-6)


def test_deprecated_event_fields() -> None:
    ev = {"status": "die", "id": "abc", "from": "img", "time": 1700000000}
    row = event_from_docker(ev, "h")
    assert row == {
        "host": "h",
        "container_id": "abc",
        "ts": 1700000000.0,
        "action": "die",
        "exit_code": None,
        "name": "",
    }


@pytest.mark.parametrize(
    "ev",
    [
        {"Type": "container", "Action": "exec_start: sh -c env", "Actor": {"ID": "a"}, "time": 1},
        {"Type": "network", "Action": "destroy", "Actor": {"ID": "a"}, "time": 1},
        {"Type": "container", "Action": "kill", "Actor": {"ID": "a"}, "time": 1},
        {"Type": "container", "Action": "oom", "Actor": {"ID": ""}, "time": 1},
        {"Type": "container", "Action": "oom", "Actor": {"ID": "a"}},
    ],
)
def test_events_not_kept(ev: dict[str, Any]) -> None:
    assert event_from_docker(ev, "h") is None


def test_sanitize_event() -> None:
    ev = lab_events()[2]
    clean = sanitize_event(ev)
    assert clean is not None
    assert event_from_docker(clean, "h") == event_from_docker(ev, "h")
    assert "rightsize.lab" not in json.dumps(clean)  # label attributes dropped
    exec_ev = {"Type": "container", "Action": "exec_create: echo hunter2-secret", "time": 1}
    assert sanitize_event(exec_ev) is None


# --------------------------------------------------------------------------
# host


def test_host_from_lab_info() -> None:
    info = json.loads((LAB / "info.json").read_text())
    version = json.loads((LAB / "version.json").read_text())
    assert host_from_info(info, version, "lab") == {
        "host": "lab",
        "name": "lab",
        "ncpu": 2,
        "mem_total": 25276514304,
        "engine_version": "20.10.24+dfsg1",
        "api_version": "1.41",
        "cgroup_version": "1",
        "os_type": "linux",
    }
    named = host_from_info({**info, "Name": "node-1"}, None, "lab")
    assert named["name"] == "node-1" and named["api_version"] == ""


def test_sanitize_info_allow_list() -> None:
    info = {"NCPU": 4, "Name": "n", "HttpProxy": "http://user:pw@proxy", "Labels": ["a=b"]}
    assert sanitize_info(info) == {"NCPU": 4, "Name": "n"}


@pytest.mark.parametrize(
    ("shares", "labels", "expected"),
    [
        (1024, {}, 1.0),
        (204, {}, 204 / 1024),
        (256, {"io.kubernetes.pod.namespace": "ns", "io.kubernetes.container.name": "app"}, 0.25),
        (102, {"io.kubernetes.pod.namespace": "ns", "io.kubernetes.container.name": "app"}, 0.1),
        (2, {"io.kubernetes.pod.namespace": "ns", "io.kubernetes.container.name": "app"}, None),
        (0, {}, None),
    ],
)
def test_cpu_request_from_shares_docker_and_kubelet_ways(
    shares: int, labels: dict[str, str], expected: float | None
) -> None:
    doc = {"Id": "c" * 64, "Name": "/x", "Config": {"Image": "i", "Labels": labels},
           "HostConfig": {"CpuShares": shares}, "State": {}}
    assert container_from_inspect(doc, "h")["cpu_request"] == expected
