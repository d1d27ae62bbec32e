"""The dashboard at any size: predictions of every window in the background (the same table
as predicting directly), a stoppable pass, and caches bounded in bytes (AppTest, the real app
on the demo data with the shipped checkpoint)."""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_app
from test_app import ACROSS, TRIAL, app, assert_fine, demo_cache  # noqa: F401

from rbt import infer
from rbt.checkpoint import load_checkpoint
from rbt.explain import group_pass
from rbt.model_fit import fit_data

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"

byte_cache = importlib.import_module("byte_cache")  # app modules: test_app put app/ on sys.path
background = importlib.import_module("background")
common = importlib.import_module("common")
group_work = importlib.import_module("group_work")


def _forget(cache) -> None:
    """Empty one of the app's process-wide caches: earlier tests in this process filled it."""
    for key in list(cache._items):
        cache.pop(key)


def _settled(at, seconds: float = 120):
    """Rerun while the pass over every window draws its progress (a busy machine)."""
    end = time.monotonic() + seconds
    while at.get("progress") and time.monotonic() < end:
        time.sleep(0.3)
        at.run()
    return at


def test_the_background_predictions_give_the_table_of_predicting_directly(demo_valence):
    _forget(background.RESULTS)
    at = _settled(app(ACROSS))
    assert_fine(at)
    shown = at.dataframe[0].value
    fs, _ = demo_valence
    fit = fit_data(load_checkpoint(DEMO), fs)
    p = infer.predict(fit, device="cpu")
    direct = infer.prediction_table(fit, p.probs, p.pred)
    assert len(shown) == len(direct) == len(fs)
    pd.testing.assert_frame_equal(shown.reset_index(drop=True)[list(direct.columns)], direct,
                                  check_dtype=False, atol=1e-5)
    # the pass ran once for these data and this model; a second visit finds its result
    keys = [k for k in background.RESULTS._items if k[0] == "pass" and k[-1] is True]
    assert len(keys) == 1
    again = _settled(app(ACROSS))
    pd.testing.assert_frame_equal(again.dataframe[0].value, shown)


def test_a_pass_can_be_stopped_and_its_error_is_kept(demo_valence):
    fs, _ = demo_valence
    model = load_checkpoint(DEMO).model.eval()
    started = threading.Event()

    def work(report, stopped):
        def progress(done, total):
            report(done, total)
            started.set()
            time.sleep(0.05)
        return group_pass(model, fs.X, {"s": np.zeros(len(fs))}, device="cpu", batch_size=32,
                          on_progress=progress, stop=stopped)
    job = background.job(("test-stop", 1), work)
    assert background.job(("test-stop", 1), work) is job  # started once
    assert started.wait(60)
    job.stop()
    assert job.wait(60) and job.result is None and 0 < job.done < len(fs)
    assert background.running(("test-stop", 1)) is None  # stopped: a new ask starts again

    def broken(report, stopped):
        raise ValueError("no good")
    failed = background.job(("test-fail", 1), broken)
    assert failed.wait(10) and isinstance(failed.error, ValueError)
    assert background.job(("test-fail", 1), broken) is failed  # shown, not retried


