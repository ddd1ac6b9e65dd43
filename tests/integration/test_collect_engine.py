"""The collector against a real Docker engine.

Each test starts its own labelled containers and a real ``rightsize collect``
subprocess filtered on that label, then reads the store back.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rightsize.errors import RightsizeError
from rightsize.sources.docker.client import DockerClient
from rightsize.store import load
from tests.store_rows import query_samples

from .conftest import Containers

pytestmark = pytest.mark.engine

MiB = 2**20


def collector(db: Path, label: str, *args: str, seal: int | None = None
              ) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if seal is not None:  # seal every few rows, so chunks are written while it runs
        env["RIGHTSIZE_STORE_SEAL_ROWS"] = str(seal)
    return subprocess.Popen(
        [sys.executable, "-m", "rightsize", "--db", str(db), "collect", "--interval", "1s",
         "--filter", f"label={label}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def run_collect(db: Path, label: str, *args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "rightsize", "--db", str(db), "collect", "--interval", "1s",
         "--filter", f"label={label}", *args],
        capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def samples_of(db: Path, cid: str) -> list[tuple[float, int]]:
    return [(float(t), int(c)) for t, c in query_samples(
        db, "SELECT ts, cpu_total_ns FROM samples WHERE container_id = ? ORDER BY ts", cid)]


def test_declared_values_read_back_exactly(tmp_path: Path, containers: Containers) -> None:
    a = containers.start("declared-a", "sleep 600", {
        "NanoCpus": 1_500_000_000, "CpuShares": 768, "Memory": 96 * MiB,
        "MemoryReservation": 48 * MiB})
    b = containers.start("declared-b", "sleep 600", {"CpuQuota": 25000, "CpuPeriod": 50000})
    c = containers.start("declared-c", "sleep 600")
    db = tmp_path / "s.db"
    run_collect(db, containers.label, "--samples", "2")
    ds = load(db)
    rows = ds.containers.set_index("container_id")
    assert rows.loc[a, "cpu_limit"] == 1.5
    assert rows.loc[a, "cpu_request"] == 768 / 1024
    assert rows.loc[a, "memory_limit"] == 96 * MiB
    assert rows.loc[a, "memory_request"] == 48 * MiB
    assert rows.loc[b, "cpu_limit"] == 0.5  # CpuQuota / CpuPeriod
    assert pd_isnull(rows.loc[b, "memory_limit"])
    for col in ("cpu_request", "cpu_limit", "memory_request", "memory_limit"):
        assert pd_isnull(rows.loc[c, col]), col
    # Each container has a sample from each round.
    assert ds.samples.groupby("container_id").size().min() >= 2


def pd_isnull(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_cpu_of_a_yes_loop_under_a_quota_and_its_throttling(
    tmp_path: Path, containers: Containers
) -> None:
    cid = containers.start("quota", "yes > /dev/null", {"NanoCpus": 300_000_000})
    time.sleep(2)  # let the loop reach steady state
    db = tmp_path / "s.db"
    run_collect(db, containers.label, "--duration", "12s")
    ds = load(db)
    s = ds.samples[ds.samples["container_id"] == cid].sort_values("ts")
    assert len(s) >= 10
    cores = (s["cpu_total_ns"].iloc[-1] - s["cpu_total_ns"].iloc[0]) / 1e9 / (
        s["ts"].iloc[-1] - s["ts"].iloc[0]
    )
    assert cores == pytest.approx(0.3, abs=0.05)
    d_periods = s["periods"].iloc[-1] - s["periods"].iloc[0]
    d_throttled = s["throttled_periods"].iloc[-1] - s["throttled_periods"].iloc[0]
    assert d_periods > 50
    assert d_throttled / d_periods > 0.5  # a busy loop under a quota is throttled nearly always


def test_a_child_oom_is_counted_while_the_container_keeps_running(
    tmp_path: Path, containers: Containers, engine: DockerClient
) -> None:
    cid = containers.start(
        "oomchild",
        # The child volunteers for the OOM killer (oom_score_adj 1000), so the kernel never
        # picks the container's main shell instead.
        "while true; do sh -c 'echo 1000 > /proc/self/oom_score_adj; "
        "x=$(head -c 48000000 /dev/zero | tr \"\\0\" a)'; sleep 3; done",
        {"Memory": 24 * MiB, "MemorySwap": 24 * MiB},
    )
    db = tmp_path / "s.db"
    run_collect(db, containers.label, "--duration", "10s")
    ds = load(db)
    ooms = ds.events[(ds.events["container_id"] == cid) & (ds.events["action"] == "oom")]
    assert len(ooms) >= 2
    assert engine.inspect(cid)["State"]["Running"] is True
    assert not ds.events[(ds.events["container_id"] == cid)
                         & (ds.events["action"] == "die")].shape[0]


def test_secrets_are_never_stored(tmp_path: Path, containers: Containers) -> None:
    containers.start("secret", "sleep 600", env=["DB_PASSWORD=hunter2-secret"])
    db = tmp_path / "s.db"
    rec = tmp_path / "rec"
    run_collect(db, containers.label, "--samples", "2", "--record", str(rec))
    blob = db.read_bytes() + b"".join(p.read_bytes() for p in rec.rglob("*") if p.is_file())
    for wal in tmp_path.glob("s.db-*"):
        blob += wal.read_bytes()
    assert b"hunter2" not in blob
    assert b"DB_PASSWORD" not in blob
    assert (rec / "stats.jsonl").exists()


def test_a_container_removed_mid_run_does_not_stop_the_collector(
    tmp_path: Path, containers: Containers, engine: DockerClient
) -> None:
    doomed = containers.start("doomed", "sleep 600")
    db = tmp_path / "s.db"
    proc = collector(db, containers.label, "--duration", "10s")
    time.sleep(3.5)
    engine.remove(doomed, force=True)
    late = containers.start("late", "sleep 600")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(samples_of(db, doomed)) >= 1
    assert len(samples_of(db, late)) >= 3  # picked up after it started


@pytest.mark.parametrize("seal", [None, 3], ids=["head", "sealing"])
def test_sigkill_keeps_every_committed_round(
    tmp_path: Path, containers: Containers, seal: int | None
) -> None:
    """Killed while collecting (also while the head is sealed into chunks every 3 rounds),
    the store keeps every committed round; a reader (``analyze``) works meanwhile."""
    cid = containers.start("steady", "sleep 600")
    db = tmp_path / "s.db"
    proc = collector(db, containers.label, seal=seal)
    deadline = time.monotonic() + 40
    committed: list[tuple[float, int]] = []
    while time.monotonic() < deadline and len(committed) < 8:
        time.sleep(0.5)
        if db.exists():
            try:
                committed = samples_of(db, cid)
            except (sqlite3.OperationalError, RightsizeError):
                continue
    assert len(committed) >= 8
    reader = subprocess.run([sys.executable, "-m", "rightsize", "--db", str(db), "analyze",
                             "--format", "json"], capture_output=True, text=True, timeout=60)
    assert reader.returncode == 0, reader.stderr  # a concurrent reader while collecting
    assert "steady" in reader.stdout
    if seal is not None:
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] >= 2
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    after = samples_of(db, cid)
    assert after[: len(committed)] == committed  # nothing committed was lost
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_sigterm_flushes_and_exits_zero(tmp_path: Path, containers: Containers) -> None:
    containers.start("term", "sleep 600")
    db = tmp_path / "s.db"
    proc = collector(db, containers.label)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "collected" in err
    assert load(db).samples.shape[0] >= 2


def test_unreachable_engine_is_one_line_and_exit_3(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rightsize", "--db", str(tmp_path / "s.db"), "collect",
         "--docker-host", f"unix://{tmp_path}/nope.sock", "--samples", "1"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "nope.sock" in lines[0] and "dockerd" in lines[0]
    assert "Traceback" not in proc.stderr


def test_engine_restart_is_survived(
    tmp_path: Path, containers: Containers, engine: DockerClient
) -> None:
    """Restarts the real dockerd mid-run; the collector reconnects and finds new containers."""
    if os.geteuid() != 0:
        pytest.skip("restarting dockerd needs root")
    pid = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    if not pid:
        pytest.skip("dockerd is not a process on this machine (remote engine?)")
    before = containers.start("before", "sleep 600")
    db = tmp_path / "s.db"
    proc = collector(db, containers.label, "--duration", "45s")
    time.sleep(4)
    os.kill(int(pid[0]), signal.SIGTERM)
    for _ in range(60):
        if not subprocess.run(["pidof", "dockerd"], capture_output=True).stdout:
            break
        time.sleep(0.5)
    time.sleep(2)
    with open("/tmp/dockerd-restarted.log", "ab") as logf:
        subprocess.Popen(["dockerd", "--iptables=false", "--bridge=none"], stdout=logf,
                         stderr=logf, start_new_session=True)
    for _ in range(60):
        try:
            engine.version()
            break
        except Exception:
            time.sleep(0.5)
    after = containers.start("after", "sleep 600")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert len(samples_of(db, before)) >= 2
    assert len(samples_of(db, after)) >= 3, err
    assert "lost the engine" in err or "reconnect" in err.lower()


def test_the_same_engine_through_two_urls_is_sampled_once(
    tmp_path: Path, containers: Containers
) -> None:
    """Two paths to the same socket are one engine (its /info ID): sampled once, with a warning."""
    urls = [u for u in ("unix:///var/run/docker.sock", "unix:///run/docker.sock")
            if Path(u.removeprefix("unix://")).exists()]
    if len(urls) < 2 or Path(urls[0][7:]).resolve() != Path(urls[1][7:]).resolve():
        pytest.skip("needs the engine socket reachable under two paths")
    cid = containers.start("multi", "sleep 600")
    db = tmp_path / "s.db"
    err = run_collect(db, containers.label, "--samples", "2", "--docker-host", urls[0],
                      "--docker-host", urls[1])
    ds = load(db)
    mine = ds.samples[ds.samples["container_id"] == cid]
    assert set(mine["host"]) == {urls[0]} and len(mine) == 2
    assert set(ds.hosts["host"]) == {urls[0]}
    assert ds.containers[ds.containers["container_id"] == cid].shape[0] == 1
    assert "same engine" in err and urls[1] in err


def test_permission_denied_on_the_socket_is_one_line_and_exit_3(tmp_path: Path) -> None:
    """A socket the user may not open: root is made ordinary by dropping DAC capabilities."""
    import shutil
    import socket

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and util-linux setpriv to drop CAP_DAC_OVERRIDE")
    path = tmp_path / "denied.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    path.chmod(0)
    caps = "-dac_override,-dac_read_search"
    proc = subprocess.run(
        [setpriv, "--bounding-set", caps, "--inh-caps", caps, sys.executable, "-m", "rightsize",
         "--db", str(tmp_path / "s.db"), "collect", "--docker-host", f"unix://{path}",
         "--samples", "1"],
        capture_output=True, text=True, timeout=60,
    )
    server.close()
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "permission denied" in lines[0] and str(path) in lines[0]
    assert "docker group" in lines[0]
