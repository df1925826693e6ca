"""The production instance config (deploy/dagster.yaml) on a real PostgreSQL at 127.0.0.1:5432."""
from __future__ import annotations

import shutil

import dagster as dg
import pytest

from pipeline_assets.ingest import snapshot_assets
from tipoff_core.tags import RUN_AS_OF_TAG
from resources.dagster_resources import SourceResource, StorageResource
from resources.predictions_log import PredictionsLog
from resources.storage import REPO_ROOT

psycopg2 = pytest.importorskip("psycopg2")
HOST, USER = "127.0.0.1", "postgres"  # the pg_database fixture (conftest.py) makes a database there


def test_materialize_partition_on_postgres_instance(pg_database, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    for var, value in {"TIPOFF_PG_HOST": HOST, "TIPOFF_PG_USER": USER, "TIPOFF_PG_PASSWORD": "",
                       "TIPOFF_PG_DB": pg_database}.items():
        monkeypatch.setenv(var, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        result = dg.materialize(snapshot_assets, instance=instance, partition_key="2026-01-14",
                                tags={RUN_AS_OF_TAG: "2026-01-14T20:00:00Z"},
                                resources={"source": SourceResource(name="simulated", seed=7),
                                           "store": StorageResource(root=str(tmp_path / "data"))})
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey("odds_snapshot"))
        assert event is not None and event.dagster_event.partition == "2026-01-14"


def test_predictions_log_on_postgres(pg_database):
    import pandas as pd
    log = PredictionsLog(f"postgresql+psycopg2://{USER}@{HOST}:5432/{pg_database}")
    row = {"game_id": "g1", "run_as_of_ts": "2026-01-14T20:00:00+00:00", "model_version": "v20260101_000000",
           "game_date": "2026-01-14", "mode": "live", "source": "simulated", "home_team_id": 1,
           "away_team_id": 2, "p_home_win": 0.6, "p_market_home": 0.55, "edge_home": 0.05,
           "margin_mean": 3.0, "total_mean": 220.0, "recommendation": "home", "stake": 0.01,
           "p_elo": 0.58, "logged_at": "2026-01-14T20:00:01+00:00"}
    assert log.append(pd.DataFrame([row])) == 1
    assert log.append(pd.DataFrame([dict(row, p_home_win=0.61)])) == 1  # same key: replaced
    got = log.read("2026-01-14")
    assert len(got) == 1 and got["p_home_win"].iloc[0] == pytest.approx(0.61)
