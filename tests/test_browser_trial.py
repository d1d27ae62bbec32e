"""One trial in a real browser (Playwright + Debian's Chromium): its sections rerun alone, and
an electrode clicked on a scalp map, in the attention matrix or on an attribution map is
selected everywhere on the page."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest
from test_browser import (  # noqa: F401
    CHROMIUM_ARGS,
    chart,
    charts_present,
    choose,
    chromium,
    click_at,
    click_point,
    dashboard,
    no_exception,
    serving,
    wait_idle,
)

from rbt.data.deap import EEG_CHANNELS


def _open(p, url):
    browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
    page = browser.new_page(viewport={"width": 1440, "height": 1400})
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda f: frames.append(f if isinstance(f, bytes) else f.encode())))
    page.goto(f"{url}/One_trial")
    charts_present(page, 6)
    chart(page, 5).get_by_text("Where Fp1 looks").first.wait_for(timeout=60_000)
    page.wait_for_selector('[data-test-script-state="notRunning"]', state="attached",
                           timeout=120_000)
    page.wait_for_timeout(500)
    return browser, page, frames


def _sent(frames: list[bytes], text: str) -> bool:
    return any(text.encode() in f for f in frames)


def test_a_block_or_method_change_reruns_only_its_own_section(dashboard):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser, page, frames = _open(p, dashboard)
        try:
            assert _sent(frames, "Band differential entropy of this window")  # the first run
            frames.clear()
            choose(page, "Block", "block 2")
            page.get_by_text("Pairs: block 2, mean of heads").first.wait_for(timeout=60_000)
            no_exception(page)
            # the attention section was drawn again, nothing above or beside it
            assert _sent(frames, "Attention between electrodes")
            for other in ("Prediction", "This trial, window by window",
                          "Band differential entropy of this window", "Attributions"):
                assert not _sent(frames, other), other
            frames.clear()
            choose(page, "Method", "saliency")
            page.get_by_text("Saliency:", exact=False).first.wait_for(timeout=60_000)
            assert _sent(frames, "Attributions")
            assert not _sent(frames, "Attention between electrodes")
            assert not _sent(frames, "Prediction")
            assert "method=saliency" in page.url and "block=2" in page.url, page.url
            # a map option redraws the window's maps, not the prediction or the timeline
            frames.clear()
            page.get_by_text("Map options").click()
            page.get_by_test_id("stRadio").filter(has_text="Drawing").get_by_text(
                "markers").click()
            page.wait_for_timeout(500)
            page.wait_for_selector('[data-test-script-state="notRunning"]', state="attached",
                                   timeout=60_000)
            assert _sent(frames, "Band differential entropy of this window")
            assert not _sent(frames, "This trial, window by window")
        finally:
            browser.close()


def _click_cell(page, number: int, row: int, col: int, n: int, want: str) -> None:
    """Click the cell (``row``, ``col``) of the n x n heatmap in the page's chart number
    ``number`` until ``want`` shows (a heatmap has no element per cell: its plot area is
    split into n x n cells)."""
    def cell():
        area = chart(page, number).locator(".nsewdrag").first
        return area, ((col + 0.5) / n, (row + 0.5) / n)

    click_at(page, cell, want, settle_ms=0)


def _click_point(page, number: int, trace: int, point: int, want: str) -> None:
    """Click marker ``point`` of scatter trace ``trace`` in the first subplot of the page's
    chart number ``number`` until ``want`` shows."""
    click_point(page, chart(page, number).locator(".scatterlayer")
                .first.locator(".trace").nth(trace).locator("path.point").nth(point), want)


def test_an_electrode_clicked_on_a_map_or_the_matrix_is_selected(dashboard):  # noqa: F811
    from playwright.sync_api import sync_playwright

    names = list(EEG_CHANNELS)
    with sync_playwright() as p:
        browser, page, _ = _open(p, dashboard)
        try:
            # the charts, in order: probabilities, timeline, BDE maps, attention lines, matrix,
            # the electrode's row, attributions; a topomap's first subplot holds its mask,
            # outline and sensors (trace 2)
            _click_point(page, 2, 2, names.index("F3"), "Where F3 looks")
            assert "electrode=F3" in page.url, page.url
            # a matrix cell: its row is the electrode that looks
            _click_cell(page, 4, names.index("P7"), 5, len(names), "Where P7 looks")
            # an attribution map is outside the attention section: the page reruns for it
            _click_point(page, 6, 2, names.index("O2"), "Where O2 looks")
            assert "electrode=O2" in page.url, page.url
            no_exception(page)
        finally:
            browser.close()


def _title(found) -> str:
    return found.locator(".gtitle").first.text_content()


def test_a_chart_out_of_view_is_drawn_when_it_comes_into_view_with_the_newest_figure(
        dashboard):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{dashboard}/One_trial")
            charts_present(page, 7)
            page.wait_for_selector('[data-test-script-state="notRunning"]', state="attached",
                                   timeout=120_000)
            page.wait_for_timeout(500)
            charts = page.locator("div.rbt-plot")
            # the probabilities are in view and drawn; the attributions, far below, are not
            assert charts.nth(0).locator(".main-svg").count() > 0
            assert charts.nth(6).locator(".main-svg").count() == 0
            assert "window 0" in _title(chart(page, 2))  # the BDE maps, drawn once in view
            slider = page.get_by_test_id("stSlider").get_by_role("slider").first
            slider.scroll_into_view_if_needed()
            slider.focus()
            slider.press("ArrowRight")
            page.get_by_text("Subject s01, trial 1, window 1 (of 0–17)").wait_for(
                timeout=60_000)
            page.wait_for_selector('[data-test-script-state="notRunning"]', state="attached",
                                   timeout=60_000)
            # scrolled to again, the BDE maps show the window chosen while they were away
            bde = chart(page, 2)
            page.wait_for_function("e => e.querySelector('.gtitle').textContent"
                                   ".includes('window 1')", arg=bde.element_handle(),
                                   timeout=20_000)
            # printing draws every chart, the attributions far below too, with that window
            assert charts.nth(6).locator(".main-svg").count() == 0
            page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
            charts.nth(6).locator(".main-svg").first.wait_for(state="attached", timeout=20_000)
            assert "window 1" in _title(charts.nth(6))
            no_exception(page)
        finally:
            browser.close()


@pytest.fixture
def prefetching_dashboard(demo_valence, tmp_path):
    """The dashboard with the next window always prepared ahead, whatever the machine's load."""
    with serving(demo_valence[1], tmp_path, RBT_PREFETCH="on") as url:
        yield url


