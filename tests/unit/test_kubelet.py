"""The kubelet Summary API source, replaying Summary payloads through MockTransport."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from rightsize.collect.kubelet import collect_kubelet
from rightsize.errors import RuntimeFailure, UsageError
from rightsize.sources.kubelet import parse_summary, parse_time, summary_path
from rightsize.store import Store, load

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubelet"
URL = "https://kind-worker:10250"
T0 = datetime(2026, 11, 27, 6, tzinfo=UTC).timestamp()


def summaries() -> list[dict[str, Any]]:
    return [json.loads((FIXTURES / f"summary-{i}.json").read_text()) for i in (1, 2, 3)]


class Kubelet:
    """Answers /stats/summary with the next recorded poll; keeps the requests."""

    def __init__(self, docs: list[Any], status: int = 200) -> None:
        self.docs = docs
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path != "/stats/summary":
            return httpx.Response(404, text="404 page not found")
        doc = self.docs[min(len(self.requests) - 1, len(self.docs) - 1)]
        return httpx.Response(self.status, json=doc)


def run(store: Store, handler: Any, **kw: Any) -> Any:
    kw.setdefault("interval", 0.01)
    kw.setdefault("samples", 3)
    return asyncio.run(collect_kubelet(store, URL, transport=httpx.MockTransport(handler), **kw))


def test_parse_time_handles_nanoseconds_and_zones() -> None:
    assert parse_time("2026-11-27T06:00:00Z") == T0
    assert parse_time("2026-11-27T06:00:10.123456789Z") == pytest.approx(T0 + 10.123456)
    assert parse_time("2026-11-27T07:00:00+01:00") == T0
    assert parse_time("yesterday") is None and parse_time(None) is None


def test_summary_path_accepts_kubelet_and_proxy_urls() -> None:
    assert summary_path("https://n:10250/") == ("https://n:10250", "/stats/summary")
    proxy = "https://api:6443/api/v1/nodes/n1/proxy"
    assert summary_path(proxy + "/stats/summary") == (proxy, "/stats/summary")


def test_parse_summary_rows() -> None:
    snap = parse_summary(summaries()[0], fallback_host=URL)
    assert snap.host["host"] == "kind-worker"
    assert snap.host["mem_total"] == 7_000_000_000 + 1_234_567_890
    by_id = {s["container_id"]: s for s in snap.samples}
    assert set(by_id) == {
        "shop/web-7d4b9c8f6d-x2x9z/app",
        "shop/web-7d4b9c8f6d-x2x9z/proxy",
        "shop/db-0/postgres",
        "kube-system/coredns-66bff467f8-szddj/coredns",
    }
    app = by_id["shop/web-7d4b9c8f6d-x2x9z/app"]
    assert app["ts"] == T0
    assert app["cpu_total_ns"] == 900_000_000_000
    assert (app["mem_working_set"], app["mem_usage"], app["mem_rss"]) == (
        150_000_000,
        180_000_000,
        140_000_000,
    )
    labels = {c["container_id"]: c["labels"] for c in snap.containers}
    assert labels["shop/db-0/postgres"]["io.kubernetes.pod.name"] == "db-0"
    assert all(c["cpu_request"] is None and c["memory_limit"] is None for c in snap.containers)


def test_namespace_filter_and_containers_without_stats() -> None:
    snap = parse_summary(summaries()[2], fallback_host=URL, namespaces=["batch", "kube-system"])
    # the batch job has no cpu/memory yet: skipped, not an error
    assert [s["container_id"] for s in snap.samples] == [
        "kube-system/coredns-66bff467f8-szddj/coredns"
    ]


def test_collect_polls_writes_rows_and_restart_events(tmp_path: Path) -> None:
    from rightsize.analysis.pipeline import analyze

    kubelet = Kubelet(summaries())
    db = tmp_path / "rs.db"
    with Store(db) as store:
        stats = run(store, kubelet, token="s3cr3t")
    assert stats.rounds == 3 and stats.samples == 12 and stats.events == 1
    request = kubelet.requests[0]
    assert request.headers["authorization"] == "Bearer s3cr3t"
    assert request.url.params["only_cpu_and_memory"] == "true"

    data = load(db)
    restart = data.events.iloc[0]
    assert (restart["container_id"], restart["action"], restart["ts"]) == (
        "shop/db-0/postgres",
        "restart",
        T0 + 15,
    )
    result = analyze(data)
    by_name = {r.name: r for r in result.results}
    assert set(by_name) == {
        "shop/web/app",
        "shop/web/proxy",
        "shop/db/postgres",
        "kube-system/coredns/coredns",
    }
    # CPU = Δ usageCoreNanoSeconds / Δ time
    assert by_name["shop/web/proxy"].cpu.max == pytest.approx(0.01, rel=1e-3)
    assert by_name["kube-system/coredns/coredns"].cpu.p50 == pytest.approx(0.003, rel=1e-3)
    # the restart interval is dropped: one postgres interval is left, at 0.5 cores
    assert by_name["shop/db/postgres"].cpu.samples == 1
    assert by_name["shop/db/postgres"].cpu.max == pytest.approx(0.5)
    assert by_name["shop/db/postgres"].memory.max == 700_000_000


def test_unchanged_time_adds_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "rs.db") as store:
        stats = run(store, Kubelet(summaries()[:1]))
    assert stats.rounds == 3 and stats.samples == 4


def test_refused_token_names_url_and_fix(tmp_path: Path) -> None:
    with Store(tmp_path / "rs.db") as store, pytest.raises(RuntimeFailure) as info:
        run(store, Kubelet([{"kind": "Status"}], status=401))
    assert URL in str(info.value) and "token" in str(info.value)


def test_not_a_summary(tmp_path: Path) -> None:
    with Store(tmp_path / "rs.db") as store, pytest.raises(RuntimeFailure) as info:
        run(store, Kubelet([{"items": []}]))
    assert "Summary" in str(info.value)


def test_unreachable_kubelet(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with Store(tmp_path / "rs.db") as store, pytest.raises(RuntimeFailure) as info:
        run(store, refuse)
    assert f"cannot reach the kubelet at {URL}" in str(info.value)


def test_later_failures_are_retried(tmp_path: Path) -> None:
    docs = summaries()
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 2:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(200, json=docs[min(calls["n"] - 1, 2)])

    with Store(tmp_path / "rs.db") as store:
        stats = run(store, flaky)
    assert stats.errors == 1 and stats.rounds == 3 and stats.samples == 8


@pytest.mark.parametrize(
    ("url", "kw"),
    [
        ("kind-worker:10250", {}),
        ("ftp://kind-worker", {}),
        (URL, {"interval": 0}),
        (URL, {"samples": 0}),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, url: str, kw: dict[str, Any]) -> None:
    with Store(tmp_path / "rs.db") as store, pytest.raises(UsageError):
        asyncio.run(
            collect_kubelet(store, url, transport=httpx.MockTransport(Kubelet(summaries())), **kw)
        )
