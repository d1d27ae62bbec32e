"""Which typed paths the dashboard may read: the operator's data roots.

A path typed in the dashboard is read on the server, so on a network it gives whoever can
reach the page the server's files. :class:`DataRoots` confines typed paths to the folders the
operator configures (``RBT_DATA_ROOTS``). Symlinks are resolved before the check, and the check
looks at the path's text only (never at the file), so a refusal says nothing about whether the
path exists.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOTS_ENV = "RBT_DATA_ROOTS"


def is_loopback(address: str | None) -> bool:
    """Is the server's address one only this machine can reach? Empty or None is Streamlit's
    default, all interfaces: not loopback."""
    if not address:
        return False
    host = address.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name or a unix socket: treated as reachable from elsewhere
        return False


def _real(path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass(frozen=True)
class DataRoots:
    """The folders typed paths may be in; ``folders=None`` allows any path.

    ``never`` are folders refused whatever the roots say (the uploads of every session)."""

    folders: tuple[Path, ...] | None
    never: tuple[Path, ...] = ()

    @property
    def any_path(self) -> bool:
        return self.folders is None

    @property
    def none(self) -> bool:
        """No typed path is allowed (uploads and the shipped checkpoint only)."""
        return self.folders == ()

    def confine(self, path: str) -> Path | None:
        """The real path (symlinks resolved) of ``path`` if it may be read, else None.

        Only the path's text and the links on the way are looked at: the answer is the same
        for a file that exists and one that does not."""
        if not path or "\0" in path:
            return None
        real = _real(path)
        if any(_inside(real, _real(f)) for f in self.never):
            return None
        if self.folders is None:
            return real
        return real if any(_inside(real, _real(f)) for f in self.folders) else None


def parse_roots(text: str) -> tuple[Path, ...]:
    """Folders from an ``os.pathsep``-separated list (empty entries skipped), resolved."""
    return tuple(_real(p) for p in text.split(os.pathsep) if p.strip())


def configured_roots(address: str | None, env: Mapping[str, str] | None = None,
                     never: Iterable = ()) -> DataRoots:
    """The data roots for a server listening on ``address``.

    ``RBT_DATA_ROOTS`` set (even to nothing) gives exactly those folders. Unset, a server on a
    loopback address (the operator's own machine) reads any path, and one on a network address
    or on all interfaces reads none: uploads and the shipped checkpoint only.
    """
    env = os.environ if env is None else env
    never = tuple(Path(p) for p in never)
    if ROOTS_ENV in env:
        return DataRoots(parse_roots(env[ROOTS_ENV]), never)
    return DataRoots(None if is_loopback(address) else (), never)
