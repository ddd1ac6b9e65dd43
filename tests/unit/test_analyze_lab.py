"""Golden tests: analyze() on the recorded lab session (real Docker 20.10, cgroup v1)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from rightsize.analysis.pipeline import analyze
from rightsize.analysis.result import AnalysisResult
from rightsize.errors import RuntimeFailure, UsageError
from rightsize.model import FINDING_KINDS, SEVERITIES
from rightsize.render import render
from rightsize.sources.recording import read_recording
from rightsize.store import Dataset, Store, load

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    rec = read_recording(LAB)
    db = tmp_path_factory.mktemp("lab") / "rightsize.db"
    with Store(db) as store:
        store.write(
            samples=rec.samples, containers=rec.containers, events=rec.events, hosts=[rec.host]
        )
    return load(db)


@pytest.fixture(scope="module")
def result(dataset: Dataset) -> AnalysisResult:
    return analyze(dataset)


def raw_oom_events(name: str) -> int:
    n = 0
    for line in (LAB / "events.jsonl").read_text().splitlines():
        ev = json.loads(line)
        if ev.get("Action") == "oom" and ev["Actor"]["Attributes"].get("name") == name:
            n += 1
    return n


def has(result: AnalysisResult, workload: str, kind: str, resource: str | None = None) -> list[Any]:
    return [
        f
        for f in result[workload].findings
        if f.kind == kind and (resource is None or f.resource == resource)
    ]


def test_every_lab_container_is_a_workload(result: AnalysisResult) -> None:
    assert result.names == sorted(
        [
            "lab-bursty",
            "lab-grower",
            "lab-hostile",
            "lab-idle",
            "lab-nolimits",
            "lab-oomchild",
            "lab-restarting",
            "lab-throttled",
        ]
    )
    assert result["lab-idle"].samples == 294


def test_idle_is_over_requested_on_cpu_and_memory(result: AnalysisResult) -> None:
    idle = result["lab-idle"]
    assert idle.declared.cpu_request == 2.0 and idle.declared.memory_request == 512 * 2**20
    (cpu,) = has(result, "lab-idle", "over_request", "cpu")
    (mem,) = has(result, "lab-idle", "over_request", "memory")
    assert cpu.severity == mem.severity == "warning"
    assert cpu.message.startswith("CPU request 2 is ") and "cores idle" in cpu.message
    assert idle.cpu.p95 < 0.02  # a busy-loop of 2,000 iterations every 2 s
    assert not has(result, "lab-idle", "under_request")


def test_throttled(result: AnalysisResult) -> None:
    w = result["lab-throttled"]
    (f,) = has(result, "lab-throttled", "cpu_throttled")
    assert f.severity == "critical"
    assert w.throttling.periods == 3000 and w.throttling.throttled_periods == 2942
    assert w.throttling.share > 0.95
    assert w.cpu.p50 == pytest.approx(0.2, abs=0.01)  # pinned at its 0.2-core limit


def test_grower_and_restarting_are_oom_killed(result: AnalysisResult) -> None:
    for name in ("lab-grower", "lab-restarting"):
        (f,) = has(result, name, "oom_killed")
        assert f.severity == "critical"
    assert result["lab-grower"].oom_kills == raw_oom_events("lab-grower") == 1
    assert result["lab-grower"].oom.exits == 1
    restarting = result["lab-restarting"]
    # 39 engine `oom` events in 12 bursts (each within ms): one kill per burst, and
    # each ended the container (12 `die` 137 right after a burst, 12 restarts)
    assert raw_oom_events("lab-restarting") == 39
    assert restarting.oom_kills == 12
    assert restarting.oom.exits == 12
    assert restarting.oom.evidence == ["events"]
    # the counter resets at each restart were dropped, not turned into negative usage
    usage = result.usage
    assert (usage.loc[usage["workload"] == "lab-restarting", "cpu"].dropna() >= 0).all()


def test_oomchild_counts_child_ooms(result: AnalysisResult) -> None:
    w = result["lab-oomchild"]
    assert raw_oom_events("lab-oomchild") == 15
    assert w.oom_kills == 15
    assert w.oom.exits == 0 and w.oom.children == 15
    (f,) = has(result, "lab-oomchild", "oom_killed")
    assert f.message.startswith("15 OOM kills of a child process while the container kept running")
    assert result.usage.loc[result.usage["workload"] == "lab-oomchild", "oom_kills"].sum() == 15


def test_nolimits(result: AnalysisResult) -> None:
    got = {(f.kind, f.resource) for f in result["lab-nolimits"].findings}
    assert {
        ("no_limit", "cpu"),
        ("no_limit", "memory"),
        ("no_request", "cpu"),
        ("no_request", "memory"),
    } <= got
    assert result["lab-nolimits"].cpu.p95 > 0.9  # `yes` for 2 s of every 6


def test_host_view(result: AnalysisResult) -> None:
    (host,) = result.hosts
    assert host.cpus == 2 and host.memory == 25276514304
    assert host.containers == 7  # lab-grower exited before the end
    assert 1.5 < host.cpu_peak <= 2.2  # the two cores were busy at once
    assert host.limits.cpu == pytest.approx(4.0)  # 1 + 0.3 + 0.5 + 0.2 + 2 (grower gone)
    assert host.limits.memory_undeclared == 1  # lab-nolimits


def test_json_matches_the_product_schema(result: AnalysisResult) -> None:
    doc = json.loads(render(result, "json"))
    assert doc["schema"] == "rightsize/v1"
    assert doc["generated_at"].endswith("Z") and len(doc["generated_at"]) == 20
    assert set(doc["window"]) == {"start", "end"} and doc["window"]["start"].endswith("Z")
    assert set(doc["source"]) >= {"kind", "hosts"}
    assert set(doc["strategy"]) == {"name", "params"} and doc["strategy"]["name"] == "rightsize"
    declared_keys = {"cpu_request", "cpu_limit", "memory_request", "memory_limit"}
    stat_keys = {"p50", "p90", "p95", "p99", "max", "mean"}
    for w in doc["workloads"]:
        assert {
            "workload",
            "containers",
            "labels",
            "samples",
            "declared",
            "usage",
            "throttling",
            "oom_kills",
            "findings",
            "recommendation",
        } <= set(w)
        assert isinstance(w["containers"], list) and all(
            isinstance(c, str) for c in w["containers"]
        )
        assert isinstance(w["samples"], int)
        assert set(w["declared"]) == declared_keys
        for key in ("memory_request", "memory_limit"):
            assert w["declared"][key] is None or isinstance(w["declared"][key], int)
        assert set(w["usage"]) == {"cpu", "memory"}
        assert set(w["usage"]["cpu"]) == stat_keys == set(w["usage"]["memory"])
        assert all(isinstance(v, int) for v in w["usage"]["memory"].values())
        assert set(w["throttling"]) == {"periods", "throttled_periods", "throttled_seconds"}
        assert isinstance(w["oom_kills"], int)
        for f in w["findings"]:
            assert set(f) == {"kind", "severity", "resource", "message"}
            assert f["kind"] in FINDING_KINDS and f["severity"] in SEVERITIES
            assert f["resource"] in ("cpu", "memory", None)
        # product.md's keys plus the QoS additions named in docs/contract-notes.md
        rec = w["recommendation"]
        assert set(rec) == declared_keys | {
            "confidence", "qos", "qos_options", "lower_bound", "basis", "notes"
        }
        assert all(isinstance(n, str) and n for n in rec["notes"])
        if rec["cpu_request"] is None:
            assert rec["qos"] is None and rec["qos_options"] == {}
        else:
            assert rec["qos"] in ("Guaranteed", "Burstable")
            assert set(rec["qos_options"]) == {"guaranteed", "burstable"}
            for option in rec["qos_options"].values():
                assert set(option) == declared_keys | {"note"}
    for h in doc["hosts"]:
        assert {"host", "cpus", "memory", "requested", "limits", "used"} <= set(h)
    idle = next(w for w in doc["workloads"] if w["workload"] == "lab-idle")
    assert idle["declared"] == {
        "cpu_request": 2.0,
        "cpu_limit": 2.0,
        "memory_request": 536870912,
        "memory_limit": 1073741824,
    }


def test_hostile_label_is_escaped_and_secrets_never_leak(result: AnalysisResult) -> None:
    script = "<script>alert(1)</script>"
    assert result["lab-hostile"].labels["app"] == script
    doc = json.loads(render(result, "json"))
    hostile = next(w for w in doc["workloads"] if w["workload"] == "lab-hostile")
    assert hostile["labels"]["app"] == script  # untouched: JSON encoding is the escaping
    html = result._repr_html_()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    md = render(result, "markdown")
    assert "&lt;script&gt;" in md and "<script>" not in md
    outputs = [render(result, f) for f in ("json", "csv", "markdown", "table")] + [html]
    outputs.append(result.usage.to_csv() + result.findings.to_csv() + result.workloads.to_csv())
    assert gzip.decompress((LAB / "stats.jsonl.gz").read_bytes()).count(b"hunter2") == 0
    assert "hunter2" in (LAB / "inspect.json").read_text()  # the secret is in the input...
    for text in outputs:
        assert "hunter2" not in text  # ...and in no output


def test_frames(result: AnalysisResult) -> None:
    wl = result.workloads
    assert len(wl) == 2 * len(result) and set(wl["resource"]) == {"cpu", "memory"}
    assert set(result.findings["kind"]) <= set(FINDING_KINDS)
    assert list(result.recommendations["workload"]) == result.names
    assert {"workload", "ts", "cpu", "memory", "interval", "throttled_share"} <= set(result.usage)


def test_workload_pattern_strategy_and_errors(dataset: Dataset) -> None:
    only = analyze(
        dataset, workload="lab-oom*", strategy="krr-simple", params={"points_required": 50}
    )
    assert only.names == ["lab-oomchild"]
    assert only.params["points_required"] == 50.0
    rec = only["lab-oomchild"].recommendation
    assert rec is not None and rec.memory_limit is not None  # KRR sizes it from 293 points
    with pytest.raises(RuntimeFailure, match="no workload matches"):
        analyze(dataset, workload="nothing-*")
    with pytest.raises(UsageError, match="unknown strategy"):
        analyze(dataset, strategy="nope")


def test_qos_options_on_the_lab(result: AnalysisResult) -> None:
    """Every sized workload gets a Guaranteed option covering its p99 CPU and a Burstable one."""
    sized = [w for w in result.results if w.recommendation and w.recommendation.cpu_request]
    assert sized
    for w in sized:
        rec = w.recommendation
        assert rec is not None
        guaranteed, burstable = rec.options
        assert guaranteed.cpu_request == guaranteed.cpu_limit >= w.cpu.p99
        assert guaranteed.memory_request == guaranteed.memory_limit >= (rec.memory_limit or 0)
        assert (burstable.cpu_request, burstable.memory_request) == (
            rec.cpu_request,
            rec.memory_request,
        )
    throttled = next(w for w in sized if w.name == "lab-throttled")
    assert throttled.recommendation is not None
    assert throttled.recommendation.qos == "Burstable"  # no CPU limit by default
    frame = result.recommendations.set_index("workload")
    assert frame.loc["lab-throttled", "qos"] == "Burstable"


def test_json_notes_explain_each_number(result: AnalysisResult) -> None:
    """Each sized value of the JSON recommendation has a note naming it in the units
    the report shows (CPU request, no CPU limit, memory, confidence)."""
    from rightsize.units import format_cpu, format_memory

    doc = json.loads(json.dumps(result.to_dict()))
    sized = [w for w in doc["workloads"] if w["recommendation"]["cpu_request"] is not None]
    assert sized
    for w in sized:
        rec, notes = w["recommendation"], w["recommendation"]["notes"]
        assert any(n.startswith(f"CPU request {format_cpu(rec['cpu_request'])}:") for n in notes)
        assert any(n.startswith(f"memory {format_memory(rec['memory_limit'])} = ") for n in notes)
        assert any(n.startswith(f"confidence {rec['confidence']:.2f}:") for n in notes)
        if rec["cpu_limit"] is None:
            assert any(n.startswith("no CPU limit") for n in notes)
