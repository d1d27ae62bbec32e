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
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.script_run_context import SCRIPT_RUN_CONTEXT_ATTR_NAME

# one worker: the machine this is measured on has two cores, and the script needs one
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rbt-prefetch")


def start(fn, *args) -> None:
    """Call ``fn(*args)`` in the background, with this run's context (Streamlit's caches
    expect one), ignoring its result and errors."""
    ctx = get_script_run_ctx()

    def run() -> None:
        thread = threading.current_thread()
        add_script_run_ctx(thread, ctx)
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 (the section calls it again and reports the error)
            pass
        finally:  # the pool's thread outlives the run: it must not keep the session alive
            setattr(thread, SCRIPT_RUN_CONTEXT_ATTR_NAME, None)

    _POOL.submit(run)
