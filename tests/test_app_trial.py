"""One trial's exploring parts (AppTest): the timeline, choosing a window or an electrode on a
chart, and what if.

AppTest cannot click a chart (it runs no JavaScript), so choosing a point is tested through
the callbacks' functions with the click the chart element hands them (a real browser's clicks
are tested in tests/test_browser_trial.py).
"""

from __future__ import annotations

import app_figures
import pytest
from test_app import TRIAL, app, assert_fine, by_title, decode, demo_cache, traces  # noqa: F401


def timeline(at) -> dict:
    return by_title(at, "This trial, window by window")


def test_timeline_has_a_point_per_window_and_marks_the_current_one():
    at = app(TRIAL)
    at.selectbox(key="sel_subject").set_value("s03").run()
    at.selectbox(key="sel_trial").set_value((1, 5)).run()
    at.slider(key="sel_window").set_value(4).run()
    assert_fine(at)
    fig = timeline(at)
    windows = traces(fig, "windows")[0]
    assert list(decode(windows["customdata"])) == list(range(18))  # 18 windows in this trial
    x = decode(windows["x"])
    current = [s for s in fig["layout"]["shapes"] if s.get("name") == "current window"]
    assert len(current) == 1 and current[0]["x0"] == pytest.approx(x[4])
    # a probability line per class and a band-power line per band, on the windows' times
    assert [len(decode(t["y"])) for t in fig["data"] if t["name"] in ("low", "high")] == [18, 18]
    assert len([t for t in fig["data"] if t.get("yaxis") == "y2"]) == 4
    assert any(s.get("name") == "true label" for s in fig["layout"]["shapes"])
    assert "subject s03" in fig["layout"]["title"]["subtitle"]["text"]


def test_choosing_a_window_on_the_timeline_selects_it():
    import trial_parts  # app/ is on the path once test_app is imported

    state = {"fig_timeline": {"click": {"points": [
        {"curve_number": 2, "point_index": 7, "x": 3.1, "y": 0.8, "customdata": 7}]}}}
    assert trial_parts.apply_window_pick(state, "fig_timeline", 18) == 7
    assert state["sel_window"] == 7
    # Streamlit may wrap customdata in a list; a point outside the trial or none changes nothing
    state["fig_timeline"] = {"click": {"points": [{"customdata": [3]}]}}
    assert trial_parts.apply_window_pick(state, "fig_timeline", 18) == 3
    state["fig_timeline"] = {"click": {"points": [{"customdata": 40}]}}
    assert trial_parts.apply_window_pick(state, "fig_timeline", 18) is None
    state["fig_timeline"] = {"click": {"points": []}}
    assert trial_parts.apply_window_pick(state, "fig_timeline", 18) is None
    assert state["sel_window"] == 3


def test_choosing_an_electrode_on_a_map_the_lines_or_the_matrix_selects_it():
    import numpy as np
    import trial_parts

    from rbt.data.deap import EEG_CHANNELS as names
    from rbt.viz.attention import attention_heatmap, attention_lines
    from rbt.viz.topomap import band_topomaps

    rng = np.random.default_rng(0)
    att = rng.random((32, 32))
    att /= att.sum(axis=1, keepdims=True)

    def pick(fig, point: dict):
        state = {"fig": {"click": {"points": [point]}}}
        got = trial_parts.apply_electrode_pick(state, "fig", trial_parts.trace_names(fig), names)
        assert state.get("att_electrode") == got
        return got

    def curve(fig, name: str, which: int = 0) -> int:
        return [i for i, t in enumerate(fig.data) if t.name == name][which]

    matrix = attention_heatmap(att, names)  # a cell: y is the electrode that looks
    assert pick(matrix, {"curve_number": 0, "point_index": 70, "x": "Fp1", "y": "F3"}) == "F3"
    lines = attention_lines(att, names, k=5)
    assert pick(lines, {"curve_number": curve(lines, "sensors"), "point_index": 12}) == names[12]
    pair = lines.data[curve(lines, "pairs")].text[0]
    assert pick(lines, {"curve_number": curve(lines, "pairs"), "point_index": 0}) \
        == pair.split(" → ")[0]
    maps = band_topomaps(rng.random((32, 4)), names, ["theta", "alpha", "beta", "gamma"])
    assert pick(maps, {"curve_number": curve(maps, "sensors", 2), "point_index": 23}) == names[23]
    # the outline, a point beyond the names or no point select nothing
    assert pick(maps, {"curve_number": curve(maps, "head"), "point_index": 3}) is None
    assert pick(maps, {"curve_number": curve(maps, "sensors"), "point_index": 99}) is None
    assert trial_parts.apply_electrode_pick({}, "fig", [], names) is None


