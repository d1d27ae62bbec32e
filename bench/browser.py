"""What a dashboard user waits for, in a real browser: Playwright drives Debian's Chromium.

Starts ``python -m streamlit run app/Home.py`` on a localhost port (features cached in a
folder of its own, filled by a first start, or ``--cache DIR``), then on the One trial page
times each kind of interaction from the user's input (pointer down on the option, key down on
the slider) until the app has stopped running and every chart has redrawn, and counts the
websocket bytes the browser received for it. Also times a server start with the features
cached (process start to the first drawn chart of One trial) and a new tab on the running
server (to its first chart), and optionally ``--sessions K`` concurrent browser sessions.
The window is 1440 x 900 px (``--height``): a chart out of view is drawn when it comes near
(app/plot_element.py), so a taller window, up to the whole page, times more charts' redraws.

    OMP_NUM_THREADS=1 python bench/browser.py [--rounds 20] [--sessions 10] [--port 8600]

Prints one table (kind, n, median and p90 ms, median KB received, the issue's target, the
server process's CPU time per interaction) and the machine's load at the start and the end:
on a busy machine the figures are upper bounds.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
CHART = ".js-plotly-plot"
QUIET_MS = 100
LIGHT, HEAVY = 300, 1000
# kind: (widget type, widget label, target ms); the order is the order of one round, so every
# method and baseline switch comes after a window, trial or subject change: computed anew
KINDS = {
    "window step": ("slider", "Window", LIGHT),
    "block": ("select", "Block", LIGHT),
    "head": ("select", "Head", LIGHT),
    "electrode": ("select", "Electrode", LIGHT),
    "line mode": ("radio", "Lines", LIGHT),
    "map mode": ("radio", "Drawing", LIGHT),
    "colour scale": ("radio", "Colour scale", LIGHT),
    "trial": ("select", "Trial", HEAVY),
    "subject": ("select", "Subject", HEAVY),
    "method": ("select", "Method", HEAVY),
    "baseline": ("select", "Baseline", HEAVY),
}
SESSION_KINDS = ("subject", "trial", "block", "method")

# Injected before the app's own scripts. "Done" is measured in the page, on its own clock:
# - the user's input time: the last pointerdown or keydown (captured, before the app sees it);
# - running: Streamlit's script state attribute says "running" or its status widget is shown;
# - redrawn: the last DOM mutation anywhere. Plotly draws into SVG nodes, so a redraw is a run
#   of mutations; the page counts as drawn once nothing has changed for QUIET_MS after the run
#   ended, and the time reported is that of the last mutation (not of noticing the quiet).
#   This covers charts that are replaced (new nodes, which a plotly_afterplot listener bound
#   to the old node would miss) as well as Plotly.react updates, and the rest of the page.
# - answered: the last message the page's websocket received. A fragment's run can be so short
#   that its "running" state is never drawn (the status arrives with the run's end in one go):
#   such an interaction is done once the server has answered and the page is quiet, and the
#   run's end is its last message.
PROBE = """
(() => {
  const r = window.__rbt = {input: 0, mut: 0, runStart: 0, runEnd: 0, busy: false, frame: 0};
  const Socket = window.WebSocket;
  window.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { r.frame = performance.now(); });
    }
  };
  const mark = () => { r.input = performance.now(); };
  document.addEventListener('pointerdown', mark, true);
  document.addEventListener('keydown', mark, true);
  const busyNow = () => {
    const s = document.querySelector('[data-test-script-state]');
    return (s && s.getAttribute('data-test-script-state') === 'running')
      || !!document.querySelector('[data-testid="stStatusWidget"]');
  };
  new MutationObserver(() => {
    const now = performance.now();
    r.mut = now;
    const busy = busyNow();
    if (busy && !r.busy) r.runStart = now;
    if (!busy && r.busy) r.runEnd = now;
    r.busy = busy;
  }).observe(document, {subtree: true, childList: true, attributes: true,
                        characterData: true});
})();
"""
DONE = f"""(since) => {{
  const r = window.__rbt, now = performance.now();
  const ran = r.runStart > since && r.runEnd >= r.runStart;
  const answered = r.frame > Math.max(since, r.input);
  return (ran || answered) && !r.busy
    && now - r.mut > {QUIET_MS} && now - r.frame > {QUIET_MS}
    && document.querySelectorAll('{CHART} .main-svg').length > 0;
}}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_text() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Server:
    """``streamlit run app/Home.py`` in a process of its own; ``started`` is its start time."""

    def __init__(self, root: Path, port: int, cache: Path, log: Path):
        # the rbt beside the app, not whichever one is installed (an editable install of
        # another checkout is on the meta path, after PYTHONPATH)
        env = {**os.environ, "RBT_CACHE_DIR": str(cache),
               "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        env.pop("RBT_DEMO_CHECKPOINT", None)
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(log, "w")  # noqa: SIM115 (closed in stop)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/Home.py", "--server.port",
             str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("streamlit did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class Tab:
    """One browser tab with the probe, counting the websocket bytes it receives."""

    def __init__(self, context):
        self.page = context.new_page()
        self.received = 0
        self.page.add_init_script(PROBE)
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        self.received += len(payload)

    def first_chart(self, url: str, timeout_ms: int = 180_000) -> None:
        self.page.goto(url)
        self.page.wait_for_selector(f"{CHART} .main-svg", timeout=timeout_ms)

    def settle(self, timeout_ms: int = 180_000) -> None:
        """Until the page is idle and quiet (after a load, before timing anything)."""
        self.page.wait_for_function(DONE, arg=-1, timeout=timeout_ms)

    def open_one_trial(self, base: str) -> str:
        """Follow the navigation link to One trial (its address may change); its URL."""
        self.page.goto(base)
        link = self.page.get_by_role("link", name="One trial").first
        link.wait_for(timeout=180_000)
        link.click()
        self.page.wait_for_selector(f"{CHART} .main-svg", timeout=180_000)
        self.settle()
        return self.page.url.split("?")[0]


def widget(page, kind: str):
    """The widget for ``kind`` by its Streamlit test id and label, opening an expander that
    hides it; None when the page does not have it."""
    wtype, label, _ = KINDS[kind]
    testid = {"slider": "stSlider", "select": "stSelectbox", "radio": "stRadio"}[wtype]
    found = page.get_by_test_id(testid).filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True))
    if not found.count():
        return None
    box = found.first
    if not box.is_visible():
        holder = page.get_by_test_id("stExpander").filter(has=box)
        if holder.count():
            holder.first.locator("summary").click()
            page.wait_for_timeout(300)
    return box


