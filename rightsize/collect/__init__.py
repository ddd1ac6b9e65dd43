"""The sampling loops: Docker engines (:mod:`.docker`) and kubelets (:mod:`.kubelet`).

Both run on one :class:`~rightsize.collect.ticker.Ticker` and stop through
:mod:`rightsize.collect.signals`. The Docker loop's names are re-exported here.
"""

from __future__ import annotations

from rightsize.collect.docker import CollectOptions, CollectStats, collect, describe

__all__ = ["CollectOptions", "CollectStats", "collect", "describe"]
