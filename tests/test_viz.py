"""Figures (rbt.viz), without Streamlit. The dashboard's own computations are tested in
tests/test_app_*.py, the teaching steps in tests/test_teaching.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from rbt.data.deap import EEG_CHANNELS
from rbt.data.dreamer import CHANNELS as DREAMER_CHANNELS
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