def act(page, kind: str, box, r: int) -> str | None:
    """Change ``kind``'s widget to another value; a reason when it cannot be changed."""
    wtype = KINDS[kind][0]
    if wtype == "slider":
        thumb = box.get_by_role("slider")
        if not thumb.count():
            return "no slider thumb"
        thumb = thumb.first
        if thumb.is_disabled() or thumb.get_attribute("aria-disabled") == "true":
            return "slider disabled"
        # an <input type=range> (react-aria) or an ARIA slider (older Streamlit)
        at, top = thumb.evaluate(
            "e => [Number(e.value || e.getAttribute('aria-valuenow')),"
            " Number(e.max || e.getAttribute('aria-valuemax'))]")
        thumb.focus()
        thumb.press("ArrowRight" if at < top else "Home")
        return None
    if wtype == "radio":
        choices = box.locator("label").filter(has=page.get_by_role("radio", checked=False))
        if not choices.count():
            return "no other radio option"
        choices.first.click()
        return None
    field = box.get_by_role("combobox")
    if field.is_disabled():
        return "selectbox disabled"
    field.click()
    page.wait_for_timeout(150)
    options = page.get_by_role("option")
    if not options.count():  # a click does not always open the list
        field.press("ArrowDown")
        page.wait_for_timeout(150)
    others = [o for o in options.all() if o.get_attribute("aria-selected") != "true"]
    if not others:
        page.keyboard.press("Escape")
        return "no other option"
    others[r % len(others)].click()
    # in a long list (electrodes) a click can miss while the list scrolls the option into view;
    # the list then stays open over the page, hiding every other widget from the next steps
    try:
        field.wait_for(timeout=1000)
        page.wait_for_function("e => e.getAttribute('aria-expanded') !== 'true'",
                               arg=field.element_handle(), timeout=1000)
    except Exception:  # noqa: BLE001 (still open: close it, skip this one)
        page.keyboard.press("Escape")
        return MISSED
    return None


# the bench's own input that did not reach the app (not the app's error)
MISSED = "the option's click did not land (the list stayed open)"


