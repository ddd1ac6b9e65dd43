"""Text renderers of an :class:`~rightsize.analysis.result.AnalysisResult`.

- :func:`to_json`: the ``rightsize/v1`` document. Values pass through
  untouched; control and bidirectional characters are written as JSON
  ``\\uXXXX`` escapes (:func:`~rightsize.render.terminal.json_safe`), so the
  text is safe to print and decodes to the exact value.
- :func:`to_csv`: one row per workload x resource, raw units (cores, bytes);
  cells that a spreadsheet would run as a formula are prefixed with ``'``.
- :func:`to_markdown`: summary counts and a table, for PR comments and
  ``$GITHUB_STEP_SUMMARY``; untrusted strings have ``|``, Markdown and HTML
  characters escaped.
- :func:`to_table`: aligned plain text for terminals, Kubernetes quantities.

In the table, CSV and Markdown, control and bidirectional characters of
untrusted strings are made visible (``\\x1b``, ``\\u202e``), not sent
(:func:`~rightsize.render.terminal.term_safe`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import TYPE_CHECKING, Any

from rightsize.model import SEVERITIES
from rightsize.render.terminal import json_safe, term_safe
from rightsize.units import format_cpu, format_memory

if TYPE_CHECKING:
    from rightsize.analysis.result import AnalysisResult, WorkloadResult

__all__ = ["CSV_COLUMNS", "md_escape", "term_safe", "to_csv", "to_json", "to_markdown", "to_table"]

CSV_COLUMNS = (
    "workload",
    "resource",
    "request",
    "limit",
    "p50",
    "p95",
    "max",
    "recommended_request",
    "recommended_limit",
    "worst_severity",
    "findings",
)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value


def to_json(result: AnalysisResult, *, indent: int | None = 2) -> str:
    """The ``rightsize/v1`` JSON document (strict JSON: no NaN, UTF-8 kept, controls escaped)."""
    text = json.dumps(
        _nan_to_none(result.to_dict()), indent=indent, ensure_ascii=False, allow_nan=False
    )
    return json_safe(text) + "\n"


# ------------------------------------------------------------------------ CSV

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        value = term_safe(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, float):
        return repr(round(value, 6)) if not value.is_integer() else str(int(value))
    return value


def to_csv(result: AnalysisResult) -> str:
    """One row per workload x resource (cores / bytes), header first."""
    frame = result.workloads
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in frame[list(CSV_COLUMNS)].itertuples(index=False):
        writer.writerow([_csv_cell(v) for v in row])
    return buf.getvalue()


# ------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: str) -> str:
    """Escape a string for a Markdown table cell (no HTML, no formatting, no ``|``).

    Line breaks become spaces; other control and bidirectional characters are
    made visible (:func:`term_safe`).
    """
    text = (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
    text = term_safe(re.sub(r"[\r\n]+", " ", text))
    return _MD_SPECIAL.sub(r"\\\1", text)


def _labels_text(w: WorkloadResult, limit: int = 6) -> str:
    items = sorted(w.display_labels.items())
    parts = [f"{k}={v}" for k, v in items[:limit]]
    if len(items) > limit:
        parts.append(f"… +{len(items) - limit}")
    return ", ".join(parts)


def _cpu_pair(a: float | None, b: float | None) -> str:
    return f"{format_cpu(a)} / {format_cpu(b)}"


def _mem_pair(a: float | None, b: float | None) -> str:
    return f"{format_memory(a)} / {format_memory(b)}"


def _rec_pair(w: WorkloadResult, resource: str) -> str:
    """Recommended request / limit; a lower bound as ``≥ 196Mi`` with ``=`` for "keep"."""
    rec = w.recommendation
    if rec is None:
        return "-"
    fmt = format_cpu if resource == "cpu" else format_memory
    values = (getattr(rec, f"{resource}_request"), getattr(rec, f"{resource}_limit"))
    if rec.lower_bound:
        return " / ".join("=" if v is None else f"\u2265{fmt(v)}" for v in values)
    return " / ".join(fmt(v) for v in values)


def _row(w: WorkloadResult) -> list[str]:
    d = w.declared
    return [
        _cpu_pair(d.cpu_request, d.cpu_limit),
        format_cpu(w.cpu.p95 if w.cpu.known else None),
        _rec_pair(w, "cpu"),
        _mem_pair(d.memory_request, d.memory_limit),
        format_memory(w.memory.max if w.memory.known else None),
        _rec_pair(w, "memory"),
        w.worst_severity or "-",
    ]


_HEADERS = (
    "CPU req/lim",
    "CPU p95",
    "CPU rec",
    "mem req/lim",
    "mem max",
    "mem rec",
    "worst",
)


def to_markdown(result: AnalysisResult) -> str:
    """Summary counts by severity, a table per workload, then every finding."""
    counts = result.counts
    lines = [
        f"## rightsize: {len(result)} workload{'s' if len(result) != 1 else ''}",
        "",
        "| severity | findings |",
        "|---|---:|",
        *(f"| {s} | {counts[s]} |" for s in SEVERITIES),
        "",
        "| workload | labels | " + " | ".join(_HEADERS) + " | findings |",
        "|---|---|" + "---|" * len(_HEADERS) + "---|",
    ]
    for w in result:
        kinds = ", ".join(sorted({f.kind for f in w.findings}))
        cells = [md_escape(w.name), md_escape(_labels_text(w)), *_row(w), kinds]
        lines.append("| " + " | ".join(cells) + " |")
    findings = [(w, f) for w in result for f in w.findings if f.severity != "info"]
    if findings:
        lines += ["", "### Findings", ""]
        for w, f in findings:
            resource = f" ({f.resource})" if f.resource else ""
            lines.append(
                f"- **{f.severity}** `{f.kind}`{resource} {md_escape(w.name)}: "
                f"{md_escape(f.message)}"
            )
    change = result.total_savings.text()
    if change:
        lines += ["", f"Change in requests: {md_escape(change)}."]
    strategy = md_escape(result.strategy)
    lines += [
        "",
        f"Strategy: {strategy}. \u2265 marks a lower bound (= keeps the declared value). "
        "Info findings are in the JSON and HTML reports.",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------- plain text

def to_table(result: AnalysisResult) -> str:
    """Aligned columns for a terminal, then the non-info findings, one per line."""
    headers = ("WORKLOAD", *(h.upper() for h in _HEADERS), "FINDINGS")
    rows = [
        [term_safe(w.name), *_row(w), ",".join(sorted({f.kind for f in w.findings})) or "-"]
        for w in result
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    numeric = set(range(1, len(headers) - 2))

    def fmt(cells: list[str] | tuple[str, ...]) -> str:
        out = [
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    lines = [fmt(headers), *(fmt(r) for r in rows)]
    counts = result.counts
    lines.append("")
    lines.append(f"{len(result)} workloads: " + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES))
    change = result.total_savings.text()
    if change:
        lines.append(f"Change in requests: {change}")
    for w in result:
        for f in w.findings:
            if f.severity == "info":
                continue
            resource = f"/{f.resource}" if f.resource else ""
            lines.append(
                f"  {f.severity.upper():8} {term_safe(w.name)}: {f.kind}{resource}: "
                f"{term_safe(f.message)}"
            )
    return "\n".join(lines) + "\n"
