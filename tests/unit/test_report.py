"""The HTML report: golden page on the lab session, escaping, secrets, atomic files, history.

Refresh the golden file after an intended change with
``RIGHTSIZE_REGEN_GOLDEN=1 python -m pytest tests/unit/test_report.py``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from rightsize.analysis.pipeline import analyze
from rightsize.analysis.result import AnalysisResult
from rightsize.analysis.strategies.base import History
from rightsize.errors import RuntimeFailure, UnknownWorkload, UsageError
from rightsize.model import Declared, Recommendation
from rightsize.render import charts
from rightsize.render.fixes import docker_memory, fixes_for, k8s_memory, yaml_quote
from rightsize.render.html import INDEX_FILE, ReportPaths, write_report
from rightsize.render.model import build_model
from rightsize.render.tabular import to_json
from rightsize.sources.recording import read_recordings
from rightsize.store import CONTAINER_COLUMNS, SAMPLE_COLUMNS, Dataset, Store, load

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "lab-report.html"
NOW = datetime(2026, 11, 27, 7, 0, 0, tzinfo=UTC)
MiB = 2**20
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> AnalysisResult:
    db = tmp_path_factory.mktemp("lab") / "rightsize.db"
    with Store(db) as store:
        for rec in read_recordings(ROOT / "data" / "lab-session"):
            store.write(
                samples=rec.samples, containers=rec.containers, events=rec.events, hosts=[rec.host]
            )
    return analyze(load(db))


def hostile_dataset() -> Dataset:
    """Three containers whose names, labels and images are markup."""
    host = "unix:///var/run/docker.sock"
    names = [SCRIPT, IMG, "-rf $(reboot)'; x"]
    rows, conts = [], []
    for i, name in enumerate(names):
        cid = f"{i:064x}"
        for k in range(200):
            rows.append(
                {c: math.nan for c in SAMPLE_COLUMNS}
                | {
                    "host": host,
                    "container_id": cid,
                    "ts": 1e9 + 60.0 * k,
                    "cpu_total_ns": 60e9 * 0.05 * k,
                    "mem_working_set": 30.0 * MiB + k,
                }
            )
        conts.append(
            {
                "host": host,
                "container_id": cid,
                "name": name,
                "image": IMG if i else SCRIPT,
                "labels": {"app": SCRIPT, IMG: IMG, "com.docker.compose.service": name},
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
    hosts = pd.DataFrame(
        [
            {
                "host": host,
                "name": IMG,
                "ncpu": 4,
                "mem_total": 8 * 2**30,
                "engine_version": "27",
                "api_version": "1.47",
                "cgroup_version": "2",
                "os_type": "linux",
            }
        ]
    )
    return Dataset(
        samples,
        pd.DataFrame(conts, columns=[*CONTAINER_COLUMNS, "first_seen", "last_seen"]),
        pd.DataFrame(columns=["host", "container_id", "ts", "action", "exit_code", "name"]),
        hosts,
    )


# ------------------------------------------------------------------ golden


def scrub(html: str) -> str:
    """Mask what legitimately changes between runs and versions: chart bodies, times."""
    html = re.sub(r"<svg\b[^>]*class=\"chart\".*?</svg>", "<svg chart/>", html, flags=re.S)
    html = re.sub(r"<style>.*?</style>", "<style/>", html, flags=re.S)
    html = re.sub(r"<script>.*?</script>", "<script/>", html, flags=re.S)
    html = re.sub(r"rightsize \d[\w.+-]*|rightsize dev", "rightsize VERSION", html)
    return html


@pytest.fixture(scope="module")
def lab_report(lab: AnalysisResult, tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    return write_report(lab, tmp_path_factory.mktemp("report"), now=NOW)


def test_golden_lab_report(lab_report: ReportPaths) -> None:
    page = scrub(lab_report.html.read_text())
    if os.environ.get("RIGHTSIZE_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(page)
    assert GOLDEN.exists(), "no golden file: run with RIGHTSIZE_REGEN_GOLDEN=1"
    assert page == GOLDEN.read_text(), "report changed: RIGHTSIZE_REGEN_GOLDEN=1 to accept"


def test_lab_report_content(lab: AnalysisResult, lab_report: ReportPaths) -> None:
    paths = lab_report
    html = paths.html.read_text()
    assert paths.html.name == "rightsize-20261127T070000Z.html"
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert paths.latest.read_text() == html and not paths.latest.is_symlink()
    assert paths.json.read_text() == to_json(lab)
    # summary first, then hosts, table, details
    order = [html.index(f'id="{s}"') for s in ("summary", "hosts", "workloads", "details")]
    assert order == sorted(order)
    # severity by icon and word
    assert '<span class="sev-icon" aria-hidden="true">\u2716</span> critical' in html
    # every workload in the table, full charts for those above info
    assert html.count('<tr data-severity="') == 8
    assert html.count('class="chart"') == 7 * 2 + 1
    assert re.search(r"OOM kill \(\d+\)", html)  # lab-restarting's memory chart marks its kills
    assert "throttled \u2265" in html
    # fixes for the platform (Docker containers: docker units, no Kubernetes snippet)
    assert "--cpu-shares 344" in html and "--memory 64m" in html and "kubectl" not in html
    # self-contained: no URL of any kind, no external resource
    assert not re.search(r"https?:|//[a-z]", html, re.I)
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", html)
    assert "hunter2" not in html and "hunter2" not in paths.json.read_text()
    assert "DB_PASSWORD" not in html


def test_hostile_names_labels_images_are_escaped(tmp_path: Path) -> None:
    result = analyze(hostile_dataset())
    paths = write_report(result, tmp_path, now=NOW)
    for path in (paths.html, paths.index):
        html = path.read_text()
        for bad in (SCRIPT, IMG, "<img", "<script>alert"):
            assert bad not in html, (path.name, bad)
        # the only <script> tags are ours: the JSON data block and the inlined JS
        assert re.findall(r"<script\b[^>]*>", html) in (
            [],
            ['<script type="application/json" id="report-data">', "<script>"],
        )
    html = paths.html.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    data = re.search(r'id="report-data">(.*?)</script>', html, re.S)
    assert data is not None and "<" not in data.group(1)


def test_fix_snippets_quote_untrusted_names() -> None:
    result = analyze(hostile_dataset())
    for w in result:
        fixes = fixes_for(w)
        assert fixes is not None
        name = w.container_names[0]
        # the shell command's last line holds exactly the quoted names
        last = fixes.get("docker update").splitlines()[-1].strip()
        words = shlex.split(last)
        assert words[-1] == name
        if name.startswith("-"):
            assert words[0] == "--"
        for _, text in fixes.snippets:
            for line in text.splitlines():
                assert not line.lstrip().startswith("#") or name not in line
    rec = Recommendation(0.25, 1.5, 96 * MiB, 2**30, 0.5)
    assert (
        k8s_memory(96 * MiB) == "96Mi" and k8s_memory(2**30) == "1Gi" and k8s_memory(1000) == "1000"
    )
    assert docker_memory(96 * MiB) == "96m" and docker_memory(1001) == "1001b"
    assert rec.cpu_limit == 1.5


def test_yaml_quote_is_single_line_ascii() -> None:
    q = yaml_quote('a"\nb\u2028: #c')
    assert "\n" not in q and q.isascii() and json.loads(q) == 'a"\nb\u2028: #c'


# ------------------------------------------------------------------ files


def test_atomic_write_leaves_no_temp_files(lab: AnalysisResult, tmp_path: Path) -> None:
    write_report(lab, tmp_path, now=NOW, charts_mode="none")
    write_report(lab, tmp_path, now=NOW, charts_mode="none")  # same second: a second, distinct file
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "index.html",
        "latest.html",
        "report.json",
        INDEX_FILE,
        "rightsize-20261127T070000Z-2.html",
        "rightsize-20261127T070000Z.html",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert (tmp_path / "latest.html").stat().st_mode & 0o044  # readable like any file


def test_failed_write_keeps_previous_file(
    lab: AnalysisResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(lab, tmp_path, now=NOW, charts_mode="none")
    before = (tmp_path / "latest.html").read_text()

    def boom(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(RuntimeFailure, match="disk full"):  # one line, exit 3
        write_report(lab, tmp_path, now=NOW + timedelta(hours=1), charts_mode="none")
    assert (tmp_path / "latest.html").read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_index_lists_previous_reports(lab: AnalysisResult, tmp_path: Path) -> None:
    for hours in range(3):
        paths = write_report(lab, tmp_path, now=NOW + timedelta(hours=hours), charts_mode="none")
    index = paths.index.read_text()
    for hours in range(3):
        stamp = (NOW + timedelta(hours=hours)).strftime("%Y%m%dT%H%M%SZ")
        assert f'href="rightsize-{stamp}.html"' in index
    doc = json.loads((tmp_path / INDEX_FILE).read_text())
    assert len(doc["reports"]) == 3
    assert doc["reports"][0]["findings"] == lab.counts
    assert doc["reports"][0]["savings"]["cpu"] > 1.9  # lab-idle: 2 cores → 25m
    assert 'class="chart"' in index  # trend over the runs
    newest, oldest = index.index(">2026-11-27 09:00:00Z<"), index.index(">2026-11-27 07:00:00Z<")
    assert newest < oldest  # newest first


def test_index_survives_a_corrupt_or_hostile_history(lab: AnalysisResult, tmp_path: Path) -> None:
    (tmp_path / INDEX_FILE).write_text("{not json")
    write_report(lab, tmp_path, now=NOW, charts_mode="none")
    doc = json.loads((tmp_path / INDEX_FILE).read_text())
    assert len(doc["reports"]) == 1
    doc["reports"].insert(0, {"file": "javascript:alert(1)", "generated": SCRIPT, "findings": {}})
    (tmp_path / INDEX_FILE).write_text(json.dumps(doc))
    index = write_report(
        lab, tmp_path, now=NOW + timedelta(hours=1), charts_mode="none"
    ).index.read_text()
    assert "javascript:" not in index and SCRIPT not in index


# ------------------------------------------------------------------ model and charts


def test_charts_cap_and_modes(lab: AnalysisResult) -> None:
    assert build_model(lab, now=NOW, charts_mode="none").charted == 0
    capped = build_model(lab, now=NOW, max_charts=2)
    assert capped.charted == 2 and capped.charts_omitted == 5
    charted = [w.name for w in capped.workloads if w.charted]
    assert all(w.severity == "critical" for w in capped.workloads if w.charted), charted
    small = analyze(hostile_dataset())
    assert build_model(small, now=NOW, charts_mode="all").charted == 3


def test_summary_numbers(lab: AnalysisResult) -> None:
    s = build_model(lab, now=NOW, charts_mode="none").summary
    assert s.workloads == 8 and s.hosts == 1
    assert s.findings == lab.counts
    assert sum(s.workloads_by_severity.values()) == 8
    assert s.top[0].severity == "critical" and len(s.top) <= 10
    assert s.money_per_month is None


def test_downsample_keeps_peaks_and_bounds_points() -> None:
    ts = np.arange(100_000, dtype=np.float64)
    v = np.zeros(100_000)
    v[54_321] = 7.0
    _, d = charts.downsample_max(ts, v)
    assert len(d) <= charts.MAX_POINTS and d.max() == 7.0


def test_svg_is_embeddable_and_ids_do_not_collide() -> None:
    ts = np.arange(50, dtype=np.float64)
    kw = dict(
        resource="cpu",
        ts=ts,
        values=ts / 50,
        request=0.5,
        limit=1.0,
        rec_request=0.6,
        rec_limit=None,
    )
    a = charts.usage_chart(salt="a", **kw)  # type: ignore[arg-type]
    b = charts.usage_chart(salt="b", **kw)  # type: ignore[arg-type]
    assert a.startswith("<svg") and "http" not in a and "<?xml" not in a
    ids_a = set(re.findall(r'id="([^"]+)"', a))
    ids_b = set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    assert "Date" not in a and "<metadata" not in a


def test_declared_only_workload_without_recommendation_has_no_fix(lab: AnalysisResult) -> None:
    import dataclasses

    w = lab["lab-grower"]  # OOM-killed, short history: a lower bound on the memory limit only
    assert w.recommendation is not None and w.recommendation.cpu_request is None
    assert w.recommendation.lower_bound
    fixes = fixes_for(w)
    assert fixes is not None and "--memory 196m" in fixes.get("docker update")
    empty = dataclasses.replace(w, recommendation=Recommendation(None, None, None, None, 0.0))
    assert fixes_for(empty) is None
    assert Declared() == Declared()


def test_prune_reports_keeps_the_newest_and_the_history(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    import rightsize
    from rightsize.render.html import prune_reports, write_report

    result = rightsize.analyze(Path(__file__).parents[1] / "fixtures" / "docker-api"
                               / "rightsize-lab-session")
    t0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    pages = [write_report(result, tmp_path, now=t0 + timedelta(minutes=i), charts_mode="none")
             .html for i in range(3)]
    removed = prune_reports(tmp_path, keep=1)
    assert removed == pages[:2]
    assert sorted(tmp_path.glob("rightsize-*.html")) == [pages[2]]
    index = (tmp_path / "index.html").read_text()
    assert index.count("2026-11-27") >= 3  # pruned reports stay in the history


# ------------------------------------------------------------------ size, names, legends


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, re.S)


def big_history(n: int = 200_000, kills: int = 5_000, seed: int = 3) -> History:
    """A long, noisy history with thousands of OOM kills and alternating throttling."""
    rng = np.random.default_rng(seed)
    ts = 1.79e9 + 2.0 * np.arange(n)
    return History(
        ts=ts,
        cpu=rng.random(n) * 2,
        memory=rng.random(n) * 2**30,
        interval=np.full(n, 2.0),
        throttled=(np.arange(n) // 400 % 2).astype(np.float64),
        oom_ts=np.sort(rng.uniform(ts[0], ts[-1], kills)),
    )


def test_charts_stay_small_with_thousands_of_kills_and_samples(
    lab: AnalysisResult, tmp_path: Path
) -> None:
    hist = big_history()
    for resource in ("cpu", "memory"):
        svg = charts.usage_chart(
            resource=resource, ts=hist.ts, values=getattr(hist, resource), request=1.0,
            limit=2.0, rec_request=0.5, rec_limit=0.9, oom_ts=hist.oom_ts,
            throttled=hist.throttled, salt=resource,
        )
        assert len(svg.encode()) <= 60_000, (resource, len(svg))
        assert "OOM kills (5,000; grouped per" in svg
    # the whole lab report, lab-oomchild given that history
    page = write_report(lab, tmp_path, now=NOW, chart_histories={"lab-oomchild": hist}).html
    html = page.read_text()
    assert page.stat().st_size <= 400_000, page.stat().st_size
    sizes = [len(s.encode()) for s in _svgs(html)]
    assert len(sizes) >= 15 and max(sizes) <= 60_000, max(sizes)


def test_oom_buckets_count_every_kill_once() -> None:
    kills = np.array([0.1, 0.0, 0.1, 5.0, 55.0, 99.9, 100.0, np.nan])
    when, counts, width = charts.oom_buckets(kills, 0.0, 100.0, n=10)
    assert width == 10.0 and counts.sum() == 7
    assert when.tolist() == [0.0, 55.0, 99.9] and counts.tolist() == [4, 1, 2]


def test_downsample_minmax_keeps_peaks_and_troughs() -> None:
    ts = np.arange(100_000, dtype=np.float64)
    v = np.ones(100_000)
    v[54_321], v[12_345] = 7.0, -3.0
    t, lo, hi = charts.downsample_minmax(ts, v)
    assert t.size <= charts.MAX_POINTS and hi.max() == 7.0 and lo.min() == -3.0


class _Names(HTMLParser):
    """Every ``role=img`` element's accessible name, resolved like a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, list[str]] = {}
        self.open: list[str | None] = []
        self.imgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("role") == "img":
            self.imgs.append(a)
        if tag not in ("br", "img", "input", "meta", "path", "use", "rect", "line", "polyline"):
            self.open.append(a.get("id"))
            if a.get("id"):
                self.text[str(a["id"])] = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if dict(attrs).get("role") == "img":
            self.imgs.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for i in self.open:
            if i:
                self.text[i].append(data)

    def names(self) -> list[str]:
        out = []
        for a in self.imgs:
            name = (a.get("aria-label") or "").strip()
            if not name and a.get("aria-labelledby"):
                name = " ".join(
                    "".join(self.text.get(i, [])).strip() for i in str(a["aria-labelledby"]).split()
                ).strip()
            out.append(name)
        return out


