"""CI renderers of a gate outcome (:mod:`rightsize.gate`): JUnit XML, GitHub, text.

They return strings; :func:`rightsize.api.check` writes them.

- :func:`to_junit`: JUnit XML like kube-score: one ``<testsuite>`` per
  workload, one ``<testcase>`` per check (``kind/resource``, the registry's
  :data:`~rightsize.finding_kinds.CHECKS`). A failing finding is a
  ``<failure>`` carrying the plain-language message; an ignored check, and
  a usage check of a workload with ``insufficient_data``, is ``<skipped>``;
  everything else passes (with non-failing findings in ``<system-out>``). Built with ``xml.etree``;
  control and bidirectional characters (and anything XML 1.0 cannot carry)
  are made visible (``\\x1b``, ``\\u202e``); TAB, LF and CR are kept.
- :func:`github_annotations`: ``::error`` lines for failing findings,
  ``::warning`` for other warning/critical ones, with GitHub's escaping
  (``%``, CR, LF in the message; also ``:`` and ``,`` in properties); other
  control and bidirectional characters made visible.
- :func:`step_summary`: Markdown for ``$GITHUB_STEP_SUMMARY`` (untrusted strings
  through :func:`~rightsize.render.tabular.md_escape`).
- :func:`to_text`: the verdict for a terminal.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from rightsize.finding_kinds import CHECKS, DECLARATION_KINDS, severity_rank
from rightsize.render.tabular import md_escape, to_markdown
from rightsize.render.terminal import term_safe

if TYPE_CHECKING:
    from rightsize.analysis.result import AnalysisResult, WorkloadResult
    from rightsize.gate import GateItem, GateOutcome

__all__ = ["github_annotations", "step_summary", "to_junit", "to_text"]

def _check_name(kind: str, resource: str | None) -> str:
    return f"{kind}/{resource}" if resource else kind


# ------------------------------------------------------------------------ JUnit

# XML 1.0 allows TAB, LF, CR and everything from U+0020 except surrogates and U+FFFE/F
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with control, bidirectional and XML-invalid characters shown as ``\\xNN``.

    TAB, LF and CR are kept (multi-line failure text); ElementTree escapes ``<``,
    ``&`` and quotes itself.
    """
    text = term_safe(text, keep="\t\n\r")
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items()})


def _describe(item: GateItem) -> str:
    f = item.finding
    return f"{f.severity}: {f.message} ({item.reason})"


def _suite(w: WorkloadResult, outcome: GateOutcome, parent: ET.Element) -> tuple[int, int, int]:
    items = outcome.for_workload(w.name)
    insufficient = next(
        (
            i
            for i in items
            if i.finding.kind == "insufficient_data" and i.status != "ignored" and not i.failing
        ),
        None,
    )
    checks: list[tuple[str, str | None]] = list(CHECKS)
    for i in items:  # kinds outside the catalogue (and failing insufficient_data) get a case
        key = (i.finding.kind, i.finding.resource)
        if key not in checks and (i.finding.kind != "insufficient_data" or i.failing):
            checks.append(key)
    suite = _sub(parent, "testsuite", name=w.name, tests=str(len(checks)), errors="0", time="0")
    threshold = outcome.threshold(w.name)
    props = _sub(suite, "properties")
    _sub(props, "property", name="fail_on", value=threshold)
    for k, v in sorted(w.display_labels.items()):
        _sub(props, "property", name=f"label:{k}", value=v)
    failures = skipped = 0
    for kind, resource in checks:
        mine = [i for i in items if (i.finding.kind, i.finding.resource) == (kind, resource)]
        case = _sub(suite, "testcase", classname=w.name, name=_check_name(kind, resource), time="0")
        failing = [i for i in mine if i.failing]
        ignored = [i for i in mine if i.status == "ignored"]
        if failing:
            failures += 1
            first = failing[0]
            fail = _sub(case, "failure", message=first.finding.message, type=first.finding.severity)
            fail.text = xml_safe(
                "\n".join(f"{i.workload} {i.check}: {_describe(i)}" for i in failing)
            )
        elif ignored:
            skipped += 1
            _sub(case, "skipped", message=ignored[0].reason)
        elif insufficient is not None and kind not in DECLARATION_KINDS:
            skipped += 1
            _sub(case, "skipped", message=f"insufficient data: {insufficient.finding.message}")
        if mine and not failing:
            out = ET.SubElement(case, "system-out")
            out.text = xml_safe("\n".join(_describe(i) for i in mine))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    return len(checks), failures, skipped


