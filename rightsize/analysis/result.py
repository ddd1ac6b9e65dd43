"""``analyze()``: from a :class:`~rightsize.store.Dataset` to an :class:`AnalysisResult`.

The pipeline, vectorised over all containers at once (no Python loop per
sample, one loop per workload only to call the strategy):

1. containers → workload names (:mod:`rightsize.analysis.workloads`);
   pause containers and workloads not matching ``workload`` are dropped;
2. per-interval usage (:mod:`rightsize.analysis.usage`);
3. pooled statistics per workload in one sort per resource;
4. findings (:mod:`rightsize.analysis.findings`) and a recommendation from
   the strategy registry for each workload;
5. the host view (:mod:`rightsize.analysis.hosts`).

Declared values of a workload are those of its most recently seen container.
The result renders as ``rightsize/v1`` JSON (:meth:`AnalysisResult.to_dict`),
as tidy DataFrames, and as an HTML table in Jupyter.
"""

from __future__ import annotations

import fnmatch
import functools
import html
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.analysis.findings import (
    OomKills,
    Throttling,
    workload_findings,
    worst_severity,
)
from rightsize.analysis.hosts import HostContainer, HostSummary, host_summaries, peak_of_sum
from rightsize.analysis.qos import with_qos_options
from rightsize.analysis.savings import Savings, replicas, total, workload_savings
from rightsize.analysis.strategies import get_strategy, recommend, resolve_params
from rightsize.analysis.strategies.base import History
from rightsize.analysis.strategies.in_effect import previous_for
from rightsize.analysis.thresholds import Thresholds
from rightsize.analysis.usage import Usage, container_codes, usage_series
from rightsize.analysis.workloads import ResourceStats, grouped_stats, workload_names
from rightsize.errors import RuntimeFailure
from rightsize.model import SEVERITIES, Declared, Finding, Recommendation, Severity
from rightsize.store import Dataset
from rightsize.units import format_cpu, format_memory, iso_utc

__all__ = ["SCHEMA", "AnalysisResult", "WorkloadResult", "analyze", "iso_utc"]

