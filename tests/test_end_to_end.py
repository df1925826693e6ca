"""The whole graph on a short simulated history: gold/live parity, training through the gate,
scores through the production pointer, predictions log, promote / rollback from the CLI."""
from __future__ import annotations

import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from pipeline_assets import cli
from tests.helpers import read_table
from pipeline_assets.featureio import parity
from tipoff_core.tags import RUN_AS_OF_TAG
from resources.predictions_log import PredictionsLog
from resources.registry import ModelRegistry

START, END = "2025-10-21", "2026-01-25"
SLATE = "2026-01-27"
AS_OF = "2026-01-27T21:00:00Z"   # 16:00 New York: after the opening lines, before tip


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    mp = pytest.MonkeyPatch()
    mp.setenv("TIPOFF_DATA_DIR", str(root))
    mp.setenv("TIPOFF_SOURCE", "simulated")
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    from pipeline_assets.definitions import defs
    instance = dg.DagsterInstance.ephemeral()
    hist = defs.resolve_job_def("history_job").execute_in_process(
        instance=instance, tags={"dagster/asset_partition_range_start": START,
                                 "dagster/asset_partition_range_end": END})
    assert hist.success
    train = defs.resolve_job_def("train_job").execute_in_process(
        instance=instance, run_config={"ops": {"win_model": {"config": {"fast": True, "max_log_loss": 0.75}},
                                               "minutes_model": {"config": {"fast": True}}}})
    assert train.success
    live = defs.resolve_job_def("live_job").execute_in_process(
        instance=instance, partition_key=SLATE, tags={RUN_AS_OF_TAG: AS_OF},
        run_config={"ops": {"game_scores": {"config": {"n_sims": 2000}}}})
    assert live.success
    yield root, defs, instance
    mp.undo()


def test_gold_and_live_paths_agree_on_past_dates(pipeline):
    root, _, _ = pipeline
    for day in ("2025-10-22", "2026-01-10", END):
        diffs = parity(day, root)
        assert diffs["game"].empty and diffs["minutes"].empty, {k: v.to_dict("records") for k, v in diffs.items()}
        assert len(read_table("gold_game_features", day, root=root)) > 0


def test_models_trained_registered_and_promoted(pipeline):
    root, _, _ = pipeline
    reg = ModelRegistry(root / "models")
    versions = reg.list_versions()
    assert set(versions["name"]) == {"win_market_free", "win_with_market", "minutes"}
    for name in ("win_market_free", "win_with_market", "minutes"):
        v = reg.production_version(name)
        assert v and v.startswith("v") and len(v) == len("v20260101_000000")
        meta = json.loads((root / "models" / name / v / "metadata.json").read_text())
        assert meta["train_end"] < meta["gate_window"][0]   # the gate window was held out
        assert meta["mlflow_run_id"]
        assert (root / "models" / name / v / "features.txt").read_text().strip()
    assert (root / "mlflow.db").is_file() and (root / "mlartifacts").is_dir()


def test_scores_have_distributions_edge_and_stake(pipeline):
    root, _, _ = pipeline
    scores = read_table("game_scores", SLATE, root=root)
    assert len(scores) >= 3
    assert scores["p_home_win"].between(0, 1).all()
    assert (scores["margin_p05"] <= scores["margin_p50"]).all() and (scores["margin_p50"] <= scores["margin_p95"]).all()
    # Monte Carlo agrees with the probability it was driven by
    assert np.allclose(scores["p_home_win_mc"], scores["p_home_win"], atol=0.05)
    assert scores["p_market_home"].notna().all()  # lines open at 10:00 New York
    assert np.allclose(scores["edge_home"], scores["p_home_win"] - scores["p_market_home"])
    assert (scores[["stake_home", "stake_away"]] <= 0.05 + 1e-12).all().all()
    assert set(scores["recommendation"]) <= {"home", "away", "none"}
    summary = json.loads(next((root / "artifacts/game_scores" / SLATE).glob("run=*/summary.json")).read_text())
    assert summary["mode"] == "live" and summary["model_version"].startswith("v")
    assert summary["run_as_of_ts"] == pd.Timestamp(AS_OF).isoformat()
    minutes = read_table("minutes_scores", SLATE, root=root)
    assert (minutes["p10"] <= minutes["p50"]).all() and (minutes["p50"] <= minutes["p90"]).all()
    assert minutes["p_play"].between(0, 1).all()
    assert np.allclose(minutes["expected_minutes"], minutes["p_play"] * minutes["p50"])
    # the players likely to play share each team's 240 minutes
    likely = minutes[minutes["p_play"] >= 0.5]
    sums = likely.groupby(["game_id", "team_id"])["p50"].sum()
    assert np.allclose(sums, 240.0, atol=1.0), sums.describe()
    logged = PredictionsLog(f"sqlite:///{root / 'predictions.db'}").read(SLATE)
    assert len(logged) == len(scores)


def test_live_features_respect_the_as_of(pipeline):
    root, _, _ = pipeline
    feats = read_table("live_game_features", SLATE, root=root)
    assert (feats["cutoff_ts"] <= pd.Timestamp(AS_OF)).all()
    assert (feats["cutoff_ts"] <= feats["tip_ts"]).all()
    assert feats["label_home_win"].isna().all()   # live: labels not known yet


def test_gate_failure_leaves_production_and_rollback_restores(pipeline, monkeypatch, capsys):
    root, defs, instance = pipeline
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(root))
    reg = ModelRegistry(root / "models")
    before = reg.production_version("win_market_free")
    # An impossible floor: the new candidate must be refused and production stay as it was.
    result = defs.resolve_job_def("train_job").execute_in_process(
        instance=instance, run_config={"ops": {"win_model": {"config": {"fast": True, "max_log_loss": 0.01}},
                                               "minutes_model": {"config": {"fast": True}}}})
    assert result.success
    assert reg.production_version("win_market_free") == before
    refused = reg.list_versions("win_market_free").iloc[-1]
    assert refused["state"] == "candidate" and "gate failed" in refused["reason"]
    # Promoting the refused candidate by hand needs --force and a reason; then roll back in one
    # command.
    assert cli.main(["models", "promote", "win_market_free", refused["version"]]) == 2
    assert "failed the promotion gate" in capsys.readouterr().err
    assert cli.main(["models", "promote", "win_market_free", refused["version"], "--force",
                     "--reason", "test: promote by hand"]) == 0
    assert reg.production_version("win_market_free") == refused["version"]
    assert cli.main(["models", "rollback", "win_market_free"]) == 0
    assert reg.production_version("win_market_free") == before
    assert "production is now" in capsys.readouterr().out
    assert cli.main(["models", "promote", "win_market_free"]) == 2
