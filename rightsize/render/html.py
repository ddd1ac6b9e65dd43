"""The HTML report: one self-contained page per run, ``report.json``, and the history.

:func:`write_report` writes into ``out_dir``:

- ``rightsize-<UTC timestamp>.html``: the report (CSS, JS and SVG charts
  inlined; no external URL of any kind);
- ``report.json``: the ``rightsize/v1`` document (:func:`to_json`);
- ``latest.html``: a copy of the newest report (not a symlink: it survives
  being copied or served anywhere);
- ``reports-index.json`` + ``index.html``: every past report with its window,
  findings by severity and potential savings, and a trend chart.

Every file is written atomically (a temp file in the same folder, fsync,
``os.replace``; :mod:`rightsize.outputs`): a reader never sees half a report,
and a failure part-way (a full disk) leaves the folder as it was. Templates are Jinja2
package data with autoescape on; untrusted strings (names, labels, images)
only ever reach the page through it (or ``|tojson`` inside the JSON block).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from rightsize import outputs
from rightsize.analysis.savings import Change, change_line, money_line
from rightsize.model import SEVERITIES
from rightsize.render import charts
from rightsize.render.model import SEVERITY_ICON, ChartMode, ReportModel, build_model
from rightsize.render.tabular import to_json
from rightsize.units import format_cpu, format_memory

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rightsize.analysis.result import AnalysisResult
    from rightsize.analysis.strategies.base import History

__all__ = ["INDEX_FILE", "ReportPaths", "render_report", "write_report"]

log = logging.getLogger(__name__)

INDEX_FILE = "reports-index.json"
INDEX_SCHEMA = "rightsize/reports-index/v1"
_REPORT_NAME = re.compile(r"^rightsize-\d{8}T\d{6}Z(?:-\d+)?\.html$")


@dataclass(frozen=True)
class ReportPaths:
    """What :func:`write_report` wrote."""

    html: Path
    json: Path
    latest: Path
    index: Path


def labelled_by(svg: str, caption_id: str) -> Markup:
    """``svg`` (a chart from :mod:`.charts`) named by the element ``caption_id``.

    Adds ``aria-labelledby`` to its ``role="img"`` root unless it already
    has an ``aria-label``; an empty ``svg`` stays empty.
    """
    head, sep, rest = str(svg).partition(">")
    if not sep or "aria-label" in head or 'role="img"' not in head:
        return Markup(svg)  # our own SVG (charts.py builds it from numbers)
    return Markup(head + f' aria-labelledby="{escape(caption_id)}"' + sep + rest)


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("rightsize.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["labelled_by"] = labelled_by
    return env


@cache
def _static(name: str) -> Markup:
    text = resources.files("rightsize.render").joinpath("templates", "static", name).read_text()
    return Markup(text)  # our own file, inlined verbatim


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("rightsize")
    except Exception:  # pragma: no cover - not installed
        return "dev"


def _common() -> dict[str, Any]:
    return {"css": _static("report.css"), "icons": SEVERITY_ICON, "version": _version()}


def render_report(model: ReportModel) -> str:
    """The report page for a built model."""
    data = {
        "schema": "rightsize/report-page/v1",
        "workloads": len(model.workloads),
        "findings": model.summary.findings,
        "generated": model.generated,
    }
    return (
        _env()
        .get_template("report.html.j2")
        .render(m=model, data=data, js=_static("report.js"), **_common())
    )


# ---------------------------------------------------------------- files


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`rightsize.outputs.write_text`."""
    outputs.write_text(path, text, what="the report file")


def _report_name(out_dir: Path, when: datetime) -> str:
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    name, n = f"rightsize-{stamp}.html", 1
    while (out_dir / name).exists():
        n += 1
        name = f"rightsize-{stamp}-{n}.html"
    return name


