"""Small dataclasses shared by every layer: declared values, findings, recommendations."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["critical", "warning", "info"]
Resource = Literal["cpu", "memory"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")

FINDING_KINDS = (
    "oom_killed",
    "oom_risk",
    "cpu_throttled",
    "under_request",
    "over_request",
    "no_limit",
    "no_request",
    "insufficient_data",
)


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


@dataclass(frozen=True)
class Recommendation:
    """What a strategy recommends for one workload.

    ``cpu_limit`` is ``None`` when the recommendation is to set no CPU limit;
    ``notes`` says why (and explains the confidence).
    """

    cpu_request: float | None
    cpu_limit: float | None
    memory_request: int | None
    memory_limit: int | None
    confidence: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "cpu_request": self.cpu_request,
            "cpu_limit": self.cpu_limit,
            "memory_request": self.memory_request,
            "memory_limit": self.memory_limit,
            "confidence": round(self.confidence, 3),
        }
