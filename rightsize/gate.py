"""The CI gate behind ``rightsize check``: findings → pass or fail.

:func:`evaluate` is a pure function. Each finding of each workload gets one
status:

- ``ignored``: its ``kind`` or ``kind/resource`` is listed in ``ignore``
  (``[check] ignore`` or a matching ``[check.overrides."<pattern>"]``);
- ``below``: its severity is below the workload's ``fail_on``;
- ``accepted``: at or above ``fail_on`` but recorded in the baseline and
  not worse than recorded;
- ``failing``: at or above ``fail_on`` and new (no baseline, or not in it)
  or *worsened*: severity went up, or its magnitude (OOM kills, throttled
  share, peak/limit ratio, usage/request ratio, idle amount) grew by more
  than a small tolerance.

The gate passes when nothing is failing. A baseline is a JSON document keyed
by (workload, kind, resource): :meth:`Baseline.dumps` writes it,
:func:`parse_baseline` reads it. How much a finding may worsen is the
registry's :class:`~rightsize.finding_kinds.Measure`. This module does no
I/O: :func:`rightsize.api.check` reads and writes the files, and
:mod:`rightsize.render.ci` renders JUnit, annotations and the summary.
:func:`exit_code` maps an outcome to 0 or 1.

One piece: the baseline format exists to be compared by :func:`evaluate`,
and the comparison is the baseline's meaning.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from rightsize.errors import EXIT_GATE_FAILED, EXIT_OK, InputError, UsageError
from rightsize.finding_kinds import FINDING_KINDS, KINDS, SEVERITIES, Severity, severity_rank
from rightsize.model import Finding
from rightsize.units import format_cpu, format_memory

if TYPE_CHECKING:
    from rightsize.analysis.result import WorkloadResult

__all__ = [
    "BASELINE_SCHEMA",
    "FAIL_ON",
    "Baseline",
    "BaselineEntry",
    "GateItem",
    "GateOutcome",
    "Override",
    "evaluate",
    "exit_code",
    "magnitude",
    "override_path",
    "parse_baseline",
    "parse_ignore",
]

BASELINE_SCHEMA = "rightsize-baseline/v1"
#: the values ``--fail-on`` and ``fail_on`` accept
FAIL_ON: tuple[Severity, ...] = ("warning", "critical")

Status = Literal["failing", "accepted", "ignored", "below"]
Change = Literal["new", "worsened", "unchanged", "improved"]
Key = tuple[str, str, str | None]


def magnitude(finding: Finding) -> float | None:
    """How bad ``finding`` is, comparable across runs (None when not measured)."""
    kind = KINDS.get(finding.kind)
    measure = None if kind is None else kind.measure
    if measure is None:
        return None
    value = finding.details.get(measure.detail)
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _format_magnitude(kind: str, resource: str | None, value: float) -> str:
    measure = KINDS[kind].measure
    assert measure is not None
    unit = measure.unit
    if unit == "count":
        return f"{value:.0f}"
    if unit == "share":
        return f"{value:.0%}"
    if unit == "amount":
        return format_cpu(value) if resource == "cpu" else format_memory(value)
    return f"{value:.1f}\u00d7"


# ----------------------------------------------------------------- ignore rules


def parse_ignore(entry: str) -> tuple[str, str | None]:
    """``"kind"`` or ``"kind/resource"`` → (kind, resource or None); ValueError if unknown."""
    kind, _, resource = entry.partition("/")
    if kind not in FINDING_KINDS:
        raise ValueError(
            f"unknown finding kind {kind!r}; expected one of {', '.join(FINDING_KINDS)}"
        )
    if "/" in entry and resource not in ("cpu", "memory"):
        raise ValueError(f"unknown resource {resource!r} in {entry!r}; expected cpu or memory")
    return kind, resource or None


def _ignores(entries: Iterable[str], finding: Finding) -> bool:
    for entry in entries:
        kind, resource = parse_ignore(entry)
        if kind == finding.kind and (resource is None or resource == finding.resource):
            return True
    return False


@dataclass(frozen=True)
class Override:
    """``[check.overrides."<pattern>"]``: gate settings for workloads matching ``pattern``.

    ``pattern`` is an fnmatch pattern on the workload name; ``fail_on``
    replaces the global threshold (``--fail-on`` included); ``ignore`` lists
    ``kind`` or ``kind/resource`` entries left out of the gate. When several
    overrides match, the last ``fail_on`` wins and the ignores add up.
    """

    pattern: str
    fail_on: Severity | None = None
    ignore: tuple[str, ...] = ()

    def matches(self, workload: str) -> bool:
        return fnmatch.fnmatchcase(workload, self.pattern)


def override_path(pattern: str) -> str:
    """The config key path of an override: ``check.overrides."lab-*"`` (TOML quoting)."""
    if pattern and all(c.isascii() and (c.isalnum() or c in "-_") for c in pattern):
        return f"check.overrides.{pattern}"
    quoted = pattern.replace("\\", "\\\\").replace('"', '\\"')
    return f'check.overrides."{quoted}"'


# --------------------------------------------------------------------- baseline


@dataclass(frozen=True)
class BaselineEntry:
    """One accepted finding: its key, severity and magnitude when recorded."""

    workload: str
    kind: str
    resource: str | None
    severity: Severity
    magnitude: float | None = None
    message: str = ""

    @property
    def key(self) -> Key:
        return (self.workload, self.kind, self.resource)

    @property
    def check(self) -> str:
        return f"{self.kind}/{self.resource}" if self.resource else self.kind

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "resource": self.resource,
            "severity": self.severity,
            "magnitude": self.magnitude,
            "message": self.message,
        }


def _round(value: float | None) -> float | int | None:
    if value is None:
        return None
    rounded = float(f"{value:.6g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


@dataclass(frozen=True)
class Baseline:
    """Accepted findings by (workload, kind, resource); ``source`` is the file read."""

    entries: Mapping[Key, BaselineEntry]
    source: Path | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, workload: str, finding: Finding) -> BaselineEntry | None:
        return self.entries.get((workload, finding.kind, finding.resource))

    @classmethod
    def from_result(cls, result: Iterable[WorkloadResult]) -> Baseline:
        """Every current finding (all severities), magnitudes rounded to 6 digits."""
        entries: dict[Key, BaselineEntry] = {}
        for w in result:
            for f in w.findings:
                entry = BaselineEntry(
                    w.name, f.kind, f.resource, f.severity, _round(magnitude(f)), f.message
                )
                entries[entry.key] = entry
        return cls(entries)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: ``{"schema": ..., "workloads": {name: [entry, ...]}}``."""
        workloads: dict[str, list[dict[str, Any]]] = {}
        for key in sorted(self.entries, key=lambda k: (k[0], k[1], k[2] or "")):
            workloads.setdefault(key[0], []).append(self.entries[key].to_dict())
        return {"schema": BASELINE_SCHEMA, "workloads": workloads}

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, doc: Any, source: Path | None = None) -> Baseline:
        """Validate a parsed baseline document; errors name the file and the key path."""
        where = f"{source}: " if source is not None else "baseline: "

        def bad(path: str, expected: str, got: Any) -> InputError:
            return InputError(f"{where}{path}: expected {expected}, got {got!r}")

        if not isinstance(doc, dict):
            raise bad("top level", "a JSON object", type(doc).__name__)
        if doc.get("schema") != BASELINE_SCHEMA:
            raise bad("schema", repr(BASELINE_SCHEMA), doc.get("schema"))
        workloads = doc.get("workloads")
        if not isinstance(workloads, dict):
            raise bad("workloads", "an object of workload name → findings", workloads)
        entries: dict[Key, BaselineEntry] = {}
        for name, items in workloads.items():
            base = f"workloads.{json.dumps(name, ensure_ascii=False)}"
            if not isinstance(items, list):
                raise bad(base, "a list of findings", items)
            for i, item in enumerate(items):
                path = f"{base}[{i}]"
                if not isinstance(item, dict):
                    raise bad(path, "an object", item)
                kind, resource = item.get("kind"), item.get("resource")
                severity, mag = item.get("severity"), item.get("magnitude")
                if not isinstance(kind, str) or not kind:
                    raise bad(f"{path}.kind", "a finding kind (string)", kind)
                if resource not in (None, "cpu", "memory"):
                    raise bad(f"{path}.resource", "cpu, memory or null", resource)
                if severity not in SEVERITIES:
                    raise bad(f"{path}.severity", "critical, warning or info", severity)
                if mag is not None and (
                    isinstance(mag, bool)
                    or not isinstance(mag, int | float)
                    or not math.isfinite(mag)
                ):
                    raise bad(f"{path}.magnitude", "a finite number or null", mag)
                message = item.get("message", "")
                entry = BaselineEntry(
                    name,
                    kind,
                    cast("str | None", resource),
                    cast(Severity, severity),
                    None if mag is None else float(mag),
                    message if isinstance(message, str) else "",
                )
                entries[entry.key] = entry
        return cls(entries, source)


