"""The tidy row shapes every source produces and the store keeps.

Sources (live Docker collection, a recorded folder, an imported CSV/Parquet
file, later Prometheus and the kubelet) all turn their payloads into these
TypedDicts; ``store.py`` writes them; ``store.load`` returns them as
DataFrames with the same column names.

Units: timestamps are Unix seconds (float, UTC); CPU counters are
nanoseconds of CPU time (Windows' 100 ns units are converted); memory is
bytes; declared CPU is cores and declared memory is bytes; ``None`` means
"not reported" / "not declared".
"""

from __future__ import annotations

from typing import TypedDict


class SampleRow(TypedDict):
    """One stats reading of one container."""

    host: str
    container_id: str
    ts: float  # engine `read` time
    cpu_total_ns: int | None  # cumulative container CPU time
    cpu_cores: float | None  # only for imported rate data (no counter)
    system_cpu_ns: int | None  # host-wide cumulative CPU time (Linux)
    online_cpus: int | None
    periods: int | None  # CFS enforcement periods (cumulative)
    throttled_periods: int | None
    throttled_ns: int | None
    mem_usage: int | None
    mem_working_set: int | None  # usage - inactive file (what docker stats shows)
    mem_rss: int | None  # v1 total_rss, v2 anon
    mem_limit: int | None  # as reported (host RAM when unlimited)
    mem_failcnt: int | None
    pids: int | None
    oom_kills_total: int | None  # the memory cgroup's own oom_kill counter (cumulative)


class ContainerRow(TypedDict):
    """What one container declares and who it is (latest known state)."""

    host: str
    container_id: str
    name: str
    image: str
    labels: dict[str, str]
    workload: str | None  # explicit workload (import, manifests); else derived
    cpu_request: float | None
    cpu_limit: float | None
    memory_request: int | None
    memory_limit: int | None
    cpuset_cpus: int | None  # number of CPUs the cpuset allows, if pinned
    restart_count: int
    oom_killed: bool  # State.OOMKilled at last inspect
    started_at: float | None
    os_type: str


class EventRow(TypedDict):
    """One container lifecycle event (oom, die, start, restart, destroy)."""

    host: str
    container_id: str
    ts: float
    action: str
    exit_code: int | None
    name: str


class HostRow(TypedDict):
    """The engine or node a container runs on."""

    host: str
    name: str
    ncpu: int
    mem_total: int
    engine_version: str
    api_version: str
    cgroup_version: str
    os_type: str


def container_row(
    host: str,
    container_id: str,
    name: str,
    *,
    image: str = "",
    labels: dict[str, str] | None = None,
    workload: str | None = None,
    cpu_request: float | None = None,
    cpu_limit: float | None = None,
    memory_request: int | None = None,
    memory_limit: int | None = None,
    started_at: float | None = None,
    os_type: str = "linux",
) -> ContainerRow:
    """A :class:`ContainerRow` for sources that know less than ``docker inspect`` does."""
    return ContainerRow(
        host=host,
        container_id=container_id,
        name=name,
        image=image,
        labels={} if labels is None else labels,
        workload=workload,
        cpu_request=cpu_request,
        cpu_limit=cpu_limit,
        memory_request=memory_request,
        memory_limit=memory_limit,
        cpuset_cpus=None,
        restart_count=0,
        oom_killed=False,
        started_at=started_at,
        os_type=os_type,
    )
