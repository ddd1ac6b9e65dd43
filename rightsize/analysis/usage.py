"""Per-interval usage from cumulative counters, vectorised over all containers.

:func:`usage_series` turns the store's ``samples`` (one row per reading) into
one tidy row per reading with the rates over the interval that *ends* at it:

- ``cpu`` (cores) = Δcpu_total_ns / Δts / 1e9. NaN for a container's first
  reading (no predecessor), for a counter that went down (a restart: the
  interval holding the reset is dropped, never counted from zero), for an
  interval holding a ``start``/``restart`` event of the container (a reset
  the counter alone may not show), for Δts ≤ 0 (clock steps, duplicates)
  and for gaps. Imported rate data (``cpu_cores`` set, no counter) is used
  as is. Never negative.
- a **gap** is an interval longer than ``gap_factor`` x the container's
  median interval: nothing is averaged across it, it is listed in
  :attr:`Usage.gaps`.
- ``memory`` = the working set at the reading (valid on every row).
- ``throttled_share`` = Δthrottled_periods / Δperiods (NaN when Δperiods = 0,
  i.e. no quota or nothing runnable); ``throttled_seconds`` = Δthrottled_ns / 1e9;
  ``periods`` and ``throttled_periods`` are the deltas. Same drop rules as CPU.
- ``oom_kills``: OOM kills attributed to the interval (the one that ends at
  the first reading at or after the kill), from the best evidence at hand:

  1. ``kernel``: growth of ``oom_kills_total``, the memory cgroup's own
     ``oom_kill`` counter read beside each stats frame, over an interval
     where both readings have it and no (re)start lies between them. Engine
     ``oom`` events inside such an interval are not counted again.
  2. ``counter``: ``oom_kill`` events, one per kill counted by an imported
     ``oom_kills_total``.
  3. ``event``: the engine's ``oom`` events elsewhere (the interval holding a
     restart, after the last reading, hosts whose counter is not readable),
     **one kill per burst**: the engine relays every wake-up of the cgroup's
     OOM notifier, dozens within 100 ms for one kill, so events less than
     :data:`OOM_BURST` seconds apart are one kill.
  4. ``failcnt``: for containers with none of the above, growth of
     ``mem_failcnt`` on hosts where that counter counts OOMs (cgroup v2:
     ``memory.events`` oom).

Rows come out grouped by container (host, container_id) in input order
within a container; the store already sorts them by time.

One piece: rates, gaps, throttling and OOM attribution are one vectorised
pass over the same sorted intervals; splitting it would sort twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.analysis.parallel import map_blocks, per_thread
from rightsize.analysis.workloads import Codes, container_blocks, grouped_stats

__all__ = [
    "ANALYSIS_POINTS",
    "SAMPLE_INPUTS",
    "USAGE_COLUMNS",
    "Usage",
    "container_codes",
    "usage_series",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: the sample columns :func:`usage_series` reads (``load(columns=SAMPLE_INPUTS)``)
SAMPLE_INPUTS: tuple[str, ...] = (
    "ts",
    "cpu_total_ns",
    "cpu_cores",
    "periods",
    "throttled_periods",
    "throttled_ns",
    "mem_working_set",
    "mem_failcnt",
    "oom_kills_total",
    "cpu_peak",
)

#: rows per container the analysis reads at most: a longer window is read folded
#: to one coarser resolution (``rightsize.store.load(max_points=...)``), so its cost
#: does not grow with history (30 days at 5 minutes are read as they are, a week at
#: 10 s or 20 s at 2-minute buckets, half of it at 1 minute)
ANALYSIS_POINTS = 8640

#: engine ``oom`` events closer than this (seconds) to the previous one are the same kill
OOM_BURST = 1.0

USAGE_COLUMNS = (
    "host",
    "container_id",
    "ts",
    "interval",
    "cpu",
    "memory",
    "throttled_share",
    "throttled_seconds",
    "periods",
    "throttled_periods",
    "oom_kills",
)
GAP_COLUMNS = ("host", "container_id", "start", "end", "seconds")
OOM_COLUMNS = ("host", "container_id", "ts", "kills", "signal")
_RESET_ACTIONS = ("start", "restart")


@dataclass(frozen=True)
class Usage:
    """The tidy per-interval frame plus what was set aside.

    ``codes`` numbers the containers 0..n-1 in row order (``keys`` holds the
    (host, container_id) of each code); analysis code uses them to group
    without hashing strings again.
    """

    frame: pd.DataFrame
    gaps: pd.DataFrame
    ooms: pd.DataFrame
    codes: Codes
    keys: list[tuple[str, str]]

    @property
    def starts(self) -> IntArray:
        """Row offset of each container's first row (length ``len(keys) + 1``)."""
        return _starts(self.codes, len(self.keys))