SCHEMA = "rightsize/v1"
#: an ``oom`` event this close before a ``die`` of the same container ended it
OOM_EXIT_WINDOW = 5.0
#: label prefixes that only repeat the workload identity (hidden in summaries)
IDENTITY_LABEL_PREFIXES = ("io.kubernetes.", "annotation.", "com.docker.compose.")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class WorkloadResult:
    """Everything rightsize concluded about one workload."""

    name: str
    containers: tuple[str, ...]
    container_names: tuple[str, ...]
    hosts: tuple[str, ...]
    images: tuple[str, ...]
    labels: Mapping[str, str]
    samples: int
    start: float
    end: float
    declared: Declared
    cpu: ResourceStats
    memory: ResourceStats
    throttling: Throttling
    oom: OomKills
    findings: tuple[Finding, ...]
    recommendation: Recommendation | None

    @property
    def oom_kills(self) -> int:
        return self.oom.kills

    @property
    def worst_severity(self) -> Severity | None:
        return worst_severity(self.findings)

    @property
    def display_labels(self) -> dict[str, str]:
        """Labels minus those that only repeat the workload identity."""
        return {k: v for k, v in self.labels.items() if not k.startswith(IDENTITY_LABEL_PREFIXES)}

    def to_dict(self) -> dict[str, Any]:
        """This workload as a ``rightsize/v1`` ``workloads[]`` entry."""
        return {
            "workload": self.name,
            "containers": list(self.containers),
            "labels": dict(self.labels),
            "samples": self.samples,
            "declared": self.declared.to_dict(),
            "usage": {
                "cpu": self.cpu.to_dict(),
                "memory": self.memory.to_dict(integer=True),
            },
            "throttling": self.throttling.to_dict(),
            "oom_kills": self.oom.kills,
            # extra: what the count rests on (kernel, counter, events, failcnt, state)
            "oom_evidence": self.oom.evidence,
            "findings": [f.to_dict() for f in self.findings],
            "recommendation": None
            if self.recommendation is None
            else self.recommendation.to_dict(),
            # extra (not required by rightsize/v1): how much history backs the numbers
            "coverage": {
                "start": iso_utc(self.start),
                "end": iso_utc(self.end),
                "seconds": round(self.cpu.duration, 3),
                "gaps": self.cpu.gaps,
                "hosts": list(self.hosts),
            },
        }


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """The outcome of :func:`analyze`.

    ``results`` holds one :class:`WorkloadResult` per workload (sorted by
    name; also reachable as ``result["name"]``), ``hosts`` the host view.
    DataFrame views: :attr:`workloads` (workload x resource), :attr:`findings`,
    :attr:`recommendations`, :attr:`usage` (tidy per interval). :attr:`savings`
    and :attr:`total_savings`: the change in requests the recommendations make
    (see :mod:`rightsize.analysis.savings`).
    """

    results: tuple[WorkloadResult, ...]
    hosts: tuple[HostSummary, ...]
    window: tuple[float, float] | None
    strategy: str
    params: Mapping[str, float]
    source: Mapping[str, Any]
    thresholds: Thresholds
    generated_at: float
    usage_frame: pd.DataFrame = field(repr=False)
    histories: Mapping[str, History] = field(repr=False)

    def __iter__(self) -> Iterator[WorkloadResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __contains__(self, name: object) -> bool:
        """``"web" in result``: whether a workload of that name was analysed."""
        return any(r.name == name for r in self.results)

    def __getitem__(self, name: str) -> WorkloadResult:
        """The workload called ``name``; :class:`~rightsize.errors.UnknownWorkload` if none."""
        for r in self.results:
            if r.name == name:
                return r
        from rightsize.errors import UnknownWorkload

        raise UnknownWorkload(str(name), [r.name for r in self.results])

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.results]

    @functools.cached_property
    def savings(self) -> dict[str, Savings]:
        """Per workload, the change in requests (x replicas running at the end) and money."""
        counts = replicas(self.usage_frame)
        prices = self.thresholds.prices
        return {
            r.name: workload_savings(r.declared, r.recommendation, counts.get(r.name, 1), prices)
            for r in self.results
        }

    @property
    def total_savings(self) -> Savings:
        """The change in requests over every workload: freed, added, net (and money)."""
        return total(self.savings.values(), self.thresholds.prices)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity (every severity present, possibly 0)."""
        out: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        for r in self.results:
            for f in r.findings:
                out[f.severity] += 1
        return out

    @property
    def worst_severity(self) -> Severity | None:
        return worst_severity([f for r in self.results for f in r.findings])

    # ---------------------------------------------------------------- frames

    @property
    def usage(self) -> pd.DataFrame:
        """Tidy per-interval usage with a ``workload`` column (see :mod:`.usage`)."""
        return self.usage_frame

    @property
    def findings(self) -> pd.DataFrame:
        """One row per finding: workload, kind, severity, resource, message."""
        rows = [{"workload": r.name, **f.to_dict()} for r in self.results for f in r.findings]
        return pd.DataFrame(rows, columns=["workload", "kind", "severity", "resource", "message"])

    @property
    def recommendations(self) -> pd.DataFrame:
        """One row per workload: declared and recommended values, confidence, QoS class."""
        keys = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
        rows = []
        for r in self.results:
            row: dict[str, Any] = {"workload": r.name}
            rec = r.recommendation
            for k in keys:
                row[f"declared_{k}"] = getattr(r.declared, k)
                row[k] = None if rec is None else getattr(rec, k)
            row["confidence"] = None if rec is None else rec.confidence
            row["qos"] = None if rec is None else rec.qos
            row["notes"] = "" if rec is None else "; ".join(rec.notes)
            rows.append(row)
        cols = [
            "workload",
            *(x for k in keys for x in (f"declared_{k}", k)),
            "confidence",
            "qos",
            "notes",
        ]
        frame = pd.DataFrame(rows, columns=cols)
        for c in cols[1:-2]:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        return frame

    @property
    def workloads(self) -> pd.DataFrame:
        """One row per workload x resource (cores / bytes), with findings."""
        rows = []
        for r in self.results:
            rec = r.recommendation
            for resource, stats in (("cpu", r.cpu), ("memory", r.memory)):
                rows.append(
                    {
                        "workload": r.name,
                        "resource": resource,
                        "request": getattr(r.declared, f"{resource}_request"),
                        "limit": getattr(r.declared, f"{resource}_limit"),
                        "p50": stats.p50,
                        "p90": stats.p90,
                        "p95": stats.p95,
                        "p99": stats.p99,
                        "max": stats.max,
                        "mean": stats.mean,
                        "samples": stats.samples,
                        "recommended_request": None
                        if rec is None
                        else getattr(rec, f"{resource}_request"),
                        "recommended_limit": None
                        if rec is None
                        else getattr(rec, f"{resource}_limit"),
                        "worst_severity": worst_severity(
                            [f for f in r.findings if f.resource in (resource, None)]
                        ),
                        "findings": ";".join(
                            f.kind for f in r.findings if f.resource in (resource, None)
                        ),
                    }
                )
        frame = pd.DataFrame(rows, columns=list(_WORKLOAD_COLUMNS))
        for c in ("request", "limit", "recommended_request", "recommended_limit"):
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        return frame

    # ---------------------------------------------------------------- output

    def to_dict(self) -> dict[str, Any]:
        """The ``rightsize/v1`` JSON document (product.md) as plain Python data."""
        start, end = self.window if self.window else (math.nan, math.nan)
        return {
            "schema": SCHEMA,
            "generated_at": iso_utc(self.generated_at),
            "window": {"start": iso_utc(start), "end": iso_utc(end)},
            "source": dict(self.source),
            "strategy": {"name": self.strategy, "params": dict(self.params)},
            "workloads": [
                {**r.to_dict(), "savings": self.savings[r.name].to_dict(with_replicas=True)}
                for r in self.results
            ],
            "hosts": [h.to_dict() for h in self.hosts],
            "savings": self.total_savings.to_dict(),
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        counts = self.counts
        start, end = self.window if self.window else (math.nan, math.nan)
        head = (
            f"<p><b>rightsize</b>: {len(self.results)} workloads, "
            f"{esc(str(iso_utc(start)))} to {esc(str(iso_utc(end)))}, "
            f"strategy <code>{esc(self.strategy)}</code>; "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + "</p>"
        )
        cols = (
            "workload",
            "containers",
            "labels",
            "CPU request / limit",
            "CPU p95",
            "CPU recommended",
            "memory request / limit",
            "memory max",
            "memory recommended",
            "worst",
            "findings",
        )
        body = []
        for r in self.results:
            d, rec = r.declared, r.recommendation
            labels = "<br>".join(f"{esc(k)}={esc(v)}" for k, v in sorted(r.display_labels.items()))
            cells = [
                esc(r.name),
                str(len(r.containers)),
                labels,
                f"{format_cpu(d.cpu_request)} / {format_cpu(d.cpu_limit)}",
                format_cpu(r.cpu.p95 if r.cpu.known else None),
                _rec_pair(rec, "cpu"),
                f"{format_memory(d.memory_request)} / {format_memory(d.memory_limit)}",
                format_memory(r.memory.max if r.memory.known else None),
                _rec_pair(rec, "memory"),
                esc(r.worst_severity or "-"),
                esc(", ".join(f"{f.kind}({f.resource or '-'})" for f in r.findings)),
            ]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        thead = "<tr>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"
        return f"{head}<table><thead>{thead}</thead><tbody>{''.join(body)}</tbody></table>"


_WORKLOAD_COLUMNS = (
    "workload",
    "resource",
    "request",
    "limit",
    "p50",
    "p90",
    "p95",
    "p99",
    "max",
    "mean",
    "samples",
    "recommended_request",
    "recommended_limit",
    "worst_severity",
    "findings",
)


def _rec_pair(rec: Recommendation | None, resource: str) -> str:
    if rec is None:
        return "-"
    fmt = format_cpu if resource == "cpu" else format_memory
    return f"{fmt(getattr(rec, f'{resource}_request'))} / {fmt(getattr(rec, f'{resource}_limit'))}"


# --------------------------------------------------------------------------- analyze


def _opt_float(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _opt_int(v: Any) -> int | None:
    f = _opt_float(v)
    return None if f is None else round(f)


def _declared(row: Mapping[str, Any] | None) -> Declared:
    if row is None:
        return Declared()
    return Declared(
        cpu_request=_opt_float(row.get("cpu_request")),
        cpu_limit=_opt_float(row.get("cpu_limit")),
        memory_request=_opt_int(row.get("memory_request")),
        memory_limit=_opt_int(row.get("memory_limit")),
    )


def _select(
    samples: pd.DataFrame, allowed: set[tuple[str, str]], all_keys: set[tuple[str, str]]
) -> pd.DataFrame:
    """The samples of the ``allowed`` (host, container_id) pairs."""
    if allowed == all_keys:
        return samples
    ids = {c for _, c in allowed}
    mask = samples["container_id"].isin(ids).to_numpy()
    ambiguous = ids & {c for _, c in all_keys - allowed}
    if ambiguous:
        pairs = pd.MultiIndex.from_arrays([samples["host"], samples["container_id"]])
        mask &= pairs.isin(list(allowed))
    return samples[mask].reset_index(drop=True)


def _oom_exits(events: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Per container, ``die`` events that came within seconds after an ``oom``."""
    out: dict[tuple[str, str], int] = {}
    if events.empty:
        return out
    ev = events[events["action"].isin(("oom", "oom_kill", "die"))]
    for (host, cid), g in ev.groupby(["host", "container_id"], sort=False):
        acts = g["action"].to_numpy(dtype=object)
        ts = g["ts"].to_numpy(dtype=np.float64)
        ooms = np.sort(ts[acts != "die"])
        if not ooms.size:
            continue
        dies = ts[acts == "die"]
        i = np.searchsorted(ooms, dies, side="right") - 1
        ok = (i >= 0) & (dies - ooms[np.maximum(i, 0)] <= OOM_EXIT_WINDOW)
        out[(str(host), str(cid))] = int(ok.sum())
    return out