def timed(tab: Tab, kind: str, r: int, timeout_ms: int = 120_000):
    """(ms from the input to drawn, KB received, ms from the input to the run's end) for one
    interaction, or a reason string."""
    page = tab.page
    box = widget(page, kind)
    if box is None:
        return f"no {KINDS[kind][0]} labelled {KINDS[kind][1]!r} on the page"
    since = page.evaluate("performance.now()")
    tab.received = 0
    why = act(page, kind, box, r)
    if why:
        return why
    page.mouse.move(2, 2)  # away from the charts: a hover label is a DOM mutation too
    try:
        page.wait_for_function(DONE, arg=since, timeout=timeout_ms)
    except Exception:  # noqa: BLE001 (a timeout or a closed page: say so, keep going)
        return f"not done within {timeout_ms / 1000:.0f} s ({stuck(page, since)})"
    # the run's end: where its running state was never drawn, the server's last message
    t = page.evaluate("(s => { const r = window.__rbt;"
                      " const end = r.runStart > s ? r.runEnd : r.frame;"
                      " return [r.input, Math.max(r.mut, end), end]; })", since)
    if page.get_by_test_id("stException").count():
        return "exception on the page"
    return t[1] - t[0], tab.received / 1024, t[2] - t[0]


def stuck(page, since: float) -> str:
    """What the probe saw of an interaction that never counted as done: did the input land,
    did a run start, is one still going, how long since the page last changed; a screenshot
    is kept in $RBT_BENCH_SHOTS (a folder) where that is set."""
    try:
        r = page.evaluate("window.__rbt")
        now = page.evaluate("performance.now()")
    except Exception as err:  # noqa: BLE001 (a closed page)
        return f"page gone: {type(err).__name__}"
    seen = [f"input {'seen' if r['input'] > since else 'not seen'}",
            f"run {'started' if r['runStart'] > since else 'never started'}",
            f"server {'answered' if r['frame'] > since else 'never answered'}",
            "still running" if r["busy"] else "not running",
            f"last change {(now - r['mut']) / 1000:.1f} s ago"]
    shots = os.environ.get("RBT_BENCH_SHOTS")
    if shots:
        path = Path(shots) / f"stuck-{time.strftime('%H%M%S')}.png"
        page.screenshot(path=str(path), full_page=True)
        seen.append(f"screenshot {path}")
    return ", ".join(seen)


