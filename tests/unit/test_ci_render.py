"""CI renderers (rightsize.render.ci): JUnit XML, GitHub annotations, step summary, text."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rightsize.analysis.pipeline import analyze
from rightsize.analysis.result import AnalysisResult
from rightsize.finding_kinds import CHECKS
from rightsize.gate import Baseline, Override, evaluate
from rightsize.model import Finding
from rightsize.render.ci import (
    gh_escape_data,
    gh_escape_property,
    github_annotations,
    step_summary,
    to_junit,
    to_text,
    xml_safe,
)
from rightsize.sources.recording import read_recording
from rightsize.store import Store, load

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"
HOSTILE = "\"&'<script>alert(1)</script>"
USAGE_CHECKS = {
    "oom_killed/memory",
    "oom_risk/memory",
    "cpu_throttled/cpu",
    "under_request/cpu",
    "under_request/memory",
    "over_request/cpu",
    "over_request/memory",
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


def cases(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    (s,) = [s for s in root.iter("testsuite") if s.get("name") == suite]
    return {str(c.get("name")): c for c in s.iter("testcase")}


def test_junit_one_suite_per_workload_one_case_per_check(result: AnalysisResult) -> None:
    root = ET.fromstring(to_junit(result, evaluate(result)))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == result.names
    for s in suites:
        names = [c.get("name") for c in s.findall("testcase")]
        assert names == [f"{k}/{r}" for k, r in CHECKS]
        assert {c.get("classname") for c in s.findall("testcase")} == {s.get("name")}
        assert s.get("tests") == str(len(names))
        assert s.get("failures") == str(len(s.findall("testcase/failure")))
        assert s.get("skipped") == str(len(s.findall("testcase/skipped")))
    assert root.get("tests") == str(len(result) * len(CHECKS))
    assert root.get("failures") == "4" and root.get("errors") == "0"

    failed = {
        (s.get("name"), c.get("name"))
        for s in suites
        for c in s.findall("testcase")
        if c.find("failure") is not None
    }
    assert failed == {
        ("lab-grower", "oom_killed/memory"),
        ("lab-oomchild", "oom_killed/memory"),
        ("lab-restarting", "oom_killed/memory"),
        ("lab-throttled", "cpu_throttled/cpu"),
    }
    failure = cases(root, "lab-restarting")["oom_killed/memory"].find("failure")
    assert failure is not None
    message = result["lab-restarting"].findings[0].message
    assert failure.get("message") == message and message.startswith("12 OOM kills")
    assert failure.get("type") == "critical"
    assert failure.text is not None and message in failure.text


def test_junit_skips_usage_checks_when_data_is_insufficient(result: AnalysisResult) -> None:
    root = ET.fromstring(to_junit(result, evaluate(result)))
    grower = cases(root, "lab-grower")  # killed after 19 s: too little history to size it
    for name, case in grower.items():
        skipped = case.find("skipped")
        if name == "oom_killed/memory":  # failures win over skipping
            assert skipped is None and case.find("failure") is not None
        elif name in USAGE_CHECKS:
            assert skipped is not None, name
            assert str(skipped.get("message")).startswith(
                "insufficient data: not enough data for a recommendation: 19 samples over 19s"
            )
        else:  # what is declared does not need history
            assert skipped is None and case.find("failure") is None, name
    # five minutes of history are enough: nothing of lab-idle is skipped
    idle = cases(root, "lab-idle")
    assert all(case.find("skipped") is None for case in idle.values())
    # a non-failing finding is reported in system-out
    out = idle["over_request/cpu"].find("system-out")
    assert out is not None and out.text is not None
    assert out.text.startswith("warning: CPU request 2 is") and "below the critical" in out.text


def test_junit_when_data_suffices_checks_pass(result: AnalysisResult) -> None:
    enough = dataclasses.replace(
        result,
        results=tuple(
            dataclasses.replace(
                w, findings=tuple(f for f in w.findings if f.kind != "insufficient_data")
            )
            for w in result
        ),
    )
    root = ET.fromstring(to_junit(enough, evaluate(enough)))
    assert root.get("skipped") == "0" and root.get("failures") == "4"
    nolimits = cases(root, "lab-nolimits")
    assert list(nolimits["no_limit/memory"]) and nolimits["no_limit/memory"].find("failure") is None


def test_junit_baselined_and_ignored(result: AnalysisResult) -> None:
    outcome = evaluate(
        result,
        fail_on="warning",
        baseline=Baseline.from_result(result),
        overrides=[Override("lab-nolimits", ignore=("no_limit",))],
    )
    root = ET.fromstring(to_junit(result, outcome))
    assert root.get("failures") == "0"
    grower = cases(root, "lab-grower")["oom_killed/memory"]
    out = grower.find("system-out")
    assert out is not None and "accepted by the baseline" in str(out.text)
    skipped = cases(root, "lab-nolimits")["no_limit/memory"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "ignored by check.overrides.lab-nolimits.ignore"


def test_junit_escapes_hostile_names_labels_and_messages(result: AnalysisResult) -> None:
    hostile = result["lab-hostile"]
    assert hostile.labels["app"] == "<script>alert(1)</script>"
    finding = Finding(
        "oom_killed", "critical", "memory", f"killed {HOSTILE} \x1b[31mred\x00 ]]> end", {}
    )
    renamed = dataclasses.replace(
        hostile,
        name=HOSTILE,
        labels={**hostile.labels, "x\x07": "a\nb"},
        findings=(finding, *hostile.findings),
    )
    bad = dataclasses.replace(result, results=(renamed,))
    xml = to_junit(bad, evaluate(bad))
    assert "<script>" not in xml and "\x1b" not in xml and "\x00" not in xml
    root = ET.fromstring(xml)  # well-formed
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == HOSTILE
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["label:app"] == "<script>alert(1)</script>"
    assert props["label:x\\x07"] == "a\nb"
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == f"killed {HOSTILE} \\x1b[31mred\\x00 ]]> end"
    assert failure.text is not None and HOSTILE in failure.text
    case = suite.find("testcase")
    assert case is not None and case.get("classname") == HOSTILE


def test_xml_safe() -> None:
    assert xml_safe("a\tb\nc\rd") == "a\tb\nc\rd"
    assert xml_safe("\x00\x0b\ufffe😀") == "\\x00\\x0b\\xfffe😀"


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("100% done", "100%25 done", "100%25 done"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("k: v, w", "k: v, w", "k%3A v%2C w"),
        ("::error::x", "::error::x", "%3A%3Aerror%3A%3Ax"),
        ("%0A", "%250A", "%250A"),
        ("bell\x07", "bell\\x07", "bell\\x07"),
    ],
)
def test_github_escaping(text: str, data: str, prop: str) -> None:
    assert gh_escape_data(text) == data
    assert gh_escape_property(text) == prop


def test_github_annotations(result: AnalysisResult) -> None:
    lines = github_annotations(evaluate(result))
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert len(errors) == 4 and len(warnings) == 4 and len(lines) == 8
    assert lines[: len(errors)] == errors  # errors first
    assert errors[0] == (
        "::error title=rightsize critical%3A oom_killed/memory in lab-grower::lab-grower: "
        + result["lab-grower"].findings[0].message
        + " (at or above critical)"
    )
    throttled = next(line for line in errors if "lab-throttled" in line)
    assert "98%25 of CFS periods (2,942 of 3,000)" in throttled
    # with warnings failing, no warnings remain; accepted findings become warnings
    assert all(
        line.startswith("::error ")
        for line in github_annotations(evaluate(result, fail_on="warning"))
    )
    accepted = github_annotations(evaluate(result, baseline=Baseline.from_result(result)))
    assert len(accepted) == 8 and all(line.startswith("::warning ") for line in accepted)
    assert "accepted by the baseline" in accepted[0]


def test_github_annotations_cannot_be_injected(result: AnalysisResult) -> None:
    evil = "web,prod: x\n::set-output name=a::b\r%"
    finding = Finding("oom_killed", "critical", "memory", f"boom\n::error::{evil}", {})
    w = dataclasses.replace(result["lab-grower"], name=evil, findings=(finding,))
    (line,) = github_annotations(evaluate([w]))
    assert "\n" not in line and "\r" not in line
    head, _, message = line.partition("::")[2].partition("::")
    assert head == (
        "error title=rightsize critical%3A oom_killed/memory in "
        "web%2Cprod%3A x%0A%3A%3Aset-output name=a%3A%3Ab%0D%25"
    )
    assert message.startswith("web,prod: x%0A::set-output name=a::b%0D%25: boom%0A::error::")


def test_step_summary(result: AnalysisResult) -> None:
    md = step_summary(result, evaluate(result))
    assert md.startswith("## \u274c rightsize check FAILED\n")
    assert "4 failing at or above critical, 0 ignored." in md
    assert "| lab-restarting | `oom_killed/memory` | critical | at or above critical | 12 OOM" in md
    assert "<details><summary>All workloads</summary>" in md
    assert "### rightsize: 8 workloads" in md  # to_markdown, one level down
    assert "<script>" not in md and "&lt;script&gt;" in md

    passed = step_summary(result, evaluate(result, baseline=Baseline.from_result(result)))
    assert passed.startswith("## \u2705 rightsize check passed\n")
    assert "4 accepted by the baseline, 0 new or worsened, 0 resolved" in passed
    assert "Accepted by the baseline (4)" in passed
    assert "### Failing findings" not in passed


def test_step_summary_escapes_hostile_names(result: AnalysisResult) -> None:
    finding = Finding("cpu_throttled", "critical", "cpu", "a | b `c` <img src=x>", {})
    w = dataclasses.replace(result["lab-hostile"], name="x|<b>y</b>", findings=(finding,))
    md = step_summary(dataclasses.replace(result, results=(w,)), evaluate([w]))
    assert "x\\|&lt;b&gt;y&lt;/b&gt;" in md and "a \\| b \\`c\\` &lt;img src=x&gt;" in md
    assert "<b>" not in md and "<img" not in md


def test_to_text(result: AnalysisResult) -> None:
    text = to_text(evaluate(result))
    lines = text.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("FAIL critical lab-grower: oom_killed/memory: 1 OOM kill")
    assert lines[-1] == "rightsize check FAILED: 4 failing at or above critical, 0 ignored"
    ok = to_text(evaluate(result, baseline=Baseline.from_result(result)))
    assert ok == (
        "rightsize check passed: 0 failing at or above critical, 4 accepted by the baseline, "
        "0 new or worsened, 0 resolved, 0 ignored\n"
    )
