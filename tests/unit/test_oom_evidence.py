"""OOM kills counted the way the kernel counts them (issue: counts over-counted 1,000x).

The engine relays every wake-up of a cgroup's OOM notifier as an ``oom``
event, dozens within 100 ms for one kill; the kernel's ``oom_kill`` counter
is the truth where it can be read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rightsize.analysis.usage import usage_series
from rightsize.sources.docker.cgroups import OomCounters, read_oom_kill
from tests.unit.test_usage import events, frame


def _samples(counter: list[float | None], cid: str = "c") -> list[dict[str, object]]:
    return [
        {
            "host": "h",
            "container_id": cid,
            "ts": 100.0 + 10 * i,
            "cpu_total_ns": 1e9 * i,
            "mem_working_set": 1.0,
            "oom_kills_total": np.nan if v is None else v,
        }
        for i, v in enumerate(counter)
    ]


def _kills(use: object) -> list[float]:
    return use.frame["oom_kills"].tolist()  # type: ignore[attr-defined]


def test_a_burst_of_engine_events_is_one_kill() -> None:
    burst = [("c", 112.0 + k * 0.002, "oom") for k in range(900)]  # 900 events in 1.8 s
    burst += [("c", 132.0 + k * 0.05, "oom") for k in range(40)]  # a second kill, 2 s long
    use = usage_series(frame(_samples([None] * 5)), events(burst))
    assert _kills(use) == [0.0, 0.0, 1.0, 0.0, 1.0]
    assert set(use.ooms["signal"]) == {"event"} and use.ooms["kills"].sum() == 2


def test_events_more_than_a_second_apart_are_separate_kills() -> None:
    ev = events([("c", 112.0, "oom"), ("c", 113.5, "oom"), ("c", 115.0, "oom")])
    use = usage_series(frame(_samples([None] * 3)), ev)
    assert _kills(use) == [0.0, 0.0, 3.0]


def test_the_kernel_counter_wins_over_events_where_it_was_read() -> None:
    # counter 0 → 0 → 1 → 3: three kills; the 900 notifications inside are not added
    ev = events([("c", 121.0 + k * 0.001, "oom") for k in range(900)] + [("c", 125.0, "oom")])
    use = usage_series(frame(_samples([0, 0, 1, 3])), ev)
    assert _kills(use) == [0.0, 0.0, 1.0, 2.0]
    assert set(use.ooms["signal"]) == {"kernel"}


def test_a_counter_above_zero_at_the_first_reading_is_history_not_kills() -> None:
    use = usage_series(frame(_samples([7, 7, 8])), None)
    assert _kills(use) == [0.0, 0.0, 1.0]


def test_events_after_the_last_reading_count_once() -> None:
    # the container was killed after its last frame: its cgroup (and counter) are gone
    ev = events([("c", 125.0 + k * 0.001, "oom") for k in range(19)] + [("c", 125.1, "die")])
    use = usage_series(frame(_samples([0, 0])), ev)
    assert _kills(use) == [0.0, 1.0]
    assert use.ooms["signal"].tolist() == ["event"]


def test_a_restart_between_readings_falls_back_to_events() -> None:
    # kill at 112 → die → start at 113: the new cgroup's counter starts again from 0
    ev = events([("c", 112.0, "oom"), ("c", 112.001, "oom"), ("c", 113.0, "start")])
    use = usage_series(frame(_samples([0, 0, 0])), ev)
    assert _kills(use) == [0.0, 0.0, 1.0]


def test_a_counter_that_drops_without_an_event_is_a_reset() -> None:
    use = usage_series(frame(_samples([2, 2, 0, 1])), None)
    assert _kills(use) == [0.0, 0.0, 0.0, 1.0]


def test_imported_kills_each_count() -> None:
    ev = events([("c", 111.0, "oom_kill"), ("c", 111.000001, "oom_kill")])
    use = usage_series(frame(_samples([None] * 3)), ev)
    assert _kills(use) == [0.0, 0.0, 2.0]  # the interval that ends at the next reading
    assert set(use.ooms["signal"]) == {"counter"}


def test_failcnt_is_not_used_where_the_kernel_counter_was_read() -> None:
    rows = _samples([0, 0, 0])
    for i, r in enumerate(rows):
        r["mem_failcnt"] = float(5 * i)
    use = usage_series(frame(rows), None, failcnt_hosts={"h"})
    assert _kills(use) == [0.0, 0.0, 0.0]


# --- reading the counter -------------------------------------------------------------


def _tree(tmp_path: Path, cid: str, line: str, rel: str, name: str, body: str) -> OomCounters:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text(line)
    target = tmp_path / "cg" / rel
    target.mkdir(parents=True)
    (target / name).write_text(body)
    return OomCounters(proc=proc, root=tmp_path / "cg")


def test_v1_memory_oom_control(tmp_path: Path) -> None:
    cid = "f" * 64
    counters = _tree(
        tmp_path,
        cid,
        f"12:pids:/docker/{cid}\n4:memory:/docker/{cid}\n1:name=systemd:/docker/{cid}\n",
        f"memory/docker/{cid}",
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n",
    )
    assert counters.locate(cid, 42) == tmp_path / "cg" / "memory" / "docker" / cid / (
        "memory.oom_control"
    )
    assert counters.read(cid) == 7


def test_v2_memory_events(tmp_path: Path) -> None:
    cid = "a" * 64
    counters = _tree(
        tmp_path,
        cid,
        f"0::/system.slice/docker-{cid}.scope\n",
        f"system.slice/docker-{cid}.scope",
        "memory.events",
        "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n",
    )
    assert counters.locate(cid, 42) is not None
    assert counters.read(cid) == 2


def test_a_cgroup_that_does_not_name_the_container_is_not_trusted(tmp_path: Path) -> None:
    # a collector in its own cgroup namespace (or a remote engine's pid) sees other paths
    counters = _tree(
        tmp_path, "b" * 64, "4:memory:/\n", "memory", "memory.oom_control", "oom_kill 1\n"
    )
    assert counters.locate("b" * 64, 42) is None
    assert counters.read("b" * 64) is None


def test_no_pid_or_no_file_means_no_counter(tmp_path: Path) -> None:
    counters = OomCounters(proc=tmp_path / "nope", root=tmp_path)
    assert counters.locate("c" * 64, 0) is None
    assert counters.locate("c" * 64, 4242) is None
    assert read_oom_kill(tmp_path / "missing") is None
    (tmp_path / "old").write_text("oom_kill_disable 0\nunder_oom 0\n")  # Linux < 4.13
    assert read_oom_kill(tmp_path / "old") is None