def _sufficiency(strategy: str, t: Thresholds) -> dict[str, float]:
    """The one insufficient-data rule (``t``) as the strategy's parameters, where it has them."""
    defaults = get_strategy(strategy).defaults
    out: dict[str, float] = {}
    if "min_samples" in defaults:
        out["min_samples"] = float(t.min_samples)
    if "min_hours" in defaults:
        out["min_hours"] = t.min_duration / 3600
    return out


def _min_max_per_group(
    first: FloatArray, last: FloatArray, groups: IntArray, n: int
) -> tuple[FloatArray, FloatArray]:
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, groups, first)
    np.maximum.at(hi, groups, last)
    return lo, hi


def analyze(
    dataset: Dataset,
    *,
    strategy: str = "rightsize",
    params: Mapping[str, float] | None = None,
    thresholds: Thresholds | None = None,
    workload: str | None = None,
    source: Mapping[str, Any] | None = None,
    last: Mapping[str, Recommendation] | None = None,
) -> AnalysisResult:
    """Findings, statistics and recommendations for every workload in ``dataset``.

    ``last``: the last recommendation per workload from the report history
    (:func:`~rightsize.analysis.strategies.in_effect.last_recommendations`);
    with the declared values it is the recommendation in effect the strategy's
    hysteresis keeps when its new estimate is close.

    ``strategy``/``params``: the recommendation strategy and parameter overrides
    (unknown names raise UsageError). ``workload``: an fnmatch pattern on
    workload names. ``source``: what the data came from, for the JSON
    ``source`` block (default: ``{"kind": "store", "hosts": [...]}``).
    Raises RuntimeFailure when no samples are left.
    """
    t = thresholds or Thresholds()
    resolved = resolve_params(strategy, {**_sufficiency(strategy, t), **(params or {})})
    samples, containers, events = dataset.samples, dataset.containers, dataset.events

    # 1. workload of every container, and the containers to keep
    cont = containers.reset_index(drop=True)
    wl_names = workload_names(cont) if len(cont) else pd.Series([], dtype=object)
    table_keys = list(zip(cont["host"].astype(str), cont["container_id"].astype(str), strict=True))
    name_of: dict[tuple[str, str], str | None] = dict(
        zip(table_keys, wl_names.tolist(), strict=True)
    )
    row_of = {k: i for i, k in enumerate(table_keys)}

    if samples.empty:
        raise RuntimeFailure("no samples in the window: nothing to analyze")
    sample_codes = container_codes(samples)
    sample_keys = set(sample_codes[1])
    for key in sample_keys - name_of.keys():
        name_of[key] = key[1][:12]
    allowed = {
        k
        for k in sample_keys
        if name_of[k] is not None
        and (workload is None or fnmatch.fnmatchcase(str(name_of[k]), workload))
    }
    if not allowed:
        if workload is not None:
            known = sorted({str(name_of[k]) for k in sample_keys if name_of[k] is not None})
            raise RuntimeFailure(
                f"no workload matches {workload!r}; known workloads: "
                + (", ".join(known[:20]) + (" …" if len(known) > 20 else "") or "none")
            )
        raise RuntimeFailure("no samples of any workload in the window: nothing to analyze")
    all_samples = allowed == sample_keys
    samples = _select(samples, allowed, sample_keys)

    # 2. per-interval usage
    hosts_frame = dataset.hosts
    v1_hosts = set(
        hosts_frame.loc[hosts_frame["cgroup_version"].astype(str) == "1", "host"].astype(str)
    )
    failcnt_hosts = {h for h, _ in allowed} - v1_hosts
    usage = usage_series(
        samples,
        events,
        gap_factor=t.gap_factor,
        failcnt_hosts=failcnt_hosts,
        known=sample_codes if all_samples else None,
    )
    keys = usage.keys
    ncont = len(keys)

    # 3. container → workload codes (workloads sorted by name)
    cont_wl = np.array([str(name_of[k]) for k in keys], dtype=object)
    wcodes, wnames_idx = pd.factorize(cont_wl, sort=True)
    wnames = [str(x) for x in wnames_idx]
    nwl = len(wnames)
    cont_wcode = wcodes.astype(np.int64)
    row_w = cont_wcode[usage.codes]
    frame = usage.frame
    ts = frame["ts"].to_numpy()
    cpu = frame["cpu"].to_numpy()
    mem = frame["memory"].to_numpy()
    interval = frame["interval"].to_numpy()

    nsamples = np.bincount(row_w, minlength=nwl)

    # rows grouped by workload, by time (for the histories and a fast per-group sort)
    order: IntArray | None = None
    if np.any(row_w[1:] < row_w[:-1]) or np.any((row_w[1:] == row_w[:-1]) & (ts[1:] < ts[:-1])):
        order = np.lexsort((ts, row_w))
    wstarts = np.concatenate(([0], np.cumsum(nsamples))).astype(np.int64)
    throttled = frame["throttled_share"].to_numpy()
    cols = [ts, cpu, mem, interval, throttled]
    if order is not None:
        cols = [a[order] for a in cols]
    s_ts, s_cpu, s_mem, s_int, s_thr = cols
    s_w = row_w if order is None else row_w[order]
    cpu_g = grouped_stats(s_w, s_cpu, nwl, interval=s_int)
    mem_g = grouped_stats(s_w, s_mem, nwl, interval=s_int)
    starts = usage.starts
    first_ts = np.minimum.reduceat(ts, starts[:-1]) if ncont else np.empty(0)
    last_ts = np.maximum.reduceat(ts, starts[:-1]) if ncont else np.empty(0)
    wl_start, wl_end = _min_max_per_group(first_ts, last_ts, cont_wcode, nwl)

    gap_w = np.zeros(nwl, dtype=np.int64)
    if len(usage.gaps):
        code_of = {k: i for i, k in enumerate(keys)}
        for h, c in zip(usage.gaps["host"], usage.gaps["container_id"], strict=True):
            gap_w[cont_wcode[code_of[(str(h), str(c))]]] += 1

    def nsum(col: str) -> FloatArray:
        weights = np.nan_to_num(frame[col].to_numpy(dtype=np.float64))
        return np.bincount(row_w, weights=weights, minlength=nwl).astype(np.float64)

    periods, tperiods, tseconds = (
        nsum("periods"),
        nsum("throttled_periods"),
        nsum("throttled_seconds"),
    )

    # declared values: the most recently seen container of each workload
    records: list[dict[str, Any]] = (
        [{str(k): v for k, v in r.items()} for r in cont.to_dict("records")] if len(cont) else []
    )
    last_seen = np.array(
        [
            _opt_float(records[row_of[k]].get("last_seen")) or 0.0 if k in row_of else -math.inf
            for k in keys
        ],
        dtype=np.float64,
    )
    latest = np.full(nwl, -1, dtype=np.int64)
    best = np.full(nwl, -math.inf)
    for i in range(ncont):
        w = cont_wcode[i]
        if latest[w] < 0 or last_seen[i] >= best[w]:
            latest[w], best[w] = i, last_seen[i]
    declared = [
        _declared(records[row_of[keys[latest[w]]]] if keys[latest[w]] in row_of else None)
        for w in range(nwl)
    ]

    # share of memory samples above the high-water mark of the memory limit
    mlimit = np.array([d.memory_limit or np.nan for d in declared], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        above = mem >= t.oom_risk_high_water * mlimit[row_w]
    above_n = np.bincount(row_w, weights=above.astype(np.float64), minlength=nwl)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_above = np.where(mem_g.count > 0, above_n / np.maximum(mem_g.count, 1), np.nan)

    # OOM kills
    exits = _oom_exits(events)
    code_of_key = {k: i for i, k in enumerate(keys)}
    signals = ("kernel", "counter", "event", "failcnt")
    oom_by = {signal: np.zeros(nwl, dtype=np.int64) for signal in signals}
    oom_ts: list[list[float]] = [[] for _ in range(nwl)]
    counted: set[tuple[str, str]] = set()
    for h, c, when, kills, signal in usage.ooms.itertuples(index=False):
        k = (str(h), str(c))
        ci = code_of_key.get(k)
        if ci is None:
            continue
        w = cont_wcode[ci]
        counted.add(k)
        oom_by[str(signal)][w] += int(kills)
        oom_ts[w].extend([float(when)] * int(kills))
    oom_state = np.zeros(nwl, dtype=np.int64)
    oom_exit = np.zeros(nwl, dtype=np.int64)
    for i, k in enumerate(keys):
        w = cont_wcode[i]
        oom_exit[w] += exits.get(k, 0)
        if k not in counted and k in row_of and bool(cont.at[row_of[k], "oom_killed"]):
            oom_state[w] += 1
            oom_ts[w].append(float(last_ts[i]))

    # 4. findings and recommendations, one workload at a time
    cont_ids = [[] for _ in range(nwl)]  # type: list[list[int]]
    for i in range(ncont):
        cont_ids[cont_wcode[i]].append(i)

    results: list[WorkloadResult] = []
    histories: dict[str, History] = {}
    recs: dict[str, Recommendation | None] = {}
    for w, name in enumerate(wnames):
        lo, hi = int(wstarts[w]), int(wstarts[w + 1])
        members = cont_ids[w]
        hist = History(
            ts=s_ts[lo:hi],
            cpu=s_cpu[lo:hi],
            memory=s_mem[lo:hi],
            interval=s_int[lo:hi],
            throttled=s_thr[lo:hi],
            oom_ts=np.sort(np.asarray(oom_ts[w], dtype=np.float64)),
            declared=declared[w],
            containers=len(members),
        )
        histories[name] = hist
        hist = replace(hist, previous=previous_for(name, declared[w], last))
        cpu_s = cpu_g.row(w, int(gap_w[w]))
        mem_s = mem_g.row(w, int(gap_w[w]))
        rec = with_qos_options(recommend(strategy, hist, resolved), cpu_s)
        recs[name] = rec
        thr = Throttling(int(periods[w]), int(tperiods[w]), float(tseconds[w]))
        kills = sum(int(v[w]) for v in oom_by.values()) + int(oom_state[w])
        oom = OomKills(
            kills=kills,
            exits=min(int(oom_exit[w]), kills),
            from_events=int(oom_by["event"][w]),
            from_failcnt=int(oom_by["failcnt"][w]),
            from_state=int(oom_state[w]),
            from_kernel=int(oom_by["kernel"][w]),
            from_counter=int(oom_by["counter"][w]),
        )
        span = float(wl_end[w] - wl_start[w])
        findings = workload_findings(
            declared=declared[w],
            cpu=cpu_s,
            memory=mem_s,
            throttling=thr,
            oom=oom,
            memory_share_above=float(share_above[w]),
            samples=int(nsamples[w]),
            span=span,
            thresholds=t,
            recommendation=rec,
        )
        member_rows = [records[row_of[keys[i]]] for i in members if keys[i] in row_of]
        label_sets = [r["labels"] for r in member_rows if isinstance(r.get("labels"), Mapping)]
        labels: dict[str, str] = dict(label_sets[0]) if label_sets else {}
        for other in label_sets[1:]:
            labels = {k: v for k, v in labels.items() if other.get(k) == v}
        results.append(
            WorkloadResult(
                name=name,
                containers=tuple(keys[i][1] for i in members),
                container_names=tuple(str(r.get("name", "")) for r in member_rows),
                hosts=tuple(sorted({keys[i][0] for i in members})),
                images=tuple(sorted({str(r.get("image", "")) for r in member_rows} - {""})),
                labels=labels,
                samples=int(nsamples[w]),
                start=float(wl_start[w]),
                end=float(wl_end[w]),
                declared=declared[w],
                cpu=cpu_s,
                memory=mem_s,
                throttling=thr,
                oom=oom,
                findings=tuple(findings),
                recommendation=rec,
            )
        )

    # 5. hosts
    host_summary = _hosts(
        dataset,
        usage,
        cont_wcode,
        wnames,
        declared,
        keys,
        last_ts,
        cpu_g,
        mem_g,
        recs,
        row_of,
        records,
        t,
    )

    window = (float(ts.min()), float(ts.max()))
    src: dict[str, Any] = dict(source) if source is not None else {"kind": "store"}
    if "hosts" not in src:
        src["hosts"] = sorted({h for h, _ in allowed})
    out_frame = frame.assign(
        workload=pd.Categorical.from_codes(row_w, dtype=pd.CategoricalDtype(wnames))
    )
    return AnalysisResult(
        results=tuple(results),
        hosts=tuple(host_summary),
        window=window,
        strategy=strategy,
        params=resolved,
        source=src,
        thresholds=t,
        generated_at=time.time(),
        usage_frame=out_frame,
        histories=histories,
    )


def _hosts(
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
    frame = usage.frame
    ncont = len(keys)
    host_names = sorted({h for h, _ in keys})
    hidx = {h: i for i, h in enumerate(host_names)}
    cont_host = np.array([hidx[h] for h, _ in keys], dtype=np.int64)
    row_h = cont_host[usage.codes]
    ts = frame["ts"].to_numpy()
    interval = frame["interval"].to_numpy()
    nh = len(host_names)
    width = (
        np.array(
            [
                float(np.nanmedian(interval[row_h == i]))
                if np.any(~np.isnan(interval[row_h == i]))
                else 1.0
                for i in range(nh)
            ]
        )
        if nh > 1
        else np.array([float(np.nanmedian(interval)) if np.any(~np.isnan(interval)) else 1.0])
    )
    h_start = np.full(nh, np.inf)
    np.minimum.at(h_start, row_h, ts)
    h_end = np.full(nh, -np.inf)
    np.maximum.at(h_end, cont_host, last_ts)
    cpu_peak, mem_peak = peak_of_sum(
        row_h,
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
        own = _declared(records[row_of[(h, cid)]]) if (h, cid) in row_of else Declared()
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