def parse_baseline(text: str, source: Path | None = None) -> Baseline:
    """A baseline file's text → :class:`Baseline`; malformed JSON is an :class:`InputError`."""
    where = source if source is not None else "baseline"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}:{exc.lineno}:{exc.colno}: invalid JSON in the baseline: {exc.msg}"
        ) from exc
    return Baseline.from_dict(doc, source)


# --------------------------------------------------------------------- evaluate


@dataclass(frozen=True)
class GateItem:
    """One finding of one workload, as the gate judged it."""

    workload: str
    finding: Finding
    status: Status
    #: compared with the baseline; None without a baseline
    change: Change | None
    #: the ``fail_on`` that applied to this workload
    threshold: Severity
    #: plain language: why this status ("worsened since the baseline: 1 → 3 OOM kills")
    reason: str
    baseline: BaselineEntry | None = None

    @property
    def check(self) -> str:
        """``kind`` or ``kind/resource`` (the JUnit test case and ignore-entry name)."""
        f = self.finding
        return f"{f.kind}/{f.resource}" if f.resource else f.kind

    @property
    def failing(self) -> bool:
        return self.status == "failing"


@dataclass(frozen=True)
class GateOutcome:
    """What :func:`evaluate` concluded: every finding's :class:`GateItem`, and more."""

    fail_on: Severity
    items: tuple[GateItem, ...]
    workloads: tuple[str, ...]
    baseline: Baseline | None = None
    #: baseline entries no longer found (fixed, or the workload is gone)
    resolved: tuple[BaselineEntry, ...] = ()
    #: per workload, the ``fail_on`` that applied (overrides included)
    thresholds: Mapping[str, Severity] = field(default_factory=dict)

    def threshold(self, workload: str) -> Severity:
        return self.thresholds.get(workload, self.fail_on)

    @property
    def passed(self) -> bool:
        return not any(i.failing for i in self.items)

    @property
    def failing(self) -> tuple[GateItem, ...]:
        """The findings that fail the gate, most severe first."""
        items = [i for i in self.items if i.failing]
        return tuple(sorted(items, key=lambda i: severity_rank(i.finding.severity)))

    @property
    def accepted(self) -> tuple[GateItem, ...]:
        """At or above the threshold but accepted by the baseline."""
        return tuple(i for i in self.items if i.status == "accepted")

    @property
    def ignored(self) -> tuple[GateItem, ...]:
        return tuple(i for i in self.items if i.status == "ignored")

    @property
    def new(self) -> tuple[GateItem, ...]:
        """Findings (any severity) new or worsened since the baseline; () without one."""
        return tuple(i for i in self.items if i.change in ("new", "worsened"))

    def for_workload(self, workload: str) -> tuple[GateItem, ...]:
        return tuple(i for i in self.items if i.workload == workload)