def to_junit(result: AnalysisResult, outcome: GateOutcome) -> str:
    """JUnit XML: one test suite per workload, one test case per check."""
    root = ET.Element("testsuites", {"name": "rightsize check"})
    totals = [0, 0, 0]
    for w in result:
        for n, (total, value) in enumerate(zip(totals, _suite(w, outcome, root), strict=True)):
            totals[n] = total + value
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", "0")
    root.set("skipped", str(totals[2]))
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


# ----------------------------------------------------------------------- GitHub


def gh_escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped, other controls made visible."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return term_safe(text)


def gh_escape_property(text: str) -> str:
    """A workflow command's property value: as data, plus ``:`` and ``,``."""
    return gh_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(outcome: GateOutcome) -> list[str]:
    """``::error`` per failing finding, then ``::warning`` per other non-ignored
    warning or critical one (accepted by the baseline, or below ``fail_on``)."""
    lines = []
    others = sorted(
        (
            i
            for i in outcome.items
            if i.status in ("accepted", "below") and i.finding.severity != "info"
        ),
        key=lambda i: severity_rank(i.finding.severity),
    )
    for level, items in (("error", outcome.failing), ("warning", tuple(others))):
        for i in items:
            f = i.finding
            title = f"rightsize {f.severity}: {i.check} in {i.workload}"
            message = f"{i.workload}: {f.message} ({i.reason})"
            lines.append(f"::{level} title={gh_escape_property(title)}::{gh_escape_data(message)}")
    return lines


# --------------------------------------------------------------- summary & text


def _verdict(outcome: GateOutcome) -> str:
    parts = [
        f"{len(outcome.failing)} failing at or above {outcome.fail_on}",
    ]
    if outcome.baseline is not None:
        parts.append(f"{len(outcome.accepted)} accepted by the baseline")
        parts.append(f"{len(outcome.new)} new or worsened")
        parts.append(f"{len(outcome.resolved)} resolved")
    parts.append(f"{len(outcome.ignored)} ignored")
    return ", ".join(parts)


def _md_table(items: tuple[GateItem, ...]) -> list[str]:
    lines = ["| workload | check | severity | why | finding |", "|---|---|---|---|---|"]
    for i in items:
        lines.append(
            f"| {md_escape(i.workload)} | `{i.check}` | {i.finding.severity} | "
            f"{md_escape(i.reason)} | {md_escape(i.finding.message)} |"
        )
    return lines


def _demote(markdown: str) -> str:
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def step_summary(result: AnalysisResult, outcome: GateOutcome) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: verdict, failing findings, then the full table."""
    verdict = "passed" if outcome.passed else "FAILED"
    mark = "\u2705" if outcome.passed else "\u274c"
    lines = [f"## {mark} rightsize check {verdict}", "", _verdict(outcome) + ".", ""]
    if outcome.failing:
        lines += ["### Failing findings", "", *_md_table(outcome.failing), ""]
    if outcome.accepted:
        lines += [
            f"<details><summary>Accepted by the baseline ({len(outcome.accepted)})</summary>",
            "",
            *_md_table(outcome.accepted),
            "",
            "</details>",
            "",
        ]
    if outcome.resolved:
        lines += ["Resolved since the baseline (refresh it with `--write-baseline`):", ""]
        lines += [
            f"- {md_escape(e.workload)}: `{e.check}` ({e.severity})" for e in outcome.resolved
        ]
        lines.append("")
    lines += [
        "<details><summary>All workloads</summary>",
        "",
        _demote(to_markdown(result)),
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def to_text(outcome: GateOutcome) -> str:
    """One line per failing finding, then the verdict (control characters made visible)."""
    lines = [
        f"FAIL {i.finding.severity:8} {term_safe(i.workload)}: {i.check}: "
        f"{term_safe(i.finding.message)} ({term_safe(i.reason)})"
        for i in outcome.failing
    ]
    verdict = "passed" if outcome.passed else "FAILED"
    lines.append(f"rightsize check {verdict}: {_verdict(outcome)}")
    return "\n".join(lines) + "\n"
