#!/usr/bin/env bash
# Set up .venv on first run, then open the dashboard on the demo data with the shipped checkpoint.
# Extra arguments go to `streamlit run` (e.g. --server.port 8502). RBT_PORT picks the port;
# RBT_ADDRESS the address it listens on (default 127.0.0.1: this machine only). Serving it on a
# network? Read SECURITY.md first (RBT_DATA_ROOTS, RBT_UPLOAD_TTL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
port=${RBT_PORT:-8501}
address=${RBT_ADDRESS:-127.0.0.1}
case "$address" in
  127.*|localhost|::1|"[::1]")
    echo "rbt dashboard: http://localhost:${port}  (this machine only; Ctrl+C stops it)" ;;
  *)
    shown=$address
    case "$address" in 0.0.0.0|::) shown="<this machine's address>" ;; esac
    cat <<EOF
rbt dashboard: http://${shown}:${port}  (Ctrl+C stops it)
WARNING: listening on ${address}: anyone who can reach this address can use the
dashboard: upload files (each browser session sees only its own), and read the folders in
RBT_DATA_ROOTS (${RBT_DATA_ROOTS:-none set: typed paths are off, uploads and the demo only}).
See SECURITY.md.
EOF
    ;;
esac
exec streamlit run app/Home.py --server.port "$port" --server.address "$address" \
  --server.headless true --browser.gatherUsageStats false "$@"
