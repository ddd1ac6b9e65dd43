"""Fast tests of the collector loop against a fake engine replaying recorded payloads.

The fake engine is an async ``httpx.MockTransport`` handler serving the real
payloads of ``tests/fixtures/docker-api/rightsize-lab-session``: ``/version``,
``/info``, ``/containers/json`` (filtered by label like dockerd), inspect, one
``stats?stream=true`` stream per container (its recorded lines, one every
``frame_delay`` seconds, continuing where the engine's timeline is, as a real
engine does when a stream is reopened) and ``/events`` (the recorded lines,
then open until cancelled). ``since`` is ignored: every new events stream
replays the whole file, which the store's unique key absorbs.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import rightsize.collect.docker as collect_mod
from rightsize.collect import CollectOptions, CollectStats, collect
from rightsize.errors import RuntimeFailure
from rightsize.sources.docker import payloads
from rightsize.sources.docker.client import AsyncDockerClient
from rightsize.sources.docker.host import EngineHost
from rightsize.sources.recording import read_recording
from rightsize.store import Store
from tests.store_rows import query_samples

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"
SOCKET_URL = "unix:///run/rightsize-test/docker.sock"
SECRETS = (b"hunter2", b"DB_PASSWORD")
GIB = 1024**3
MIB = 1024**2

T = TypeVar("T")


# --- recorded payloads --------------------------------------------------------------


@cache
def _version() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((LAB / "version.json").read_text())
    return doc


@cache
def _info() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((LAB / "info.json").read_text())
    return doc


@cache
def _summaries() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = json.loads((LAB / "containers.json").read_text())
    return docs


@cache
def _inspects() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = json.loads((LAB / "inspect.json").read_text())
    return docs


@cache
def _frames() -> dict[str, list[str]]:
    """Each container's recorded stats lines, in stream order."""
    out: dict[str, list[str]] = {}
    with gzip.open(LAB / "stats.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.setdefault(json.loads(line)["id"], []).append(line.strip())
    return out


@cache
def _event_lines() -> list[str]:
    return [line for line in (LAB / "events.jsonl").read_text().splitlines() if line.strip()]


@cache
def _ids() -> dict[str, str]:
    """Container name (without the slash) -> id."""
    return {s["Names"][0].lstrip("/"): s["Id"] for s in _summaries()}


def cid(name: str) -> str:
    return _ids()[name]


# --- the fake engine ------------------------------------------------------------------


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


class FakeEngine:
    """A Docker engine replaying the lab session; knobs let tests break it."""

    def __init__(self, frame_delay: float = 0.02) -> None:
        self.frame_delay = frame_delay
        self.requests: list[httpx.Request] = []
        self.clients: list[AsyncDockerClient] = []
        self.list_calls = 0
        #: which ids /containers/json lists on its n-th call (1-based); None: all of them
        self.listing: Callable[[int], Iterable[str]] | None = None
        self.cursor: Counter[str] = Counter()  # next recorded frame per container
        self.open_streams: Counter[str] = Counter()
        self.stream_requests: Counter[str] = Counter()
        self.down = False  # every request raises ConnectError; open streams break
        self.inspect_404: set[str] = set()
        self.end_stream_after: dict[str, int] = {}  # the stream ends after this many frames...
        self.gone: set[str] = set()  # ...and from then on stats and inspect answer 404
        self.pause_after_first: dict[str, float] = {}
        self.extra_events: list[dict[str, Any]] = []
        self.engine_id: str | None = None  # /info ID (the recording has none)

    # wiring

    def factory(self, host: EngineHost) -> AsyncDockerClient:
        client = AsyncDockerClient(host, transport=httpx.MockTransport(self.handle))
        self.clients.append(client)
        return client

    def paths(self, endpoint: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(endpoint)]

    # routes

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        path = request.url.path
        if path == "/version":
            return httpx.Response(200, json=_version())
        version, _, rest = path.lstrip("/").partition("/")
        if not version.startswith("v1."):
            return _not_found(f"page not found: {path}")
        parts = rest.split("/")
        if parts == ["version"]:
            return httpx.Response(200, json=_version())
        if parts == ["info"]:
            info = _info() if self.engine_id is None else {**_info(), "ID": self.engine_id}
            return httpx.Response(200, json=info)
        if parts == ["containers", "json"]:
            return httpx.Response(200, json=self._list(request))
        if parts == ["events"]:
            return httpx.Response(200, content=self._events(), headers=_JSON)
        if len(parts) == 3 and parts[0] == "containers":
            container = parts[1]
            known = container in _inspects() and container not in self.gone
            if parts[2] == "json":
                if not known or container in self.inspect_404:
                    return _not_found(f"No such container: {container}")
                return httpx.Response(200, json=_inspects()[container])
            if parts[2] == "stats" and request.url.params.get("stream") == "true":
                self.stream_requests[container] += 1
                if not known:
                    return _not_found(f"No such container: {container}")
                return httpx.Response(200, content=self._stats(container), headers=_JSON)
        return _not_found(f"page not found: {path}")

    def _list(self, request: httpx.Request) -> list[dict[str, Any]]:
        self.list_calls += 1
        wanted = None if self.listing is None else set(self.listing(self.list_calls))
        raw = request.url.params.get("filters")
        filters: dict[str, list[str]] = json.loads(raw) if raw else {}
        out = []
        for summary in _summaries():
            if wanted is not None and summary["Id"] not in wanted:
                continue
            labels = summary.get("Labels") or {}
            if all(_label_matches(labels, w) for w in filters.get("label", [])):
                out.append(summary)
        return out

    async def _stats(self, container: str) -> AsyncIterator[bytes]:
        frames = _frames()[container]
        limit = self.end_stream_after.get(container)
        self.open_streams[container] += 1
        served = 0
        try:
            while True:
                if self.down:
                    raise httpx.ReadError("connection reset by peer")
                if limit is not None and served >= limit:
                    self.gone.add(container)
                    return
                i = self.cursor[container]
                if i < len(frames):
                    self.cursor[container] = i + 1
                    served += 1
                    yield (frames[i] + "\n").encode()
                if served == 1 and container in self.pause_after_first:
                    await asyncio.sleep(self.pause_after_first[container])
                await asyncio.sleep(self.frame_delay)
        finally:
            self.open_streams[container] -= 1

    async def _events(self) -> AsyncIterator[bytes]:
        for line in _event_lines():
            yield (line + "\n").encode()
        for ev in self.extra_events:
            yield (json.dumps(ev) + "\n").encode()
        while True:
            if self.down:
                raise httpx.ReadError("connection reset by peer")
            await asyncio.sleep(0.02)


_JSON = {"Content-Type": "application/json"}


def _not_found(message: str) -> httpx.Response:
    return httpx.Response(404, json={"message": message})


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing first frame costs 0.5 s instead of 2.5 s."""
    monkeypatch.setattr(collect_mod, "FRAME_WAIT", 0.5)


def run(coro: Awaitable[T], timeout: float = 10.0) -> T:
    async def main() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(main())


def options(**kw: Any) -> CollectOptions:
    kw.setdefault("hosts", [SOCKET_URL])
    kw.setdefault("interval", 0.05)
    return CollectOptions(**kw)


def run_collect(
    engine: FakeEngine,
    store: Store,
    opts: CollectOptions,
    *,
    on_round: Callable[[CollectStats], None] | None = None,
    stop: asyncio.Event | None = None,
) -> CollectStats:
    return run(collect(store, opts, stop=stop, on_round=on_round, client_factory=engine.factory))


def rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    if "FROM samples" in sql or "FROM events" in sql:
        return query_samples(store.path, sql, *params)
    return list(store.connection.execute(sql, params).fetchall())


def sample_counts(store: Store) -> Counter[str]:
    return Counter(
        {c: n for c, n in rows(store, "SELECT container_id, count(*) FROM samples GROUP BY 1")}
    )


def recorded_ts(container: str) -> list[float]:
    """The sample times of a container's recorded frames, in stream order."""
    out = []
    for line in _frames()[container]:
        row = payloads.sample_from_stats(json.loads(line), "x", "linux")
        if row is not None:
            out.append(row["ts"])
    return out


def stored_ts(store: Store, container: str) -> list[float]:
    return [
        ts
        for (ts,) in rows(
            store, "SELECT ts FROM samples WHERE container_id = ? ORDER BY ts", container
        )
    ]


def assert_no_secrets(files: Iterable[Path]) -> None:
    checked = 0
    for f in files:
        data = f.read_bytes()
        checked += 1
        for secret in SECRETS:
            assert secret not in data, f"{secret!r} leaked into {f.name}"
    assert checked


def test_fixture_carries_the_secret() -> None:
    """Guard: the no-leak assertions below mean something only if the input has the secret."""
    hostile = json.dumps(_inspects()[cid("lab-hostile")]).encode()
    assert all(secret in hostile for secret in SECRETS)


# --- 1. a plain run ---------------------------------------------------------------------


@pytest.mark.parametrize("engine_tick", [1.0, 0.01], ids=["keep-every-frame", "newest-frame"])
def test_run_stores_samples_declared_values_and_host_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine_tick: float
) -> None:
    monkeypatch.setattr(collect_mod, "ENGINE_TICK", engine_tick)
    keep_all = engine_tick * 1.5 >= 0.05
    engine = FakeEngine()
    db = tmp_path / "rs.db"
    store = Store(db)
    stats = run_collect(engine, store, options(samples=3))

    assert stats.rounds == 3
    assert stats.errors == 0
    assert engine.list_calls == 3
    counts = sample_counts(store)
    assert set(counts) == set(_ids().values())
    for container in _ids().values():
        got = stored_ts(store, container)
        recorded = recorded_ts(container)
        assert len(got) >= 3
        if keep_all:  # every frame the engine pushed, none skipped
            assert got == recorded[: len(got)]
        else:  # one frame (the newest) per round
            assert len(got) == 3
            assert set(got) <= set(recorded[: engine.cursor[container]])
    assert stats.samples == sum(counts.values())

    declared = {
        name: (cpu_req, cpu_lim, mem_req, mem_lim)
        for name, cpu_req, cpu_lim, mem_req, mem_lim in rows(
            store,
            "SELECT name, cpu_request, cpu_limit, memory_request, memory_limit FROM containers",
        )
    }
    assert len(declared) == 8
    _, cpu_limit, memory_request, memory_limit = declared["lab-idle"]
    assert cpu_limit == 2.0
    assert memory_request == 512 * MIB
    assert memory_limit == 1 * GIB
    assert declared["lab-throttled"][1] == pytest.approx(0.2)
    assert declared["lab-nolimits"][1:] == (None, None, None)

    hosts = rows(store, "SELECT host, ncpu, mem_total, api_version, cgroup_version FROM hosts")
    assert hosts == [(SOCKET_URL, 2, _info()["MemTotal"], "1.41", "1")]
    assert {h for (h,) in rows(store, "SELECT DISTINCT host FROM samples")} == {SOCKET_URL}

    assert_no_secrets(tmp_path.glob("rs.db*"))  # db + wal (+ shm) while open
    store.close()
    assert_no_secrets(tmp_path.glob("rs.db*"))  # and after the checkpoint on close


