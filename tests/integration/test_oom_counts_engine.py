"""OOM kill counts equal the kernel's, on a real engine.

The engine sends bursts of ``oom`` events per kill (more under CPU
contention); rightsize must count what the kernel counts. The kernel's own
record is its log: one ``oom-kill:`` line per kill naming the victim's
memory cgroup (``task_memcg=/docker/<id>``), and, while a container's cgroup
lives, its ``oom_kill`` counter. Markers written to ``/dev/kmsg`` bound the
collection window in the log.

The three containers mirror the lab's OOM workloads with shorter timers:
one killed once and never restarted (lab-grower), one whose child is killed
every few seconds while it keeps running (lab-oomchild), one whose main
process is killed and restarted (lab-restarting).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import rightsize
from rightsize.sources.docker.cgroups import OomCounters
from rightsize.sources.docker.client import DockerClient

from .conftest import REQUIRE, Containers
from .test_collect_engine import collector

MiB = 2**20


def _kernel_log() -> list[str]:
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        if REQUIRE:
            pytest.fail(f"the kernel log is needed to check OOM counts: {exc}")
        pytest.skip(f"the kernel log is not readable here: {exc}")
    return out.stdout.splitlines()


def _mark(text: str) -> None:
    try:
        with open("/dev/kmsg", "w") as kmsg:
            kmsg.write(text + "\n")
    except OSError as exc:
        if REQUIRE:
            pytest.fail(f"cannot write a marker to /dev/kmsg: {exc}")
        pytest.skip(f"cannot write a marker to /dev/kmsg (needs root): {exc}")


def _kills_between(lines: list[str], start: str, end: str) -> dict[str, list[float]]:
    """The kernel's time of each oom-kill line, per victim cgroup path, between the markers."""
    out: dict[str, list[float]] = {}
    inside = False
    for line in lines:
        if start in line:
            inside = True
        elif end in line:
            break
        elif inside and "oom-kill:" in line:
            m = re.search(r"task_memcg=([^,\s]+)", line)
            t = re.match(r"\[\s*([0-9.]+)\]", line)
            if m:
                out.setdefault(m.group(1), []).append(float(t.group(1)) if t else 0.0)
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="reading the kernel log and /dev/kmsg needs root")
def test_oom_kill_counts_equal_the_kernels(
    tmp_path: Path, containers: Containers, engine: DockerClient
) -> None:
    db = tmp_path / "s.db"
    run = uuid.uuid4().hex[:8]
    # The collector runs first, so every container is followed from its start (a slow CI
    # machine once let the grower die before the first round).
    proc = collector(db, containers.label, "--duration", "30s", "--interval", "1s")
    time.sleep(2.0)
    _mark(f"rightsize-test {run} start")
    grower = containers.start(
        "grower",
        "sleep 3; s=; while true; do s=\"$s$(head -c 4000000 /dev/zero | tr '\\0' a)\"; "
        "sleep 0.5; done",
        {"Memory": 48 * MiB, "MemorySwap": 48 * MiB},
    )
    oomchild = containers.start(
        "oomchild",
        # four kills, all well before the collector stops (none races its last round)
        "for i in 1 2 3 4; do sleep 3; sh -c 'echo 1000 > /proc/self/oom_score_adj; "
        "x=$(head -c 48000000 /dev/zero | tr \"\\0\" a); sleep 1'; done; sleep 600",
        {"Memory": 24 * MiB, "MemorySwap": 24 * MiB},
    )
    restarting = containers.start(
        "restarting",
        "sleep 4; x=$(head -c 40000000 /dev/zero | tr '\\0' a); sleep 5",
        {"Memory": 24 * MiB, "MemorySwap": 24 * MiB,
         "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}},  # 3 kills
    )
    pid = engine.inspect(oomchild)["State"]["Pid"]
    counters = OomCounters()
    path = counters.locate(oomchild, pid)
    assert path is not None, "the kernel's counter of a local container is readable"
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    after = counters.read(oomchild)
    _mark(f"rightsize-test {run} end")
    log = _kills_between(_kernel_log(), f"rightsize-test {run} start", f"rightsize-test {run} end")

    def kernel(cid: str) -> int:
        return sum(len(times) for memcg, times in log.items() if cid in memcg)

    def episodes(cid: str) -> int:
        """Kills less than a second apart as one (the kernel may take two processes)."""
        times = sorted(t for memcg, ts in log.items() if cid in memcg for t in ts)
        return sum(1 for i, t in enumerate(times) if i == 0 or t - times[i - 1] > 1.0)

    result = rightsize.analyze(db)
    by_id = {w.containers[0]: w for w in result}
    assert after is not None
    # the child's kills, by its cgroup's counter and by the log, as rightsize counted them
    assert after == kernel(oomchild) >= 3
    assert by_id[oomchild].oom_kills == kernel(oomchild)
    assert "kernel" in by_id[oomchild].oom.evidence
    assert by_id[oomchild].oom.exits == 0
    # Killed once, never restarted; killed and restarted three times. Their cgroups are
    # gone by the next reading, so the count rests on the engine's events, one kill per
    # burst: it equals the kernel's kills, taking two processes killed within a second
    # (which the kernel sometimes does) as one.
    assert engine.inspect(grower)["State"]["OOMKilled"] is True
    assert by_id[grower].oom_kills == episodes(grower) == 1
    assert episodes(restarting) == 3
    assert by_id[restarting].oom_kills == episodes(restarting)
    # the engine sent more oom events than there were kills
    ds = rightsize.load(db)
    raw = int((ds.events["action"] == "oom").sum())
    assert raw >= sum(kernel(c) for c in (grower, oomchild, restarting))
