"""Plot helpers for notebooks: each draws on ``ax`` (or a new one) and returns the Axes.

They never call ``plt.show()``; Jupyter displays the figure once at the end
of the cell (end the cell with ``;`` rather than also showing ``ax.figure``,
which would display it twice). pyplot is only imported when no ``ax`` is given.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from rightsize.units import format_cpu, format_memory

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from rightsize.analysis.backtest import BacktestResult
    from rightsize.analysis.result import AnalysisResult

__all__ = ["plot_backtest", "plot_distribution", "plot_usage"]


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def _fmt(resource: str) -> FuncFormatter:
    fmt = format_cpu if resource == "cpu" else format_memory
    return FuncFormatter(lambda v, _p: fmt(v) if v > 0 else "0")


def _check(resource: str) -> None:
    if resource not in ("cpu", "memory"):
        raise ValueError(f"resource must be 'cpu' or 'memory', not {resource!r}")


def plot_usage(result: AnalysisResult, workload: str, resource: str = "cpu",
               ax: Axes | None = None) -> Axes:
    """One workload's usage over time against its request, limit and recommendation."""
    _check(resource)
    w = result[workload]
    ax = _axes(ax, (9, 3))
    usage = result.usage
    mine = usage[usage["workload"] == workload].sort_values("ts")
    start = float(mine["ts"].min()) if len(mine) else 0.0
    for cid, part in mine.groupby("container_id"):
        ax.plot(part["ts"] - start, part[resource], lw=0.9, drawstyle="steps-post",
                label=f"used ({str(cid)[:12]})" if len(w.containers) > 1 else "used")
    declared = w.declared
    rec = w.recommendation
    lines = [
        (getattr(declared, f"{resource}_request"), "request", "--", "tab:blue"),
        (getattr(declared, f"{resource}_limit"), "limit", "-", "tab:red"),
        (None if rec is None else getattr(rec, f"{resource}_request"), "recommended request",
         ":", "tab:green"),
        (None if rec is None else getattr(rec, f"{resource}_limit"), "recommended limit", "-.",
         "tab:green"),
    ]
    fmt = format_cpu if resource == "cpu" else format_memory
    for value, label, style, colour in lines:
        if value is not None and math.isfinite(value):
            ax.axhline(value, ls=style, color=colour, lw=1.2, label=f"{label} {fmt(value)}")
    kills = mine.loc[mine["oom_kills"] > 0, ["ts", "oom_kills"]]
    if len(kills):  # one collection for every kill: thousands stay one artist
        ax.vlines(kills["ts"].unique() - start, 0, 1, transform=ax.get_xaxis_transform(),
                  color="black", lw=0.8, label=f"OOM kill ({int(kills['oom_kills'].sum()):,})")
    ax.yaxis.set_major_formatter(_fmt(resource))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("seconds since the start of the window")
    ax.set_ylabel("CPU (cores)" if resource == "cpu" else "memory working set")
    ax.set_title(f"{workload}: {resource}")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_distribution(result: AnalysisResult, workload: str, resource: str = "cpu",
                      ax: Axes | None = None) -> Axes:
    """Histogram of one workload's readings with its p50/p95/max marked."""
    _check(resource)
    w = result[workload]
    ax = _axes(ax, (5, 3))
    values = result.usage.loc[result.usage["workload"] == workload, resource].to_numpy(float)
    values = values[np.isfinite(values)]
    ax.hist(values, bins=40, color="tab:gray", alpha=0.7)
    stats = w.cpu if resource == "cpu" else w.memory
    fmt = format_cpu if resource == "cpu" else format_memory
    for q, style in (("p50", ":"), ("p95", "--"), ("max", "-")):
        value = getattr(stats, q)
        if value is not None and math.isfinite(value):
            ax.axvline(value, ls=style, color="black", lw=1, label=f"{q} {fmt(value)}")
    ax.xaxis.set_major_formatter(_fmt(resource))
    ax.set_ylabel("readings")
    ax.set_title(f"{workload}: {resource} distribution")
    ax.legend(fontsize="small")
    return ax


def plot_backtest(scored: BacktestResult, ax: Axes | None = None) -> Axes:
    """Memory slack against OOM-free share per strategy (lower-right is better)."""
    ax = _axes(ax, (5, 4))
    s = scored.summary
    for _, row in s.iterrows():
        ax.scatter(row["memory_slack"], row["oom_free"], s=60)
        ax.annotate(str(row["strategy"]), (row["memory_slack"], row["oom_free"]),
                    textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("memory slack (share of the limit unused)")
    ax.set_ylabel("workloads OOM-free")
    ax.set_title("strategies on held-out history")
    return ax
