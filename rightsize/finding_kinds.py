"""The one registry of finding kinds and severities.

Everything that differs per kind lives here: the order (product.md's table),
the report's title and generic action, the checks each workload's JUnit test
suite lists, whether the kind is about what is declared (so meaningful with
little usage data), and how the gate measures it against a baseline.
Adding a kind touches :mod:`rightsize.analysis.findings` (when it is raised)
and this module only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CHECKS",
    "DECLARATION_KINDS",
    "FINDING_KINDS",
    "KINDS",
    "SEVERITIES",
    "FindingKind",
    "Measure",
    "Resource",
    "Severity",
    "kind_rank",
    "severity_rank",
]

Severity = Literal["critical", "warning", "info"]
Resource = Literal["cpu", "memory"]
#: most severe first
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")


def severity_rank(severity: str) -> int:
    """0 for ``critical``, 1 for ``warning``, 2 for ``info`` (sorts most severe first)."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Measure:
    """How the gate reads a finding's magnitude from ``Finding.details`` and compares it.

    It may grow by ``max(abs_tol, rel_tol * recorded)`` before it counts as
    worsened; ``unit`` says how it is shown, ``what`` what it is a number of.
    """

    detail: str
    abs_tol: float = 0.0
    rel_tol: float = 0.0
    unit: Literal["count", "share", "ratio", "amount"] = "ratio"
    what: str = ""


@dataclass(frozen=True)
class FindingKind:
    """One kind of finding and everything the layers need to know about it.

    ``checks``: the resources of its JUnit test cases (one ``kind/resource``
    case each); ``declaration``: about what is declared, so meaningful however
    little usage data there is; ``measure``: how the gate compares it.
    """

    name: str
    title: str
    action: str
    checks: tuple[Resource, ...] = ()
    declaration: bool = False
    measure: Measure | None = None


_BOTH: tuple[Resource, ...] = ("cpu", "memory")
#: kind → (the report's title, the generic action, the JUnit checks' resources)
_TABLE: dict[str, tuple[str, str, tuple[Resource, ...]]] = {
    "oom_killed": ("Killed for running out of memory",
                   "Raise the memory limit; collect more history for a recommended value.",
                   ("memory",)),
    "oom_risk": ("Running close to its memory limit",
                 "Raise the memory limit before it turns into OOM kills.", ("memory",)),
    "cpu_throttled": ("CPU throttled by its limit",
                      "Raise or drop the CPU limit; set the request from real use.", ("cpu",)),
    "under_request": ("Uses more than it requests",
                      "Raise the request so the scheduler reserves what it really uses.", _BOTH),
    "over_request": ("Requests far more than it uses",
                     "Lower the request: the reserved capacity sits idle.", _BOTH),
    "no_limit": ("No limit declared",
                 "Set a limit so one container cannot exhaust the host.", _BOTH),
    "no_request": ("No request declared",
                   "Set a request so the scheduler knows what to reserve.", _BOTH),
    "insufficient_data": ("Not enough history yet",
                          "Collect longer before trusting the numbers (confidence is low).", ()),
}
#: the gate's measure of each kind that has one (any extra OOM kill is worse)
_MEASURES: dict[str, Measure] = {
    "oom_killed": Measure("kills", unit="count", what=" OOM kills"),
    "oom_risk": Measure("peak_ratio", abs_tol=0.02, unit="share",
                        what=" of the memory limit at peak"),
    "cpu_throttled": Measure("share", abs_tol=0.02, unit="share", what=" of CFS periods throttled"),
    "under_request": Measure("ratio", rel_tol=0.10, unit="ratio", what=" the request"),
    "over_request": Measure("idle", rel_tol=0.10, unit="amount", what=" idle"),
}
_DECLARATION = frozenset({"no_limit", "no_request"})

KINDS: Mapping[str, FindingKind] = {
    name: FindingKind(name, title, action, checks, name in _DECLARATION, _MEASURES.get(name))
    for name, (title, action, checks) in _TABLE.items()
}

#: every kind, in product.md's order
FINDING_KINDS: tuple[str, ...] = tuple(KINDS)
#: the checks every workload's JUnit test suite lists, as (kind, resource)
CHECKS: tuple[tuple[str, Resource], ...] = tuple(
    (k.name, r) for k in KINDS.values() for r in k.checks
)
#: kinds about what is declared (not skipped for insufficient data)
DECLARATION_KINDS = frozenset(k.name for k in KINDS.values() if k.declaration)


def kind_rank(kind: str) -> int:
    """A kind's place in product.md's order (unknown kinds last)."""
    return FINDING_KINDS.index(kind) if kind in KINDS else len(FINDING_KINDS)
