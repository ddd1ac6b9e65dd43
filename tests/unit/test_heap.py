"""The CLI keeps freed memory for reuse on glibc."""

from __future__ import annotations

import ctypes
import platform

import pytest

from rightsize import cli
from rightsize.heap import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_thresholds() -> None:
    assert keep_freed_memory() is True
    mallopt = ctypes.CDLL(None).mallopt
    assert mallopt(-3, 2**30) == 1  # the threshold the CLI sets is one glibc accepts


def test_the_cli_sets_it_first(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("heap") or True)
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert calls == ["heap"]


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(platform.system() != "Linux", reason="MADV_POPULATE_WRITE is Linux's")
def test_populate_maps_every_page_and_writes_none() -> None:
    import mmap

    import numpy as np

    from rightsize.heap import populate

    fresh = mmap.mmap(-1, 32 * 2**20)  # 32 MiB of pages never touched (not the heap's)
    a = np.frombuffer(fresh, dtype=np.float64)
    a[:1000] = np.arange(1000.0)  # the front already written, as the reader's is
    before = _resident_bytes()
    mapped = populate([a])
    if mapped == 0:
        pytest.skip("this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)")
    assert mapped >= a.nbytes - 2 * 4096  # every whole page inside the array
    assert _resident_bytes() - before >= 0.9 * a.nbytes  # the pages are there now
    np.testing.assert_array_equal(a[:1000], np.arange(1000.0))  # nothing was written
    assert not a[1000:].any()  # the rest still reads as the kernel's zeros
    del a
    fresh.close()


def test_populate_takes_the_arrays_in_turn_and_stops_when_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np

    from rightsize import heap

    monkeypatch.setattr(heap, "_PIECE", 4 * 4096)
    a, b = np.zeros(3 * 2048 + 1024), np.zeros(2048)  # pages: 3 pieces and a half, 1 piece
    calls: list[tuple[int, int, int]] = []

    def fake(addr: int, size: int, advice: int) -> int:
        calls.append((addr, size, advice))
        return 0

    mapped = heap.populate([a, b], madvise=fake)
    spans = heap._spans([a, b])
    (a0, a1), (b0, b1) = spans
    starts = [addr for addr, _, _ in calls]
    assert starts[:2] == [a0, b0]  # a piece of each array, then the next of each
    assert starts[2:] == [a0 + 4 * 4096, a0 + 8 * 4096, a0 + 12 * 4096]
    assert {advice for _, _, advice in calls} == {23}
    assert mapped == (a1 - a0) + (b1 - b0) == sum(size for _, size, _ in calls)

    answers = iter([0, -1, 0])
    calls.clear()
    assert heap.populate([a, b], madvise=lambda *args: calls.append(args) or next(answers)
                         ) == 4 * 4096  # the refusal ends it: the writes fault as usual
    assert len(calls) == 2


def test_populate_ahead_only_for_large_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from rightsize import heap

    small = np.empty(1000)
    assert heap.populate_ahead([small]) is None
    done: list[int] = []
    monkeypatch.setattr(heap, "populate", lambda arrays: done.append(len(arrays)))
    monkeypatch.setattr(heap, "POPULATE_MIN_BYTES", small.nbytes)
    thread = heap.populate_ahead([small, small])
    assert thread is not None and thread.daemon
    thread.join(5)
    assert done == [2]


def test_the_reader_maps_its_columns_ahead(tmp_path: object,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``load`` hands every column it fills, sized for every stored row, to populate_ahead."""
    from pathlib import Path

    import numpy as np

    from rightsize.store import Store, load, reader
    from tests.store_rows import sample

    db = Path(str(tmp_path)) / "p.db"
    with Store(db) as store:
        store.write_round(samples=[sample("c1", 1.79e9 + 10 * i, cpu_total_ns=i,
                                          mem_working_set=4096.0 * i) for i in range(300)])
    seen: list[list[int]] = []
    real = reader.populate_ahead

    def spy(arrays: list[np.ndarray]) -> object:
        seen.append([a.size for a in arrays])
        return real(arrays)

    monkeypatch.setattr(reader, "populate_ahead", spy)
    got = load(db, columns=["ts", "mem_working_set"]).samples
    assert seen == [[300, 300]]
    np.testing.assert_array_equal(got["mem_working_set"], 4096.0 * np.arange(300))
    # folded, the arrays are sized for the buckets the chunks' spans meet, not the rows
    seen.clear()
    folded = load(db, columns=["ts", "mem_working_set"], max_points=30).samples
    (sizes,) = {tuple(s) for s in seen}
    assert len(folded) <= sizes[0] < 300
    # a window counts the chunks it cuts in full: their pages are left to fault
    seen.clear()
    window = load(db, since=1.79e9 + 2900, columns=["ts", "mem_working_set"]).samples
    assert seen == [] and len(window) == 10


def test_the_folded_bound_holds_every_row(tmp_path: object,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``extent.most_rows`` is never below what a folded read gives (the arrays never grow)."""
    from pathlib import Path

    import numpy as np

    from rightsize.store import Store, load, reader
    from tests.store_rows import sample

    rng = np.random.default_rng(7)
    db = Path(str(tmp_path)) / "f.db"
    with Store(db) as store:
        for c in range(3):
            ts = 1.79e9 + np.cumsum(rng.choice([1.0, 7.0, 60.0, 900.0], size=700))
            for part in np.array_split(ts, 5):  # several chunks, with gaps between them
                store.write_round(samples=[sample(f"c{c}", float(t), cpu_total_ns=int(t),
                                                  mem_working_set=float(t % 977))
                                           for t in part])
                store.seal_all()
    bounds: list[int] = []
    real = reader.most_rows
    monkeypatch.setattr(reader, "most_rows", lambda *a: bounds.append(real(*a)) or bounds[-1])
    grew: list[int] = []
    emit = reader._Reader._emit

    def spy(self: reader._Reader, *args: object) -> None:
        before = self.total
        emit(self, *args)  # type: ignore[arg-type]
        if self.total != before:
            grew.append(self.total)

    monkeypatch.setattr(reader._Reader, "_emit", spy)
    for points in (3, 20, 150, 5000):
        got = load(db, columns=["ts", "mem_working_set"], max_points=points).samples
        assert len(got) <= bounds[-1]
    assert grew == [] and len(bounds) == 4
    assert bounds[0] < 2100  # and folding does tighten it
