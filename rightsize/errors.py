"""The error hierarchy, and the exit code each error maps to.

    RightsizeError            base; never raised directly
    ├── UsageError            bad flag, bad value, bad config          → exit 2
    │   └── UnknownWorkload   ``result["name"]`` of no workload (also a KeyError)
    ├── InputError            a malformed input file (names the file)   → exit 2
    └── RuntimeFailure        engine/server unreachable, permission
        │                     denied, no data in the window             → exit 3
        └── EngineError       the Docker engine answered with an error
            └── NotFound      404/409: container gone or not running

Library code raises these (re-raising low-level errors ``from exc``);
only ``cli.py`` turns them into messages and exit codes.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3


class RightsizeError(Exception):
    """Base class of every error rightsize raises on purpose."""

    exit_code = EXIT_RUNTIME


class UsageError(RightsizeError):
    """A bad flag, option value or config key (exit 2)."""

    exit_code = EXIT_USAGE


class UnknownWorkload(UsageError, KeyError):
    """A workload name that is not in the result; a ``KeyError`` too, so ``in``/``get`` work."""

    def __init__(self, name: str, known: list[str], shown: int = 20) -> None:
        listed = ", ".join(repr(k) for k in known[:shown])
        if len(known) > shown:
            listed += f", … ({len(known) - shown} more)"
        super().__init__(f"no workload named {name!r}; known workloads: {listed or 'none'}")
        self.name = name
        self.known = tuple(known)

    def __str__(self) -> str:  # KeyError's str() would quote the whole message
        return str(self.args[0])


class InputError(RightsizeError):
    """A malformed input file; the message names the file (exit 2)."""

    exit_code = EXIT_USAGE


class RuntimeFailure(RightsizeError):
    """Something outside rightsize failed: engine, server, empty data (exit 3)."""

    exit_code = EXIT_RUNTIME


class EngineError(RuntimeFailure):
    """The Docker engine returned an error status."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFound(EngineError):
    """The container is gone (404) or not running (409)."""
