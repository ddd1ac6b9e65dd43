"""The HTML report's data model, built once from an :class:`AnalysisResult`.

Plain dataclasses holding what the templates show, already formatted
(Kubernetes quantities, durations, percentages) plus the numeric sort keys
of the workloads table. Templates only lay this out; nothing here is HTML
(strings are escaped by Jinja's autoescape), except the chart SVGs, which
:mod:`rightsize.render.charts` builds from numbers alone.

- :class:`Summary`: window, counts by severity, totals requested vs used vs
  recommended (from the host view: running containers, replicas counted),
  the change in requests -- net, freed and added per resource, and money when
  prices are configured (:mod:`rightsize.analysis.savings`) -- and top problems.
- Actions next to findings point only at numbers the page shows: the
  recommended value when there is one, else what to do without a number.
- :class:`HostView`: the scheduler's view of one host, before and after.
- :class:`WorkloadView`: one workload's row and section; ``charted`` says
  whether it gets full charts (findings above info, up to ``max_charts``,
  or every workload with ``charts="all"``).

One piece: the views are built in one pass over the result and refer to
each other (summary, top problems, anchors, charts); it computes no totals of
its own (savings come from :mod:`rightsize.analysis.savings`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from rightsize.analysis.savings import Savings
from rightsize.finding_kinds import KINDS, SEVERITIES, kind_rank, severity_rank
from rightsize.model import Finding, Recommendation, folded_notes
from rightsize.render import charts
from rightsize.render.fixes import Fixes, fixes_for
from rightsize.units import format_cpu, format_duration, format_memory

if TYPE_CHECKING:
    from rightsize.analysis.hosts import HostSummary
    from rightsize.analysis.result import AnalysisResult, WorkloadResult
    from rightsize.analysis.strategies.base import History

__all__ = [
    "ChartMode",
    "FindingView",
    "HostView",
    "ReportModel",
    "Summary",
    "WorkloadView",
    "build_model",
]

ChartMode = Literal["auto", "all", "none"]
GiB = 2**30
#: default cap on workloads that get full charts (most severe first)
MAX_CHARTS = 10
#: hosts that get a before/after chart (the table covers the rest)
MAX_HOST_CHARTS = 24
TOP_PROBLEMS = 10

#: a workload's severity as the page sorts it: higher is worse, 0 for no finding
PAGE_RANK = {"ok": 0} | {s: len(SEVERITIES) - severity_rank(s) for s in SEVERITIES}
#: icon per severity: a distinct shape, always shown next to the word
SEVERITY_ICON = {"critical": "\u2716", "warning": "\u25b2", "info": "\u2139", "ok": "\u2714"}


@dataclass(frozen=True)
class FindingView:
    severity: str
    icon: str
    kind: str
    title: str
    resource: str
    message: str
    action: str
    workload: str = ""
    anchor: str = ""


@dataclass
class ResourceView:
    """One resource of one workload, formatted, with numeric sort keys."""

    request: str
    limit: str
    p95: str
    peak: str
    rec_request: str
    rec_limit: str
    request_key: float | None
    p95_key: float | None
    peak_key: float | None
    rec_key: float | None
    change: str  # "lower" | "raise" | "same" | ""
    sparkline: str
    chart: str = ""
    chart_alt: str = ""


@dataclass
class WorkloadView:
    index: int
    anchor: str
    name: str
    severity: str
    icon: str
    rank: int
    findings: list[FindingView]
    kinds: str
    cpu: ResourceView
    memory: ResourceView
    confidence: float | None
    confidence_text: str
    notes: list[str]
    containers: list[str]
    images: list[str]
    labels: list[tuple[str, str]]
    hosts: list[str]
    samples: int
    coverage: str
    throttling: str
    oom_kills: int
    oom_evidence: str  # what the count rests on, in words ("" without kills)
    replicas: int
    freed_cpu: float
    freed_memory: float
    savings: str
    qos: list[tuple[str, str, str, str, str, str]]
    fixes: Fixes | None
    charted: bool = False


@dataclass(frozen=True)
class HostView:
    name: str
    containers: int
    cpus: str
    memory: str
    rows: list[tuple[str, str, str, str, str]]  # label, cpu, cpu %, memory, memory %
    chart: str = ""
    chart_alt: str = ""


@dataclass(frozen=True)
class Summary:
    start: str
    end: str
    duration: str
    hosts: int
    workloads: int
    findings: dict[str, int]
    workloads_by_severity: dict[str, int]
    totals: list[tuple[str, str, str, str]]  # label, requested, used, recommended
    freed_cpu: float
    freed_memory: float
    savings_text: str
    money_per_month: float | None
    top: list[FindingView]
    added_cpu: float = 0.0
    added_memory: float = 0.0
    money_added_per_month: float | None = None


@dataclass
class ReportModel:
    generated: str
    strategy: str
    source: str
    summary: Summary
    hosts: list[HostView]
    workloads: list[WorkloadView]
    charted: int
    charts_omitted: int
    prices: bool
    severities: Sequence[str] = field(default_factory=lambda: (*SEVERITIES, "ok"))

    def index_entry(self) -> dict[str, object]:
        """The numbers ``reports-index.json`` keeps for the history page."""
        return {
            "generated": self.generated,
            "window": {"start": self.summary.start, "end": self.summary.end},
            "workloads": self.summary.workloads,
            "findings": dict(self.summary.findings),
            "workloads_by_severity": dict(self.summary.workloads_by_severity),
            "savings": {
                "cpu": round(self.summary.freed_cpu, 3),
                "memory": int(self.summary.freed_memory),
                "money_per_month": None
                if self.summary.money_per_month is None
                else round(self.summary.money_per_month, 2),
                "cpu_added": round(self.summary.added_cpu, 3),
                "memory_added": int(self.summary.added_memory),
                "money_added_per_month": None
                if self.summary.money_added_per_month is None
                else round(self.summary.money_added_per_month, 2),
            },
        }


# ---------------------------------------------------------------- formatting


def iso(ts: float | None) -> str:
    """Unix seconds → ``2026-11-27 07:00:00Z`` ("-" when unknown)."""
    if ts is None or not math.isfinite(ts):
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)


def _gib(nbytes: float) -> str:
    return f"{nbytes / GiB:,.2f} GiB"


def _cores(cores: float) -> str:
    return f"{cores:,.2f} cores"


def _confidence_text(c: float | None, rec: Recommendation | None = None) -> str:
    if c is None:
        return "none: no recommendation"
    if rec is not None and rec.lower_bound:
        return (
            "lower bound only: certain from what was observed, but not enough history "
            "to say how much more is needed"
        )
    level = "high" if c >= 0.7 else "medium" if c >= 0.3 else "low"
    return f"{level} ({c:.0%})"


def _notes(notes: Sequence[str], limit: int = 8) -> list[str]:
    """Notes with repeated per-OOM lines folded into one with a count, at most ``limit``."""
    out = folded_notes(notes)
    if len(out) > limit:
        out = [*out[:limit], f"\u2026 and {len(out) - limit} more"]
    return out


def _change(current: float | None, rec: float | None) -> str:
    if rec is None:
        return ""
    if current is None:
        return "set"
    if math.isclose(current, rec, rel_tol=0.02):
        return "same"
    return "lower" if rec < current else "raise"


def _action(f: Finding, rec: Recommendation | None) -> str:
    """What to do about ``f``, naming a recommended value only when the page shows one."""
    generic = KINDS[f.kind].action if f.kind in KINDS else ""
    if rec is None:
        return generic
    mem_limit = rec.memory_limit
    if f.kind == "oom_killed" and mem_limit is not None:
        word = "at least " if rec.lower_bound else ""
        return f"Raise the memory limit to {word}{format_memory(mem_limit)} (recommended below)."
    if f.kind == "oom_risk" and mem_limit is not None:
        return f"Set the memory limit to the recommended {format_memory(mem_limit)}."
    if f.kind == "cpu_throttled":
        if rec.cpu_limit is not None:
            word = "at least " if rec.lower_bound else ""
            return f"Raise the CPU limit to {word}{format_cpu(rec.cpu_limit)} (recommended below)."
        if rec.sized:
            return (
                f"Drop the CPU limit and request the recommended {format_cpu(rec.cpu_request)}."
            )
    if f.kind in ("under_request", "over_request") and rec.sized:
        value = rec.cpu_request if f.resource == "cpu" else rec.memory_request
        fmt = format_cpu if f.resource == "cpu" else format_memory
        verb = "Raise" if f.kind == "under_request" else "Lower"
        return f"{verb} the request to the recommended {fmt(value)}."
    return generic


def _finding_view(f: Finding, w: WorkloadResult | None = None, anchor: str = "") -> FindingView:
    return FindingView(
        severity=f.severity,
        icon=SEVERITY_ICON[f.severity],
        kind=f.kind,
        title=KINDS[f.kind].title if f.kind in KINDS else f.kind.replace("_", " "),
        resource=f.resource or "",
        message=f.message,
        action=_action(f, None if w is None else w.recommendation),
        workload=w.name if w is not None else "",
        anchor=anchor,
    )


# ---------------------------------------------------------------- workloads


def _resource_view(w: WorkloadResult, resource: str, hist: History | None) -> ResourceView:
    fmt = format_cpu if resource == "cpu" else format_memory
    stats = w.cpu if resource == "cpu" else w.memory
    d, rec = w.declared, w.recommendation
    request = getattr(d, f"{resource}_request")
    limit = getattr(d, f"{resource}_limit")
    rec_request = None if rec is None else getattr(rec, f"{resource}_request")
    rec_limit = None if rec is None else getattr(rec, f"{resource}_limit")
    p95 = stats.p95 if stats.known else None
    peak = stats.max if stats.known else None
    spark = ""
    if hist is not None:
        values = hist.cpu if resource == "cpu" else hist.memory
        spark = charts.sparkline(
            values,
            reference=_num(request),
            label=f"{resource.upper() if resource == 'cpu' else 'memory'} over time: "
            f"peak {fmt(peak)}, request {fmt(request)}",
        )
    return ResourceView(
        request=fmt(request),
        limit=fmt(limit),
        p95=fmt(p95),
        peak=fmt(peak),
        rec_request=_rec_text(rec, rec_request, fmt),
        rec_limit=_rec_text(rec, rec_limit, fmt),
        request_key=_num(request),
        p95_key=_num(p95),
        peak_key=_num(peak),
        rec_key=_num(rec_request),
        change=_change(_num(request), _num(rec_request)),
        sparkline=spark,
    )


def _money(result: AnalysisResult, cores: float, nbytes: float) -> float | None:
    p = result.thresholds.prices
    if not p.configured:
        return None
    total = 0.0
    if p.cpu_per_core_hour is not None:
        total += cores * p.cpu_per_core_hour * p.hours_per_month
    if p.memory_per_gib_hour is not None:
        total += nbytes / GiB * p.memory_per_gib_hour * p.hours_per_month
    return total


def _rec_text(rec: Recommendation | None, value: float | None, fmt: Any) -> str:
    """A recommended value as shown: ``≥ 196Mi`` for a lower bound, ``unchanged`` for None there."""
    if rec is None:
        return "-"
    if rec.lower_bound:
        return f"\u2265 {fmt(value)}" if value is not None else "unchanged"
    return str(fmt(value))


def _workload_view(
    i: int, w: WorkloadResult, result: AnalysisResult, saved: Savings
) -> WorkloadView:
    anchor = f"w-{i}"
    hist = result.histories.get(w.name)
    severity = w.worst_severity or "ok"
    rec = w.recommendation
    thr = w.throttling
    throttling = (
        f"{thr.share:.0%} of {thr.periods:,} CFS periods throttled, "
        f"{format_duration(thr.throttled_seconds)} in total"
        if thr.periods
        else "no CPU quota periods observed"
    )
    return WorkloadView(
        index=i,
        anchor=anchor,
        name=w.name,
        severity=severity,
        icon=SEVERITY_ICON[severity],
        rank=PAGE_RANK[severity],
        findings=[_finding_view(f, w) for f in w.findings],
        kinds=", ".join(sorted({f.kind for f in w.findings if f.severity != "info"}))
        or ", ".join(sorted({f.kind for f in w.findings})),
        cpu=_resource_view(w, "cpu", hist),
        memory=_resource_view(w, "memory", hist),
        confidence=None if rec is None else rec.confidence,
        confidence_text=_confidence_text(None if rec is None else rec.confidence, rec),
        notes=[] if rec is None else _notes(rec.notes),
        containers=sorted({n for n in w.container_names if n}) or [c[:12] for c in w.containers],
        images=list(w.images),
        labels=sorted(w.display_labels.items()),
        hosts=list(w.hosts),
        samples=w.samples,
        coverage=f"{iso(w.start)} to {iso(w.end)} ({format_duration(max(w.end - w.start, 0.0))}"
        f", {w.cpu.gaps} gap{'s' if w.cpu.gaps != 1 else ''})",
        throttling=throttling,
        oom_kills=w.oom_kills,
        oom_evidence=w.oom.evidence_text,
        replicas=saved.replicas,
        freed_cpu=saved.cpu.freed,
        freed_memory=saved.memory.freed,
        savings=saved.text(),
        fixes=fixes_for(w),
        qos=_qos_rows(rec),
    )


def _qos_rows(rec: Recommendation | None) -> list[tuple[str, str, str, str, str, str]]:
    """(class, CPU request, CPU limit, memory request, memory limit, note) per QoS option."""
    if rec is None:
        return []
    return [
        (
            o.qos,
            format_cpu(o.cpu_request),
            format_cpu(o.cpu_limit) if o.cpu_limit is not None else "none",
            format_memory(o.memory_request),
            format_memory(o.memory_limit) if o.memory_limit is not None else "none",
            o.note + (" (the recommendation above)" if o.qos == rec.qos else ""),
        )
        for o in rec.options
    ]


def _impact(v: WorkloadView) -> tuple[int, int, float]:
    return (v.rank, v.oom_kills, v.freed_cpu + v.freed_memory / GiB)


def _add_charts(v: WorkloadView, w: WorkloadResult, hist: History) -> None:
    rec = w.recommendation
    for resource, view in (("cpu", v.cpu), ("memory", v.memory)):
        values = hist.cpu if resource == "cpu" else hist.memory
        svg = charts.usage_chart(
            resource=resource,
            ts=hist.ts,
            values=values,
            request=_num(getattr(w.declared, f"{resource}_request")),
            limit=_num(getattr(w.declared, f"{resource}_limit")),
            rec_request=None if rec is None else _num(getattr(rec, f"{resource}_request")),
            rec_limit=None if rec is None else _num(getattr(rec, f"{resource}_limit")),
            oom_ts=hist.oom_ts if resource == "memory" or hist.oom_ts.size else None,
            throttled=hist.throttled if resource == "cpu" else None,
            salt=f"{v.anchor}-{resource}",
        )
        what = "CPU (cores)" if resource == "cpu" else "Memory working set"
        alt = (
            f"{what} over time: p95 {view.p95}, peak {view.peak}; request {view.request}, "
            f"limit {view.limit}, recommended request {view.rec_request}"
        )
        if resource == "memory" and w.oom_kills:
            alt += f"; {w.oom_kills} OOM kill{'s' if w.oom_kills != 1 else ''} marked"
        if resource == "cpu" and w.throttling.periods:
            alt += f"; throttled in {w.throttling.share:.0%} of periods"
        view.chart = svg
        view.chart_alt = alt + ". Right: distribution of the readings."
    v.charted = True


# ---------------------------------------------------------------- hosts


def _pct(v: float, cap: float) -> str:
    return f"{v / cap:.0%}" if cap and math.isfinite(v) else "-"


def _host_view(h: HostSummary, i: int, chart: bool) -> HostView:
    cpus, mem = float(h.cpus), float(h.memory)
    entries = [
        ("requested now", h.requested.cpu, h.requested.memory, False),
        ("requested after", h.recommended_requested.cpu, h.recommended_requested.memory, True),
        ("limits now", h.limits.cpu, h.limits.memory, False),
        ("limits after", h.recommended_limits.cpu, h.recommended_limits.memory, True),
        ("used (peak of sum)", h.cpu_peak, h.memory_peak, False),
    ]
    totals = [h.requested, h.recommended_requested, h.limits, h.recommended_limits, None]
    rows = []
    for (label, c, m, _), t in zip(entries, totals, strict=True):
        no_cpu = t is not None and t.cpu_undeclared == h.containers and not t.cpu
        no_mem = t is not None and t.memory_undeclared == h.containers and not t.memory
        rows.append(
            (
                label,
                "none" if no_cpu else format_cpu(c),
                "-" if no_cpu else _pct(c, cpus),
                "none" if no_mem else format_memory(m),
                "-" if no_mem else _pct(m, mem),
            )
        )
    svg, alt = "", ""
    if chart:
        svg = charts.host_chart(cpus=cpus, memory=mem, rows=entries, salt=f"host-{i}")
        alt = (
            f"Capacity {format_cpu(cpus)} cores and {format_memory(mem)}; requested "
            f"{format_cpu(h.requested.cpu)} / {format_memory(h.requested.memory)} now, "
            f"{format_cpu(h.recommended_requested.cpu)} / "
            f"{format_memory(h.recommended_requested.memory)} after; peak use "
            f"{format_cpu(h.cpu_peak)} / {format_memory(h.memory_peak)}. "
            "Hatched bars: after the recommendations."
        )
    return HostView(
        name=h.name,
        containers=h.containers,
        cpus=format_cpu(cpus) if cpus else "-",
        memory=format_memory(mem) if mem else "-",
        rows=rows,
        chart=svg,
        chart_alt=alt,
    )


# ---------------------------------------------------------------- the model


def build_model(
    result: AnalysisResult,
    *,
    now: datetime | None = None,
    charts_mode: ChartMode = "auto",
    max_charts: int = MAX_CHARTS,
    chart_histories: Mapping[str, History] | None = None,
) -> ReportModel:
    """Everything the report shows, computed once.

    ``chart_histories`` (optional) replaces the analysed series in the charts
    of the workloads it names, e.g. raw series re-read for flagged workloads
    when the analysis ran on aggregated Prometheus data.

    ``charts_mode``: ``auto`` = full charts for workloads with findings above
    info, the ``max_charts`` most severe first; ``all`` = every workload;
    ``none`` = sparklines only.
    """
    when = (now or datetime.now(UTC)).astimezone(UTC)
    saved = result.savings
    views = [_workload_view(i, w, result, saved[w.name]) for i, w in enumerate(result.results)]
    by_name = {w.name: w for w in result.results}

    # full charts
    if charts_mode == "all":
        wanted = views
    elif charts_mode == "none":
        wanted = []
    else:
        wanted = sorted((v for v in views if v.rank >= 2), key=_impact, reverse=True)
    omitted = max(0, len(wanted) - max_charts) if charts_mode == "auto" else 0
    for v in wanted[: max_charts if charts_mode == "auto" else None]:
        hist = (chart_histories or {}).get(v.name) or result.histories.get(v.name)
        if hist is not None and hist.ts.size:
            _add_charts(v, by_name[v.name], hist)

    # summary
    findings = result.counts
    wl_sev = {s: 0 for s in (*SEVERITIES, "ok")}
    for v in views:
        wl_sev[v.severity] += 1
    top: list[FindingView] = []
    ranked = sorted(
        (
            (f, w, views[i].anchor)
            for i, w in enumerate(result.results)
            for f in w.findings
            if f.severity != "info"
        ),
        key=lambda t: (
            severity_rank(t[0].severity),
            kind_rank(t[0].kind),
            t[1].name,
        ),
    )
    top = [_finding_view(f, w, anchor) for f, w, anchor in ranked[:TOP_PROBLEMS]]

    hosts = result.hosts
    req_cpu = sum(h.requested.cpu for h in hosts)
    req_mem = sum(h.requested.memory for h in hosts)
    used_cpu = sum(h.cpu_peak for h in hosts if math.isfinite(h.cpu_peak))
    used_mem = sum(h.memory_peak for h in hosts if math.isfinite(h.memory_peak))
    rec_cpu = sum(h.recommended_requested.cpu for h in hosts)
    rec_mem = sum(h.recommended_requested.memory for h in hosts)
    lim_cpu = sum(h.limits.cpu for h in hosts)
    lim_mem = sum(h.limits.memory for h in hosts)
    rec_lim_cpu = sum(h.recommended_limits.cpu for h in hosts)
    rec_lim_mem = sum(h.recommended_limits.memory for h in hosts)
    undeclared = sum(h.requested.cpu_undeclared for h in hosts)
    totals = [
        ("CPU requests", _cores(req_cpu), _cores(used_cpu), _cores(rec_cpu)),
        ("Memory requests", _gib(req_mem), _gib(used_mem), _gib(rec_mem)),
        ("CPU limits", _cores(lim_cpu), "", _cores(rec_lim_cpu)),
        ("Memory limits", _gib(lim_mem), "", _gib(rec_lim_mem)),
    ]
    if undeclared:
        totals.append(
            ("Containers without a CPU request", str(undeclared), "", "0" if rec_cpu else "")
        )
    overall = result.total_savings
    money_change = overall.money("total")
    if money_change is not None:
        p = result.thresholds.prices
        req_money = _money(result, req_cpu, req_mem) or 0.0
        rec_money = _money(result, rec_cpu, rec_mem) or 0.0
        used_money = _money(result, used_cpu, used_mem) or 0.0
        totals.append(
            (
                f"Requests per month ({p.hours_per_month:g} h)",
                f"{req_money:,.2f}",
                f"{used_money:,.2f}",
                f"{rec_money:,.2f}",
            )
        )
    start, end = result.window if result.window else (math.nan, math.nan)
    summary = Summary(
        start=iso(start),
        end=iso(end),
        duration=format_duration(end - start) if math.isfinite(end - start) else "-",
        hosts=len(hosts),
        workloads=len(views),
        findings=findings,
        workloads_by_severity=wl_sev,
        totals=totals,
        freed_cpu=overall.cpu.freed,
        freed_memory=overall.memory.freed,
        savings_text=overall.text() or "no change in requests",
        money_per_month=None if money_change is None else money_change.freed,
        top=top,
        added_cpu=overall.cpu.added,
        added_memory=overall.memory.added,
        money_added_per_month=None if money_change is None else money_change.added,
    )
    host_views = [_host_view(h, i, i < MAX_HOST_CHARTS) for i, h in enumerate(hosts)]
    source = ", ".join(str(h) for h in result.source.get("hosts", []) or [])
    return ReportModel(
        generated=when.strftime("%Y-%m-%d %H:%M:%SZ"),
        strategy=result.strategy,
        source=f"{result.source.get('kind', '')}: {source}" if source else "",
        summary=summary,
        hosts=host_views,
        workloads=views,
        charted=sum(1 for v in views if v.charted),
        charts_omitted=omitted,
        prices=result.thresholds.prices.configured,
    )