def test_streams_are_persistent_one_per_container(tmp_path: Path) -> None:
    engine = FakeEngine()
    with Store(tmp_path / "rs.db") as store:
        run_collect(engine, store, options(samples=5))
    assert engine.stream_requests == Counter({c: 1 for c in _ids().values()})
    assert len(engine.paths("/version")) == 2  # negotiate + version, once
    assert len(engine.paths("/info")) == 1


# --- 2. --record ------------------------------------------------------------------------


def test_record_writes_a_recording_that_reads_back_as_the_store(tmp_path: Path) -> None:
    engine = FakeEngine()
    rec = tmp_path / "rec"
    with Store(tmp_path / "rs.db") as store:
        run_collect(engine, store, options(samples=3, record=rec))
        stored_samples = {
            (c, ts): (cpu, mem, thr)
            for c, ts, cpu, mem, thr in rows(
                store,
                "SELECT container_id, ts, cpu_total_ns, mem_usage, throttled_periods FROM samples",
            )
        }
        stored_containers = {
            c: rest
            for c, *rest in rows(
                store,
                "SELECT container_id, name, cpu_request, cpu_limit, memory_request, memory_limit"
                " FROM containers",
            )
        }

    for name in ("stats.jsonl", "inspect.json", "events.jsonl", "info.json"):
        assert (rec / name).is_file(), name
    recording = read_recording(rec)
    assert {c["container_id"] for c in recording.containers} == set(stored_containers)
    assert {
        c["container_id"]: [
            c["name"],
            c["cpu_request"],
            c["cpu_limit"],
            c["memory_request"],
            c["memory_limit"],
        ]
        for c in recording.containers
    } == {c: list(rest) for c, rest in stored_containers.items()}
    assert {
        (s["container_id"], s["ts"]): (s["cpu_total_ns"], s["mem_usage"], s["throttled_periods"])
        for s in recording.samples
    } == stored_samples
    assert recording.host["ncpu"] == 2
    assert Counter(e["action"] for e in recording.events)["oom"] == 55
    assert_no_secrets(p for p in rec.iterdir() if p.is_file())


