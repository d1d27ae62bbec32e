#!/usr/bin/env bash
# Set up (if needed) and run the demo pipeline on the built-in synthetic data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
out=$(mktemp -d)/demo_features.npz
rbt features --source demo --out "$out"
