#!/usr/bin/env bash
# Set up .venv on first run, then open the dashboard on the demo data with the shipped checkpoint
# (`rbt dashboard`, whose server settings are app/.streamlit/config.toml). RBT_PORT picks the
# port; RBT_ADDRESS the address it listens on (default 127.0.0.1: this machine only). Extra
# arguments go to `streamlit run` (e.g. --server.fileWatcherType none). Serving it on a network?
# Read SECURITY.md first (RBT_DATA_ROOTS, RBT_UPLOAD_TTL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
args=()
if [ -n "${RBT_PORT:-}" ]; then args+=(--port "$RBT_PORT"); fi
if [ -n "${RBT_ADDRESS:-}" ]; then args+=(--address "$RBT_ADDRESS"); fi
exec rbt dashboard ${args[@]+"${args[@]}"} -- "$@"
