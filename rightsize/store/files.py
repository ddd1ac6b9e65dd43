"""Opening the store: the file checks, read-only fallbacks and one-line errors.

A store is checked read-only before anything is written or any pragma is
set, so another application's file is left byte-identical; SQLite errors
become one line naming the store (disk full, locked by whom, read-only).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from pathlib import Path

from rightsize.errors import InputError, RightsizeError, RuntimeFailure, UsageError
from rightsize.store.schema import SCHEMA_VERSION, TABLES, TABLES_V2

log = logging.getLogger("rightsize.store")

DEFAULT_DB = Path("data") / "rightsize.db"

def default_db_path(env: dict[str, str] | None = None) -> Path:
    """``RIGHTSIZE_DB`` if set, else ``data/rightsize.db`` under the working directory."""
    env = dict(os.environ) if env is None else env
    return Path(env["RIGHTSIZE_DB"]) if env.get("RIGHTSIZE_DB") else DEFAULT_DB


_EXPECTED = (
    f"a rightsize store (SQLite, user_version 1 to {SCHEMA_VERSION}, tables "
    + ", ".join(TABLES)
    + ")"
)
#: seconds a writer waits for another writer's lock (``rightsize import``, retention)
LOCK_WAIT = 10.0
#: seconds a collection round waits before keeping its rows for the next round
ROUND_LOCK_WAIT = 1.0
#: collection rounds kept in memory while the store stays locked (then the oldest go)
MAX_PENDING_ROUNDS = 360

# SQLite primary result codes (sqlite3.Error.sqlite_errorcode & 0xff)
_BUSY, _LOCKED, _READONLY, _FULL, _CANTOPEN = 5, 6, 8, 13, 14


class StoreLocked(RuntimeFailure):
    """Another connection holds the store's write lock (exit 3)."""


class StoreReadOnly(UsageError):
    """A writing command on a store that cannot be written (exit 2)."""


def sqlite_code(exc: BaseException) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def lock_holders(path: Path) -> list[str]:
    """Other processes that have the store open (best effort, from ``/proc/*/fd``)."""
    real = os.path.realpath(path)
    names = {real, real + "-wal", real + "-shm", real + "-journal"}
    found: list[str] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = list((entry / "fd").iterdir())
            if not any(os.readlink(fd) in names for fd in fds):
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode("utf-8", "replace") for a in argv if a]
        found.append(f"pid {entry.name} ({_command(words)})")
    return found


def _command(argv: list[str]) -> str:
    """``rightsize collect`` for a rightsize process, else its program name."""
    for i, word in enumerate(argv):
        base = os.path.basename(word)
        if base == "rightsize" or (base == "-m" and argv[i + 1 : i + 2] == ["rightsize"]):
            rest = [a for a in argv[i + 1 :] if not a.startswith("-") and a != "rightsize"]
            return "rightsize " + (rest[0] if rest else "")
    return os.path.basename(argv[0]) if argv else "?"


def store_error(exc: sqlite3.Error, path: Path, doing: str = "write") -> RightsizeError:
    """One-line error for a failed SQLite call on the store at ``path``."""
    code, text = sqlite_code(exc), str(exc)
    if code == _FULL or "disk is full" in text:
        return RuntimeFailure(
            f"disk full: the {doing} to the store {path} was rolled back (nothing was kept); "
            "free some space and run it again"
        )
    if code in (_BUSY, _LOCKED) or "database is locked" in text:
        holders = lock_holders(path)
        who = f" (open in {', '.join(holders)})" if holders else ""
        return StoreLocked(
            f"the store {path} is locked by another writer{who}; wait for it to finish "
            "or stop it, or use another --db"
        )
    if code == _READONLY or "readonly database" in text:
        return StoreReadOnly(_read_only_text(path, "it cannot be written"))
    return RuntimeFailure(f"the store {path}: SQLite said: {text}")


def _read_only_text(path: Path, why: str) -> str:
    return (
        f"the store {path} is read-only ({why}); reading commands (analyze, report, "
        "export) work, writing ones need write access to the file and its folder"
    )


def _read_only_reason(path: Path) -> str | None:
    """Why ``path`` (an existing store) cannot be written, or None."""
    folder = path.resolve().parent
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "on a read-only file system"
    except OSError:
        pass
    if not os.access(path, os.W_OK):
        return f"file mode {stat.S_IMODE(path.stat().st_mode):04o}"
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable (SQLite keeps its -wal file there)"
    return None


