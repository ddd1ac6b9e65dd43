"""The host view: capacity against requests, limits and real usage, before and after.

Per host (Docker engine or node):

- ``cpus``/``memory``: capacity (``ncpu``, ``mem_total``).
- ``requested``/``limits``: sums of the declared values of the containers
  *running at the end of the window* (last sample within 3 median intervals
  of the host's last sample; all containers if none qualify), with the ratio
  to capacity (the overcommit ratio; > 1 = overcommitted) and how many
  containers declare nothing (an unbounded limit is not summed).
- ``used``: ``cpu``/``memory`` are the **peak of the summed usage over time**
  (usage binned on the host's median sample interval, each container's
  readings averaged per bin, then summed across containers per bin) — what
  the host really had to provide at its busiest; ``cpu_p95_sum``/
  ``memory_p95_sum`` are the sums of each running container's p95 — a
  pessimistic bound, since containers rarely peak together.
- ``recommended``: ``requested`` and ``limits`` again with every running
  container taking its workload's recommendation.

One piece: the sums, the peak of summed usage and the recommended sums are
one view over the same selection of running containers per host.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rightsize.analysis.median import nanmedian
from rightsize.analysis.parallel import map_blocks, per_thread, threads
from rightsize.analysis.thresholds import Thresholds
from rightsize.analysis.usage import Usage
from rightsize.analysis.workloads import Codes, container_blocks, grouped_stats
from rightsize.model import Declared, Recommendation
from rightsize.store import Dataset

__all__ = [
    "HostContainer", "HostSummary", "Totals", "declared_of", "host_summaries", "host_view",
    "optional_float", "peak_of_sum",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Totals:
    """Summed CPU (cores) and memory (bytes) of some declared or recommended values."""

    cpu: float
    memory: int
    cpu_undeclared: int
    memory_undeclared: int

    def to_dict(self, cpus: float, memory: float) -> dict[str, Any]:
        return {
            "cpu": round(self.cpu, 6),
            "memory": int(self.memory),
            "cpu_ratio": round(self.cpu / cpus, 4) if cpus else None,
            "memory_ratio": round(self.memory / memory, 4) if memory else None,
            "undeclared": {"cpu": self.cpu_undeclared, "memory": self.memory_undeclared},
        }


@dataclass(frozen=True)
class HostContainer:
    """One running container as the host view needs it."""

    container_id: str
    workload: str
    declared: Declared
    cpu_p95: float
    memory_p95: float


@dataclass(frozen=True)
class HostSummary:
    """Capacity, declared totals, usage and recommended totals of one host."""

    host: str
    name: str
    cpus: int
    memory: int
    containers: int
    requested: Totals
    limits: Totals
    cpu_peak: float
    memory_peak: float
    cpu_p95_sum: float
    memory_p95_sum: float
    recommended_requested: Totals
    recommended_limits: Totals

    def to_dict(self) -> dict[str, Any]:
        cpus, mem = float(self.cpus), float(self.memory)

        def ratio(v: float, cap: float) -> float | None:
            return round(v / cap, 4) if cap and not math.isnan(v) else None

        def num(v: float, integer: bool = False) -> float | int | None:
            if math.isnan(v):
                return None
            return round(v) if integer else round(v, 6)

        return {
            "host": self.host,
            "name": self.name,
            "cpus": self.cpus,
            "memory": self.memory,
            "containers": self.containers,
            "requested": self.requested.to_dict(cpus, mem),
            "limits": self.limits.to_dict(cpus, mem),
            "used": {
                "cpu": num(self.cpu_peak),
                "memory": num(self.memory_peak, True),
                "cpu_ratio": ratio(self.cpu_peak, cpus),
                "memory_ratio": ratio(self.memory_peak, mem),
                "cpu_p95_sum": num(self.cpu_p95_sum),
                "memory_p95_sum": num(self.memory_p95_sum, True),
            },
            "recommended": {
                "requested": self.recommended_requested.to_dict(cpus, mem),
                "limits": self.recommended_limits.to_dict(cpus, mem),
            },
        }


def _totals(values: Sequence[tuple[float | None, float | None]]) -> Totals:
    cpu = sum(c for c, _ in values if c is not None)
    mem = sum(m for _, m in values if m is not None)
    return Totals(
        cpu=float(cpu),
        memory=int(mem),
        cpu_undeclared=sum(1 for c, _ in values if c is None),
        memory_undeclared=sum(1 for _, m in values if m is None),
    )


def _sized(rec: Recommendation | None) -> Recommendation | None:
    """The recommendation if it sizes anything (else the declared values stand)."""
    if rec is None:
        return None
    values = (rec.cpu_request, rec.cpu_limit, rec.memory_request, rec.memory_limit)
    return rec if any(v is not None for v in values) else None


#: rows per block in :func:`peak_of_sum` (whole containers): keeps its temporaries small
_PEAK_BLOCK_ROWS = 1 << 19
#: up to this many (host, bin) slots the per-bin sums are one dense array
_DENSE_BINS = 20_000_000


def peak_of_sum(
    container_host: IntArray,
    container_codes: Codes,
    ts: FloatArray,
    values: Sequence[FloatArray],
    nhosts: int,
    width: FloatArray,
    start: FloatArray,
) -> list[FloatArray]:
    """Per host, the peak over time of the summed per-container usage, per value array.

    Time is cut into bins of ``width[host]`` seconds from ``start[host]``;
    each container's readings in a bin are averaged, then summed per bin.
    NaN values are ignored; hosts without values get NaN. ``container_host`` is
    the host code of each container code. Rows grouped by container and in time
    order within each (the usage frame's usual order) are done in blocks of whole
    containers (no per-row array of host codes), adding to the per-bin sums in
    row order (the same sums, to the bit, as one pass); other orders are sorted
    first.
    """
    if ts.size == 0:
        return [np.full(nhosts, np.nan) for _ in values]
    w = np.where(width > 0, width, 1.0)
    unsorted = bool(np.any(container_codes[1:] < container_codes[:-1]))
    blocks = [] if unsorted else container_blocks(container_codes,
                                                  per_thread(_PEAK_BLOCK_ROWS))

    def bins_of(span: tuple[int, int]) -> int | None:
        """The bins a block reaches, or None at a clock step back (the rows are sorted first)."""
        lo, hi = span
        c, t = container_codes[lo:hi], ts[lo:hi]
        if np.any((c[1:] == c[:-1]) & (t[1:] < t[:-1])):
            return None
        h = container_host[c]
        return int(((t - start[h]) / w[h]).astype(np.int64).max()) + 1

    reach = map_blocks(bins_of, blocks)  # independent blocks, on a few threads
    unsorted = unsorted or any(r is None for r in reach)
    nb = max([1, *(r for r in reach if r is not None)])
    if unsorted:
        return _peak_of_sum_unsorted(container_host[container_codes], container_codes, ts,
                                     values, nhosts, w, start)
    dense = nhosts * nb <= _DENSE_BINS
    per_bin = [np.zeros(nhosts * nb) for _ in values] if dense else []
    seen = [np.zeros(nhosts * nb, dtype=bool) for _ in values] if dense else []
    slot_parts: list[IntArray] = []  # sparse: the (host, bin) of each run, block by block
    mean_parts: list[list[tuple[FloatArray, npt.NDArray[np.bool_]]]] = [[] for _ in values]

    def runs_of(span: tuple[int, int]) -> tuple[IntArray, list[tuple[FloatArray, BoolArray]]]:
        """A block's runs (a container's readings in one bin): (host, bin) slot, mean, any."""
        lo, hi = span
        h = container_host[container_codes[lo:hi]]
        bins = ((ts[lo:hi] - start[h]) / w[h]).astype(np.int64)
        key = container_codes[lo:hi].astype(np.int64) * nb + bins
        first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
        return (h[first].astype(np.int64) * nb + bins[first],
                [_bin_means(v[lo:hi], first) for v in values])

    # the runs of a few blocks at a time on threads; added to the bins in row order
    group = threads()
    for at in range(0, len(blocks), group):
        for host_bin, means_has in map_blocks(runs_of, blocks[at : at + group]):
            if not dense:
                slot_parts.append(host_bin)
            for k, (means, has) in enumerate(means_has):
                if dense:
                    np.add.at(per_bin[k], host_bin, means)
                    seen[k][host_bin[has]] = True
                else:
                    mean_parts[k].append((means, has))
    if not dense:
        runs = [
            (np.concatenate([m for m, _ in parts]), np.concatenate([s for _, s in parts]))
            for parts in mean_parts
        ]
        return _sparse_peaks(np.concatenate(slot_parts), runs, nhosts, nb)
    out = []
    for k in range(len(values)):
        peak = np.where(seen[k], per_bin[k], -np.inf).reshape(nhosts, nb).max(axis=1)
        out.append(np.where(np.isfinite(peak), peak, np.nan))
    return out


def _sparse_peaks(
    host_bin: IntArray,
    runs: Sequence[tuple[FloatArray, npt.NDArray[np.bool_]]],
    nhosts: int,
    nb: int,
) -> list[FloatArray]:
    """Per value, per host, the largest per-bin sum of the run means over the slots seen.

    ``host_bin`` is each run's (host, bin) slot; ``runs`` holds, per value, each
    run's mean and whether it had any reading.
    """
    slots, inverse = np.unique(host_bin, return_inverse=True)
    out = []
    for means, has in runs:
        per_slot = np.bincount(inverse, weights=means)
        seen_slot = np.bincount(inverse, weights=has.astype(np.float64)) > 0
        peak = np.full(nhosts, -np.inf)
        np.maximum.at(peak, slots[seen_slot] // nb, per_slot[seen_slot])
        out.append(np.where(np.isfinite(peak), peak, np.nan))
    return out


def _bin_means(v: FloatArray, first: IntArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Mean of the known values of each run starting at ``first`` (0 if none), and whether any."""
    known = ~np.isnan(v)
    if first.size == v.size:  # every run is one reading: its mean is itself
        return np.where(known, v, 0.0), known
    sums = np.add.reduceat(np.where(known, v, 0.0), first)
    counts = np.add.reduceat(known.astype(np.int64), first)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0), counts > 0


