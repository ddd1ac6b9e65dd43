"""A filter the real engine refuses is a usage error (exit 2 with the engine's message)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rightsize.sources.docker.client import DockerClient


def test_bogus_filter_is_exit_2(tmp_path: Path, engine: DockerClient) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rightsize", "--db", str(tmp_path / "s.db"), "collect",
         "--docker-host", engine.host.url, "--samples", "1", "--filter", "bogus=1"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "reconnecting" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "refused to list containers with --filter bogus=1" in last, last
    assert "bogus" in last.split(": ", 2)[-1]  # the engine's own message
