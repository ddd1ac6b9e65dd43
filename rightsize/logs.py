"""Logging setup: text or JSON lines on stderr, verbosity from -v/-q.

Text lines show control and bidirectional characters of the message visibly
(``\\x1b``, :func:`rightsize.render.terminal.term_safe`): messages echo
untrusted input (an import's header names, manifest values). JSON lines are
ASCII with JSON escapes. Passwords in URLs (``http://user:secret@host``) are
masked in every line (:func:`redact`), whatever the code that logged them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

# scheme://user:password@ → scheme://user:***@ (the password runs to the last @ before a / or space)
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:)[^\s/]*@")


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` URL masked."""
    return _USERINFO.sub(r"\g<head>***@", text) if "://" in text else text


class RedactingFilter(logging.Filter):
    """Masks URL passwords in a record's message (arguments included) and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (and exc when -v)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            doc["exc"] = record.exc_text
        elif record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc)


class TextFormatter(logging.Formatter):
    """``rightsize: <message>``, the message made terminal-safe (tracebacks kept as they are)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from rightsize.render.terminal import term_safe

        return f"rightsize: {term_safe(record.getMessage())}"


def setup_logging(verbose: int = 0, quiet: bool = False, fmt: str = "text") -> None:
    """Configure the ``rightsize`` logger tree once per process."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("rightsize")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