def test_every_map_of_the_page_can_choose_an_electrode():
    at = app(TRIAL)
    assert_fine(at)
    for key in ("fig_bde", "fig_lines", "fig_matrix", "fig_row", "fig_attr"):
        chart = app_figures.chart_with_key(at, key)  # drawn by the element that reports clicks
        assert chart.proto.js_content.count("plotly_click"), key


def test_figures_say_what_they_show_and_saliency_is_drawn_unsigned():
    import json

    at = app(TRIAL)
    at.selectbox(key="sel_subject").set_value("s02").run()
    at.slider(key="sel_window").set_value(3).run()
    at.selectbox(key="attr_method").set_value("saliency").run()
    assert_fine(at)
    matrix = by_title(at, "Matrix: rollout")["layout"]["title"]["subtitle"]["text"]
    assert matrix == "subject s02 · trial 1 · window 3 · block rollout"

    def colours(method: str) -> dict:
        spec = [f for f in app_figures.figures(at) if f"method {method}" in json.dumps(f)]
        assert spec, f"the attribution maps name their method {method}"
        return spec[0]["layout"]["coloraxis"]

    assert colours("saliency")["cmin"] >= 0  # magnitudes: min to max, not about 0
    at.selectbox(key="attr_method").set_value("integrated_gradients").run()
    signed = colours("integrated gradients")  # the label, as the picker says it
    assert signed["cmin"] == pytest.approx(-signed["cmax"])  # signed: symmetric about 0


def test_what_if_the_planted_electrodes_are_removed():
    import numpy as np
    from test_app import figures

    from rbt.data.demo import planted_electrodes

    at = app(TRIAL)
    assert_fine(at)
    before = len(figures(at))
    assert any("Choose electrodes, regions or bands" in i.value for i in at.info)
    planted = sorted({e for es in planted_electrodes("demo", "valence").values() for e in es})
    at.button(key="wi_planted").click().run()  # the demo's planted electrodes, in one click
    assert at.multiselect(key="wi_electrodes").value == planted
    assert_fine(at)
    assert len(figures(at)) == before + 4  # probabilities and attention, as it is and edited

    def bars(title: str) -> np.ndarray:
        return decode(by_title(at, title)["data"][0]["x"])

    original, edited = bars("As it is"), bars("Edited")
    assert original.sum() == pytest.approx(1, abs=1e-5) and edited.sum() == pytest.approx(1,
                                                                                          abs=1e-5)
    assert np.abs(edited - original).max() > 1e-3  # removing the planted effects changes it
    deltas = [float(m.proto.delta) for m in at.metric if m.proto.delta]  # not the trust ones
    np.testing.assert_allclose(deltas, edited - original, atol=1e-3)
    lines, new = by_title(at, "Pairs as it is: rollout"), by_title(at, "Pairs edited: rollout")
    assert traces(lines, "pairs") and traces(new, "pairs")
    # scale 1 keeps the window: nothing changes
    at.slider(key="wi_scale").set_value(1.0).run()
    assert_fine(at)
    np.testing.assert_allclose(bars("Edited"), bars("As it is"), atol=1e-6)
    # a region and a band: the left frontal electrodes' alpha
    at.multiselect(key="wi_electrodes").set_value([]).run()
    at.slider(key="wi_scale").set_value(0.0).run()
    at.multiselect(key="wi_regions").set_value(["frontal", "left"]).run()
    at.multiselect(key="wi_bands").set_value(["alpha"]).run()
    assert_fine(at)
    assert any("band(s)** removed" in m.value and "alpha" in m.value for m in at.markdown)


