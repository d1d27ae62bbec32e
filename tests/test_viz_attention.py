"""The attention figures as the dashboard's One trial page shows them: in columns about 430 px
wide. The figure specs are checked here, and drawn by plotly's own bundled plotly.js in Chromium
(Playwright), where the text, arrows, cells and tick labels are measured on the page. Screenshots
go to tests/artifacts/attention-*.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly
import pytest
from test_browser import ARTIFACTS, CHROMIUM_ARGS, chromium
from test_viz import traces, valid

from rbt.data.deap import EEG_CHANNELS
from rbt.data.dreamer import CHANNELS as DREAMER_CHANNELS
from rbt.explain import top_pairs
from rbt.viz import attention as va
from rbt.viz._base import with_context

COLUMN = 430  # px: one of One trial's three attention columns on a wide screen
NARROW = 316  # px: the same column in a 1440 px wide window
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _attention(n=32, seed=3, power=4.0):
    a = np.random.default_rng(seed).random((n, n)) ** power
    return a / a.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------
# the specs


def test_pairs_caption_starts_at_the_plot_left_edge_and_explains_every_mark():
    fig = valid(va.attention_lines(_attention(), EEG_CHANNELS, k=12, title="Pairs"))
    (caption,) = [x for x in fig.layout.annotations if x.name == "caption"]
    # anchored at the plot's left edge, so it cannot start left of the figure
    assert (caption.x, caption.xanchor, caption.xref, caption.align) == (0, "left", "paper",
                                                                         "left")
    assert caption.yanchor == "top" and caption.y == 0
    lines = caption.text.split("<br>")
    assert len(lines) == 4 and max(len(x) for x in lines) <= 60  # fits a 430 px column
    assert fig.layout.margin.b >= 13 * len(lines)  # room beneath the head for every line
    text = caption.text
    assert "looking electrode" in text and "looks at" in text  # direction
    assert "Dot size" in text and "receives" in text  # sensor size
    assert "dot colour" in text  # the pair's dot
    # the arrows point from the looking electrode (row) to the one it looks at (column)
    a = np.zeros((32, 32))
    a[EEG_CHANNELS.index("Fz"), EEG_CHANNELS.index("Oz")] = 1.0
    one = valid(va.attention_lines(a, EEG_CHANNELS, k=1))
    assert list(traces(one, "pairs")[0].text) == ["Fz → Oz"]
    (heads,) = traces(one, "arrows")
    from rbt.montage import positions_2d

    pos = positions_2d(EEG_CHANNELS)
    fz, oz = pos[EEG_CHANNELS.index("Fz")], pos[EEG_CHANNELS.index("Oz")]
    assert np.linalg.norm(np.array([heads.x[0], heads.y[0]]) - oz) < 0.2 * np.linalg.norm(oz - fz)
    # Oz is behind Fz: the head points backwards, down the page
    assert heads.marker.angle[0] % 360 == pytest.approx(180, abs=5)


def test_no_pairs_note_replaces_the_lines_and_keeps_the_head():
    a = _attention()
    empty = valid(va.attention_lines(a, EEG_CHANNELS, k=1024, threshold=0.9))
    notes = [x for x in empty.layout.annotations if x.name == "no pairs"]
    assert va.NO_PAIRS == "no pairs above this threshold"
    assert [x.text for x in notes] == [va.NO_PAIRS]
    assert not traces(empty, "pairs") and not [t for t in empty.data if t.name.startswith("lines")]
    assert list(traces(empty, "sensors")[0].text) == EEG_CHANNELS and traces(empty, "head")
    # the same threshold with pairs above it draws them and no note
    thr = float(np.sort((a - np.diag(np.diag(a))).ravel())[-3])
    some = valid(va.attention_lines(a, EEG_CHANNELS, k=1024, threshold=thr))
    assert len(traces(some, "pairs")[0].text) == 3
    assert not [x for x in some.layout.annotations if x.name == "no pairs"]


def test_pairs_colour_bar_is_titled_and_sequential():
    fig = valid(va.attention_lines(_attention(), EEG_CHANNELS, k=8))
    marker = traces(fig, "pairs")[0].marker
    assert marker.colorbar.title.text == "pair's attention"
    weights = [w for _, _, w in top_pairs(_attention(), k=8, exclude_self=True)]
    assert (marker.cmin, marker.cmax) == pytest.approx((min(weights), max(weights)))
    # sequential (attention is positive): Viridis, dark to light, as plotly.js draws it
    assert [c for _, c in marker.colorscale] == list(plotly.colors.sequential.Viridis)


@pytest.mark.parametrize("names, dtick", [(EEG_CHANNELS, 1), (DREAMER_CHANNELS, 1),
                                          ([f"E{i}" for i in range(64)], 2)])
def test_matrix_is_laid_out_square_for_a_column_with_every_label_that_fits(names, dtick):
    n = len(names)
    a = _attention(n)
    fig = valid(va.attention_heatmap(a, names, title="Matrix"))
    (grid,) = fig.data  # one trace however many cells: cheap to redraw
    assert grid.name == "attention" and grid.type == "heatmap" and np.shape(grid.z) == (n, n)
    box = va.matrix_layout(names, title=True)
    m = fig.layout.margin
    side = COLUMN - m.l - m.r
    assert fig.layout.height - m.t - m.b == pytest.approx(side, abs=1)  # square at 430 px
    x, y = fig.layout.xaxis, fig.layout.yaxis
    assert tuple(x.range) == (-0.5, n - 0.5) and tuple(y.range) == (n - 0.5, -0.5)
    assert y.scaleanchor == "x" and y.scaleratio == 1 and y.constraintoward == "top"
    # plotly.js labels a category axis at every category while each has 1.2 x the font size
    assert x.tickmode == y.tickmode == "auto" and x.tickfont.size == y.tickfont.size == 9
    assert box["dtick"] == dtick and side / n * dtick >= round(1.2 * 9)
    bar = grid.colorbar
    assert bar.title.text == "attention" and bar.orientation == "h"  # above, not beside
    assert bar.y == 1 and bar.yanchor == "bottom" and m.t >= 62 + 30  # title, context, bar
    assert bar.len == pytest.approx(0.6 * side, abs=1) and bar.lenmode == "pixels"


def test_matrix_in_a_narrow_column_labels_every_other_electrode():
    assert va.matrix_layout(EEG_CHANNELS, width=316)["dtick"] == 2
    assert va.matrix_layout(EEG_CHANNELS, width=430)["dtick"] == 1


def test_matrix_height_can_be_given_and_cells_follow_it():
    a = _attention()
    fig = valid(va.attention_heatmap(a, EEG_CHANNELS, height=400))
    m = fig.layout.margin
    assert fig.layout.height == 400
    assert 400 - m.t - m.b < va.matrix_layout(EEG_CHANNELS)["side"]  # a smaller square
    diff = valid(va.attention_heatmap(a - a.T, EEG_CHANNELS, colorscale="RdBu_r",
                                      zrange=(-0.2, 0.2), colorbar_title="A − B"))
    bar = diff.data[0].colorbar
    assert bar.title.text == "A − B" and list(bar.tickvals)[1] == 0  # signed: 0 in the middle


# --------------------------------------------------------------------------------------------
# drawn in Chromium at the column's width

_MEASURE = """(id) => {
  const g = document.getElementById(id), svg = g.querySelector('svg.main-svg');
  const at = svg.getBoundingClientRect();
  const rel = r => ({l: r.left - at.left, r: r.right - at.left, t: r.top - at.top,
                     b: r.bottom - at.top, w: r.width, h: r.height});
  const all = sel => [...g.querySelectorAll(sel)].map(e => rel(e.getBoundingClientRect()));
  const texts = sel => [...g.querySelectorAll(sel)].map(e => e.textContent);
  const drag = g.querySelector('.nsewdrag');
  return {width: at.width, height: at.height, plot: rel(drag.getBoundingClientRect()),
          annotations: [...g.querySelectorAll('.annotation')].map(e => ({
              text: e.textContent, box: rel(e.getBoundingClientRect()),
              arrow: !!e.querySelector('.annotation-arrow-g path')})),
          traces: [...g.querySelectorAll('.scatterlayer .trace')].map(t => [...t.querySelectorAll(
              'path.point')].map(e => rel(e.getBoundingClientRect()))),
          xticks: all('.xtick text'), yticks: all('.ytick text'), xnames: texts('.xtick text'),
          ynames: texts('.ytick text'), image: all('.heatmaplayer image'),
          colorbar: all('.colorbar'), xtitle: all('.g-xtitle'), ytitle: all('.g-ytitle')};
}"""


@pytest.fixture(scope="module")
def drawn():
    """Draw the figures, each in a div one column wide; measure them and take screenshots."""
    from playwright.sync_api import sync_playwright

    exe = chromium()
    context = "subject s02 · trial 1 · window 3 · block rollout"
    a = _attention()
    figs = {
        "lines": with_context(va.attention_lines(a, EEG_CHANNELS, k=12, title="Pairs: rollout"),
                              context),
        "empty": with_context(va.attention_lines(a, EEG_CHANNELS, k=1024, threshold=0.9,
                                                 title="Pairs: block 1, head 2"), context),
        "matrix": with_context(va.attention_heatmap(a, EEG_CHANNELS, title="Matrix: rollout"),
                               context),
    }
    figs["narrow"] = figs["matrix"]
    widths = {k: NARROW if k == "narrow" else COLUMN for k in figs}
    body = "".join(f"<div id='{k}' style='width:{widths[k]}px'></div>" for k in figs)
    script = "".join(f"Plotly.newPlot('{k}', {v.to_json()});" for k, v in figs.items())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page_file = ARTIFACTS / "attention-figures.html"
    page_file.write_text(f"<html><head><script src='{PLOTLY_JS.as_uri()}'></script></head>"
                         f"<body style='margin:0'>{body}<script>{script}</script></body></html>")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": COLUMN + 20, "height": 1800})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            page.wait_for_function("document.querySelectorAll('.nsewdrag').length >= 4")
            page.wait_for_timeout(300)
            out = {k: page.evaluate(_MEASURE, k) for k in figs}
            for k in figs:
                page.locator(f"#{k} svg.main-svg").first.screenshot(
                    path=str(ARTIFACTS / f"attention-{k}.png"))
        finally:
            browser.close()
    assert not errors, errors
    return out


def _inside(box, m, slack=0.5):
    return box["l"] >= -slack and box["r"] <= m["width"] + slack and box["t"] >= -slack \
        and box["b"] <= m["height"] + slack


def test_pairs_drawn_in_a_column_show_the_whole_caption_and_the_arrows(drawn):
    m = drawn["lines"]
    assert m["width"] == COLUMN
    (caption,) = [x for x in m["annotations"] if x["text"].startswith("Arrow:")]
    assert _inside(caption["box"], m), caption  # not cut off at the left (or any) edge
    assert caption["box"]["t"] >= m["plot"]["b"] - 1  # beneath the head
    fig = va.attention_lines(_attention(), EEG_CHANNELS, k=12)  # as drawn: the same numbers
    heads = m["traces"][[t.name for t in fig.data].index("arrows")]
    assert len(heads) == 12  # an arrow head on each pair, towards the electrode looked at
    assert all(_inside(x, m) and x["w"] >= 5 for x in heads)
    (bar,) = m["colorbar"]
    assert _inside(bar, m) and bar["l"] >= caption["box"]["l"]


def test_pairs_without_a_pair_say_so_in_the_head(drawn):
    m = drawn["empty"]
    (note,) = [x for x in m["annotations"] if x["text"] == va.NO_PAIRS]
    plot = m["plot"]
    assert plot["l"] < note["box"]["l"] < note["box"]["r"] < plot["r"]
    assert plot["t"] < note["box"]["t"] < note["box"]["b"] < plot["b"]
    assert not [x for x in m["annotations"] if x["arrow"]]
    assert [x for x in m["annotations"] if x["text"].startswith("Arrow:")]


@pytest.mark.parametrize("which, width, step", [("matrix", COLUMN, 1), ("narrow", NARROW, 2)])
def test_matrix_drawn_in_a_column_is_square_with_every_label_readable(drawn, which, width,
                                                                      step):
    m = drawn[which]
    plot = m["plot"]
    assert m["width"] == width
    assert plot["w"] == pytest.approx(plot["h"], abs=1)  # a square plot ...
    assert plot["w"] >= 0.8 * width  # ... across most of the column (the colour bar is above)
    # one image of n x n cells, filling the square plot: square cells, side plot / n
    (image,) = m["image"]
    for side in "lrtb":
        assert image[side] == pytest.approx(plot[side], abs=1)
    # every electrode named on both axes, and no two labels touch
    def in_order(names, boxes, key):  # the labels as they read: left to right, top down
        return [t for _, t in sorted(zip([b[key] for b in boxes], names))]

    assert in_order(m["xnames"], m["xticks"], "l") == EEG_CHANNELS[::step]
    assert in_order(m["ynames"], m["yticks"], "t") == EEG_CHANNELS[::step]  # first row on top
    for boxes, lo, hi in ((m["xticks"], "l", "r"), (m["yticks"], "t", "b")):
        boxes = sorted(boxes, key=lambda b: b[lo])
        gaps = [b[lo] - a[hi] for a, b in zip(boxes, boxes[1:])]
        assert min(gaps) > 0.5, min(gaps)
        assert all(_inside(b, m) for b in boxes)
    (bar,) = m["colorbar"]
    (xtitle,) = m["xtitle"]
    assert _inside(bar, m) and bar["b"] <= plot["t"] + 0.5  # above the plot, in the figure
    assert bar["t"] >= 62 - 8  # beneath the title and its context line
    assert max(b["b"] for b in m["xticks"]) <= xtitle["t"] + 1 and _inside(xtitle, m)
    (ytitle,) = m["ytitle"]
    assert ytitle["l"] >= 0 and ytitle["r"] <= min(b["l"] for b in m["yticks"]) + 1
