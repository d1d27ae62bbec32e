"""torch's thread count, set once when the dashboard's process starts.

Streamlit serves every session in its own thread of one process, so the count is process-wide
state: changing it per request (as a context manager around small jobs) would change it under
every other session's running computation. It is fixed here, once, from ``RBT_TORCH_THREADS``,
else torch's own default (``OMP_NUM_THREADS``, else the physical cores).

Why that default (measured on a 2-core machine, load average about 1.4 from other work, demo
data and the shipped checkpoint on CPU): with 2 threads instead of 1, predicting 20,160
windows took 1.30 s instead of 2.37 s and all 1,440 demo windows 93-130 ms instead of 172 ms;
one trial's click (18 windows' predictions and attention, one window's integrated gradients)
took 25 ms instead of 31 ms alone, and 61 ms instead of 52 ms when two sessions clicked at
once. The waits people notice are the one-off passes over a whole dataset, which more threads
nearly halve; a click costs tens of milliseconds either way, against a few hundred for drawing
the page. A server shared by many sessions can set ``RBT_TORCH_THREADS=1``.
"""

from __future__ import annotations

import os
import threading

ENV = "RBT_TORCH_THREADS"

_lock = threading.Lock()
_set: list[int] = []


def from_env(env=None) -> int | None:
    """The thread count ``RBT_TORCH_THREADS`` asks for, at most the CPUs there are; None when
    it is unset or not a positive integer (torch's default then stands)."""
    text = (os.environ if env is None else env).get(ENV, "").strip()
    try:
        n = int(text)
    except ValueError:
        return None
    return min(n, os.cpu_count() or n) if n > 0 else None


def configure(env=None) -> int:
    """Fix torch's thread count the first time this is called in the process; returns the
    count in force. Later calls change nothing."""
    with _lock:
        if not _set:
            import torch

            n = from_env(env) or torch.get_num_threads()
            torch.set_num_threads(n)
            _set.append(n)
        return _set[0]
