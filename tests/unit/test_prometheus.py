"""The Prometheus source against a fake server speaking the real HTTP API JSON (MockTransport).

The answers have the shapes Prometheus returns (``{"status": "success", "data":
{"resultType": "vector"|"matrix", "result": [...]}}``, errors with
``errorType``/``error``), as checked against a real server in
``tests/integration/test_prometheus_real.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from rightsize.errors import RuntimeFailure, UsageError
from rightsize.sources.prometheus import CopyOptions, choose_step, collect_prometheus
from rightsize.store import Store, load

URL = "http://prometheus.monitoring:9090"
END = 1_795_759_200.0
START = END - 3600.0
STEP = 60.0
TIMES = [START + STEP * i for i in range(61)]

Labels = dict[str, str]

PODS = {
    # (namespace, pod): (node, owner kind, owner name, containers)
    ("shop", "web-7d4b9c8f6d-x2x9z"): ("node-a", "ReplicaSet", "web-7d4b9c8f6d", ["app"]),
    ("shop", "db-0"): ("node-b", "StatefulSet", "db", ["postgres"]),
    ("batch", "report-29001440-fghjk"): ("node-b", "Job", "report-29001440", ["job"]),
    ("shop", "debug.v2"): ("node-a", "<none>", "<none>", ["shell"]),
    ("shop", "api-5f6c7b8d9c-t7wz2"): ("node-a", "", "", ["api"]),  # no kube_pod_owner row
}


def vector(items: list[tuple[Labels, float]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [END, repr(v)]} for m, v in items],
        },
    }


class FakePrometheus:
    """Routes the API calls; range queries filter by the ``pod=~`` regex like the server."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.fail: dict[str, httpx.Response] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        path = request.url.path
        self.requests.append((path, form))
        for needle, response in self.fail.items():
            if needle in form.get("query", form.get("match[]", "")):
                return response
        if path == "/api/v1/series":
            return httpx.Response(200, json={"status": "success", "data": self.series()})
        if path == "/api/v1/query":
            return httpx.Response(200, json=self.instant(form["query"]))
        if path == "/api/v1/query_range":
            return httpx.Response(200, json=self.matrix(form["query"]))
        return httpx.Response(404, text="404 page not found")

    def series(self) -> list[Labels]:
        out = []
        for (ns, pod), (node, *_, containers) in PODS.items():
            for c in [*containers, "", "POD"]:
                out.append(
                    {"__name__": "container_memory_working_set_bytes", "namespace": ns,
                     "pod": pod, "container": c, "node": node, "job": "kubelet"}
                )  # fmt: skip
        return out

    def instant(self, query: str) -> dict[str, Any]:
        items: list[tuple[Labels, float]] = []
        if "kube_pod_owner" in query:
            for (ns, pod), (_, kind, name, _) in PODS.items():
                if kind:
                    items.append(
                        ({"namespace": ns, "pod": pod, "owner_kind": kind, "owner_name": name,
                          "owner_is_controller": "true"}, 1.0)
                    )  # fmt: skip
        elif "kube_replicaset_owner" in query:
            items.append(
                ({"namespace": "shop", "replicaset": "web-7d4b9c8f6d",
                  "owner_kind": "Deployment", "owner_name": "web"}, 1.0)
            )  # fmt: skip
        elif "kube_job_owner" in query:
            items.append(
                ({"namespace": "batch", "job_name": "report-29001440",
                  "owner_kind": "CronJob", "owner_name": "nightly-report"}, 1.0)
            )  # fmt: skip
        elif "kube_pod_info" in query:
            for (ns, pod), (node, *_) in PODS.items():
                items.append(({"namespace": ns, "pod": pod, "node": node}, 1.0))
        elif "kube_pod_container_resource_requests" in query:
            web = {"namespace": "shop", "pod": "web-7d4b9c8f6d-x2x9z", "container": "app"}
            items += [({**web, "resource": "cpu", "unit": "core"}, 0.25)]
            items += [({**web, "resource": "memory", "unit": "byte"}, 268435456.0)]
        elif "kube_pod_container_resource_limits" in query:
            web = {"namespace": "shop", "pod": "web-7d4b9c8f6d-x2x9z", "container": "app"}
            items += [({**web, "resource": "memory", "unit": "byte"}, 536870912.0)]
        elif "last_terminated_reason" in query:
            items.append(
                ({"namespace": "shop", "pod": "db-0", "container": "postgres",
                  "reason": "OOMKilled"}, 1.0)
            )  # fmt: skip
        elif "kube_node_status_capacity" in query:
            for node, cpu in (("node-a", 4.0), ("node-b", 8.0)):
                items.append(({"node": node, "resource": "cpu", "unit": "core"}, cpu))
                items.append(({"node": node, "resource": "memory", "unit": "byte"}, 2.0**34))
        return vector(items)

    def matrix(self, query: str) -> dict[str, Any]:
        pods = re.search(r'pod=~"((?:[^"\\]|\\.)*)"', query)
        pattern = re.compile(pods[1].replace("\\\\", "\\")) if pods else re.compile(".*")
        result = []
        for (ns, pod), (*_, containers) in PODS.items():
            if not pattern.fullmatch(pod):
                continue
            for c in containers:
                key = {"namespace": ns, "pod": pod, "container": c}
                if "kube_pod_container_status_restarts_total" in query:
                    restarts = [0 if t < START + 1800 else 1 for t in TIMES]
                    result.append(self.series_of("kube_pod_container_status_restarts_total",
                                                 key, restarts))  # fmt: skip
                    result.append(self.series_of("kube_pod_container_status_last_terminated_reason",
                                                 key, [1] * 31, TIMES[30:]))  # fmt: skip
                    continue
                cpu = [i * 0.2 * STEP for i in range(len(TIMES))]
                if pod == "db-0":  # restarted by the OOM kill at START + 1800
                    cpu = [v if t < START + 1800 else (t - START - 1800) * 0.1 for t, v in
                           zip(TIMES, cpu, strict=True)]  # fmt: skip
                result.append(self.series_of("container_cpu_usage_seconds_total", key, cpu))
                result.append(
                    self.series_of("container_memory_working_set_bytes", key,
                                   [100e6 + i for i in range(len(TIMES))])
                )  # fmt: skip
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}

    @staticmethod
    def series_of(
        name: str, key: Labels, values: Sequence[float], times: list[float] | None = None
    ) -> dict[str, Any]:
        ts = TIMES if times is None else times
        return {
            "metric": {"__name__": name, **key},
            "values": [[t, f"{v:g}" if v == int(v) else repr(v)] for t, v in zip(ts, values,
                                                                                 strict=True)],
        }  # fmt: skip

    def queries(self, path: str) -> list[str]:
        return [f.get("query", "") for p, f in self.requests if p == path]


