"""The Guaranteed and Burstable ways to apply a recommendation.

Goldilocks shows two tables per container: Guaranteed QoS (request = limit =
VPA's target) and Burstable QoS (request = lower bound, limit = upper bound).
A CPU limit at a typical-usage target throttles every interval busier than
typical, so the Guaranteed option here is sized for the bursts instead:

Burstable
    The recommendation as the strategy made it: its requests, its memory
    limit and its CPU limit (none by default, so bursts use idle node CPU).
    If those values are Guaranteed-shaped, the CPU limit is dropped to keep
    the pod Burstable.
Guaranteed
    Every request equal to its limit. Memory: the larger of the recommended
    memory request and limit. CPU: the largest of the recommended CPU request,
    the recommended CPU limit and the workload's p99 CPU usage plus
    `GUARANTEED_CPU_MARGIN`, so the quota bites in at most about 1 % of
    the sampled intervals (bursts shorter than the sampling interval can still be
    throttled). It reserves more CPU than the Burstable option; it buys
    eviction last under node pressure and, with whole cores and the kubelet's
    static CPU manager policy, exclusive CPUs.

Options exist only where the strategy sized the workload (not for
insufficient data).
"""

from __future__ import annotations

import dataclasses
import math

from rightsize.analysis.workloads import ResourceStats
from rightsize.model import QosOption, Recommendation, qos_class
from rightsize.units import format_cpu, format_memory, round_cpu_up, round_memory_up

#: headroom over the p99 of CPU usage for the Guaranteed option's request = limit
GUARANTEED_CPU_MARGIN = 0.1


def qos_options(rec: Recommendation, cpu: ResourceStats) -> tuple[QosOption, ...]:
    """(Guaranteed, Burstable) options for ``rec``, given the workload's CPU statistics."""
    if rec.cpu_request is None or rec.memory_request is None:
        return ()
    mem_limit = rec.memory_limit
    # Burstable: the strategy's values, minus the CPU limit if they would be Guaranteed
    b_cpu_limit = rec.cpu_limit
    if qos_class(rec.cpu_request, b_cpu_limit, rec.memory_request, mem_limit) == "Guaranteed":
        b_cpu_limit = None
    b_note = (
        "requests as recommended; "
        + (
            "no CPU limit: bursts use idle node CPU"
            if b_cpu_limit is None
            else f"CPU limit {format_cpu(b_cpu_limit)}"
        )
        + (
            f"; memory limit {format_memory(mem_limit)}"
            if mem_limit is not None
            else "; no memory limit"
        )
    )
    burstable = QosOption(
        "Burstable", rec.cpu_request, b_cpu_limit, rec.memory_request, mem_limit, b_note
    )
    # Guaranteed: request = limit, CPU sized for the p99 interval
    p99 = cpu.p99 if math.isfinite(cpu.p99) else 0.0
    burst = round_cpu_up(p99 * (1 + GUARANTEED_CPU_MARGIN))
    g_cpu = max(rec.cpu_request, rec.cpu_limit or 0.0, burst)
    g_mem = round_memory_up(max(rec.memory_request, mem_limit or 0))
    extra = g_cpu - rec.cpu_request
    g_note = (
        f"request = limit; CPU {format_cpu(g_cpu)} covers the p99 of usage "
        f"({format_cpu(p99)}) +{GUARANTEED_CPU_MARGIN:.0%}, so the quota throttles at most "
        "about 1 % of the sampled intervals"
        + (f" ({format_cpu(extra)} more CPU reserved than Burstable)" if extra > 0 else "")
    )
    guaranteed = QosOption("Guaranteed", g_cpu, g_cpu, g_mem, g_mem, g_note)
    return guaranteed, burstable


def with_qos_options(rec: Recommendation, cpu: ResourceStats) -> Recommendation:
    """``rec`` with its :func:`qos_options` attached."""
    return dataclasses.replace(rec, options=qos_options(rec, cpu))
