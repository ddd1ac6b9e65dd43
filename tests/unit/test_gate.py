"""The CI gate (rightsize.gate) on the recorded lab session: thresholds, baselines, overrides."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from rightsize.analysis.pipeline import analyze
from rightsize.analysis.result import AnalysisResult, WorkloadResult
from rightsize.api import check, load_baseline, write_baseline
from rightsize.config import from_mapping
from rightsize.errors import EXIT_GATE_FAILED, EXIT_OK, InputError, UsageError
from rightsize.gate import (
    Baseline,
    GateItem,
    Override,
    evaluate,
    exit_code,
    magnitude,
)
from rightsize.model import Finding
from rightsize.sources.recording import read_recording
from rightsize.store import Store, load

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"

CRITICAL = {
    ("lab-grower", "oom_killed", "memory"),
    ("lab-oomchild", "oom_killed", "memory"),
    ("lab-restarting", "oom_killed", "memory"),
    ("lab-throttled", "cpu_throttled", "cpu"),
}
WARNING = {
    ("lab-bursty", "under_request", "cpu"),
    ("lab-idle", "over_request", "cpu"),
    ("lab-idle", "over_request", "memory"),
    ("lab-nolimits", "no_limit", "memory"),
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AnalysisResult:
    rec = read_recording(LAB)
    db = tmp_path_factory.mktemp("lab") / "rightsize.db"
    with Store(db) as store:
        store.write(
            samples=rec.samples, containers=rec.containers, events=rec.events, hosts=[rec.host]
        )
    return analyze(load(db))


def keys(items: tuple[GateItem, ...]) -> set[tuple[str, str, str | None]]:
    return {(i.workload, i.finding.kind, i.finding.resource) for i in items}


def with_finding(
    result: AnalysisResult, workload: str, kind: str, **changes: object
) -> AnalysisResult:
    """``result`` with one finding of one workload changed (severity, details, ...)."""

    def edit(w: WorkloadResult) -> WorkloadResult:
        if w.name != workload:
            return w
        findings = tuple(
            dataclasses.replace(f, **changes) if f.kind == kind else f  # type: ignore[arg-type]
            for f in w.findings
        )
        return dataclasses.replace(w, findings=findings)

    return dataclasses.replace(result, results=tuple(edit(w) for w in result))


def test_critical_gate_fails_on_oom_kills_and_throttling(result: AnalysisResult) -> None:
    outcome = evaluate(result)
    assert not outcome.passed
    assert keys(outcome.failing) == CRITICAL
    assert outcome.accepted == () and outcome.new == ()  # no baseline
    assert {i.status for i in outcome.items} == {"failing", "below"}
    assert exit_code(outcome) == EXIT_GATE_FAILED
    assert exit_code(outcome, exit_zero=True) == EXIT_OK
    assert outcome.workloads == tuple(result.names)


def test_warning_gate_fails_more(result: AnalysisResult) -> None:
    outcome = evaluate(result, fail_on="warning")
    assert keys(outcome.failing) == CRITICAL | WARNING
    assert [i.finding.severity for i in outcome.failing][:4] == ["critical"] * 4


def test_unknown_fail_on_is_a_usage_error(result: AnalysisResult) -> None:
    with pytest.raises(UsageError, match="--fail-on: expected warning or critical"):
        evaluate(result, fail_on="info")
    with pytest.raises(UsageError, match=r"check\.ignore: unknown finding kind 'oom'"):
        evaluate(result, ignore=["oom"])
    with pytest.raises(UsageError, match=r'check\.overrides\."lab-\*"\.ignore: unknown resource'):
        evaluate(result, overrides=[Override("lab-*", ignore=("no_limit/disk",))])


def test_baseline_accepts_current_findings(result: AnalysisResult, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    written = write_baseline(result, path)
    assert len(written) == sum(len(w.findings) for w in result)
    first = path.read_bytes()
    write_baseline(result, path)
    assert path.read_bytes() == first  # deterministic: no timestamps, sorted
    doc = json.loads(first)
    assert doc["schema"] == "rightsize-baseline/v1"
    (oom,) = [e for e in doc["workloads"]["lab-restarting"] if e["kind"] == "oom_killed"]
    assert oom == {
        "kind": "oom_killed",
        "resource": "memory",
        "severity": "critical",
        "magnitude": 12,
        "message": oom["message"],
    }

    baseline = load_baseline(path)
    assert baseline.source == path
    for fail_on in ("critical", "warning"):
        outcome = evaluate(result, fail_on=fail_on, baseline=baseline)
        assert outcome.passed, outcome.failing
        assert outcome.new == () and outcome.resolved == ()
    assert keys(evaluate(result, fail_on="warning", baseline=baseline).accepted) == (
        CRITICAL | WARNING
    )
    assert all(i.change == "unchanged" for i in outcome.items)


def test_more_oom_kills_fail_again(result: AnalysisResult) -> None:
    baseline = Baseline.from_result(result)
    worse = with_finding(
        result, "lab-restarting", "oom_killed", details={"kills": 13.0, "exits": 12.0}
    )
    outcome = evaluate(worse, baseline=baseline)
    assert not outcome.passed
    (item,) = outcome.failing
    assert (item.workload, item.check, item.change) == (
        "lab-restarting",
        "oom_killed/memory",
        "worsened",
    )
    assert item.reason == "worsened since the baseline: 12 → 13 OOM kills"
    assert keys(outcome.new) == {("lab-restarting", "oom_killed", "memory")}

    fewer = with_finding(result, "lab-restarting", "oom_killed", details={"kills": 3.0})
    (item,) = [
        i
        for i in evaluate(fewer, baseline=baseline).items
        if i.check == "oom_killed/memory" and i.workload == "lab-restarting"
    ]
    assert (item.status, item.change) == ("accepted", "improved")


def test_severity_going_up_is_worse(result: AnalysisResult) -> None:
    baseline = Baseline.from_result(result)
    worse = with_finding(result, "lab-idle", "over_request", severity="critical")
    outcome = evaluate(worse, baseline=baseline)
    assert keys(outcome.failing) == {
        ("lab-idle", "over_request", "cpu"),
        ("lab-idle", "over_request", "memory"),
    }
    assert outcome.failing[0].reason == "worsened since the baseline: warning → critical"


@pytest.mark.parametrize(
    ("share", "status"),
    [(0.99, "accepted"), (0.999, "accepted"), (0.90, "accepted"), (1.2, "failing")],
)
def test_throttling_tolerance(result: AnalysisResult, share: float, status: str) -> None:
    baseline = Baseline.from_result(result)
    recorded = baseline.entries[("lab-throttled", "cpu_throttled", "cpu")].magnitude
    assert recorded is not None
    assert recorded == pytest.approx(2942 / 3000, abs=1e-6)
    changed = with_finding(
        result, "lab-throttled", "cpu_throttled", details={"share": share - 0.98 + recorded}
    )
    (item,) = [
        i for i in evaluate(changed, baseline=baseline).items if i.check == "cpu_throttled/cpu"
    ]
    assert item.status == status


def test_new_and_resolved_findings(result: AnalysisResult) -> None:
    baseline = Baseline.from_result(result)
    entries = dict(baseline.entries)
    del entries[("lab-grower", "oom_killed", "memory")]
    gone = Baseline(entries)
    # a baseline entry of a workload that no longer exists is resolved
    old = dataclasses.replace(baseline.entries[("lab-idle", "over_request", "cpu")], workload="old")
    entries[old.key] = old
    outcome = evaluate(result, baseline=Baseline(entries))
    assert keys(outcome.failing) == {("lab-grower", "oom_killed", "memory")}
    assert outcome.failing[0].change == "new"
    assert outcome.failing[0].reason == "new since the baseline"
    assert outcome.resolved == (old,)
    assert not evaluate(result, baseline=gone).passed


def test_overrides_and_ignore(result: AnalysisResult) -> None:
    outcome = evaluate(
        result,
        ignore=["cpu_throttled"],
        overrides=[
            Override("lab-oom*", ignore=("oom_killed/memory",)),
            Override("lab-idle", fail_on="warning"),
            Override("*", ignore=("oom_killed/cpu",)),  # a resource that never matches
        ],
    )
    assert keys(outcome.failing) == {
        ("lab-grower", "oom_killed", "memory"),
        ("lab-restarting", "oom_killed", "memory"),
        ("lab-idle", "over_request", "cpu"),
        ("lab-idle", "over_request", "memory"),
    }
    reasons = {(i.workload, i.check): i.reason for i in outcome.ignored}
    assert reasons == {
        ("lab-oomchild", "oom_killed/memory"): 'ignored by check.overrides."lab-oom*".ignore',
        ("lab-throttled", "cpu_throttled/cpu"): "ignored by check.ignore",
    }
    assert {i.threshold for i in outcome.for_workload("lab-idle")} == {"warning"}
    assert outcome.threshold("lab-idle") == "warning"
    assert outcome.threshold("lab-bursty") == outcome.fail_on == "critical"
    # a workload override beats a stricter global threshold too
    relaxed = evaluate(result, fail_on="warning", overrides=[Override("lab-*", fail_on="critical")])
    assert keys(relaxed.failing) == CRITICAL


def test_magnitudes_come_from_details(result: AnalysisResult) -> None:
    got = {
        (w.name, f.kind, f.resource): m
        for w in result
        for f in w.findings
        if (m := magnitude(f)) is not None
    }
    assert got[("lab-oomchild", "oom_killed", "memory")] == 15
    assert got[("lab-bursty", "under_request", "cpu")] == pytest.approx(1.986, abs=0.01)
    assert got[("lab-idle", "over_request", "memory")] > 500 * 2**20  # idle bytes
    assert magnitude(Finding("over_request", "info", "cpu", "m", {"ratio": float("inf")})) is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            '{"schema": "rightsize-baseline/v1",\n "workloads": {\n  "a": [}\n}',
            r":3:9: invalid JSON",
        ),
        ("[]", "top level: expected a JSON object"),
        ('{"schema": "other", "workloads": {}}', "schema: expected 'rightsize-baseline/v1'"),
        ('{"schema": "rightsize-baseline/v1"}', "workloads: expected an object"),
        (
            '{"schema": "rightsize-baseline/v1", "workloads": {"a": {}}}',
            r'workloads\."a": expected',
        ),
        (
            '{"schema": "rightsize-baseline/v1", "workloads": {"a": [{"kind": "oom_killed", '
            '"resource": null, "severity": "fatal"}]}}',
            r'workloads\."a"\[0\]\.severity: expected critical, warning or info',
        ),
        (
            '{"schema": "rightsize-baseline/v1", "workloads": {"a": [{"kind": "x", '
            '"resource": "disk", "severity": "info"}]}}',
            r"\[0\]\.resource: expected cpu, memory or null",
        ),
        (
            '{"schema": "rightsize-baseline/v1", "workloads": {"a": [{"kind": "x", '
            '"resource": "cpu", "severity": "info", "magnitude": "3"}]}}',
            r"\.magnitude: expected a finite number or null",
        ),
    ],
)
def test_malformed_baseline_names_the_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as info:
        load_baseline(path)
    assert str(info.value).startswith(str(path))
    assert info.value.exit_code == 2


def test_missing_baseline_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read the baseline .*nope\.json"):
        load_baseline(tmp_path / "nope.json")


def test_check_writes_everything(result: AnalysisResult, tmp_path: Path) -> None:
    out = io.StringIO()
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    outcome = check(
        result,
        fail_on="critical",
        junit=tmp_path / "out" / "junit.xml",
        github=True,
        out=out,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert not outcome.passed
    text = out.getvalue()
    assert "rightsize check FAILED: 4 failing at or above critical" in text
    assert text.count("::error ") == 4 and "::warning " in text
    assert (tmp_path / "out" / "junit.xml").read_text().startswith("<?xml")
    appended = summary.read_text()
    assert appended.startswith("earlier step\n## ") and "rightsize check FAILED" in appended

    quiet = io.StringIO()
    check(result, out=quiet, env={"GITHUB_STEP_SUMMARY": str(summary)})  # no --github
    assert "::" not in quiet.getvalue() and summary.read_text() == appended


def test_check_baseline_cycle(result: AnalysisResult, tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    written = check(result, fail_on="warning", write_baseline_to=path, out=io.StringIO())
    assert written.passed and len(written.accepted) == 8
    again = check(result, fail_on="warning", baseline=path, out=io.StringIO())
    assert again.passed and exit_code(again) == 0
    with pytest.raises(UsageError, match="--baseline and --write-baseline"):
        check(result, baseline=path, write_baseline_to=path, out=io.StringIO())
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(UsageError, match="cannot write the JUnit report"):
        check(result, junit=blocked / "junit.xml", out=io.StringIO())


def test_config_check_section() -> None:
    cfg = from_mapping(
        {
            "check": {
                "fail_on": "warning",
                "ignore": ["no_request", "no_limit/cpu"],
                "overrides": {
                    "batch-*": {"fail_on": "critical", "ignore": ["over_request/memory"]},
                    "web": {},
                },
            }
        }
    )
    assert cfg.fail_on == "warning"
    assert cfg.check_ignore == ("no_request", "no_limit/cpu")
    assert cfg.check_overrides == (
        Override("batch-*", "critical", ("over_request/memory",)),
        Override("web"),
    )


@pytest.mark.parametrize(
    ("check", "match"),
    [
        ({"fail_on": "info"}, "config key check.fail_on: expected warning or critical"),
        ({"ignore": "no_request"}, "config key check.ignore: expected a list"),
        ({"ignore": ["oom"]}, r"config key check.ignore\[0\]: unknown finding kind 'oom'"),
        ({"ignore": [1]}, r"config key check.ignore\[0\]: expected a string"),
        ({"overrides": []}, "config key check.overrides: expected a table"),
        ({"overrides": {"a": 1}}, "config key check.overrides.a: expected a table"),
        (
            {"overrides": {"lab-*": {"fail_on": "never"}}},
            r'config key check.overrides."lab-\*".fail_on: expected warning or critical',
        ),
        (
            {"overrides": {"a.b": {"ignore": ["no_limit/gpu"]}}},
            r'config key check.overrides."a.b".ignore\[0\]: unknown resource',
        ),
        (
            {"overrides": {"web": {"threshold": 1}}},
            "unknown config key check.overrides.web.threshold: known keys are fail_on, ignore",
        ),
        ({"baseline": "x"}, "unknown config key check.baseline"),
    ],
)
def test_config_check_errors_name_the_key(check: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        from_mapping({"check": check})
