"""Charts for the HTML report, as inline SVG strings.

- :func:`usage_chart`: one resource of one workload over time (max per time
  bucket, at most ``MAX_POINTS`` points) against request, limit and the
  recommendation, OOM kills and throttled intervals on the timeline, and the
  distribution of the readings beside it (matplotlib).
- :func:`host_chart`: a host's capacity against requests, limits and peak
  use, before and after the recommendations (matplotlib).
- :func:`trend_chart`: findings by severity over past reports (matplotlib).
- :func:`sparkline`: a tiny hand-written SVG polyline for the workloads table
  (thousands of rows: matplotlib would take ~0.1 s each).

matplotlib is used through ``Figure`` and the Agg canvas only (no pyplot, no
global backend switch). SVGs are made embeddable: no XML prolog, DOCTYPE,
metadata or namespace URIs (HTML parsing puts ``<svg>`` in the SVG
namespace), no timestamp, ids salted per chart so two charts never share an
id, text as ``<text>`` (small, and styled by the page), coordinates rounded
to 0.1 pt. Series are told apart by line style and markers, not only colour.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator, MultipleLocator

from rightsize.units import format_cpu, format_duration, format_memory

__all__ = [
    "MAX_POINTS",
    "downsample_max",
    "host_chart",
    "sparkline",
    "trend_chart",
    "usage_chart",
]

FloatArray = npt.NDArray[np.float64]

#: most points a time series line gets
MAX_POINTS = 500
#: a CPU interval counts as throttled on the timeline from this share of periods
THROTTLED_MARK = 0.25

_STYLE: Any = {  # rcParams keys are Literal-typed in the stubs
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 8.0,
    "axes.linewidth": 0.6,
    "axes.edgecolor": "#555555",
    "axes.labelcolor": "#333333",
    "text.color": "#333333",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "xtick.major.width": 0.5,
    "ytick.major.width": 0.5,
    "legend.frameon": False,
    "legend.fontsize": 7.0,
    "path.simplify": True,
}
USED, REQUEST, LIMIT, RECOMMENDED, EVENT = "#1f6fb4", "#b26b00", "#6a1b9a", "#2e7d32", "#c62828"

_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_NS = re.compile(r'\s+(?:xmlns(?::\w+)?|version)="[^"]*"')
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
#: matplotlib's global ``*{stroke-linejoin...}`` rule (report.css scopes it to charts)
_GLOBAL_STYLE = re.compile(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>\s*", re.S)
#: group ids (``figure_1``, ``axes_1``...) repeat in every chart and are never referenced
_GROUP_ID = re.compile(r'\sid="[A-Za-z][A-Za-z0-9.]*_\d+"')
_GEOMETRY = re.compile(r'\b(d|x|y|x1|x2|y1|y2|width|height|transform|points)="([^"]*)"')
_NUMBER = re.compile(r"-?\d+\.\d{2,}")


def _round_number(m: re.Match[str]) -> str:
    text = f"{float(m.group(0)):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _round_geometry(m: re.Match[str]) -> str:
    return f'{m.group(1)}="{_NUMBER.sub(_round_number, m.group(2))}"'


def _svg(fig: Figure, salt: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, **_STYLE}):
        FigureCanvasAgg(fig)
        fig.savefig(
            buf,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
            transparent=True,
        )
    text = _METADATA.sub("", _PROLOG.sub("", buf.getvalue(), count=1))
    text = _GROUP_ID.sub("", _GLOBAL_STYLE.sub("", text, count=1))
    head, _, body = text.partition(">")
    head = _NS.sub("", head) + ' class="chart" role="img" focusable="false"'
    body = _GEOMETRY.sub(_round_geometry, body)
    return head + ">" + re.sub(r"\n\s*", "\n", body).strip()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def downsample_max(
    ts: FloatArray, values: FloatArray, n: int = MAX_POINTS
) -> tuple[FloatArray, FloatArray]:
    """At most ``n`` points: the max of each of ``n`` equal runs of readings (peaks survive).

    NaN readings are dropped first; each bucket keeps the time of its first reading.
    """
    keep = ~np.isnan(values) & ~np.isnan(ts)
    t, v = ts[keep], values[keep]
    if t.size <= n:
        return t, v
    edges = np.linspace(0, t.size, n + 1).astype(np.int64)[:-1]
    edges = np.unique(edges)
    return t[edges], np.maximum.reduceat(v, edges)


def _formatter(resource: str) -> Callable[[float, float], str]:
    if resource == "cpu":
        return lambda v, _pos: format_cpu(v) if v > 0 else "0"
    return lambda v, _pos: format_memory(v) if v > 0 else "0"


def _locator(resource: str, top: float, n: int = 4) -> Locator:
    """Ticks at round numbers: cores as usual; bytes at powers of two of Ki/Mi/Gi."""
    if resource == "cpu" or top <= 0:
        return MaxNLocator(n)
    step = 1024.0
    while top / step > n:
        step *= 2
    return MultipleLocator(step)


def _hline(ax: object, value: float | None, label: str, **kw: object) -> None:
    if value is not None and math.isfinite(value):
        ax.axhline(value, label=label, **kw)  # type: ignore[attr-defined]


def usage_chart(
    *,
    resource: str,
    ts: FloatArray,
    values: FloatArray,
    request: float | None,
    limit: float | None,
    rec_request: float | None,
    rec_limit: float | None,
    oom_ts: FloatArray | None = None,
    throttled: FloatArray | None = None,
    salt: str,
) -> str:
    """Usage over time against request/limit/recommendation, with its distribution."""
    fmt = format_cpu if resource == "cpu" else format_memory
    fig = _figure(7.4, 2.3)
    ax, dist = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [4.2, 1]})
    start = float(np.nanmin(ts)) if ts.size and not np.all(np.isnan(ts)) else 0.0
    t, v = downsample_max(ts, values)
    ax.plot(t - start, v, color=USED, lw=0.9, label="used (max per bucket)", drawstyle="steps-post")
    _hline(ax, request, f"request {fmt(request)}", color=REQUEST, ls="--", lw=1.2)
    _hline(ax, limit, f"limit {fmt(limit)}", color=LIMIT, ls="-", lw=1.6)
    _hline(
        ax,
        rec_request,
        f"recommended request {fmt(rec_request)}",
        color=RECOMMENDED,
        ls=":",
        lw=1.6,
    )
    if rec_limit is not None and rec_limit != rec_request:
        _hline(
            ax, rec_limit, f"recommended limit {fmt(rec_limit)}", color=RECOMMENDED, ls="-.", lw=1.2
        )
    known = values[~np.isnan(values)]
    peak = max(
        [x for x in (request, limit, rec_request, rec_limit) if x is not None and math.isfinite(x)]
        + [float(known.max()) if known.size else 0.0, 1e-9]
    )
    top = peak * 1.12
    if oom_ts is not None and oom_ts.size:
        uniq, counts = np.unique(oom_ts, return_counts=True)
        ax.vlines(uniq - start, 0, top, colors=EVENT, lw=0.8, ls="-")
        ax.plot(
            uniq - start,
            np.full(uniq.size, top * 0.97),
            ls="none",
            marker="v",
            ms=5,
            color=EVENT,
            label=f"OOM kill ({int(counts.sum())})",
        )
    if throttled is not None and throttled.size:
        tt, share = downsample_max(ts, throttled, MAX_POINTS // 2)
        hot = share >= THROTTLED_MARK
        if hot.any():
            ax.plot(
                tt[hot] - start,
                np.full(int(hot.sum()), top * 0.02),
                ls="none",
                marker="|",
                ms=6,
                color=EVENT,
                label=f"throttled \u2265{THROTTLED_MARK:.0%} of periods",
            )
    ax.set_ylim(0, top)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(FuncFormatter(_formatter(resource)))
    ax.yaxis.set_major_locator(_locator(resource, top))
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: format_duration(x) if x > 0 else "0"))
    ax.set_xlabel("time since start of window")
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.28), ncol=3, borderaxespad=0)
    if known.size:
        dist.hist(known, bins=30, range=(0, top), orientation="horizontal", color=USED, alpha=0.55)
        p95 = float(np.percentile(known, 95))
        dist.axhline(p95, color=USED, ls="--", lw=0.8)
        dist.text(
            0.98,
            p95,
            f"p95 {fmt(p95)}",
            transform=dist.get_yaxis_transform(),
            ha="right",
            va="bottom",
            fontsize=7,
        )
    dist.set_xlabel("readings")
    dist.xaxis.set_major_locator(MaxNLocator(2))
    dist.tick_params(labelleft=False)
    for a in (ax, dist):
        a.spines[["top", "right"]].set_visible(False)
    return _svg(fig, salt)


def _finite(v: float | None) -> float:
    return float(v) if v is not None and math.isfinite(v) else 0.0


def host_chart(
    *,
    cpus: float,
    memory: float,
    rows: Sequence[tuple[str, float | None, float | None, bool]],
    salt: str,
) -> str:
    """Horizontal bars per row label: (label, cores, bytes, is_after) against capacity."""
    fig = _figure(7.4, 0.5 + 0.28 * len(rows))
    axes = fig.subplots(1, 2, sharey=True)
    labels = [r[0] for r in rows]
    y = np.arange(len(rows))[::-1]
    for ax, idx, cap, fmt, title in (
        (axes[0], 1, cpus, format_cpu, "CPU (cores)"),
        (axes[1], 2, memory, format_memory, "memory"),
    ):
        vals = [_finite(r[1] if idx == 1 else r[2]) for r in rows]
        hatches = ["////" if r[3] else "" for r in rows]
        colors = [
            RECOMMENDED if r[3] else (USED if r[0].startswith("used") else REQUEST) for r in rows
        ]
        bars = ax.barh(y, vals, color=colors, alpha=0.75, edgecolor="#333333", lw=0.4)
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
        right = max([*vals, cap, 1e-9]) * 1.25
        for yy, v in zip(y, vals, strict=True):
            ax.text(v + right * 0.01, yy, fmt(v), va="center", fontsize=7)
        if cap:
            ax.axvline(cap, color="#000000", ls="--", lw=1)
            ax.text(cap, len(rows) - 0.45, f"capacity {fmt(cap)}", ha="right", fontsize=7)
        ax.set_xlim(0, right)
        ax.set_title(title, fontsize=8, loc="left")
        ax.xaxis.set_major_locator(_locator("cpu" if idx == 1 else "memory", right))
        ax.xaxis.set_major_formatter(FuncFormatter(_formatter("cpu" if idx == 1 else "memory")))
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_yticks(y, labels)
    return _svg(fig, salt)


def trend_chart(
    dates: Sequence[str], series: Sequence[tuple[str, Sequence[int], str, str]], *, salt: str
) -> str:
    """Counts over past reports: ``series`` = (label, counts, line style, marker)."""
    fig = _figure(7.4, 2.0)
    ax = fig.subplots()
    x = np.arange(len(dates))
    for label, counts, ls, marker in series:
        ax.plot(x, counts, ls=ls, marker=marker, ms=4, lw=1.2, label=label, color="#444444")
    step = max(1, len(dates) // 6)
    ax.set_xticks(x[::step], [d[:16] for d in dates[::step]])
    ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("findings")
    ax.legend(loc="upper left", ncol=len(series))
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, salt)


def sparkline(
    values: FloatArray,
    *,
    reference: float | None = None,
    width: int = 80,
    height: int = 20,
    points: int = 40,
    label: str = "",
) -> str:
    """A tiny SVG polyline (max per bucket), with ``reference`` (e.g. the request) dashed.

    Everything in the SVG is a number this function formats, except ``label``,
    which must be plain text without markup (it is escaped here anyway).
    """
    from markupsafe import escape

    known = values[~np.isnan(values)]
    if not known.size:
        return ""
    _, v = downsample_max(np.arange(known.size, dtype=np.float64), known, points)
    top = max(float(v.max()), reference or 0.0) * 1.1 or 1.0
    n = max(v.size - 1, 1)
    xs = np.arange(v.size) * (width / n)
    ys = height - 1 - v / top * (height - 2)
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    ref = ""
    if reference is not None and math.isfinite(reference) and reference > 0:
        ry = height - 1 - reference / top * (height - 2)
        ref = (
            f'<line x1="0" x2="{width}" y1="{ry:.1f}" y2="{ry:.1f}" '
            'class="spark-ref" stroke-dasharray="3 2"/>'
        )
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}">{ref}'
        f'<polyline points="{pts}" class="spark-line" fill="none"/></svg>'
    )
