"""How long the dashboard's script takes after a switch of trial, block, head or method.

Drives the One trial page with ``streamlit.testing.v1.AppTest`` (the script runs in-process),
on the demo data with the shipped checkpoint on CPU, and times ``AppTest.run()`` after each
switch. Every switch goes to a new trial, block, head or method, so trial and method switches
include computing that window's attention and attributions (nothing is precomputed for them).

    python bench/app.py [--rounds 8]

Prints the median (the README's number) and the median per kind of switch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 300


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8,
                        help="rounds of (trial, block, head, method) switches")
    args = parser.parse_args(argv)

    import logging
    import warnings

    from streamlit.testing.v1 import AppTest

    from rbt.explain import METHOD_REGISTRY

    warnings.filterwarnings("ignore")  # Captum's notes on batch sizes and gradients
    for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)

    t0 = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "app" / "Home.py"), default_timeout=300)
    at.session_state["device"] = "cpu"
    at.run()
    at.switch_page("views/1_One_trial.py").run()
    if at.exception or at.error:
        print("the app did not load:", [e.message for e in at.exception],
              [e.value for e in at.error], file=sys.stderr)
        return 1
    print(f"first load of the One trial page (imports, data, model, first window): "
          f"{time.perf_counter() - t0:.1f} s")
    trials = at.selectbox(key="sel_trial").options  # as shown; values are (session, trial)
    n_trials = len(trials)
    methods = list(METHOD_REGISTRY)
    times: dict[str, list[float]] = {"trial": [], "block": [], "head": [], "method": []}

    def timed(kind: str, widget, value) -> None:
        widget.set_value(value)
        start = time.perf_counter()
        at.run()
        times[kind].append(time.perf_counter() - start)
        if at.exception:
            raise RuntimeError(at.exception[0].message)

    for r in range(args.rounds):
        timed("trial", at.selectbox(key="sel_trial"), (1, 2 + (r % (n_trials - 1))))
        timed("block", at.selectbox(key="att_block"), r % 4)
        timed("head", at.selectbox(key="att_head"), ["mean", 0, 1, 2, 3, 4, 5][r % 7])
        timed("method", at.selectbox(key="attr_method"), methods[(r + 1) % len(methods)])
    everything = [t for ts in times.values() for t in ts]
    median = statistics.median(everything) * 1000
    print(f"switches: {len(everything)}; median script time after a switch: {median:.0f} ms "
          f"(target <= {TARGET_MS} ms)")
    for kind, ts in times.items():
        print(f"  {kind:6s} median {statistics.median(ts) * 1000:5.0f} ms, "
              f"max {max(ts) * 1000:5.0f} ms")
    return 0 if median <= TARGET_MS else 2


if __name__ == "__main__":
    sys.exit(main())
