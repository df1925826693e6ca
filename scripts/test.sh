#!/usr/bin/env bash
# One command from a fresh clone: create .venv if needed, install Tipoff with dev extras, run tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest "$@"