def _check_fail_on(value: str, where: str) -> Severity:
    if value not in FAIL_ON:
        raise UsageError(f"{where}: expected warning or critical, got {value!r}")
    return value


def _compare(finding: Finding, entry: BaselineEntry | None) -> tuple[Change, str]:
    if entry is None:
        return "new", "new since the baseline"
    now, then = severity_rank(finding.severity), severity_rank(entry.severity)
    if now < then:
        return "worsened", f"worsened since the baseline: {entry.severity} → {finding.severity}"
    current = magnitude(finding)
    if current is not None and entry.magnitude is not None:
        m = KINDS[finding.kind].measure
        assert m is not None
        tol = max(m.abs_tol, m.rel_tol * abs(entry.magnitude))
        fmt = _format_magnitude
        was, now_s = (
            fmt(finding.kind, finding.resource, entry.magnitude),
            fmt(finding.kind, finding.resource, current),
        )
        what = m.what
        if current > entry.magnitude + tol:
            return "worsened", f"worsened since the baseline: {was} → {now_s}{what}"
        if current < entry.magnitude - tol:
            return "improved", f"accepted by the baseline (improved: {was} → {now_s}{what})"
    if now > then:
        return "improved", f"accepted by the baseline (was {entry.severity})"
    return "unchanged", "accepted by the baseline"


