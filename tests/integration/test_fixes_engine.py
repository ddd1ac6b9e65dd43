"""The Docker fixes run as written on a real engine: ``docker update`` and ``docker run`` flags.

The test creates its own labelled containers from the lab image (removed at the
end by the ``containers`` fixture), runs the snippets with the docker CLI and
reads the result back from ``HostConfig``.
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import subprocess

import pytest

import rightsize
from rightsize.model import Recommendation
from rightsize.render.fixes import fixes_for

from .conftest import Containers, unavailable

pytestmark = pytest.mark.engine

MiB = 2**20
DOCKER = shutil.which("docker")


def _run(snippet: str) -> None:
    command = " ".join(
        line.rstrip("\\").strip() for line in snippet.splitlines() if not line.startswith("#")
    )
    out = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (command, out.stderr)


@pytest.fixture
def docker_cli() -> str:
    if DOCKER is None:
        unavailable("the docker CLI is not installed")
    return DOCKER


@pytest.mark.parametrize(
    ("rec", "want"),
    [
        (
            Recommendation(0.15, None, 48 * MiB, 48 * MiB, 0.9),
            {"CpuShares": 154, "Memory": 48 * MiB, "MemoryReservation": 48 * MiB},
        ),
        (  # a lower bound after an OOM kill raises the memory limit only
            Recommendation(None, None, None, 196 * MiB, 1.0, basis=("oom_kill",)),
            {"CpuShares": 256, "Memory": 196 * MiB, "MemoryReservation": 0,
             "NanoCpus": 500_000_000},
        ),
    ],
)
def test_docker_update_and_run_flags(
    containers: Containers, docker_cli: str, rec: Recommendation, want: dict[str, int]
) -> None:
    host_config = {"Memory": 96 * MiB, "MemorySwap": 96 * MiB, "CpuShares": 256,
                   "NanoCpus": 500_000_000}
    cid = containers.start("rs-fix", "sleep 600", host_config=host_config)
    name = str(containers.engine.inspect(cid)["Name"]).lstrip("/")
    base = rightsize.analyze("data/lab-session")["lab-idle"]
    w = dataclasses.replace(
        base, recommendation=rec, container_names=(name,), images=(containers.image,)
    )
    fixes = fixes_for(w)
    assert fixes is not None and fixes.platform == "docker"
    _run(fixes.get("docker update"))
    got = containers.engine.inspect(cid)["HostConfig"]
    assert {k: got[k] for k in want} == want
    # the docker run flags create an equivalent container (labelled, so the fixture removes it)
    run = fixes.get("docker run").replace("docker run", "docker create", 1).replace(" ...", "")
    run = run.replace(
        "docker create", f"docker create --label {containers.label} --network none", 1
    )
    out = subprocess.run(
        [*shlex.split(" ".join(x.rstrip("\\").strip() for x in run.splitlines())), "true"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    created = containers.engine.inspect(out.stdout.strip())["HostConfig"]
    for key in ("Memory", "MemoryReservation"):
        if rec.memory_limit is not None or key == "MemoryReservation":
            expected = want[key] if rec.memory_request is not None or key == "Memory" else 0
            assert created[key] == expected, key