# --- 3. containers that vanish under the collector ---------------------------------------


def test_inspect_404_and_stats_404_mid_run_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = FakeEngine()
    no_inspect, dying = cid("lab-hostile"), cid("lab-grower")
    engine.inspect_404.add(no_inspect)
    engine.end_stream_after[dying] = 2  # then the stream ends and the engine answers 404
    with (
        caplog.at_level(logging.DEBUG, logger="rightsize.collect"),
        Store(tmp_path / "rs.db") as store,
    ):
        stats = run_collect(engine, store, options(samples=6))
        counts = sample_counts(store)
        names = {n for (n,) in rows(store, "SELECT name FROM containers")}

    assert stats.rounds == 6
    assert no_inspect not in counts
    assert "lab-hostile" not in names
    assert engine.stream_requests[no_inspect] == 0  # never sampled without its declared values
    assert 1 <= counts[dying] <= 2
    assert engine.stream_requests[dying] >= 2  # reopened after it ended, got a 404
    for name in (
        "lab-idle",
        "lab-throttled",
        "lab-bursty",
        "lab-oomchild",
        "lab-restarting",
        "lab-nolimits",
    ):
        assert counts[cid(name)] >= 6, name
    messages = [r.getMessage() for r in caplog.records]
    assert any("vanished before inspect" in m and no_inspect[:12] in m for m in messages)
    assert any(dying[:12] in m and "gone" in m for m in messages)


