"""Two browser sessions on one served dashboard (Playwright + Debian's Chromium, as in
tests/test_browser.py): one uploads a recording, the other can neither see nor load it; a path
outside the data roots is refused without saying whether it exists; names from the file show
as text (no image is fetched, no link made); the upload is deleted when its session ends.

The server runs as an operator would serve a class, with a data root (RBT_DATA_ROOTS), but on
127.0.0.1 so that the test does not expose anything; it ends disconnected sessions after 2 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import formats as F
import pytest
from test_browser import (
    CHROMIUM_ARGS,
    ROOT,
    charts_present,
    choose,
    chromium,
    free_port,
    no_exception,
    stop_server,
    wait_idle,
    wait_until_healthy,
)

from rbt.data.deap import EEG_CHANNELS

IMAGE = "![x](http://attacker.example/p.png)"
LINK = "[click](http://attacker.example/)"
REFUSED = "not one this dashboard may read"
RAW_LABEL = "EEG recording (EDF, BDF, FIF, BrainVision, EEGLAB, ...)"


@pytest.fixture
def served(demo_valence, tmp_path):
    """`streamlit run` with a data root and a private uploads parent; yields (url, paths)."""
    _, cache = demo_valence
    root, uploads = tmp_path / "data-root", tmp_path / "uploads"
    F.deap_folder(root / "data_preprocessed_python", subjects=(1,), n_trials=2)
    port = free_port()
    env = {**os.environ, "RBT_CACHE_DIR": str(cache), "RBT_DATA_ROOTS": str(root),
           "RBT_UPLOAD_DIR": str(uploads)}
    env.pop("RBT_DEMO_CHECKPOINT", None)
    log_path = tmp_path / "streamlit.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/Home.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--server.disconnectedSessionTTL", "2"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, log_path)
        yield url, {"root": root, "uploads": uploads, "tmp": tmp_path}
    finally:
        stop_server(proc)
        log.close()


def session_files(uploads: Path) -> list[Path]:
    return sorted(p for p in uploads.rglob("*") if p.is_file())


def type_path(page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Enter")
    wait_idle(page)


def sidebar_errors(page) -> list[str]:
    return page.locator('[data-testid="stSidebar"] [data-testid="stAlert"]').all_inner_texts()


def test_two_sessions_keep_their_uploads_and_paths_apart(served):
    from playwright.sync_api import sync_playwright

    url, where = served
    recording = F.save_fif(F.make_raw(EEG_CHANNELS, seconds=40,
                                      annotations=[(1, 12, IMAGE), (16, 12, LINK),
                                                   (30, 8, IMAGE)]),
                           where["tmp"] / "class_raw.fif")
    secret = where["tmp"] / "private"
    secret.mkdir()
    (secret / "s01.dat").write_bytes(b"\x80\x02not yours")
    exe = chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            fetched = []
            contexts = [browser.new_context(viewport={"width": 1440, "height": 900})
                        for _ in range(2)]
            for c in contexts:
                c.on("request", lambda r: fetched.append(r.url)
                     if "attacker.example" in r.url else None)
            a, b = (c.new_page() for c in contexts)
            for page in (a, b):
                page.goto(f"{url}/One_trial")
                charts_present(page, 6)
                wait_idle(page)
                choose(page, "Source", RAW_LABEL)

            # A uploads a recording whose annotations are Markdown
            a.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(recording))
            a.get_by_text("are not the model", exact=False).first.wait_for(timeout=120_000)
            charts_present(a, 6)
            wait_idle(a)
            no_exception(a)
            [kept] = session_files(where["uploads"])
            assert kept.name == "class_raw.fif"
            # shown as text (a word joiner keeps GFM from linking the bare URL)
            text = a.get_by_text("are not the model", exact=False).first.inner_text()
            assert IMAGE in text.replace("\u2060", "") and LINK in text.replace("\u2060", "")
            assert a.locator('img[src*="attacker"], a[href*="attacker"]').count() == 0
            assert str(kept.parent) not in a.content()

            # B sees nothing of it and cannot load it by path
            assert "class_raw.fif" not in b.content() and str(kept.parent) not in b.content()
            b.get_by_text("Path on this machine").click()
            wait_idle(b)
            seen = {}
            for path in (kept, kept.parent, secret / "s01.dat", secret / "missing.dat"):
                type_path(b, "Path to a recording or a folder of them", str(path))
                no_exception(b)
                seen[path] = sidebar_errors(b)
            assert all(REFUSED in " ".join(v) for v in seen.values()), seen
            assert len({tuple(v) for v in seen.values()}) == 1, seen  # no existence oracle
            choose(b, "Source", "DEAP folder (data_preprocessed_python/)")
            type_path(b, "Path to data_preprocessed_python/", str(secret / "s01.dat"))
            assert sidebar_errors(b) == seen[kept]
            type_path(b, "Path to data_preprocessed_python/",
                      str(where["root"] / "data_preprocessed_python"))
            b.get_by_text("Subject s01, trial 1, window 0 (of", exact=False).wait_for(
                timeout=120_000)
            no_exception(b)
            assert not fetched, fetched  # no browser fetched the injected image

            # A's session ends: Streamlit lets it go 2 s after the disconnect, and the next run
            # of any session deletes its upload (whatever still refers to its state)
            contexts[0].close()
            time.sleep(3)
            deadline = time.monotonic() + 60
            while session_files(where["uploads"]) and time.monotonic() < deadline:
                extra = browser.new_context()  # a session that comes and goes
                extra.new_page().goto(url)
                time.sleep(1)
                extra.close()
                time.sleep(1)
            assert not session_files(where["uploads"])
        finally:
            browser.close()
