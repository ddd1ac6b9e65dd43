"""History from Prometheus (or VictoriaMetrics) → the store's rows.

:mod:`.client` is the HTTP API client and what every module here shares
(metric names, PromQL helpers, the step choice); :mod:`.options` is what a
copy reads (:class:`CopyOptions`); :mod:`.plan` the grid, the batches and the
range query; :mod:`.owners` the pods' owners and declared values from
kube-state-metrics; :mod:`.rows` answers → rows; :mod:`.reader` the copy loop
of a Kubernetes cluster's cAdvisor + kube-state-metrics series;
:mod:`.cadvisor` the plain Docker containers of standalone cAdvisors, called
from the reader.
"""

from __future__ import annotations

from rightsize.sources.prometheus.client import (
    COUNTER_METRICS,
    DEFAULT_MAX_POINTS,
    DEFAULT_POINTS_BUDGET,
    PrometheusClient,
    PrometheusSummary,
    choose_resolution,
    choose_step,
)
from rightsize.sources.prometheus.options import CopyOptions
from rightsize.sources.prometheus.reader import collect_prometheus

__all__ = [
    "COUNTER_METRICS",
    "DEFAULT_MAX_POINTS",
    "DEFAULT_POINTS_BUDGET",
    "CopyOptions",
    "PrometheusClient",
    "PrometheusSummary",
    "choose_resolution",
    "choose_step",
    "collect_prometheus",
]
