"""torch's thread count, set once when the dashboard's process starts.

Streamlit serves every session in its own thread of one process, so the count is process-wide
state: changing it per request (as a context manager around small jobs) would change it under
every other session's running computation. It is set once, here, from ``RBT_TORCH_THREADS``.
"""

from __future__ import annotations

import os
import threading

ENV = "RBT_TORCH_THREADS"
#: torch's intra-op threads when ``RBT_TORCH_THREADS`` is unset. The dashboard's requests are
#: small (one trial's 18 windows, one window's attribution) and several sessions run them at
#: once; one thread each keeps them from waiting for each other. See the note in ``default()``.
DEFAULT = 1

_lock = threading.Lock()
_set: list[int] = []


def from_env(env=None) -> int:
    """The thread count ``RBT_TORCH_THREADS`` asks for (a positive integer, at most the CPUs
    there are), else :data:`DEFAULT`; a value that is not a positive integer is ignored."""
    text = (os.environ if env is None else env).get(ENV, "").strip()
    try:
        n = int(text)
    except ValueError:
        return DEFAULT
    return min(n, os.cpu_count() or n) if n > 0 else DEFAULT


def configure(env=None) -> int:
    """Set torch's thread count the first time this is called in the process; returns the
    count in force. Later calls change nothing."""
    with _lock:
        if not _set:
            import torch

            n = from_env(env)
            torch.set_num_threads(n)
            _set.append(n)
        return _set[0]
