"""The CLI run in-process for tests, and the error contract every failure keeps.

``run`` calls ``rightsize.cli.main`` as the console script does and returns
(exit code, stdout, stderr); ``one_line`` checks that an error is one line
without a traceback (nor an internal error, unless the test provokes one) and
returns that line.
"""

from __future__ import annotations

import pytest

from rightsize.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


def one_line(err: str, *, internal: bool = False) -> str:
    """The one line of ``err``: no traceback, and no internal error unless ``internal``."""
    assert "Traceback" not in err and (internal or "internal error" not in err), err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]