def _code_type(ncodes: int) -> type[np.signedinteger[Any]]:
    """int32 codes (4 bytes a row) unless there are too many to count in them."""
    return np.int32 if ncodes < 2**31 - 1 else np.int64


def _starts(codes: Codes, ncodes: int) -> IntArray:
    """Row offset of each code's first row in ascending ``codes`` (length ``ncodes + 1``)."""
    # the keys in the codes' own type: another would cast (copy) the whole array
    keys = np.arange(ncodes + 1).astype(codes.dtype)
    return np.searchsorted(codes, keys, side="left").astype(np.int64)


def _col(df: pd.DataFrame, name: str, n: int) -> FloatArray:
    """Column ``name`` as float64 with NaN for missing (a view when it already is one)."""
    if name not in df.columns:
        return np.full(n, np.nan)
    column = df[name]
    if column.dtype == np.float64:
        return np.asarray(column.to_numpy(), dtype=np.float64)
    return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _changes(column: pd.Series) -> npt.NDArray[np.bool_] | None:
    """True where a row's value differs from the previous row's (row 0: True).

    None when the column holds missing values (the caller then factorizes).
    """
    if column.hasnans:
        return None
    n = len(column)
    out = np.ones(n, dtype=bool)
    if n < 2:
        return out
    values = column.array
    if isinstance(values, pd.Categorical):  # the store's key columns: compare the codes
        codes = values.codes
        out[1:] = codes[1:] != codes[:-1]
        return out
    if hasattr(values, "__arrow_array__"):  # Arrow-backed strings: compare in Arrow
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
        except ImportError:  # pyarrow is an optional extra
            pass
        else:
            arrow = pa.chunked_array(values.__arrow_array__())
            ne = pc.not_equal(arrow.slice(1), arrow.slice(0, n - 1))
            out[1:] = ne.to_numpy()
            return out
    raw = column.to_numpy()
    out[1:] = raw[1:] != raw[:-1]
    return out


