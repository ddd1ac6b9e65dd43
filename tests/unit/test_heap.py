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
