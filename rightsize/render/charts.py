"""Charts for the HTML report, as inline SVG strings.

- :func:`usage_chart`: one resource of one workload over time (min-max band
  and max line per bucket, at most ``MAX_POINTS`` buckets) against request,
  limit and the recommendation, OOM kills (one marker per time bucket, sized
  by count) and throttled runs on the timeline, and the distribution of the
  readings beside it (matplotlib). Its size is bounded whatever the history.
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
Legends sit under the plots, in as many columns as fit (never clipped, never
over the data). ``role="img"`` SVGs take their accessible name from
``label=`` (``aria-label``) or from the page (``aria-labelledby``).

One piece: the charts share the figure setup and the SVG clean-up above,
which is what makes them embeddable side by side.
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
from markupsafe import escape
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator, MultipleLocator

from rightsize.units import format_cpu, format_duration, format_memory

__all__ = [
    "MAX_POINTS",
    "OOM_BUCKETS",
    "downsample_max",
    "downsample_minmax",
    "host_chart",
    "oom_buckets",
    "sparkline",
    "trend_chart",
    "usage_chart",
]

FloatArray = npt.NDArray[np.float64]

#: most points a time series line gets
MAX_POINTS = 500
#: most OOM markers a timeline gets: kills closer in time share one, sized by their count
OOM_BUCKETS = 80
#: usage chart height without the legend, and the height each legend row adds (inches)
USAGE_HEIGHT = 1.9
LEGEND_ROW = 0.19
#: most markers a trend line gets
TREND_MARKERS = 40
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
_PATH_OP = re.compile(r"([MLCQZz]) ")
_PATH_GAP = re.compile(r" (?=[MLCQZz])")


def _round_number(m: re.Match[str]) -> str:
    text = f"{float(m.group(0)):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _round_geometry(m: re.Match[str]) -> str:
    value = _NUMBER.sub(_round_number, m.group(2))
    if m.group(1) == "d":  # "M 1 2 \nL 3 4 \nz" → "M1 2L3 4z"
        value = _PATH_GAP.sub("", _PATH_OP.sub(r"\1", " ".join(value.split())))
    return f'{m.group(1)}="{value}"'


def _svg(fig: Figure, salt: str, label: str = "") -> str:
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
    if label:
        head += f' aria-label="{escape(label)}"'
    body = _GEOMETRY.sub(_round_geometry, body)
    return head + ">" + re.sub(r"\n\s*", "\n", body).strip()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # a renderer to measure legends with
    return fig


def downsample_minmax(
    ts: FloatArray, values: FloatArray, n: int = MAX_POINTS
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """At most ``n`` buckets of equal runs of readings: (first time, min, max) of each.

    Peaks and troughs both survive; NaN readings are dropped first.
    """
    keep = ~np.isnan(values) & ~np.isnan(ts)
    t, v = ts[keep], values[keep]
    if t.size <= n:
        return t, v, v
    edges = np.unique(np.linspace(0, t.size, n + 1).astype(np.int64)[:-1])
    return t[edges], np.minimum.reduceat(v, edges), np.maximum.reduceat(v, edges)


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


def _legend_below(fig: Figure, ax: Any, ncol: int, base_height: float) -> None:
    """``ax``'s legend under the plots, in as many columns (up to ``ncol``) as fit the width.

    The figure grows by one legend row's height per row, so the plots keep
    their size; constrained layout makes room, so no legend text is clipped.
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for n in range(min(ncol, len(handles)), 0, -1):
        leg = fig.legend(handles, labels, loc="outside lower left", ncol=n, frameon=False)
        width = float(leg.get_window_extent(renderer).width)
        if width <= fig.bbox.width * 0.97 or n == 1:
            break
        leg.remove()
    rows = math.ceil(len(handles) / n)
    fig.set_figheight(base_height + LEGEND_ROW * rows)


def _runs(t: FloatArray, hot: npt.NDArray[np.bool_], end: float) -> tuple[FloatArray, FloatArray]:
    """Start and end times of the runs of consecutive ``hot`` buckets (``t`` = bucket starts)."""
    nxt = np.append(t[1:], end)
    edges = np.diff(np.concatenate(([0], hot.astype(np.int8), [0])))
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return t[first], nxt[last]


def _segments(x0: FloatArray, x1: FloatArray, y0: FloatArray, y1: FloatArray) -> tuple[
    FloatArray, FloatArray
]:
    """Separate segments as one NaN-broken polyline (one SVG path instead of one each)."""
    nan = np.full(x0.size, np.nan)
    return np.column_stack((x0, x1, nan)).ravel(), np.column_stack((y0, y1, nan)).ravel()


