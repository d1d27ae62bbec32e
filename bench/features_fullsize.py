"""``rbt features`` at full size: DEAP's 32 subjects and one SEED session, in their real formats.

Writes a synthetic DEAP ``data_preprocessed_python/`` (32 x 40 trials x 40 channels x 8064
float64 samples, Python-2 pickles as released, about 103 MB a file) and one SEED
``Preprocessed_EEG/`` session (62 channels x 15 trials of about 4 min at 200 Hz, MATLAB v5, with
``label.mat``) into a temporary folder, then times, each in a fresh interpreter:

* ``load_features("deap", folder)`` cold (an empty ``RBT_CACHE_DIR``) and warm (cache filled);
* the CLI ``rbt features --source deap`` warm (imports, cache reads and the .npz written);
* ``load_features("seed", session)`` cold, with the true 200 Hz filters (the default) and with
  the reference's 128 Hz filters (``seed_reference_filters``);
* side by side (``--side-by-side R``, default 1 round): DEAP cold with the next file read
  ahead (the default) and ``read_ahead=False`` (one file after another), alternating, each in
  a fresh interpreter; the medians and their ratio;

* with ``--seed-baseline REV --seed-rounds R``: the SEED session cold (200 Hz and 128 Hz
  filters), this checkout's ``rbt`` against REV's (``git archive`` into the work folder),
  alternating R rounds in fresh interpreters; the medians and their ratio;

and prints each against its target with the child's peak RSS (``os.wait4``'s ``ru_maxrss``) and
the load average when it ran. Targets (issue 14, 2 quiet cores): DEAP cold <= 30 s, warm <= 3 s,
peak <= 2 GB; a SEED session in proportion to its rows (channels x windows) against DEAP's.

    python bench/features_fullsize.py [--subjects 32] [--tmp DIR [--reuse]] [--keep] [--no-seed]
                                      [--no-deap] [--side-by-side R]
                                      [--seed-baseline REV [--seed-rounds R]]

``--subjects N`` writes and reads N DEAP files (the cold target scales with N). Other benches
can call :func:`features_bench` with a folder of their own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # formats.py: the datasets' real on-disk formats

DEAP_COLD_S, DEAP_WARM_S, PEAK_GB = 30.0, 3.0, 2.0
DEAP_ROWS = 32 * 40 * 62 * 32  # subjects x trials x windows x channels
# SEED's 15 film clips last about 4 minutes (185-265 s)
SEED_SECONDS = (235, 233, 206, 238, 185, 195, 237, 216, 265, 237, 235, 233, 235, 238, 206)

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from rbt.data import load_features
from rbt import bde
getattr(bde, "pad_heap", lambda: None)()  # as `rbt features` does (older trees: at BDE's start)
t1 = time.perf_counter()
import rbt
assert rbt.__file__.startswith(sys.argv[4]), f"rbt from {rbt.__file__}, not {sys.argv[4]}"
fs = load_features(sys.argv[1], sys.argv[2], progress=False, **json.loads(sys.argv[3]))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "windows": len(fs),
                  "rows": int(fs.X.shape[0] * fs.X.shape[1])}))
"""


def load_average() -> str:
    return "load " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def write_deap(folder: Path, subjects: int) -> Path:
    import numpy as np
    from formats import deap_arrays
    from formats import write_deap as write

    folder.mkdir(parents=True, exist_ok=True)
    for s in range(1, subjects + 1):
        data, labels = deap_arrays(40, 8064, seed=s)
        labels = np.random.default_rng(s).uniform(1, 9, size=(40, 4))
        write(folder / f"s{s:02d}.dat", data, labels, py2=True)
    return folder


def write_seed(folder: Path) -> Path:
    import numpy as np
    from formats import SEED_SFREQ, eeg_like, write_seed_file, write_seed_labels

    write_seed_labels(folder)
    rng = np.random.default_rng(7)
    trials = {t + 1: eeg_like(62, int(sec * SEED_SFREQ), SEED_SFREQ, rng)
              for t, sec in enumerate(SEED_SECONDS)}
    return write_seed_file(folder / "1_20131027.mat", trials, prefix="djc")


