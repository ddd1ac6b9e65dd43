"""pyarrow is an optional extra (Parquet): everything else works without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"


@pytest.fixture
def no_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "pyarrow" or name.startswith("pyarrow."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError


@pytest.mark.usefixtures("no_pyarrow")
def test_load_and_analyze_without_pyarrow(tmp_path: Path) -> None:
    import rightsize
    from rightsize.sources.recording import read_recording
    from rightsize.store import Store, load

    with pytest.raises(ImportError):
        import pyarrow  # noqa: F401
    rec = read_recording(LAB)
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.write(samples=rec.samples, containers=rec.containers, events=rec.events,
                    hosts=[rec.host])
    dataset = load(db)
    assert dataset.samples.shape[0] == 2076
    result = rightsize.analyze(dataset)
    assert "oom_killed" in set(result.findings["kind"])


@pytest.mark.usefixtures("no_pyarrow")
def test_parquet_without_pyarrow_says_how_to_install(tmp_path: Path) -> None:
    from rightsize.errors import UsageError
    from rightsize.interchange import import_file
    from rightsize.store import Store

    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 16 + b"PAR1")
    with (
        Store(tmp_path / "s.db") as store,
        pytest.raises(UsageError, match=r"rightsize\[parquet\]"),
    ):
        import_file(path, store)