def _peak_of_sum_unsorted(
    host_codes: IntArray,
    container_codes: Codes,
    ts: FloatArray,
    values: Sequence[FloatArray],
    nhosts: int,
    w: FloatArray,
    start: FloatArray,
) -> list[FloatArray]:
    """:func:`peak_of_sum` for rows not grouped by container: one pass after a sort."""
    bins = ((ts - start[host_codes]) / w[host_codes]).astype(np.int64)
    nb = int(bins.max()) + 1
    key = container_codes.astype(np.int64) * nb + bins
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    host_bin = host_codes[order][first].astype(np.int64) * nb + key[first] % nb
    return _sparse_peaks(host_bin, [_bin_means(v[order], first) for v in values], nhosts, nb)


def host_summaries(
    hosts: Mapping[str, Mapping[str, Any]],
    running: Mapping[str, Sequence[HostContainer]],
    cpu_peak: Mapping[str, float],
    memory_peak: Mapping[str, float],
    recommendations: Mapping[str, Recommendation | None],
) -> list[HostSummary]:
    """One :class:`HostSummary` per host in ``running`` (sorted by host).

    ``hosts`` maps host id → its HostRow fields (``name``, ``ncpu``,
    ``mem_total``); unknown hosts get zero capacity and null ratios.
    """
    out = []
    for host in sorted(running):
        row = hosts.get(host, {})
        members = running[host]
        declared = [m.declared for m in members]
        recs = [_sized(recommendations.get(m.workload)) or m.declared for m in members]
        out.append(
            HostSummary(
                host=host,
                name=str(row.get("name") or host),
                cpus=int(row.get("ncpu") or 0),
                memory=int(row.get("mem_total") or 0),
                containers=len(members),
                requested=_totals([(d.cpu_request, d.memory_request) for d in declared]),
                limits=_totals([(d.cpu_limit, d.memory_limit) for d in declared]),
                cpu_peak=float(cpu_peak.get(host, math.nan)),
                memory_peak=float(memory_peak.get(host, math.nan)),
                cpu_p95_sum=float(np.nansum([m.cpu_p95 for m in members])),
                memory_p95_sum=float(np.nansum([m.memory_p95 for m in members])),
                recommended_requested=_totals([(r.cpu_request, r.memory_request) for r in recs]),
                recommended_limits=_totals([(r.cpu_limit, r.memory_limit) for r in recs]),
            )
        )
    return out