def _settled_trust_computations(url: str) -> int:
    """How many trust values the server has computed, once that stops growing (work started
    ahead goes on after the run), read from Streamlit's metrics endpoint."""
    def read() -> int:
        with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=10) as r:
            found = re.search(r'cache_compute_duration_seconds_count\{cache="common\.trust",'
                              r'[^}]*trigger="miss"\} (\d+)', r.read().decode())
        return int(found.group(1)) if found else 0

    seen, deadline = [read()], time.monotonic() + 120
    while len(seen) < 4 or len(set(seen[-4:])) > 1:
        assert time.monotonic() < deadline, seen
        time.sleep(0.5)
        seen.append(read())
    return seen[-1]


def test_a_method_change_prepares_the_next_window_for_that_method(prefetching_dashboard):
    # a method change reruns the attribution section alone: it must start the next window's
    # attributions for the new method, so that the next window step finds them ready
    from playwright.sync_api import sync_playwright

    url = prefetching_dashboard
    with sync_playwright() as p:
        browser, page, _ = _open(p, url)
        try:
            before = _settled_trust_computations(url)
            choose(page, "Method", "saliency")
            page.get_by_text("Saliency:", exact=False).first.wait_for(timeout=60_000)
            after_method = _settled_trust_computations(url)
            thumb = page.get_by_test_id("stSlider").filter(
                has=page.get_by_text("Window", exact=True)).get_by_role("slider").first
            thumb.focus()
            thumb.press("ArrowRight")
            wait_idle(page)
            no_exception(page)
            after_step = _settled_trust_computations(url)
        finally:
            browser.close()
    assert after_method - before == 2  # saliency for this window and the next one
    assert after_step - after_method == 1  # the next one found ready; the one after it ahead
