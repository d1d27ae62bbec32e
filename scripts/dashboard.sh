#!/usr/bin/env bash
# Set up .venv on first run, then open the dashboard on the demo data with the shipped checkpoint.
# Extra arguments go to `streamlit run` (e.g. --server.port 8502). RBT_PORT picks the port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
port=${RBT_PORT:-8501}
echo "rbt dashboard: http://localhost:${port}  (Ctrl+C stops it)"
exec streamlit run app/Home.py --server.port "$port" --server.headless true \
  --browser.gatherUsageStats false "$@"
