"""The dashboard in a real browser: Playwright drives Debian's Chromium against `streamlit run`.

It opens the One trial page, waits for the Plotly charts, switches trial, block, head and
attribution method, visits the other pages, and checks that no exception element appears.
Screenshots go to tests/artifacts/; the trial view also to assets/screenshot-trial-view.png,
which the README shows, when that file is missing or RBT_UPDATE_SCREENSHOT=1 (so a test run does
not rewrite a tracked file). Skips only when Chromium is missing and cannot be installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
README_SHOT = ROOT / "assets" / "screenshot-trial-view.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
EXCEPTION = '[data-testid="stException"]'
# a chart's element (app/plot_element.py); Plotly draws into it once it is in or near the view
CHARTS = "div.rbt-plot"


def chromium() -> str:
    """Debian's Chromium, installed with apt-get when it is missing; else skip, saying why."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    why = "apt-get is not available"
    if shutil.which("apt-get"):
        try:
            for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
                subprocess.run(cmd, check=True, capture_output=True, timeout=600,
                               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except (subprocess.SubprocessError, OSError) as err:
            why = f"`apt-get install -y chromium` failed ({err})"
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip(f"Chromium is not installed and could not be installed: {why}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate a server, killing it if it does not exit within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_until_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    """Wait for a Streamlit server's health check; fail with its log if it dies or is late."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("streamlit did not start:\n" + Path(log).read_text()[-3000:])
        time.sleep(0.3)


@contextlib.contextmanager
def serving(cache: Path, log_dir: Path, **env: str):
    """`streamlit run app/Home.py` on a free localhost port and on ``cache``, with ``env``
    added to the environment; yields its URL."""
    env = {**os.environ, "RBT_CACHE_DIR": str(cache), **env}
    env.pop("RBT_DEMO_CHECKPOINT", None)
    port = free_port()
    log = open(log_dir / "streamlit.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/Home.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, log_dir / "streamlit.log")
        yield url
    finally:
        stop_server(proc)
        log.close()


@pytest.fixture
def dashboard(demo_valence, tmp_path):
    """The dashboard served on the shared demo cache."""
    with serving(demo_valence[1], tmp_path) as url:
        yield url


# every chart in view is drawn (one out of view is drawn when it comes near)
IN_VIEW_DRAWN = f"""() => [...document.querySelectorAll('{CHARTS}')].every(d => {{
  const r = d.getBoundingClientRect();
  return r.bottom < 0 || r.top > window.innerHeight || d.querySelector('.main-svg');
}})"""


def charts_present(page, n: int, timeout_ms: int = 120_000) -> None:
    """Until the page has at least ``n`` chart elements and has drawn those in view."""
    page.wait_for_function(
        f"() => document.querySelectorAll('{CHARTS}').length >= {n} && ({IN_VIEW_DRAWN})()",
        timeout=timeout_ms)


def chart(page, n: int):
    """The page's chart number ``n``, scrolled into view and drawn."""
    found = page.locator(CHARTS).nth(n)
    found.scroll_into_view_if_needed()
    found.locator(".main-svg").first.wait_for(timeout=60_000)
    return found


def draw_all(page) -> None:
    """Grow the viewport to the whole page, so that every chart is in view, until every chart
    is drawn (a chart out of view waits to be drawn until it comes near)."""
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": int(height) + 120})
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{CHARTS}')].every("
        "d => d.querySelector('.main-svg'))", timeout=60_000)
    page.wait_for_timeout(500)


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Until Streamlit has finished the rerun the last action started."""
    page.wait_for_timeout(250)
    page.wait_for_selector('[data-test-script-state="notRunning"]', state="attached",
                           timeout=timeout_ms)
    page.wait_for_timeout(250)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    box = page.get_by_test_id("stSelectbox").filter(
        has=page.get_by_text(label, exact=True)).first
    field = box.get_by_role("combobox")
    field.click()
    page.wait_for_timeout(200)
    if not page.get_by_role("option").count():  # a click does not always open the list
        field.press("ArrowDown")
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def click_at(page, where, want: str, tries: int = 3, settle_ms: int = 800) -> None:
    """Click the spot ``where()`` gives, ``(element, (fx, fy))``: the point at fractions
    ``fx, fy`` of the element's box, until the text ``want`` shows. After a rerun the chart is
    drawn again, so the element is found afresh each time, and a click that landed while it
    was being redrawn is tried again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        page.wait_for_timeout(settle_ms)
        element, (fx, fy) = where()
        element.scroll_into_view_if_needed()  # Streamlit scrolls inside its main panel
        page.wait_for_timeout(300)
        box = element.bounding_box()
        x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
        page.mouse.move(x - 6, y)
        page.mouse.move(x, y, steps=3)  # Plotly clicks what it hovers
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        try:
            page.get_by_text(want).first.wait_for(timeout=20_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def click_point(page, point, want: str, tries: int = 3) -> None:
    """Click the Plotly marker ``point`` (a locator of its ``path.point``) until the text
    ``want`` shows."""
    click_at(page, lambda: (point, (0.5, 0.5)), want, tries)


def screenshot(page, *paths: Path, max_height: int = 8000) -> None:
    """The whole page: Streamlit scrolls inside its own container, so grow the viewport to the
    content's height for the shot."""
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 120, max_height)})
    page.wait_for_timeout(1500)  # Plotly redraws at the new size
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
    page.set_viewport_size(size)


