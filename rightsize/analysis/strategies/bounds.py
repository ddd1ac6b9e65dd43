"""Lower bounds from certain evidence, for workloads whose history is too short to size.

An observed OOM kill proves the workload needed more memory than it had; a CPU
limit that throttles most CFS periods proves it wanted more CPU than the quota.
Neither needs a long history, so when a strategy returns "insufficient data"
(:attr:`Recommendation.sized` false) :func:`with_evidence_bounds` still gives:

Memory limit (``basis`` ``oom_kill``)
    As the VPA recommender does for an OOM: ``used`` = the larger of the memory
    limit declared and the peak working set seen up to the kill, and the bound
    ``max(used x (1 + OOM_BUMP_RATIO), used + OOM_MIN_BUMP_BYTES)`` (+20 %, at
    least +100 MiB), rounded up to whole MiB and never below the declared request.
CPU limit (``basis`` ``cpu_throttled``)
    When the interval-weighted share of CFS periods throttled is at least
    ``THROTTLED_MOST`` (most periods) under a declared CPU limit:
    ``limit x (1 + THROTTLE_BUMP_RATIO)``, rounded up to whole millicores.

Every other value is None, meaning "keep what is declared". The confidence is
that the workload needs *at least* this much (1.0: the evidence was observed);
it says nothing about how much more it needs, which only more history tells.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rightsize.analysis.strategies._common import MIB
from rightsize.analysis.strategies.base import History
from rightsize.model import Recommendation
from rightsize.units import format_cpu, format_memory, round_cpu_up, round_memory_up

__all__ = [
    "OOM_BUMP_RATIO",
    "OOM_MIN_BUMP_BYTES",
    "THROTTLED_MOST",
    "THROTTLE_BUMP_RATIO",
    "memory_after_oom",
    "throttled_share",
    "with_evidence_bounds",
]

#: relative bump over the memory at an OOM kill (VPA's ``oomBumpUpRatio`` 1.2)
OOM_BUMP_RATIO = 0.2
#: smallest bump over the memory at an OOM kill (VPA's ``oomMinBumpUp`` 100 MiB)
OOM_MIN_BUMP_BYTES = 100 * MIB
#: share of CFS periods throttled from which a CPU limit is known to be too low
THROTTLED_MOST = 0.5
#: relative bump over a CPU limit that throttles most periods
THROTTLE_BUMP_RATIO = 0.2


def memory_after_oom(history: History) -> tuple[int, float] | None:
    """``(bound, used)`` for the OOM kills in ``history`` (None without any).

    ``used`` is the larger of the peak working set up to the last kill and the
    largest memory limit a kill hit (``History.oom_limit``; where none is known,
    the limit declared now).
    """
    known = np.isfinite(history.oom_ts)
    kills = history.oom_ts[known]
    if kills.size == 0:
        return None
    mem = history.memory
    before = mem[(history.ts <= float(kills.max())) & np.isfinite(mem)]
    seen = float(before.max()) if before.size else 0.0
    at_kill = history.oom_limits()[known]
    at_kill = at_kill[np.isfinite(at_kill) & (at_kill > 0)]
    limit = float(at_kill.max()) if at_kill.size else float(history.declared.memory_limit or 0)
    used = max(limit, seen)
    if used <= 0:
        return None
    bound = max(used * (1 + OOM_BUMP_RATIO), used + OOM_MIN_BUMP_BYTES)
    bound = max(bound, float(history.declared.memory_request or 0))
    return round_memory_up(bound), used


def throttled_share(history: History) -> float:
    """Interval-weighted mean share of CFS periods throttled (NaN when unknown)."""
    share = history.throttled
    ok = np.isfinite(share)
    if not ok.any():
        return float("nan")
    w = np.nan_to_num(history.interval[ok], nan=0.0)
    if float(w.sum()) <= 0:
        return float(np.mean(share[ok]))
    return float(np.sum(share[ok] * w) / w.sum())


def with_evidence_bounds(history: History, rec: Recommendation) -> Recommendation:
    """``rec`` when it is sized; else the lower bounds the evidence supports (or ``rec``)."""
    if rec.sized:
        return rec
    notes = list(rec.notes)
    basis: list[str] = []
    memory_limit: int | None = None
    cpu_limit: float | None = None
    oom = memory_after_oom(history)
    if oom is not None:
        memory_limit, used = oom
        kills = int(np.count_nonzero(np.isfinite(history.oom_ts)))
        notes.append(
            f"lower bound: {kills} OOM kill{'s' if kills != 1 else ''} at "
            f"{format_memory(used)}; memory limit at least {format_memory(memory_limit)} "
            f"(+{OOM_BUMP_RATIO:.0%}, at least +{format_memory(OOM_MIN_BUMP_BYTES)})"
        )
        basis.append("oom_kill")
    limit = history.declared.cpu_limit
    share = throttled_share(history)
    if limit and np.isfinite(share) and share >= THROTTLED_MOST:
        cpu_limit = round_cpu_up(limit * (1 + THROTTLE_BUMP_RATIO))
        notes.append(
            f"lower bound: the {format_cpu(limit)} CPU limit throttled {share:.0%} of CFS "
            f"periods; CPU limit at least {format_cpu(cpu_limit)} (+{THROTTLE_BUMP_RATIO:.0%})"
        )
        basis.append("cpu_throttled")
    if not basis:
        return rec
    return dataclasses.replace(
        rec,
        cpu_request=None,
        cpu_limit=cpu_limit,
        memory_request=None,
        memory_limit=memory_limit,
        confidence=1.0,
        notes=tuple(notes),
        basis=tuple(basis),
    )
