"""Dataset-wide work on a real Dask cluster (rbt.cluster): folds, files and blocks of windows
give the numbers the in-process run gives, also when a worker is killed mid-run.

One ``distributed.LocalCluster`` of 2 worker processes serves the whole module. The in-process
references run with one torch thread, as each worker task does (CPU reductions split across
threads round differently).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

distributed = pytest.importorskip("distributed")

from formats import make_raw, save_fif  # noqa: E402

from rbt.cli import main  # noqa: E402
from rbt.cluster import SCHEDULER_ENV, connect, run_tasks  # noqa: E402
from rbt.data import load_features  # noqa: E402
from rbt.explain import attribute  # noqa: E402
from rbt.model import RBTransformer, RBTransformerConfig  # noqa: E402
from rbt.train import TrainConfig, fit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(embed_dim=16, depth=1, heads=2, head_dim=8, mlp_hidden_dim=16, dropout=0.1)
TINY_ARGS = ["--embed-dim", "16", "--depth", "1", "--heads", "2", "--head-dim", "8",
             "--mlp-hidden-dim", "16", "--epochs", "1", "--folds", "2"]


@pytest.fixture(scope="module", autouse=True)
def _spawn_safe_main(process_main):
    """Workers are spawned processes: they must not start by running a dashboard page that an
    earlier AppTest in this process left as ``__main__``."""
    return process_main


@pytest.fixture(scope="module")
def cluster():
    with connect(workers=2, dashboard_address=":0", announce=False) as c:
        c.client.wait_for_workers(2, timeout=60)
        yield c


@pytest.fixture
def one_thread():
    """In-process references with one torch thread, as the workers' tasks."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small(demo_valence):
    """Two subjects of the demo, every third window: folds of a fraction of a second."""
    fs, _ = demo_valence
    keep = fs.table["subject"].isin(["s01", "s02"]).to_numpy()
    keep = keep & (np.arange(len(fs)) % 3 == 0)
    return fs.subset(keep)


def _train(fs, out, cluster=None, epochs=1):
    cfg = TrainConfig(epochs=epochs, batch_size=32, late_batch_size=16, model=TINY)
    return fit(fs, split="trial-kfold", folds=2, per_subject=True, config=cfg, device="cpu",
               out=out, keep_fold_models=True, progress=False, command="test", cluster=cluster)


def _same_files(a: Path, b: Path) -> None:
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert "metrics.json" in map(str, names) and len(names) > 4
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def reference(small, tmp_path_factory):
    """The in-process run: metrics.json, the final model and every fold's model."""
    out = tmp_path_factory.mktemp("in-process") / "model"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train(small, out)
    finally:
        torch.set_num_threads(before)
    return out


def test_folds_on_the_cluster_write_what_in_process_writes(small, reference, cluster,
                                                          tmp_path):
    _, metrics = _train(small, tmp_path / "model", cluster)
    assert len(metrics["folds"]) == 4  # 2 subjects x 2 folds, one task each
    assert [f["subject"] for f in metrics["folds"]] == ["s01", "s01", "s02", "s02"]
    _same_files(reference, tmp_path / "model")  # metrics.json, checkpoint, fold models


def test_a_run_interrupted_after_some_folds_resumes_on_the_cluster(small, reference, cluster,
                                                                   tmp_path, capfd):
    out = tmp_path / "model"
    out.mkdir()
    done = json.loads((reference / "metrics.json").read_text())
    # what an interrupted run leaves: the progress of its first two folds (and their models)
    state = {"run_key": done["run_key"], "folds": {"0": done["folds"][0], "1": done["folds"][1]}}
    (out / "progress.json").write_text(json.dumps(state))
    for k in (1, 2):
        src = reference / "folds" / f"fold_{k}"
        (out / "folds" / f"fold_{k}").mkdir(parents=True)
        for f in src.iterdir():
            (out / "folds" / f"fold_{k}" / f.name).write_bytes(f.read_bytes())
    _train(small, out, cluster)
    assert "2 fold(s) already finished" in capfd.readouterr().err
    _same_files(reference, out)