def _uri(path: Path, **params: object) -> str:
    from urllib.parse import quote

    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path.resolve()))}?{query}"


def open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; ``immutable=1`` when SQLite cannot share the WAL index."""
    conn = sqlite3.connect(_uri(path, mode="ro"), uri=True, timeout=LOCK_WAIT,
                           isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if sqlite_code(exc) not in (_CANTOPEN, _READONLY) and "unable to open" not in str(exc):
            raise
    # A WAL store in a folder we cannot write: no -shm can be created. Read the
    # file as it is (rows still in an uncheckpointed -wal are not seen).
    if Path(str(path) + "-wal").exists() and os.path.getsize(str(path) + "-wal") > 0:
        log.warning("%s: read-only and its -wal file is not checkpointed; its newest rows "
                    "may not be seen", path)
    conn = sqlite3.connect(_uri(path, mode="ro", immutable=1), uri=True, isolation_level=None)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def probe(path: Path) -> tuple[sqlite3.Connection, int]:
    """Check, read-only, that ``path`` is a rightsize store: (read-only connection, version).

    Nothing is written and no pragma is set before this passes, so another
    application's file is left byte-identical.
    """
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise StoreReadOnly(f"cannot read the store {path}: {exc.strerror or exc}") from exc
    if not header.startswith(b"SQLite format 3\x00") and header:
        raise InputError(f"{path}: not a rightsize store (not an SQLite file); "
                         f"expected {_EXPECTED}")
    try:
        if header and header[18] == 2 and not Path(f"{path}-wal").exists():
            # a WAL file closed cleanly: read it as it is, without creating -wal/-shm
            conn = sqlite3.connect(_uri(path, mode="ro", immutable=1), uri=True,
                                   isolation_level=None)
        else:
            conn = open_read_only(path)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path}: not a rightsize store (SQLite said: {exc}); "
                         f"expected {_EXPECTED}") from exc
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise InputError(f"{path}: not a rightsize store (SQLite said: {exc}); "
                         f"expected {_EXPECTED}") from exc
    problem = None
    if version > SCHEMA_VERSION:
        problem = (f"{path}: store schema version {version} is newer than this rightsize "
                   f"understands ({SCHEMA_VERSION}); upgrade rightsize")
    elif version == 0 and objects:
        problem = (f"{path}: an SQLite file that is not a rightsize store (user_version 0 "
                   f"and tables {', '.join(sorted(tables)) or 'none'}); expected {_EXPECTED}")
    elif version > 0:
        missing = [t for t in (TABLES if version >= 3 else TABLES_V2) if t not in tables]
        if missing:
            problem = (f"{path}: not a rightsize store: user_version {version} but no "
                       f"{', '.join(missing)} table{'s' if len(missing) > 1 else ''}; "
                       f"expected {_EXPECTED}")
    if problem is not None:
        conn.close()
        raise InputError(problem)
    return conn, int(version)


def connect(path: Path, *, create: bool) -> tuple[sqlite3.Connection, bool]:
    """(connection, writable) to a checked store; read-only for readers when it can be."""
    if not path.exists():
        if not create:
            raise RuntimeFailure(
                f"no store at {path}: run `rightsize collect` or `rightsize import` first, "
                "or pass --db"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreReadOnly(
                f"cannot create the store {path}: {exc.strerror or exc}"
            ) from exc
        if not os.access(path.parent, os.W_OK):
            raise StoreReadOnly(f"cannot create the store {path}: its folder is not writable")
    else:
        ro, version = probe(path)
        ro.close()
        reason = _read_only_reason(path)
        if reason is not None:
            if create:
                raise StoreReadOnly(_read_only_text(path, reason))
            if version == SCHEMA_VERSION:
                return open_read_only(path), False
            if version == 0:
                raise RuntimeFailure(f"{path}: an empty store (and read-only); collect or "
                                     "import some data first")
            raise StoreReadOnly(_read_only_text(
                path, f"{reason}; it needs an upgrade to schema {SCHEMA_VERSION} first"))
    try:
        conn = sqlite3.connect(path, timeout=LOCK_WAIT, isolation_level=None)
    except sqlite3.Error as exc:
        raise store_error(exc, path, "open") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=OFF")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if sqlite_code(exc) in (_BUSY, _LOCKED, _READONLY, _FULL):
            raise store_error(exc, path, "open") from exc
        raise InputError(f"{path}: not a rightsize store (SQLite said: {exc})") from exc
    return conn, True
