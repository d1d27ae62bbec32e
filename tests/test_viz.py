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


def _scale_name(fig_scale) -> str:
    from plotly.colors import get_colorscale

    for name in ("Viridis", "RdBu_r"):
        if [list(map(str, c)) for c in get_colorscale(name)] == \
                [[str(p), str(c)] for p, c in fig_scale]:
            return name
    return "other"


def test_unsigned_maps_are_sequential_from_their_minimum_signed_ones_diverging():
    received = np.random.default_rng(5).uniform(0.02, 0.05, 32)  # attention: all positive
    fig = valid(topomap.scalp_topomap(received, EEG_CHANNELS, colorbar_title="attention"))
    cax = fig.layout.coloraxis
    assert (cax.cmin, cax.cmax) == pytest.approx((received.min(), received.max()))
    assert _scale_name(cax.colorscale) == "Viridis"
    assert cax.colorbar.title.text == "attention"
    signed = valid(topomap.scalp_topomap(received - 0.035, EEG_CHANNELS))
    assert signed.layout.coloraxis.cmin == -signed.layout.coloraxis.cmax
    assert _scale_name(signed.layout.coloraxis.colorscale) == "RdBu_r"
    assert signed.layout.coloraxis.colorbar.title.text == "value"  # never untitled
    told = valid(topomap.scalp_topomap(received, EEG_CHANNELS, signed=True))
    assert told.layout.coloraxis.cmin == pytest.approx(-received.max())
    assert _scale_name(told.layout.coloraxis.colorscale) == "RdBu_r"


def test_saliency_row_is_sequential_unless_the_method_is_signed():
    rng = np.random.default_rng(6)
    saliency = np.abs(rng.standard_normal((32, 4)))
    maps = {b: saliency[:, i] for i, b in enumerate(BANDS)} | {"total": saliency.sum(axis=1)}
    fig = valid(topomap.topomap_row(maps, EEG_CHANNELS, colorbar_title="attribution"))
    cax = fig.layout.coloraxis
    assert _scale_name(cax.colorscale) == "Viridis" and cax.cmin >= 0
    assert cax.cmax == pytest.approx(saliency.sum(axis=1).max())
    per = valid(topomap.topomap_row(maps, EEG_CHANNELS, shared_scale=False))
    for i, name in enumerate(maps):
        ax = per.layout["coloraxis" if i == 0 else f"coloraxis{i + 1}"]
        assert _scale_name(ax.colorscale) == "Viridis"
        assert (ax.cmin, ax.cmax) == pytest.approx((maps[name].min(), maps[name].max()))
    signed = valid(topomap.topomap_row(maps, EEG_CHANNELS, signed=True))
    assert signed.layout.coloraxis.cmin == pytest.approx(-signed.layout.coloraxis.cmax)


def test_group_maps_share_one_range_and_their_difference_is_diverging():
    rng = np.random.default_rng(7)
    a, b = rng.uniform(0.02, 0.04, 32), rng.uniform(0.03, 0.06, 32)
    maps = {"happy": a, "sad": b, "happy − sad": a - b}
    fig = valid(topomap.topomap_row(maps, EEG_CHANNELS, scale_groups=["g", "g", "d"],
                                    signed=[False, False, True], colorbar_title="attention"))
    axes = [t.coloraxis for t in traces(fig, "map")]
    assert axes == ["coloraxis", "coloraxis", "coloraxis2"]
    groups, diff = fig.layout.coloraxis, fig.layout.coloraxis2
    assert (groups.cmin, groups.cmax) == pytest.approx((min(a.min(), b.min()),
                                                        max(a.max(), b.max())))
    assert _scale_name(groups.colorscale) == "Viridis"
    assert diff.cmin == pytest.approx(-np.abs(a - b).max()) and diff.cmin == -diff.cmax
    assert _scale_name(diff.colorscale) == "RdBu_r"
    for bar in (groups.colorbar, diff.colorbar):
        assert bar.title.text == "attention" and bar.orientation == "h"
    assert groups.colorbar.x < 0.5 < diff.colorbar.x  # each beneath the maps it serves
    # without being told, each colour axis reads its sign from its own values
    inferred = valid(topomap.topomap_row(maps, EEG_CHANNELS, shared_scale=False))
    assert inferred.layout.coloraxis.cmin == pytest.approx(a.min())
    assert inferred.layout.coloraxis3.cmin == -inferred.layout.coloraxis3.cmax
    with pytest.raises(ValueError, match="one entry per map"):
        topomap.topomap_row(maps, EEG_CHANNELS, scale_groups=[0, 1])


