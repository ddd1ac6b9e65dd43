"""Pure translations of Docker Engine API payloads into rightsize rows.

Live collection and recorded folders both go through these functions, so a
recording replays exactly like the engine it was taken from. Nothing here
does I/O. Inspect and event payloads are read through allow-lists: the
environment, command line and other fields that may hold secrets are never
read or copied.

One piece: each payload's translation sits beside its allow-list sanitizer,
so a field is allow-listed where it is read.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rightsize.rows import ContainerRow, EventRow, HostRow, SampleRow

__all__ = [
    "EVENT_ACTIONS",
    "container_from_inspect",
    "count_cpuset",
    "event_from_docker",
    "host_from_info",
    "is_secret_label",
    "parse_ts",
    "sample_from_stats",
    "sanitize_container_summary",
    "sanitize_event",
    "sanitize_info",
    "sanitize_inspect",
    "sanitize_version",
]

#: Container event actions turned into EventRows.
EVENT_ACTIONS = frozenset({"oom", "die", "start", "restart", "destroy"})

#: Actions a recording keeps (a superset, for humans debugging a recording).
_RECORDED_ACTIONS = EVENT_ACTIONS | {"create", "kill", "stop", "pause", "unpause"}

_DEFAULT_CFS_PERIOD_US = 100_000

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})"
    r"(?:\.(\d+))?"
    r"([Zz]|[+-]\d{2}:?\d{2})$"
)

# Labels whose values are known to carry whole manifests (env values included).
_SECRET_LABEL_SUFFIXES = ("kubectl.kubernetes.io/last-applied-configuration",)


# --------------------------------------------------------------------------
# small coercion helpers: payloads are untrusted JSON


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    """A non-negative integer, or None for anything else (bool, str, <0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _positive(value: Any) -> int | None:
    number = _int(value)
    return number if number else None


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


# --------------------------------------------------------------------------
# timestamps


def parse_ts(s: str) -> float | None:
    """Parse an RFC3339 time (nanosecond fractions allowed) into Unix seconds.

    Go's zero time (``0001-01-01T00:00:00Z``, any year 1 time) gives None.
    Raises ValueError for a string that is not RFC3339.
    """
    match = _TS_RE.match(s.strip()) if isinstance(s, str) else None
    if match is None:
        raise ValueError(f"not an RFC3339 timestamp: {s!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year <= 1:
        return None
    fraction, zone = match.group(7), match.group(8)
    whole = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        whole -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    frac = int(fraction) / 10 ** len(fraction) if fraction else 0.0
    return whole + frac


def _safe_ts(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_ts(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------
# stats


def _is_windows(stats: Mapping[str, Any], os_type: str | None) -> bool:
    declared = os_type or _str(stats.get("os_type"))
    if declared:
        return declared.lower() == "windows"
    if (_int(stats.get("num_procs")) or 0) > 0:
        return True
    return "privateworkingset" in _dict(stats.get("memory_stats"))


def _working_set(usage: int, mem: Mapping[str, Any]) -> int:
    """Working set exactly as ``docker stats`` computes it (cli stats_helpers.go)."""
    inner = _dict(mem.get("stats"))
    for key in ("total_inactive_file", "inactive_file"):
        inactive = _int(inner.get(key))
        if inactive is not None and inactive < usage:
            return usage - inactive
    return usage


def sample_from_stats(
    stats: Mapping[str, Any],
    host: str,
    os_type: str | None = None,
    *,
    container_id: str | None = None,
) -> SampleRow | None:
    """Turn one ``/containers/{id}/stats`` document into a SampleRow.

    Returns None for the zeroed frames a stopped or restarting container's
    stream keeps sending (zero ``read`` time, or no memory stats and no CPU).
    ``os_type`` ("linux"/"windows") overrides detection from the document.
    ``container_id`` fills in for documents without an ``id`` (old Windows
    daemons). ``precpu_stats`` is ignored: only cumulative counters are kept.
    Raises ValueError when the document has no id or an unparseable ``read``.
    """
    cid = _str(stats.get("id")) or container_id
    if not cid:
        raise ValueError("stats document has no container id")
    read = stats.get("read")
    ts = parse_ts(read) if isinstance(read, str) else None
    if ts is None:
        return None

    cpu = _dict(stats.get("cpu_stats"))
    usage_section = _dict(cpu.get("cpu_usage"))
    mem = _dict(stats.get("memory_stats"))
    total = _int(usage_section.get("total_usage"))
    if not mem and not total:
        return None

    if _is_windows(stats, os_type):
        num_procs = _positive(stats.get("num_procs"))
        return SampleRow(
            host=host,
            container_id=cid,
            ts=ts,
            cpu_total_ns=None if total is None else total * 100,
            cpu_cores=None,
            system_cpu_ns=None,
            online_cpus=num_procs,
            periods=None,
            throttled_periods=None,
            throttled_ns=None,
            mem_usage=_int(mem.get("usage")),
            mem_working_set=_int(mem.get("privateworkingset")),
            mem_rss=None,
            mem_limit=None,
            mem_failcnt=None,
            pids=_int(_dict(stats.get("pids_stats")).get("current")),
            oom_kills_total=None,
        )

    online = _positive(cpu.get("online_cpus"))
    if online is None:
        percpu = usage_section.get("percpu_usage")
        online = len(percpu) if isinstance(percpu, list) and percpu else None
    throttling = cpu.get("throttling_data")
    throttle = _dict(throttling)

    mem_usage = _int(mem.get("usage"))
    inner = _dict(mem.get("stats"))
    if "total_rss" in inner:
        rss = _int(inner["total_rss"])
    elif "anon" in inner:
        rss = _int(inner["anon"])
    else:
        rss = _int(inner.get("rss"))
    # failcnt is `omitempty` on both cgroup versions: absent means 0 as long
    # as the engine reported memory at all.
    failcnt = _int(mem.get("failcnt"))
    if failcnt is None and mem_usage is not None and "failcnt" not in mem:
        failcnt = 0

    return SampleRow(
        host=host,
        container_id=cid,
        ts=ts,
        cpu_total_ns=total,
        cpu_cores=None,
        system_cpu_ns=_positive(cpu.get("system_cpu_usage")),
        online_cpus=online,
        periods=_int(throttle.get("periods")) if throttling is not None else None,
        throttled_periods=(
            _int(throttle.get("throttled_periods")) if throttling is not None else None
        ),
        throttled_ns=_int(throttle.get("throttled_time")) if throttling is not None else None,
        mem_usage=mem_usage,
        mem_working_set=None if mem_usage is None else _working_set(mem_usage, mem),
        mem_rss=rss,
        mem_limit=_positive(mem.get("limit")),
        mem_failcnt=failcnt,
        pids=_int(_dict(stats.get("pids_stats")).get("current")),
        oom_kills_total=None,
    )


# --------------------------------------------------------------------------
# inspect


def count_cpuset(spec: str) -> int | None:
    """Number of CPUs in a cpuset list such as ``"0-3,5"``; None if empty or invalid."""
    cpus: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        first, sep, last = part.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            return None
        low, high = int(first), int(last) if sep else int(first)
        if high < low:
            return None
        cpus.update(range(low, high + 1))
    return len(cpus) or None


def is_secret_label(key: str) -> bool:
    """True for labels known to carry whole manifests (and so env values)."""
    return key.endswith(_SECRET_LABEL_SUFFIXES)


def _labels(value: Any) -> dict[str, str]:
    return {
        str(k): str(v)
        for k, v in _dict(value).items()
        if v is not None and not is_secret_label(str(k))
    }


def _cpu_request(shares: int | None, labels: Mapping[str, str]) -> float | None:
    """Declared CPU request from ``CpuShares``.

    Plain Docker: shares / 1024. Kubernetes containers (cri-dockerd labels):
    the kubelet's reverse mapping ``ceil(shares * 1000 / 1024)`` millicores,
    where 2 shares (the kubelet's minimum) means no request.
    """
    if shares is None:
        return None
    if "io.kubernetes.pod.namespace" in labels and "io.kubernetes.container.name" in labels:
        return None if shares <= 2 else -(-shares * 1000 // 1024) / 1000
    return shares / 1024


def container_from_inspect(inspect: Mapping[str, Any], host: str) -> ContainerRow:
    """Turn a ``/containers/{id}/json`` payload into a ContainerRow.

    Declared values follow product.md "Words and units". Only identity,
    labels, HostConfig resource fields and State are read; Config.Env,
    Cmd, Entrypoint, Path and Args never are.
    """
    cid = _str(inspect.get("Id"))
    if not cid:
        raise ValueError("inspect payload has no Id")
    config = _dict(inspect.get("Config"))
    hc = _dict(inspect.get("HostConfig"))
    state = _dict(inspect.get("State"))

    cpuset_spec = _str(hc.get("CpusetCpus"))
    cpuset = count_cpuset(cpuset_spec) if cpuset_spec else None

    cpu_limit: float | None = None
    nano = _positive(hc.get("NanoCpus"))
    quota = _positive(hc.get("CpuQuota"))
    if nano:
        cpu_limit = nano / 1e9
    elif quota:
        period = _positive(hc.get("CpuPeriod")) or _DEFAULT_CFS_PERIOD_US
        cpu_limit = quota / period
    if cpu_limit is not None and cpuset is not None:
        cpu_limit = min(cpu_limit, float(cpuset))

    shares = _positive(hc.get("CpuShares"))
    labels = _labels(config.get("Labels"))
    platform = _str(inspect.get("Platform")) or "linux"
    return ContainerRow(
        host=host,
        container_id=cid,
        name=_str(inspect.get("Name")).removeprefix("/"),
        image=_str(config.get("Image")),
        labels=labels,
        workload=None,
        cpu_request=_cpu_request(shares, labels),
        cpu_limit=cpu_limit,
        memory_request=_positive(hc.get("MemoryReservation")),
        memory_limit=_positive(hc.get("Memory")),
        cpuset_cpus=cpuset,
        restart_count=_int(inspect.get("RestartCount")) or 0,
        oom_killed=state.get("OOMKilled") is True,
        started_at=_safe_ts(state.get("StartedAt")),
        os_type=platform.lower(),
    )


def _pick(source: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {key: source[key] for key in keys if key in source}


_INSPECT_TOP = ("Id", "Created", "Name", "Image", "RestartCount", "Platform", "Driver")
_INSPECT_STATE = (
    "Status",
    "Running",
    "Paused",
    "Restarting",
    "OOMKilled",
    "Dead",
    "ExitCode",
    "StartedAt",
    "FinishedAt",
)
_INSPECT_HEALTH = ("Status", "FailingStreak")
_INSPECT_HOSTCONFIG = (
    "NanoCpus",
    "CpuQuota",
    "CpuPeriod",
    "CpuShares",
    "CpusetCpus",
    "CpusetMems",
    "CpuCount",
    "CpuPercent",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "MemorySwappiness",
    "KernelMemory",
    "OomKillDisable",
    "OomScoreAdj",
    "PidsLimit",
    "BlkioWeight",
    "ShmSize",
    "RestartPolicy",
    "Isolation",
    "Runtime",
    "CgroupParent",
    "NetworkMode",
)


def sanitize_inspect(inspect: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an inspect payload reduced to an allow-list of safe fields.

    Keeps identity (Id, Name, Created, Image, Platform, RestartCount),
    State (without Error and health-check output), HostConfig resource
    fields, Config.Image and Config.Labels. Everything else (Env, Cmd,
    Entrypoint, Path, Args, Healthcheck, ExecIDs, mounts, networks) is dropped.
    """
    out = _pick(inspect, _INSPECT_TOP)
    state = _dict(inspect.get("State"))
    if state:
        kept_state = _pick(state, _INSPECT_STATE)
        health = _dict(state.get("Health"))
        if health:
            kept_state["Health"] = _pick(health, _INSPECT_HEALTH)
        out["State"] = kept_state
    hc = _dict(inspect.get("HostConfig"))
    if hc:
        out["HostConfig"] = _pick(hc, _INSPECT_HOSTCONFIG)
    config = _dict(inspect.get("Config"))
    if config:
        kept_config: dict[str, Any] = _pick(config, ("Image",))
        if "Labels" in config:
            kept_config["Labels"] = _labels(config.get("Labels"))
        out["Config"] = kept_config
    return out


_SUMMARY_KEYS = ("Id", "Names", "Image", "ImageID", "Created", "State", "Status")


def sanitize_container_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A ``/containers/json`` entry reduced to an allow-list (no ``Command``)."""
    out = _pick(summary, _SUMMARY_KEYS)
    if "Labels" in summary:
        out["Labels"] = _labels(summary.get("Labels"))
    return out


# --------------------------------------------------------------------------
# events


def _event_action(ev: Mapping[str, Any]) -> str:
    # `exec_start: sh -c ...` and `health_status: healthy` carry a suffix.
    action = _str(ev.get("Action")) or _str(ev.get("status"))
    return action.split(":", 1)[0].strip()


def _event_id(ev: Mapping[str, Any]) -> str:
    return _str(_dict(ev.get("Actor")).get("ID")) or _str(ev.get("id"))


def _event_ts(ev: Mapping[str, Any]) -> float | None:
    nano = _int(ev.get("timeNano"))
    if nano:
        return nano // 1_000_000_000 + (nano % 1_000_000_000) / 1e9
    seconds = _int(ev.get("time"))
    return float(seconds) if seconds else None


def event_from_docker(ev: Mapping[str, Any], host: str) -> EventRow | None:
    """Turn one ``/events`` message into an EventRow, or None if not kept.

    Keeps container events whose action is in EVENT_ACTIONS. Reads both the
    current (Type/Action/Actor) and the deprecated (status/id) fields.
    """
    event_type = _str(ev.get("Type"), "container")
    action = _event_action(ev)
    if event_type != "container" or action not in EVENT_ACTIONS:
        return None
    cid = _event_id(ev)
    ts = _event_ts(ev)
    if not cid or ts is None:
        return None
    attributes = _dict(_dict(ev.get("Actor")).get("Attributes"))
    exit_code: int | None = None
    if action == "die":
        raw = attributes.get("exitCode")
        try:
            exit_code = int(raw) if raw is not None else None
        except (TypeError, ValueError):
            exit_code = None
    return EventRow(
        host=host,
        container_id=cid,
        ts=ts,
        action=action,
        exit_code=exit_code,
        name=_str(attributes.get("name")).removeprefix("/"),
    )


_EVENT_ATTRIBUTES = ("name", "image", "exitCode", "execDuration", "signal")


def sanitize_event(ev: Mapping[str, Any]) -> dict[str, Any] | None:
    """A container lifecycle event reduced to safe fields, or None to drop it.

    Exec events (whose action embeds the command line) and non-container
    events are dropped; attributes are reduced to name, image, exit code,
    duration and signal.
    """
    event_type = _str(ev.get("Type"), "container")
    action = _event_action(ev)
    if event_type != "container" or action not in _RECORDED_ACTIONS:
        return None
    out = _pick(ev, ("Type", "scope", "time", "timeNano"))
    out["Action"] = action
    actor = _dict(ev.get("Actor"))
    out["Actor"] = {
        "ID": _event_id(ev),
        "Attributes": _pick(_dict(actor.get("Attributes")), _EVENT_ATTRIBUTES),
    }
    return out


# --------------------------------------------------------------------------
# host

_INFO_KEYS = (
    "ID",
    "Name",
    "NCPU",
    "MemTotal",
    "CgroupVersion",
    "CgroupDriver",
    "OperatingSystem",
    "KernelVersion",
    "ServerVersion",
    "Architecture",
    "OSType",
)
_VERSION_KEYS = (
    "Version",
    "ApiVersion",
    "MinAPIVersion",
    "Os",
    "Arch",
    "KernelVersion",
    "GitCommit",
    "GoVersion",
    "BuildTime",
)


def sanitize_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """``/info`` reduced to an allow-list (no proxies, registries or labels)."""
    return _pick(info, _INFO_KEYS)


def sanitize_version(version: Mapping[str, Any]) -> dict[str, Any]:
    """``/version`` reduced to an allow-list of engine build facts."""
    return _pick(version, _VERSION_KEYS)


def host_from_info(
    info: Mapping[str, Any], version: Mapping[str, Any] | None, host: str
) -> HostRow:
    """Build the HostRow from ``/info`` and (optionally) ``/version``.

    ``host`` is the label rows carry; the engine's own name (``Name``,
    the hostname) falls back to that label when the payload lacks it.
    """
    ver = _dict(version)
    return HostRow(
        host=host,
        name=_str(info.get("Name")) or host,
        ncpu=_int(info.get("NCPU")) or 0,
        mem_total=_int(info.get("MemTotal")) or 0,
        engine_version=_str(info.get("ServerVersion")) or _str(ver.get("Version")),
        api_version=_str(ver.get("ApiVersion")),
        cgroup_version=_str(info.get("CgroupVersion")),
        os_type=(_str(info.get("OSType")) or _str(ver.get("Os")) or "linux").lower(),
    )
