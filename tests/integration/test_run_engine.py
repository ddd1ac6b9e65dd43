"""``rightsize run`` against a real engine: a cycle, the schedule, retention, signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rightsize.sources.docker.client import DockerClient

from .conftest import Containers

pytestmark = pytest.mark.engine


def test_run_collects_then_reports(tmp_path: Path, containers: Containers) -> None:
    containers.start("run-busy", "yes > /dev/null", {"NanoCpus": 200_000_000})
    out = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "rightsize", "--db", str(tmp_path / "s.db"), "run",
         "--duration", "5s", "--interval", "1s", "--filter", f"label={containers.label}",
         "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    page = Path(proc.stdout.strip())
    assert page.parent == out and page.exists()
    assert (out / "latest.html").read_text() == page.read_text()
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema"] == "rightsize/v1"
    assert any(w["workload"].startswith("run-busy") for w in doc["workloads"])


def test_schedule_repeats_keeps_n_reports_and_stops_cleanly_on_sigterm(
    tmp_path: Path, containers: Containers, engine: DockerClient
) -> None:
    containers.start("run-sched", "sleep 600")
    out = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rightsize", "--db", str(tmp_path / "s.db"), "run",
         "--duration", "2s", "--interval", "1s", "--every", "4s", "--keep-reports", "1",
         "--keep-samples", "3s",
         "--filter", f"label={containers.label}", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    index = out / "reports-index.json"
    deadline = time.monotonic() + 60
    entries: list[object] = []
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if index.exists():
            entries = json.loads(index.read_text())["reports"]
            if len(entries) >= 3:
                break
    assert len(entries) >= 3, "the schedule did not repeat"
    time.sleep(1.0)  # stop somewhere inside a cycle
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    pages = sorted(out.glob("rightsize-*.html"))
    assert len(pages) == 1  # --keep-reports 1
    assert "rightsize-" in (out / "index.html").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    final = json.loads(index.read_text())["reports"]
    assert len(final) >= len(entries)  # the history survives retention
    from rightsize.store import load

    samples = load(tmp_path / "s.db").samples
    span = samples["ts"].max() - samples["ts"].min()
    assert span <= 3.5  # --keep-samples 3s dropped the earlier cycles' samples
