"""The fast paths give exactly what the plain implementations they replaced gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rightsize.analysis.strategies._common import interval_peaks, median, nan_to_zero
from rightsize.analysis.usage import container_codes
from rightsize.rows import SampleRow
from rightsize.store import SAMPLE_COLUMNS, Store, load
from tests.store_rows import expected_samples


def _same(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or (a == b and np.signbit(a) == np.signbit(b))


def test_median_is_numpy_median_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    assert np.isnan(median(np.empty(0)))
    for n in range(1, 40):
        for _ in range(100):
            x = rng.integers(-3, 3, n).astype(float) * rng.choice([1.0, 0.1, 1e300], n)
            x[rng.random(n) < 0.3] *= -0.0
            if rng.random() < 0.05:
                x[0] = np.nan
            with np.errstate(all="ignore"):
                assert _same(median(x), float(np.median(x))), x


def test_nan_to_zero_is_nan_to_num() -> None:
    x = np.array([1.0, np.nan, -2.0, np.inf, -np.inf, 0.0])
    assert np.array_equal(nan_to_zero(x), np.nan_to_num(x, nan=0.0))
    assert np.array_equal(nan_to_zero(x[:3]), np.nan_to_num(x[:3], nan=0.0))


def _peaks_by_sort(
    ts: np.ndarray, values: np.ndarray, end: float, length: float, count: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(values)
    t, v = ts[ok], values[ok]
    slot = np.floor((end - t) / length).astype(np.int64)
    keep = slot >= 0
    if count > 0:
        keep &= slot < count
    t, v, slot = t[keep], v[keep], slot[keep]
    order = np.lexsort((v, -slot))
    t, v, slot = t[order], v[order], slot[order]
    last = np.r_[slot[1:] != slot[:-1], True]
    return v[last], t[last]


@pytest.mark.parametrize("count", [0, 3])
def test_interval_peaks_fast_path_matches_the_sort(count: int) -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(2, 400))
        ts = np.sort(rng.uniform(0, 10 * 86400, n))
        ts[rng.random(n) < 0.1] = ts[0]  # duplicate times
        ts = np.sort(ts)
        values = rng.integers(0, 5, n).astype(float)  # many ties
        values[rng.random(n) < 0.1] = np.nan
        end = float(ts[-1]) + 1e-9
        got = interval_peaks(ts, values, end, 86400.0, count)
        want = _peaks_by_sort(ts, values, end, 86400.0, count)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        shuffled = rng.permutation(n)  # unsorted input takes the sort itself
        got = interval_peaks(ts[shuffled], values[shuffled], end, 86400.0, count)
        want = _peaks_by_sort(ts[shuffled], values[shuffled], end, 86400.0, count)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def _codes_by_factorize(samples: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str]]]:
    pairs = list(zip(samples["host"].astype(str), samples["container_id"].astype(str), strict=True))
    codes, uniq = pd.factorize(pd.Series(pairs, dtype=object), sort=False)
    return codes.astype(np.int64), [tuple(u) for u in uniq]


@pytest.mark.parametrize("interleaved", [False, True])
def test_container_codes_match_factorize(interleaved: bool) -> None:
    hosts = np.repeat(["h1", "h2", "h1"], [6, 5, 4])
    cids = np.repeat(["a", "a", "b"], [6, 5, 4])
    order = np.arange(15)
    if interleaved:  # rows not grouped by container: the factorizing path
        order = np.array([0, 6, 11, 1, 7, 12, 2, 8, 13, 3, 9, 14, 4, 10, 5])
    frame = pd.DataFrame({"host": hosts[order], "container_id": cids[order]}, dtype="str")
    codes, keys = container_codes(frame)
    want_codes, want_keys = _codes_by_factorize(frame)
    assert np.array_equal(codes, want_codes)
    assert keys == want_keys


def _sample(host: str, cid: str, ts: float, **values: float | int | None) -> SampleRow:
    row = dict.fromkeys(SAMPLE_COLUMNS)
    row.update(host=host, container_id=cid, ts=ts, **values)
    return row  # type: ignore[return-value]


@pytest.mark.parametrize("sealed", [False, True], ids=["head", "chunks"])
def test_load_matches_the_rows_written(tmp_path: Path, sealed: bool) -> None:
    db = tmp_path / "s.db"
    rows = [
        _sample(h, c, float(t) + 0.25, cpu_total_ns=t * 10**9 + 7, mem_working_set=2**40 + t)
        for h in ("b", "a")
        for c in ("y", "x")
        for t in range(5)
    ]
    rows.append(_sample("a", "x", 100.5, cpu_cores=0.5, pids=3))
    with Store(db) as store:
        store.write(samples=rows)
        if sealed:
            store.seal_all()
    for since, until in ((None, None), (2.0, 4.0), (1000.0, None)):
        got = load(db, since=since, until=until).samples
        inside = [r for r in rows if (since is None or r["ts"] >= since)
                  and (until is None or r["ts"] <= until)]
        want = expected_samples(inside)
        # the key columns come as categoricals of the same strings
        for key in ("host", "container_id"):
            assert isinstance(got[key].dtype, pd.CategoricalDtype)
            want[key] = want[key].astype(got[key].dtype)
        if want.empty:
            assert got.empty and list(got.columns) == list(want.columns)
            continue
        pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_load_reads_big_counters_exactly_as_numpy_rounds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Integers above 2**53 are kept exactly and read as numpy rounds them; chunks join up."""
    from rightsize.store import chunks

    monkeypatch.setattr(chunks, "BIG_ROWS", 3)  # several chunks and a short last one
    db = tmp_path / "s.db"
    big = [2**53 + 1, 2**60 + 3, 2**63 - 1, -(2**62) - 1, 10**18 + 7, 12345, 0]
    rows = [
        _sample("h", f"c{i % 2}", float(i), cpu_total_ns=v, throttled_ns=None, mem_failcnt=i)
        for i, v in enumerate(big)
    ]
    with Store(db) as store:
        store.write(samples=rows[:3])
        store.seal_all()
        store.write(samples=rows[3:])
        store.seal_all()
        n_chunks = store.connection.execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert n_chunks >= 4
    got = load(db).samples
    ordered = sorted(rows, key=lambda r: (r["container_id"], r["ts"]))
    want = np.array([r["cpu_total_ns"] for r in ordered], dtype=object).astype(np.float64)
    assert np.array_equal(got["cpu_total_ns"].to_numpy(), want)
    assert got["throttled_ns"].isna().all()
    assert got["mem_failcnt"].tolist() == [float(r["mem_failcnt"]) for r in ordered]


