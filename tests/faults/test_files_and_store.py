"""Faults around files and the store: outputs, foreign/read-only/locked stores, imports.

Real SQLite stores and real files throughout; a full disk is simulated by
failing the write (and, as root, made real with a tiny tmpfs).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rightsize import interchange, outputs
from rightsize import store as store_module
from rightsize.errors import RuntimeFailure
from rightsize.interchange import import_file
from rightsize.store import Store, StoreLocked, load
from rightsize.store import files as store_files
from tests.cli_run import run
from tests.store_rows import stored_samples

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_790_000_000
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="mounts a tmpfs (root only)")


def _csv(path: Path, containers: int = 3, samples: int = 40, *, extra: str = "",
         noisy: bool = False) -> Path:
    """An import file; ``noisy``: random memory readings (they do not compress away)."""
    import random

    rnd = random.Random(0)
    lines = ["timestamp,container,cpu_seconds_total,memory_bytes,memory_limit,oom_kills_total"]
    for i in range(samples):
        for c in range(containers):
            mem = rnd.randrange(2**40) if noisy else (100 + c + i % 7) * 2**20
            lines.append(f"{T0 + 10 * i},c{c},{i * 0.5 + c},{mem},"
                         f"{512 * 2**20},{i // 15}")
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "rs.db"
    with Store(path) as s:
        import_file(_csv(tmp_path / "seed.csv"), s)
    return path


def _snapshot(path: Path) -> tuple[dict[str, int], list[tuple[object, ...]]]:
    with Store(path, create=False) as s:
        counts = s.counts()
    return counts, stored_samples(path, ("host", "container_id", "ts", "mem_working_set"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sqlite_file(path: Path, *statements: str) -> str:
    """Another application's SQLite file at ``path``, made by ``statements``: its digest."""
    conn = sqlite3.connect(path)
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()
    return _sha(path)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (unmounted afterwards)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


# ------------------------------------------------------------------ outputs


