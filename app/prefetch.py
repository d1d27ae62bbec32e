"""Work a page will need, started at the top of its run in a thread of its own.

A window step on One trial draws the prediction, the timeline, the BDE maps and the attention
before it reaches the attributions, whose integrated gradients and trust checks (a few hundred
milliseconds of torch) would then run alone while nothing else does. Started here, they run
beside the drawing of the sections above (torch releases the interpreter while it computes, so
the two share the cores), and the attribution section finds them done or waits for the rest.
The cached functions are called exactly as the sections call them: Streamlit's cache computes a
value once, and a caller that asks while it is being computed waits for it (one lock per
value), so nothing is computed twice. A failed prefetch is left for the section to meet again
and report.
At the end of a run, :func:`ahead` starts what the next window step will need.
"""

from __future__ import annotations

import os
import threading
import time

from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

RECENT_S = 10.0  # a session that asked for work ahead this recently counts as active
_lock = threading.Lock()
_asked: dict[str, float] = {}  # session id: when it last asked


def start(*calls) -> None:
    """Run each ``(fn, *args)`` of ``calls`` in turn, in a thread of its own that carries
    this run's context (Streamlit's caches expect one), ignoring results and errors. A new
    thread per run, not a pool: a pool's thread would keep the last run's context, and with it
    the session and its uploads, alive."""

    def run() -> None:
        for fn, *args in calls:
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 (the section calls it again and reports it)
                pass

    thread = threading.Thread(target=run, name="rbt-prefetch", daemon=True)
    add_script_run_ctx(thread)
    thread.start()


def active_sessions(session_id: str, now: float) -> int:
    """Note that ``session_id`` asks for work ahead at ``now`` (``time.monotonic``); how many
    sessions, this one included, have asked in the last :data:`RECENT_S` seconds."""
    with _lock:
        _asked[session_id] = now
        for other, when in list(_asked.items()):
            if now - when > RECENT_S:
                del _asked[other]
        return len(_asked)


def ahead(*calls) -> None:
    """:func:`start` ``calls`` that the user's likely next step needs (the next window's
    attributions and trust checks), at the end of a run while the browser draws and the user
    looks. ``RBT_PREFETCH``: ``auto`` (the default) does it while no more sessions than the
    machine has cores are in use (asked in the last :data:`RECENT_S` s), where guessing for
    each would slow every session's actual requests; ``on`` always, ``off`` never. Not the
    load average: a browser on the same machine (a laptop, the bench) keeps it above the core
    count while the user is alone, and it lags by a minute."""
    mode = os.environ.get("RBT_PREFETCH", "auto").strip().lower()
    if mode == "off":
        return
    ctx = get_script_run_ctx()
    in_use = active_sessions(ctx.session_id if ctx else "", time.monotonic())
    if mode != "on" and in_use > (os.cpu_count() or 1):
        return
    start(*calls)