# --- 4. containers that come and go ---------------------------------------------------------


def test_new_containers_are_picked_up_and_gone_ones_closed(tmp_path: Path) -> None:
    engine = FakeEngine()
    late, leaving = cid("lab-hostile"), cid("lab-bursty")
    everyone = list(_ids().values())
    served_when_dropped: dict[str, int] = {}

    def listing(call: int) -> list[str]:
        if call == 1:
            return [c for c in everyone if c != late]
        if call >= 4:
            served_when_dropped.setdefault("n", engine.cursor[leaving])
            return [c for c in everyone if c != leaving]
        return everyone

    engine.listing = listing
    open_after: list[int] = []
    with Store(tmp_path / "rs.db") as store:
        run_collect(
            engine,
            store,
            options(samples=8),
            on_round=lambda s: open_after.append(engine.open_streams[leaving]),
        )
        late_ts = stored_ts(store, late)
        leaving_ts = stored_ts(store, leaving)
        names = {n for (n,) in rows(store, "SELECT name FROM containers")}

    assert "lab-hostile" in names
    assert engine.paths(f"/containers/{late}/json")
    assert len(late_ts) >= 7  # rounds 2..8
    assert engine.stream_requests[late] == 1
    # sampled in rounds 1-3, then its stream is closed and no frame is pulled any more
    assert len(leaving_ts) >= 3
    assert open_after[:3] == [1, 1, 1]
    assert open_after[-1] == 0
    assert engine.cursor[leaving] <= served_when_dropped["n"] + 1
    assert engine.stream_requests[leaving] == 1


# --- 5. the engine goes away and comes back ------------------------------------------------


def test_engine_outage_is_survived(tmp_path: Path) -> None:
    engine = FakeEngine()
    stop = asyncio.Event()
    trace: list[tuple[int, int, int]] = []  # (round, hosts_up, samples in store)

    with Store(tmp_path / "rs.db") as store:

        def on_round(s: CollectStats) -> None:
            trace.append((s.rounds, s.hosts_up, store.counts()["samples"]))
            if s.rounds == 1:
                engine.down = True
            elif s.rounds == 3:
                engine.down = False
            elif s.rounds > 3 and s.hosts_up and trace[-2][1] == 1:
                stop.set()  # two rounds after the reconnection

        stats = run_collect(engine, store, options(samples=400), on_round=on_round, stop=stop)
        total = store.counts()["samples"]

    assert stats.errors > 0
    assert trace[0][1] == 1 and trace[1][1] == 0  # round 2 lost the engine
    before = trace[0][2]
    assert before > 0
    recovered = next(i for i, t in enumerate(trace) if t[0] > 3 and t[1] == 1)
    assert trace[recovered - 1][2] == before  # nothing stored while it was away
    assert total > before  # samples after the recovery
    assert len(engine.clients) >= 2  # a fresh client was made for the reconnection
    assert all(c._http.is_closed for c in engine.clients)