def collect(tmp_path: Path, fake: FakePrometheus, **kw: Any) -> Any:
    kw.setdefault("since", START)
    kw.setdefault("until", END)
    options = CopyOptions(transport=httpx.MockTransport(fake), **kw)
    with Store(tmp_path / "rs.db") as store:
        return collect_prometheus(store, URL, options)


def test_keywords_are_the_same_call_as_copy_options(tmp_path: Path) -> None:
    fake = FakePrometheus()
    by_options = collect(tmp_path / "a", fake, max_points=61 * 5 * 2)
    with Store(tmp_path / "b.db") as store:
        by_name = collect_prometheus(store, URL, since=START, until=END, max_points=61 * 5 * 2,
                                     transport=httpx.MockTransport(FakePrometheus()))
    assert (by_name.samples, by_name.batches, by_name.containers, by_name.events) == (
        by_options.samples, by_options.batches, by_options.containers, by_options.events)
    with pytest.raises(TypeError), Store(tmp_path / "c.db") as store:
        collect_prometheus(store, URL, CopyOptions(since=START), until=END)


def test_rows_owners_declared_values_and_nodes(tmp_path: Path) -> None:
    fake = FakePrometheus()
    summary = collect(tmp_path, fake)
    assert summary.step == STEP and summary.containers == 5 and summary.hosts == 2
    data = load(tmp_path / "rs.db")
    workloads = dict(zip(data.containers["container_id"], data.containers["workload"],
                         strict=True))  # fmt: skip
    assert workloads == {
        "shop/web-7d4b9c8f6d-x2x9z/app": "shop/web/app",  # ReplicaSet → Deployment
        "shop/db-0/postgres": "shop/db/postgres",  # StatefulSet
        "batch/report-29001440-fghjk/job": "batch/nightly-report/job",  # Job → CronJob
        "shop/debug.v2/shell": "shop/debug.v2/shell",  # bare pod
        "shop/api-5f6c7b8d9c-t7wz2/api": "shop/api/api",  # no owner row: from the pod name
    }
    web = data.containers.set_index("container_id").loc["shop/web-7d4b9c8f6d-x2x9z/app"]
    assert (web["cpu_request"], web["memory_request"], web["memory_limit"]) == (
        0.25,
        268435456,
        536870912,
    )
    assert web["labels"]["io.kubernetes.pod.namespace"] == "shop"
    assert dict(zip(data.hosts["host"], data.hosts["ncpu"], strict=True)) == {
        "node-a": 4,
        "node-b": 8,
    }
    # raw counters at the step: cpu_total_ns = seconds x 1e9
    s = data.samples[data.samples["container_id"] == "shop/web-7d4b9c8f6d-x2x9z/app"]
    assert len(s) == len(TIMES)
    assert s["cpu_total_ns"].iloc[2] == 2 * 0.2 * STEP * 1e9
    assert s["mem_working_set"].iloc[0] == 100e6