def optional_float(v: Any) -> float | None:
    """A store value as a float, None for NULL or NaN."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _opt_int(v: Any) -> int | None:
    f = optional_float(v)
    return None if f is None else round(f)


def declared_of(row: Mapping[str, Any] | None) -> Declared:
    """The declared values of a ``containers`` row (nothing declared for None)."""
    if row is None:
        return Declared()
    return Declared(
        cpu_request=optional_float(row.get("cpu_request")),
        cpu_limit=optional_float(row.get("cpu_limit")),
        memory_request=_opt_int(row.get("memory_request")),
        memory_limit=_opt_int(row.get("memory_limit")),
    )


def _median_or_one(values: FloatArray) -> float:
    """``np.nanmedian(values)`` (without its copy), or 1.0 when every value is NaN."""
    middle = nanmedian(values)
    return 1.0 if math.isnan(middle) else middle


def host_view(
    dataset: Dataset,
    usage: Usage,
    cont_wcode: IntArray,
    wnames: list[str],
    declared: list[Declared],
    keys: list[tuple[str, str]],
    last_ts: FloatArray,
    cpu_g: Any,
    mem_g: Any,
    recs: Mapping[str, Recommendation | None],
    row_of: Mapping[tuple[str, str], int],
    records: list[dict[str, Any]],
    t: Thresholds,
) -> list[HostSummary]:
    """Per host, the summary of the containers running at the end of the window."""
    frame = usage.frame
    ncont = len(keys)
    host_names = sorted({h for h, _ in keys})
    hidx = {h: i for i, h in enumerate(host_names)}
    cont_host = np.array([hidx[h] for h, _ in keys], dtype=np.int64)
    ts = frame["ts"].to_numpy()
    interval = frame["interval"].to_numpy()
    nh = len(host_names)
    starts = usage.starts
    if nh > 1:
        row_h = cont_host[usage.codes]
        width = np.array([_median_or_one(interval[row_h == i]) for i in range(nh)])
        del row_h
    else:
        width = np.array([_median_or_one(interval)])
    h_start = np.full(nh, np.inf)
    if ncont:
        np.minimum.at(h_start, cont_host, np.minimum.reduceat(ts, starts[:-1]))
    h_end = np.full(nh, -np.inf)
    np.maximum.at(h_end, cont_host, last_ts)
    cpu_peak, mem_peak = peak_of_sum(
        cont_host,
        usage.codes,
        ts,
        [frame["cpu"].to_numpy(), frame["memory"].to_numpy()],
        nh,
        width,
        h_start,
    )

    # per-container p95: the workload's when workloads and containers are 1:1
    if len(wnames) == ncont:
        c_cpu = cpu_g.quantiles[cont_wcode, 2]
        c_mem = mem_g.quantiles[cont_wcode, 2]
    else:
        c_cpu = grouped_stats(
            usage.codes, frame["cpu"].to_numpy(), ncont, quantiles=(0.95,)
        ).quantiles[:, 0]
        c_mem = grouped_stats(
            usage.codes, frame["memory"].to_numpy(), ncont, quantiles=(0.95,)
        ).quantiles[:, 0]

    live = last_ts >= h_end[cont_host] - t.gap_factor * width[cont_host]
    running: dict[str, list[HostContainer]] = {h: [] for h in host_names}
    for i, (h, cid) in enumerate(keys):
        if not live[i]:
            continue
        own = declared_of(records[row_of[(h, cid)]]) if (h, cid) in row_of else Declared()
        running[h].append(
            HostContainer(cid, wnames[cont_wcode[i]], own, float(c_cpu[i]), float(c_mem[i]))
        )
    host_rows = (
        {
            str(r["host"]): {str(k): v for k, v in r.items()}
            for r in dataset.hosts.to_dict("records")
        }
        if len(dataset.hosts)
        else {}
    )
    return host_summaries(
        host_rows,
        running,
        {h: float(cpu_peak[i]) for h, i in hidx.items()},
        {h: float(mem_peak[i]) for h, i in hidx.items()},
        recs,
    )
