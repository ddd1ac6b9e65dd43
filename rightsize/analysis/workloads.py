"""Container → workload names, and pooled statistics per workload.

A workload is what a recommendation is for (product.md "Words and units"),
decided per container in this order:

1. the explicit ``workload`` column (imports, manifests) when set;
2. Kubernetes labels (kubelet CRI labels, also on cri-dockerd containers):
   ``<namespace>/<owner>/<container>`` where the owner is inferred from the
   pod name: ``<deployment>-<replicaset hash>-<5 chars>`` → deployment,
   ``<cronjob>-<schedule minutes>-<5 chars>`` → cronjob,
   ``<statefulset>-<ordinal>`` → statefulset, ``<daemonset or job>-<5 chars>``
   → daemonset/job, else the pod name (a bare pod). Hash and suffix use the
   Kubernetes safe alphabet (no vowels, no 0/1/3), so ordinary words are
   left alone. Pause/sandbox containers (``io.kubernetes.container.name=POD``
   or ``io.kubernetes.docker.type=podsandbox``) belong to no workload;
3. Docker Compose labels: ``<project>/<service>``;
4. the container name.

Replicas and restarted instances of one workload pool their samples.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.analysis.parallel import map_blocks, per_thread

__all__ = [
    "QUANTILES",
    "ResourceStats",
    "container_blocks",
    "grouped_stats",
    "owner_from_pod",
    "workload_name",
    "workload_names",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: per-row group codes: any signed integer width (the pipeline's are int32)
Codes = npt.NDArray[np.signedinteger[Any]]

K8S_NAMESPACE = "io.kubernetes.pod.namespace"
K8S_POD = "io.kubernetes.pod.name"
K8S_CONTAINER = "io.kubernetes.container.name"
K8S_DOCKER_TYPE = "io.kubernetes.docker.type"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"

_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_DEPLOYMENT = re.compile(rf"^(?P<owner>.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_CRONJOB = re.compile(rf"^(?P<owner>.+)-\d{{8,}}-{_SAFE}{{5}}$")
_STATEFULSET = re.compile(r"^(?P<owner>.+)-\d+$")
_SUFFIXED = re.compile(rf"^(?P<owner>.+)-{_SAFE}{{5}}$")

#: Percentiles every resource gets (as fractions).
QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)


def owner_from_pod(pod: str) -> str:
    """The owning controller's name inferred from a pod name (see module docstring).

    >>> owner_from_pod("web-7d4b9c8f6d-x2x9z"), owner_from_pod("db-0"), owner_from_pod("debug")
    ('web', 'db', 'debug')
    """
    for pattern in (_DEPLOYMENT, _CRONJOB, _STATEFULSET, _SUFFIXED):
        m = pattern.match(pod)
        if m:
            return m["owner"]
    return pod


def is_pause(labels: Mapping[str, str]) -> bool:
    """True for a Kubernetes pod sandbox (pause) container."""
    return labels.get(K8S_CONTAINER) == "POD" or labels.get(K8S_DOCKER_TYPE) == "podsandbox"


def workload_name(name: str, labels: Mapping[str, str], workload: str | None = None) -> str | None:
    """The workload a container belongs to, or None for a pause container."""
    if workload:
        return workload
    if is_pause(labels):
        return None
    namespace, container = labels.get(K8S_NAMESPACE), labels.get(K8S_CONTAINER)
    if namespace and container:
        pod = labels.get(K8S_POD) or ""
        owner = owner_from_pod(pod) if pod else container
        return f"{namespace}/{owner}/{container}"
    project, service = labels.get(COMPOSE_PROJECT), labels.get(COMPOSE_SERVICE)
    if project and service:
        return f"{project}/{service}"
    return name


def workload_names(containers: pd.DataFrame) -> pd.Series:
    """:func:`workload_name` for every row of the store's ``containers`` frame.

    Returns an object Series aligned with ``containers`` (None = pause container).
    """
    names = containers["name"].tolist()
    labels = containers["labels"].tolist()
    explicit = containers["workload"].tolist() if "workload" in containers else [None] * len(names)
    out = [
        workload_name(
            str(n) if isinstance(n, str) and n else "",
            lab if isinstance(lab, Mapping) else {},
            w if isinstance(w, str) and w else None,
        )
        for n, lab, w in zip(names, labels, explicit, strict=True)
    ]
    return pd.Series(out, index=containers.index, dtype=object)


@dataclass(frozen=True)
class ResourceStats:
    """Pooled statistics of one resource of one workload (cores or bytes).

    ``samples``: values counted; ``duration``: seconds of intervals those
    samples cover (summed over containers); ``gaps``: intervals dropped as gaps.
    Statistics are NaN without samples. Percentiles use linear interpolation
    over the samples (each interval weighs the same, as in KRR and VPA).
    """

    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    mean: float
    samples: int
    duration: float
    gaps: int

    @property
    def known(self) -> bool:
        return self.samples > 0

    def to_dict(self, *, integer: bool = False) -> dict[str, float | int | None]:
        """The ``rightsize/v1`` usage block (bytes as ints when ``integer``)."""
        out: dict[str, float | int | None] = {}
        for key in ("p50", "p90", "p95", "p99", "max", "mean"):
            v = float(getattr(self, key))
            if np.isnan(v):
                out[key] = None
            elif integer:
                out[key] = round(v)
            else:
                out[key] = round(v, 6)
        return out


@dataclass(frozen=True)
class GroupedStats:
    """Statistics of many groups at once: arrays indexed by group code."""

    quantiles: FloatArray  # shape (groups, len(QUANTILES))
    max: FloatArray
    mean: FloatArray
    count: IntArray
    duration: FloatArray

    def row(self, g: int, gaps: int) -> ResourceStats:
        q = self.quantiles[g]
        return ResourceStats(
            p50=float(q[0]),
            p90=float(q[1]),
            p95=float(q[2]),
            p99=float(q[3]),
            max=float(self.max[g]),
            mean=float(self.mean[g]),
            samples=int(self.count[g]),
            duration=float(self.duration[g]),
            gaps=gaps,
        )


def grouped_stats(
    codes: Codes,
    values: FloatArray,
    ngroups: int,
    *,
    interval: FloatArray | None = None,
    quantiles: Sequence[float] = QUANTILES,
) -> GroupedStats:
    """Percentiles, max, mean and count of ``values`` per group code, in one sort.

    NaN values are ignored. Percentiles interpolate linearly between order
    statistics, exactly as ``numpy.percentile``'s default does. Rows grouped by
    code (the pipeline's order) go in blocks of whole groups of about
    :data:`STATS_BLOCK_ROWS`, so the sorted copies stay small; each group's
    numbers depend on its own rows only.
    """
    n = codes.size
    if n <= STATS_BLOCK_ROWS or bool(np.any(codes[1:] < codes[:-1])):
        return _grouped_stats(codes, values, ngroups, interval, quantiles)
    spans = container_blocks(codes, per_thread(STATS_BLOCK_ROWS))  # whole groups a block

    def block(span: tuple[int, int]) -> tuple[int, GroupedStats]:
        lo, hi = span
        first, last = int(codes[lo]), int(codes[hi - 1])
        return first, _grouped_stats(codes[lo:hi] - first, values[lo:hi], last - first + 1,
                                     None if interval is None else interval[lo:hi], quantiles)

    parts = map_blocks(block, spans)  # independent blocks, on a few threads, in order
    out = GroupedStats(np.full((ngroups, len(quantiles)), np.nan), np.full(ngroups, np.nan),
                       np.full(ngroups, np.nan), np.zeros(ngroups, dtype=np.int64),
                       np.zeros(ngroups, dtype=np.float64))
    for first, part in parts:
        span = slice(first, first + part.count.size)
        out.quantiles[span] = part.quantiles
        out.max[span] = part.max
        out.mean[span] = part.mean
        out.count[span] = part.count
        out.duration[span] = part.duration
    return out


def container_blocks(codes: Codes, size: int) -> list[tuple[int, int]]:
    """Row ranges of about ``size`` rows that never split a run of equal (sorted) codes.

    A container (group) with more rows than ``size`` is a block of its own.
    """
    n = codes.size
    out: list[tuple[int, int]] = []
    lo = 0
    while lo < n:
        if lo + size >= n:
            out.append((lo, n))
            break
        code = codes[lo + size]
        hi = int(np.searchsorted(codes, code, side="left"))
        if hi <= lo:  # one container longer than a block
            hi = int(np.searchsorted(codes, code, side="right"))
        out.append((lo, hi))
        lo = hi
    return out


#: rows of one block of :func:`grouped_stats`
STATS_BLOCK_ROWS = 1 << 18


def _sort_segments(sv: FloatArray, starts: IntArray, count: IntArray,
                   quantiles: Sequence[float] = ()) -> None:
    """Sort each group's rows of ``sv`` in place; consecutive groups of one size are
    sorted as the rows of one matrix (the same sort on each row, in one call).

    With one quantile, a group is only partitioned: its rows at the quantile's two
    order statistics and its last row hold what a sort puts there, which is all
    :func:`_grouped_stats` reads, at a third of the cost; its other rows are then
    scratch (values may be repeated or dropped there, see :func:`_partition_rows`)."""
    if count.size == 0:
        return
    edges = np.flatnonzero(np.diff(count)) + 1
    run_starts = np.concatenate(([0], edges)).tolist()
    run_ends = np.concatenate((edges, [count.size])).tolist()
    for a, b in zip(run_starts, run_ends, strict=True):
        k = int(count[a])
        if k > 1:
            lo = int(starts[a])
            rows = sv[lo : lo + (b - a) * k].reshape(b - a, k)
            if len(quantiles) == 1:
                _partition_rows(rows, quantiles[0])
            else:
                rows.sort(axis=1)


def _partition_rows(rows: FloatArray, q: float) -> None:
    """Each row's order statistics ``floor((k - 1) q)``, the next and the last in their
    sorted places (no NaN: the caller dropped them). The two written rows overwrite
    what was there, so only those three positions are meaningful afterwards."""
    k = rows.shape[1]
    at = int(np.floor((k - 1) * q))
    rows.partition(at, axis=1)
    if at + 1 < k:
        top = rows[:, at:].max(axis=1)
        rows[:, at + 1] = rows[:, at + 1 :].min(axis=1)
        rows[:, k - 1] = top


def _grouped_stats(codes: Codes, values: FloatArray, ngroups: int,
                   interval: FloatArray | None, quantiles: Sequence[float]) -> GroupedStats:
    keep = ~np.isnan(values)
    if keep.all():  # no copies (working sets have no NaN)
        c, v = codes, values
    else:
        c, v = codes[keep], values[keep]
    count = np.bincount(c, minlength=ngroups).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(count)[:-1])).astype(np.int64)
    if v.size and v.size >= 50 * ngroups and not np.any(c[1:] < c[:-1]):
        # rows already grouped and groups large: sorting each segment beats one big sort
        sv = v.copy()
        _sort_segments(sv, starts, count, quantiles)
    else:
        # sort by value, then (stably) by group: a radix sort for small integer codes
        by_value = np.argsort(v, kind="quicksort")
        small = c.astype(np.int16) if ngroups < 2**15 else c
        sv = v[by_value[np.argsort(small[by_value], kind="stable")]]
    last = np.maximum(count - 1, 0)
    has = count > 0
    qs = np.empty((ngroups, len(quantiles)), dtype=np.float64)
    if sv.size:
        for j, q in enumerate(quantiles):
            pos = last * q
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, last)
            frac = pos - lo
            a = sv[np.minimum(starts + lo, sv.size - 1)]
            b = sv[np.minimum(starts + hi, sv.size - 1)]
            qs[:, j] = np.where(has, a + (b - a) * frac, np.nan)
        mx = np.where(has, sv[np.minimum(starts + last, sv.size - 1)], np.nan)
    else:
        qs[:] = np.nan
        mx = np.full(ngroups, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(has, np.bincount(c, weights=v, minlength=ngroups) / count, np.nan)
    if interval is not None:
        iv = interval if v is values else interval[keep]
        duration = np.bincount(c, weights=np.nan_to_num(iv), minlength=ngroups).astype(np.float64)
    else:
        duration = np.zeros(ngroups, dtype=np.float64)
    return GroupedStats(qs, mx, mean, count, duration)
