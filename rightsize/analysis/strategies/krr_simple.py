"""Robusta KRR's ``simple`` strategy with its defaults, as a reference anchor.

CPU request = p95 of CPU usage (KRR takes a per-pod ``quantile_over_time(0.95)``
then the max across pods; over pooled history we take the p95 of the pooled
samples, linear interpolation as Prometheus does); no CPU limit. Memory request
= limit = max working set x 1.15. Floors 10m CPU and 100 MiB memory (KRR's
``memory_min_value`` of 100 "MB" is multiplied by 1024**2), rounded up to 1m /
1 MiB. Only the last 14 days (KRR's ``history_duration`` of 336 h) count.
Fewer than 100 points gives no recommendation (KRR's "?").
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rightsize.analysis.strategies._common import MIB, finish, insufficient
from rightsize.analysis.strategies.base import History, StrategySpec
from rightsize.model import Recommendation

DEFAULTS: dict[str, float] = {
    "history_hours": 336.0,
    "cpu_percentile": 95.0,
    "memory_buffer_percentage": 15.0,
    "points_required": 100.0,
    "cpu_min_cores": 0.010,
    "memory_min_bytes": 100.0 * MIB,
}


def recommend(history: History, params: Mapping[str, float]) -> Recommendation:
    """KRR ``simple``: p95 CPU request, no CPU limit, memory = max x 1.15."""
    recent = history.ts > (
        history.ts[-1] - params["history_hours"] * 3600 if history.ts.size else 0
    )
    cpu = history.cpu[recent & np.isfinite(history.cpu)]
    mem = history.memory[recent & np.isfinite(history.memory)]
    need = int(params["points_required"])
    if min(cpu.size, mem.size) < need:
        return insufficient(f"{min(cpu.size, mem.size)} points, KRR needs {need}")
    cpu_req = max(float(np.percentile(cpu, params["cpu_percentile"])), params["cpu_min_cores"])
    mem_val = float(mem.max()) * (1 + params["memory_buffer_percentage"] / 100)
    mem_val = max(mem_val, params["memory_min_bytes"])
    notes = [
        f"CPU request = p{params['cpu_percentile']:g} of {cpu.size} samples "
        f"(last {params['history_hours']:g} h); no CPU limit",
        f"memory = max working set + {params['memory_buffer_percentage']:g}%",
    ]
    return finish(cpu_req, None, mem_val, mem_val, 1.0, notes)


SPEC = StrategySpec(
    name="krr-simple",
    func=recommend,
    defaults=DEFAULTS,
    summary="Robusta KRR 'simple': CPU p95, no CPU limit, memory max x 1.15 (reference)",
)
