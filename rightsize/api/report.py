"""``report()`` and ``write_patches()``: an analysis written as files.

``rightsize report`` and every cycle of ``rightsize run`` call :func:`report`,
so both draw the same charts: with an aggregated Prometheus source, the
flagged workloads are re-read at the raw step for their charts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rightsize.api.analysis import Manifests, raw_histories, read_manifests

if TYPE_CHECKING:
    from rightsize.analysis.result import AnalysisResult
    from rightsize.api.options import Prometheus
    from rightsize.render.html import ReportPaths
    from rightsize.render.model import ChartMode

__all__ = ["report", "write_patches"]

log = logging.getLogger("rightsize")


def report(result: AnalysisResult, out: Path | str = "reports", *, charts: ChartMode = "auto",
           prometheus: Prometheus | None = None) -> ReportPaths:
    """Write the HTML report and ``report.json`` into ``out``; update latest and index.

    ``charts``: ``auto`` (full charts for the most severe workloads), ``all``
    or ``none``. ``prometheus``: the source the analysis came from, when it
    was aggregated (its flagged workloads are re-read raw for their charts).
    """
    from rightsize.render.html import write_report

    flagged = [w.name for w in result if w.worst_severity in ("warning", "critical")]
    return write_report(result, Path(out), charts_mode=charts,
                        chart_histories=raw_histories(result, prometheus, flagged))


def write_patches(result: AnalysisResult, manifests: Manifests,
                  folder: Path | str) -> Sequence[Path]:
    """Kustomize patches for the Kubernetes workloads of ``manifests`` into ``folder``.

    One strategic-merge patch per workload with a recommendation, and a
    ``kustomization.yaml`` Component listing them; returns the files written.
    """
    from rightsize.render.patches import write_kustomize_patches

    k8s = {m.workload: m for m in read_manifests(manifests) if m.is_kubernetes}
    items = [(k8s[w.name], w.recommendation) for w in result
             if w.name in k8s and w.recommendation is not None]
    written = write_kustomize_patches(Path(folder), items)
    log.info("wrote %d patch files into %s", len(written), folder)
    return written
