"""When the model cannot read the data (a 14-electrode checkpoint on the 32-electrode demo),
the dashboard says what would make it usable and still shows the data's own views: band
power over time and band maps per window on One trial, the windows with their labels and
group means by label or subject on Across trials (AppTest, real data and checkpoints)."""

from __future__ import annotations

import numpy as np
import pytest
from test_app import (  # noqa: F401
    ACROSS,
    TRIAL,
    _errors,
    _tiny_checkpoint,
    app,
    by_title,
    decode,
    demo_cache,
    figures,
    traces,
)

from rbt.data.dreamer import CHANNELS as DREAMER_CHANNELS


@pytest.fixture
def foreign_model(tmp_path):
    return _tiny_checkpoint(tmp_path / "dreamer_model", DREAMER_CHANNELS)


def _with_model(at, path):
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    at.text_input(key="model_path").input(str(path)).run()
    return at


def test_one_trial_shows_band_power_and_maps_without_the_model(foreign_model):
    at = _with_model(app(TRIAL), foreign_model)
    assert not at.exception
    message = _errors(at)
    assert "cannot read this data" in message and "rbt train" in message
    assert any("need no model" in i.value for i in at.info)
    timeline = by_title(at, "This trial's band power, window by window")
    bands = [t for t in timeline["data"] if t["name"] in ("theta", "alpha", "beta", "gamma")]
    assert len(bands) == 4 and len(decode(bands[0]["y"])) == 18  # 18 windows, 4 bands
    assert [s["name"] for s in timeline["layout"]["shapes"]].count("current window") == 1
    assert not any("Attention" in s.value for s in at.subheader)  # no model views
    maps = [f for f in figures(at) if traces(f, "map")]
    assert len(maps) == 1 and len(traces(maps[0], "map")) == 4
    # the maps are the window's own BDE: another window, other maps
    before = decode(traces(maps[0], "sensors")[0]["customdata"])
    at.slider(key="sel_window").set_value(7).run()
    assert not at.exception
    after = decode(traces([f for f in figures(at) if traces(f, "map")][0], "sensors")[0][
        "customdata"])
    assert not np.allclose(before, after)
    assert any("window 7 (of 0–17)" in c.value and "labelled" in c.value for c in at.caption)


def test_across_trials_shows_group_means_by_label_and_subject(foreign_model):
    import common  # the app's own modules: AppTest runs the app in this process

    at = _with_model(app(ACROSS), foreign_model)
    assert not at.exception
    fs = next(reversed(common._DATA.values()))  # the features the page has just loaded
    table = at.dataframe[0].value
    assert len(table) == len(fs) and "label" in table
    assert set(table["label"]) == set(fs.class_names)
    sensors = [decode(traces(f, "sensors")[0]["customdata"]) for f in figures(at)
               if traces(f, "map")]
    assert len(sensors) == 3  # group A, group B, their difference (first band's values)
    labels = np.asarray(fs.class_names)[np.asarray(fs.y)]
    first, second = at.selectbox(key="x_data_a").value, at.selectbox(key="x_data_b").value
    a, b = (fs.X[labels == g].mean(axis=0)[:, 0] for g in (first, second))
    np.testing.assert_allclose(sensors[0], a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sensors[2], a - b, rtol=1e-4, atol=1e-5)
    at.radio(key="x_data_by").set_value("subject").run()
    assert not at.exception
    assert at.selectbox(key="x_data_a").value == "s01"
