"""The Learn page as a lesson (app/views/3_Learn.py): one step at a time with Previous, Next
and a step picker, the step in the URL, every step on one page for reading, maps with the
electrodes' names written on them, an embeddings step that says what to look for, and a
sidebar without the data and model choices the lesson does not use (kept for the other pages).
"""

from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest
from test_app import (  # noqa: F401 (autouse fixture)
    HOME,
    LEARN,
    TRIAL,
    assert_fine,
    by_title,
    decode,
    demo_cache,
    figures,
    traces,
)

HEADERS = ["1 · Raw EEG", "2 · Band-pass filtering", "3 · BDE tokens",
           "4 · Electrode embeddings", "5 · Attention", "6 · Prediction",
           "7 · How the evaluation protocol changes accuracy"]


def lesson(params: dict | None = None) -> AppTest:
    """The app opened at /Learn (with the URL's ``params``), as a link opens it."""
    at = AppTest.from_file(HOME, default_timeout=180)
    at.query_params = dict(params or {})
    at.switch_page(LEARN)
    at.run()
    return at


def headers(at: AppTest) -> list[str]:
    return [h.value for h in at.main.header]


def test_the_lesson_shows_one_step_at_a_time_and_keeps_it_in_the_url():
    at = lesson()
    assert_fine(at)
    assert headers(at) == HEADERS[:1]
    assert at.query_params["step"] == "1"
    assert at.button(key="l_prev_top").disabled and not at.button(key="l_next_top").disabled
    assert by_title(at, "the whole trial")
    at.button(key="l_next_top").click().run()
    assert_fine(at)
    assert headers(at) == HEADERS[1:2] and at.query_params["step"] == "2"
    at.button(key="l_next_bottom").click().run()  # the bottom Next names the step it opens
    assert headers(at) == HEADERS[2:3] and at.query_params["step"] == "3"
    at.button(key="l_prev_top").click().run()
    assert headers(at) == HEADERS[1:2]
    at.button_group(key="l_pick").set_value(7).run()
    assert_fine(at)
    assert headers(at) == HEADERS[6:7] and at.query_params["step"] == "7"
    assert at.button(key="l_next_top").disabled
    assert len(figures(at)) == 1  # only this step's chart is drawn
    # the window chosen above the steps stays while stepping
    at.slider(key="l_window").set_value(5).run()
    at.button_group(key="l_pick").set_value(1).run()
    assert "window 5 outlined" in by_title(at, "the whole trial")["layout"]["title"]["text"]
    # every step on one page, for reading
    at.toggle(key="l_all").set_value(True).run()
    assert_fine(at)
    assert headers(at) == HEADERS


def test_a_link_opens_its_step_and_a_bad_step_opens_the_first():
    at = lesson({"step": "5"})
    assert_fine(at)
    assert headers(at) == ["5 · Attention"]
    assert at.query_params["step"] == "5"
    for bad in ("99", "two"):
        at = lesson({"step": bad})
        assert_fine(at)
        assert headers(at) == HEADERS[:1] and at.query_params["step"] == "1"


def test_raw_eeg_shows_the_whole_trial_under_a_late_window():
    at = lesson()
    last = at.slider(key="l_window").max
    at.slider(key="l_window").set_value(last).run()
    fig = by_title(at, "the whole trial")
    (window,) = [s for s in fig["layout"]["shapes"] if s.get("line", {}).get("width") == 2]
    end = max(float(np.max(decode(t["x"]))) for t in fig["data"])
    assert end >= window["x1"] - 0.01  # the signal reaches the end of the outlined window
    assert end > 20  # the whole trial (3-s rest + 20-s stimulus), not the first 12 s


def test_step_three_names_its_electrode_and_its_maps_label_the_electrodes():
    at = lesson({"step": "3"})
    assert_fine(at)
    assert at.selectbox(key="l_channel_tokens").value == "F4"
    assert any("**F4, window 0**" in m.value for m in at.markdown)
    assert list(at.dataframe[-1].value.columns) == ["band", "window DE", "rest DE", "token"]
    for title in ("This window (", "All windows: mean of high − low"):
        sensors = traces(by_title(at, title), "sensors")
        assert len(sensors) == 4
        assert all(s["mode"] == "markers+text" and "F4" in s["text"] for s in sensors)
    # the electrode chosen here is the one step 2 filters, and the other way round
    at.selectbox(key="l_channel_tokens").set_value("O1").run()
    assert any("**O1, window 0**" in m.value for m in at.markdown)
    at.button(key="l_prev_top").click().run()
    assert at.selectbox(key="l_channel").value == "O1"
    assert by_title(at, "O1: the window")
    at.selectbox(key="l_channel").set_value("Cz").run()
    at.button(key="l_next_top").click().run()
    assert at.selectbox(key="l_channel_tokens").value == "Cz"


def test_the_embeddings_step_says_what_to_look_for():
    at = lesson({"step": "4"})
    assert_fine(at)
    point = next(i.value for i in at.info if "What to look for" in i.value)
    from locate import demo_checkpoint

    from rbt.checkpoint import load_checkpoint
    from rbt.teaching import identity_layout

    ck = load_checkpoint(demo_checkpoint())
    layout = identity_layout(ck.model, list(ck.card.ch_names))
    assert f"{layout.rank_correlation:+.2f}" in point
    # the shipped checkpoint's identities look like random vectors: the page says so
    assert abs(layout.rank_correlation) < 0.2 and layout.spread < 1.5 * layout.random_spread
    assert "they are not" in point and "name tags" in point
    fig = by_title(at, "similarity by distance")
    assert len(traces(fig, "pairs")[0]["text"]) == 32 * 31 // 2
    assert traces(fig, "trend")


def test_the_lesson_hides_the_data_controls_and_the_other_pages_keep_them(tmp_path):
    at = AppTest.from_file(HOME, default_timeout=180).run()
    at.switch_page(TRIAL).run()
    at.selectbox(key="source").set_value("deap").run()
    at.text_input(key="path_deap").input(str(tmp_path / "nowhere")).run()
    at.radio(key="model_kind").set_value("Checkpoint folder").run()
    at.text_input(key="model_path").input(str(tmp_path / "model")).run()
    at.radio(key="image_format").set_value("svg").run()
    sidebar = {w.key for w in at.sidebar.selectbox} | {w.key for w in at.sidebar.radio}
    assert {"source", "model_kind", "device", "image_format"} <= sidebar

    at.switch_page(LEARN).run()
    assert_fine(at)
    keys = ({w.key for w in at.sidebar.selectbox} | {w.key for w in at.sidebar.radio}
            | {w.key for w in at.sidebar.text_input})
    assert keys == {"image_format"}  # no data, model or device choice
    assert at.radio(key="image_format").value == "svg"
    assert any("always uses the demo data" in c.value for c in at.sidebar.caption)
    assert headers(at) == HEADERS[:1]  # the lesson runs on the demo whatever was chosen
    assert at.query_params["source"] == "deap"  # the URL still names the choice

    at.switch_page(TRIAL).run()
    assert at.selectbox(key="source").value == "deap"
    assert at.text_input(key="path_deap").value == str(tmp_path / "nowhere")
    assert at.radio(key="model_kind").value == "Checkpoint folder"
    assert at.text_input(key="model_path").value == str(tmp_path / "model")
    assert "step" not in at.query_params  # the lesson's own parameter stays on its page
