"""``rbt dashboard``: the Streamlit app on the demo data with the shipped checkpoint.

The app is found inside the installed package (a wheel carries it as ``rbt/app/``) or, in a
clone of the repository, beside the package (``app/``). Its server settings are the app's own
config file, read through the app's ``locate`` module and passed to ``streamlit run`` as flags,
so that the command and a plain ``streamlit run app/Home.py`` serve alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from .args import int_in

NO_STREAMLIT = ("the dashboard needs Streamlit, which is not installed: "
                "pip install 'rbt[app]'")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "dashboard", help="open the dashboard (Streamlit) on the demo data",
        description="Start the dashboard on the synthetic demo data with the shipped checkpoint "
        "(choose other data and models in its sidebar). The server settings are the app's "
        "config file (.streamlit/config.toml beside Home.py): by default it listens on "
        "127.0.0.1, so only this machine can reach it. Options after -- go to streamlit run.")
    p.add_argument("--port", type=int_in(1, 65535), help="port (default: the config's, 8501)")
    p.add_argument("--address",
                   help="address to listen on (default: the config's, 127.0.0.1); a network "
                   "address lets others use it: read SECURITY.md first")
    p.add_argument("streamlit_options", nargs=argparse.REMAINDER,
                   help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def app_folder() -> Path:
    """The folder holding the app's ``Home.py``: the installed package's, else the clone's."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "app", package.parent / "app"):
        if (folder / "Home.py").is_file() and (folder / "locate.py").is_file():
            return folder
    raise FileNotFoundError(f"the dashboard's files (app/Home.py) are not beside {package}; "
                            "reinstall rbt from a wheel that carries them, or run it from a "
                            "clone of the repository")


def _app_module(folder: Path, name: str):
    """One of the app's own modules, by its path (the app's folder is not on sys.path here)."""
    key = f"_rbt_app_{name}_{abs(hash(str(folder)))}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # before it runs: its dataclasses look themselves up there
        spec.loader.exec_module(module)
    return sys.modules[key]


def command(args) -> tuple[list[str], str]:
    """(the ``streamlit run`` argv, what to print first) for these arguments."""
    folder = app_folder()
    locate = _app_module(folder, "locate")
    config = locate.server_config()
    server = config.get("server", {})
    port = args.port or server.get("port", 8501)
    address = args.address or server.get("address", "127.0.0.1")
    extra = list(args.streamlit_options or [])
    if extra[:1] == ["--"]:
        extra = extra[1:]
    rest = {**config, "server": {k: v for k, v in server.items() if k not in ("port", "address")}}
    argv = [sys.executable, "-m", "streamlit", "run", str(folder / "Home.py"),
            *locate.server_flags(rest), "--server.port", str(port), "--server.address", address,
            *extra]
    loopback = _app_module(folder, "roots").is_loopback(address)
    return argv, startup_message(address, port, loopback, locate.demo_checkpoint())


def startup_message(address: str, port: int, loopback: bool, checkpoint: Path) -> str:
    """Where to point the browser and, for a network address, what that exposes."""
    lines = []
    if loopback:
        lines.append(f"rbt dashboard: http://localhost:{port}  (this machine only; Ctrl+C "
                     "stops it)")
    else:
        shown = "<this machine's address>" if address in ("0.0.0.0", "::", "") else address
        roots = os.environ.get("RBT_DATA_ROOTS") or \
            "none set: typed paths are off, uploads and the demo only"
        lines += [
            f"rbt dashboard: http://{shown}:{port}  (Ctrl+C stops it)",
            f"WARNING: listening on {address}: anyone who can reach this address can use the",
            "dashboard: upload files (each browser session sees only its own), and read the "
            "folders in",
            f"RBT_DATA_ROOTS ({roots}).",
            "See SECURITY.md."]
    if not (checkpoint / "config.json").is_file():
        lines.append(f"note: the shipped demo checkpoint is missing ({checkpoint}); the "
                     "dashboard will say so until scripts/build_demo_checkpoint.sh has built "
                     "it or RBT_DEMO_CHECKPOINT names another")
    return "\n".join(lines)


def run(args) -> int:
    try:
        import streamlit  # noqa: F401  (only to say plainly when it is missing)
    except ImportError:
        raise ValueError(NO_STREAMLIT) from None
    argv, message = command(args)
    print(message, flush=True)
    if os.name == "posix":  # become the server: Ctrl+C and kill reach Streamlit directly
        os.execv(argv[0], argv)
    return subprocess.call(argv)
