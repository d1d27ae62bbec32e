#!/usr/bin/env bash
# Create .venv and install rbt with everything the dashboard and the tests need. Idempotent.
# torch: RBT_TORCH picks the build (default torch==2.13.0; pip's CPU build on this project's CI).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=.venv/.rbt-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python -m pip install -q --disable-pip-version-check --upgrade pip
  python -c "import torch" 2>/dev/null || python -m pip install -q "${RBT_TORCH:-torch==2.13.0}"
  python -m pip install -q -e ".[app,train,dev,cluster]"
  touch "$stamp"
fi
# Plotly.js's cartesian bundle for the dashboard (a third of the full one to start in a tab);
# without npm the dashboard serves the full bundle from the plotly package
python scripts/fetch_plotly_js.py
