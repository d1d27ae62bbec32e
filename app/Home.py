"""rbt dashboard: what an RBTransformer model looks at, on EEG emotion data.

Run ``rbt dashboard`` (or ``./scripts/dashboard.sh`` in a clone, or ``streamlit run
app/Home.py``). This is the entry point: it draws the sidebar (data, model, device) once for
whichever page is shown and keeps the session's selection in the URL (:mod:`state`); each page
in ``views/`` is a module whose ``render()`` draws its body. Loading is cached, so only the
first page pays for it.
"""

from pathlib import Path

import common
import plot_element
import state
import streamlit as st

# material icons are drawn from a font Streamlit ships; emoji need an emoji font, which a
# headless browser may lack
PAGES = [
    st.Page("views/0_Overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("views/1_One_trial.py", title="One trial", icon=":material/search:",
            url_path="One_trial"),
    st.Page("views/2_Across_trials.py", title="Across trials", icon=":material/bar_chart:",
            url_path="Across_trials"),
    st.Page("views/3_Learn.py", title="Learn", icon=":material/school:", url_path="Learn"),
]
# the tab's icon is a file shipped with the app (sent inline). It is set before the
# navigation: the browser otherwise takes the page's material icon for the tab, from a web
# font host (which fails offline)
ICON = Path(__file__).resolve().parent / "icon.svg"

st.set_page_config(page_icon=str(ICON), layout="wide")
plot_element.serve_plotly_js()
page = st.navigation(PAGES)
st.set_page_config(page_title=f"{page.title} · rbt dashboard")
selection = state.begin_run()
lesson = page.title == "Learn"  # the lesson always uses the demo: no data or model choices
common.draw_sidebar(data=not lesson)
selection.show_notes()
try:
    page.run()
finally:  # the view in the URL, also when the page stopped early (nothing loaded)
    state.sync(keep=("step",) if lesson else (), last=True)