def _read_index(out_dir: Path) -> list[dict[str, Any]]:
    path = out_dir / INDEX_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return []
    entries = doc.get("reports") if isinstance(doc, dict) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _int(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def _index_rows(entries: list[dict[str, Any]], out_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for e in reversed(entries):
        file = e.get("file")
        link = file if isinstance(file, str) and _REPORT_NAME.match(file) else None
        if link and not (out_dir / link).exists():
            link = None
        window = e.get("window") if isinstance(e.get("window"), dict) else {}
        findings = e.get("findings") if isinstance(e.get("findings"), dict) else {}
        savings = e.get("savings") if isinstance(e.get("savings"), dict) else {}
        # net, freed and added, as the report itself says it (older entries: freed only)
        parts = [
            change_line("CPU", Change(_num(savings.get("cpu")), _num(savings.get("cpu_added"))),
                        format_cpu),
            change_line(
                "memory",
                Change(_num(savings.get("memory")), _num(savings.get("memory_added"))),
                format_memory,
            ),
        ]
        money = savings.get("money_per_month")
        if isinstance(money, int | float) and not isinstance(money, bool):
            parts.append(money_line(Change(money, _num(savings.get("money_added_per_month")))))
        text = "; ".join(p for p in parts if p) or "-"
        rows.append(
            {
                "link": link,
                "generated": str(e.get("generated", "?")),
                "start": str(window.get("start", "-")),
                "end": str(window.get("end", "-")),
                "workloads": _int(e.get("workloads")),
                "counts": [_int(findings.get(s)) for s in SEVERITIES],
                "savings": text,
            }
        )
    return rows


def render_index(entries: list[dict[str, Any]], out_dir: Path) -> str:
    """``index.html`` for the given history entries (oldest first)."""
    rows = _index_rows(entries, out_dir)
    trend = ""
    if len(entries) >= 2:
        styles = {"critical": ("-", "x"), "warning": ("--", "^"), "info": (":", "o")}
        dates = [str(e.get("generated", "")) for e in entries]
        series = [
            (
                s,
                [_int((e.get("findings") or {}).get(s)) for e in entries],
                styles[s][0],
                styles[s][1],
            )
            for s in SEVERITIES
        ]
        trend = charts.trend_chart(dates, series, salt="trend")
    return (
        _env()
        .get_template("index.html.j2")
        .render(entries=rows, trend=Markup(trend), severities=SEVERITIES, **_common())
    )


def write_report(
    result: AnalysisResult,
    out_dir: Path,
    *,
    now: datetime | None = None,
    charts_mode: ChartMode = "auto",
    max_charts: int | None = None,
    chart_histories: Mapping[str, History] | None = None,
) -> ReportPaths:
    """Write the report, ``report.json``, ``latest.html`` and the history into ``out_dir``.

    ``now`` (default: the current time) names the file and dates the
    report. ``charts_mode``/``max_charts``: see :func:`build_model`.
    Creates ``out_dir`` if needed; every file is replaced atomically.
    """
    when = (now or datetime.now(UTC)).astimezone(UTC)
    out_dir = Path(out_dir)
    outputs.make_folder(out_dir, what="the report folder")
    kwargs: dict[str, Any] = {"now": when, "charts_mode": charts_mode,
                              "chart_histories": chart_histories}
    if max_charts is not None:
        kwargs["max_charts"] = max_charts
    model = build_model(result, **kwargs)
    page = render_report(model)

    name = _report_name(out_dir, when)
    paths = ReportPaths(
        html=out_dir / name,
        json=out_dir / "report.json",
        latest=out_dir / "latest.html",
        index=out_dir / "index.html",
    )
    # The new page first (a new name), then the shared files all together: a
    # failure (a full disk) removes the new page and leaves the others as they were.
    atomic_write(paths.html, page)
    try:
        with outputs.Staged() as files:
            files.add_text(paths.json, to_json(result), what="the report file")
            files.add_text(paths.latest, page, what="the report file")
            entries = _read_index(out_dir)
            entries.append({"file": name, **model.index_entry()})
            files.add_text(
                out_dir / INDEX_FILE,
                json.dumps({"schema": INDEX_SCHEMA, "reports": entries}, indent=1,
                           ensure_ascii=False) + "\n",
                what="the report file",
            )
            files.add_text(paths.index, render_index(entries, out_dir), what="the report file")
    except BaseException:
        paths.html.unlink(missing_ok=True)
        raise
    return paths


def prune_reports(out_dir: Path, keep: int) -> list[Path]:
    """Retention: delete all but the newest ``keep`` report pages; returns what was removed.

    The history in ``reports-index.json`` keeps every entry (the trend in
    ``index.html`` survives); pruned reports are listed without a link.
    """
    out_dir = Path(out_dir)
    entries = _read_index(out_dir)
    names = [e["file"] for e in entries
             if isinstance(e.get("file"), str) and _REPORT_NAME.match(e["file"])]
    on_disk = sorted(p.name for p in out_dir.glob("rightsize-*.html") if _REPORT_NAME.match(p.name))
    ordered = [n for n in names if n in on_disk] + [n for n in on_disk if n not in names]
    doomed = ordered[: max(0, len(ordered) - keep)]
    removed = []
    for name in doomed:
        path = out_dir / name
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    if removed:
        atomic_write(out_dir / "index.html", render_index(entries, out_dir))
    return removed
