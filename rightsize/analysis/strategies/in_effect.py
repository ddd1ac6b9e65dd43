"""The recommendation in effect, for hysteresis outside the backtest.

Outside the backtest a strategy's ``History.previous`` is what is in effect:
the values declared now, completed with the last recommendation of the report
history (``report.json`` of the newest run, as ``rightsize.render.html`` writes
it) where a value is not declared. So numbers we recommended and the user
applied are kept the next day when the new estimate is close.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rightsize.model import Declared, Recommendation

__all__ = ["in_effect", "last_recommendations"]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def last_recommendations(report_json: Path) -> dict[str, Recommendation]:
    """``{workload: recommendation}`` of a ``report.json``; empty when unreadable."""
    try:
        doc = json.loads(report_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, Recommendation] = {}
    for w in doc.get("workloads", []) if isinstance(doc, dict) else []:
        rec = w.get("recommendation") if isinstance(w, dict) else None
        if not isinstance(rec, dict) or not isinstance(w.get("workload"), str):
            continue
        mr, ml = _number(rec.get("memory_request")), _number(rec.get("memory_limit"))
        out[w["workload"]] = Recommendation(
            _number(rec.get("cpu_request")), _number(rec.get("cpu_limit")),
            None if mr is None else int(mr), None if ml is None else int(ml), 1.0,
        )
    return out


def in_effect(declared: Declared, last: Recommendation | None = None) -> Recommendation | None:
    """The declared values, each missing one taken from ``last``; None unless both
    requests (or a memory limit) are known."""
    def pick(a: float | None, b: float | None) -> float | None:
        return a if a else b

    lr = last or Recommendation(None, None, None, None, 0.0)
    cpu_req = pick(declared.cpu_request, lr.cpu_request)
    mem_lim = pick(declared.memory_limit, lr.memory_limit)
    mem_req = pick(declared.memory_request, lr.memory_request) or mem_lim
    if cpu_req is None or mem_req is None:
        return None
    return Recommendation(
        cpu_req, pick(declared.cpu_limit, lr.cpu_limit), int(mem_req),
        None if mem_lim is None else int(mem_lim), 1.0,
    )


def previous_for(
    name: str, declared: Declared, last: Mapping[str, Recommendation] | None
) -> Recommendation | None:
    """:func:`in_effect` for workload ``name`` with its entry of ``last``."""
    return in_effect(declared, (last or {}).get(name))