def test_what_if_keeps_its_choices_across_pages_and_has_its_own_baseline():
    at = app(TRIAL)
    at.multiselect(key="wi_electrodes").set_value(["Fz", "Cz"]).run()
    at.selectbox(key="wi_baseline").set_value("subject_mean").run()
    at.selectbox(key="wi_view").set_value((1, "mean")).run()
    assert_fine(at)
    assert by_title(at, "Pairs edited: block 2, mean of heads")
    assert at.selectbox(key="attr_baseline").value == "zeros"  # the attributions keep theirs
    at.switch_page("views/0_Overview.py").run()
    at.switch_page(TRIAL).run()
    assert_fine(at)
    assert at.multiselect(key="wi_electrodes").value == ["Fz", "Cz"]
    assert at.selectbox(key="wi_baseline").value == "subject_mean"
    assert by_title(at, "Pairs edited: block 2, mean of heads")


def _prefetched() -> None:
    import threading

    for thread in threading.enumerate():
        if thread.name == "rbt-prefetch":
            thread.join()


def _trust_bytes() -> int:
    # Streamlit's own record of what its data caches hold (what its cache stats report)
    from streamlit.runtime.caching.cache_data_api import _data_caches

    return sum(s.byte_length for family in _data_caches.get_stats().values() for s in family
               if s.cache_name == "common.trust")


def test_the_next_windows_explanation_is_computed_ahead(monkeypatch):
    import common

    monkeypatch.setenv("RBT_PREFETCH", "on")
    common.trust.clear()
    at = app(TRIAL)
    at.selectbox(key="sel_subject").set_value("s02").run()
    _prefetched()
    assert_fine(at)
    n_windows = at.slider(key="sel_window").max + 1
    common.trust.clear()
    at.slider(key="sel_window").set_value(n_windows - 3).run()
    _prefetched()
    two = _trust_bytes()  # this window's and the next one's
    assert two > 0
    at.slider(key="sel_window").set_value(n_windows - 2).run()  # found ready; the last ahead
    _prefetched()
    assert _trust_bytes() == pytest.approx(1.5 * two, rel=0.02)
    at.slider(key="sel_window").set_value(n_windows - 1).run()  # the last: nothing ahead
    _prefetched()
    assert _trust_bytes() == pytest.approx(1.5 * two, rel=0.02)
    monkeypatch.setenv("RBT_PREFETCH", "off")
    at.slider(key="sel_window").set_value(0).run()
    _prefetched()
    assert _trust_bytes() == pytest.approx(2 * two, rel=0.02)
    assert_fine(at)


def test_work_ahead_waits_while_more_sessions_than_cores_are_in_use(monkeypatch):
    import os
    import time

    import common
    import prefetch

    monkeypatch.setenv("RBT_PREFETCH", "auto")
    monkeypatch.setattr(prefetch, "_asked", {})  # no sessions left from other tests
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # a one-core machine
    one = app(TRIAL)
    _prefetched()
    common.trust.clear()
    one.slider(key="sel_window").set_value(3).run()  # alone: the next window too
    _prefetched()
    two = _trust_bytes()
    # a second browser session ran a page just now (AppTest's sessions all share one id)
    prefetch.active_sessions("another browser", time.monotonic())
    common.trust.clear()
    one.slider(key="sel_window").set_value(5).run()  # this window only
    _prefetched()
    assert _trust_bytes() == pytest.approx(two / 2, rel=0.05)
    monkeypatch.setattr(prefetch, "_asked", {})  # ten seconds later, the other has left
    common.trust.clear()
    one.slider(key="sel_window").set_value(7).run()
    _prefetched()
    assert _trust_bytes() == pytest.approx(two, rel=0.05)
    assert_fine(one)


def test_sessions_count_as_in_use_for_ten_seconds_after_they_asked():
    import prefetch

    prefetch._asked.clear()  # no sessions left from other tests
    assert [prefetch.active_sessions(s, t) for s, t in
            (("a", 0.0), ("b", 1.0), ("a", 5.0), ("c", 10.5))] == [1, 2, 2, 3]
    assert prefetch.active_sessions("c", 14.0) == 2  # a asked 9 s ago, b 13 s ago
    assert prefetch.active_sessions("c", 30.0) == 1
