"""The dashboard's chart element: a Plotly figure that is updated in place, not rebuilt.

``st.plotly_chart`` makes the figure's spec part of the element's identity, so every changed
figure is a new element and the browser builds its plot from scratch (axes, colour bars, hover
layers: about 50-80 ms a chart, ten charts a window step). This element is a Streamlit
component (``st.components.v2``) keyed by the chart's key: the browser keeps one plot per key
and hands each new figure to ``Plotly.react``, which redraws only what changed. A click on a
point comes back as the chart's ``click`` value (curve, point, x, y, customdata), like a
Plotly selection. Plotly.js is served once per browser from the app's static folder
(``server.enableStaticServing``), and cached by it: the cartesian bundle when setup fetched it
(scripts/fetch_plotly_js.py), else the full bundle the ``plotly`` package ships.

Written by hand because no library gives an updating Plotly element with click events for
Streamlit; the component API and Plotly.js do the work.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import plotly
import streamlit as st
from plotly.offline import get_plotlyjs_version

STATIC = Path(__file__).resolve().parent / "static"
PLOTLY_JS_VERSION = get_plotlyjs_version()
# Plotly.js's cartesian bundle (every trace type rbt draws; a third of the full bundle to parse
# and start in each new tab), which scripts/setup.sh fetches from npm's registry; else the full
# bundle the plotly package ships, copied beside it. The names carry the version: a browser's
# cached copy never outlives an upgrade.
CARTESIAN_JS = f"plotly-cartesian-{PLOTLY_JS_VERSION}.min.js"
FULL_JS = f"plotly-{PLOTLY_JS_VERSION}.min.js"
PLOTLY_JS = CARTESIAN_JS if (STATIC / CARTESIAN_JS).is_file() else FULL_JS

# The page loads Plotly.js once (a <script> in the document head, shared by every chart), then
# each render of a chart parses its figure and calls Plotly.react on the chart's own div, which
# the component keeps across reruns. Clicks are sent back as a trigger value.
# A chart out of sight is not redrawn: its newest figure waits until it scrolls near the view
# (an IntersectionObserver on the page's scrolling panel, 200 px ahead), so a click that changes
# seven charts costs the browser only the ones on screen (printing the page draws them all). A
# figure identical to the one drawn is not drawn again.
_JS = """
const SRC = "app/static/__PLOTLY_JS__";
const AHEAD = 200;  // px beyond the view where charts are drawn already
function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__rbtPlotly) {
    window.__rbtPlotly = new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = new URL(SRC, document.baseURI).href;
      tag.onload = () => resolve(window.Plotly);
      tag.onerror = () => {
        window.__rbtPlotly = null;
        reject(new Error("Plotly.js did not load"));
      };
      document.head.appendChild(tag);
    });
  }
  return window.__rbtPlotly;
}
function text(data) {
  if (typeof data === "string") return data;
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  return new TextDecoder().decode(bytes);
}
function scroller(el) {
  // the outermost ancestor that may scroll: Streamlit's main panel (each element's own
  // container may scroll too, but it is as tall as the chart), else the viewport (null)
  let found = null;
  for (let p = el.parentElement; p; p = p.parentElement) {
    const y = getComputedStyle(p).overflowY;
    if (y === "auto" || y === "scroll") found = p;
  }
  return found;
}
function near(div, root) {
  const r = div.getBoundingClientRect();
  const view = root ? root.getBoundingClientRect() : {top: 0, bottom: window.innerHeight};
  return r.bottom >= view.top - AHEAD && r.top <= view.bottom + AHEAD && r.width > 0;
}
function draw(div) {
  const pending = div.__rbtPending;
  div.__rbtPending = null;
  if (pending === null) return;
  const spec = pending.spec;
  div.__rbtDrawn = pending.json;
  plotly().then((Plotly) => {
    Plotly.react(div, spec.data, spec.layout, spec.config).then(() => {
      if (div.__rbtBound) return;
      div.__rbtBound = true;
      div.on("plotly_click", (event) => {
        const points = (event.points || []).map((p) => ({
          curve_number: p.curveNumber, point_index: p.pointIndex ?? p.pointNumber,
          x: p.x, y: p.y, customdata: p.customdata ?? null,
        }));
        div.__rbtSend("click", {points});
      });
    });
  }).catch((err) => {
    div.__rbtDrawn = null;
    div.textContent = "This chart could not be drawn: " + err.message;
  });
}
function watch(div) {
  const root = scroller(div);
  const seen = window.__rbtSeen || (window.__rbtSeen = new Map());
  let io = seen.get(root);
  if (!io) {
    io = new IntersectionObserver((entries) => {
      for (const e of entries) {
        e.target.__rbtNear = e.isIntersecting;
        if (e.isIntersecting && e.target.__rbtPending !== null) draw(e.target);
      }
    }, {root, rootMargin: `${AHEAD}px 0px`});
    seen.set(root, io);
  }
  io.observe(div);
  div.__rbtRoot = root;
  div.__rbtWatched = true;
}
if (!window.__rbtPrint) {  // printing the page shows every chart, in view or not
  window.__rbtPrint = true;
  window.addEventListener("beforeprint", () => {
    for (const d of document.querySelectorAll("div.rbt-plot")) {
      if (d.__rbtPending) draw(d);
    }
  });
}
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let div = parentElement.querySelector("div.rbt-plot");
  if (!div) {
    div = document.createElement("div");
    div.className = "rbt-plot";
    div.__rbtPending = null;
    div.__rbtDrawn = null;
    parentElement.appendChild(div);
  }
  div.__rbtSend = setTriggerValue;
  const json = text(data);
  if (json === div.__rbtDrawn) {
    div.__rbtPending = null;
    return;
  }
  div.__rbtPending = {json, spec: JSON.parse(json)};
  // an undrawn chart keeps its figure's height, so the page does not move as charts draw
  div.style.minHeight = (div.__rbtPending.spec.layout.height || 450) + "px";
  if (!div.__rbtWatched) watch(div);
  // the observer's last word, or where the chart is now when it has not spoken yet
  const visible = div.__rbtNear ?? near(div, div.__rbtRoot);
  if (visible) draw(div);
}
""".replace("__PLOTLY_JS__", PLOTLY_JS)
_CSS = "div.rbt-plot { width: 100%; }"

# The look Streamlit's own chart theme gives (white, light grid), in a few lines instead of
# Plotly's default template, which would add about 7 KB to every figure sent
TEMPLATE = {"layout": {
    "font": {"family": '"Source Sans Pro", sans-serif', "color": "#31333F"},
    "paper_bgcolor": "white", "plot_bgcolor": "white",
    "colorway": ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1",
                 "#ff8700", "#ffd16a", "#6d3fc0", "#d5dae5"],
    "xaxis": {"gridcolor": "#e6eaf1", "zerolinecolor": "#e6eaf1", "automargin": True},
    "yaxis": {"gridcolor": "#e6eaf1", "zerolinecolor": "#e6eaf1", "automargin": True},
    "hoverlabel": {"font": {"family": '"Source Sans Pro", sans-serif'}},
}}


@st.cache_resource(show_spinner=False)
def serve_plotly_js(folder: Path = STATIC) -> Path:
    """The Plotly.js the charts load, in the app's static folder: the cartesian bundle when
    setup fetched it, else a copy of the ``plotly`` package's full bundle, made once per
    server and version (a copy, not a link: Streamlit serves only regular files inside that
    folder). An OSError (a read-only install) says where the file must go."""
    target = folder / PLOTLY_JS
    source = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if PLOTLY_JS == CARTESIAN_JS or (
            target.is_file() and target.stat().st_size == source.stat().st_size):
        return target
    try:
        folder.mkdir(exist_ok=True)
        partial = target.with_name(f".{PLOTLY_JS}.{os.getpid()}")
        shutil.copyfile(source, partial)
        partial.replace(target)  # atomic: a browser never reads half a file
    except OSError as err:
        raise OSError(f"the dashboard serves Plotly.js from {folder}, which it cannot write "
                      f"({err.strerror}); copy {source} to {target}") from err
    return target


# not isolated in a shadow root: Plotly.js styles its plots from the document head
_component = st.components.v2.component("rbt_plot", js=_JS, css=_CSS, isolate_styles=False)


def figure_bytes(fig, config: Mapping) -> bytes:
    """The figure as Plotly.js wants it (data, layout, config), as UTF-8 JSON, with the small
    template above in place of Plotly's default one."""
    import plotly.io as pio

    spec = fig.to_plotly_json()
    layout = dict(spec.get("layout") or {})
    layout["template"] = TEMPLATE
    return pio.to_json({"data": spec.get("data", []), "layout": layout,
                        "config": {**config, "responsive": True}},
                       validate=False, engine="json").encode()


def plot(fig, key: str, config: Mapping, on_click: Callable[[], object] | None = None) -> None:
    """Draw ``fig`` under ``key``; ``on_click`` runs before the next rerun when a point is
    clicked (the click is then :func:`clicked_points` of ``key``)."""
    height = (fig.layout.height or 450) if fig is not None else 450
    _component(data=figure_bytes(fig, config), key=key, height=int(height),
               on_click_change=on_click or (lambda: None))


def clicked_points(state: Mapping, key: str) -> Mapping | None:
    """The last click on the chart ``key`` as a selection (``{"points": [...]}``), or None."""
    value = state.get(key)
    try:
        click = value["click"] if value is not None else None
    except (KeyError, TypeError):
        return None
    return click if isinstance(click, Mapping) else None
