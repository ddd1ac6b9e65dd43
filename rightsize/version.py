"""The package version, apart from the package root so any module can import it."""

from __future__ import annotations

__version__ = "0.1.0"
#: the User-Agent every source sends
USER_AGENT = f"rightsize/{__version__}"
