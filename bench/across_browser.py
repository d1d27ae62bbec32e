"""Across trials on a full-size DEAP in a real browser (Playwright, Debian's Chromium,
``streamlit run``): what a person waits for, websocket and redraw included.

    OMP_NUM_THREADS=1 python bench/across_browser.py --folder DIR [--cache DIR]

``DIR`` holds the DEAP files that ``bench/app_fullsize.py --folder DIR`` wrote, with their
features cached in ``--cache`` (default: ``DIR/../rbt-cache``, where that bench keeps them).
Times, each with ``uptime`` load: One trial's first chart (server cold: imports and the load
from the cache), then from a click on Across trials: its table of every window (the
predictions filling in), every window predicted (the progress bar gone: the one pass, started
at the load), the attention means, and another grouping from the same pass.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"Across trials table": 5.0, "attention means": 10.0, "another grouping": 1.0}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from test_browser import CHROMIUM_ARGS, chromium, free_port, stop_server, wait_until_healthy

    cache = args.cache or args.folder.resolve().parent / "rbt-cache"
    port = free_port()
    env = {**os.environ, "RBT_CACHE_DIR": str(cache),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    log_path = cache.parent / "across_browser.log"
    figures: dict[str, float] = {}

    def note(name: str, start: float) -> None:
        figures[name] = time.perf_counter() - start
        target = TARGETS.get(name)
        verdict = "" if target is None else (
            f" (target <= {target:g} s: {'met' if figures[name] <= target else 'MISSED'})")
        print(f"{name}: {figures[name]:.2f} s{verdict}  load {load()}", flush=True)

    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/Home.py", "--server.port",
             str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, proc, log_path)
            from playwright.sync_api import sync_playwright

            idle = '[data-test-script-state="notRunning"]'
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                t = time.perf_counter()
                page.goto(f"{url}/One_trial?source=deap&path={args.folder.resolve()}")
                page.wait_for_selector(".js-plotly-plot", timeout=300_000)
                note("One trial first chart (server cold)", t)
                page.wait_for_selector(idle, state="attached", timeout=300_000)
                t = time.perf_counter()
                page.get_by_role("link", name="Across trials").first.click()
                page.wait_for_selector('[data-testid="stDataFrame"]', timeout=300_000)
                note("Across trials table", t)
                page.wait_for_selector('[data-testid="stProgress"]', state="detached",
                                       timeout=900_000)
                page.wait_for_selector(idle, state="attached", timeout=300_000)
                note("every window predicted, after the table's click", t)
                t = time.perf_counter()
                page.get_by_test_id("stRadio").filter(has_text="Map").get_by_text(
                    "attention", exact=True).click()
                page.get_by_text("Attention each electrode receives", exact=False).first \
                    .wait_for(timeout=300_000)
                note("attention means", t)
                page.wait_for_selector(idle, state="attached", timeout=300_000)
                page.wait_for_timeout(500)
                t = time.perf_counter()
                page.get_by_test_id("stRadio").filter(has_text="Group by").get_by_text(
                    "subject", exact=True).click()
                page.get_by_text("Attention matrix: s01", exact=False).first.wait_for(
                    timeout=120_000)
                note("another grouping", t)
                browser.close()
        finally:
            stop_server(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
