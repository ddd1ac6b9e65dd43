"""``python -m rightsize`` is the same as ``rightsize``."""

from __future__ import annotations

from rightsize.cli import main

if __name__ == "__main__":
    main()