def test_every_img_has_an_accessible_name(lab: AnalysisResult, tmp_path: Path) -> None:
    for hours in range(2):
        paths = write_report(lab, tmp_path, now=NOW + timedelta(hours=hours))
    for path, least in ((paths.html, 15 + 16), (paths.index, 1)):
        parser = _Names()
        parser.feed(path.read_text())
        names = parser.names()
        assert len(names) >= least and all(names), (path.name, names.count(""))
    html = paths.html.read_text()
    assert 'aria-labelledby="w-' in html  # usage charts are named by their captions
    # a label given to a chart is escaped
    svg = charts.usage_chart(resource="cpu", ts=np.arange(5.0), values=np.ones(5), request=None,
                             limit=None, rec_request=None, rec_limit=None, salt="x", label=SCRIPT)
    assert SCRIPT not in svg and 'aria-label="&lt;script&gt;' in svg


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    figs: list[Figure] = []
    real = charts._svg

    def keep(fig: Figure, salt: str, label: str = "") -> str:
        figs.append(fig)
        return real(fig, salt, label) if label else real(fig, salt)

    monkeypatch.setattr(charts, "_svg", keep)
    return figs


def test_legend_text_is_inside_the_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    figs = _capture(monkeypatch)
    hist = big_history(4_000, 50)
    # lab-throttled's legend: "throttled ≥25% of pe" was cut at the right edge
    charts.usage_chart(resource="cpu", ts=hist.ts, values=hist.cpu, request=0.2, limit=0.2,
                       rec_request=0.332, rec_limit=None, throttled=hist.throttled, salt="a")
    charts.usage_chart(resource="memory", ts=hist.ts, values=hist.memory, request=2**29,
                       limit=2**30, rec_request=2**29, rec_limit=2**30 * 0.9,
                       oom_ts=hist.oom_ts, throttled=hist.throttled, salt="b")
    charts.trend_chart(["2026-11-27 07:00"] * 3, [("critical", [1, 5, 2], "-", "x"),
                       ("warning", [3, 3, 3], "--", "^"), ("info", [9, 0, 4], ":", "o")], salt="t")
    for fig in figs:
        fig.canvas.draw()  # lay out again at the figure's own dpi, as its bbox is
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        box = fig.bbox
        legends = [*fig.legends, *(a.get_legend() for a in fig.axes if a.get_legend())]
        texts = [t for leg in legends for t in leg.get_texts()]
        assert texts
        for t in texts:
            e = t.get_window_extent(renderer)
            assert box.x0 <= e.x0 and e.x1 <= box.x1 and box.y0 <= e.y0 and e.y1 <= box.y1, (
                t.get_text(), e, box)
    # the trend's legend does not cover the plot
    trend = figs[-1]
    [leg] = [*trend.legends, *(a.get_legend() for a in trend.axes if a.get_legend())]
    legend = leg.get_window_extent(trend.canvas.get_renderer())  # type: ignore[attr-defined]
    assert not legend.overlaps(trend.axes[0].get_window_extent())


