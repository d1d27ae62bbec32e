"""The dashboard on a full-size DEAP: 32 subjects x 40 trials of 40 channels x 8064 samples
(float64, pickled as released; 79,360 windows), written to a temporary folder with the test
suite's writers (tests/formats.py), read through the dashboard's real path.

    python bench/app_fullsize.py [--folder DIR] [--subjects 32] [--trials 20]

Two processes, so that the second starts cold as a restarted dashboard does:
1. *cold*: writes the files (once; ``--folder`` keeps them) and loads them through the app,
   which computes and caches the BDE features (helper F's figure, printed for context);
2. *warm*: a fresh process drives the app with ``streamlit.testing.v1.AppTest`` (the script
   runs in-process, so these are script times, not a browser's) and times: the load from the
   feature cache to the first One trial page (imports included), ``--trials`` newly visited
   trials (and the memory after them), the Across trials page until its table is shown
   (every window, their predictions filling in: the one pass over every window starts in the
   background when the data are loaded), until every window is predicted, the BDE group
   means, the attention group means (from the same pass) and then another block, head and
   grouping from it. Each is printed against its target with ``uptime``.

The figures for the predictions and the attention are waits from asking for them, on a pass
that started when the data were loaded (the trials visited meanwhile).

``--predictions``: also run ``rbt predict --attention`` once (kept beside the data) and, in a
third fresh process, open its predictions by path on Across trials right after the load: the
time until the table and the attention means are drawn from its files, with no pass.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"load from cache": 10.0, "Across trials table": 5.0, "BDE group means": 10.0,
           "attention group means": 10.0, "another block, head, grouping": 1.0,
           "attention group means from its files": 10.0}
MEMORY_TARGET_GB = 3.0


def uptime() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def rss_gb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, GB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text()
                  .splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 2**20, int(fields["VmHWM"].split()[0]) / 2**20)


def write_folder(folder: Path, subjects: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import formats as F
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    data, _ = F.deap_arrays(n_trials=40, n_samples=8064, seed=0)
    labels = np.resize(F.DEAP_LABELS, (40, 4)).astype(np.float64)
    rng = np.random.default_rng(1)
    for s in range(1, subjects + 1):
        path = folder / f"s{s:02d}.dat"
        if not path.exists():  # each subject: the signals scaled differently, as people differ
            F.write_deap(path, data * (1 + 0.2 * rng.standard_normal((40, 40, 1))), labels)


SEED_SAMPLES = 47_001  # about 235 s at 200 Hz, as SEED's clips
SEED_MODEL = "seed-model"


def write_seed(folder: Path, sessions: int) -> Path:
    """``sessions`` SEED session files of 15 full-length trials of 62 electrodes, and a
    randomly initialised 62-electrode checkpoint of the demo's size (its maps mean nothing;
    the bench is about time and memory). Returns the checkpoint folder."""
    sys.path.insert(0, str(ROOT / "tests"))
    import formats as F
    import numpy as np
    import torch

    from rbt.checkpoint import save_checkpoint
    from rbt.data.features import FeatureParams
    from rbt.data.seed import CHANNELS
    from rbt.model import RBTransformer, RBTransformerConfig
    from rbt.model_card import ModelCard

    if not (folder / "label.mat").exists():  # its header has the time: written once, or the
        F.write_seed_labels(folder)  # feature cache (keyed by content) misses every run
    base = F.eeg_like(62, SEED_SAMPLES, 200.0, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for i in range(sessions):
        path = folder / f"{i // 3 + 1}_2013{1027 + i % 3:04d}.mat"
        if not path.exists():
            F.write_seed_file(path, {t: base * (1 + 0.2 * rng.standard_normal((62, 1)))
                                     for t in range(1, 16)})
    model_dir = folder.parent / SEED_MODEL
    if not model_dir.exists():
        torch.manual_seed(0)
        cfg = RBTransformerConfig(num_electrodes=62, bde_dim=4, num_classes=3)
        bands = FeatureParams().band_dict
        meta = {"ch_names": list(CHANNELS), "dataset": "seed", "target": "emotion",
                "task": "multi", "class_names": ["negative", "neutral", "positive"],
                "bands": {b: list(v) for b, v in bands.items()}}
        save_checkpoint(RBTransformer(cfg), model_dir, ModelCard.from_dict(meta))
    return model_dir


def app_test():
    import logging
    import warnings

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(ROOT / "app"))
    from locate import server_config  # the shipped config's address (loopback: typed paths)

    st.config.set_option("server.address", server_config()["server"]["address"])
    warnings.filterwarnings("ignore")
    for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)
    at = AppTest.from_file(str(ROOT / "app" / "Home.py"), default_timeout=900)
    at.session_state["device"] = "cpu"
    return at


def open_deap(at, folder: Path, source: str = "deap"):
    """The One trial page of the data (and for SEED its checkpoint) named in the URL, as a
    link to the dashboard opens them: one load."""
    at.query_params["source"], at.query_params["path"] = source, str(folder)
    if source == "seed":
        at.query_params["model"] = str(folder.parent / SEED_MODEL)
    at.switch_page("views/1_One_trial.py").run()
    if at.exception or at.error:
        raise RuntimeError(f"the app did not load: {[e.message for e in at.exception]} "
                           f"{[e.value for e in at.error]}")
    return at


def settle(at, limit: float = 900.0) -> float | None:
    """Wait while a background pass draws its progress, as a browser's page does: its
    progress fragment polls the pass every second (cheap; AppTest cannot run a fragment
    alone) and draws the whole page again when the pass is done and every
    ``group_work.TABLE_REFRESH_S`` (its table filling in). Returns the pass's wall time from
    its start, when it was running."""
    import common
    import group_work

    end = time.monotonic() + limit
    key = ("pass", *at.session_state["_loaded_key"], True)
    running = common.background.running(key)  # the job itself, while it runs
    drawn = time.monotonic()
    while at.get("progress") and time.monotonic() < end:
        time.sleep(1.0)
        job = common.background.running(key)
        if job is not None and not job.finished:
            running = job
            if time.monotonic() - drawn < group_work.TABLE_REFRESH_S:
                continue
        at.run()
        drawn = time.monotonic()
    if running is None or running.ended is None:
        return None
    return running.ended - running.started


def _figures(at) -> list[dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    import app_figures  # the app's charts as AppTest sees them

    return app_figures.figures(at)


def job_done(common, at) -> int:
    """How many windows the pass over every window had predicted."""
    job = common.background.running(("pass", *at.session_state["_loaded_key"], True))
    if job is None:
        return -1
    return len(job.result.probs) if job.result is not None else job.done


def predictions_file(folder: Path, source: str, env: dict) -> Path:
    """``rbt predict --attention`` (every block and the rollout) with the checkpoint the
    dashboard opens these data with, written once beside the data."""
    out = folder.parent / "predictions.csv"
    if not out.exists():
        model = (folder.parent / SEED_MODEL if source == "seed"
                 else ROOT / "assets" / "demo-checkpoint")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rbt", "predict", "--model", str(model),
                        "--source", source, "--path", str(folder), "--out", str(out),
                        "--attention", "--device", "cpu"], check=True, capture_output=True, env=env)
        print(f"rbt predict --attention: {time.perf_counter() - t:.0f} s, "
              f"{sum(f.stat().st_size for f in folder.parent.glob('predictions.*')) / 2**30:.1f}"
              f" GB written, load {uptime()}", flush=True)
    return out


def from_file(folder: Path, source: str) -> dict:
    out: dict = {}
    at = open_deap(app_test(), folder, source)
    at.switch_page("views/2_Across_trials.py").run()
    t = time.perf_counter()
    at.text_input(key="x_pred_path").input(str(folder.parent / "predictions.csv")).run()
    if at.exception or at.error:
        raise RuntimeError(f"{[e.message for e in at.exception]} {[e.value for e in at.error]}")
    out["table from rbt predict's file s"] = time.perf_counter() - t
    at.radio(key="x_quantity").set_value("attention").run()
    settle(at)  # the attention beside it, read in the background
    out["attention group means from its files"] = time.perf_counter() - t
    out["attention maps drawn"] = any("receives" in str(f["layout"]) for f in
                                      _figures(at))
    out["uptime file"] = uptime()
    out["peak (getrusage) GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def cold(folder: Path, source: str) -> dict:
    t = time.perf_counter()
    open_deap(app_test(), folder, source)
    return {"cold load (features computed)": time.perf_counter() - t, "uptime": uptime()}


def warm(folder: Path, trials: int, source: str) -> dict:
    out: dict = {}
    t = time.perf_counter()
    at = open_deap(app_test(), folder, source)
    out["load from cache"] = time.perf_counter() - t
    out["uptime load"] = uptime()
    out["rss after load GB"] = rss_gb()[0]
    import common  # the app's modules, in this process

    fs = common.data_resource(at.session_state["_loaded_key"][0])
    out["windows"] = len(fs)
    visit = []
    subjects = fs.subjects()
    for i in range(trials):
        subject = subjects[i % len(subjects)]
        at.selectbox(key="sel_subject").set_value(subject).run()
        chosen = fs.trials(subject)[(i * 7 + 1) % len(fs.trials(subject))]
        s = time.perf_counter()
        at.selectbox(key="sel_trial").set_value(chosen).run()
        visit.append(time.perf_counter() - s)
        if at.exception:
            raise RuntimeError(at.exception[0].message)
    out["trial visit median s"] = sorted(visit)[len(visit) // 2] if visit else None
    out["rss after trials GB"], out["peak after trials GB"] = rss_gb()
    out["trial attention cache MB"] = common.ATTENTION.nbytes / 2**20
    out["uptime trials"] = uptime()
    t = time.perf_counter()
    at.switch_page("views/2_Across_trials.py").run()
    if not at.dataframe or len(at.dataframe[0].value) != len(fs):
        raise RuntimeError("Across trials drew no table of every window")
    out["Across trials table"] = time.perf_counter() - t
    out["windows predicted when the table was drawn"] = job_done(common, at)
    out["BDE means drawn with the table"] = any("Mean BDE" in str(f["layout"]) for f in
                                                _figures(at))
    took = settle(at)
    out["every window predicted s"] = time.perf_counter() - t
    out["the pass over every window (from the load, trials visited meanwhile) s"] = took
    s = time.perf_counter()
    at.run()  # the page again, everything done: the table and the BDE means (the default map)
    out["BDE group means"] = time.perf_counter() - s
    out["uptime across"] = uptime()
    s = time.perf_counter()
    at.radio(key="x_quantity").set_value("attention").run()
    settle(at)  # done already: the same pass
    out["attention group means"] = time.perf_counter() - s
    out["uptime attention"] = uptime()
    s = time.perf_counter()
    at.selectbox(key="x_block").set_value(2).run()
    at.selectbox(key="x_head").set_value(3).run()
    at.radio(key="x_by").set_value("subject").run()
    out["another block, head, grouping"] = (time.perf_counter() - s) / 3
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    out["rss end GB"], out["peak GB"] = rss_gb()
    out["peak (getrusage) GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="where the DEAP files are (written if "
                        "missing); a temporary folder by default")
    parser.add_argument("--subjects", type=int, default=32)
    parser.add_argument("--trials", type=int, default=20, help="trials visited on One trial")
    parser.add_argument("--seed", type=int, metavar="SESSIONS", help="a SEED folder of this "
                        "many full-length session files (15 trials of 62 electrodes) and a "
                        "random 62-electrode checkpoint instead of DEAP")
    parser.add_argument("--warm-only", action="store_true", help="skip the cold load (the "
                        "features of --folder are cached already)")
    parser.add_argument("--predictions", action="store_true", help="also open the "
                        "predictions and attention rbt predict --attention wrote (run once)")
    parser.add_argument("--phase", choices=["cold", "warm", "file"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:  # a child process: print its figures as JSON
        source = "seed" if args.seed else "deap"
        figures = (cold(args.folder, source) if args.phase == "cold" else
                   from_file(args.folder, source) if args.phase == "file" else
                   warm(args.folder, args.trials, source))
        print("RESULT " + json.dumps(figures))
        return 0
    with tempfile.TemporaryDirectory(prefix="rbt-app-fullsize-") as tmp:
        folder = args.folder or Path(tmp) / ("Preprocessed_EEG" if args.seed else
                                             "data_preprocessed_python")
        env = {**os.environ, "RBT_CACHE_DIR": str(folder.parent / "rbt-cache"),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        t = time.perf_counter()
        if args.seed:
            write_seed(folder, args.seed)
        else:
            write_folder(folder, args.subjects)
        print(f"files written: {time.perf_counter() - t:.0f} s  "
              f"load {uptime()}", flush=True)
        phases = ("warm",) if args.warm_only else ("cold", "warm")
        if args.predictions:
            predictions_file(folder, "seed" if args.seed else "deap", env)
            phases += ("file",)
        for phase in phases:
            done = subprocess.run([sys.executable, __file__, "--phase", phase, "--folder",
                                   str(folder), "--trials", str(args.trials)]
                                  + (["--seed", str(args.seed)] if args.seed else []), env=env,
                                  capture_output=True, text=True)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
            if done.returncode or not lines:
                print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
                return 1
            for name, value in json.loads(lines[-1][7:]).items():
                if value is None:
                    continue
                target = TARGETS.get(name)
                if isinstance(value, float):
                    shown = f"{value:.2f}"
                    if target is not None:
                        shown += (f" s (target <= {target:g} s: "
                                  f"{'met' if value <= target else 'MISSED'})")
                    elif name.endswith("GB") and "peak" in name:
                        shown += (f" (target <= {MEMORY_TARGET_GB:g} GB: "
                                  f"{'met' if value <= MEMORY_TARGET_GB else 'MISSED'})")
                else:
                    shown = str(value)
                print(f"{phase:4s}  {name}: {shown}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
