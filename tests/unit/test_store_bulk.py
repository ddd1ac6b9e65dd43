"""Decoding many chunks at once gives exactly what decoding them one by one gives."""

from __future__ import annotations

import numpy as np
import pytest

from rightsize.store import bulk, codec
from rightsize.store.codec import CHUNK_COLUMNS


def _chunk(rng: np.random.Generator, n: int) -> bytes:
    """A chunk mixing every encoding: deltas of both orders and widths, constants,
    masks, floats, an all-missing column and columns left out."""
    ts = np.cumsum(rng.integers(1, 2**22, n)).astype(np.int64) + 4_700_000_000_000_000_000
    cols: dict[str, np.ndarray] = {"ts": ts}
    masks: dict[str, np.ndarray] = {}
    cols["cpu_total_ns"] = np.cumsum(rng.integers(0, 10**9, n)).astype(np.int64) + 10**12
    cols["mem_working_set"] = (rng.integers(1000, 9000, n) * 4096).astype(np.int64)
    cols["mem_limit"] = np.full(n, 2**30, dtype=np.int64)
    cols["pids"] = rng.integers(-(2**62), 2**62, n)  # wide deltas, wrapping
    cols["cpu_cores"] = rng.lognormal(0, 1, n)
    cols["cpu_peak"] = np.full(n, 1.5)
    if rng.random() < 0.5:
        present = rng.random(n) < 0.7
        masks["periods"] = present
        cols["periods"] = np.cumsum(rng.integers(0, 100, n)).astype(np.int64)
    cols["throttled_ns"] = np.full(n, np.nan)  # all missing
    if rng.random() < 0.5:
        cols["mem_rss"] = np.where(rng.random(n) < 0.5, np.nan, rng.integers(0, 10**6, n) * 1.0)
    if rng.random() < 0.3:
        del cols["mem_working_set"]
    return codec.encode(cols, masks)


@pytest.mark.parametrize("seed", range(6))
def test_decode_many_equals_decode_exact_chunk_by_chunk(seed: int) -> None:
    rng = np.random.default_rng(seed)
    blobs = [_chunk(rng, int(rng.integers(1, 300))) for _ in range(int(rng.integers(1, 40)))]
    wanted = list(CHUNK_COLUMNS)
    rows, got = bulk.decode_many(blobs, wanted)
    expected = [codec.decode_exact(b, wanted) for b in blobs]
    assert rows.tolist() == [n for n, _ in expected]
    for name in wanted:
        values, present = got[name]
        parts = [cols[name] for _, cols in expected]
        want_present = np.concatenate([
            np.ones(v.size, dtype=bool) if p is None else p for v, p in parts])
        np.testing.assert_array_equal(present, want_present, err_msg=name)
        kinds = {v.dtype.kind for v, p in parts if p is None or p.any()}
        want_values = np.concatenate([
            np.nan_to_num(v).astype(values.dtype) for v, _ in parts])
        assert values.dtype == (np.int64 if kinds <= {"i"} else np.float64), name
        np.testing.assert_array_equal(values[present], want_values[want_present], err_msg=name)


def test_second_order_deltas_and_a_one_row_chunk() -> None:
    regular = codec.encode({"ts": np.arange(50, dtype=np.int64) * 10 + 7}, {})
    one = codec.encode({"ts": np.array([5], dtype=np.int64)}, {})
    rows, got = bulk.decode_many([regular, one, regular], ["ts"])
    assert rows.tolist() == [50, 1, 50]
    expected = np.concatenate((np.arange(50) * 10 + 7, [5], np.arange(50) * 10 + 7))
    np.testing.assert_array_equal(got["ts"][0], expected)


def test_a_damaged_chunk_names_its_index() -> None:
    rng = np.random.default_rng(1)
    good = _chunk(rng, 20)
    with pytest.raises(bulk.BulkError) as caught:
        bulk.decode_many([good, good, good[:-3]], ["ts", "cpu_total_ns"])
    assert caught.value.index == 2
    with pytest.raises(bulk.BulkError) as caught:
        bulk.decode_many([b"nope" + good[4:]], ["ts"])
    assert caught.value.index == 0 and "magic" in str(caught.value)