def oom_buckets(
    oom_ts: FloatArray, start: float, end: float, n: int = OOM_BUCKETS
) -> tuple[FloatArray, npt.NDArray[np.int64], float]:
    """Kills grouped into ``n`` equal time buckets over [start, end].

    Returns the time of each non-empty bucket's first kill, the kills in it,
    and the bucket width in seconds.
    """
    o = np.sort(oom_ts[~np.isnan(oom_ts)])
    if not o.size:
        return o, np.zeros(0, dtype=np.int64), 0.0
    lo, hi = min(start, float(o[0])), max(end, float(o[-1]))
    width = max(hi - lo, 1e-9) / n
    idx = np.minimum(((o - lo) / width).astype(np.int64), n - 1)
    _, first, counts = np.unique(idx, return_index=True, return_counts=True)
    return o[first], counts.astype(np.int64), width


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
    label: str = "",
) -> str:
    """Usage over time against request/limit/recommendation, with its distribution.

    The size is bounded whatever the history: at most ``MAX_POINTS`` buckets
    of the series (min-max band, max line), ``OOM_BUCKETS`` OOM markers
    (sized by the kills each stands for) and throttled runs drawn as bars.
    ``label``: the SVG's accessible name (plain text; escaped here).
    """
    fmt = format_cpu if resource == "cpu" else format_memory
    fig = _figure(7.4, USAGE_HEIGHT)
    ax, dist = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [4.2, 1]})
    finite_ts = ts[~np.isnan(ts)]
    start = float(finite_ts.min()) if finite_ts.size else 0.0
    end = float(finite_ts.max()) if finite_ts.size else 0.0
    t, lo, v = downsample_minmax(ts, values)
    if t.size and bool(np.any(lo < v)):
        ax.fill_between(t - start, lo, v, color=USED, alpha=0.18, lw=0,
                        label="used (range per bucket)")
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
        when, counts, width = oom_buckets(oom_ts, start, end)
        total = int(counts.sum())
        x = when - start
        lx, ly = _segments(x, x, np.zeros(x.size), np.full(x.size, top))
        ax.plot(lx, ly, color=EVENT, lw=0.8, ls="-")
        sizes = np.select([counts >= 100, counts >= 10, counts >= 2], [11.0, 9.0, 7.0], 5.0)
        text = f"OOM kill ({total:,})"
        if counts.max() > 1:
            text = f"OOM kills ({total:,}; grouped per {format_duration(width)})"
        ax.scatter(x, np.full(x.size, top * 0.97), s=sizes**2, marker="v", color=EVENT,
                   linewidths=0, label=text)
    if throttled is not None and throttled.size:
        tt, share = downsample_max(ts, throttled, MAX_POINTS // 2)
        hot = share >= THROTTLED_MARK
        if hot.any():
            x0, x1 = _runs(tt - start, hot, end - start)
            y = np.full(x0.size, top * 0.02)
            bx, by = _segments(x0, x1, y, y)
            ax.plot(bx, by, color=EVENT, lw=4, solid_capstyle="butt",
                    label=f"throttled \u2265{THROTTLED_MARK:.0%} of periods")
    ax.set_ylim(0, top)
    ax.set_xlim(left=0)
    ax.yaxis.set_major_formatter(FuncFormatter(_formatter(resource)))
    ax.yaxis.set_major_locator(_locator(resource, top))
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: format_duration(x) if x > 0 else "0"))
    ax.set_xlabel("time since start of window")
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
    _legend_below(fig, ax, 3, USAGE_HEIGHT)
    return _svg(fig, salt, label)


def _finite(v: float | None) -> float:
    return float(v) if v is not None and math.isfinite(v) else 0.0


def host_chart(
    *,
    cpus: float,
    memory: float,
    rows: Sequence[tuple[str, float | None, float | None, bool]],
    salt: str,
    label: str = "",
) -> str:
    """Horizontal bars per row label: (label, cores, bytes, is_after) against capacity.

    ``label``: the SVG's accessible name (plain text; escaped here).
    """
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
    return _svg(fig, salt, label)


def trend_chart(
    dates: Sequence[str],
    series: Sequence[tuple[str, Sequence[int], str, str]],
    *,
    salt: str,
    label: str = "",
) -> str:
    """Counts over past reports: ``series`` = (label, counts, line style, marker).

    The legend sits under the plot (never over the data); past ``MAX_POINTS``
    reports each line is the max per bucket, with at most ``TREND_MARKERS``
    markers. ``label``: the SVG's accessible name (plain text; escaped here).
    """
    fig = _figure(7.4, 1.7)
    ax = fig.subplots()
    x = np.arange(len(dates), dtype=np.float64)
    for name, counts, ls, marker in series:
        xs, ys = downsample_max(x, np.asarray(counts, dtype=np.float64))
        every = max(1, math.ceil(xs.size / TREND_MARKERS))
        ax.plot(xs, ys, ls=ls, marker=marker, ms=4, lw=1.2, label=name, color="#444444",
                markevery=every)
    step = max(1, len(dates) // 6)
    ax.set_xticks(x[::step], [d[:16] for d in dates[::step]])
    ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("findings")
    ax.spines[["top", "right"]].set_visible(False)
    _legend_below(fig, ax, len(series), 1.7)
    return _svg(fig, salt, label)


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

    Everything in the SVG is a number this function formats, except ``label``
    (the accessible name; default "usage over time"), which must be plain text
    without markup (it is escaped here anyway).
    """
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
        f'role="img" aria-label="{escape(label or "usage over time")}">{ref}'
        f'<polyline points="{pts}" class="spark-line" fill="none"/></svg>'
    )
