#!/usr/bin/env bash
# Set up (if needed), lint, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
ruff check .
python -m pytest "$@"
