"""The HTML report in a real browser: Debian chromium driven by playwright.

Skips when ``/usr/bin/chromium`` or the ``playwright`` package is missing,
unless ``RIGHTSIZE_REQUIRE_ENGINE=1`` (CI), where it fails instead. Never
downloads a browser (no ``playwright install``): it launches the system one.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rightsize.analysis.pipeline import analyze
from rightsize.render.html import write_report
from rightsize.sources.recording import read_recordings
from rightsize.store import Store, load

from .conftest import unavailable

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    db = tmp / "lab.db"
    with Store(db) as store:
        for rec in read_recordings(ROOT / "data" / "lab-session"):
            store.write(
                samples=rec.samples, containers=rec.containers, events=rec.events, hosts=[rec.host]
            )
    result = analyze(load(db))
    # two runs: index.html then has its trend chart
    write_report(result, tmp / "reports", now=datetime(2026, 11, 27, 6, 0, tzinfo=UTC))
    paths = write_report(result, tmp / "reports", now=datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    return paths.html


@pytest.fixture(scope="module")
def page(report: Path) -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        requests: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(report.as_uri())
        pg.wait_for_load_state("load")
        pg.errors = errors  # type: ignore[attr-defined]
        pg.requests = requests  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _names(pg: Any) -> list[str]:
    return list(
        pg.eval_on_selector_all(
            "#wl tbody tr td:nth-child(2)", "els => els.map(e => e.textContent.trim())"
        )
    )


def test_rows_and_charts_in_dom(page: Any) -> None:
    assert len(_names(page)) == 8
    assert page.locator("svg.chart").count() >= 14  # 7 workloads x CPU/memory + host
    assert page.locator("svg.spark").count() >= 8
    assert page.locator("h1").inner_text().startswith("Resource report")
    # the hostile label is shown as text, not run
    assert page.evaluate("() => window.__xss === undefined")
    assert "<script>alert(1)</script>" in (page.locator("#details").text_content() or "")


def test_sorting_reorders_rows_and_sets_aria_sort(page: Any) -> None:
    header = page.locator("#wl thead th").nth(1)
    header.locator("button").click()
    names = _names(page)
    assert names == sorted(names, key=str.lower)
    assert header.get_attribute("aria-sort") == "ascending"
    header.locator("button").click()
    assert _names(page) == sorted(names, key=str.lower, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    assert page.locator("#wl thead th[aria-sort]").count() == 1
    # numeric column: memory peak, descending first, by data-sort keys
    mem = page.locator("#wl thead th").nth(7)
    mem.locator("button").click()
    keys = page.eval_on_selector_all(
        "#wl tbody tr td:nth-child(8)", "els => els.map(e => parseFloat(e.dataset.sort))"
    )
    assert keys == sorted(keys, reverse=True)
    assert mem.get_attribute("aria-sort") == "descending"


def test_filters_hide_rows(page: Any) -> None:
    page.fill("#filter", "throttled")
    visible = page.locator("#wl tbody tr:not([hidden])")
    assert visible.count() == 1
    assert "lab-throttled" in visible.first.inner_text()
    assert page.locator("#shown").inner_text() == "1 of 8 shown"
    page.fill("#filter", "")
    page.select_option("#severity", "critical")
    assert page.locator("#wl tbody tr:not([hidden])").count() == 4
    page.select_option("#severity", "")
    assert page.locator("#wl tbody tr:not([hidden])").count() == 8


def test_no_errors_no_network_and_screenshot(page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    assert page.errors == []
    assert all(u.startswith("file://") for u in page.requests), page.requests


#: the largest inline chart and report page the lab session may give
MAX_SVG, MAX_PAGE = 60_000, 400_000


def test_report_and_charts_stay_small(report: Path) -> None:
    assert report.stat().st_size <= MAX_PAGE, report.stat().st_size
    sizes = [len(s.encode()) for s in re.findall(r"<svg\b.*?</svg>", report.read_text(), re.S)]
    assert len(sizes) >= 15 and max(sizes) <= MAX_SVG, max(sizes)


def _open_all(pg: Any) -> None:
    pg.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")


def _ax_images(pg: Any) -> list[str]:
    """The accessible names Chromium itself computed for every image in the page."""
    cdp = pg.context.new_cdp_session(pg)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    return [
        str((n.get("name") or {}).get("value", "")).strip()
        for n in nodes
        if not n.get("ignored") and (n.get("role") or {}).get("value") in ("image", "img")
    ]


def test_every_image_has_an_accessible_name(page: Any) -> None:
    _open_all(page)
    imgs = page.locator("[role=img]").count()
    names = _ax_images(page)
    assert imgs >= 15 + 16 and len(names) == imgs, (imgs, len(names))
    assert all(names), [i for i, n in enumerate(names) if not n]
    # the usage charts say what they show (named by their captions)
    assert any(n.startswith("Memory of lab-oomchild.") for n in names), names


# every <text> of every chart lies inside its <svg> (0.5 px slack for rounding)
_CLIPPED = """() => Array.from(document.querySelectorAll('svg.chart')).flatMap(svg => {
  const box = svg.getBoundingClientRect();
  return Array.from(svg.querySelectorAll('text')).filter(t => {
    const r = t.getBoundingClientRect();
    return r.width > 0 && (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
                           r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5);
  }).map(t => t.textContent);
})"""


def test_no_chart_text_is_clipped(page: Any) -> None:
    _open_all(page)
    assert page.locator("svg.chart text").count() > 100
    assert page.evaluate(_CLIPPED) == []


def test_index_trend_is_named_and_unclipped(page: Any, report: Path) -> None:
    index = page.context.browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        index.goto((report.parent / "index.html").as_uri())
        assert index.locator("svg.chart").count() == 1
        names = _ax_images(index)
        assert names and all(n.startswith("Findings per report over time") for n in names), names
        assert index.evaluate(_CLIPPED) == []
    finally:
        index.close()
