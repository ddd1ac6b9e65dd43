"""Renderers: one module per output flavour; they only render an analysis result.

``render(result, fmt)`` picks one by the ``--format`` name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rightsize.errors import UsageError
from rightsize.render.tabular import to_csv, to_json, to_markdown, to_table

if TYPE_CHECKING:
    from rightsize.analysis.result import AnalysisResult

__all__ = ["FORMATS", "render", "to_csv", "to_json", "to_markdown", "to_table"]

_RENDERERS: dict[str, Callable[[AnalysisResult], str]] = {
    "table": to_table,
    "json": to_json,
    "csv": to_csv,
    "markdown": to_markdown,
}
#: the ``analyze --format`` names
FORMATS: tuple[str, ...] = tuple(_RENDERERS)


def render(result: AnalysisResult, fmt: str = "table") -> str:
    """``result`` in the format named ``fmt`` (table, json, csv, markdown)."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}") from None
    return renderer(result)
