"""What an analysis returns: :class:`AnalysisResult` and its :class:`WorkloadResult` rows.

A result holds, per workload, the declared values, usage statistics,
throttling, OOM kills, findings and the recommendation, and the host view
(:mod:`rightsize.analysis.hosts`). It renders as ``rightsize/v1`` JSON
(:meth:`AnalysisResult.to_dict`), as tidy DataFrames, and as an HTML table in
Jupyter. :func:`rightsize.analysis.pipeline.analyze` builds it from a dataset.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.analysis.findings import (
    OomKills,
    Throttling,
    worst_severity,
)
from rightsize.analysis.hosts import HostSummary
from rightsize.analysis.savings import Savings, replicas, total, workload_savings
from rightsize.analysis.strategies.base import History
from rightsize.analysis.thresholds import Thresholds
from rightsize.analysis.workloads import ResourceStats
from rightsize.model import SEVERITIES, Declared, Finding, Recommendation, Severity
from rightsize.units import format_cpu, format_memory, iso_utc

__all__ = ["SCHEMA", "AnalysisResult", "WorkloadResult", "iso_utc"]

SCHEMA = "rightsize/v1"
#: label prefixes that only repeat the workload identity (hidden in summaries)
IDENTITY_LABEL_PREFIXES = ("io.kubernetes.", "annotation.", "com.docker.compose.")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class WorkloadResult:
    """Everything rightsize concluded about one workload."""

    name: str
    containers: tuple[str, ...]
    container_names: tuple[str, ...]
    hosts: tuple[str, ...]
    images: tuple[str, ...]
    labels: Mapping[str, str]
    samples: int
    start: float
    end: float
    declared: Declared
    cpu: ResourceStats
    memory: ResourceStats
    throttling: Throttling
    oom: OomKills
    findings: tuple[Finding, ...]
    recommendation: Recommendation | None

    @property
    def oom_kills(self) -> int:
        return self.oom.kills

    @property
    def worst_severity(self) -> Severity | None:
        return worst_severity(self.findings)

    @property
    def display_labels(self) -> dict[str, str]:
        """Labels minus those that only repeat the workload identity."""
        return {k: v for k, v in self.labels.items() if not k.startswith(IDENTITY_LABEL_PREFIXES)}

    def to_dict(self) -> dict[str, Any]:
        """This workload as a ``rightsize/v1`` ``workloads[]`` entry."""
        return {
            "workload": self.name,
            "containers": list(self.containers),
            "labels": dict(self.labels),
            "samples": self.samples,
            "declared": self.declared.to_dict(),
            "usage": {
                "cpu": self.cpu.to_dict(),
                "memory": self.memory.to_dict(integer=True),
            },
            "throttling": self.throttling.to_dict(),
            "oom_kills": self.oom.kills,
            # extra: what the count rests on (kernel, counter, events, failcnt, state)
            "oom_evidence": self.oom.evidence,
            "findings": [f.to_dict() for f in self.findings],
            "recommendation": None
            if self.recommendation is None
            else self.recommendation.to_dict(),
            # extra (not required by rightsize/v1): how much history backs the numbers
            "coverage": {
                "start": iso_utc(self.start),
                "end": iso_utc(self.end),
                "seconds": round(self.cpu.duration, 3),
                "gaps": self.cpu.gaps,
                "hosts": list(self.hosts),
            },
        }


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """The outcome of :func:`analyze`.

    ``results`` holds one :class:`WorkloadResult` per workload (sorted by
    name; also reachable as ``result["name"]``), ``hosts`` the host view.
    DataFrame views: :attr:`workloads` (workload x resource), :attr:`findings`,
    :attr:`recommendations`, :attr:`usage` (tidy per interval). :attr:`savings`
    and :attr:`total_savings`: the change in requests the recommendations make
    (see :mod:`rightsize.analysis.savings`).
    """

    results: tuple[WorkloadResult, ...]
    hosts: tuple[HostSummary, ...]
    window: tuple[float, float] | None
    strategy: str
    params: Mapping[str, float]
    source: Mapping[str, Any]
    thresholds: Thresholds
    generated_at: float
    usage_frame: pd.DataFrame = field(repr=False)
    histories: Mapping[str, History] = field(repr=False)

    def __iter__(self) -> Iterator[WorkloadResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __contains__(self, name: object) -> bool:
        """``"web" in result``: whether a workload of that name was analysed."""
        return any(r.name == name for r in self.results)

    def __getitem__(self, name: str) -> WorkloadResult:
        """The workload called ``name``; :class:`~rightsize.errors.UnknownWorkload` if none."""
        for r in self.results:
            if r.name == name:
                return r
        from rightsize.errors import UnknownWorkload

        raise UnknownWorkload(str(name), [r.name for r in self.results])

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.results]

    @functools.cached_property
    def savings(self) -> dict[str, Savings]:
        """Per workload, the change in requests (x replicas running at the end) and money."""
        counts = replicas(self.usage_frame)
        prices = self.thresholds.prices
        return {
            r.name: workload_savings(r.declared, r.recommendation, counts.get(r.name, 1), prices)
            for r in self.results
        }

    @property
    def total_savings(self) -> Savings:
        """The change in requests over every workload: freed, added, net (and money)."""
        return total(self.savings.values(), self.thresholds.prices)

    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity (every severity present, possibly 0)."""
        out: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        for r in self.results:
            for f in r.findings:
                out[f.severity] += 1
        return out

    @property
    def worst_severity(self) -> Severity | None:
        return worst_severity([f for r in self.results for f in r.findings])

    # ---------------------------------------------------------------- frames

    @property
    def usage(self) -> pd.DataFrame:
        """Tidy per-interval usage with a ``workload`` column (see :mod:`.usage`)."""
        return self.usage_frame

    @property
    def findings(self) -> pd.DataFrame:
        """One row per finding: workload, kind, severity, resource, message."""
        rows = [{"workload": r.name, **f.to_dict()} for r in self.results for f in r.findings]
        return pd.DataFrame(rows, columns=["workload", "kind", "severity", "resource", "message"])

    @property
    def recommendations(self) -> pd.DataFrame:
        """One row per workload: declared and recommended values, confidence, QoS class."""
        keys = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
        rows = []
        for r in self.results:
            row: dict[str, Any] = {"workload": r.name}
            rec = r.recommendation
            for k in keys:
                row[f"declared_{k}"] = getattr(r.declared, k)
                row[k] = None if rec is None else getattr(rec, k)
            row["confidence"] = None if rec is None else rec.confidence
            row["qos"] = None if rec is None else rec.qos
            row["notes"] = "" if rec is None else "; ".join(rec.notes)
            rows.append(row)
        cols = [
            "workload",
            *(x for k in keys for x in (f"declared_{k}", k)),
            "confidence",
            "qos",
            "notes",
        ]
        frame = pd.DataFrame(rows, columns=cols)
        for c in cols[1:-2]:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        return frame

    @property
    def workloads(self) -> pd.DataFrame:
        """One row per workload x resource (cores / bytes), with findings."""
        rows = []
        for r in self.results:
            rec = r.recommendation
            for resource, stats in (("cpu", r.cpu), ("memory", r.memory)):
                rows.append(
                    {
                        "workload": r.name,
                        "resource": resource,
                        "request": getattr(r.declared, f"{resource}_request"),
                        "limit": getattr(r.declared, f"{resource}_limit"),
                        "p50": stats.p50,
                        "p90": stats.p90,
                        "p95": stats.p95,
                        "p99": stats.p99,
                        "max": stats.max,
                        "mean": stats.mean,
                        "samples": stats.samples,
                        "recommended_request": None
                        if rec is None
                        else getattr(rec, f"{resource}_request"),
                        "recommended_limit": None
                        if rec is None
                        else getattr(rec, f"{resource}_limit"),
                        "worst_severity": worst_severity(
                            [f for f in r.findings if f.resource in (resource, None)]
                        ),
                        "findings": ";".join(
                            f.kind for f in r.findings if f.resource in (resource, None)
                        ),
                    }
                )
        frame = pd.DataFrame(rows, columns=list(_WORKLOAD_COLUMNS))
        for c in ("request", "limit", "recommended_request", "recommended_limit"):
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        return frame

    # ---------------------------------------------------------------- output

    def to_dict(self) -> dict[str, Any]:
        """The ``rightsize/v1`` JSON document (product.md) as plain Python data."""
        start, end = self.window if self.window else (math.nan, math.nan)
        return {
            "schema": SCHEMA,
            "generated_at": iso_utc(self.generated_at),
            "window": {"start": iso_utc(start), "end": iso_utc(end)},
            "source": dict(self.source),
            "strategy": {"name": self.strategy, "params": dict(self.params)},
            "workloads": [
                {**r.to_dict(), "savings": self.savings[r.name].to_dict(with_replicas=True)}
                for r in self.results
            ],
            "hosts": [h.to_dict() for h in self.hosts],
            "savings": self.total_savings.to_dict(),
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        counts = self.counts
        start, end = self.window if self.window else (math.nan, math.nan)
        head = (
            f"<p><b>rightsize</b>: {len(self.results)} workloads, "
            f"{esc(str(iso_utc(start)))} to {esc(str(iso_utc(end)))}, "
            f"strategy <code>{esc(self.strategy)}</code>; "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + "</p>"
        )
        cols = (
            "workload",
            "containers",
            "labels",
            "CPU request / limit",
            "CPU p95",
            "CPU recommended",
            "memory request / limit",
            "memory max",
            "memory recommended",
            "worst",
            "findings",
        )
        body = []
        for r in self.results:
            d, rec = r.declared, r.recommendation
            labels = "<br>".join(f"{esc(k)}={esc(v)}" for k, v in sorted(r.display_labels.items()))
            cells = [
                esc(r.name),
                str(len(r.containers)),
                labels,
                f"{format_cpu(d.cpu_request)} / {format_cpu(d.cpu_limit)}",
                format_cpu(r.cpu.p95 if r.cpu.known else None),
                _rec_pair(rec, "cpu"),
                f"{format_memory(d.memory_request)} / {format_memory(d.memory_limit)}",
                format_memory(r.memory.max if r.memory.known else None),
                _rec_pair(rec, "memory"),
                esc(r.worst_severity or "-"),
                esc(", ".join(f"{f.kind}({f.resource or '-'})" for f in r.findings)),
            ]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        thead = "<tr>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"
        return f"{head}<table><thead>{thead}</thead><tbody>{''.join(body)}</tbody></table>"


_WORKLOAD_COLUMNS = (
    "workload",
    "resource",
    "request",
    "limit",
    "p50",
    "p90",
    "p95",
    "p99",
    "max",
    "mean",
    "samples",
    "recommended_request",
    "recommended_limit",
    "worst_severity",
    "findings",
)


def _rec_pair(rec: Recommendation | None, resource: str) -> str:
    if rec is None:
        return "-"
    fmt = format_cpu if resource == "cpu" else format_memory
    return f"{fmt(getattr(rec, f'{resource}_request'))} / {fmt(getattr(rec, f'{resource}_limit'))}"
