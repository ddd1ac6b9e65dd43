"""What applying the recommendations changes in requested capacity (and money).

Requests are what the scheduler reserves and what capacity is paid for, so the
change is counted on requests, per workload x the replicas running at the end
of its window: ``freed`` sums the decreases, ``added`` the increases (a
request set where none was declared adds all of it), and ``net`` = freed -
added (positive: fewer requests overall; negative: more). A value the
recommendation leaves out (None, e.g. a lower bound that only raises a limit)
changes nothing. Money uses the configured prices (``cpu_per_core_hour``,
``memory_per_gib_hour``) over ``hours_per_month``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.analysis.thresholds import Prices
from rightsize.model import Declared, Recommendation
from rightsize.units import format_cpu, format_memory

__all__ = ["Change", "Savings", "replicas", "total", "workload_savings"]

GiB = 2**30


@dataclass(frozen=True)
class Change:
    """Freed and added amounts of one resource (cores, bytes or money); net = freed - added."""

    freed: float = 0.0
    added: float = 0.0

    @property
    def net(self) -> float:
        return self.freed - self.added

    def __add__(self, other: Change) -> Change:
        return Change(self.freed + other.freed, self.added + other.added)

    def to_dict(self, *, integer: bool = False, digits: int = 3) -> dict[str, float | int]:
        if integer:
            return {"freed": round(self.freed), "added": round(self.added), "net": round(self.net)}
        return {
            "freed": round(self.freed, digits),
            "added": round(self.added, digits),
            "net": round(self.net, digits),
        }


@dataclass(frozen=True)
class Savings:
    """The change in requests of one workload (or a sum), with money when priced."""

    cpu: Change
    memory: Change
    prices: Prices
    replicas: int = 1

    def money(self, resource: str) -> Change | None:
        """The change of ``resource`` (``cpu``/``memory``/``total``) per month; None unpriced."""
        p = self.prices
        cpu = (
            Change(
                self.cpu.freed * p.cpu_per_core_hour * p.hours_per_month,
                self.cpu.added * p.cpu_per_core_hour * p.hours_per_month,
            )
            if p.cpu_per_core_hour is not None
            else None
        )
        mem = (
            Change(
                self.memory.freed / GiB * p.memory_per_gib_hour * p.hours_per_month,
                self.memory.added / GiB * p.memory_per_gib_hour * p.hours_per_month,
            )
            if p.memory_per_gib_hour is not None
            else None
        )
        if resource == "cpu":
            return cpu
        if resource == "memory":
            return mem
        if cpu is None and mem is None:
            return None
        return (cpu or Change()) + (mem or Change())

    @property
    def changes(self) -> bool:
        return bool(self.cpu.freed or self.cpu.added or self.memory.freed or self.memory.added)

    def to_dict(self, *, with_replicas: bool = False) -> dict[str, Any]:
        """The JSON ``savings`` block (cores, bytes, money per month or null)."""
        money: dict[str, Any] | None = None
        if self.prices.configured:
            money = {}
            for key in ("cpu", "memory", "total"):
                m = self.money(key)
                money[key] = None if m is None else m.to_dict(digits=2)
            money["hours_per_month"] = self.prices.hours_per_month
        out: dict[str, Any] = {
            "cpu": self.cpu.to_dict(),
            "memory": self.memory.to_dict(integer=True),
            "money_per_month": money,
        }
        if with_replicas:
            out = {"replicas": self.replicas, **out}
        return out

    def text(self) -> str:
        """One line: net, freed and added per resource, then money ("" when nothing changes)."""
        if not self.changes:
            return ""
        parts = [
            change_line("CPU", self.cpu, format_cpu),
            change_line("memory", self.memory, format_memory),
        ]
        total = self.money("total")
        if total is not None:
            parts.append(money_line(total))
        return "; ".join(p for p in parts if p)


def _net_word(net: float, fmt: Any) -> str:
    if net > 0:
        return f"net {fmt(net)} freed"
    if net < 0:
        return f"net {fmt(-net)} added"
    return "net no change"


def money_line(change: Change) -> str:
    """``"per month net 2.50 added (10.00 freed, 12.50 added)"``."""
    return (
        f"per month {_net_word(change.net, lambda v: f'{v:,.2f}')} "
        f"({change.freed:,.2f} freed, {change.added:,.2f} added)"
    )


def change_line(label: str, change: Change, fmt: Any) -> str:
    """``"CPU requests net 537m freed (1975m freed, 1439m added)"``; "" without a change."""
    if not change.freed and not change.added:
        return ""
    return (
        f"{label} requests {_net_word(change.net, fmt)} "
        f"({fmt(change.freed)} freed, {fmt(change.added)} added)"
    )


def _change(current: float | None, new: float | None, replicas: int) -> Change:
    if new is None:
        return Change()
    diff = (float(current) if current is not None else 0.0) - float(new)
    return Change(max(diff, 0.0) * replicas, max(-diff, 0.0) * replicas)


def workload_savings(
    declared: Declared, rec: Recommendation | None, replicas: int, prices: Prices
) -> Savings:
    """The change in requests applying ``rec`` to ``replicas`` containers declaring ``declared``."""
    if rec is None:
        return Savings(Change(), Change(), prices, replicas)
    return Savings(
        _change(declared.cpu_request, rec.cpu_request, replicas),
        _change(
            None if declared.memory_request is None else float(declared.memory_request),
            None if rec.memory_request is None else float(rec.memory_request),
            replicas,
        ),
        prices,
        replicas,
    )


def total(items: Iterable[Savings], prices: Prices) -> Savings:
    """The sum of per-workload savings."""
    cpu, mem = Change(), Change()
    for s in items:
        cpu, mem = cpu + s.cpu, mem + s.memory
    return Savings(cpu, mem, prices, 0)


Pairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _runs(frame: pd.DataFrame) -> Pairs | None:
    """:func:`_pairs` from runs of rows, without a per-row copy (20 M rows are a week of
    10,000); None unless the container ids are categorical and each pair is one run."""
    cid = frame["container_id"]
    if not isinstance(cid.dtype, pd.CategoricalDtype):
        return None
    w = frame["workload"].cat.codes.to_numpy()
    c = cid.cat.codes.to_numpy()
    if (w < 0).any() or (c < 0).any():
        return None
    change = np.empty(w.size, dtype=bool)
    change[0] = True
    np.not_equal(w[1:], w[:-1], out=change[1:])
    change[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(change)
    pairs = w[starts].astype(np.int64) * (int(c.max()) + 1) + c[starts]
    if np.unique(pairs).size != pairs.size:
        return None  # a pair in several runs: the general path
    ts = frame["ts"].to_numpy(dtype=np.float64)
    interval = frame["interval"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        step = np.nan_to_num(np.fmax.reduceat(interval, starts), nan=0.0)
    return w[starts].astype(np.int64), np.maximum.reduceat(ts, starts), step


def _pairs(frame: pd.DataFrame) -> Pairs:
    """Per (workload, container): its workload code, last time and largest interval
    (NaN as 0)."""
    runs = _runs(frame)
    if runs is not None:  # each container's rows in one run (the analysis' order)
        return runs
    codes = frame["workload"].cat.codes.to_numpy(dtype=np.int64)
    cids = pd.factorize(frame["container_id"])[0].astype(np.int64)
    ts = frame["ts"].to_numpy(dtype=np.float64)
    interval = np.nan_to_num(frame["interval"].to_numpy(dtype=np.float64), nan=0.0)
    ncid = int(cids.max()) + 1 if cids.size else 1
    key = codes * ncid + cids
    order = np.argsort(key, kind="stable")
    uniq, first = np.unique(key[order], return_index=True)
    return (uniq // ncid, np.maximum.reduceat(ts[order], first),
            np.maximum.reduceat(interval[order], first))


def replicas(frame: pd.DataFrame) -> Mapping[str, int]:
    """Per workload, containers still reporting near the end of its window (at least 1).

    ``frame``: the analysis' tidy usage with a categorical ``workload`` column.
    """
    if frame.empty or "workload" not in frame:
        return {}
    names = [str(c) for c in frame["workload"].cat.categories]
    w_of, last, step_of = _pairs(frame)
    w_end = np.full(len(names), -np.inf)
    np.maximum.at(w_end, w_of, last)
    step = np.zeros(len(names))
    np.maximum.at(step, w_of, step_of)
    live = last >= (w_end - 3 * np.maximum(step, 1.0))[w_of]
    counts = np.bincount(w_of[live], minlength=len(names))
    return {n: max(1, int(c)) for n, c in zip(names, counts, strict=True)}