def test_the_table_is_drawn_while_the_pass_goes_on_its_predictions_filling_in(demo_valence,
                                                                            monkeypatch):
    """The pass over every window held after its first batch (a gate in its progress
    callback), as a large dataset's is for a while: the page draws the table with every
    window and the first batch's predictions, the BDE means, and says what comes later."""
    at = app(ACROSS)
    monkeypatch.setattr(group_work, "SMALL_WINDOWS", 0)  # the demo drawn as large data are
    assert_fine(at)
    key = ("pass", *at.session_state["_loaded_key"], True)
    fs, _ = demo_valence
    fit = fit_data(load_checkpoint(DEMO), fs)
    model = load_checkpoint(DEMO).model.eval()
    _forget(background.RESULTS)
    gate = threading.Event()

    def work(report, stopped):
        probs = np.zeros((len(fs), 2), np.float32)

        def progress(done, total):
            report(done, total, probs)
            while done == 256 and not gate.wait(0.05) and not stopped():
                pass
        return group_pass(model, fit.X, common.pass_groups(fit), class_names=fit.class_names,
                          device="cpu", batch_size=256, on_progress=progress, stop=stopped,
                          out=probs)
    job = background.job(key, work)
    try:
        deadline = time.monotonic() + 60
        while job.done < 256 and time.monotonic() < deadline:
            time.sleep(0.05)
        at.run()
        assert_fine(at)
        assert at.get("progress")
        table = at.dataframe[0].value.reset_index(drop=True)
        p = infer.predict(fit, device="cpu")
        assert len(table) == len(fs) and table["true"].notna().all()
        first = f"p_{fit.class_names[0]}"
        np.testing.assert_allclose(table[first][:256], p.probs[:256, 0], atol=1e-6)
        assert (table["predicted"][:256] == np.asarray(fit.class_names)[p.pred[:256]]).all()
        assert table["predicted"][256:].isna().all() and table[first][256:].isna().all()
        text = " ".join(c.value for c in at.caption)
        assert "256 of 1,440 predicted so far" in text
        assert any("drawn when every window is predicted" in i.value for i in at.info)
        assert at.radio(key="x_outcome").disabled
        assert any("Mean BDE: high" in str(f["layout"]) for f in test_app.figures(at))
        at.radio(key="x_quantity").set_value("attention").run()
        assert any("attention means come from the pass" in i.value for i in at.info)
    finally:
        gate.set()
    assert job.wait(60) and job.result is not None
    _settled(at.run())
    assert_fine(at)
    assert not at.get("progress")
    assert at.dataframe[0].value["predicted"].notna().all()
    assert any("receives" in str(f["layout"]) for f in test_app.figures(at))


