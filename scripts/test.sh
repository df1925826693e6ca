#!/usr/bin/env bash
# One command from a fresh clone: create .venv if needed, install Tipoff with dev extras, run tests.
# Runs on TIPOFF_TEST_WORKERS processes (default 2), one test file per worker; the slow
# fast-forward scenarios and the real-data backtest season are left out unless asked for: `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest -n "${TIPOFF_TEST_WORKERS:-2}" --dist loadfile "$@"