def test_per_band_colour_bars_keep_titles_and_a_few_round_ticks():
    bde = np.random.default_rng(8).standard_normal((32, 4)) * 1e-3
    fig = valid(topomap.band_topomaps(bde, EEG_CHANNELS, BANDS, shared_scale=False,
                                      colorbar_title="BDE"))
    for i in range(4):
        ax = fig.layout["coloraxis" if i == 0 else f"coloraxis{i + 1}"]
        bar = ax.colorbar
        assert bar.title.text == "BDE" and bar.title.side == "top"
        assert len(bar.tickvals) == len(bar.ticktext) == 3
        assert all(ax.cmin <= v <= ax.cmax for v in bar.tickvals)
        assert bar.tickvals[1] == 0 and bar.ticktext[1] == "0"  # symmetric: 0 in the middle
        assert all(len(t) <= 8 for t in bar.ticktext)
    assert fig.layout.margin.b >= 60  # room for the bars and their titles


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


def test_attention_lines_direction_legend_and_empty_note():
    a = _attention()
    fig = valid(va.attention_lines(a, EEG_CHANNELS, k=5))
    from rbt.explain import top_pairs
    from rbt.montage import positions_2d

    pos = positions_2d(EEG_CHANNELS)
    (heads,) = traces(fig, "arrows")
    pairs = top_pairs(a, k=5, exclude_self=True)
    assert len(heads.x) == 5  # one arrow head per pair, near the electrode looked at
    for x, y, angle, (i, j, _) in zip(heads.x, heads.y, heads.marker.angle, pairs):
        head, d = np.array([x, y]), pos[j] - pos[i]
        assert np.linalg.norm(head - pos[j]) < 0.2 * np.linalg.norm(d)  # at j's end ...
        v = head - pos[i]
        assert abs(d[0] * v[1] - d[1] * v[0]) < 1e-9  # ... on the line ...
        # ... pointing from i to j (degrees clockwise from up)
        assert np.array([np.sin(np.radians(angle)), np.cos(np.radians(angle))]) @ d > 0.99 * \
            np.linalg.norm(d)
    assert not [x for x in fig.layout.annotations if x.showarrow]
    caption = fig.layout.meta["caption"]
    assert "looking electrode" in caption and "Dot size" in caption and "colour" in caption
    assert any(x.text == caption for x in fig.layout.annotations)  # drawn, so exports keep it
    assert traces(fig, "pairs")[0].marker.colorbar.title.text == "pair's attention"
    assert not any(x.text == va.NO_PAIRS for x in fig.layout.annotations)
    empty = valid(va.attention_lines(a, EEG_CHANNELS, k=5, threshold=2.0))
    assert [x.text for x in empty.layout.annotations if not x.showarrow][0] == va.NO_PAIRS
    assert not traces(empty, "arrows")


