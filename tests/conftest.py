"""Shared test fixtures.  Real data and recorded API responses live in ../shared beside the checkout;
tests that need them skip with a clear reason when absent (a user's fresh clone has none)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The code location sets these defaults when it is first imported; a module fixture that sets and
# then restores them (monkeypatch) before that import would leave them unset for later tests.
os.environ.setdefault("TIPOFF_SEED", "7")
os.environ.setdefault("TIPOFF_SHOCK", "")
SHARED = Path(os.environ.get("TIPOFF_SHARED_DIR", REPO.parent / "shared"))
# `tipoff run` records what it stores on the Dagster instance of DAGSTER_HOME (default: the repo's
# data/dagster_home): tests get a throwaway one unless the caller chose one.
if "DAGSTER_HOME" not in os.environ:
    import tempfile
    os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="tipoff-test-dagster-home-")


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


PG_HOST, PG_USER = "127.0.0.1", "postgres"


@pytest.fixture
def pg_database():
    """A fresh PostgreSQL database at 127.0.0.1:5432 (user postgres, trust auth), dropped after the
    test; skips when no server answers."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(host=PG_HOST, user=PG_USER, dbname="postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL answering at {PG_HOST}:5432 as {PG_USER}: {exc}")
    admin.autocommit = True
    name = f"tipoff_test_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
