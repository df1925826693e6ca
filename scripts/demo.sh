#!/usr/bin/env bash
# One command from a fresh clone: create .venv, install Tipoff, run the main job on the simulated
# league (no network): backfill a short history, then today's snapshots, features and scores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/tipoff demo "$@"