def test_oom_kills_and_restart_from_kube_state_metrics(tmp_path: Path) -> None:
    from rightsize.analysis.pipeline import analyze

    fake = FakePrometheus()
    summary = collect(tmp_path, fake)
    assert summary.events == 2  # one oom + one restart
    data = load(tmp_path / "rs.db")
    assert sorted(data.events["action"]) == ["oom_kill", "restart"]
    assert set(data.events["ts"]) == {START + 1800}
    result = {r.name: r for r in analyze(data).results}
    assert result["shop/db/postgres"].oom.kills == 1
    assert result["shop/web/app"].oom.kills == 0
    assert result["shop/web/app"].cpu.p95 == pytest.approx(0.2)
    # the restart interval is dropped; the new instance runs at 0.1 cores
    assert result["shop/db/postgres"].cpu.samples == len(TIMES) - 2


def test_filters_and_few_queries(tmp_path: Path) -> None:
    fake = FakePrometheus()
    summary = collect(tmp_path, fake, namespaces=["shop", "batch"], selector='job="kubelet"')
    ranges = fake.queries("/api/v1/query_range")
    counters = [q for q in ranges if "container_cpu_usage_seconds_total" in q]
    assert len(counters) == 1
    q = counters[0]
    assert 'container!=""' in q and 'container!="POD"' in q and 'job="kubelet"' in q
    assert 'namespace=~"batch|shop"' in q and "debug\\\\.v2" in q  # regex-escaped pod name
    assert q.startswith("max by (__name__, namespace, pod, container)")
    instants = fake.queries("/api/v1/query")
    assert all("last_over_time" in x or "over_time" in x or "increase" in x for x in instants)
    assert summary.queries == len(fake.requests) <= 16


def test_batches_stay_under_max_points(tmp_path: Path) -> None:
    fake = FakePrometheus()
    summary = collect(tmp_path, fake, max_points=61 * 5 * 2)  # two containers a batch
    counters = [q for q in fake.queries("/api/v1/query_range") if "cpu_usage" in q]
    assert summary.batches == len(counters) == 3
    assert summary.containers == 5


def test_choose_step() -> None:
    assert choose_step(3600) == 60
    assert choose_step(7 * 86400) == 60  # 10,081 points
    assert choose_step(30 * 86400) == 236
    assert 30 * 86400 / choose_step(30 * 86400) < 11_000


def _recording() -> tuple[list[httpx.Request], httpx.MockTransport]:
    """A fake Prometheus that keeps every request it was sent."""
    seen: list[httpx.Request] = []
    fake = FakePrometheus()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fake(request)

    return seen, httpx.MockTransport(handler)


