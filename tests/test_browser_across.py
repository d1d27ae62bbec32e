"""The Across trials table in a real browser (Playwright, Debian's Chromium, `streamlit run`):
clicking a row opens that window on One trial. AppTest cannot click a dataframe row, so this
is where the jump itself is checked; and a long group attribution can be stopped."""

from __future__ import annotations

import test_browser
from test_browser import CHROMIUM_ARGS, choose, chromium, no_exception, wait_idle

dashboard = test_browser.dashboard  # the fixture: `streamlit run` on the shared demo cache
ROW, MARKER = 35, 15  # the grid's row height and the row-marker column's middle (pixels)


def _across_trials(browser, url: str):
    """A new page on Across trials, its table drawn and the app idle."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/Across_trials")
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=180_000)
    wait_idle(page, 180_000)
    return page


def test_clicking_a_wrong_window_in_the_table_opens_it_on_one_trial(dashboard):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = _across_trials(browser, dashboard)
            page.get_by_text("wrong", exact=True).click()
            wait_idle(page)
            caption = page.get_by_text("wrong windows of 1440", exact=False)
            assert caption.count() == 1
            box = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
            # the third row (below the header), clicked on its selection box
            page.mouse.click(box["x"] + MARKER, box["y"] + ROW * 3 + ROW // 2)
            page.wait_for_url("**/One_trial?**", timeout=60_000)
            wait_idle(page, 120_000)
            no_exception(page)
            url = page.url
            assert "subject=" in url and "trial=" in url and "window=" in url
            # the window opened is a wrong one, as every row of the filtered table
            assert page.get_by_text("Wrong", exact=True).count() >= 1
        finally:
            browser.close()


def test_a_long_group_attribution_shows_progress_and_can_be_stopped(dashboard):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = _across_trials(browser, dashboard)
            page.get_by_test_id("stRadio").filter(has_text="Map").get_by_text(
                "attribution", exact=True).click()
            wait_idle(page)
            choose(page, "Method", "integrated gradients")
            page.get_by_text("All windows", exact=True).click()
            wait_idle(page)
            page.get_by_role("button", name="Compute integrated gradients for 1440 windows"
                             ).click()
            # the page's Stop, not Streamlit's own in the header (shown while a run goes on)
            main = page.get_by_test_id("stMainBlockContainer")
            stop = main.get_by_role("button", name="Stop")
            stop.wait_for(timeout=60_000)
            page.get_by_text("s left", exact=False).first.wait_for(timeout=60_000)
            stop.click()
            wait_idle(page, 60_000)
            no_exception(page)
            # stopped: nothing drawn, the Compute button back for another try
            assert main.get_by_role("button", name="Stop").count() == 0
            assert page.get_by_role("button", name="Compute integrated gradients for 1440 "
                                    "windows").count() == 1
            assert page.get_by_text("Mean attribution", exact=False).count() == 0
        finally:
            browser.close()


def _shown(page, label: str) -> str:
    """The value a select box labelled ``label`` shows in the browser."""
    box = page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True))
    return box.first.get_by_role("combobox").input_value().strip()


def _checked(page, label: str) -> str:
    radio = page.get_by_test_id("stRadio").filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True))
    return radio.first.locator("label").filter(
        has=page.get_by_role("radio", checked=True)).inner_text().strip()


def test_the_group_boxes_show_the_groups_drawn_after_a_regrouping_and_going_back(dashboard):
    """The browser shows what the page uses: after another grouping both group boxes name
    groups of it (a kept choice that is no longer an option is replaced, not deleted, which
    left the old one shown), and Back returns the grouping's radio with the rest."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = _across_trials(browser, dashboard)
            assert (_shown(page, "Group A"), _shown(page, "Group B")) == ("high", "low")
            page.get_by_test_id("stRadio").filter(has_text="Group by").get_by_text(
                "subject", exact=True).click()
            wait_idle(page)
            no_exception(page)
            assert (_shown(page, "Group A"), _shown(page, "Group B")) == ("s01", "s02")
            assert "group_a=s01&group_b=s02" in page.url  # what the maps are drawn for
            page.go_back()
            wait_idle(page)
            assert _checked(page, "Group by") == "class (true)"
            assert (_shown(page, "Group A"), _shown(page, "Group B")) == ("high", "low")
        finally:
            browser.close()