@pytest.mark.parametrize("kill", ["one", "all"])
def test_workers_killed_mid_run_cost_only_their_tasks(small, cluster, one_thread, tmp_path,
                                                      kill):
    """Killing every worker also loses the inputs scattered to them (Dask's memory manager
    may have left one copy anyway): the tasks left are sent again, with the inputs."""
    expected = _train(small, tmp_path / "here", epochs=10)[1]
    client = cluster.client
    pids = client.run(os.getpid)
    result, errors = {}, []

    def run():
        try:
            result["metrics"] = _train(small, tmp_path / "there", cluster, epochs=10)[1]
        except Exception as err:  # noqa: BLE001 - the test reports it
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    victim, deadline = None, time.monotonic() + 60
    while victim is None and thread.is_alive() and time.monotonic() < deadline:
        busy = {w: keys for w, keys in client.processing().items()
                if any(str(k).startswith("rbt-fold_task") for k in keys)}
        victim = next(iter(busy), None)
        time.sleep(0.02)
    assert victim is not None, "no fold was seen running"
    victims = [victim] if kill == "one" else list(pids)
    for worker in victims:
        os.kill(pids[worker], signal.SIGKILL)  # the worker process, mid-fold
    thread.join(180)
    assert not errors and not thread.is_alive()
    assert not set(victims) & set(client.scheduler_info()["workers"])  # the killed are gone
    for m in (expected, result["metrics"]):
        m.pop("command")
    assert result["metrics"] == expected  # every fold, rerun or not, as in-process
    client.wait_for_workers(2, timeout=60)  # the nanny restarted them for the next tests


def _recordings(folder: Path) -> Path:
    for i in range(3):
        save_fif(make_raw(seconds=12 + 4 * i, seed=i), folder / f"sub{i + 1}_raw.fif")
    return folder


def test_features_of_a_folder_are_the_same_and_cached_where_the_workers_share(
        cluster, tmp_path, rbt_cache):
    folder = _recordings(tmp_path / "recordings")
    here = load_features("raw", folder, use_cache=False, progress=False)
    calls = []
    there = load_features("raw", folder, cluster=cluster, progress=False,
                          on_file=lambda *a: calls.append(a))
    names = sorted(p.name for p in folder.iterdir())
    assert calls[0] == (0, 3, names[0]) and calls[-1] == (3, 3, "")
    # as each finishes, in finishing order: the one that finished (the last is said by the end)
    assert [c[:2] for c in calls[1:-1]] == [(1, 3), (2, 3)]
    assert len({c[2] for c in calls[1:-1]}) == 2 and {c[2] for c in calls[1:-1]} < set(names)
    np.testing.assert_array_equal(here.X, there.X)
    assert here.X.tobytes() == there.X.tobytes()
    assert here.table.equals(there.table) and here.notes == there.notes
    assert here.ch_names == there.ch_names and here.params == there.params
    cached = sorted((rbt_cache / "features").glob("*.npz"))  # one per recording, by the workers
    assert len(cached) == 3
    stamps = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in cached]
    again = load_features("raw", folder, cluster=cluster, progress=False)
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in cached] == stamps  # not rewritten
    assert again.X.tobytes() == here.X.tobytes()


def test_a_folders_unreadable_file_is_left_out_on_the_cluster_as_in_process(cluster, tmp_path):
    folder = _recordings(tmp_path / "recordings")
    (folder / "broken.edf").write_bytes(b"")
    save_fif(make_raw(["EEG 1", "EEG 2", "EEG 3"], seconds=12), folder / "numbered_raw.fif")
    here = load_features("raw", folder, use_cache=False, progress=False, skip_unreadable=True)
    there = load_features("raw", folder, use_cache=False, progress=False, cluster=cluster,
                          skip_unreadable=True)
    assert there.X.tobytes() == here.X.tobytes() and there.notes == here.notes
    assert any(f"{folder / 'broken.edf'}: the file is empty" in n for n in there.notes)
    # an error with arguments of its own comes back from the worker as it was raised
    assert any("3 channel name(s) in " in n and "EEG 1, EEG 2, EEG 3" in n for n in there.notes)


