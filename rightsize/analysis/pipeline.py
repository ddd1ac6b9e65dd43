"""``analyze()``: from a :class:`~rightsize.store.Dataset` to an
:class:`~rightsize.analysis.result.AnalysisResult`.

The pipeline, vectorised over all containers at once (no Python loop per
sample; the strategy sizes every workload at once when it has a batch form):

1. containers → workload names (:mod:`rightsize.analysis.workloads`);
   pause containers and workloads not matching ``workload`` are dropped;
2. per-interval usage (:mod:`rightsize.analysis.usage`);
3. pooled statistics per workload in one sort per resource;
4. recommendations from the strategy registry (one :class:`Pool` of every
   workload's history), then findings (:mod:`rightsize.analysis.findings`);
5. the host view (:mod:`rightsize.analysis.hosts`).

Declared values of a workload are those of its most recently seen container.
The result types and their ``rightsize/v1`` JSON are in
:mod:`rightsize.analysis.result`.

One piece: the steps hand each other the same container codes, workload codes
and time-sorted arrays, built once; apart, each step would rebuild them.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.analysis.findings import OomKills, Throttling, workload_findings
from rightsize.analysis.hosts import declared_of, host_view, optional_float
from rightsize.analysis.parallel import map_blocks
from rightsize.analysis.qos import with_qos_options
from rightsize.analysis.result import AnalysisResult, WorkloadResult
from rightsize.analysis.strategies import get_strategy, recommend_pool, resolve_params
from rightsize.analysis.strategies.base import Pool, PoolHistories
from rightsize.analysis.strategies.in_effect import previous_for
from rightsize.analysis.strategies.segments import pool_order
from rightsize.analysis.thresholds import Thresholds
from rightsize.analysis.usage import container_codes, usage_series
from rightsize.analysis.workloads import grouped_stats, workload_names
from rightsize.errors import RuntimeFailure
from rightsize.model import Recommendation
from rightsize.store import Dataset

__all__ = ["OOM_EXIT_WINDOW", "analyze", "oom_exit_times"]

#: an ``oom`` event this close before a ``die`` of the same container ended it
OOM_EXIT_WINDOW = 5.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: rows per block of the per-workload sums (the same whatever the threads; two blocks
#: in flight hold what one of 2^20 rows did)
_SUM_BLOCK_ROWS = 1 << 19


def _sums(codes: npt.NDArray[np.int32], columns: list[Callable[[slice], FloatArray]],
          n: int) -> list[FloatArray]:
    """Per code, the sum of each column's known values (a column: its values in a slice
    of rows), in blocks on a few threads (no full-length copy). The blocks are the same
    whatever the threads, and added in row order, so the sums are too."""
    spans = [slice(lo, lo + _SUM_BLOCK_ROWS) for lo in range(0, codes.size, _SUM_BLOCK_ROWS)]

    def block_sums(rows: slice) -> list[FloatArray]:
        block = codes[rows].astype(np.intp)  # once for every column
        return [np.bincount(block, weights=np.nan_to_num(values(rows)),
                            minlength=n).astype(np.float64, copy=False) for values in columns]

    out = [np.zeros(n, dtype=np.float64) for _ in columns]
    for part in map_blocks(block_sums, spans):
        for total, got in zip(out, part, strict=True):
            total += got
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts (``to_dict("records")``'s values, 5x faster)."""
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, row, strict=True))
            for row in zip(*(frame[c].tolist() for c in frame.columns), strict=True)]


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