def evaluate(
    result: Iterable[WorkloadResult],
    *,
    fail_on: str = "critical",
    baseline: Baseline | None = None,
    overrides: Sequence[Override] = (),
    ignore: Sequence[str] = (),
) -> GateOutcome:
    """Judge every finding of ``result`` (see the module docstring); no I/O.

    ``fail_on``: ``warning`` or ``critical`` (overridden per workload by a
    matching :class:`Override`); ``ignore``: ``kind`` or ``kind/resource``
    entries ignored for every workload. Raises :class:`UsageError` for an
    unknown ``fail_on`` or ignore entry.
    """
    default = _check_fail_on(fail_on, "--fail-on")
    sources = [("check.ignore", ignore)] + [
        (f"{override_path(o.pattern)}.ignore", o.ignore) for o in overrides
    ]
    for where, entries in sources:
        for text in entries:
            try:
                parse_ignore(text)
            except ValueError as exc:
                raise UsageError(f"{where}: {exc}") from None
    items: list[GateItem] = []
    names: list[str] = []
    thresholds: dict[str, Severity] = {}
    seen: set[Key] = set()
    for w in result:
        names.append(w.name)
        threshold = default
        rules: list[tuple[str, Sequence[str]]] = [("check.ignore", ignore)]
        for o in overrides:
            if o.matches(w.name):
                if o.fail_on is not None:
                    threshold = _check_fail_on(o.fail_on, f"{override_path(o.pattern)}.fail_on")
                rules.append((f"{override_path(o.pattern)}.ignore", o.ignore))
        thresholds[w.name] = threshold
        for f in w.findings:
            seen.add((w.name, f.kind, f.resource))
            entry = baseline.get(w.name, f) if baseline is not None else None
            change: Change | None = None
            compared = ""
            if baseline is not None:
                change, compared = _compare(f, entry)
            rule = next((where for where, entries in rules if _ignores(entries, f)), None)
            status: Status
            if rule is not None:
                status, reason = "ignored", f"ignored by {rule}"
            elif severity_rank(f.severity) > severity_rank(threshold):
                status, reason = "below", f"below the {threshold} threshold"
            elif change in ("unchanged", "improved"):
                status, reason = "accepted", compared
            else:
                status = "failing"
                reason = compared if change is not None else f"at or above {threshold}"
            items.append(GateItem(w.name, f, status, change, threshold, reason, entry))
    resolved: tuple[BaselineEntry, ...] = ()
    if baseline is not None:
        resolved = tuple(e for k, e in baseline.entries.items() if k not in seen)
    return GateOutcome(default, tuple(items), tuple(names), baseline, resolved, thresholds)


def exit_code(outcome: GateOutcome, exit_zero: bool = False) -> int:
    """0 when the gate passed (or ``--exit-zero``), else 1 (``EXIT_GATE_FAILED``)."""
    return EXIT_OK if outcome.passed or exit_zero else EXIT_GATE_FAILED