def test_rbt_features_on_a_scheduler_writes_the_same_file(cluster, tmp_path, capsys):
    folder = _recordings(tmp_path / "recordings")
    address = cluster.client.scheduler.address
    assert main(["features", "--source", "raw", "--path", str(folder), "--no-cache",
                 "--out", str(tmp_path / "here.npz")]) == 0
    assert main(["features", "--source", "raw", "--path", str(folder), "--scheduler", address,
                 "--out", str(tmp_path / "there.npz")]) == 0
    assert f"Dask: running on {address}" in capsys.readouterr().err
    with np.load(tmp_path / "here.npz") as a, np.load(tmp_path / "there.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RBTransformer(RBTransformerConfig(num_electrodes=32, bde_dim=4, num_classes=2,
                                             **{**TINY, "dropout": 0.0})).eval()


@pytest.mark.parametrize("method, options", [
    ("integrated_gradients", {"n_steps": 2, "tolerance": 1e-8}),  # adaptive: some raised
    ("gradient_shap", {"baseline": "sample", "n_samples": 3}),  # random draws
    ("saliency", {"smoothgrad": True, "nt_samples": 3}),  # noise
])
def test_attributions_in_blocks_on_the_cluster_are_the_bits_in_process(
        small, model, cluster, one_thread, method, options):
    X = small.X[:150]
    kw = dict(method=method, internal_batch_size=64, seed=7, with_report=True, **options)
    here, report = attribute(model, X, **kw)
    there, theirs = attribute(model, X, cluster=cluster, **kw)
    assert here.dtype == there.dtype == np.float32
    assert here.tobytes() == there.tobytes()
    if report is not None:
        assert report.raised > 0  # the adaptive rule was exercised
        np.testing.assert_array_equal(report.n_steps, theirs.n_steps)
        np.testing.assert_array_equal(report.delta, theirs.delta)


def test_rbt_train_and_explain_on_a_scheduler_match_in_process(small, cluster, tmp_path,
                                                               one_thread, monkeypatch,
                                                               capsys):
    common = ["--source", "demo", "--seed", "0"]
    assert main(["train", *common, *TINY_ARGS, "--out", str(tmp_path / "here")]) == 0
    monkeypatch.setenv(SCHEDULER_ENV, cluster.client.scheduler.address)  # as --scheduler
    assert main(["train", *common, *TINY_ARGS, "--out", str(tmp_path / "there")]) == 0
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("here", "there"))
    for m in (a, b):
        m.pop("command")
    assert a == b and len(a["folds"]) == 2
    assert (tmp_path / "here" / "model.safetensors").read_bytes() == \
        (tmp_path / "there" / "model.safetensors").read_bytes()
    explain = ["explain", "--model", str(tmp_path / "here"), *common, "--subjects", "s01",
               "--n-steps", "4", "--internal-batch-size", "64", "--threads", "1",
               "--attention", "rollout,0"]
    assert main([*explain, "--out", str(tmp_path / "there.npz")]) == 0
    assert "the attention computed here, on the CPU" in capsys.readouterr().out
    monkeypatch.delenv(SCHEDULER_ENV)
    assert main([*explain, "--out", str(tmp_path / "here.npz")]) == 0
    with np.load(tmp_path / "here.npz") as x, np.load(tmp_path / "there.npz") as y:
        assert sorted(x.files) == sorted(y.files)
        for k in ("attributions", "probs", "pred", "target", "attention", "rollout"):
            assert x[k].tobytes() == y[k].tobytes(), k  # predictions in tasks too
        np.testing.assert_array_equal(x["ig_n_steps"], y["ig_n_steps"])


def test_gpu_tasks_need_a_worker_that_offers_a_gpu(cluster):
    with pytest.raises(ValueError, match="no worker of the Dask cluster offers a 'GPU'"):
        run_tasks(cluster, dict, [{"x": 1}], gpu=True, progress=False)
    tasks = [{"x": i} for i in range(5)]
    assert run_tasks(cluster, dict, tasks, shared={"y": 0}, progress=False) == \
        [{**t, "y": 0} for t in tasks]  # in task order