def test_load_reads_only_the_requested_columns(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    rows = [_sample("h", "c", float(t), cpu_total_ns=t * 10**9, pids=t) for t in range(4)]
    with Store(db) as store:
        store.write(samples=rows)
    full = load(db).samples
    part = load(db, columns=["pids", "cpu_total_ns"]).samples
    # keys and ts always come, the rest in table order
    assert list(part.columns) == ["host", "container_id", "ts", "cpu_total_ns", "pids"]
    pd.testing.assert_frame_equal(part, full[list(part.columns)], check_exact=True)


def test_load_rejects_an_unknown_column(tmp_path: Path) -> None:
    from rightsize.errors import UsageError

    db = tmp_path / "s.db"
    with Store(db):
        pass
    with pytest.raises(UsageError, match=r"columns: unknown sample column\(s\) cpu_percent"):
        load(db, columns=["ts", "cpu_percent"])


def test_analysis_on_its_input_columns_equals_analysis_on_every_column() -> None:
    """SAMPLE_INPUTS names every column the analysis reads: dropping the rest changes nothing."""
    import json

    from rightsize.analysis.pipeline import analyze
    from rightsize.analysis.usage import SAMPLE_INPUTS
    from rightsize.api import load as api_load

    lab = Path(__file__).resolve().parents[2] / "data" / "lab-session"
    full = analyze(api_load(lab))
    part = analyze(api_load(lab, columns=SAMPLE_INPUTS))
    strip = {"generated_at"}

    def doc(result: object) -> str:
        d = result.to_dict()  # type: ignore[attr-defined]
        return json.dumps({k: v for k, v in d.items() if k not in strip}, sort_keys=True)

    assert doc(full) == doc(part)
    pd.testing.assert_frame_equal(full.usage, part.usage, check_exact=True)


def _random_samples(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A few containers with resets, NaNs, clock steps, duplicates, gaps and events."""
    rows = []
    k = int(rng.integers(1, 6))
    for c in range(k):
        m = int(rng.integers(1, 40))
        ts = np.cumsum(rng.choice([1.0, 1.0, 1.0, 5.0, 0.0, -1.0], size=m)) + rng.random()
        cpu = np.cumsum(rng.integers(-2, 10, size=m)).astype(float) * 1e8
        cpu[rng.random(m) < 0.1] = np.nan
        cores = np.where(rng.random(m) < 0.3, rng.random(m), np.nan)
        periods = np.cumsum(rng.integers(-1, 5, size=m)).astype(float)
        throttled = np.cumsum(rng.integers(-1, 3, size=m)).astype(float)
        fail = np.cumsum(rng.integers(0, 2, size=m)).astype(float)
        for i in range(m):
            rows.append(
                {
                    "host": f"h{c % 2}",
                    "container_id": f"c{c}",
                    "ts": ts[i],
                    "cpu_total_ns": cpu[i],
                    "cpu_cores": cores[i],
                    "periods": periods[i],
                    "throttled_periods": throttled[i],
                    "throttled_ns": throttled[i] * 1e6,
                    "mem_failcnt": fail[i],
                    "mem_working_set": rng.random() * 1e9,
                }
            )
    events = [
        {
            "host": f"h{c % 2}",
            "container_id": f"c{c}",
            "ts": float(rng.random() * 40),
            "action": str(rng.choice(["oom", "start", "restart", "die"])),
        }
        for c in rng.integers(0, k + 1, size=int(rng.integers(0, 5)))
    ]
    return pd.DataFrame(rows), pd.DataFrame(
        events, columns=["host", "container_id", "ts", "action"]
    )


@pytest.mark.parametrize("seed", range(40))
def test_usage_series_blocks_do_not_change_the_result(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-row rules run block by block: any block size gives the same usage."""
    import rightsize.analysis.usage as usage

    samples, events = _random_samples(np.random.default_rng(seed))
    if seed % 3 == 0:  # rows not grouped by container
        samples = samples.sample(frac=1, random_state=seed).reset_index(drop=True)
    whole = usage.usage_series(samples, events, failcnt_hosts=["h0"])
    for size in (1, 3):
        monkeypatch.setattr(usage, "_BLOCK_ROWS", size)
        blocks = usage.usage_series(samples, events, failcnt_hosts=["h0"])
        pd.testing.assert_frame_equal(blocks.frame, whole.frame, check_exact=True)
        pd.testing.assert_frame_equal(blocks.gaps, whole.gaps, check_exact=True)
        pd.testing.assert_frame_equal(blocks.ooms, whole.ooms, check_exact=True)
        assert np.array_equal(blocks.codes, whole.codes) and blocks.keys == whole.keys


def test_blocks_hold_whole_containers() -> None:
    from rightsize.analysis.workloads import container_blocks

    codes = np.repeat(np.arange(5, dtype=np.int64), [3, 1, 6, 1, 1])  # starts 0 3 4 10 11
    assert container_blocks(codes, 1) == [(0, 3), (3, 4), (4, 10), (10, 11), (11, 12)]
    assert container_blocks(codes, 4) == [(0, 4), (4, 10), (10, 12)]
    assert container_blocks(codes, 100) == [(0, 12)]


@pytest.mark.parametrize("threads", ["1", "3"])
@pytest.mark.parametrize("seed", range(30))
def test_peak_of_sum_is_the_same_in_blocks_sparse_or_sorted(
    seed: int, threads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks (on one thread or three), the sparse (host, bin) table and the sort-first
    path give the same peaks, to the bit."""
    import rightsize.analysis.hosts as hosts

    monkeypatch.setenv("RIGHTSIZE_THREADS", threads)

    rng = np.random.default_rng(seed)
    nc, nh = int(rng.integers(1, 8)), int(rng.integers(1, 4))
    sizes = rng.integers(1, 30, size=nc)
    codes = np.repeat(np.arange(nc, dtype=np.int64), sizes)
    ts = np.concatenate([np.sort(rng.random(k) * 100) for k in sizes])
    host_of = rng.integers(0, nh, size=nc).astype(np.int64)
    hc = host_of[codes]
    values = [np.where(rng.random(ts.size) < 0.2, np.nan, rng.random(ts.size)) for _ in range(2)]
    width = rng.choice([0.0, 1.0, 3.7, 50.0], size=nh)
    start = np.array([ts[hc == h].min() if (hc == h).any() else 0.0 for h in range(nh)])
    want = hosts.peak_of_sum(host_of, codes, ts, values, nh, width, start)
    if seed % 2:  # a clock step back inside a container takes the sort-first path
        i = int(np.argmax(sizes))
        lo = int(sizes[:i].sum())
        if sizes[i] > 1:
            ts[lo], ts[lo + 1] = ts[lo + 1], ts[lo]
        want = hosts._peak_of_sum_unsorted(
            hc, codes, ts, values, nh, np.where(width > 0, width, 1.0), start
        )
    for block, dense in ((1, 20_000_000), (5, 20_000_000), (3, 0), (1 << 19, 0)):
        monkeypatch.setattr(hosts, "_PEAK_BLOCK_ROWS", block)
        monkeypatch.setattr(hosts, "_DENSE_BINS", dense)
        got = hosts.peak_of_sum(host_of, codes, ts, values, nh, width, start)
        for a, b in zip(got, want, strict=True):
            assert np.array_equal(a, b, equal_nan=True)
    # and the peak is the sum of per-container bin means: one host, one bin, by hand
    one = hosts.peak_of_sum(
        np.zeros(2, np.int64), np.array([0, 0, 1, 1]), np.array([0.0, 1.0, 0.5, 1.5]),
        [np.array([1.0, 3.0, 10.0, np.nan])], 1, np.array([100.0]), np.array([0.0]),
    )
    assert one[0].tolist() == [2.0 + 10.0]
