"""Findings: what is wrong (or notable) with one workload, in plain language.

Kinds and severities are product.md's: ``oom_killed`` (always critical),
``oom_risk``, ``cpu_throttled``, ``under_request``, ``over_request``,
``no_limit``, ``no_request``, ``insufficient_data``. Cut-offs come from
:class:`~rightsize.analysis.thresholds.Thresholds`. Messages carry the
numbers in Kubernetes quantities (``250m``, ``384Mi``).

Which statistic is compared with what:

- ``under_request``: p95 usage > request (CPU and memory).
- ``over_request``: request ≥ ``over_request_ratio`` x p95 CPU usage, or x
  the *peak* memory working set (memory has to fit the peak); the idle
  amount (request - that usage) must reach a minimum so tiny containers
  don't spam. Over- and under-request are told apart.
- Findings agree with the recommendation: with a sized recommendation,
  ``over_request`` is raised only when it lowers that request and
  ``under_request`` only when it raises it, and both messages name the
  recommended value. ``insufficient_data`` is raised exactly when the
  recommendation could not size the workload, with the strategy's reason
  (the one rule of :func:`~rightsize.analysis.thresholds.data_shortfall`).
- ``oom_risk``: peak and p99 working set against the memory limit, and the
  share of samples above ``oom_risk_high_water`` x limit.
- ``cpu_throttled``: throttled periods / periods over the window.

One piece: every kind's rule reads the same statistics, thresholds and
recommendation, and the rules refer to each other (over/under request, the
one insufficient-data rule); kinds themselves are registered in
:mod:`rightsize.finding_kinds`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rightsize.analysis.thresholds import Prices, Thresholds, data_shortfall
from rightsize.analysis.workloads import ResourceStats
from rightsize.finding_kinds import Resource, Severity, kind_rank, severity_rank
from rightsize.model import Declared, Finding, Recommendation
from rightsize.units import format_cpu, format_duration, format_memory

__all__ = ["OomKills", "Throttling", "sort_findings", "workload_findings", "worst_severity"]

GiB = 2**30
TIMES = "\u00d7"  # the multiplication sign in messages ("40x")


@dataclass(frozen=True)
class Throttling:
    """CFS throttling totals over the window (deltas summed over containers)."""

    periods: int = 0
    throttled_periods: int = 0
    throttled_seconds: float = 0.0

    @property
    def share(self) -> float:
        """Throttled periods / periods (NaN without periods)."""
        return self.throttled_periods / self.periods if self.periods else math.nan

    def to_dict(self) -> dict[str, float | int]:
        return {
            "periods": self.periods,
            "throttled_periods": self.throttled_periods,
            "throttled_seconds": round(self.throttled_seconds, 3),
        }


@dataclass(frozen=True)
class OomKills:
    """Observed OOM kills of one workload.

    ``kills``: all counted kills, each from the best evidence for its interval
    (see :mod:`rightsize.analysis.usage`): the kernel's ``oom_kill`` counter,
    an imported counter, the engine's ``oom`` events (one per burst), failcnt
    growth, else 1 for a ``State.OOMKilled`` flag with nothing else.
    ``exits``: how many ended the container (a ``die`` within seconds of an
    ``oom``); the rest hit a child process while the container kept running.
    """

    kills: int = 0
    exits: int = 0
    from_events: int = 0
    from_failcnt: int = 0
    from_state: int = 0
    from_kernel: int = 0
    from_counter: int = 0

    @property
    def children(self) -> int:
        return max(self.kills - self.exits, 0)

    @property
    def evidence(self) -> list[str]:
        """What the count rests on, strongest first (``kernel``, ``counter``, ``events``,
        ``failcnt``, ``state``)."""
        parts = (
            ("kernel", self.from_kernel),
            ("counter", self.from_counter),
            ("events", self.from_events),
            ("failcnt", self.from_failcnt),
            ("state", self.from_state),
        )
        return [name for name, n in parts if n]

    @property
    def evidence_text(self) -> str:
        """The evidence in words, for messages."""
        words = {
            "kernel": "the kernel's oom_kill counter",
            "counter": "the imported oom_kills_total",
            "events": "engine oom events, one per burst",
            "failcnt": "memory failcnt growth",
            "state": "State.OOMKilled",
        }
        return ", ".join(words[e] for e in self.evidence)


def _ratio(x: float) -> str:
    return f"{x:.0f}{TIMES}" if x >= 10 else f"{x:.1f}{TIMES}"


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


def _fmt(resource: Resource, value: float) -> str:
    return format_cpu(value) if resource == "cpu" else format_memory(value)


def _above(value: float, cutoff: float | None) -> bool:
    return cutoff is not None and not math.isnan(value) and value >= cutoff


def _graded(
    value: float, info: float | None, warning: float | None, critical: float | None
) -> Severity | None:
    if _above(value, critical):
        return "critical"
    if _above(value, warning):
        return "warning"
    if _above(value, info):
        return "info"
    return None


def _money(resource: Resource, idle: float, prices: Prices) -> tuple[str, float | None]:
    if resource == "cpu" and prices.cpu_per_core_hour is not None:
        cost = idle * prices.cpu_per_core_hour * prices.hours_per_month
    elif resource == "memory" and prices.memory_per_gib_hour is not None:
        cost = idle / GiB * prices.memory_per_gib_hour * prices.hours_per_month
    else:
        return "", None
    return f", about {cost:,.2f} per month", cost


def _oom_killed(oom: OomKills, declared: Declared, memory: ResourceStats) -> Finding:
    limit = (
        f"memory limit {format_memory(declared.memory_limit)}"
        if declared.memory_limit
        else "no memory limit"
    )
    peak = f", peak working set {format_memory(memory.max)}" if memory.known else ""
    n = oom.kills
    plural = "kill" if n == 1 else "kills"
    if oom.evidence == ["state"]:
        what = "the engine reports the container was OOM-killed (State.OOMKilled)"
    elif oom.evidence == ["failcnt"]:
        what = f"memory failcnt grew by {n}: {n} OOM {plural}"
    elif oom.exits == 0:
        what = f"{n} OOM {plural} of a child process while the container kept running"
    elif oom.children == 0:
        what = f"{n} OOM {plural}; each ended the container (exit 137)"
    else:
        what = (
            f"{n} OOM {plural}: {oom.exits} ended the container, "
            f"{oom.children} hit a child process while it kept running"
        )
    return Finding(
        "oom_killed",
        "critical",
        "memory",
        f"{what} ({limit}{peak})",
        {"kills": float(n), "exits": float(oom.exits)},
    )


def _oom_risk(
    declared: Declared, memory: ResourceStats, share_above: float, t: Thresholds
) -> Finding | None:
    limit = declared.memory_limit
    if not limit or not memory.known:
        return None
    peak, p99 = memory.max / limit, memory.p99 / limit
    severity: Severity | None = None
    if _above(p99, t.oom_risk_critical):
        severity = "critical"
    elif _above(peak, t.oom_risk_warning) or _above(share_above, t.oom_risk_share_warning):
        severity = "warning"
    elif _above(peak, t.oom_risk_info):
        severity = "info"
    if severity is None:
        return None
    msg = (
        f"memory working set peaked at {format_memory(memory.max)}, {_pct(peak)} of the "
        f"{format_memory(limit)} limit (p99 {format_memory(memory.p99)}, {_pct(p99)}); "
        f"above {_pct(t.oom_risk_high_water)} of the limit in {_pct(share_above)} of samples"
    )
    return Finding(
        "oom_risk",
        severity,
        "memory",
        msg,
        {"peak_ratio": peak, "p99_ratio": p99, "share_above": share_above},
    )


def _cpu_throttled(
    declared: Declared, cpu: ResourceStats, throttling: Throttling, t: Thresholds
) -> Finding | None:
    if throttling.periods < t.cpu_throttled_min_periods:
        return None
    share = throttling.share
    severity = _graded(
        share, t.cpu_throttled_info, t.cpu_throttled_warning, t.cpu_throttled_critical
    )
    if severity is None:
        return None
    msg = (
        f"CPU throttled in {_pct(share)} of CFS periods ({throttling.throttled_periods:,} of "
        f"{throttling.periods:,}), "
        f"{format_duration(throttling.throttled_seconds)} throttled in total"
    )
    if declared.cpu_limit and cpu.known:
        msg += (
            f"; p95 usage {format_cpu(cpu.p95)} is {_pct(cpu.p95 / declared.cpu_limit)} "
            f"of the {format_cpu(declared.cpu_limit)} limit"
        )
    return Finding(
        "cpu_throttled",
        severity,
        "cpu",
        msg,
        {"share": share, "throttled_seconds": throttling.throttled_seconds},
    )


def _recommended(rec: Recommendation | None, resource: Resource) -> float | None:
    """The recommended request of ``resource`` when ``rec`` sized the workload."""
    if rec is None or not rec.sized:
        return None
    value = rec.cpu_request if resource == "cpu" else rec.memory_request
    return None if value is None else float(value)


def _under_request(
    resource: Resource,
    request: float | None,
    stats: ResourceStats,
    t: Thresholds,
    rec: Recommendation | None = None,
) -> Finding | None:
    if not request or not stats.known:
        return None
    new = _recommended(rec, resource)
    if new is not None and new <= request:
        return None  # the recommendation does not raise it: no contradiction
    minimum = t.under_request_min_cpu if resource == "cpu" else t.under_request_min_memory
    ratio = stats.p95 / request
    if stats.p95 - request < minimum:
        return None
    severity = _graded(ratio, None, t.under_request_warning, t.under_request_critical)
    if severity is None or ratio <= 1.0:
        return None
    noun = "CPU p95 usage" if resource == "cpu" else "memory p95 working set"
    msg = (
        f"{noun} {_fmt(resource, stats.p95)} is above the request of {_fmt(resource, request)} "
        f"({_ratio(ratio)}); the scheduler packs this workload too tightly"
    )
    if new is not None:
        msg += f"; recommended request {_fmt(resource, new)}"
    return Finding("under_request", severity, resource, msg, {"ratio": ratio})


def _over_request(
    resource: Resource,
    request: float | None,
    stats: ResourceStats,
    t: Thresholds,
    rec: Recommendation | None = None,
) -> Finding | None:
    if not request or not stats.known:
        return None
    new = _recommended(rec, resource)
    if new is not None and new >= request:
        return None  # the recommendation keeps or raises it: no contradiction
    used = stats.p95 if resource == "cpu" else stats.max
    idle = request - used
    minimum = t.over_request_min_cpu if resource == "cpu" else t.over_request_min_memory
    if idle < minimum or request < t.over_request_ratio * used:
        return None
    if resource == "cpu":
        severity = _graded(idle, 0.0, t.over_request_warning_cpu, t.over_request_critical_cpu)
        stat = f"the p95 usage of {format_cpu(used)}"
        idle_text = (
            f"{idle:.2f}".rstrip("0").rstrip(".") + " cores idle"
            if idle >= 1
            else f"{format_cpu(idle)} idle"
        )
        head = f"CPU request {format_cpu(request)}"
    else:
        severity = _graded(idle, 0.0, t.over_request_warning_memory, t.over_request_critical_memory)
        stat = f"the peak working set of {format_memory(used)}"
        idle_text = f"{format_memory(idle)} idle"
        head = f"memory request {format_memory(request)}"
    times = f"{_ratio(request / used)} " if used > 0 else "far above "
    money, cost = _money(resource, idle, t.prices)
    msg = f"{head} is {times}{stat}; {idle_text}{money}"
    if new is not None:
        msg += f"; recommended request {_fmt(resource, new)}"
    details = {"idle": idle, "ratio": request / used if used > 0 else math.inf}
    if cost is not None:
        details["cost_per_month"] = cost
    return Finding("over_request", severity or "info", resource, msg, details)


def _undeclared(
    declared: Declared, cpu: ResourceStats, memory: ResourceStats, t: Thresholds
) -> list[Finding]:
    out: list[Finding] = []
    used_cpu = f" (p95 usage {format_cpu(cpu.p95)})" if cpu.known else ""
    used_mem = f" (peak working set {format_memory(memory.max)})" if memory.known else ""
    if declared.cpu_limit is None:
        out.append(
            Finding(
                "no_limit",
                t.no_limit_cpu_severity,
                "cpu",
                f"no CPU limit declared: CPU use is unbounded{used_cpu}",
            )
        )
    if declared.memory_limit is None:
        out.append(
            Finding(
                "no_limit",
                t.no_limit_memory_severity,
                "memory",
                f"no memory limit declared: memory use is unbounded and can "
                f"exhaust the host{used_mem}",
            )
        )
    if declared.cpu_request is None:
        out.append(
            Finding(
                "no_request",
                t.no_request_cpu_severity,
                "cpu",
                f"no CPU request declared: no guaranteed share under contention{used_cpu}",
            )
        )
    if declared.memory_request is None:
        out.append(
            Finding(
                "no_request",
                t.no_request_memory_severity,
                "memory",
                f"no memory request declared: first to be reclaimed or "
                f"evicted under memory pressure{used_mem}",
            )
        )
    return out


INSUFFICIENT_PREFIX = "insufficient data: "


def _insufficient(
    samples: int,
    span: float,
    cpu: ResourceStats,
    t: Thresholds,
    rec: Recommendation | None = None,
) -> Finding | None:
    """No recommendation could be made, and why (the strategy's reason when it has one)."""
    if rec is not None:
        if rec.sized:
            return None
        reason = next(
            (n[len(INSUFFICIENT_PREFIX) :] for n in rec.notes if n.startswith(INSUFFICIENT_PREFIX)),
            None,
        ) or data_shortfall(samples, span, t.min_samples, t.min_duration)
        reason = reason or "the strategy could not size it"
    else:
        reason = data_shortfall(samples, span, t.min_samples, t.min_duration)
        if reason is None and samples and not cpu.known:
            reason = "no CPU interval could be measured"
    if reason is None:
        return None
    msg = f"not enough data for a recommendation: {reason}"
    if rec is not None and rec.lower_bound:
        msg += "; the values shown are lower bounds from what was observed"
    return Finding(
        "insufficient_data",
        "info",
        None,
        msg,
        {"samples": float(samples), "span": span},
    )


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then in product.md's order of kinds, CPU before memory."""
    return sorted(
        findings,
        key=lambda f: (
            severity_rank(f.severity),
            kind_rank(f.kind),
            f.resource or "",
        ),
    )


def worst_severity(findings: list[Finding] | tuple[Finding, ...]) -> Severity | None:
    """The most severe severity among ``findings`` (None when there are none)."""
    return min((f.severity for f in findings), key=severity_rank, default=None)


def workload_findings(
    *,
    declared: Declared,
    cpu: ResourceStats,
    memory: ResourceStats,
    throttling: Throttling,
    oom: OomKills,
    memory_share_above: float,
    samples: int,
    span: float,
    thresholds: Thresholds,
    recommendation: Recommendation | None = None,
) -> list[Finding]:
    """Every finding for one workload, sorted most severe first.

    ``memory_share_above``: share of memory samples above
    ``thresholds.oom_risk_high_water`` x the memory limit; ``samples``: sample
    rows; ``span``: seconds from the first to the last sample;
    ``recommendation``: the workload's recommendation, which request findings
    must agree with (see the module docstring).
    """
    rec = recommendation
    t = thresholds
    out: list[Finding | None] = []
    if oom.kills:
        out.append(_oom_killed(oom, declared, memory))
    out.append(_oom_risk(declared, memory, memory_share_above, t))
    out.append(_cpu_throttled(declared, cpu, throttling, t))
    out.append(_under_request("cpu", declared.cpu_request, cpu, t, rec))
    out.append(_under_request("memory", declared.memory_request, memory, t, rec))
    out.append(_over_request("cpu", declared.cpu_request, cpu, t, rec))
    out.append(_over_request("memory", declared.memory_request, memory, t, rec))
    out.extend(_undeclared(declared, cpu, memory, t))
    out.append(_insufficient(samples, span, cpu, t, rec))
    return sort_findings([f for f in out if f is not None])