def test_the_byte_cache_evicts_by_size_and_computes_once():
    c = byte_cache.ByteLRU(3000)
    for k in "abc":
        c.put(k, np.zeros(100))  # 800 bytes each
    assert c.nbytes == 2400 and len(c) == 3
    c.get("a")  # now the most recent
    c.put("d", np.zeros(200))  # 1600 bytes: b and c go, a stays
    assert set(c._items) == {"a", "d"} and c.nbytes == 2400
    big = c.put("e", np.zeros(1000))  # larger than the budget: returned, not kept
    assert big.shape == (1000,) and "e" not in c and c.nbytes == 2400
    with pytest.raises(ValueError):
        c.get("a")[0] = 1.0  # shared between sessions: read-only
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return np.ones(10)
    threads = [threading.Thread(target=c.get_or_compute, args=("f", slow)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and "f" in c


def test_visiting_many_trials_keeps_their_attention_within_its_budget(monkeypatch):
    _forget(common.ATTENTION)
    at = app(TRIAL)
    assert_fine(at)
    one = common.ATTENTION.nbytes  # one trial's attention (18 windows)
    assert one > 0
    monkeypatch.setattr(common.ATTENTION, "budget", 2 * one + 1)
    for trial in [(1, t) for t in range(2, 7)]:
        at.selectbox(key="sel_trial").set_value(trial).run()
        assert_fine(at)
        assert common.ATTENTION.nbytes <= 2 * one + 1 and len(common.ATTENTION) <= 2


def test_predictions_rbt_predict_wrote_are_opened_instead_of_computed(tmp_path, demo_valence):
    from rbt.cli import main

    out = tmp_path / "predictions.csv"
    assert main(["predict", "--model", str(DEMO), "--source", "demo", "--device", "cpu",
                 "--out", str(out)]) == 0
    written = pd.read_csv(out)
    swapped = written.assign(p_low=written["p_high"], p_high=written["p_low"])
    swapped.to_csv(tmp_path / "swapped.csv", index=False)  # not what the model says
    at = app(ACROSS)
    _forget(background.RESULTS)  # as after the Stop button, before the pass was done
    at.session_state["_x_pass_stopped"] = True
    at.run()
    assert any("Stopped: predicting every window" in i.value for i in at.info)
    try:
        at.text_input(key="x_pred_path").input(str(tmp_path / "swapped.csv")).run()
        assert_fine(at)
        shown = at.dataframe[0].value.reset_index(drop=True)
    finally:  # the swapped predictions are the process's now: the next tests compute theirs
        for key in [k for k in background.RESULTS._items if k[0] == "pass"]:
            background.RESULTS.pop(key)
    np.testing.assert_allclose(shown["p_high"], swapped["p_high"], atol=1e-6)
    assert (shown["predicted"] == np.where(swapped["p_high"] > swapped["p_low"], "high",
                                           "low")).all()
    # a file of other windows says which window it lacks and what to do
    fs, _ = demo_valence
    fit = fit_data(load_checkpoint(DEMO), fs)
    from rbt.predictions_file import read_predictions

    written.iloc[5:].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ValueError, match=r"no prediction for 5 of the 1,440 windows \(the "
                                         r"first: subject s01.*Run rbt predict on these data"):
        read_predictions(tmp_path / "short.csv", fit)
    written.drop(columns="p_low").to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(ValueError, match="missing p_low"):
        read_predictions(tmp_path / "other.csv", fit)


def test_the_attention_rbt_predict_wrote_beside_its_predictions_gives_the_maps_at_once(
        tmp_path, demo_valence):
    from rbt.cli import main
    from rbt.explain import group_attention_mean
    from rbt.predictions_file import (
        NpyRows,
        attention_files,
        read_attention,
        read_predictions_rows,
    )

    out = tmp_path / "predictions.csv"
    assert main(["predict", "--model", str(DEMO), "--source", "demo", "--device", "cpu",
                 "--out", str(out), "--attention"]) == 0
    at = _settled(app(ACROSS))
    key = ("pass", *at.session_state["_loaded_key"])
    by_model = background.RESULTS.get(key + (True,))  # the model's own pass over the windows
    assert by_model is not None and not by_model.stored
    _forget(background.RESULTS)
    at.session_state["_x_pass_stopped"] = True  # as after Stop, before the pass was done
    at.run()
    try:
        at.text_input(key="x_pred_path").input(str(out)).run()
        at.radio(key="x_quantity").set_value("attention").run()
        assert_fine(at)
        assert not at.get("progress")  # no pass: the maps are drawn at once
        text = " ".join(c.value for c in at.caption)
        assert "from the attention `rbt predict --attention` wrote" in text
        assert "720 windows of high" in text
        stored = background.RESULTS.get(key + (True,))
        table = background.RESULTS.get(key + (False,))  # drawn at once, then the attention read
        assert stored.stored and (table.probs == stored.probs).all()
        for block, head in [("rollout", "mean"), (1, 2), (3, "mean")]:
            for g in ("high", "low"):  # float16 on disk: a few 1e-4 at most
                np.testing.assert_allclose(
                    group_attention_mean(stored.sums, "true", g, block, head),
                    group_attention_mean(by_model.sums, "true", g, block, head), atol=5e-4)
        np.testing.assert_allclose(stored.probs, by_model.probs, atol=1e-6)
    finally:  # the file's results are the process's now: the next tests compute theirs
        for k in [k for k in background.RESULTS._items if k[0] == "pass"]:
            background.RESULTS.pop(k)
    # what does not fit is named; the rollout alone is no attention for every block
    fit = fit_data(load_checkpoint(DEMO), demo_valence[0])
    _, _, rows = read_predictions_rows(out, fit)
    files = attention_files(out)
    np.save(files["rollout"], np.zeros((3, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r"predictions\.rollout\.npy: expected float32 of shape "
                                         r"\(1440, 32, 32\).*found float32 of shape \(3, 32, 32\)"):
        read_attention(out, fit, rows)
    np.save(files["rollout"], written := np.arange(5 * 4, dtype=np.float32).reshape(5, 2, 2))
    rows_of = NpyRows(files["rollout"])  # read on demand: slices and runs of rows
    assert (rows_of[1:3] == written[1:3]).all() and (rows_of[[0, 3, 4]] == written[[0, 3, 4]]).all()
    files["attention"].unlink()
    assert read_attention(out, fit, rows) is None
