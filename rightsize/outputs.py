"""The one file writer: every file rightsize writes goes through here.

Rules (``docs/guarantees.md``, "Outputs"):

- ``-`` is stdout.
- A regular file, or a path that does not exist yet, is replaced atomically:
  a temp file in the same folder, fsync, ``os.replace``. An existing file
  keeps its mode (and, when permitted, its owner); a new one gets
  ``0666 & ~umask``. A failure leaves the old file untouched and no temp file.
- Anything else that exists (a character device such as ``/dev/null``, a FIFO,
  a socket) is opened and written in place, never replaced.
- Symlinks are followed: the target is written, the link stays a link.
- ``$GITHUB_STEP_SUMMARY`` is appended to (:func:`append_text`), not replaced,
  and so are a recording's line files (:class:`AppendStream`).
- A new file's missing folders are made. Errors are one line naming the
  path: a folder that cannot be made or a permission problem is a
  :class:`UsageError` (exit 2), a full disk (ENOSPC, EDQUOT) a
  :class:`RuntimeFailure` saying "disk full" (exit 3).

:class:`Staged` prepares several files and replaces them together at the end
(the report's ``report.json``, ``latest.html`` and index), so a failure
part-way replaces none of them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from rightsize.errors import RightsizeError, RuntimeFailure, UsageError

__all__ = [
    "AppendStream",
    "Staged",
    "append_text",
    "disk_full",
    "make_folder",
    "write_bytes",
    "write_stream",
    "write_text",
]

Writer = Callable[[BinaryIO], None]

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_USAGE = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS,
     errno.ELOOP, errno.ENAMETOOLONG, errno.EEXIST}
)


def disk_full(exc: BaseException) -> bool:
    """True for ENOSPC / EDQUOT (also when wrapped, e.g. by pyarrow)."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return True
    text = str(exc)
    return "No space left on device" in text or "Disk quota exceeded" in text


def _error(exc: OSError, path: Path | str, what: str) -> RightsizeError:
    if disk_full(exc):
        return RuntimeFailure(f"disk full: cannot write {what} {path} (nothing was replaced)")
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOENT:
        reason = f"no such folder {Path(path).parent}"
    cls = UsageError if exc.errno in _USAGE else RuntimeFailure
    return cls(f"cannot write {what} {path}: {reason}")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _target(path: Path) -> tuple[Path, os.stat_result | None]:
    """The file to write (symlinks followed) and its stat, None when it does not exist."""
    target = Path(os.path.realpath(path))
    try:
        return target, os.stat(target)
    except FileNotFoundError:
        return target, None


def _prepare(path: Path, write: Writer) -> tuple[str, Path] | None:
    """Write into a temp file beside ``path``'s target; None when written in place.

    Returns (temp file, final path) for the caller to ``os.replace``.
    """
    target, st = _target(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        return None
    if st is None:  # a new file: its folder is made as needed (`--junit out/junit.xml`)
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        if st is not None:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            with contextlib.suppress(OSError):
                os.fchown(fd, st.st_uid, st.st_gid)
        else:
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp, target


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_stream(path: Path | str, write: Writer, *, what: str = "the file") -> None:
    """Call ``write(binary file)`` for ``path`` following the module's rules."""
    if str(path) == "-":
        sys.stdout.flush()
        out = sys.stdout.buffer
        write(out)
        out.flush()
        return
    path = Path(path)
    try:
        staged = _prepare(path, write)
        if staged is not None:
            tmp, target = staged
            try:
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _fsync_folder(target.parent)
    except OSError as exc:
        raise _error(exc, path, what) from exc
    except Exception as exc:  # a writer's library wrapping ENOSPC (pyarrow)
        if disk_full(exc):
            raise RuntimeFailure(
                f"disk full: cannot write {what} {path} (nothing was replaced)"
            ) from exc
        raise


def _bytes(data: bytes) -> Writer:
    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return write


def write_bytes(path: Path | str, data: bytes, *, what: str = "the file") -> None:
    """Write ``data`` to ``path`` (see the module doc)."""
    write_stream(path, _bytes(data), what=what)


def write_text(path: Path | str, text: str, *, what: str = "the file") -> None:
    """Write ``text`` as UTF-8 to ``path`` (see the module doc)."""
    write_bytes(path, text.encode("utf-8"), what=what)


def append_text(path: Path | str, text: str, *, what: str = "the file") -> None:
    """Append ``text`` (UTF-8) to ``path``, the one output that grows in place.

    For files another program owns and reads afterwards (GitHub's
    ``$GITHUB_STEP_SUMMARY``); errors as for :func:`write_text`, saying "append".
    """
    try:
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise _append_error(exc, path, what) from exc


def _append_error(exc: OSError, path: Path | str, what: str) -> RightsizeError:
    if disk_full(exc):
        return RuntimeFailure(f"disk full: cannot append {what} to {path}")
    return UsageError(f"cannot append {what} to {path}: {exc.strerror or exc}")


class AppendStream:
    """A text file that grows line by line (a recording's ``stats.jsonl``).

    Opened on the first line; each line is flushed, so a killed writer leaves
    at most one torn last line. Errors as for :func:`append_text`.
    """

    def __init__(self, path: Path, *, what: str = "the file") -> None:
        self.path, self.what = path, what
        self._fh: IO[str] | None = None

    def write_line(self, line: str) -> None:
        try:
            if self._fh is None:
                self._fh = self.path.open("a", encoding="utf-8")
            self._fh.write(line + "\n")
            self._fh.flush()
        except OSError as exc:
            raise _append_error(exc, self.path, self.what) from exc

    def sync(self) -> None:
        """fsync what was written (nothing to do before the first line)."""
        if self._fh is not None:
            try:
                self._fh.flush()
                os.fsync(self._fh.fileno())
            except OSError as exc:
                raise _append_error(exc, self.path, self.what) from exc

    def close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except OSError as exc:  # the unwritten rest of a failed line
                raise _append_error(exc, self.path, self.what) from exc


def make_folder(path: Path, *, what: str = "the folder") -> None:
    """``mkdir -p path``, failures as one-line errors naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if disk_full(exc):
            raise RuntimeFailure(f"disk full: cannot create {what} {path}") from exc
        raise UsageError(f"cannot create {what} {path}: {exc.strerror or exc}") from exc


class Staged:
    """Files prepared one by one and replaced together by :meth:`commit`.

    Use as a context manager: leaving it normally commits; an exception
    removes every temp file and replaces nothing. Non-regular targets
    (devices, FIFOs) are written when added.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[str, Path, Path]] = []  # (temp, target, as given)

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def add_text(self, path: Path, text: str, *, what: str = "the file") -> None:
        """Prepare ``path`` with ``text`` (UTF-8)."""
        data = text.encode("utf-8")
        try:
            staged = _prepare(path, _bytes(data))
        except OSError as exc:
            self.discard()
            raise _error(exc, path, what) from exc
        if staged is not None:
            self._pending.append((staged[0], staged[1], path))

    def commit(self) -> None:
        """Replace every prepared file."""
        pending, self._pending = self._pending, []
        try:
            for i, (tmp, target, given) in enumerate(pending):
                try:
                    os.replace(tmp, target)
                except OSError as exc:
                    for rest, _, _ in pending[i:]:
                        with contextlib.suppress(OSError):
                            os.unlink(rest)
                    raise _error(exc, given, "the file") from exc
        finally:
            for folder in {t.parent for _, t, _ in pending}:
                _fsync_folder(folder)

    def discard(self) -> None:
        """Remove every prepared temp file."""
        pending, self._pending = self._pending, []
        for tmp, _, _ in pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
