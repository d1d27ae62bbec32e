"""Where the app's files are: the shipped demo checkpoint and the server's config file.

The app runs from a clone of the repository (``app/`` beside ``assets/``) or from an installed
wheel, which carries both inside the package as ``rbt/app/`` and ``rbt/assets/`` (see
pyproject.toml): in either layout the checkpoint is ``../assets/demo-checkpoint`` from here.
``rbt dashboard`` loads this module by its path to read the same config the app runs with.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the one copy of the server settings (address, upload limit, ...). Streamlit reads it itself
#: as the entry point's script-level config (``streamlit run app/Home.py`` from anywhere), and
#: ``rbt dashboard`` passes its options as flags.
CONFIG = HERE / ".streamlit" / "config.toml"
DEMO_ENV = "RBT_DEMO_CHECKPOINT"


def demo_checkpoint() -> Path:
    """The shipped checkpoint: ``$RBT_DEMO_CHECKPOINT`` when set, else the installed package's
    copy, else the clone's ``assets/demo-checkpoint`` (returned even when missing, so that the
    error names where it was looked for)."""
    given = os.environ.get(DEMO_ENV)
    if given:
        return Path(given).expanduser()
    places = [HERE.parent / "assets" / "demo-checkpoint"]
    installed = _installed_package()
    if installed is not None:
        places.insert(0, installed / "assets" / "demo-checkpoint")
    return next((p for p in places if (p / "config.json").is_file()), places[-1])


def _installed_package() -> Path | None:
    """The folder of the imported ``rbt`` package, where a wheel puts the app's files."""
    try:
        import rbt
    except ImportError:
        return None
    return Path(rbt.__file__).resolve().parent


def server_config(path: Path = CONFIG) -> dict:
    """The config file's sections (``{"server": {"address": ..., ...}, ...}``)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the app's extra installs tomli there
        import tomli as tomllib
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def server_flags(config: dict, prefix: str = "") -> list[str]:
    """The config's options as ``streamlit run`` flags (``--server.address 127.0.0.1``)."""
    flags = []
    for key, value in config.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flags += server_flags(value, name)
        else:
            flags += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags
