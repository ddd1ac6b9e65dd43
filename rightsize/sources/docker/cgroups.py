"""The kernel's own OOM-kill counter of a container's memory cgroup.

Docker's ``oom`` events are not one per kill: on cgroup v1 the engine relays
every wake-up of the memory cgroup's OOM eventfd, dozens within 100 ms for
one kill (more under CPU contention). The kernel keeps the true count:

- cgroup v1: ``oom_kill N`` in ``memory.oom_control`` (Linux 4.13+);
- cgroup v2: ``oom_kill N`` in ``memory.events``.

A collector on the engine's own machine finds the container's cgroup from
``/proc/<State.Pid>/cgroup`` and reads that line next to every stats frame.
The path must name the container's ID, which proves the process is the
container's as seen from this machine (a remote engine, or a collector in
its own cgroup namespace, sees other paths and gets ``None``). The counter
lives as long as the cgroup: a container that is removed or restarted starts
again from zero, which the analysis treats as a counter reset.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["OomCounters", "read_oom_kill"]

log = logging.getLogger("rightsize.collect")

PROC = Path("/proc")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def read_oom_kill(path: Path) -> int | None:
    """The ``oom_kill`` value of a ``memory.oom_control``/``memory.events`` file."""
    try:  # read once a stats frame: plain os calls cost a quarter of Path.read_text's
        fd = os.open(path, os.O_RDONLY)
        try:
            text = os.read(fd, 65536).decode("ascii", "replace")
        finally:
            os.close(fd)
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _candidates(line: str, root: Path) -> list[Path]:
    """Counter files for one line of ``/proc/<pid>/cgroup`` (``id:controllers:path``)."""
    parts = line.split(":", 2)
    if len(parts) != 3:
        return []
    hierarchy, controllers, rel = parts
    rel = rel.lstrip("/")
    if hierarchy == "0" and controllers == "":  # the unified (v2) hierarchy
        return [root / rel / "memory.events", root / "unified" / rel / "memory.events"]
    if "memory" in controllers.split(","):  # v1 memory controller
        return [root / "memory" / rel / "memory.oom_control"]
    return []


class OomCounters:
    """Where each container's counter file is, found once per process ID."""

    def __init__(self, *, proc: Path = PROC, root: Path = CGROUP_ROOT) -> None:
        self.proc = proc
        self.root = root
        self._paths: dict[str, tuple[int, Path | None]] = {}

    def locate(self, container_id: str, pid: int | None) -> Path | None:
        """The counter file of ``container_id`` whose main process is ``pid``, if readable."""
        if not pid or pid <= 0:
            self._paths.pop(container_id, None)
            return None
        cached = self._paths.get(container_id)
        if cached is not None and cached[0] == pid:
            return cached[1]
        found: Path | None = None
        try:
            lines = (self.proc / str(pid) / "cgroup").read_text().splitlines()
        except OSError:
            lines = []
        paths = [p for line in lines for p in _candidates(line, self.root)]
        # v1 first: on a hybrid host memory is a v1 controller
        paths.sort(key=lambda p: p.name != "memory.oom_control")
        for path in paths:
            if container_id in str(path) and read_oom_kill(path) is not None:
                found = path
                break
        self._paths[container_id] = (pid, found)
        if found is None:
            log.debug("no readable OOM counter for %s (pid %s)", container_id[:12], pid)
        return found

    def forget(self, container_id: str) -> None:
        self._paths.pop(container_id, None)

    def read(self, container_id: str) -> int | None:
        """The current ``oom_kill`` count of a located container (None if gone or unknown)."""
        cached = self._paths.get(container_id)
        if cached is None or cached[1] is None:
            return None
        return read_oom_kill(cached[1])
