"""Attention streamed to disk: the same numbers as in memory, with memory bounded."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import torch

from rbt.attention_store import AttentionChoice, AttentionWriter, parse_attention
from rbt.checkpoint import save_checkpoint
from rbt.cli import main
from rbt.device import torch_threads
from rbt.explain import attention_rollout, load_explanation
from rbt.infer import predict_array
from rbt.model import RBTransformer


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return RBTransformer(num_electrodes=8, embed_dim=16, depth=3, heads=2, head_dim=8,
                         mlp_hidden_dim=16).eval()


def _windows(n, e=8):
    return np.random.default_rng(2).standard_normal((n, e, 4)).astype(np.float32)


@pytest.mark.parametrize("text", ["full,rollout", "rollout", "0,-1", "rollout,1"])
def test_streamed_attention_is_what_memory_holds(model, tmp_path, text):
    X = _windows(53)
    whole = predict_array(model, X, batch_size=16, attention=True)
    choice = parse_attention(text)
    paths = {"attention": tmp_path / "a.npy", "rollout": tmp_path / "r.npy"}
    with AttentionWriter(choice, len(X), 3, 2, 8, paths) as writer:
        streamed = predict_array(model, X, batch_size=16, attention_to=writer)
    np.testing.assert_array_equal(streamed.probs, whole.probs)
    assert streamed.attention is None
    blocks = choice.block_list(3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ([] if not blocks else ["a.npy"]) + (["r.npy"] if choice.rollout else []))
    if blocks:
        att = np.load(paths["attention"], mmap_mode="r")
        assert att.dtype == np.float16 and att.shape == (53, len(blocks), 2, 8, 8)
        np.testing.assert_allclose(att, whole.attention[:, blocks], rtol=1e-3, atol=1e-4)
    if choice.rollout:
        roll = np.load(paths["rollout"])
        assert roll.dtype == np.float32
        np.testing.assert_array_equal(roll, attention_rollout(whole.attention))
    size = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert size - choice.bytes_per_window(3, 2, 8) * 53 < 400  # the .npy headers


def test_memory_stays_one_batch(model, tmp_path):
    X = _windows(3000)
    choice = AttentionChoice("all", True)
    total = choice.bytes_per_window(3, 2, 8) * len(X)  # 2.3 MB float16 + float32
    paths = {"attention": tmp_path / "a.npy", "rollout": tmp_path / "r.npy"}
    predict_array(model, X[:64], batch_size=64, attention=True)  # warm up
    tracemalloc.start()
    try:
        with AttentionWriter(choice, len(X), 3, 2, 8, paths) as writer:
            predict_array(model, X, batch_size=64, attention_to=writer)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < total / 10, (peak, total)
    assert np.load(paths["rollout"], mmap_mode="r").shape == (3000, 8, 8)


def test_a_failed_run_leaves_no_file(model, tmp_path):
    paths = {"attention": tmp_path / "a.npy", "rollout": tmp_path / "r.npy"}
    with pytest.raises(ValueError, match="wrote 10 of 20 rows"):
        with AttentionWriter(AttentionChoice("all", True), 20, 3, 2, 8, paths) as writer:
            predict_array(model, _windows(10), attention_to=writer)
            writer.close()
    assert list(tmp_path.iterdir()) == []


def test_choices_are_parsed_and_checked():
    assert parse_attention("full") == AttentionChoice("all", False)
    assert parse_attention(" Rollout , 3 ") == AttentionChoice((3,), True)
    assert AttentionChoice((3, -1), False).block_list(4) == [3]
    assert AttentionChoice((), True).bytes_per_window(4, 6, 32) == 32 * 32 * 4
    assert AttentionChoice("all", False).bytes_per_window(4, 6, 32) == 4 * 6 * 32 * 32 * 2
    for bad, words in (("", "say what to keep"), ("heads", "'heads' is neither full, rollout")):
        with pytest.raises(ValueError, match=words):
            parse_attention(bad)
    with pytest.raises(ValueError, match="the model has 4 blocks \\(0 to 3\\); got block 4"):
        AttentionChoice((4,), False).block_list(4)


def test_batches_side_by_side_give_the_same_outputs_in_order(model, tmp_path):
    X = _windows(301)
    one = predict_array(model, X, batch_size=16, attention=True)
    seen = []
    paths = {"attention": tmp_path / "a.npy", "rollout": tmp_path / "r.npy"}
    with AttentionWriter(parse_attention("full,rollout"), len(X), 3, 2, 8, paths) as writer:
        side = predict_array(model, X, batch_size=16, attention_to=writer, workers=3,
                             on_progress=seen.append)
    np.testing.assert_allclose(side.probs, one.probs, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(side.pred, one.pred)
    np.testing.assert_array_equal(np.load(paths["attention"]), one.attention.astype(np.float16))
    np.testing.assert_allclose(np.load(paths["rollout"]), attention_rollout(one.attention),
                               atol=1e-6)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 19  # in order, each batch


def test_a_batch_that_fails_in_a_worker_raises_its_error(model):
    with pytest.raises(ValueError, match="expected input of shape \\(batch, 8 electrodes"):
        predict_array(model, _windows(64, e=7), batch_size=8, workers=2)
    X = _windows(64)
    X[40] = np.nan  # that window's outputs are not finite: refused as without workers
    with pytest.raises(ValueError, match="not finite .* for 1 of 64"):
        predict_array(model, X, batch_size=8, workers=2)


def test_batch_workers_take_every_cpu_unless_told(monkeypatch):
    from rbt.device import _cpus, use_batch_workers

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("RBT_TORCH_THREADS", raising=False)
        assert use_batch_workers() == _cpus() and torch.get_num_threads() == 1
        monkeypatch.setenv("RBT_TORCH_THREADS", "1")
        assert use_batch_workers() == 1 and use_batch_workers(3) == 3
    finally:
        torch.set_num_threads(before)


def test_thread_count_never_exceeds_the_free_cores():
    assert torch_threads({}, load=0.2, cpus=2) == 2
    assert torch_threads({}, load=1.3, cpus=2) == 1
    assert torch_threads({}, load=7.0, cpus=2) == 1
    assert torch_threads({"RBT_TORCH_THREADS": "3"}, load=7.0, cpus=8) == 3
    assert torch_threads({"RBT_TORCH_THREADS": "64"}, load=0, cpus=8) == 8
    assert torch_threads({"RBT_TORCH_THREADS": "x"}, load=0, cpus=4) == 4


@pytest.fixture
def demo_model(demo_valence, monkeypatch, tmp_path):
    fs, folder = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    torch.manual_seed(0)
    model = RBTransformer(num_electrodes=32, embed_dim=16, depth=2, heads=2, head_dim=8,
                          mlp_hidden_dim=16).eval()
    save_checkpoint(model, tmp_path / "model")
    return model, fs, tmp_path / "model"


def test_cli_predict_writes_the_chosen_attention_and_says_its_size(demo_model, tmp_path,
                                                                   capsys):
    model, fs, folder = demo_model
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(folder), "--source", "demo", "--out", str(out),
                 "--attention", "rollout,1", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    per = 2 * 32 * 32 * 2 + 32 * 32 * 4
    assert f"the attention of block 1 (float16) and the rollout (float32): {per:,} bytes a " \
           f"window, {per * len(fs) / 1e6:.1f} MB for {len(fs):,} windows" in text
    att = np.load(tmp_path / "p.attention.npy")
    roll = np.load(tmp_path / "p.rollout.npy")
    whole = predict_array(model, fs.X, attention=True)
    np.testing.assert_allclose(att[:, 0], whole.attention[:, 1], atol=1e-3)
    np.testing.assert_allclose(roll, attention_rollout(whole.attention), atol=1e-6)
    record = json.loads((tmp_path / "p.attention.json").read_text())
    assert record["blocks"] == [1] and record["electrodes"] == list(fs.ch_names)
    # a block the model lacks, and words that mean nothing, are refused before any work
    assert main(["predict", "--model", str(folder), "--source", "demo", "--out", str(out),
                 "--force", "--attention", "5"]) == 2
    assert "the model has 2 blocks (0 to 1); got block 5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(folder), "--source", "demo", "--out", str(out),
              "--attention", "heads"])
    assert "--attention: 'heads' is neither full, rollout nor a block index" \
        in capsys.readouterr().err



def test_cli_predict_never_leaves_an_earlier_runs_attention_beside_new_predictions(
        demo_model, tmp_path, capsys):
    _, _, folder = demo_model
    out = tmp_path / "p.csv"
    run = ["predict", "--model", str(folder), "--source", "demo", "--out", str(out),
           "--threads", "1"]
    assert main(run + ["--attention", "full"]) == 0
    assert (tmp_path / "p.attention.npy").is_file()
    capsys.readouterr()
    # without --force the earlier attention is kept and the run refused, naming it
    (tmp_path / "q.attention.npy").write_bytes((tmp_path / "p.attention.npy").read_bytes())
    assert main([*run[:-4], "--out", str(tmp_path / "q.csv"), "--threads", "1"]) == 2
    assert "q.attention.npy" in capsys.readouterr().err
    assert (tmp_path / "q.attention.npy").is_file() and not (tmp_path / "q.csv").exists()
    # with --force: the rollout replaces the full attention, then no attention replaces both
    assert main(run + ["--force", "--attention", "rollout"]) == 0
    assert "removed " + str(tmp_path / "p.attention.npy") in capsys.readouterr().out
    assert (tmp_path / "p.rollout.npy").is_file() and not (tmp_path / "p.attention.npy").exists()
    assert main(run + ["--force"]) == 0
    assert out.is_file() and not list(tmp_path.glob("p.*.npy"))
    assert not (tmp_path / "p.attention.json").exists()


def test_cli_explain_streams_the_attention_into_its_file(demo_model, tmp_path, capsys):
    model, fs, folder = demo_model
    out = tmp_path / "e.npz"
    assert main(["explain", "--model", str(folder), "--source", "demo", "--subjects", "s01",
                 "--method", "saliency", "--attention", "rollout,0", "--out", str(out)]) == 0
    assert "bytes a window" in capsys.readouterr().out
    keep = (fs.table["subject"].astype(str) == "s01").to_numpy()
    whole = predict_array(model, fs.X[keep], attention=True)
    with np.load(out) as z:
        np.testing.assert_array_equal(z["attention_blocks"], [0])
        np.testing.assert_allclose(z["attention"][:, 0], whole.attention[:, 0], atol=1e-3)
        np.testing.assert_allclose(z["rollout"], attention_rollout(whole.attention), atol=1e-6)
    back = load_explanation(out)  # memory-mapped, not read into memory
    assert isinstance(back.attention, np.memmap) and isinstance(back.rollout, np.memmap)
    np.testing.assert_allclose(back.rollout, attention_rollout(whole.attention), atol=1e-6)
    assert back.attention.shape == (int(keep.sum()), 1, 2, 32, 32)


def test_the_fullsize_bench_runs_its_path_on_a_few_windows(tmp_path):
    from bench.inference import predict_bench

    rows = predict_bench(tmp_path, n=300, device="cpu", batch_size=128,
                         attention=("none", "rollout", "0"), threads=torch.get_num_threads())
    assert [r["attention"] for r in rows] == ["none", "rollout", "0"]
    per = {"none": 0, "rollout": 32 * 32 * 4, "0": 6 * 32 * 32 * 2}
    for r in rows:
        assert 0 <= r["bytes"] - per[r["attention"]] * 300 < 200 and r["rate"] > 0
    assert list(tmp_path.iterdir()) == []  # its temporary folder is gone


def test_the_device_rollout_is_the_numpy_one(model):
    from rbt.attention_store import _rollout_on_device

    att = predict_array(model, _windows(20), attention=True).attention
    np.testing.assert_allclose(_rollout_on_device(torch.from_numpy(att)).numpy(),
                               attention_rollout(att), rtol=1e-5, atol=1e-7)