# --- 6. unreachable from the start -----------------------------------------------------------


def test_unreachable_engine_at_start_raises_naming_the_socket(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.down = True
    with Store(tmp_path / "rs.db") as store, pytest.raises(RuntimeFailure) as info:
        run_collect(engine, store, options(samples=3))
    assert SOCKET_URL in str(info.value)
    assert "cannot reach" in str(info.value)
    assert engine.clients and all(c._http.is_closed for c in engine.clients)
    assert engine.list_calls == 0


# --- 7. events ----------------------------------------------------------------------------------


def test_oom_events_of_followed_containers_are_stored_others_dropped(tmp_path: Path) -> None:
    engine = FakeEngine()
    unlisted = cid("lab-restarting")
    engine.listing = lambda _n: [c for c in _ids().values() if c != unlisted]
    stranger = "f" * 64  # never listed, happening now
    engine.extra_events.append(
        {"Type": "container", "Action": "oom", "status": "oom", "id": stranger,
         "Actor": {"ID": stranger, "Attributes": {"name": "stranger"}},
         "time": int(time.time()), "timeNano": time.time_ns()}
    )  # fmt: skip
    with Store(tmp_path / "rs.db") as store:
        stats = run_collect(engine, store, options(samples=3))
        stored = Counter((c, a) for c, a in rows(store, "SELECT container_id, action FROM events"))

    recorded = Counter((ev["Actor"]["ID"], ev["Action"]) for ev in map(json.loads, _event_lines()))
    assert recorded[(cid("lab-oomchild"), "oom")] == 15
    assert stored[(cid("lab-oomchild"), "oom")] == 15
    assert stored == Counter({k: n for k, n in recorded.items() if k[0] != unlisted})
    assert not any(c in (unlisted, stranger) for c, _ in stored)
    assert stats.events == sum(stored.values())


# --- 8. filters ---------------------------------------------------------------------------------


def test_filters_are_sent_as_docker_filters_json(tmp_path: Path) -> None:
    engine = FakeEngine()
    with Store(tmp_path / "rs.db") as store:
        run_collect(engine, store, options(samples=2, filters={"label": ["rightsize.lab=1"]}))
    lists = engine.paths("/containers/json")
    assert len(lists) == 2
    for request in lists:
        assert json.loads(request.url.params["filters"]) == {"label": ["rightsize.lab=1"]}
    (events,) = engine.paths("/events")
    assert json.loads(events.url.params["filters"])["type"] == ["container"]


def test_filtered_out_containers_are_not_sampled(tmp_path: Path) -> None:
    engine = FakeEngine()
    with Store(tmp_path / "rs.db") as store:
        run_collect(engine, store, options(samples=2, filters={"label": ["app"]}))
        assert set(sample_counts(store)) == {cid("lab-hostile")}
    assert set(engine.stream_requests) == {cid("lab-hostile")}


def test_no_filters_no_filters_parameter(tmp_path: Path) -> None:
    engine = FakeEngine()
    with Store(tmp_path / "rs.db") as store:
        run_collect(engine, store, options(samples=1))
    assert "filters" not in engine.paths("/containers/json")[0].url.params


# --- 9. stop --------------------------------------------------------------------------------------


def test_stop_after_round_two_returns_with_both_rounds_stored(tmp_path: Path) -> None:
    engine = FakeEngine()
    stop = asyncio.Event()
    per_round: list[tuple[int, float]] = []  # (samples in store, newest ts) after each round

    with Store(tmp_path / "rs.db") as store:

        def on_round(s: CollectStats) -> None:
            ((n, newest),) = rows(store, "SELECT count(*), max(ts) FROM samples")
            per_round.append((n, newest))
            if s.rounds == 2:
                stop.set()

        t0 = time.monotonic()
        stats = run_collect(engine, store, options(interval=0.1), on_round=on_round, stop=stop)
        elapsed = time.monotonic() - t0
        (final,) = rows(store, "SELECT count(*), max(ts) FROM samples")

    assert stats.rounds == 2
    assert engine.list_calls == 2
    assert len(per_round) == 2
    (n1, ts1), (n2, ts2) = per_round
    assert n1 >= 8 and n2 > n1 and ts2 > ts1
    assert final == (n2, ts2)
    assert elapsed < 3.0
    assert all(c._http.is_closed for c in engine.clients)


# --- regressions of bugs found in review ---


def test_stats_containers_counts_containers_not_frames(tmp_path: Path) -> None:
    engine = FakeEngine(frame_delay=0.02)
    seen: list[int] = []
    with Store(tmp_path / "rs.db") as store:
        run_collect(
            engine,
            store,
            options(samples=2, interval=0.3),
            on_round=lambda s: seen.append(s.containers),
        )
    assert seen == [8, 8]


def test_frames_of_a_stream_that_ended_between_rounds_are_kept(tmp_path: Path) -> None:
    engine = FakeEngine()
    dying = cid("lab-grower")
    engine.end_stream_after[dying] = 3
    engine.pause_after_first[dying] = 0.1  # round 1 takes frame 1; frames 2-3 come later
    with Store(tmp_path / "rs.db") as store:
        run_collect(engine, store, options(samples=3, interval=0.4))
        got = stored_ts(store, dying)
    assert engine.cursor[dying] == 3
    assert got == recorded_ts(dying)[:3]


def test_the_same_engine_through_two_urls_is_sampled_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = FakeEngine()
    engine.engine_id = "ABCD:EFGH:IJKL"
    other = "tcp://127.0.0.1:2375"
    with Store(tmp_path / "s.db") as store, caplog.at_level(logging.WARNING):
        run_collect(engine, store, options(hosts=[SOCKET_URL, other], samples=2))
        hosts = rows(store, "SELECT DISTINCT host FROM samples")
        host_rows = rows(store, "SELECT host FROM hosts")
    assert hosts == [(SOCKET_URL,)] and host_rows == [(SOCKET_URL,)]
    (warning,) = [r.getMessage() for r in caplog.records if "same engine" in r.getMessage()]
    assert other in warning and SOCKET_URL in warning and "ABCD:EFGH:IJKL" in warning


def test_different_engines_are_all_sampled(tmp_path: Path) -> None:
    engine = FakeEngine()  # no ID: nothing to de-duplicate by
    other = "tcp://127.0.0.1:2375"
    with Store(tmp_path / "s.db") as store:
        run_collect(engine, store, options(hosts=[SOCKET_URL, other], samples=2))
        hosts = rows(store, "SELECT DISTINCT host FROM samples ORDER BY host")
    assert hosts == [(other,), (SOCKET_URL,)]


class _FakeCounters:
    """OOM counters that count up by one on every read of a located container."""

    def __init__(self) -> None:
        self.pids: dict[str, int | None] = {}
        self.reads: Counter[str] = Counter()

    def locate(self, container_id: str, pid: int | None) -> None:
        self.pids[container_id] = pid

    def read(self, container_id: str) -> int | None:
        self.reads[container_id] += 1
        return self.reads[container_id]


def test_the_kernel_oom_counter_is_stored_beside_each_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _FakeCounters()
    monkeypatch.setattr(collect_mod, "OomCounters", lambda: fake)
    engine = FakeEngine()
    with Store(tmp_path / "s.db") as store:
        run_collect(engine, store, options(samples=3))
        got = rows(
            store,
            "SELECT container_id, oom_kills_total FROM samples ORDER BY container_id, ts",
        )
    grower = cid("lab-grower")
    assert fake.pids[grower] == _inspects()[grower]["State"]["Pid"]
    values = [v for c, v in got if c == grower]
    assert values and all(isinstance(v, int) and v >= 1 for v in values)
    assert values == sorted(values)  # read as each frame arrived, in order


def test_no_kernel_counter_for_a_remote_engine(tmp_path: Path) -> None:
    engine = FakeEngine()
    with Store(tmp_path / "s.db") as store:
        run_collect(engine, store, options(hosts=["tcp://127.0.0.1:2375"], samples=2))
        got = rows(store, "SELECT DISTINCT oom_kills_total FROM samples")
    assert got == [(None,)]