def test_output_keeps_mode_and_follows_symlinks(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private = tmp_path / "private.json"
    private.write_text("old")
    private.chmod(0o600)
    target = tmp_path / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert run(capsys, "--db", str(db), "analyze", "--format", "json",
               "--output", str(private))[0] == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert '"rightsize/v1"' in private.read_text()
    assert run(capsys, "--db", str(db), "export", "--output", str(link))[0] == 0
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text().startswith("timestamp,")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_new_output_mode_follows_umask(db: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    old = os.umask(0o027)
    try:
        out = tmp_path / "new.csv"
        assert run(capsys, "--db", str(db), "analyze", "--format", "csv", "-o", str(out))[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_check_outputs_keep_mode(db: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    junit, baseline = tmp_path / "junit.xml", tmp_path / "baseline.json"
    for p in (junit, baseline):
        p.write_text("old")
        p.chmod(0o600)
    code, _, err = run(capsys, "--db", str(db), "check", "--exit-zero", "--junit", str(junit),
                       "--write-baseline", str(baseline))
    assert code == 0, err
    for p in (junit, baseline):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600 and p.read_text() != "old"


def test_devices_and_fifos_are_written_not_replaced(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert run(capsys, "--db", str(db), "export", "--output", str(fifo))[0] == 0
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got and got[0].startswith(b"timestamp,")
    for args in (("analyze", "--format", "json", "--output"), ("export", "--output"),
                 ("check", "--exit-zero", "--junit"), ("check", "--write-baseline")):
        code, _, err = run(capsys, "--db", str(db), *args, "/dev/null")
        assert code == 0, err
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null was replaced"
    assert not [p for p in Path("/dev").iterdir() if p.name.startswith(".null.")]


def test_output_errors_are_one_line(db: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "no").write_text("a file where a folder should be")
    blocked = tmp_path / "no" / "such" / "out.json"
    code, _, err = run(capsys, "--db", str(db), "analyze", "--output", str(blocked))
    assert code == 2 and str(tmp_path / "no") in err and len(err.strip().splitlines()) == 1
    if not IS_ROOT:  # root ignores permission bits
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        code, _, err = run(capsys, "--db", str(db), "analyze", "--output", str(locked / "x"))
        assert code == 2 and "ro" in err


def test_disk_full_leaves_old_file_and_no_temp(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.csv"
    out.write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)  # the os module that rightsize.outputs calls
    for args in (("analyze", "--format", "csv"), ("export",)):
        code, _, err = run(capsys, "--db", str(db), *args, "--output", str(out))
        assert code == 3 and "disk full" in err and str(out) in err, err
        assert out.read_text() == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "rs.db", "seed.csv"]


@needs_root
def test_real_disk_full_report_leaves_folder_as_it_was(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with tmpfs(tmp_path / "small", "64k") as small:
        (small / "latest.html").write_text("old report")
        before = sorted(p.name for p in small.iterdir())
        code, _, err = run(capsys, "--db", str(db), "report", "--out", str(small))
        assert code == 3 and "disk full" in err, err
        assert sorted(p.name for p in small.iterdir()) == before
        assert (small / "latest.html").read_text() == "old report"
        with contextlib.suppress(OSError), (small / "filler").open("wb") as fh:
            while True:
                fh.write(b"x" * 4096)
                fh.flush()
        before = sorted(p.name for p in small.iterdir())
        out = small / "out.csv"
        code, _, err = run(capsys, "--db", str(db), "export", "--output", str(out))
        assert code == 3 and "disk full" in err and not out.exists()
        assert sorted(p.name for p in small.iterdir()) == before


def test_report_failing_part_way_replaces_nothing(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = tmp_path / "reports"
    assert run(capsys, "--db", str(db), "report", "--out", str(reports))[0] == 0
    before = {p.name: p.read_bytes() for p in reports.iterdir()}
    real = outputs._prepare
    calls = []

    def fail_third(path: Path, write: outputs.Writer) -> tuple[str, Path] | None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(outputs, "_prepare", fail_third)
    code, _, err = run(capsys, "--db", str(db), "report", "--out", str(reports))
    assert code == 3 and "disk full" in err
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before


# ------------------------------------------------------------------ foreign and read-only stores


def test_another_applications_sqlite_file_is_left_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "app.db"
    digest = _sqlite_file(other, "CREATE TABLE notes (x)", "INSERT INTO notes VALUES ('keep me')")
    for args in (("analyze",), ("import", str(_csv(tmp_path / "in.csv"))), ("export",)):
        code, _, err = run(capsys, "--db", str(other), *args)
        assert code == 2 and "not a rightsize store" in err, err
        assert _sha(other) == digest
        assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "in.csv"]


def test_user_version_without_tables_and_non_sqlite_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "v1.db"
    digest = _sqlite_file(fake, "PRAGMA user_version = 1", "CREATE TABLE t (x)")
    code, _, err = run(capsys, "--db", str(fake), "import", str(_csv(tmp_path / "in.csv")))
    assert code == 2 and "not a rightsize store" in err and "samples" in err, err
    assert "expected a rightsize store" in err and _sha(fake) == digest
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n" * 100)
    code, _, err = run(capsys, "--db", str(text), "analyze")
    assert code == 2 and "not a rightsize store" in err and str(text) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@needs_root
def test_read_only_store_reads_and_refuses_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with tmpfs(tmp_path / "ro", "8m") as folder:
        db = folder / "rs.db"
        with Store(db) as s:
            import_file(_csv(tmp_path / "seed.csv"), s)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        for args in (("analyze",), ("export",), ("report", "--out", str(tmp_path / "reps"))):
            code, _, err = run(capsys, "--db", str(db), *args)
            assert code == 0, err
        code, _, err = run(capsys, "--db", str(db), "import", str(_csv(tmp_path / "in.csv")))
        assert code == 2 and f"the store {db} is read-only" in err, err
        assert "not a rightsize store" not in err
        assert sorted(p.name for p in folder.iterdir()) == ["rs.db"]


def test_read_only_file_mode(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if IS_ROOT:
        pytest.skip("root writes 0444 files")
    db.chmod(0o444)
    assert run(capsys, "--db", str(db), "analyze")[0] == 0
    code, _, err = run(capsys, "--db", str(db), "import", str(db.parent / "seed.csv"))
    assert code == 2 and "is read-only" in err


# ------------------------------------------------------------------ a locked store


@pytest.fixture
def holder(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store's write lock."""
    code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield proc
    proc.kill()
    proc.wait()


def test_import_into_a_locked_store_names_the_holder(
    db: Path, holder: subprocess.Popen[str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_files, "LOCK_WAIT", 0.3)
    started = time.monotonic()
    code, _, err = run(capsys, "--db", str(db), "import", str(_csv(tmp_path / "in.csv", 4)))
    assert time.monotonic() - started < 10
    assert code == 3 and "locked by another writer" in err, err
    assert f"pid {holder.pid}" in err and "another --db" in err


def test_collect_rounds_wait_in_memory_while_locked(
    db: Path, holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from rightsize.rows import SampleRow

    monkeypatch.setattr(store_files, "ROUND_LOCK_WAIT", 0.1)
    monkeypatch.setattr(store_files, "MAX_PENDING_ROUNDS", 2)

    def row(i: int) -> SampleRow:
        values = dict.fromkeys(store_module.SAMPLE_COLUMNS)
        values.update(host="h", container_id="x", ts=float(T0 + i), mem_working_set=i)
        return SampleRow(**values)  # type: ignore[typeddict-item,no-any-return]

    with Store(db) as s:
        before = s.counts()["samples"]
        for i in range(3):
            assert s.write_round(samples=[row(i)]) == 0  # locked: kept
        assert "locked by another writer" in caplog.text and "dropped the oldest 1" in caplog.text
        holder.kill()
        holder.wait()
        assert s.write_round(samples=[row(3)]) == 3  # the two kept rounds and this one
        assert s.counts()["samples"] == before + 3


# ------------------------------------------------------------------ all-or-nothing imports


def _written(pid: int) -> int:
    """Bytes process ``pid`` has written so far (``wchar`` of /proc/PID/io)."""
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines()
                 if line.startswith("wchar:")), 0)


def test_import_killed_midway_leaves_the_store_as_it_was(db: Path, tmp_path: Path) -> None:
    # 600,000 rows: more than one WRITE_ROWS flush, so the kill lands while chunks are written
    big = _csv(tmp_path / "big.csv", containers=100, samples=6000, noisy=True)
    before = _snapshot(db)
    for sig in (signal.SIGKILL, signal.SIGINT):
        proc = subprocess.Popen([sys.executable, "-m", "rightsize", "--db", str(db), "import",
                                 str(big)], cwd=ROOT, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if _written(proc.pid) > 2_000_000:  # chunks are being written
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the import finished before it could be interrupted"
        proc.send_signal(sig)
        proc.wait(30)
        assert _snapshot(db) == before, f"{sig!r} left rows behind"


def test_import_failing_late_leaves_the_store_as_it_was(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(interchange, "CHUNK_ROWS", 10)
    monkeypatch.setattr(interchange, "WRITE_ROWS", 10)  # write each chunk's rows
    before = _snapshot(db)
    bad = _csv(tmp_path / "bad.csv", containers=2, samples=30, extra=f"{T0},c0,1,lots,1,0\n")
    code, _, err = run(capsys, "--db", str(db), "import", str(bad))
    assert code == 2 and "line 62, column 'memory_bytes'" in err, err
    assert _snapshot(db) == before

    real_write = Store.write_frame
    calls = []

    def full_on_third(self: Store, frame: Any) -> int:
        calls.append(1)
        if len(calls) == 3:
            raise sqlite3.OperationalError("database or disk is full")
        return real_write(self, frame)

    monkeypatch.setattr(Store, "write_frame", full_on_third)
    code, _, err = run(capsys, "--db", str(db), "import", str(_csv(tmp_path / "ok.csv", 2, 30)))
    assert code == 3 and "disk full" in err and "rolled back" in err, err
    assert "no transaction is active" not in err
    monkeypatch.undo()
    assert _snapshot(db) == before


@needs_root
def test_real_disk_full_during_import_and_collect(tmp_path: Path) -> None:
    from rightsize.rows import SampleRow

    with tmpfs(tmp_path / "small", "1m") as folder:
        db = folder / "rs.db"
        with Store(db) as s:
            import_file(_csv(tmp_path / "seed.csv"), s)
        before = _snapshot(db)
        with Store(db) as s, pytest.raises(RuntimeFailure, match="disk full"):
            import_file(_csv(tmp_path / "big.csv", containers=20, samples=10_000, noisy=True), s)
        assert _snapshot(db) == before
        values = dict.fromkeys(store_module.SAMPLE_COLUMNS)
        rnd = np.random.default_rng(0).integers(0, 2**40, size=(60_000, 3)).tolist()
        rows = [SampleRow(**{**values, "host": "h", "container_id": f"x{i % 9}",  # type: ignore[typeddict-item]
                             "ts": float(i), "mem_working_set": a, "mem_usage": b,
                             "cpu_total_ns": c}) for i, (a, b, c) in enumerate(rnd)]
        with Store(db) as s, pytest.raises(RuntimeFailure, match="disk full"):
            s.write_round(samples=rows)
        assert _snapshot(db) == before


def test_streamed_import_equals_whole_file_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # declared values change, a counter resets, names change, rows for one
    # container are spread over chunks, one container goes back in time
    lines = ["timestamp,container,name,cpu_cores,memory_bytes,memory_limit,oom_kills_total,"
             "restarts_total"]
    for i in range(30):
        for c in range(3):
            kills = i // 4 if i < 20 else (i - 20) // 3
            limit = "" if i % 5 else f"{(256 + 16 * (i // 10)) * c + 64}Mi"
            lines.append(f"{T0 + 10 * i},c{c},name{c}-{i // 12},0.5,{2**20 * (i + 1)},{limit},"
                         f"{kills},{i // 9}")
    ordered = tmp_path / "ordered.csv"
    ordered.write_text("\n".join(lines) + "\n")
    unordered = tmp_path / "unordered.csv"
    unordered.write_text("\n".join([lines[0], *lines[1:][::-1]]) + "\n")

    def contents(path: Path, chunk: int) -> list[object]:
        monkeypatch.setattr(interchange, "CHUNK_ROWS", chunk)
        db = tmp_path / f"{path.stem}-{chunk}.db"
        with Store(db) as s:
            summary = import_file(path, s)
        ds = load(db)
        return [summary, ds.samples, ds.events,
                ds.containers.drop(columns=["first_seen", "last_seen"])]

    def same(a: list[object], b: list[object]) -> None:
        assert a[0] == b[0]
        for x, y in zip(a[1:], b[1:], strict=True):
            pd.testing.assert_frame_equal(x, y)  # type: ignore[arg-type]

    whole = contents(ordered, 10**9)
    assert len(whole[2]) > 10  # type: ignore[arg-type]  # kills and restarts became events
    same(contents(ordered, 7), whole)
    same(contents(unordered, 7), contents(unordered, 10**9))


def test_import_summary_says_what_was_dropped(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text = ("timestamp,container,cpu_cores,memory_bytes\n"
            f"{T0},a,0.5,100\n{T0},a,0.7,100\n{T0 + 10},a,0.5,nan\n{T0 + 20},b,,200\n"
            f"{T0 + 20},b,,200\n")
    path = tmp_path / "in.csv"
    path.write_text(text)
    code, out, err = run(capsys, "--db", str(tmp_path / "rs.db"), "import", str(path))
    assert code == 0, err
    assert out.startswith("imported 3 samples of 2 containers")
    assert "skipped 2 duplicate timestamps" in out
    assert "1 blank memory value" in out and "2 blank CPU values" in out


def test_store_lock_error_is_a_store_locked(db: Path, holder: subprocess.Popen[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_files, "LOCK_WAIT", 0.2)
    with Store(db) as s, pytest.raises(StoreLocked):
        s.connection.execute("PRAGMA busy_timeout = 200")
        s.delete_samples_before(0)


def test_a_new_output_file_gets_its_folders_and_a_file_in_the_way_is_one_line(
    tmp_path: Path,
) -> None:
    from rightsize.errors import UsageError
    from rightsize.outputs import write_text

    write_text(tmp_path / "a" / "b" / "out.json", "{}")
    assert (tmp_path / "a" / "b" / "out.json").read_text() == "{}"
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"file/out\.json"):
        write_text(tmp_path / "file" / "out.json", "{}")