def test_a_scheduler_or_workers_not_both(cluster):
    with pytest.raises(ValueError, match="not both"):
        connect("tcp://127.0.0.1:1", workers=2)
    assert connect(env={}) is None  # neither: in-process
    with connect(env={SCHEDULER_ENV: cluster.client.scheduler.address},
                 announce=False) as c:
        assert c.n_workers == 2 and c.local is None
    assert cluster.client.status == "running"  # a given scheduler is never closed


def test_without_dask_only_the_cluster_options_fail_and_they_say_what_to_install(tmp_path):
    data = ["features", "--source", "raw", "--path",
            str(save_fif(make_raw(seconds=8), tmp_path / "rec_raw.fif")), "--out"]
    probe = (
        "import sys\n"
        "sys.modules['distributed'] = None\n"  # as if dask[distributed] were not installed
        "from rbt.cli import main\n"
        f"assert main({[*data, str(tmp_path / 'a.npz')]!r}) == 0\n"
        f"code = main({[*data, str(tmp_path / 'b.npz'), '--workers', '2']!r})\n"
        "assert code == 2, code\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "RBT_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert "rbt features: error:" in done.stderr
    assert "pip install 'rbt[cluster]'" in done.stderr
    assert (tmp_path / "a.npz").exists() and not (tmp_path / "b.npz").exists()


def test_folds_side_by_side_in_threads_are_seeded_alone(small, one_thread):
    """A worker running tasks in threads (dask worker --nthreads 2) trains the same models:
    torch's global generator, which dropout draws from, is one model's at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from rbt.train import fold_task

    def weights(seed):
        cfg = TrainConfig(epochs=3, batch_size=16, late_batch_size=8, seed=seed, model=TINY)
        _, m = fold_task(small.X, small.y, None, None, 2, cfg, "cpu", keep_model=True)
        return torch.cat([p.detach().flatten() for p in m.parameters()])

    alone = [weights(s) for s in (1, 2, 3, 4)]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(weights, (1, 2, 3, 4)))
    assert all(torch.equal(a, b) for a, b in zip(alone, together))
    assert not torch.equal(alone[0], alone[1])


def test_the_local_workers_keep_glibcs_dynamic_mmap_threshold(cluster):
    """Dask's default MALLOC_TRIM_THRESHOLD_ makes every tensor above 128 KiB a fresh mmap
    (13x slower elementwise ops measured); rbt's local cluster leaves it unset."""
    got = cluster.client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert len(got) == 2 and set(got.values()) == {os.environ.get("MALLOC_TRIM_THRESHOLD_")}


def test_a_bad_scheduler_address_fails_at_once_and_says_so(capsys):
    import http.server
    import socket

    with socket.socket() as s:  # a port nothing listens on: refused, not retried for 30 s
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OSError, match=f"Dask scheduler at tcp://127.0.0.1:{port}: .*refused"):
        connect(f"tcp://127.0.0.1:{port}", announce=False)
    with pytest.raises(ValueError, match="'nonsense' is not a Dask scheduler address"):
        connect("nonsense", announce=False)
    # something else listens there and never answers (a web server: Dask's own dashboard
    # port, say), which distributed.Client waits for with no timeout
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = f"tcp://127.0.0.1:{server.server_address[1]}"
        assert main(["features", "--source", "demo", "--out", "x.npz",
                     "--scheduler", address]) == 2
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert f"rbt features: error: what answers at {address} is not a Dask scheduler" in err
    assert "out of memory" not in err


# --- devices: resolved where each task runs, never on the client --------------------------

@pytest.fixture(scope="module")
def gpu_cluster():
    """One worker that offers a 'GPU' resource, on this machine whose torch sees no CUDA: a
    task that resolves cuda there fails, on that worker, saying so."""
    with connect(workers=1, resources={"GPU": 1}, dashboard_address=":0",
                 announce=False) as c:
        c.client.wait_for_workers(1, timeout=60)
        yield c


