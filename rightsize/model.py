"""Small dataclasses shared by every layer: declared values, findings, recommendations.

Severities and finding kinds are re-exported from :mod:`rightsize.finding_kinds`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rightsize.finding_kinds import FINDING_KINDS, SEVERITIES, Resource, Severity

__all__ = [
    "FINDING_KINDS",
    "RESOURCE_KEYS",
    "SEVERITIES",
    "Declared",
    "Finding",
    "QosClass",
    "QosOption",
    "Recommendation",
    "Resource",
    "Severity",
    "qos_class",
]

QosClass = Literal["Guaranteed", "Burstable", "BestEffort"]


@dataclass(frozen=True)
class Declared:
    """What a workload asks for: cores and bytes, ``None`` when not declared."""

    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: int | None = None
    memory_limit: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """One problem (or observation) about one workload."""

    kind: str
    severity: Severity
    resource: Resource | None
    message: str
    details: dict[str, float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "resource": self.resource,
            "message": self.message,
        }


RESOURCE_KEYS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")


def _resources(obj: Any) -> dict[str, Any]:
    """The four request/limit values of ``obj`` as a dict (JSON key order)."""
    return {key: getattr(obj, key) for key in RESOURCE_KEYS}


def qos_class(
    cpu_request: float | None,
    cpu_limit: float | None,
    memory_request: float | None,
    memory_limit: float | None,
) -> QosClass:
    """The Kubernetes QoS class these values give a one-container pod.

    Guaranteed: CPU and memory limits set and each request equal to its limit
    (an unset request defaults to the limit). BestEffort: nothing set.
    Burstable: anything else.
    """
    values = (cpu_request, cpu_limit, memory_request, memory_limit)
    if all(v is None or v == 0 for v in values):
        return "BestEffort"
    if cpu_limit and memory_limit:
        cpu_eq = cpu_request is None or cpu_request == cpu_limit
        mem_eq = memory_request is None or memory_request == memory_limit
        if cpu_eq and mem_eq:
            return "Guaranteed"
    return "Burstable"


@dataclass(frozen=True)
class QosOption:
    """One way to apply a recommendation, named by the QoS class it gives the pod."""

    qos: QosClass
    cpu_request: float
    cpu_limit: float | None
    memory_request: int
    memory_limit: int | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {**_resources(self), "note": self.note}


_EPOCH_NOTE = re.compile(r"^OOM kill at [\d.]+: ")


def folded_notes(notes: Sequence[str]) -> list[str]:
    """``notes`` in order, the per-kill OOM lines folded into one with a count
    (``"OOM kill: memory sized above 512Mi (+20%) (\u00d73)"``)."""
    counted = Counter(_EPOCH_NOTE.sub("OOM kill: ", n) for n in notes)
    return [f"{n} (\u00d7{k})" if k > 1 else n for n, k in counted.items()]


@dataclass(frozen=True)
class Recommendation:
    """What a strategy recommends for one workload.

    ``cpu_limit`` is ``None`` when the recommendation is to set no CPU limit;
    ``notes`` says why (and explains the confidence). ``options``: the
    Guaranteed and Burstable ways to apply it (set by the analysis, see
    :mod:`rightsize.analysis.qos`; empty without a recommendation).
    ``basis``: what the values rest on, ``("usage",)`` for a strategy's sizing
    from history; ``"oom_kill"`` / ``"cpu_throttled"`` for a lower bound from
    that evidence alone (see :mod:`rightsize.analysis.strategies.bounds`), where
    a None value means "keep what is declared".
    """

    cpu_request: float | None
    cpu_limit: float | None
    memory_request: int | None
    memory_limit: int | None
    confidence: float
    notes: tuple[str, ...] = ()
    options: tuple[QosOption, ...] = ()
    basis: tuple[str, ...] = ("usage",)

    @property
    def sized(self) -> bool:
        """True when the strategy sized both requests from usage (a full recommendation)."""
        return self.cpu_request is not None and self.memory_request is not None

    @property
    def lower_bound(self) -> bool:
        """True when the values are only a lower bound from observed OOM kills or throttling."""
        return "usage" not in self.basis

    @property
    def qos(self) -> QosClass | None:
        """The QoS class the recommended values give the pod (None: insufficient data)."""
        if self.cpu_request is None and self.memory_request is None:
            return None
        return qos_class(self.cpu_request, self.cpu_limit, self.memory_request, self.memory_limit)

    def to_dict(self) -> dict[str, Any]:
        return {
            **_resources(self),
            "confidence": round(self.confidence, 3),
            "qos": self.qos,
            "qos_options": {o.qos.lower(): o.to_dict() for o in self.options},
            "lower_bound": self.lower_bound,
            "basis": list(self.basis),
            "notes": folded_notes(self.notes),
        }