def oom_exit_times(events: pd.DataFrame) -> dict[tuple[str, str], FloatArray]:
    """Per container with an OOM, the times of its ``die`` events that came within
    :data:`OOM_EXIT_WINDOW` seconds after one (the kills that ended the container)."""
    out: dict[tuple[str, str], FloatArray] = {}
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
        out[(str(host), str(cid))] = dies[ok]
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
    exclude: Sequence[str] = (),
    source: Mapping[str, Any] | None = None,
    last: Mapping[str, Recommendation] | None = None,
    reuse_inputs: bool = False,
) -> AnalysisResult:
    """Findings, statistics and recommendations for every workload in ``dataset``.

    ``last``: the last recommendation per workload from the report history
    (:func:`~rightsize.analysis.strategies.in_effect.last_recommendations`);
    with the declared values it is the recommendation in effect the strategy's
    hysteresis keeps when its new estimate is close.

    ``strategy``/``params``: the recommendation strategy and parameter overrides
    (unknown names raise UsageError). ``workload``: an fnmatch pattern on
    workload names; ``exclude``: fnmatch patterns of workloads left out (the
    config's ``exclude``), applied after ``workload``. ``source``: what the
    data came from, for the JSON ``source`` block (default: ``{"kind": "store", "hosts": [...]}``).
    ``reuse_inputs``: ``dataset`` is the caller's own and read no more, so its counter
    columns may hold the per-interval results (see :func:`usage_series`) and its
    ``cpu_peak`` column is dropped once read.
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
    kept = {k for k in allowed
            if not any(fnmatch.fnmatchcase(str(name_of[k]), p) for p in exclude)}
    if allowed and not kept:
        raise RuntimeFailure(
            "every workload in the window is excluded by the config's exclude "
            f"({', '.join(exclude)}): nothing to analyze"
        )
    allowed = kept
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
        reuse_inputs=reuse_inputs,
    )
    keys = usage.keys
    ncont = len(keys)

    # 3. container → workload codes (workloads sorted by name)
    cont_wl = np.array([str(name_of[k]) for k in keys], dtype=object)
    wcodes, wnames_idx = pd.factorize(cont_wl, sort=True)
    wnames = [str(x) for x in wnames_idx]
    nwl = len(wnames)
    cont_wcode = wcodes.astype(np.int64)
    peak_top = None
    if "cpu_peak" in samples.columns and len(samples) == len(usage.frame):
        # folded samples (rollups): the highest rate inside a bucket is the true maximum
        row_codes = sample_codes[0] if all_samples else container_codes(samples)[0]
        per_container = np.full(ncont, -np.inf)
        np.fmax.at(per_container, row_codes, samples["cpu_peak"].to_numpy(dtype=np.float64))
        peak_top = np.full(nwl, -np.inf)
        np.fmax.at(peak_top, cont_wcode, per_container)
        if reuse_inputs:  # read no more: its memory serves what follows
            del samples["cpu_peak"]
    row_w = cont_wcode.astype(np.int32)[usage.codes]  # int32: 4 bytes a row
    frame = usage.frame
    ts = frame["ts"].to_numpy()
    cpu = frame["cpu"].to_numpy()
    mem = frame["memory"].to_numpy()
    interval = frame["interval"].to_numpy()

    # per container first: a bincount of the int32 rows would copy them to int64
    nsamples = np.bincount(cont_wcode, weights=np.diff(usage.starts),
                           minlength=nwl).astype(np.int64)

    # rows grouped by workload, by time (for the histories and a fast per-group sort)
    order = pool_order(row_w, ts)
    wstarts = np.concatenate(([0], np.cumsum(nsamples))).astype(np.int64)
    throttled = frame["throttled_share"].to_numpy()
    cols = [ts, cpu, mem, interval, throttled]
    if order is not None:
        cols = [a[order] for a in cols]
    s_ts, s_cpu, s_mem, s_int, s_thr = cols
    s_w = row_w if order is None else row_w[order]
    cpu_g = grouped_stats(s_w, s_cpu, nwl, interval=s_int)
    mem_g = grouped_stats(s_w, s_mem, nwl, interval=s_int)
    if peak_top is not None:
        cpu_g.max[:] = np.fmax(cpu_g.max, np.where(np.isfinite(peak_top), peak_top, np.nan))
    starts = usage.starts
    first_ts = np.minimum.reduceat(ts, starts[:-1]) if ncont else np.empty(0)
    last_ts = np.maximum.reduceat(ts, starts[:-1]) if ncont else np.empty(0)
    wl_start, wl_end = _min_max_per_group(first_ts, last_ts, cont_wcode, nwl)

    gap_w = np.zeros(nwl, dtype=np.int64)
    if len(usage.gaps):
        code_of = {k: i for i, k in enumerate(keys)}
        for h, c in zip(usage.gaps["host"], usage.gaps["container_id"], strict=True):
            gap_w[cont_wcode[code_of[(str(h), str(c))]]] += 1

    def rows_of(values: FloatArray) -> Callable[[slice], FloatArray]:
        return lambda rows: values[rows]

    periods, tperiods, tseconds = _sums(
        row_w, [rows_of(frame[c].to_numpy(dtype=np.float64))
                for c in ("periods", "throttled_periods", "throttled_seconds")], nwl)

    # declared values: the most recently seen container of each workload
    records = _records(cont)
    last_seen = np.array(
        [
            optional_float(records[row_of[k]].get("last_seen")) or 0.0 if k in row_of else -math.inf
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
        declared_of(records[row_of[keys[latest[w]]]] if keys[latest[w]] in row_of else None)
        for w in range(nwl)
    ]

    # share of memory samples above the high-water mark of the memory limit
    mlimit = np.array([d.memory_limit or np.nan for d in declared], dtype=np.float64)

    def above(rows: slice) -> FloatArray:
        with np.errstate(invalid="ignore"):
            high = mem[rows] >= t.oom_risk_high_water * mlimit[row_w[rows]]
        return high.astype(np.float64)

    (above_n,) = _sums(row_w, [above], nwl)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_above = np.where(mem_g.count > 0, above_n / np.maximum(mem_g.count, 1), np.nan)

    # OOM kills
    exits = {k: len(v) for k, v in oom_exit_times(events).items()}
    code_of_key = {k: i for i, k in enumerate(keys)}
    signals = ("kernel", "counter", "event", "failcnt")
    oom_by = {signal: np.zeros(nwl, dtype=np.int64) for signal in signals}
    oom_ts: list[list[float]] = [[] for _ in range(nwl)]
    # the memory limit of the container each kill hit (NaN: unknown), so a limit
    # raised after the kill is not bumped again (rightsize.analysis.strategies.rightsize)
    oom_lim: list[list[float]] = [[] for _ in range(nwl)]
    limit_of: dict[tuple[str, str], float] = {}

    def container_limit(k: tuple[str, str]) -> float:
        if k not in limit_of:
            lim = declared_of(records[row_of[k]]).memory_limit if k in row_of else None
            limit_of[k] = float(lim) if lim else math.nan
        return limit_of[k]

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
        oom_lim[w].extend([container_limit(k)] * int(kills))
    oom_state = np.zeros(nwl, dtype=np.int64)
    oom_exit = np.zeros(nwl, dtype=np.int64)
    killed = cont["oom_killed"].to_numpy(dtype=bool) if len(cont) else np.zeros(0, dtype=bool)
    for i, k in enumerate(keys):
        w = cont_wcode[i]
        oom_exit[w] += exits.get(k, 0)
        if k not in counted and k in row_of and bool(killed[row_of[k]]):
            oom_state[w] += 1
            oom_ts[w].append(float(last_ts[i]))
            oom_lim[w].append(container_limit(k))

    # 4. recommendations for every workload at once, then findings workload by workload
    cont_ids = [[] for _ in range(nwl)]  # type: list[list[int]]
    for i in range(ncont):
        cont_ids[cont_wcode[i]].append(i)
    kill_order = [np.argsort(np.asarray(v, dtype=np.float64), kind="stable") for v in oom_ts]
    oom_arrays = [np.asarray(v, dtype=np.float64)[o]
                  for v, o in zip(oom_ts, kill_order, strict=True)]
    oom_limits = [np.asarray(v, dtype=np.float64)[o]
                  for v, o in zip(oom_lim, kill_order, strict=True)]
    pool = Pool(ts=s_ts, cpu=s_cpu, memory=s_mem, interval=s_int, throttled=s_thr,
                starts=wstarts, oom_ts=oom_arrays, declared=declared,
                previous=[previous_for(name, declared[w], last) for w, name in enumerate(wnames)],
                containers=[len(m) for m in cont_ids], oom_limit=oom_limits)
    pooled = recommend_pool(strategy, pool, resolved)

    results: list[WorkloadResult] = []
    recs: dict[str, Recommendation | None] = {}
    for w, name in enumerate(wnames):
        members = cont_ids[w]
        cpu_s = cpu_g.row(w, int(gap_w[w]))
        mem_s = mem_g.row(w, int(gap_w[w]))
        rec = with_qos_options(pooled[w], cpu_s)
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
    host_summary = host_view(
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
        histories=PoolHistories(pool, wnames),
    )