def _resolved_here(device):
    return str(device), os.getpid()


no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


def test_a_task_gets_its_device_resolved_on_its_worker(cluster, gpu_cluster):
    from rbt.cluster import task_device

    pids = set(cluster.client.run(os.getpid).values())
    got = run_tasks(cluster, _resolved_here, [{}, {}], device="auto", progress=False)
    assert {d for d, _ in got} == {"cpu"} and {p for _, p in got} <= pids  # in the workers
    assert run_tasks(None, _resolved_here, [{}], device="auto", progress=False) == \
        [("cpu", os.getpid())]  # in-process: resolved here
    assert task_device("auto", cluster) == "auto"  # each worker resolves it
    assert task_device("auto", gpu_cluster) == "cuda"  # workers offer GPUs: every task asks
    assert task_device("cuda:1", cluster) == "cuda:1"  # taken as asked, even without CUDA here
    with pytest.raises(ValueError, match="device must be auto, cpu, cuda or mps; got 'gpu'"):
        task_device("gpu", cluster)  # a misspelling is told at once, here
    with pytest.raises(ValueError, match="no worker of the Dask cluster offers a 'GPU'"):
        run_tasks(cluster, _resolved_here, [{}], device="cuda", progress=False)


@no_cuda
def test_cuda_is_resolved_by_the_worker_not_by_a_client_without_cuda(gpu_cluster, small):
    from rbt.cluster import task_device

    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        task_device("cuda", None)  # in-process the client resolves it: a clear error
    address = gpu_cluster.client.scheduler_info()["workers"].keys()
    cfg = TrainConfig(epochs=1, batch_size=32, late_batch_size=16, model=TINY)
    # "auto" on GPU workers asks each fold for a GPU and cuda, which this worker lacks
    with pytest.raises(ValueError, match=rf"the Dask worker at ({'|'.join(address)}) cannot "
                       r"run on device 'cuda': .*sees no CUDA GPU"):
        fit(small, folds=2, config=cfg, device="auto", progress=False, train_final=False,
            cluster=gpu_cluster)
    _, metrics = fit(small, folds=2, config=cfg, device="cpu", progress=False,
                     train_final=False, cluster=gpu_cluster)
    assert [f["device"] for f in metrics["folds"]] == ["cpu", "cpu"]  # what the tasks ran on


@no_cuda
def test_rbt_train_and_explain_leave_cuda_to_the_workers(gpu_cluster, tmp_path, capsys):
    common = ["--source", "demo", "--seed", "0", "--subjects", "s01"]
    assert main(["train", "--source", "demo", *TINY_ARGS, "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    worker = next(iter(gpu_cluster.client.scheduler_info()["workers"]))
    address = gpu_cluster.client.scheduler.address
    runs = {
        "train": ["train", "--source", "demo", *TINY_ARGS, "--out", str(tmp_path / "t")],
        "explain": ["explain", "--model", str(tmp_path / "m"), *common, "--n-steps", "2",
                    "--out", str(tmp_path / "e.npz")],
    }
    for command, argv in runs.items():
        # without a scheduler this machine resolves cuda, and has none
        assert main([*argv, "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert f"rbt {command}: error: device 'cuda' was asked for but this torch build " \
            "sees no CUDA GPU" in err and "Dask worker" not in err
        # with one, the client leaves it to the worker (whose resolution fails here)
        assert main([*argv, "--device", "cuda", "--scheduler", address]) == 2
        err = capsys.readouterr().err
        assert f"rbt {command}: error: the Dask worker at {worker} cannot run on device " \
            "'cuda'" in err, err
    assert not (tmp_path / "e.npz").exists()


def test_the_local_workers_freeze_the_collector_as_they_close(cluster):
    """The interpreter's last collection over torch's objects kept a local cluster's close
    waiting for its workers' exit (2.6 s for 2); every worker, a restarted one too (the
    killed worker's, earlier in this module), freezes the collector as it closes."""
    plugins = cluster.client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert len(plugins) == 2 and all("rbt-fast-exit" in p for p in plugins.values())