def test_auth_headers(tmp_path: Path) -> None:
    seen, transport = _recording()
    with Store(tmp_path / "a.db") as store:
        collect_prometheus(store, URL, since=START, until=END, token="tok",
                           transport=transport)  # fmt: skip
    assert seen[0].headers["authorization"] == "Bearer tok"
    seen.clear()
    with Store(tmp_path / "b.db") as store:
        collect_prometheus(store, URL, since=START, until=END, basic_auth=("u", "p"),
                           transport=transport)  # fmt: skip
    assert seen[0].headers["authorization"].startswith("Basic ")


def test_a_tenant_is_sent_as_x_scope_orgid_on_every_request(tmp_path: Path) -> None:
    """Mimir and Cortex pick the tenant from X-Scope-OrgID; without one there is none."""
    seen, transport = _recording()
    with Store(tmp_path / "a.db") as store:
        collect_prometheus(store, URL, since=START, until=END, tenant=" team-a|team-b ",
                           transport=transport)  # fmt: skip
    assert seen and {r.headers["x-scope-orgid"] for r in seen} == {"team-a|team-b"}
    seen.clear()
    with Store(tmp_path / "b.db") as store:
        collect_prometheus(store, URL, since=START, until=END,
                           transport=transport)  # fmt: skip
    assert seen and all("x-scope-orgid" not in r.headers for r in seen)
    for bad in ("", "two words", "t\u00e9"):
        with pytest.raises(UsageError, match="tenant"), Store(tmp_path / "c.db") as store:
            collect_prometheus(store, URL, since=START, until=END, tenant=bad,
                               transport=transport)  # fmt: skip


def test_cli_passes_the_tenant() -> None:
    import click
    from click.testing import CliRunner

    from rightsize.cli import cli
    from rightsize.cli_options import prometheus_from

    assert "--prometheus-tenant" in CliRunner().invoke(cli, ["analyze", "--help"]).output
    ctx = click.Context(cli)
    ctx.meta["cluster"] = {"prometheus_url": URL, "tenant": "ops"}
    prometheus = prometheus_from(ctx, required=True)
    assert prometheus is not None and prometheus.tenant == "ops"


def test_rejected_query_names_url_query_and_error(tmp_path: Path) -> None:
    fake = FakePrometheus()
    fake.fail["kube_pod_owner"] = httpx.Response(
        422,
        json={"status": "error", "errorType": "execution",
              "error": "query processing would load too many samples into memory"},
    )  # fmt: skip
    with pytest.raises(RuntimeFailure) as info:
        collect(tmp_path, fake)
    msg = str(info.value)
    assert URL in msg and "kube_pod_owner" in msg and "too many samples" in msg
    assert "larger step" in msg


@pytest.mark.parametrize(
    ("response", "needle"),
    [
        (httpx.Response(401, text="Unauthorized"), "bearer token or basic auth"),
        (httpx.Response(200, text="<html>Grafana</html>"), "did not answer like the Prometheus"),
    ],
)
def test_non_api_answers(tmp_path: Path, response: httpx.Response, needle: str) -> None:
    fake = FakePrometheus()
    fake.fail["container_memory_working_set_bytes"] = response
    with pytest.raises(RuntimeFailure) as info:
        collect(tmp_path, fake)
    assert needle in str(info.value) and URL in str(info.value)


