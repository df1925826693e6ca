"""The whole graph on a short simulated history: gold/live parity, training through the gate,
scores through the production pointer, predictions log, promote / rollback from the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from pipeline_assets import cli
from tests.helpers import mlflow_sqlite_uri, read_table
from pipeline_assets.featureio import parity
from pipeline_assets.training import win_probability
from resources import storage
from tipoff_core import catalog
from tipoff_core.tags import RUN_AS_OF_TAG
from resources.predictions_log import PredictionsLog
from resources.mlflow_tracking import MlflowTracking
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
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)  # the default store: <data root>/mlflow.db
    mlflow_sqlite_uri(root)  # ... seeded with a migrated empty database (saves 2-7 s)
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
    checks = {(e.asset_key.path[0], e.check_name): e for e in result.get_asset_check_evaluations()}
    gate = checks[("win_model", "promotion_gate")]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    assert refused["version"] in gate.description
    assert checks[("win_model", "feature_list_matches_schema")].passed
    assert checks[("minutes_model", "promotion_gate")].passed
    _assert_mlflow_agrees(reg)  # the gate's outcome is in MLflow too
    # Promoting the refused candidate by hand needs --force and a reason; then roll back in one
    # command.
    assert cli.main(["models", "promote", "win_market_free", refused["version"]]) == 2
    assert "failed the promotion gate" in capsys.readouterr().err
    assert cli.main(["models", "promote", "win_market_free", refused["version"], "--force",
                     "--reason", "test: promote by hand"]) == 0
    assert reg.production_version("win_market_free") == refused["version"]
    _assert_mlflow_agrees(reg)
    assert cli.main(["models", "rollback", "win_market_free"]) == 0
    assert reg.production_version("win_market_free") == before
    _assert_mlflow_agrees(reg)
    assert "production is now" in capsys.readouterr().out
    assert cli.main(["models", "promote", "win_market_free"]) == 2


def _run_output_checks(defs, instance) -> dict[str, bool]:
    """Run only the asset checks of game_scores / minutes_scores on SLATE: {asset.check: passed}."""
    job = dg.define_asset_job("score_checks_only", selection=dg.AssetSelection.checks_for_assets(
        "game_scores", "minutes_scores"))
    result = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(
        "score_checks_only").execute_in_process(  # checks alone: the partition goes by tag
        instance=instance, tags={"dagster/partition": SLATE})
    assert result.success
    return {f"{e.asset_key.to_user_string()}.{e.check_name}": e.passed
            for e in result.get_asset_check_evaluations()}


def test_output_checks_pass_on_the_slate_and_catch_a_tampered_one(pipeline):
    import shutil

    from resources import storage
    from tests.helpers import partition_dir
    root, defs, instance = pipeline
    passed = _run_output_checks(defs, instance)
    assert passed == {k: True for k in (
        "game_scores.probabilities_in_unit_interval", "game_scores.one_row_per_game",
        "game_scores.stakes_within_cap", "game_scores.schedule_covered",
        "minutes_scores.probabilities_in_unit_interval", "minutes_scores.one_row_per_player",
        "minutes_scores.minutes_quantiles_sane")}
    # a later run of the slate with a probability above 1, a game twice, a stake over the cap
    # and a scheduled game left out: every game_scores check fails
    t = read_table("game_scores", SLATE, root=root)
    bad = pd.concat([t.iloc[:-1], t.iloc[[0]]], ignore_index=True)
    bad.loc[1, "p_home_win"] = 1.3
    bad.loc[2, ["stake_home", "stake_away", "recommendation"]] = [0.2, 0.0, "home"]
    base = partition_dir("game_scores", SLATE, root)
    folder = storage.write_run_folder(base, "20260127T210100Z",
                                      {"table.parquet": storage.parquet_bytes(bad)}).path
    try:
        passed = _run_output_checks(defs, instance)
    finally:
        shutil.rmtree(folder)
        storage._point_latest(base)
    assert not any(v for k, v in passed.items() if k.startswith("game_scores."))
    assert all(v for k, v in passed.items() if k.startswith("minutes_scores."))


# ----------------------------------------------------------------------------- MLflow mirror

def _assert_mlflow_agrees(reg: ModelRegistry) -> None:
    """MLflow's tipoff.<family> versions, tipoff_state tags and production alias are exactly
    what `tipoff models list` shows."""
    tracking = MlflowTracking()
    listed = reg.list_versions()
    assert len(listed)
    for name, g in listed.groupby("name"):
        held = tracking.family_state(name)
        assert held["versions"] == dict(zip(g["version"], g["state"])), name
        assert held["production"] == reg.production_version(name), name


def test_models_are_registered_in_mlflow_with_the_production_alias(pipeline):
    root, _, instance = pipeline
    reg = ModelRegistry(root / "models")
    _assert_mlflow_agrees(reg)
    import mlflow.pyfunc
    from mlflow.tracking import MlflowClient
    uri = MlflowTracking().resolved_tracking_uri()
    assert uri == f"sqlite:///{root.resolve() / 'mlflow.db'}"  # the default store
    client = MlflowClient(tracking_uri=uri)
    mv = client.get_model_version_by_alias("tipoff.win_market_free", "production")
    assert mv.tags["tipoff_version"] == reg.production_version("win_market_free")
    # the MLflow model predicts what the registry's model predicts, on its own input example
    local = Path(client.download_artifacts(mv.run_id, "model"))
    model = mlflow.pyfunc.load_model(str(local))
    assert model.metadata.signature is not None
    example = model.metadata.load_input_example(str(local))
    out = model.predict(example)
    stored = reg.load_production("win_market_free").model["model"]
    games = storage.read_season_tables(catalog.feature("gold", "game"), root)
    players = storage.read_season_tables(catalog.feature("gold", "minutes"), root)
    ids = list(out["game_id"])
    assert ids == list(example["game_id"].astype(str).unique())
    direct = win_probability(stored, games.set_index("game_id").loc[ids].reset_index(),
                             players[players["game_id"].isin(ids)].reset_index(drop=True))
    assert np.allclose(out["p_home_win"], direct)
    # win_model's metadata links to its run and carries the two plots
    md = instance.get_latest_materialization_event(dg.AssetKey("win_model")).asset_materialization.metadata
    link = md["win_market_free_mlflow_run"].value
    assert link.startswith("http://127.0.0.1:5000/#/experiments/") and link.endswith(
        json.loads((root / "models" / "win_market_free" / md["win_market_free_version"].value
                    / "metadata.json").read_text())["mlflow_run_id"])
    for key in ("calibration", "feature_importance"):
        assert md[key].value.startswith(f"![{key.replace('_', ' ')}](data:image/png;base64,")


def test_training_survives_mlflow_down_and_sync_mlflow_repairs(pipeline, monkeypatch, capsys):
    root, defs, instance = pipeline
    reg = ModelRegistry(root / "models")
    down = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # nothing listens on the discard port
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}
    with monkeypatch.context() as mp:
        for k, v in down.items():
            mp.setenv(k, v)
        result = defs.resolve_job_def("train_job").execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("minutes_model")],
            run_config={"ops": {"minutes_model": {"config": {"fast": True}}}})
        assert result.success
        new = reg.list_versions("minutes").iloc[-1]["version"]
        assert reg.load("minutes", new).metadata["mlflow_run_id"] is None
        # a promotion while MLflow is down: the registry moves, MLflow cannot follow
        other = reg.list_versions("minutes").query("state != 'production'").iloc[0]["version"]
        assert cli.main(["models", "promote", "minutes", other, "--force", "--reason", "test"]) == 0
        assert cli.main(["models", "sync-mlflow"]) == 1
        assert "could not be synced" in capsys.readouterr().err
    held = MlflowTracking().family_state("minutes")
    assert new not in held["versions"] and held["production"] != other
    assert cli.main(["models", "sync-mlflow", "minutes"]) == 0
    assert "tipoff.minutes: 1 version(s) registered" in capsys.readouterr().out
    _assert_mlflow_agrees(reg)
    assert cli.main(["models", "sync-mlflow"]) == 0  # idempotent
    assert "0 version(s) registered, 0 retagged" in capsys.readouterr().out