def pct(values, q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def cpu_ms(pid: int) -> float | None:
    """CPU time (user + system) the process ``pid`` has used, in ms; None where /proc is
    not there (Linux only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def interactions(tab: Tab, rounds: int, kinds=KINDS, server_pid: int | None = None) -> dict:
    """(ms to drawn, KB, ms to the run's end, the server's CPU ms) per interaction, by kind."""
    results: dict = {k: [] for k in kinds}
    skipped: dict = {}
    for r in range(rounds):
        for kind in kinds:
            if kind in skipped:
                continue
            if kind == "baseline":
                ensure_baseline_method(tab.page)
            before = cpu_ms(server_pid) if server_pid else None
            got = timed(tab, kind, r)
            if isinstance(got, str):
                print(f"  {kind}: {got}", flush=True)
                if not results[kind]:
                    skipped[kind] = got  # not there at all: skip this kind
                continue
            after = cpu_ms(server_pid) if server_pid else None
            results[kind].append((*got, None if before is None else after - before))
    return results


def ensure_baseline_method(page) -> None:
    """A baseline matters only for some methods: pick one that uses it (the switch is not
    timed) when the baseline box is disabled."""
    box = widget(page, "baseline")
    if box is None or not box.get_by_role("combobox").is_disabled():
        return
    method = widget(page, "method")
    if method is None:
        return
    method.get_by_role("combobox").click()
    page.wait_for_timeout(150)
    option = page.get_by_role("option", name="integrated gradients")
    if option.count():
        option.first.click()
        page.wait_for_function(DONE, arg=page.evaluate("performance.now()") - 5000,
                               timeout=120_000)
    else:
        page.keyboard.press("Escape")


def sessions(browser_path: str, url: str, k: int, rounds: int) -> tuple[list, list, list, int]:
    """K browsers, one thread each, switching subject, trial, block and method at once: the
    switches' times, each session's first page, the errors, and the bench's missed inputs."""
    times, firsts, errors, missed = [], [], [], []
    lock = threading.Lock()

    def one(n: int) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
            try:
                tab = Tab(browser.new_context(viewport={"width": 1440, "height": 900}))
                t0 = time.perf_counter()
                tab.first_chart(url, timeout_ms=300_000)
                tab.settle(timeout_ms=300_000)
                with lock:
                    firsts.append(time.perf_counter() - t0)
                for r in range(rounds):
                    for kind in SESSION_KINDS:
                        got = timed(tab, kind, r + n, timeout_ms=180_000)
                        with lock:
                            if got == MISSED:
                                missed.append(kind)
                            elif isinstance(got, str):
                                errors.append(f"session {n} {kind}: {got}")
                            else:
                                times.append(got[0])
            except Exception as err:  # noqa: BLE001 (report it, do not stop the others)
                with lock:
                    errors.append(f"session {n}: {type(err).__name__}: {err}".splitlines()[0])
            finally:
                browser.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, firsts, errors, len(missed)


def raw_options(w) -> list:
    """A selectbox's values, not their shown labels: AppTest gives only the labels and takes
    only values, so try the kinds of value the page uses (labels, indices, sentinels,
    (session, trial) pairs, the method and baseline names) and keep those that are shown as
    one of its options."""
    try:
        from rbt.explain import BASELINES, METHOD_REGISTRY
        names = [*METHOD_REGISTRY, *BASELINES]
    except ImportError:
        names = []
    guesses = [*w.options, *names, "rollout", "mean", *range(64),
               *((s, t) for s in range(1, 4) for t in range(1, 64))]
    found, seen = [], set()
    for g in guesses:
        try:
            shown = str(w.format_func(g))
        except Exception:  # noqa: BLE001, S112 (a guess of the wrong kind)
            continue
        if shown in w.options and shown not in seen:
            seen.add(shown)
            found.append(g)
    return found


def script_times(root: Path, rounds: int) -> dict:
    """AppTest's script-only time (no serialising, no browser) for the same kinds, by widget
    key; an empty dict with a printed reason when the app's keys have changed."""
    import logging
    import warnings

    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(root))  # its rbt, as for the server
    warnings.filterwarnings("ignore")
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    keys = {"window step": "sel_window", "block": "att_block", "head": "att_head",
            "electrode": "att_electrode", "line mode": "att_lines", "map mode": "map_mode",
            "colour scale": "map_scale", "trial": "sel_trial", "subject": "sel_subject",
            "method": "attr_method", "baseline": "attr_baseline"}
    out: dict = {k: [] for k in keys}
    try:
        at = AppTest.from_file(str(root / "app" / "Home.py"), default_timeout=300)
        at.session_state["device"] = "cpu"
        at.run()
        # the page's file, wherever the app keeps it (pages/ or views/)
        page = next((root / "app").glob("*/*[Oo]ne_trial*.py"))
        at.switch_page(str(page.relative_to(root / "app"))).run()
        for r in range(rounds):
            for kind, key in keys.items():
                wtype = KINDS[kind][0]
                try:
                    w = getattr(at, {"select": "selectbox"}.get(wtype, wtype))(key=key)
                except KeyError:
                    continue
                if w.disabled:
                    continue
                if wtype == "slider":
                    w.set_value(w.value + 1 if w.value < w.max else w.min)
                elif wtype == "radio":
                    w.set_value(next(o for o in w.options if o != w.value))
                else:
                    raw = raw_options(w)
                    if len(raw) < 2:
                        continue
                    w.set_value(raw[(raw.index(w.value) + 1 + r % (len(raw) - 1)) % len(raw)]
                                if w.value in raw else raw[0])
                start = time.perf_counter()
                at.run()
                out[kind].append((time.perf_counter() - start) * 1000)
    except Exception as err:  # noqa: BLE001 (optional: say why and go on)
        print(f"AppTest script times skipped: {type(err).__name__}: {err}".splitlines()[0])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="interactions of each kind")
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: free)")
    parser.add_argument("--sessions", type=int, default=1,
                        help="concurrent browser sessions to run after (1: skip)")
    parser.add_argument("--session-rounds", type=int, default=5,
                        help="rounds of (subject, trial, block, method) per session")
    parser.add_argument("--cache", type=Path, default=None,
                        help="feature cache folder (default: a new one, filled by a first start)")
    parser.add_argument("--app", type=Path, default=ROOT,
                        help="the checkout whose app/ and rbt/ to run (default: this one), "
                             "e.g. a `git archive HEAD` copy while the work tree is in flux")
    parser.add_argument("--tabs", type=int, default=3, help="new tabs to time")
    parser.add_argument("--no-apptest", action="store_true", help="skip AppTest script times")
    parser.add_argument("--height", type=int, default=900,
                        help="the browser window's height in px (default 900, a laptop's); "
                             "charts out of view wait to be drawn until they come near it, so "
                             "a height that shows the whole page (e.g. 3600) times every "
                             "chart's redraw")
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS),
                        metavar="KIND", help="only these interactions (quoted: 'window step')")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print("load at the start:", load_text(), flush=True)
    port = args.port or free_port()
    tmp = Path(tempfile.mkdtemp(prefix="rbt-bench-browser-"))
    cache = args.cache or tmp / "cache"
    rows: list = []  # (kind, ms values, KB values, target ms, ms to the run's end)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": args.height})
        # 1. a first start fills the feature cache (and finds One trial's address)
        server = Server(args.app, port, cache, tmp / "first.log")
        try:
            tab = Tab(context)
            url = tab.open_one_trial(server.url)
            first = time.perf_counter() - server.started
            tab.page.close()
        finally:
            server.stop()
        print(f"first start, to One trial settled via Home: {first:.1f} s ({url})", flush=True)
        # 2. a start with the features cached: process start to the first drawn chart
        server = Server(args.app, port, cache, tmp / "server.log")
        try:
            tab = Tab(context)
            tab.first_chart(url)
            start = time.perf_counter() - server.started
            tab.settle()
            rows.append(("start, features cached", [start * 1000], [tab.received / 1024], 8000,
                         None, None))
            # 3. new tabs on the running server (new sessions), to their first chart
            tabs = []
            for _ in range(args.tabs):
                new = Tab(context)
                t0 = time.perf_counter()
                new.first_chart(url)
                tabs.append(((time.perf_counter() - t0) * 1000, new.received / 1024))
                new.settle()
                new.page.close()
            rows.append(("new tab", [t for t, _ in tabs], [b for _, b in tabs], 2000, None,
                         None))
            # 4. interactions on One trial
            found = interactions(tab, args.rounds, [k for k in KINDS if k in args.kinds],
                                 server.proc.pid)
            for kind, got in found.items():
                if got:
                    rows.append((kind, [g[0] for g in got], [g[1] for g in got], KINDS[kind][2],
                                 [g[2] for g in got], [g[3] for g in got]))
            if args.sessions > 1:
                cpu0 = cpu_ms(server.proc.pid)
                times, firsts, errors, missed = sessions(CHROMIUM, url, args.sessions,
                                                 args.session_rounds)
                session_cpu = (None if cpu0 is None else
                               (cpu_ms(server.proc.pid) - cpu0) / max(len(times), 1))
        finally:
            browser.close()
            server.stop()
    os.environ["RBT_CACHE_DIR"] = str(cache)  # AppTest runs the app in this process
    script = {} if args.no_apptest else script_times(args.app, max(2, args.rounds // 4))

    print(f"\n{'kind':24s} {'n':>3s} {'median ms':>10s} {'p90 ms':>8s} {'median KB':>10s} "
          f"{'target':>8s} {'run ends':>8s} {'server CPU':>10s} {'AppTest ms':>10s}")
    for kind, ms, kb, target, run, cpu in rows:
        if not ms:  # none timed (say --tabs 0)
            continue
        med = statistics.median(ms)
        st_ms = f"{statistics.median(script[kind]):.0f}" if script.get(kind) else "-"
        run_ms = f"{statistics.median(run):.0f}" if run else "-"
        cpu = [c for c in cpu or () if c is not None]
        cpu_txt = f"{statistics.median(cpu):.0f}" if cpu else "-"
        print(f"{kind:24s} {len(ms):3d} {med:10.0f} {pct(ms, 0.9):8.0f} "
              f"{statistics.median(kb):10.1f} {'<=' + str(target):>8s} {run_ms:>8s} "
              f"{cpu_txt:>10s} {st_ms:>10s}{'' if med <= target else '  missed'}")
    if args.sessions > 1:
        print(f"\n{args.sessions} concurrent sessions: {len(times)} switches, {len(errors)} errors"
              f" ({missed} of the bench's option clicks missed, not counted)")
        if times:
            print(f"  switch p50 {pct(times, 0.5):.0f} ms, p90 {pct(times, 0.9):.0f} ms, "
                  f"p99 {pct(times, 0.99):.0f} ms (target p90 <= 3000 ms)")
        if firsts:
            print(f"  first page per session: median {statistics.median(firsts):.1f} s, "
                  f"max {max(firsts):.1f} s")
        if session_cpu is not None:
            cores = os.cpu_count() or 1
            print(f"  the server's CPU per switch: {session_cpu:.0f} ms, so its {cores} cores "
                  f"serve at most {cores * 1000 / max(session_cpu, 1):.1f} switches a second "
                  "(the browsers' own drawing comes on top when they share the machine)")
        for e in errors[:10]:
            print("  error:", e)
    print("\nload at the end:", load_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
