"""Terminal-safe text: untrusted strings (names, labels, images, headers) made visible.

One function, :func:`term_safe`, is used by every text output: the ``analyze``
table, CSV and Markdown, ``export`` to stdout, the GitHub annotations and step
summary, error and log lines. It replaces what a terminal or a renderer would
*act on* instead of showing with a visible escape:

- C0 controls (U+0000-U+001F: ESC, CR, LF, TAB, BEL …), DEL and the C1 controls
  (U+0080-U+009F, e.g. the 8-bit CSI U+009B) → ``\\x1b``, ``\\x0d``, ``\\x9b``;
- bidirectional controls that reorder what is shown (U+202A-U+202E embeddings
  and overrides, U+2066-U+2069 isolates, U+200E/U+200F marks, U+061C) and the
  Unicode line/paragraph separators U+2028/U+2029 → ``\\u202e`` etc.

Everything else is kept: accents, CJK, emoji and other ordinary Unicode.
Backslashes are not doubled, so the escape is readable rather than exactly
reversible.

:func:`json_safe` does the same inside an already-encoded JSON document with
JSON's own ``\\uXXXX`` escapes, so the decoded values are unchanged: JSON keeps
every value exactly (it is data, not a terminal) and is still safe to print.
"""

from __future__ import annotations

import re

__all__ = ["UNSAFE", "json_safe", "term_safe"]

_BIDI = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
#: the characters :func:`term_safe` escapes
UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
#: what JSON text may still hold raw (``json.dumps`` escapes C0 controls in strings itself)
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI}]")


def term_safe(text: str, *, keep: str = "") -> str:
    """``text`` with control and bidirectional characters shown as ``\\x1b`` / ``\\u202e``.

    ``keep``: characters to pass through (e.g. ``"\\n"`` for multi-line text).
    """

    def escape(m: re.Match[str]) -> str:
        char = m.group()
        if char in keep:
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"

    return UNSAFE.sub(escape, text)


def json_safe(document: str) -> str:
    """Encoded JSON text with DEL, C1 and bidirectional characters as ``\\uXXXX`` escapes.

    ``json.dumps`` already escapes the C0 controls inside strings, and these
    characters can only occur inside strings, so the decoded value is identical.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