def labels_inside(page) -> None:
    """Every chart's text (titles, tick labels, colour-bar labels) lies inside its chart: a
    chart redrawn with new data keeps room for its labels."""
    clipped = page.evaluate("""() => {
      const out = [];
      for (const gd of document.querySelectorAll('.js-plotly-plot')) {
        const svg = gd.querySelector('.main-svg');
        if (!svg) continue;
        const box = svg.getBoundingClientRect();
        for (const t of gd.querySelectorAll('.main-svg text')) {
          const r = t.getBoundingClientRect();
          if (!t.textContent.trim() || r.width === 0) continue;
          if (r.left < box.left - 2 || r.right > box.right + 2 || r.top < box.top - 2
              || r.bottom > box.bottom + 2) out.push(t.textContent);
        }
      }
      return out;
    }""")
    assert not clipped, f"chart text outside its chart: {clipped[:10]}"


def no_exception(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


def test_dashboard_in_chromium(dashboard):
    from playwright.sync_api import sync_playwright

    exe = chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(dashboard)
            page.get_by_text("RBTransformer: what the model looks at").wait_for(timeout=120_000)
            wait_idle(page)
            no_exception(page)
            assert page.get_by_text("synthetic", exact=False).count() > 0
            screenshot(page, ARTIFACTS / "home.png")

            page.goto(f"{dashboard}/One_trial")
            charts_present(page, 6)
            wait_idle(page)
            no_exception(page)
            assert page.get_by_text("Subject s01, trial 1, window 0 (of 0–17)").count() == 1

            choose(page, "Trial", "trial 5")
            page.get_by_text("Subject s01, trial 5, window 0 (of 0–17)").wait_for(timeout=60_000)
            choose(page, "Block", "block 2")
            choose(page, "Head", "head 3")
            page.get_by_text("Pairs: block 2, head 3").first.wait_for(timeout=60_000)
            choose(page, "Method", "occlusion")
            page.get_by_text("Occlusion:", exact=False).first.wait_for(timeout=60_000)
            choose(page, "Method", "integrated gradients")
            page.get_by_text("Integrated gradients:", exact=False).first.wait_for(timeout=60_000)
            no_exception(page)
            size = page.viewport_size
            draw_all(page)
            labels_inside(page)  # every chart above was drawn, then updated in place
            assert page.locator(".js-plotly-plot").count() >= 6
            page.set_viewport_size(size)
            update = not README_SHOT.exists() or os.environ.get("RBT_UPDATE_SCREENSHOT") == "1"
            screenshot(page, ARTIFACTS / "trial.png", *([README_SHOT] if update else []))

            for name, marker in (("Across_trials", "Predictions per window"),
                                 ("Learn", "1 · Raw EEG")):
                page.goto(f"{dashboard}/{name}")
                page.get_by_text(marker).first.wait_for(timeout=120_000)
                charts = 1 if name == "Learn" else 3  # the lesson shows one step at a time
                charts_present(page, charts)
                wait_idle(page)
                no_exception(page)
                screenshot(page, ARTIFACTS / f"{name.lower()}.png")
        finally:
            browser.close()


# records whether Streamlit's status widget (the running indicator, with its Stop button)
# ever appeared: a run can end before a test looks for it
SEEN_RUNNING = """
window.__running = {shown: false, stop: false};
new MutationObserver(() => {
  const w = document.querySelector('[data-testid="stStatusWidget"]');
  if (w) {
    window.__running.shown = true;
    if (/stop/i.test(w.innerText)) window.__running.stop = true;
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def charts_drawn(page, n: int = 6) -> None:
    charts_present(page, n)
    wait_idle(page)
    no_exception(page)


def test_the_view_lives_in_the_url_and_survives_a_reload(dashboard):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            # the page icon and everything else come from the server itself (the charts' code
            # is a blob the page makes from what the server sent)
            away = []
            page.on("request", lambda r: None if r.url.startswith(
                (dashboard, "data:", f"blob:{dashboard}")) else away.append(r.url))
            page.add_init_script(SEEN_RUNNING)
            page.goto(f"{dashboard}/One_trial?subject=s02&trial=3&window=5&block=2"
                      "&method=saliency")
            charts_drawn(page)
            # the first run loads the model and the data: it showed "Running…" and Stop
            assert page.evaluate("() => window.__running") == {"shown": True, "stop": True}
            assert page.get_by_text("Subject s02, trial 3, window 5 (of 0–17)").count() == 1
            chart(page, 3).get_by_text("Pairs: block 2, mean of heads").wait_for(timeout=20_000)
            choose(page, "Trial", "trial 4")
            page.get_by_text("Subject s02, trial 4, window 5 (of 0–17)").wait_for(timeout=60_000)
            assert "subject=s02" in page.url and "trial=4" in page.url, page.url
            assert "method=saliency" in page.url and "block=2" in page.url, page.url
            page.reload()
            charts_drawn(page)
            assert page.get_by_text("Subject s02, trial 4, window 5 (of 0–17)").count() == 1
            chart(page, 3).get_by_text("Pairs: block 2, mean of heads").wait_for(timeout=20_000)
            assert page.get_by_text("Saliency:", exact=False).count() >= 1
            # each change is one entry of the browser's history, and Back undoes it
            entries = page.evaluate("history.length")
            choose(page, "Trial", "trial 6")
            page.get_by_text("Subject s02, trial 6, window 5 (of 0–17)").wait_for(timeout=60_000)
            choose(page, "Block", "block 1")  # a section that reruns alone
            page.get_by_text("Pairs: block 1, mean of heads").first.wait_for(timeout=60_000)
            assert page.evaluate("history.length") == entries + 2
            page.go_back()
            page.get_by_text("Pairs: block 2, mean of heads").first.wait_for(timeout=60_000)
            assert page.get_by_text("Subject s02, trial 6, window 5 (of 0–17)").count() == 1
            assert "block=2" in page.url and "trial=6" in page.url, page.url
            page.go_back()
            page.get_by_text("Subject s02, trial 4, window 5 (of 0–17)").wait_for(timeout=60_000)
            assert "trial=4" in page.url, page.url
            page.go_forward()
            page.get_by_text("Subject s02, trial 6, window 5 (of 0–17)").wait_for(timeout=60_000)
            no_exception(page)
            assert not away, away
        finally:
            browser.close()


def test_an_upload_survives_a_page_change(dashboard, tmp_path):
    import formats as F
    from playwright.sync_api import sync_playwright

    from rbt.data.deap import EEG_CHANNELS

    raw = F.make_raw(EEG_CHANNELS, seconds=40,
                     annotations=[(1, 12, "calm"), (16, 12, "tense"), (30, 8, "calm")])
    recording = F.save_fif(raw, tmp_path / "kept_raw.fif")
    second = F.save_fif(raw, tmp_path / "second_raw.fif")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS,
                                    headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{dashboard}/One_trial")
            charts_drawn(page)
            choose(page, "Source", "EEG recording (EDF, BDF, FIF, BrainVision, EEGLAB, ...)")
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(recording))
            page.get_by_text("are not the model", exact=False).first.wait_for(timeout=120_000)
            charts_drawn(page)
            nav = page.get_by_test_id("stSidebarNav")

            def via_the_lesson() -> None:  # a page without the uploader, then One trial again
                nav.get_by_text("Learn", exact=True).click()
                wait_idle(page)
                nav.get_by_text("One trial", exact=True).click()
                page.get_by_text("uploaded earlier in this session", exact=False).wait_for(
                    timeout=60_000)

            for name, marker in (("Across trials", "Predictions per window"),
                                 ("One trial", "Attention between electrodes")):
                nav.get_by_text(name, exact=True).click()
                page.get_by_text(marker).first.wait_for(timeout=120_000)
                charts_drawn(page, 3)
                sidebar = page.get_by_test_id("stSidebar")
                assert sidebar.get_by_text("kept_raw.fif").count() == 1  # still uploaded
                assert page.get_by_text("Choose the data in the sidebar").count() == 0
                assert "source=raw" in page.url and "kept_raw" not in page.url, page.url
            # a second recording dropped on the uploader replaces the first
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(second))
            page.get_by_text("In use: second_raw.fif").wait_for(timeout=60_000)
            charts_drawn(page)
            assert page.get_by_text("expected one EEG recording", exact=False).count() == 0
            # the lesson (no data choices) and another source leave the upload in use
            via_the_lesson()
            assert sidebar.get_by_text("In use: second_raw.fif", exact=False).count() == 1
            charts_drawn(page)
            choose(page, "Source", "Demo data (synthetic)")
            choose(page, "Source", "EEG recording (EDF, BDF, FIF, BrainVision, EEGLAB, ...)")
            page.get_by_text("uploaded earlier in this session", exact=False).wait_for(
                timeout=60_000)
            charts_drawn(page)
            assert page.get_by_text("another session", exact=False).count() == 0
            # a file that is not a recording, then a recording: the recording is used
            bad = tmp_path / "notes.edf"
            bad.write_text("meeting notes, not an EDF file\n")
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(bad))
            page.get_by_text("Upload refused: notes.edf", exact=False).wait_for(timeout=60_000)
            assert page.get_by_text("another session", exact=False).count() == 0
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(recording))
            page.get_by_text("In use: kept_raw.fif").wait_for(timeout=60_000)
            charts_drawn(page)
            assert page.get_by_text("Upload refused", exact=False).count() == 0
            # removed after the uploader came back empty: nothing is loaded, and the page
            # says what to do
            via_the_lesson()
            sidebar.get_by_text("Remove the upload").click()
            page.get_by_text("Choose the data in the sidebar", exact=False).wait_for(
                timeout=60_000)
            assert sidebar.get_by_text("In use:", exact=False).count() == 0
            no_exception(page)
        finally:
            browser.close()