def run_child(argv: list[str], cache: Path, threads: int | None, root: Path = ROOT) -> dict:
    """Run ``argv`` in a fresh interpreter with ``root``'s ``rbt``; its wall time, its own
    peak RSS (``os.wait4``) and the JSON it printed last."""
    env = {**os.environ, "RBT_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(root)}
    if threads:
        env["RBT_BDE_THREADS"] = str(threads)
    load = load_average()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        # the cwd is the first entry of a ``-c`` child's path: before the editable install's
        proc = subprocess.Popen(argv, cwd=root, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{errors[-2000:]}")
    last = text.strip().splitlines()[-1] if text.strip() else "{}"
    info = json.loads(last) if last.startswith("{") else {"output": last}
    return {"wall_s": wall, "peak_gb": usage.ru_maxrss * 1024 / 1e9, "load": load,
            "cpu_s": usage.ru_utime + usage.ru_stime, **info}


def load_child(source: str, path: Path, cache: Path, threads, root: Path = ROOT,
               **options) -> dict:
    return run_child([sys.executable, "-c", _CHILD, source, str(path), json.dumps(options),
                      str(root)], cache, threads, root)


def baseline_tree(rev: str, tmp: Path) -> Path:
    """REV's ``rbt`` package, extracted with ``git archive`` under ``tmp`` (the checkout and
    its index are left alone)."""
    root = tmp / f"baseline-{rev.replace('/', '_')}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "rbt"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root


def seed_side_by_side(session: Path, cache: Path, threads, rev: str, rounds: int,
                      tmp: Path) -> None:
    """The SEED session cold, this checkout against ``rev``, alternating ``rounds`` times in
    fresh interpreters, for both filter rates; medians, their ratio and every run's load."""
    import statistics

    base = baseline_tree(rev, tmp)
    for label, options in (("200 Hz filters", {}),
                           ("reference 128 Hz filters", {"seed_reference_filters": True})):
        times: dict[str, list[float]] = {"ours": [], rev: []}
        loads = []
        for r in range(rounds):
            order = (("ours", ROOT), (rev, base))
            for name, root in (order if r % 2 == 0 else order[::-1]):
                shutil.rmtree(cache, ignore_errors=True)
                res = load_child("seed", session, cache, threads, root, **options)
                times[name].append(res["wall_s"])
                loads.append(res["load"].split()[1])
                print(f"  SEED cold, {label}, {name:<8} {res['wall_s']:6.2f} s  (CPU "
                      f"{res['cpu_s']:.1f} s, load_features {res['load_s']:.2f} s)  peak "
                      f"{res['peak_gb']:.2f} GB  [{res['load']}]", flush=True)
        new, old = statistics.median(times["ours"]), statistics.median(times[rev])
        print(f"SEED session cold, {label}, medians of {rounds}: ours {new:.2f} s, {rev} "
              f"{old:.2f} s: {old / new:.2f}x  [loads {', '.join(loads)}]", flush=True)


def report(name: str, seconds: float, target: float, result: dict) -> dict:
    ok = seconds <= target and result["peak_gb"] <= PEAK_GB
    extra = ""
    if "load_s" in result:
        extra = f" (imports {result['import_s']:.2f} s, load_features {result['load_s']:.2f} s)"
    print(f"{name:<36} {seconds:7.2f} s  target <= {target:6.2f} s  peak {result['peak_gb']:.2f} "
          f"GB (<= {PEAK_GB:g})  {'ok' if ok else 'MISSED'}  [{result['load']}]{extra}",
          flush=True)
    return {"name": name, "seconds": seconds, "target_s": target, "ok": ok, **result}


def _write_in_child(option: str, *args: str) -> None:
    """Write data in another process: a child's peak RSS starts from its parent's size, so
    this one stays small (no numpy, no arrays)."""
    subprocess.run([sys.executable, __file__, option, *map(str, args)], check=True, cwd=ROOT,
                   env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})


def side_by_side(deap: Path, cache: Path, threads, rounds: int, subjects: int) -> None:
    """DEAP cold, read ahead or not, alternating ``rounds`` times; medians and ratio."""
    import statistics

    times: dict[bool, list[float]] = {True: [], False: []}
    loads = []
    for r in range(rounds):
        for ahead in ((True, False) if r % 2 == 0 else (False, True)):
            shutil.rmtree(cache, ignore_errors=True)
            res = load_child("deap", deap, cache, threads, read_ahead=ahead)
            times[ahead].append(res["wall_s"])
            loads.append(res["load"].split()[1])
            print(f"  cold, {'next file read ahead' if ahead else 'one file after another':<22}"
                  f" {res['wall_s']:6.2f} s  (CPU {res['cpu_s']:.1f} s)  peak "
                  f"{res['peak_gb']:.2f} GB  [{res['load']}]", flush=True)
    new, old = (statistics.median(times[a]) for a in (True, False))
    print(f"DEAP x{subjects} cold side by side, medians of {rounds}: read ahead {new:.2f} s, "
          f"one after another {old:.2f} s: {old / new:.2f}x  [loads {', '.join(loads)}]",
          flush=True)


def features_bench(tmp: Path, subjects: int = 32, seed: bool = True,
                   threads: int | None = None, reuse: bool = False,
                   rounds: int = 1, seed_baseline: str | None = None,
                   seed_rounds: int = 3, deap_files: bool = True) -> list[dict]:
    """Write the full-size data under ``tmp`` (``reuse``: keep what an earlier run wrote
    there) and time features on it; one dict per line (``rounds``: read ahead or not side
    by side, 0 for none)."""
    tmp = Path(tmp)
    rows = []
    cache = tmp / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    if deap_files:
        t0 = time.perf_counter()
        deap = tmp / "data_preprocessed_python"
        if reuse and deap.is_dir() and len(list(deap.glob("s*.dat"))) == subjects:
            print(f"reusing the {subjects} DEAP file(s) in {deap}")
        else:
            shutil.rmtree(deap, ignore_errors=True)
            _write_in_child("--write-deap", deap, str(subjects))
            print(f"wrote {subjects} DEAP file(s) in {time.perf_counter() - t0:.0f} s "
                  f"[{load_average()}]", flush=True)
        scale = subjects / 32
        cold = load_child("deap", deap, cache, threads)
        rows.append(report(f"DEAP x{subjects} cold load_features", cold["wall_s"],
                           DEAP_COLD_S * scale, cold))
        warm = load_child("deap", deap, cache, threads)
        rows.append(report(f"DEAP x{subjects} warm load_features", warm["wall_s"], DEAP_WARM_S,
                           warm))
        out = tmp / "deap_features.npz"
        cli = run_child([sys.executable, "-m", "rbt", "features", "--source", "deap", "--path",
                         str(deap), "--out", str(out), "--force"], cache, threads)
        rows.append(report(f"DEAP x{subjects} warm rbt features (CLI)", cli["wall_s"], DEAP_WARM_S,
                           cli))
        if rounds:
            side_by_side(deap, cache, threads, rounds, subjects)
    if seed:
        t0 = time.perf_counter()
        session = tmp / "Preprocessed_EEG" / "1_20131027.mat"
        if not (reuse and session.exists() and (session.parent / "label.mat").exists()):
            _write_in_child("--write-seed", session.parent)
            print(f"wrote a SEED session ({session.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - t0:.0f} s [{load_average()}]", flush=True)
        for label, options in (("200 Hz filters", {}),
                               ("reference 128 Hz filters", {"seed_reference_filters": True})):
            shutil.rmtree(cache, ignore_errors=True)
            res = load_child("seed", session, cache, threads, **options)
            target = DEAP_COLD_S * res["rows"] / DEAP_ROWS
            rows.append(report(f"SEED session cold, {label}", res["wall_s"], target, res))
        if seed_baseline:
            seed_side_by_side(session, cache, threads, seed_baseline, seed_rounds, tmp)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=32, choices=range(1, 33),
                        metavar="N", help="DEAP files to write and read (1-32, default 32)")
    parser.add_argument("--tmp", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the written data")
    parser.add_argument("--reuse", action="store_true",
                        help="with --tmp: read the data an earlier run wrote there")
    parser.add_argument("--no-seed", action="store_true", help="skip the SEED session")
    parser.add_argument("--no-deap", action="store_true", help="skip DEAP (SEED only)")
    parser.add_argument("--threads", type=int, help="BDE worker threads (RBT_BDE_THREADS)")
    parser.add_argument("--side-by-side", type=int, default=1, metavar="R",
                        help="rounds of DEAP cold read ahead against one file after another "
                        "(0: none; default 1)")
    parser.add_argument("--seed-baseline", metavar="REV",
                        help="also time the SEED session cold against REV's rbt (a git "
                        "revision), side by side")
    parser.add_argument("--seed-rounds", type=int, default=3, metavar="R",
                        help="rounds of the SEED side by side (default 3)")
    parser.add_argument("--write-deap", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--write-seed", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_deap:
        write_deap(Path(args.write_deap[0]), int(args.write_deap[1]))
        return 0
    if args.write_seed:
        write_seed(Path(args.write_seed))
        return 0
    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="rbt-features-"))
    print(f"work folder {tmp}; {os.cpu_count()} CPUs; [{load_average()}]", flush=True)
    try:
        rows = features_bench(tmp, args.subjects, not args.no_seed, args.threads,
                              reuse=args.reuse and args.tmp is not None,
                              rounds=args.side_by_side, seed_baseline=args.seed_baseline,
                              seed_rounds=args.seed_rounds, deap_files=not args.no_deap)
    finally:
        if not args.keep and args.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