def test_unreachable(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with Store(tmp_path / "rs.db") as store, pytest.raises(RuntimeFailure) as info:
        collect_prometheus(store, URL, since=START, transport=httpx.MockTransport(refuse))
    assert f"cannot reach Prometheus at {URL}" in str(info.value)


@pytest.mark.parametrize(
    ("url", "kw"),
    [
        ("prometheus:9090", {}),
        ("http://:9090", {}),
        (URL, {"until": START}),
        (URL, {"step": 0.1}),  # 36,001 points per series
        (URL, {"token": "t", "basic_auth": ("u", "p")}),
        (URL, {"max_points": 0}),
    ],
)
def test_usage_errors(tmp_path: Path, url: str, kw: dict[str, Any]) -> None:
    kw.setdefault("until", END)
    with Store(tmp_path / "rs.db") as store, pytest.raises(UsageError):
        collect_prometheus(
            store, url, since=START, transport=httpx.MockTransport(FakePrometheus()), **kw
        )


# --------------------------------------------------------------------------- aggregate mode


AGG = 900.0
AGG_TIMES = [START + AGG * i for i in range(5)]


class AggregatingFake(FakePrometheus):
    """Answers aggregated batch queries like Prometheus: one point per ``step``.

    Counters keep their ``__name__``; ``max_over_time`` of the working set and the
    CPU peak come back nameless with the ``rightsize_signal`` label.
    """

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        if request.url.path == "/api/v1/query_range" and "rightsize_signal" in form["query"]:
            self.requests.append((request.url.path, form))
            return httpx.Response(200, json=self.aggregated(form["query"]))
        return super().__call__(request)

    def aggregated(self, query: str) -> dict[str, Any]:
        pods = re.search(r'pod=~"((?:[^"\\]|\\.)*)"', query)
        assert pods is not None
        pattern = re.compile(pods[1].replace("\\\\", "\\"))
        result = []
        for (ns, pod), (*_, containers) in PODS.items():
            if not pattern.fullmatch(pod):
                continue
            for c in containers:
                key = {"namespace": ns, "pod": pod, "container": c}
                if '__name__=~"container_cpu_usage_seconds_total' in query:
                    cpu = [0.2 * (t - START) for t in AGG_TIMES]  # 0.2 cores on average
                    result.append(self.at("container_cpu_usage_seconds_total", key, cpu))
                mem = {**key, "rightsize_signal": "container_memory_working_set_bytes"}
                result.append(self.at("", mem, [200e6 + i for i in range(5)]))
                if "irate(" in query:
                    peak = {**key, "rightsize_signal": "cpu_peak_cores"}
                    result.append(self.at("", peak, [0.5 + 0.1 * i for i in range(5)]))
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}

    @staticmethod
    def at(name: str, labels: Labels, values: Sequence[float]) -> dict[str, Any]:
        metric = {"__name__": name, **labels} if name else dict(labels)
        points = [[t, repr(float(v))] for t, v in zip(AGG_TIMES, values, strict=True)]
        return {"metric": metric, "values": points}


def batch_forms(fake: FakePrometheus) -> list[dict[str, str]]:
    ranges = [f for p, f in fake.requests if p == "/api/v1/query_range"]
    return [f for f in ranges if "rightsize_signal" in f["query"]]


def test_aggregate_mode_pushes_max_over_time_down(tmp_path: Path) -> None:
    fake = AggregatingFake()
    summary = collect(tmp_path, fake, resolution=AGG, selector='job="kubelet"')
    assert (summary.mode, summary.step, summary.cpu_signal) == ("aggregate", AGG, "mean")
    forms = batch_forms(fake)
    assert len(forms) == 1 and forms[0]["step"] == "900"
    q = forms[0]["query"]
    # the counters as they are, at the step (exact interval averages) ...
    assert q.startswith(
        'max by (__name__, namespace, pod, container) ({__name__=~"container_cpu_usage_seconds_'
        "total|container_cpu_cfs_periods_total|container_cpu_cfs_throttled_periods_total|"
        'container_cpu_cfs_throttled_seconds_total", container!="", container!="POD", '
        'job="kubelet", namespace=~"batch|shop", pod=~"'
    )
    # ... and the working set's maximum over each interval (t - 900 s, t]
    assert (
        " or label_replace(max by (namespace, pod, container) (max_over_time("
        "container_memory_working_set_bytes{" in q
    )
    assert '[899999ms])), "rightsize_signal", "container_memory_working_set_bytes", "", "")' in q
    assert 'job="kubelet"' in q and 'container!="POD"' in q and "irate" not in q
    data = load(tmp_path / "rs.db")
    s = data.samples[data.samples["container_id"] == "shop/web-7d4b9c8f6d-x2x9z/app"]
    assert s["ts"].tolist() == AGG_TIMES
    assert s["mem_working_set"].tolist() == [200e6 + i for i in range(5)]
    assert s["cpu_total_ns"].iloc[1] == 0.2 * AGG * 1e9 and s["cpu_cores"].isna().all()
    from rightsize.analysis.pipeline import analyze

    web = {r.name: r for r in analyze(data).results}["shop/web/app"]
    assert web.cpu.mean == pytest.approx(0.2) and web.memory.max == 200e6 + 4
    assert summary.points == 5 * 2 * 5  # 5 containers x (cpu, memory) x 5 steps


