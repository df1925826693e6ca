"""Shared test fixtures.  Real data and recorded API responses live in ../shared beside the checkout;
tests that need them skip with a clear reason when absent (a user's fresh clone has none)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The code location sets these defaults when it is first imported; a module fixture that sets and
# then restores them (monkeypatch) before that import would leave them unset for later tests.
os.environ.setdefault("TIPOFF_SEED", "7")
os.environ.setdefault("TIPOFF_SHOCK", "")
SHARED = Path(os.environ.get("TIPOFF_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    d = SHARED / "data"
    if not (d / "historical_lines").is_dir():
        pytest.skip(f"real NBA data not found at {d} (set TIPOFF_SHARED_DIR to the shared/ folder)")
    return d


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    d = SHARED / "fixtures"
    if not d.is_dir():
        pytest.skip(f"recorded API responses not found at {d} (set TIPOFF_SHARED_DIR)")
    return d
