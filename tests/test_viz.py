"""Figures (rbt.viz) and the dashboard's computations (rbt.dashboard, rbt.teaching), without
Streamlit."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from rbt import dashboard as dash
from rbt.checkpoint import CheckpointError
from rbt.data.deap import EEG_CHANNELS
from rbt.data.dreamer import CHANNELS as DREAMER_CHANNELS
from rbt.model import RBTransformer, RBTransformerConfig
from rbt.viz import attention as va
from rbt.viz import export, prediction, teaching, topomap

BANDS = ["theta", "alpha", "beta", "gamma"]


def valid(fig: go.Figure) -> go.Figure:
    """The figure functions skip Plotly's validation for speed; validate here instead."""
    assert isinstance(fig, go.Figure)
    spec = fig.to_dict()
    go.Figure(spec)  # raises on any invalid property

    def scales(node):  # colour scales must reach plotly.js resolved ("RdBu_r" is Python-only)
        if isinstance(node, dict):
            for key, value in node.items():
                assert not (key == "colorscale" and isinstance(value, str)), value
                scales(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                scales(value)

    scales(spec)
    return fig


def traces(fig, name):
    return [t for t in fig.data if t.name == name]


# --------------------------------------------------------------------------------------------
# topomaps


@pytest.mark.parametrize("names", [EEG_CHANNELS, DREAMER_CHANNELS], ids=["deap32", "dreamer14"])
def test_interpolation_matches_mne_plot_topomap(names):
    """Our linear operator reproduces the image mne.viz.plot_topomap draws (its public output)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mne

    from rbt.montage import head_sphere, positions_2d

    values = np.random.default_rng(0).standard_normal(len(names))
    fig, ax = plt.subplots()
    im, _ = mne.viz.plot_topomap(values, positions_2d(names), sphere=head_sphere(), res=64,
                                 show=False, axes=ax, contours=0)
    x0, x1, y0, y1 = im.get_extent()
    gx, gy = np.meshgrid(np.linspace(x0, x1, 64), np.linspace(y0, y1, 64))
    ours = (topomap.interpolation_matrix(names, np.column_stack([gx.ravel(), gy.ravel()]))
            @ values).reshape(64, 64)
    theirs = im.get_array()
    drawn = ~np.ma.getmaskarray(theirs)
    assert drawn.sum() > 3000
    np.testing.assert_allclose(ours[drawn], theirs[drawn], atol=1e-6)
    # and the outline is the one MNE draws: head, nose, ears
    lines = [line.get_xydata() for line in ax.lines]
    for line, part in zip(lines, topomap.head_outline().values()):
        np.testing.assert_allclose(line, part.T, atol=1e-12)
    plt.close(fig)


def test_scalp_topomap_interpolated_contours_and_markers():
    values = np.linspace(-1, 2, 32)
    fig = valid(topomap.scalp_topomap(values, EEG_CHANNELS, title="t", contours=True,
                                      highlight=["F4"]))
    assert [t.type for t in fig.data] == ["heatmap", "contour", "scatter", "scatter", "scatter"]
    sensors = traces(fig, "sensors")[0]
    assert list(sensors.text) == EEG_CHANNELS
    np.testing.assert_allclose(sensors.customdata, values)
    z = np.asarray(traces(fig, "map")[0].z, dtype=float)
    assert np.isnan(z).any() and np.isfinite(z).sum() > 0.7 * z.size  # clipped around the head
    assert np.nanmin(z) >= values.min() - 0.5 and np.nanmax(z) <= values.max() + 0.5
    assert fig.layout.coloraxis.cmin == -2 and fig.layout.coloraxis.cmax == 2  # symmetric
    assert len(traces(fig, "head")[0].x) > 100  # circle, nose and ears
    plain = valid(topomap.scalp_topomap(values, EEG_CHANNELS))
    assert len(plain.data) == 4 and not traces(plain, "contours")
    markers = valid(topomap.scalp_topomap(values, EEG_CHANNELS, mode="markers",
                                          symmetric=False))
    assert [t.name for t in markers.data] == ["head", "sensors"]  # no interpolation
    np.testing.assert_allclose(traces(markers, "sensors")[0].marker.color, values)
    assert markers.layout.coloraxis.cmin == -1 and markers.layout.coloraxis.cmax == 2


def test_interpolation_reproduces_a_constant_and_the_sensor_values():
    xs, ys, z = topomap.interpolate(np.full(32, 3.0), EEG_CHANNELS, res=32)
    assert np.allclose(z[np.isfinite(z)], 3.0)
    from rbt.montage import positions_2d

    values = np.random.default_rng(1).standard_normal(32)
    w = topomap.interpolation_matrix(EEG_CHANNELS, positions_2d(EEG_CHANNELS))
    np.testing.assert_allclose(w @ values, values, atol=1e-9)


def test_band_topomaps_shared_and_per_band_scales():
    bde = np.random.default_rng(2).standard_normal((32, 4))
    shared = valid(topomap.band_topomaps(bde, EEG_CHANNELS, BANDS, highlight={"alpha": ["F4"]}))
    assert len(traces(shared, "map")) == 4 and len(traces(shared, "sensors")) == 4
    assert {t.coloraxis for t in traces(shared, "map")} == {"coloraxis"}
    assert [a.text for a in shared.layout.annotations] == [f"<b>{b}</b>" for b in BANDS]
    for t in traces(shared, "sensors"):
        assert list(t.text) == EEG_CHANNELS
    per = valid(topomap.band_topomaps(bde, EEG_CHANNELS, BANDS, shared_scale=False))
    axes = [t.coloraxis for t in traces(per, "map")]
    assert axes == ["coloraxis", "coloraxis2", "coloraxis3", "coloraxis4"]
    for i, ax in enumerate(axes):
        m = np.abs(bde[:, i]).max()
        assert per.layout[ax].cmax == pytest.approx(m)
    with pytest.raises(ValueError, match="expected shape"):
        topomap.band_topomaps(bde[:, :3], EEG_CHANNELS, BANDS)
    with pytest.raises(ValueError, match="mode"):
        topomap.scalp_topomap(bde[:, 0], EEG_CHANNELS, mode="contour")


# --------------------------------------------------------------------------------------------
# attention


def _attention(n=32, seed=3):
    a = np.random.default_rng(seed).random((n, n))
    return a / a.sum(axis=1, keepdims=True)


def test_attention_lines_top_k_and_threshold():
    a = _attention()
    fig = valid(va.attention_lines(a, EEG_CHANNELS, k=7))
    pairs = traces(fig, "pairs")[0]
    assert len(pairs.text) == 7
    off = a.copy()
    np.fill_diagonal(off, -1)
    i, j = np.unravel_index(off.argmax(), a.shape)
    assert pairs.text[0] == f"{EEG_CHANNELS[i]} → {EEG_CHANNELS[j]}"
    assert pairs.customdata[0] == pytest.approx(a[i, j])
    segments = sum(len(t.x) for t in fig.data if t.name.startswith("lines")) // 3
    assert segments == 7
    assert list(traces(fig, "sensors")[0].text) == EEG_CHANNELS
    thr = float(np.sort(off.ravel())[-4])
    fig = valid(va.attention_lines(a, EEG_CHANNELS, k=1000, threshold=thr))
    assert len(traces(fig, "pairs")[0].text) == 4
    empty = valid(va.attention_lines(a, EEG_CHANNELS, k=5, threshold=2.0))
    assert not traces(empty, "pairs")


def test_attention_heatmap_names_on_hover():
    a = _attention()
    fig = valid(va.attention_heatmap(a, EEG_CHANNELS, title="m"))
    (hm,) = fig.data
    assert list(hm.x) == EEG_CHANNELS and list(hm.y) == EEG_CHANNELS
    assert "%{y}" in hm.hovertemplate and "%{x}" in hm.hovertemplate
    np.testing.assert_allclose(hm.z, a)
    with pytest.raises(ValueError, match="32"):
        va.attention_heatmap(a[:5, :5], EEG_CHANNELS)


# --------------------------------------------------------------------------------------------
# predictions


def test_probability_bar_marks_right_and_wrong():
    fig = valid(prediction.probability_bar([0.2, 0.8], ["low", "high"], true=1))
    (bar,) = fig.data
    assert sum(bar.x) == pytest.approx(1.0)
    assert list(bar.y) == ["low", "high (true)"]
    assert bar.marker.color[1] == prediction.CORRECT
    wrong = valid(prediction.probability_bar([0.2, 0.8], ["low", "high"], true=0))
    assert wrong.data[0].marker.color[1] == prediction.WRONG
    unknown = valid(prediction.probability_bar([0.7, 0.3], ["low", "high"]))
    assert unknown.data[0].marker.color[0] == prediction.NEUTRAL


def test_confusion_matrix_and_accuracy_per_trial():
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0, 1, 1, 1, 0])
    fig = valid(prediction.confusion_matrix_figure(y, p, ["low", "high"]))
    np.testing.assert_array_equal(fig.data[0].z, [[1, 1], [1, 2]])
    rates = valid(prediction.confusion_matrix_figure(y, p, ["low", "high"], normalize=True))
    np.testing.assert_allclose(np.asarray(rates.data[0].z).sum(axis=1), 1)
    frame = pd.DataFrame({"subject": ["s1"] * 3 + ["s2"] * 2, "trial": [1, 1, 2, 1, 1],
                          "correct": [True, False, True, True, True]})
    acc = valid(prediction.accuracy_per_trial(frame))
    z = np.asarray(acc.data[0].z, dtype=float)
    assert z.shape == (2, 2)
    assert z[0, 0] == pytest.approx(0.5) and np.isnan(z[1, 1])


# --------------------------------------------------------------------------------------------
# teaching and export


def test_teaching_figures():
    rng = np.random.default_rng(4)
    sig = rng.standard_normal((32, 1280))
    fig = valid(teaching.eeg_traces(sig, EEG_CHANNELS, 128, picks=["F3", "F4", "Cz"],
                                    seconds=6, baseline_s=3, window=(3, 7)))
    assert [t.name for t in fig.data] == ["F3", "F4", "Cz"] and len(fig.layout.shapes) == 2
    filt = {b: rng.standard_normal(512) for b in BANDS}
    fig = valid(teaching.band_pass_figure(rng.standard_normal(512), filt, 128,
                                          dict.fromkeys(BANDS, 1.0), channel="F4"))
    assert len(fig.data) == 5
    fig = valid(teaching.token_heatmap(rng.standard_normal((32, 4)), EEG_CHANNELS, BANDS))
    assert list(fig.data[0].y) == EEG_CHANNELS
    fig = valid(teaching.similarity_heatmap(np.eye(32), EEG_CHANNELS))
    folds = pd.DataFrame({"protocol": ["window-kfold"] * 2 + ["trial-kfold"] * 2,
                          "fold": [1, 2, 1, 2], "accuracy": [0.9, 0.95, 0.6, 0.7]})
    fig = valid(teaching.protocol_comparison(folds, chance=0.5))
    assert list(fig.data[0].x) == ["window-kfold", "trial-kfold"]
    assert fig.data[0].y[1] == pytest.approx(0.65)


def test_export_bytes(tmp_path):
    fig = topomap.scalp_topomap(np.arange(32.0), EEG_CHANNELS)
    html = export.figure_html(fig).decode()
    assert "<html>" in html and "Fp1" in html and "plotly" in html.lower()
    path = tmp_path / "x.npz"
    path.write_bytes(export.arrays_npz({"a": np.eye(2), "names": ["x", "y"]}))
    with np.load(path) as z:
        assert list(z["names"]) == ["x", "y"] and z["a"].shape == (2, 2)
    assert export.table_csv(pd.DataFrame({"a": [1]})).decode().splitlines() == ["a", "1"]
    with pytest.raises(ValueError, match="png"):
        export.figure_image(fig, "gif")


# --------------------------------------------------------------------------------------------
# rbt.dashboard


def test_save_uploads(tmp_path):
    path = dash.save_uploads([("rec.vhdr", b"h"), ("rec.vmrk", b"m"), ("rec.eeg", b"e")],
                             tmp_path)
    assert path.name == "rec.vhdr" and (path.parent / "rec.eeg").read_bytes() == b"e"
    again = dash.save_uploads([("rec.vhdr", b"h"), ("rec.vmrk", b"m"), ("rec.eeg", b"e")],
                              tmp_path)
    assert again == path  # same content, same place: the feature cache can find it again
    with pytest.raises(ValueError, match="accepts up to 1 MB"):
        dash.save_uploads([("big.edf", b"\0" * (2 * 1024**2))], tmp_path, max_mb=1)
    with pytest.raises(ValueError, match="expected one EEG recording"):
        dash.save_uploads([("notes.txt", b"x")], tmp_path)
    with pytest.raises(ValueError, match="not an EEG recording"):
        dash.save_uploads([("a.edf", b"x"), ("b.csv", b"y")], tmp_path)
    with pytest.raises(ValueError, match="no file"):
        dash.save_uploads([], tmp_path)


def _model(n_electrodes, n_classes=2):
    cfg = RBTransformerConfig(num_electrodes=n_electrodes, embed_dim=16, depth=2, heads=2,
                              head_dim=8, mlp_hidden_dim=16, num_classes=n_classes)
    return RBTransformer(cfg).eval()


def test_fit_model_to_data_explains_mismatches(demo_valence):
    fs, _ = demo_valence
    meta = {"ch_names": list(reversed(fs.ch_names)), "bands": {k: list(v) for k, v in
                                                              fs.bands.items()},
            "class_names": ["low", "high"], "target": "valence", "task": "binary",
            "dataset": "demo"}
    f = dash.fit_model_to_data(_model(32), meta, fs)
    assert f.ch_names == meta["ch_names"] and not f.errors and not f.warnings
    np.testing.assert_array_equal(f.X[:, 0], fs.X[:, -1])  # reordered to the model's order
    with pytest.raises(CheckpointError, match="cannot read this data.*14 electrodes"):
        dash.fit_model_to_data(_model(14), {**meta, "ch_names": DREAMER_CHANNELS}, fs)
    from rbt.data import with_labels

    multi = with_labels(dataclasses.replace(fs), "valence", "multi")
    f = dash.fit_model_to_data(_model(32), meta, multi)
    assert f.y is None and "predicts 2 classes" in f.errors[0] and "valence/binary" in f.errors[0]
    arousal = with_labels(dataclasses.replace(fs), "arousal", "binary")
    f = dash.fit_model_to_data(_model(32), meta, arousal)
    assert f.y is not None and "trained to predict valence/binary" in f.warnings[0]
    f = dash.fit_model_to_data(_model(32), {**meta, "class_names": ["calm", "tense"]}, fs)
    assert f.y is None and f.class_names == ["calm", "tense"] and not f.errors
    assert "classes (low, high) are not the model's (calm, tense)" in f.warnings[0]
    f = dash.fit_model_to_data(_model(32), None, fs)
    assert "no rbt metadata" in f.warnings[0] and f.class_names == ["low", "high"]


def test_selection_helpers(demo_valence):
    fs, _ = demo_valence
    f = dash.fit_model_to_data(_model(32), None, fs)
    assert dash.subjects_of(fs.table) == ["s01", "s02", "s03", "s04", "s05"]
    trials = dash.trials_of(fs.table, "s02")
    assert trials[0] == (1, 1) and len(trials) == 16
    rows = dash.trial_rows(fs.table, "s02", 1, 3)
    assert (fs.table.loc[rows, "window"].to_numpy() == np.arange(len(rows))).all()
    probs = np.tile([0.3, 0.7], (len(fs), 1)).astype(np.float32)
    frame = dash.prediction_frame(f, probs, probs.argmax(axis=1))
    assert frame["correct"].sum() == (fs.y == 1).sum()
    wrong = dash.filter_frame(frame, ["s01"], ["low"], "wrong")
    assert set(wrong["subject"]) == {"s01"} and set(wrong["true"]) == {"low"}
    assert not wrong["correct"].any()
    labels = dash.group_labels(f, probs.argmax(axis=1), "class")
    a, b, d = dash.compare_groups(fs.X, labels, "high", "low")
    np.testing.assert_allclose(d, fs.X[fs.y == 1].mean(0) - fs.X[fs.y == 0].mean(0), rtol=1e-5)
    rows = dash.sample_rows(labels, ["high", "low"], 10)
    assert len(rows) == 20 and rows == dash.sample_rows(labels, ["high", "low"], 10)
    assert dash.planted_electrodes("demo", "valence") == {"alpha": ["F4", "AF4", "F8"],
                                                         "theta": ["F3", "AF3", "F7"]}
    assert dash.planted_electrodes("deap", "valence") == {}


def test_protocol_metrics(tmp_path):
    for name, protocol, accs in [("metrics.json", "trial-kfold", [0.6, 0.7]),
                                 ("metrics_window-kfold.json", "window-kfold", [0.9, 0.95])]:
        (tmp_path / name).write_text(json.dumps(
            {"protocol": protocol, "folds": [{"fold": i + 1, "accuracy": a, "macro_f1": a}
                                             for i, a in enumerate(accs)]}))
    df = dash.protocol_metrics(tmp_path)
    assert list(df["protocol"].unique()) == ["trial-kfold", "window-kfold"]
    assert dash.protocol_metrics(tmp_path / "missing").empty


def test_teaching_steps_reproduce_the_features(demo_valence, monkeypatch):
    from rbt import teaching as T

    fs, folder = demo_valence
    monkeypatch.setenv("RBT_CACHE_DIR", str(folder))
    rec = T.demo_recording("s03")
    for trial, window in [(2, 0), (7, 11)]:
        steps = T.window_steps(rec, trial, window, fs.bands)
        i = dash.trial_rows(fs.table, "s03", 1, trial)[window]
        np.testing.assert_allclose(steps.token, fs.X[i], atol=1e-6)
        assert set(steps.filtered) == set(BANDS)
    # a model with another electrode order reads the same tokens, rearranged by name
    order = list(reversed(fs.ch_names))
    moved = T.in_order(steps.token, [c.upper() for c in rec.ch_names], order)
    np.testing.assert_array_equal(moved, steps.token[::-1])
    np.testing.assert_array_equal(T.in_order(np.arange(2), ["fz", "CZ"], ["Cz", "Fz"]), [1, 0])
    model = _model(32)
    emb = T.token_embeddings(model, fs.X[0])
    assert emb.shape == (32, 16)
    sim = T.identity_similarity(model)
    np.testing.assert_allclose(np.diag(sim), 1, atol=1e-6)
    with pytest.raises(ValueError, match="no subject"):
        T.demo_recording("s99")


def test_group_mean_attention_streams_the_same_means(demo_valence):
    from rbt.explain import select_attention

    fs, _ = demo_valence
    model = _model(32)
    X = fs.X[:70]
    labels = np.array(["a", "b"] * 35)
    means = dash.group_mean_attention(model, X, labels, 1, "mean", device="cpu", batch_size=16)
    full = select_attention(dash.window_attention(model, X, "cpu"), block=1, head="mean")
    for g in ("a", "b"):
        np.testing.assert_allclose(means[g], full[labels == g].mean(axis=0), atol=1e-5)
    rollout = dash.group_mean_attention(model, X, labels, "rollout", "mean", device="cpu")
    np.testing.assert_allclose(rollout["a"].sum(axis=1), 1, atol=1e-4)
    probs, pred = dash.predict_windows(model, X[:5], device="cpu")
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(pred, probs.argmax(axis=1))


def test_channel_renames_typed_in_the_sidebar():
    assert dash.parse_channel_map("") == ()
    assert dash.parse_channel_map("EEG 1=Fp1,\n EEG 2 = fp2") == (("EEG 1", "Fp1"),
                                                                   ("EEG 2", "fp2"))
    for bad, message in [("EEG 1", "not"), ("EEG 1=Nowhere", "not a 10-05 electrode name"),
                         ("EEG 1=Fp1, EEG 1=Fp2", "renamed twice")]:
        with pytest.raises(ValueError, match=message):
            dash.parse_channel_map(bad)
