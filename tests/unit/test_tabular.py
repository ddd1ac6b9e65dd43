"""Renderers (JSON, CSV, Markdown, table) on a small synthetic dataset with hostile names."""

from __future__ import annotations

import csv
import io
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from rightsize.analysis.pipeline import analyze
from rightsize.analysis.result import AnalysisResult
from rightsize.api import analyze as analyze_source
from rightsize.errors import UsageError
from rightsize.render import FORMATS, render, to_csv, to_json, to_markdown, to_table
from rightsize.render.tabular import CSV_COLUMNS, md_escape
from rightsize.store import CONTAINER_COLUMNS, SAMPLE_COLUMNS, Dataset

MiB = 2**20


def dataset(names: list[str], labels: list[dict[str, str]] | None = None) -> Dataset:
    rows, conts = [], []
    for i, name in enumerate(names):
        cid = f"{i:064x}"
        for k in range(200):
            rows.append(
                {c: math.nan for c in SAMPLE_COLUMNS}
                | {
                    "host": "unix:///var/run/docker.sock",
                    "container_id": cid,
                    "ts": 1e9 + 60.0 * k,
                    "cpu_total_ns": 60e9 * 0.05 * k,
                    "mem_working_set": 30.0 * MiB + k,
                }
            )
        conts.append(
            {
                "host": "unix:///var/run/docker.sock",
                "container_id": cid,
                "name": name,
                "image": "img",
                "labels": (labels or [{}] * len(names))[i],
                "workload": None,
                "cpu_request": 2.0,
                "cpu_limit": math.nan,
                "memory_request": 64.0 * MiB,
                "memory_limit": 512.0 * MiB,
                "cpuset_cpus": math.nan,
                "restart_count": 0,
                "oom_killed": False,
                "started_at": math.nan,
                "os_type": "linux",
                "first_seen": 1e9,
                "last_seen": 1e9 + 12000,
            }
        )
    samples = pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
    num = [c for c in SAMPLE_COLUMNS if c not in ("host", "container_id")]
    samples[num] = samples[num].astype("float64")
    containers = pd.DataFrame(conts, columns=[*CONTAINER_COLUMNS, "first_seen", "last_seen"])
    events = pd.DataFrame(columns=["host", "container_id", "ts", "action", "exit_code", "name"])
    hosts = pd.DataFrame(
        [
            {
                "host": "unix:///var/run/docker.sock",
                "name": "box",
                "ncpu": 4,
                "mem_total": 8 * 2**30,
                "engine_version": "27",
                "api_version": "1.47",
                "cgroup_version": "2",
                "os_type": "linux",
            }
        ]
    )
    return Dataset(samples=samples, containers=containers, events=events, hosts=hosts)


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return analyze(
        dataset(["web|prod", "=cmd()", "evil\x1b[31mred"], [{"team": "a|b<i>"}, {}, {}]),
        source={"kind": "docker", "hosts": ["unix:///var/run/docker.sock"]},
    )


def test_json_is_strict_and_round_trips(result: AnalysisResult) -> None:
    text = to_json(result)
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert doc["source"] == {"kind": "docker", "hosts": ["unix:///var/run/docker.sock"]}
    assert [w["workload"] for w in doc["workloads"]] == ["=cmd()", "evil\x1b[31mred", "web|prod"]
    web = doc["workloads"][2]
    assert web["labels"] == {"team": "a|b<i>"}
    assert web["usage"]["cpu"]["p95"] == pytest.approx(0.05)
    assert web["findings"][0]["kind"] == "over_request"


def test_csv_rows_and_formula_guard(result: AnalysisResult) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == 6
    assert rows[0]["workload"] == "'=cmd()"  # a spreadsheet must not run it
    cpu = next(r for r in rows if r["workload"] == "web|prod" and r["resource"] == "cpu")
    assert float(cpu["request"]) == 2.0 and float(cpu["p95"]) == pytest.approx(0.05)
    assert cpu["limit"] == "" and cpu["worst_severity"] == "warning"
    assert "over_request" in cpu["findings"].split(";")


def test_markdown_escapes_untrusted_strings(result: AnalysisResult) -> None:
    md = to_markdown(result)
    assert "web\\|prod" in md and "a\\|b&lt;i&gt;" in md
    assert "<i>" not in md
    table_rows = [line for line in md.splitlines() if line.startswith("| web")]
    (row,) = table_rows
    header = next(line for line in md.splitlines() if line.startswith("| workload"))
    cells = re.split(r"(?<!\\)\|", row)
    assert len(cells) == len(header.split("|")) == 12  # no `|` from the data splits a cell
    assert "| warning | 3 |" in md  # summary counts by severity
    assert md_escape("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"
    assert md_escape("a\nb") == "a b"


def test_table_is_aligned_and_terminal_safe(result: AnalysisResult) -> None:
    text = to_table(result)
    assert "\x1b" not in text and "evil\\x1b[31mred" in text
    lines = text.splitlines()
    header, first = lines[0], lines[1]
    assert header.startswith("WORKLOAD") and "CPU P95" in header
    assert first.index("2 / -") > 0  # request / limit as Kubernetes quantities
    assert "50m" in first and "64Mi / 512Mi" in first
    assert lines[1].find("50m") == lines[2].find("50m")  # right-aligned column


def test_render_dispatch(result: AnalysisResult) -> None:
    assert set(FORMATS) == {"table", "json", "csv", "markdown"}
    assert render(result, "json") == to_json(result)
    with pytest.raises(UsageError, match="unknown format"):
        render(result, "yaml")


def test_repr_html_escapes_names(result: AnalysisResult) -> None:
    html = result._repr_html_()
    assert "a|b&lt;i&gt;" in html and "<i>" not in html
    assert html.count("<tr>") == 1 + len(result)
    assert np.isfinite(result.hosts[0].cpu_peak) and result.hosts[0].cpu_peak == pytest.approx(0.15)


def test_table_and_markdown_show_net_change_and_lower_bounds() -> None:
    from rightsize.render.tabular import to_markdown, to_table

    lab = analyze_source("data/lab-session")
    table = to_table(lab)
    grower = next(line for line in table.splitlines() if line.startswith("lab-grower"))
    assert "= / \u2265196Mi" in grower
    change = lab.total_savings.text()
    assert "freed" in change and "added" in change
    assert f"Change in requests: {change}" in table
    assert "Change in requests: " in to_markdown(lab)
