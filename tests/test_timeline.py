"""A trial's timeline figure (rbt.viz.timeline): probabilities per window, the true label, the
marked window, raw traces or band power below on the shared time axis, clickable windows."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from test_browser import (
    CHROMIUM_ARGS,
    chromium,
    click_point,
    free_port,
    stop_server,
    wait_until_healthy,
)

from rbt.checkpoint import load_checkpoint
from rbt.infer import predict_array
from rbt.model_fit import fit_data
from rbt.teaching import demo_recording
from rbt.viz.timeline import selected_window, trial_timeline

DEMO = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"


def valid(fig: go.Figure) -> go.Figure:
    go.Figure(fig.to_dict())  # the figure skips Plotly's validation; validate here
    return fig


def trace(fig, name):
    (t,) = [t for t in fig.data if t.name == name]
    return t


@pytest.fixture(scope="module")
def demo_trial(demo_valence):
    """The first trial of demo subject s01: its rows, starts (s), probabilities, raw signal."""
    fs, folder = demo_valence
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RBT_CACHE_DIR", str(folder))
        rec = demo_recording("s01")
    fit = fit_data(load_checkpoint(DEMO), dataclasses.replace(fs))
    session, trial = fs.trials("s01")[0]
    rows = fs.trial_rows("s01", session, trial)
    probs = predict_array(fit.model, fit.X[rows], device="cpu").probs
    tr = next(t for t in rec.trials if t.trial == trial)
    return dict(fit=fit, rows=rows, starts=fs.table["start"].to_numpy()[rows] / fs.sfreq,
                window_s=fs.params["window"] / fs.sfreq, probs=probs, trial=tr,
                rec_sfreq=rec.sfreq)


def test_probabilities_windows_and_the_marked_window(demo_trial):
    d, fit = demo_trial, demo_trial["fit"]
    n = len(d["rows"])
    true = int(fit.y[d["rows"][0]])
    fig = valid(trial_timeline(d["starts"], d["probs"], fit.class_names, window_s=d["window_s"],
                               current=4, true=true, title="s01 <trial 1>"))
    assert fig.layout.title.text == "s01 &lt;trial 1&gt;"
    for k, c in enumerate(fit.class_names):
        line = trace(fig, c)
        np.testing.assert_allclose(line.x, d["starts"])
        np.testing.assert_allclose(line.y, d["probs"][:, k])
    points = trace(fig, "windows")
    assert points.mode == "markers" and len(points.x) == n
    np.testing.assert_array_equal(points.customdata, np.arange(n))
    np.testing.assert_allclose(points.y, d["probs"].max(axis=1))
    pred = d["probs"].argmax(axis=1)
    assert list(points.text) == [fit.class_names[k] for k in pred]
    assert list(points.marker.color) == ["#2ca02c" if k == true else "#d62728" for k in pred]
    (mark,) = [s for s in fig.layout.shapes if s.name == "current window"]
    assert (mark.x0, mark.x1) == (d["starts"][4], d["starts"][4] + d["window_s"])
    assert (mark.yref, mark.y0, mark.y1) == ("paper", 0, 1)
    assert d["window_s"] == 4.0 and d["starts"][0] == 3.0  # after the 3-s baseline
    (strip,) = [s for s in fig.layout.shapes if s.name == "true label"]
    assert (strip.x0, strip.x1) == (d["starts"][0], d["starts"][-1] + d["window_s"])
    assert [a.text for a in fig.layout.annotations] == [f"true: {fit.class_names[true]}"]
    assert "xaxis2" not in fig.layout.to_plotly_json()


def test_raw_traces_below_on_the_same_time_axis(demo_trial):
    d, fit = demo_trial, demo_trial["fit"]
    tr, picks = d["trial"], ["Fz", "Cz", "Oz"]
    signals = tr.signal[[fit.ch_names.index(c) for c in picks]]
    sfreq = d["rec_sfreq"]
    fig = valid(trial_timeline(d["starts"], d["probs"], fit.class_names, window_s=d["window_s"],
                               signals=signals, signal_names=picks, sfreq=sfreq,
                               signal_start_s=tr.offset / sfreq, max_points=1000))
    assert fig.layout.xaxis2.matches == "x" and fig.layout.xaxis2.anchor == "y2"
    assert fig.layout.yaxis2.domain[1] < fig.layout.yaxis.domain[0]  # below the probabilities
    assert list(fig.layout.yaxis2.ticktext) == picks
    raw = [t for t in fig.data if t.name in picks]
    assert [t.name for t in raw] == picks and all(t.xaxis == "x2" for t in raw)
    step = int(np.ceil(signals.shape[1] / 1000))
    assert len(raw[0].x) == len(range(0, signals.shape[1], step)) <= 1000
    np.testing.assert_allclose(raw[0].x[:3], np.arange(3) * step / sfreq)
    for k, t in enumerate(raw):  # each trace about its own row's tick
        shown = signals[k, ::step]
        np.testing.assert_allclose(t.y, shown - shown.mean() + fig.layout.yaxis2.tickvals[k],
                                   atol=1e-5)
    # every window lies on the traces: the signal's clock is the windows' clock
    assert raw[0].x[0] <= d["starts"][0] and d["starts"][-1] + d["window_s"] <= (
        tr.signal.shape[1] / sfreq)
    assert fig.layout.shapes == ()  # no window marked, no label given


def test_band_power_below_with_its_own_clickable_points(demo_trial):
    d, fit = demo_trial, demo_trial["fit"]
    rows = d["rows"]
    power = fit.X[rows].mean(axis=1)  # (windows, bands), the mean over electrodes
    ids = rows  # the windows' rows of the data as their ids
    labels = ["happy"] * 6 + ["sad"] * (len(rows) - 6)  # a recording's own annotations
    fig = valid(trial_timeline(d["starts"], d["probs"], fit.class_names, window_s=d["window_s"],
                               current=0, true=labels, windows=ids, band_power=power,
                               band_names=fit.band_names))
    for k, b in enumerate(fit.band_names):
        t = trace(fig, b)
        assert t.xaxis == "x2" and t.yaxis == "y2"
        np.testing.assert_allclose(t.y, power[:, k])
        np.testing.assert_array_equal(t.customdata, ids)
    np.testing.assert_array_equal(trace(fig, "windows").customdata, ids)
    assert fig.layout.yaxis2.title.text == "BDE, mean over electrodes"
    strips = [s for s in fig.layout.shapes if s.name == "true label"]
    assert [(s.x0, s.x1) for s in strips] == [
        (d["starts"][0], d["starts"][6]),  # to where the next label starts
        (d["starts"][6], d["starts"][-1] + d["window_s"])]
    assert [a.text for a in fig.layout.annotations] == ["true: happy", "true: sad"]
    # the labels are not the model's classes: no window is called right or wrong
    assert set(trace(fig, "windows").marker.color) == {"#1f77b4"}


def test_selected_window_reads_the_point_of_a_selection():
    assert selected_window(None) is None
    assert selected_window({"points": []}) is None
    assert selected_window({"points": [{"curve_number": 2, "x": 3.0, "customdata": 7}]}) == 7
    assert selected_window({"points": [{"customdata": [5]}, {"x": 1.0}]}) == 5
    assert selected_window({"points": [{"customdata": 1}, {"customdata": 9}]}) == 9


def test_bad_inputs_say_what_was_expected():
    p = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"probs \(windows, 2 classes\)"):
        trial_timeline([0, 1], p, ["a", "b"], window_s=1)
    with pytest.raises(ValueError, match="window_s must be a positive"):
        trial_timeline([0, 1, 2], p, ["a", "b"], window_s=0)
    with pytest.raises(ValueError, match=r"current must be a window position in \[0, 3\)"):
        trial_timeline([0, 1, 2], p, ["a", "b"], window_s=1, current=3)
    with pytest.raises(ValueError, match="one label or one per window"):
        trial_timeline([0, 1, 2], p, ["a", "b"], window_s=1, true=[0, 1])
    with pytest.raises(ValueError, match="either raw signals or band power"):
        trial_timeline([0, 1, 2], p, ["a", "b"], window_s=1, signals=np.zeros((1, 9)),
                       band_power=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="sampling rate sfreq"):
        trial_timeline([0, 1, 2], p, ["a", "b"], window_s=1, signals=np.zeros((1, 9)),
                       signal_names=["Cz"])
    with pytest.raises(ValueError, match=r"band_power must be \(windows, bands\) = \(3, 1\)"):
        trial_timeline([0, 1, 2], p, ["a", "b"], window_s=1, band_power=np.zeros((2, 1)),
                       band_names=["alpha"])


APP = textwrap.dedent("""
    import numpy as np
    import streamlit as st
    from rbt.viz.timeline import selected_window, trial_timeline

    p = np.linspace(0.2, 0.8, 10)
    fig = trial_timeline(np.arange(10) * 0.9 + 3, np.column_stack([1 - p, p]), ["low", "high"],
                         window_s=4, current=2, true=1, windows=np.arange(100, 110),
                         band_power=np.linspace(0, 1, 20).reshape(10, 2),
                         band_names=["theta", "alpha"])
    event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="timeline")
    st.write(f"window={selected_window(event.selection)}")
""")


def test_a_window_chosen_in_the_browser_comes_back_as_its_id(tmp_path):
    """Plotly selects marker points only, and a pointer on a window goes to the nearest trace's
    point (here the class line under the window's marker): every point must carry the id."""
    from playwright.sync_api import sync_playwright

    exe = chromium()
    (tmp_path / "app.py").write_text(APP)
    port, log = free_port(), tmp_path / "streamlit.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(tmp_path / "app.py"), "--server.port",
             str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, proc, log)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1100, "height": 800})
                page.goto(url)
                page.wait_for_selector(".js-plotly-plot .scatterlayer .trace path.point",
                                       timeout=60_000)
                page.wait_for_timeout(1000)
                for trace_no, point, want in ((2, 5, "window=105"), (3, 7, "window=107")):
                    # the "windows" markers, then the first band's line
                    click_point(page, page.locator(".js-plotly-plot .scatterlayer .trace").nth(
                        trace_no).locator("path.point").nth(point), want, tries=3)
                browser.close()
        finally:
            stop_server(proc)