def test_attention_matrix_is_a_square_heatmap_with_every_electrode_named():
    a = _attention()
    fig = valid(va.attention_heatmap(a, EEG_CHANNELS, title="m"))
    (grid,) = fig.data
    # one heatmap: the dashboard's chart element reports clicks on its cells
    assert grid.type == "heatmap" and list(grid.x) == list(grid.y) == EEG_CHANNELS
    np.testing.assert_allclose(np.asarray(grid.z), a, rtol=1e-6)  # row i: where i looks
    hover = grid.hovertemplate
    assert "%{y}</b> looks at <b>%{x}" in hover and "%{z" in hover
    assert grid.colorbar.title.text == "attention"
    assert (grid.zmin, grid.zmax) == pytest.approx((a.min(), a.max()))
    x, y = fig.layout.xaxis, fig.layout.yaxis
    assert y.scaleanchor == "x" and y.scaleratio == 1  # square cells
    for axis in (x, y):  # every electrode labelled, in a small font
        assert axis.type == "category" and axis.tickmode == "auto"  # thinned only if crowded
        assert axis.tickfont.size <= 9
    assert va.matrix_layout(EEG_CHANNELS)["dtick"] == 1
    n = len(EEG_CHANNELS)
    assert tuple(y.range) == (n - 0.5, -0.5)  # reversed: first electrode's row on top
    diff = valid(va.attention_heatmap(a - a.T, EEG_CHANNELS, colorscale="RdBu_r",
                                      zrange=(-0.5, 0.5)))
    assert (diff.data[0].zmin, diff.data[0].zmax) == (-0.5, 0.5)
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


def test_confusion_matrix_counts_and_rates():
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0, 1, 1, 1, 0])
    fig = valid(prediction.confusion_matrix_figure(y, p, ["low", "high"]))
    np.testing.assert_array_equal(fig.data[0].z, [[1, 1], [1, 2]])
    rates = valid(prediction.confusion_matrix_figure(y, p, ["low", "high"], normalize=True))
    np.testing.assert_allclose(np.asarray(rates.data[0].z).sum(axis=1), 1)


def test_accuracy_per_trial_names_each_subject_trial_on_a_category_axis():
    frame = pd.DataFrame({"subject": ["s1"] * 3 + ["s2"] * 2 + ["s1"],
                          "trial": [1, 1, 2, 1, 1, 5],
                          "correct": [True, False, True, True, True, False]})
    acc = valid(prediction.accuracy_per_trial(frame, title="Accuracy per trial"))
    (bars,) = acc.data
    assert list(bars.x) == ["s1/1", "s1/2", "s1/5", "s2/1"]  # trial 5 is not next to trial 2
    np.testing.assert_allclose(bars.y, [0.5, 1.0, 0.0, 1.0])
    assert [row[0] for row in bars.customdata] == ["2", "1", "1", "2"]  # windows per trial
    assert acc.layout.xaxis.type == "category" and acc.layout.xaxis.title.text == "subject/trial"
    assert [s.x0 for s in acc.layout.shapes] == [2.5]  # one line between s1 and s2
    assert (bars.marker.cmin, bars.marker.cmax) == (0, 1)
    one = valid(prediction.accuracy_per_trial(frame[frame.subject == "s1"]))
    bar = one.data[0].marker.colorbar
    assert bar.title.text == "accuracy" and bar.lenmode == "pixels" and bar.len >= 150
    assert not one.layout.shapes
    sessions = frame.assign(session=[1, 1, 2, 1, 1, 2])
    many = valid(prediction.accuracy_per_trial(sessions))
    assert list(many.data[0].x)[:2] == ["s1/1/1", "s1/2/2"]
    assert many.layout.xaxis.title.text == "subject/session/trial"


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
    assert fig.data[0].insidetextanchor == "start"  # bar labels at the base, clear of the dots
    (chance,) = [a for a in fig.layout.annotations if a.name == "chance"]
    assert chance.text == "chance 50%" and chance.y == 0.5


def test_raw_traces_reach_the_outlined_window():
    sig = np.random.default_rng(9).standard_normal((32, 128 * 60))
    early = valid(teaching.eeg_traces(sig, EEG_CHANNELS, 128, picks=["Fz"], seconds=12,
                                      window=(3, 7)))
    assert early.data[0].x[-1] == pytest.approx(12 - 1 / 128)
    late = valid(teaching.eeg_traces(sig, EEG_CHANNELS, 128, picks=["Fz"], seconds=12,
                                     window=(40, 44)))
    assert late.data[0].x[-1] >= 44 - 1 / 128  # the late window has its signal under it
    assert late.layout.shapes[0].x0 == 40


