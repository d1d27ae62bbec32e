"""The wheel carries its app: built from the repository, it holds the dashboard (Home.py, pages,
its modules and server config) and the demo checkpoint; installed into a fresh virtual
environment outside the checkout, ``rbt dashboard`` serves the One trial page with its charts
(Playwright driving Debian's Chromium).

The fresh environment reuses this one's installed dependencies through a .pth file, but rbt
itself is the wheel's (asserted), never the checkout's editable install.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from test_browser import CHARTS, CHROMIUM_ARGS, charts_present, free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
EXCEPTION = '[data-testid="stException"]'
ARTIFACTS = ROOT / "tests" / "artifacts"  # a screenshot of the page, for a person to look at


def _source_files() -> list[str]:
    """The files a clone holds now: tracked or new, minus what git ignores (no .venv, build/,
    caches), and minus files deleted but not yet committed."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built the way the README says but from a copy of the checkout, so that the
    build writes no build/ or egg-info into it (a stale build/lib would also leak removed
    modules into the wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in _source_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp / "dist")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = (tmp / "dist").glob("rbt-*.whl")
    return built


def test_the_wheel_carries_the_app_and_the_demo_checkpoint(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    app = [p for p in (ROOT / "app").rglob("*") if p.is_file() and "__pycache__" not in p.parts
           and (p.suffix == ".py" or p.name == "config.toml")]
    assert {"Home.py", "locate.py", "views/1_One_trial.py", ".streamlit/config.toml"} <= {
        p.relative_to(ROOT / "app").as_posix() for p in app}
    missing = [p for p in app if f"rbt/app/{p.relative_to(ROOT / 'app').as_posix()}" not in names]
    assert not missing, f"not in the wheel: {missing}"
    checkpoint = sorted(p.name for p in (ROOT / "assets" / "demo-checkpoint").iterdir())
    assert {"config.json", "model.safetensors", "rbt_metadata.json"} <= set(checkpoint)
    assert {f"rbt/assets/demo-checkpoint/{n}" for n in checkpoint} <= names
    assert not any(n.endswith(".png") for n in names)  # README images stay in the repository
    # every library module is packaged (pyproject.toml lists the packages by name)
    library = {p.relative_to(ROOT).as_posix() for p in (ROOT / "rbt").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert not library - names, f"add their packages to pyproject.toml: {library - names}"
    tops = {n.split("/")[0] for n in names}  # no top-level app/, assets/ or tests/
    assert tops == {"rbt", next(t for t in tops if t.endswith(".dist-info"))}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "rbt = rbt.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment outside the checkout with the wheel installed (no deps;
    this environment's site-packages reached through a .pth file)."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    python = venv / "bin" / "python"
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                             "-q", "--no-deps", "--no-index", str(wheel)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "zz_reuse_dependencies.pth").write_text("".join(f"{p}\n" for p in ours))
    return venv


def _clean_env(tmp: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "RBT_DEMO_CHECKPOINT", "VIRTUAL_ENV")}
    return {**env, "HOME": str(tmp), **extra}


def test_the_installed_rbt_is_the_wheels(installed, tmp_path):
    code = ("import importlib.util, pathlib, rbt, rbt.cli\n"
            "print(rbt.__file__)\n"
            "app = pathlib.Path(rbt.__file__).parent / 'app'\n"
            "spec = importlib.util.spec_from_file_location('locate', app / 'locate.py')\n"
            "locate = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(locate)\n"
            "print(locate.demo_checkpoint())\n"
            "print(locate.CONFIG)\n"
            "print(locate.server_config()['server']['address'])\n")
    result = subprocess.run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path,
                            env=_clean_env(tmp_path), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    package, checkpoint, config, address = result.stdout.splitlines()
    for where in map(Path, (package, checkpoint, config)):
        assert installed.resolve() in where.resolve().parents and ROOT not in where.parents
    assert (Path(checkpoint) / "model.safetensors").is_file() and Path(config).is_file()
    assert address == "127.0.0.1"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not "
                    "installed (apt-get install chromium): the installed dashboard is not "
                    "opened in a browser")
def test_the_installed_rbt_dashboard_renders_the_one_trial_page(installed, demo_valence,
                                                                 tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    _, cache = demo_valence
    port = free_port()
    log = tmp_path / "dashboard.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [str(installed / "bin" / "rbt"), "dashboard", "--port", str(port), "--",
             "--server.fileWatcherType", "none"],
            cwd=tmp_path, env=_clean_env(tmp_path, RBT_CACHE_DIR=str(cache)), stdout=fh,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, log, timeout=120)
        printed = log.read_text()
        assert f"rbt dashboard: http://localhost:{port}  (this machine only" in printed
        # the server runs the wheel's app (rbt execs streamlit: same process)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        home = next(Path(a.decode()) for a in cmdline if a.endswith(b"Home.py"))
        assert installed.resolve() in home.resolve().parents
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                        headless=True)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(f"{url}/One_trial")
                charts_present(page, 3, timeout_ms=180_000)
                page.wait_for_selector('[data-test-script-state="notRunning"]',
                                       state="attached", timeout=180_000)
                page.wait_for_timeout(500)
                errors = page.locator(EXCEPTION)
                assert errors.count() == 0, errors.first.inner_text()
                assert page.locator(CHARTS).count() >= 3
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "wheel-one-trial.png"), full_page=True)
            finally:
                browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