def test_unknown_workload_names_the_known_ones(lab: AnalysisResult) -> None:
    with pytest.raises(UnknownWorkload, match=r"'nope'.*'lab-bursty', 'lab-grower'") as err:
        lab["nope"]
    assert isinstance(err.value, KeyError) and isinstance(err.value, UsageError)
    assert str(err.value).startswith("no workload named 'nope'; known workloads:")
    many = UnknownWorkload("x", [f"w{i}" for i in range(100)])
    assert str(many).endswith("'w19', … (80 more)")


def test_history_page_shows_net_freed_and_added() -> None:
    from rightsize.render.html import render_index

    entry = {
        "generated": "2026-12-01T10:00:00Z",
        "window": {"start": "a", "end": "b"},
        "workloads": 2,
        "findings": {},
        "savings": {"cpu": 1.975, "memory": 446 * 2**20, "money_per_month": 10.0,
                    "cpu_added": 1.439, "memory_added": 392 * 2**20,
                    "money_added_per_month": 12.5},
    }
    page = render_index([entry], Path("/nonexistent"))
    assert "CPU requests net 536m freed (1975m freed, 1439m added)" in page
    assert "memory requests net 54Mi freed (446Mi freed, 392Mi added)" in page
    assert "per month net 2.50 added (10.00 freed, 12.50 added)" in page
