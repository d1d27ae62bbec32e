#!/usr/bin/env bash
# Set up (if needed), lint, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
# The browser test drives Debian's Chromium; install it when missing (needs root; the test
# skips, saying why, when it cannot be had).
command -v chromium >/dev/null 2>&1 || {
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    >/dev/null 2>&1 || echo "note: Chromium could not be installed; the browser test will skip"
}
ruff check .
python -m pytest "$@"