def test_export_names_and_titles_carry_the_context():
    from rbt.viz import context_text, export_name, with_context

    ctx = {"subject": "s01", "trial": 3, "window": 5, "method": "saliency", "head": None}
    assert export_name("attribution", ctx) == \
        "attribution_subject-s01_trial-3_window-5_method-saliency"
    assert export_name("attribution", ctx) != export_name("attribution", {**ctx, "window": 6})
    assert export_name("a b/c", "subject <x>") == "a_b_c_subject_x"
    assert export_name("x") == "x"
    text = context_text(ctx)
    assert text == "subject s01 · trial 3 · window 5 · method saliency"
    fig = with_context(topomap.scalp_topomap(np.arange(32.0), EEG_CHANNELS, title="Saliency"),
                       text)
    valid(fig)
    assert fig.layout.title.text == "Saliency" and fig.layout.title.subtitle.text == text
    assert fig.layout.margin.t >= 60
    bare = valid(with_context(prediction.probability_bar([0.4, 0.6], ["a", "b"]), "s<1>"))
    assert bare.layout.title.text == "s&lt;1&gt;"  # names from files stay plain text


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


def test_topomaps_write_the_electrode_names_only_when_asked():
    rng = np.random.default_rng(3)
    values, bde = rng.normal(size=32), rng.normal(size=(32, 4))
    plain_maps = [topomap.scalp_topomap(values, EEG_CHANNELS),
                  topomap.band_topomaps(bde, EEG_CHANNELS, BANDS),
                  topomap.topomap_row({"a": values, "b": -values}, EEG_CHANNELS)]
    labelled = [topomap.scalp_topomap(values, EEG_CHANNELS, labels=True),
                topomap.band_topomaps(bde, EEG_CHANNELS, BANDS, labels=True),
                topomap.topomap_row({"a": values, "b": -values}, EEG_CHANNELS, labels=True),
                topomap.scalp_topomap(values, EEG_CHANNELS, mode="markers", labels=True)]
    for fig in plain_maps:
        for s in traces(valid(fig), "sensors"):
            assert s.mode == "markers" and s.textposition is None  # names on hover only
            assert list(s.text) == EEG_CHANNELS
    for fig in labelled:
        sensors = traces(valid(fig), "sensors")
        assert sensors
        for s in sensors:
            assert s.mode == "markers+text" and list(s.text) == EEG_CHANNELS
            where = dict(zip(s.text, s.textposition))
            assert where["Cz"] == "top center" and where["Fp1"] == "middle left"
            assert s.textfont.size <= 10
            assert "%{text}" in s.hovertemplate  # and still on hover
    (sensors,) = [t for t in topomap.topomap_traces(values, EEG_CHANNELS, labels=True)
                  if t["name"] == "sensors"]
    assert sensors["mode"] == "markers+text"


def test_identity_similarity_by_distance_shows_the_random_band_and_the_trend():
    rng = np.random.default_rng(0)
    d = rng.uniform(0.02, 0.2, size=50)
    s = 0.5 - 3 * d + rng.normal(scale=0.01, size=50)
    pairs = [(f"E{k}", f"F{k}") for k in range(50)]
    fig = valid(teaching.similarity_by_distance(d, s, pairs, random_spread=0.125, title="t"))
    (dots,) = traces(fig, "pairs")
    np.testing.assert_allclose(dots.x, d * 100)  # in cm
    assert dots.text[0] == "E0–F0"
    (trend,) = traces(fig, "trend")
    assert trend.y[1] < trend.y[0]  # falls with distance, as the data do
    (band,) = fig.layout.shapes
    assert (band.y0, band.y1) == (-0.25, 0.25)
    assert fig.layout.annotations[0].text == "where random vectors would fall"
    fig = valid(teaching.similarity_by_distance(d, s, pairs))
    assert not fig.layout.shapes and not fig.layout.annotations