def test_each_kind_of_damage_names_the_chunk_and_what_is_wrong() -> None:
    """Each kind of damage, in the second of three chunks: the error names that chunk
    and what is wrong with it."""
    good = codec.encode({"ts": np.arange(40, dtype=np.int64) * 10,
                         "mem_working_set": np.arange(40, dtype=np.int64) * 4096 + 7}, {})
    entry = codec._HEAD.size  # the first column's (id, encoding, parameter, length)

    def patched(at: int, value: int) -> bytes:
        return good[:at] + bytes([value]) + good[at + 1:]

    cases = {
        "too short": (good[:5], "too short"),
        "unknown id": (patched(entry, 200), "unknown column id"),
        "longer": (good + b"\0", "longer than its columns"),
        "bad encoding": (patched(entry + 1, 9), "unknown column encoding"),
        "bad delta header": (patched(entry + 2, 0x39), "bad integer column header"),
        "a column twice": (patched(entry + codec._COL.size, good[entry]), "twice in one chunk"),
    }
    for what, (bad, message) in cases.items():
        with pytest.raises(bulk.BulkError) as caught:
            bulk.decode_many([good, bad, good], ["ts", "mem_working_set"])
        assert caught.value.index == 1, what
        assert message in str(caught.value), (what, str(caught.value))


def test_load_in_small_batches_mixing_chunks_and_head_rows(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Containers with chunks only, chunks and head rows, head rows only, and a window:
    read in batches of a few rows, everything comes back in key order, value for value."""
    from pathlib import Path

    from rightsize.store import Store, load, reader
    from tests.store_rows import expected_samples, sample

    db = Path(str(tmp_path)) / "mixed.db"
    rows = []
    with Store(db) as store:
        for cid in ("c1", "c5", "c3", "c2"):
            batch = [sample(cid, 1.79e9 + 10 * i, cpu_total_ns=10**9 * i + 7,
                            mem_working_set=4096 * (100 + i % 7)) for i in range(40)]
            store.write_round(samples=batch)
            rows += batch
        store.seal_all()
        for cid in ("c3", "c4", "c0"):  # c3: head after chunks; c4, c0: head only
            late = [sample(cid, 1.79e9 + 400 + 10 * i, cpu_total_ns=10**12 + i,
                           mem_working_set=8192 * (1 + i)) for i in range(5)]
            store.write_round(samples=late)
            rows += late
    want = expected_samples(rows, ["host", "container_id", "ts", "cpu_total_ns",
                                   "mem_working_set"])
    for size in (1, 50, 100, 1 << 18):  # one container a batch, two, three, all
        monkeypatch.setattr(reader, "BATCH_ROWS", size)
        got = load(db, columns=["ts", "cpu_total_ns", "mem_working_set"]).samples
        got = got.astype({"host": str, "container_id": str})
        pd_equal(got[list(want.columns)], want)
        window = load(db, since=1.79e9 + 200, until=1.79e9 + 410,
                      columns=["ts", "mem_working_set"]).samples
        inside = want[(want["ts"] >= 1.79e9 + 200) & (want["ts"] <= 1.79e9 + 410)]
        assert window["container_id"].astype(str).tolist() == inside["container_id"].tolist()
        np.testing.assert_array_equal(window["mem_working_set"], inside["mem_working_set"])


def pd_equal(a: object, b: object) -> None:
    import pandas as pd

    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),  # type: ignore[union-attr]
                                  check_dtype=False, check_categorical=False)


@pytest.mark.parametrize("kinds", [1, 200, 40_000])
def test_key_columns_take_the_codes_pandas_would_keep(kinds: int) -> None:
    """The host and container columns come back as categoricals whose codes are already
    in the type pandas picks for that many categories, and spell the keys in order."""
    import pandas as pd

    from rightsize.store import reader

    values = [f"k{(i * 7919) % kinds:05d}" for i in range(kinds)]
    counts = np.arange(kinds, dtype=np.int64) % 3 + 1
    got = reader._key_column(values, counts)
    want = pd.Categorical(np.repeat(np.array(values, dtype=object), counts))
    assert got.codes.dtype == want.codes.dtype
    assert list(got) == list(want)
