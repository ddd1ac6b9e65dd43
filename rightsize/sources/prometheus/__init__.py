"""History from Prometheus (or VictoriaMetrics) → the store's rows.

:mod:`.client` is the HTTP API client and what both readers share (metric
names, PromQL helpers, the step choice); :mod:`.reader` copies a Kubernetes
cluster's cAdvisor + kube-state-metrics series; :mod:`.cadvisor` reads the
plain Docker containers of standalone cAdvisors, called from the reader.
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
from rightsize.sources.prometheus.reader import collect_prometheus

__all__ = [
    "COUNTER_METRICS",
    "DEFAULT_MAX_POINTS",
    "DEFAULT_POINTS_BUDGET",
    "PrometheusClient",
    "PrometheusSummary",
    "choose_resolution",
    "choose_step",
    "collect_prometheus",
]
