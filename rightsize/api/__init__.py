"""The application layer: everything the CLI does, callable from Python.

The CLI (:mod:`rightsize.cli`) parses options and calls these functions;
the schedule and notebooks call the same ones, so the same inputs give the
same results (and the same ``rightsize/v1`` document) from every door.

- :mod:`.analysis`: :func:`load`, :func:`analyze`, :func:`backtest` (a store,
  a recorded folder, an import file or Prometheus; manifests applied);
- :mod:`.report`: :func:`report` (HTML and ``report.json``), :func:`write_patches`;
- :mod:`.check`: :func:`check`, the CI gate and its files;
- :mod:`.collection`: :func:`collect` (Docker), :func:`collect_prometheus`,
  :func:`collect_kubelet`, :func:`import_`, :func:`export`;
- :mod:`.schedule`: :func:`run`, collect → analyze → report cycles;
- :mod:`.options`: the typed options (:class:`ClusterAuth`, :class:`Prometheus`,
  :class:`Kubelet`).

Heavy modules (pandas, the analysis) are imported inside the functions that
need them, so ``rightsize collect`` starts fast.
"""

from __future__ import annotations

from rightsize.api.analysis import (
    Manifests,
    Source,
    StorePath,
    analyze,
    backtest,
    load,
    read_manifests,
)
from rightsize.api.check import check, load_baseline, write_baseline
from rightsize.api.collection import (
    Imported,
    collect,
    collect_kubelet,
    collect_prometheus,
    configure_store,
    export,
    import_,
)
from rightsize.api.options import ClusterAuth, Kubelet, Prometheus
from rightsize.api.report import report, write_patches
from rightsize.api.schedule import RunOptions, RunState, run

__all__ = [
    "ClusterAuth",
    "Imported",
    "Kubelet",
    "Manifests",
    "Prometheus",
    "RunOptions",
    "RunState",
    "Source",
    "StorePath",
    "analyze",
    "backtest",
    "check",
    "collect",
    "collect_kubelet",
    "collect_prometheus",
    "configure_store",
    "export",
    "import_",
    "load",
    "load_baseline",
    "read_manifests",
    "report",
    "run",
    "write_baseline",
    "write_patches",
]