def container_codes(samples: pd.DataFrame) -> tuple[Codes, list[tuple[str, str]]]:
    """Codes numbering (host, container_id) pairs in order of first appearance, and the pairs.

    Rows grouped by container (the store's order) take a fast path: one
    comparison of neighbouring rows per column instead of hashing every string.
    """
    host_change = _changes(samples["host"])
    cid_change = _changes(samples["container_id"])
    if host_change is not None and cid_change is not None:
        change = host_change | cid_change
        starts = np.flatnonzero(change)
        if starts.size * 8 <= change.size:  # rows come in runs per container (the store's order)
            run_hosts = [str(h) for h in samples["host"].iloc[starts].tolist()]
            run_cids = [str(c) for c in samples["container_id"].iloc[starts].tolist()]
            index: dict[tuple[str, str], int] = {}
            run_code = np.array(
                [index.setdefault(k, len(index)) for k in zip(run_hosts, run_cids, strict=True)],
                dtype=np.int64,
            )
            lengths = np.diff(np.append(starts, change.size))
            return np.repeat(run_code.astype(_code_type(len(index))), lengths), list(index)
    hcodes, hosts = pd.factorize(samples["host"], sort=False)
    ccodes, cids = pd.factorize(samples["container_id"], sort=False)
    combined = hcodes.astype(np.int64) * max(len(cids), 1) + ccodes.astype(np.int64)
    codes, uniq = pd.factorize(combined, sort=False)
    width = max(len(cids), 1)
    host_list, cid_list = [str(h) for h in hosts], [str(c) for c in cids]
    keys = [(host_list[int(u) // width], cid_list[int(u) % width]) for u in uniq]
    return codes.astype(_code_type(len(keys))), keys


#: the counter column each result may overwrite (``reuse_inputs``): a block's rows of it
#: are read before the block's results are written, and no later block reads them
_REUSED = {
    "cpu": "cpu_total_ns",
    "interval": "cpu_cores",
    "periods": "periods",
    "throttled_periods": "throttled_periods",
    "throttled_seconds": "throttled_ns",
    "throttled_share": "mem_failcnt",
}


def _output(column: FloatArray | None, n: int, reuse: bool) -> FloatArray:
    """The array a result is written to: ``column`` itself when it may be reused."""
    if reuse and column is not None and column.size == n and column.dtype == np.float64 \
            and column.base is not None and column.base.flags.writeable:
        column.flags.writeable = True  # pandas hands out read-only views of its columns
        return column
    return np.empty(n, dtype=np.float64)


def _diff(values: FloatArray) -> FloatArray:
    out = np.empty_like(values)
    out[0] = np.nan
    np.subtract(values[1:], values[:-1], out=out[1:])
    return out


#: rows per block of whole containers: the per-row passes run block by block so that
#: their temporaries stay small (a week of 10,000 containers is 20 M rows)
_BLOCK_ROWS = 1 << 18
_COMPUTED = (
    "interval",
    "cpu",
    "throttled_share",
    "throttled_seconds",
    "periods",
    "throttled_periods",
)


@dataclass(frozen=True)
class _Block:
    """What :func:`_usage_block` computes for one block of rows."""

    columns: dict[str, FloatArray]  # the ``_COMPUTED`` columns
    gaps: IntArray  # rows (in the block) that end a gap
    failcnt_kills: FloatArray  # OOM kills from mem_failcnt growth, per row (0 elsewhere)


def _usage_block(
    codes: Codes,
    ts: FloatArray,
    inputs: dict[str, FloatArray],
    reset: npt.NDArray[np.bool_],
    eligible: npt.NDArray[np.bool_],
    gap_factor: float,
) -> _Block:
    """The per-row rules on the rows of whole containers (``codes`` ascending)."""
    local = codes - codes[0]
    same = np.zeros(codes.size, dtype=bool)
    same[1:] = codes[1:] == codes[:-1]
    dts = _diff(ts)
    dts[~same] = np.nan
    forward = same & (dts > 0)

    # gaps: Δts > gap_factor x the container's median interval
    pos = np.where(forward, dts, np.nan)
    median = grouped_stats(local, pos, int(local[-1]) + 1, quantiles=(0.5,)).quantiles[:, 0]
    median = median[local]
    gap = forward & (pos > gap_factor * median)
    ok = forward & ~gap
    interval = np.where(ok, dts, np.nan)
    valid = ok & ~reset

    # CPU
    cpu_ns = inputs["cpu_total_ns"]
    dcpu = _diff(cpu_ns)
    cpu = np.where(valid & (dcpu >= 0), dcpu / np.where(valid, dts, 1.0) / 1e9, np.nan)
    rate = inputs["cpu_cores"]
    use_rate = np.isnan(cpu_ns) & ~np.isnan(rate)
    if use_rate.any():
        cpu = np.where(use_rate, np.maximum(rate, 0.0), cpu)
        interval = np.where(use_rate & np.isnan(interval) & forward, median, interval)

    # throttling
    dp = _diff(inputs["periods"])
    dtp = _diff(inputs["throttled_periods"])
    dtn = _diff(inputs["throttled_ns"])
    # throttled time is optional (the import format's CFS columns are period counts)
    t_ok = valid & (dp >= 0) & (dtp >= 0)
    tn_ok = t_ok & (dtn >= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(t_ok & (dp > 0), dtp / np.where(dp > 0, dp, 1.0), np.nan)

    # failcnt growth, for containers with no oom event, on hosts that count OOMs there
    dfail = _diff(inputs["mem_failcnt"])
    grow = same & (dfail > 0) & ~reset & eligible[codes]
    return _Block(
        columns={
            "interval": interval,
            "cpu": cpu,
            "throttled_share": np.minimum(share, 1.0),
            "throttled_seconds": np.where(tn_ok, dtn / 1e9, np.nan),
            "periods": np.where(t_ok, dp, np.nan),
            "throttled_periods": np.where(t_ok, dtp, np.nan),
        },
        gaps=np.flatnonzero(gap).astype(np.int64),
        failcnt_kills=np.where(grow, dfail, 0.0),
    )


def _kernel_kills(codes: Codes, counter: FloatArray, reset: npt.NDArray[np.bool_],
                  ncodes: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_],
                                        list[tuple[int, float]]]:
    """From the kernel's OOM counter, in blocks of rows (no whole-length temporaries):
    the rows whose interval it covers (both readings of one cgroup life have it),
    the containers with a reading of it, and the (row, kills) where it grew."""
    n = codes.size
    covered = np.zeros(n, dtype=bool)
    with_counter = np.zeros(ncodes, dtype=bool)
    kills: list[tuple[int, float]] = []
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(n, lo + _BLOCK_ROWS)
        present = ~np.isnan(counter[lo:hi])
        if not present.any():
            continue
        with_counter[np.unique(codes[lo:hi][present])] = True
        a = max(lo, 1)
        if a >= hi:
            continue
        dc = counter[a:hi] - counter[a - 1 : hi - 1]
        with np.errstate(invalid="ignore"):
            cov = (codes[a:hi] == codes[a - 1 : hi - 1]) & (dc >= 0) & ~reset[a:hi]
            grew = np.flatnonzero(cov & (dc > 0))
        covered[a:hi] = cov
        kills += zip((a + grew).tolist(), dc[grew].tolist(), strict=True)
    return covered, with_counter, kills


def usage_series(
    samples: pd.DataFrame,
    events: pd.DataFrame | None = None,
    *,
    gap_factor: float = 3.0,
    failcnt_hosts: Collection[str] | None = None,
    known: tuple[Codes, list[tuple[str, str]]] | None = None,
    reuse_inputs: bool = False,
) -> Usage:
    """Per-interval CPU, memory, throttling and OOM kills for every container at once.

    ``events`` (the store's events frame) supplies OOM kills and restarts.
    ``failcnt_hosts``: hosts whose ``mem_failcnt`` counts OOMs (cgroup v2);
    ``None`` trusts it everywhere. ``known``: :func:`container_codes` of
    ``samples`` when the caller already has them. See the module docstring
    for the rules. ``reuse_inputs``: the results may be written over the counter
    columns they are computed from, block by block after each block is read (for a
    Dataset the caller loaded itself and reads no more: at 10,000 containers x a week
    that is a GiB not allocated).
    """
    n = len(samples)
    if known is not None and n:
        codes, keys = known
    else:
        codes, keys = container_codes(samples) if n else (np.empty(0, np.int32), [])
    if n and np.any(codes[1:] < codes[:-1]):
        order = np.argsort(codes, kind="stable")
        samples = samples.iloc[order].reset_index(drop=True)
        codes = codes[order]
    if n == 0:
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in USAGE_COLUMNS})
        empty["host"] = empty["host"].astype("str")
        empty["container_id"] = empty["container_id"].astype("str")
        return Usage(
            empty,
            pd.DataFrame(columns=list(GAP_COLUMNS)),
            pd.DataFrame(columns=list(OOM_COLUMNS)),
            codes,
            keys,
        )

    ts = _col(samples, "ts", n)
    starts_at = _starts(codes, len(keys))

    # restarts the counters may not show: start/restart events inside an interval
    index = {k: i for i, k in enumerate(keys)}
    ev = (
        events
        if events is not None
        else pd.DataFrame(columns=["host", "container_id", "ts", "action"])
    )
    reset = np.zeros(n, dtype=bool)
    oom_rows: list[tuple[str, str, float, int, str]] = []
    relevant = ev[ev["action"].isin((*_RESET_ACTIONS, "oom", "oom_kill"))] if len(ev) else ev
    groups = (
        list(relevant.groupby(["host", "container_id"], sort=False)) if len(relevant) else []
    )
    located: list[tuple[str, str, int | None, FloatArray, npt.NDArray[np.object_]]] = []
    for (host, cid), group in groups:
        code = index.get((str(host), str(cid)))
        ets = group["ts"].to_numpy(dtype=np.float64)
        order = np.argsort(ets, kind="stable")
        ets = ets[order]
        actions = group["action"].to_numpy(dtype=object)[order]
        located.append((str(host), str(cid), code, ets, actions))
        if code is None:
            continue
        lo, hi = int(starts_at[code]), int(starts_at[code + 1])
        rows = lo + np.searchsorted(ts[lo:hi], ets, side="left")
        # (re)start strictly after the previous reading: that interval is void
        restart_rows = rows[np.isin(actions, _RESET_ACTIONS)]
        reset[restart_rows[(restart_rows > lo) & (restart_rows < hi)]] = True

    # 1. the kernel's counter, where consecutive readings of one cgroup life have it
    counter = _col(samples, "oom_kills_total", n)
    covered, with_counter, kernel = _kernel_kills(codes, counter, reset, len(keys))
    # the counter is read: its column may hold the kills (reuse_inputs)
    oom_kills = _output(counter, n, reuse_inputs)
    oom_kills[:] = 0.0
    for row, kills in kernel:
        h, c = keys[codes[row]]
        oom_rows.append((h, c, float(ts[row]), int(kills), "kernel"))
        oom_kills[row] += kills

    # 2./3. imported kills, and the engine's oom events outside counted intervals
    for host, cid, code, ets, actions in located:
        kills_at = ets[actions == "oom_kill"]
        notes = ets[actions == "oom"]
        if notes.size:  # one kill per burst of notifications
            burst_start = np.concatenate(([True], np.diff(notes) > OOM_BURST))
            notes = notes[burst_start]
        if code is None:
            oom_rows += [(host, cid, float(t), 1, "counter") for t in kills_at]
            oom_rows += [(host, cid, float(t), 1, "event") for t in notes]
            continue
        lo, hi = int(starts_at[code]), int(starts_at[code + 1])
        for stamps, signal in ((kills_at, "counter"), (notes, "event")):
            if not stamps.size:
                continue
            rows = np.minimum(lo + np.searchsorted(ts[lo:hi], stamps, side="left"), hi - 1)
            if signal == "event":
                keep = ~covered[rows] | (stamps > ts[rows])  # after the last reading: uncovered
                stamps, rows = stamps[keep], rows[keep]
            np.add.at(oom_kills, rows, 1.0)
            oom_rows += [(host, cid, float(t), 1, signal) for t in stamps]

    # 4. failcnt counts OOMs only for containers with no other evidence, on hosts that
    # count there
    with_events = {(h, c) for h, c, *_ in oom_rows}
    with_events |= {keys[k] for k in np.flatnonzero(with_counter).tolist()}
    eligible = np.array(
        [k not in with_events and (failcnt_hosts is None or k[0] in failcnt_hosts) for k in keys],
        dtype=bool,
    )
    inputs = {
        name: _col(samples, name, n)
        for name in (
            "cpu_total_ns",
            "cpu_cores",
            "periods",
            "throttled_periods",
            "throttled_ns",
            "mem_failcnt",
        )
    }
    out = {name: _output(inputs.get(_REUSED.get(name, "")), n, reuse_inputs)
           for name in _COMPUTED}
    def run(span: tuple[int, int]) -> tuple[IntArray, IntArray, FloatArray]:
        """One block's columns written in place; its gap rows and failcnt kills kept."""
        lo, hi = span
        block = _usage_block(
            codes[lo:hi],
            ts[lo:hi],
            {name: values[lo:hi] for name, values in inputs.items()},
            reset[lo:hi],
            eligible,
            gap_factor,
        )
        for name in _COMPUTED:  # over its own rows only, once they are read
            out[name][lo:hi] = block.columns[name]
        killed = np.flatnonzero(block.failcnt_kills)  # rare: kept, the block's rows are not
        return lo + block.gaps, lo + killed, block.failcnt_kills[killed]

    spans = list(container_blocks(codes, per_thread(_BLOCK_ROWS)))
    gap_rows: list[IntArray] = []
    # blocks of whole containers are independent: on a few threads, taken in order
    for gaps_at, kill_rows, kill_counts in map_blocks(run, spans):
        gap_rows.append(gaps_at)
        for row, k in zip(kill_rows.tolist(), kill_counts.tolist(), strict=True):
            h, c = keys[codes[row]]
            oom_rows.append((h, c, float(ts[row]), int(k), "failcnt"))
        oom_kills[kill_rows] += kill_counts
    gi = np.concatenate(gap_rows) if gap_rows else np.empty(0, dtype=np.int64)

    frame = pd.DataFrame(
        {
            "host": samples["host"].reset_index(drop=True),
            "container_id": samples["container_id"].reset_index(drop=True),
            "ts": ts,
            "interval": out["interval"],
            "cpu": out["cpu"],
            "memory": _col(samples, "mem_working_set", n),
            "throttled_share": out["throttled_share"],
            "throttled_seconds": out["throttled_seconds"],
            "periods": out["periods"],
            "throttled_periods": out["throttled_periods"],
            "oom_kills": oom_kills,
        },
        copy=False,
    )
    gaps = pd.DataFrame(
        {
            "host": [keys[codes[i]][0] for i in gi],
            "container_id": [keys[codes[i]][1] for i in gi],
            "start": ts[gi - 1],
            "end": ts[gi],
            "seconds": ts[gi] - ts[gi - 1],
        },
        columns=list(GAP_COLUMNS),
    )
    ooms = pd.DataFrame(oom_rows, columns=list(OOM_COLUMNS))
    return Usage(frame, gaps, ooms, codes, keys)
