"""rightsize: are your containers asking for the right CPU and memory?"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