def test_aggregate_mode_cpu_peaks(tmp_path: Path) -> None:
    fake = AggregatingFake()
    summary = collect(tmp_path, fake, resolution=AGG, cpu_signal="peak", peak_step=30)
    assert summary.cpu_signal == "peak"
    q = batch_forms(fake)[0]["query"]
    assert "container_cpu_usage_seconds_total|" not in q  # the counter gives way to the peak
    assert (
        "label_replace(max by (namespace, pod, container) (max_over_time(irate("
        "container_cpu_usage_seconds_total{" in q
    )
    assert '[180s])[899999ms:30s])), "rightsize_signal", "cpu_peak_cores", "", "")' in q
    data = load(tmp_path / "rs.db")
    s = data.samples[data.samples["container_id"] == "shop/db-0/postgres"]
    assert s["cpu_total_ns"].isna().all()
    assert s["cpu_cores"].tolist() == pytest.approx([0.5 + 0.1 * i for i in range(5)])


def test_choose_resolution() -> None:
    from rightsize.sources.prometheus import choose_resolution

    week, month = 7 * 86400.0, 30 * 86400.0
    assert choose_resolution(100, week) is None  # 1 M raw samples fit
    assert choose_resolution(1_000, week) == 120  # 10 M raw would not; 5 M at 2 min
    assert choose_resolution(10_000, week) == 900  # 6.7 M samples
    assert choose_resolution(10_000, month) == 3600
    assert choose_resolution(100_000, month) == 8 * 3600
    assert choose_resolution(10_000, week, 200_000_000) is None
    assert choose_resolution(10, 3600, 10, step=60) == 3600
    for n, w in ((1_000, week), (10_000, week), (10_000, month), (100_000, month)):
        res = choose_resolution(n, w)
        assert res is not None and n * (w // res + 2) <= 10_000_000


def test_resolution_auto(tmp_path: Path) -> None:
    fake = AggregatingFake()
    # 5 containers x 62 raw points = 310 > 30: aggregated; 5 x (3600 / 900 + 2) = 30
    summary = collect(tmp_path, fake, resolution="auto", points_budget=30)
    assert summary.mode == "aggregate" and summary.step == 900
    raw = collect(tmp_path / "raw", FakePrometheus(), resolution="auto")
    assert raw.mode == "raw" and raw.step == 60


def test_raw_series_for_chosen_workloads_and_pods(tmp_path: Path) -> None:
    fake = FakePrometheus()
    summary = collect(tmp_path, fake, workloads=["shop/web/app", "batch/nightly-report/job"])
    assert summary.mode == "raw" and summary.containers == 2
    data = load(tmp_path / "rs.db")
    assert set(data.containers["workload"]) == {"shop/web/app", "batch/nightly-report/job"}
    assert len(data.samples) == 2 * len(TIMES)
    series = [f["match[]"] for p, f in fake.requests if p == "/api/v1/series"]
    assert all('namespace=~"batch|shop"' in m for m in series)
    batch = [q for q in fake.queries("/api/v1/query_range") if "cpu_usage" in q]
    assert len(batch) == 1 and "db-0" not in batch[0]

    fake = FakePrometheus()
    summary = collect(tmp_path / "pods", fake, pods=["shop/db-0"])
    assert summary.containers == 1
    series = [f["match[]"] for p, f in fake.requests if p == "/api/v1/series"]
    assert all('namespace="shop", pod=~"db-0"' in m for m in series)

    with pytest.raises(RuntimeFailure, match="no containers of the workloads"):
        collect(tmp_path / "none", FakePrometheus(), workloads=["shop/nothing/app"])


@pytest.mark.parametrize(
    "kw",
    [
        {"resolution": 0},
        {"resolution": "fast"},
        {"resolution": 900, "step": 60},
        {"resolution": 0.1},  # 36,001 points per series
        {"resolution": 900, "cpu_signal": "p95"},
        {"resolution": "auto", "points_budget": 0},
        {"pods": ["db-0"]},
        {"workloads": ["shop/web"]},
        {"namespaces": ["batch"], "pods": ["shop/db-0"]},
    ],
)
def test_aggregate_usage_errors(tmp_path: Path, kw: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        collect(tmp_path, FakePrometheus(), **kw)
