"""rbt dashboard: what an RBTransformer model looks at, on EEG emotion data.

Run ``rbt dashboard`` (or ``./scripts/dashboard.sh`` in a clone, or ``streamlit run
app/Home.py``). This is the entry point: it draws the sidebar (data, model, device) once for
whichever page is shown and keeps the session's selection in the URL (:mod:`state`); each page
in ``views/`` is a module whose ``render()`` draws its body. Loading is cached, so only the
first page pays for it.
"""

import common
import state
import streamlit as st

PAGES = [
    st.Page("views/0_Overview.py", title="Overview", icon="🏠", default=True),
    st.Page("views/1_One_trial.py", title="One trial", icon="🔍",
            url_path="One_trial"),
    st.Page("views/2_Across_trials.py", title="Across trials", icon="📊",
            url_path="Across_trials"),
    st.Page("views/3_Learn.py", title="Learn", icon="🎓", url_path="Learn"),
]

page = st.navigation(PAGES)
# emoji icons are drawn by the browser itself: a page's icon is also its tab's icon, and
# Streamlit fetches a material icon for the tab from a web font host (which fails offline)
st.set_page_config(page_title=f"{page.title} · rbt dashboard", page_icon="🧠", layout="wide")
selection = state.begin_run()
common.draw_sidebar()
state.sync()  # the view in the URL (pages showing more of it sync again)
selection.show_notes()
page.run()
