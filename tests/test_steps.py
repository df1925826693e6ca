"""`tipoff run` step execution: JSON hand-offs, step order, errors, and equivalence with live_job."""
from __future__ import annotations

import json
import shutil

import dagster as dg
import pandas as pd
import pytest

from pipeline_assets import steps
from pipeline_assets.cli import main
from tests.helpers import build_trained_store, read_table, run_folder, use_simulated_store

HISTORY = ("2025-10-21", "2025-12-10")
DAY, AS_OF = "2025-12-11", "2025-12-11T17:00:00+00:00"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A short simulated history with production models (fast grid, lenient floor)."""
    root = tmp_path_factory.mktemp("steps_base")
    build_trained_store(root, HISTORY)
    return root


@pytest.fixture
def root(base, tmp_path, monkeypatch):
    r = tmp_path / "data"
    shutil.copytree(base, r)
    use_simulated_store(monkeypatch, r)
    return r


# ----------------------------------------------------------------------------- serialization

def test_tables_round_trip_through_json():
    from tipoff_core.schemas import empty_frame
    df = pd.DataFrame({
        "ts": pd.to_datetime(["2025-12-11T17:00:00Z", "2025-12-11T18:30:00.123456Z"],
                             format="ISO8601").astype(
            "datetime64[us, UTC]"),
        "i": pd.Series([1, 2], dtype="int64"), "I": pd.Series([1, None], dtype="Int64"),
        "b": [True, False], "B": pd.Series([True, None], dtype="boolean"),
        "f": [1.5, float("nan")], "s": ["a", None]})
    back = steps.table_from_json(json.loads(json.dumps(steps.table_to_json(df))))
    pd.testing.assert_frame_equal(back, df)
    empty = empty_frame("odds")
    back = steps.table_from_json(steps.table_to_json(empty))
    assert list(back.columns) == list(empty.columns) and len(back) == 0


@pytest.mark.parametrize("have,start,ok", [
    ("collection", "features", True), ("features", "features", True),
    ("prediction", "features", True), ("collection", "prediction", False),
    ("features", "prediction", True), ("features", "storage", False),
    ("prediction", "storage", True), ("storage", "storage", True)])
def test_step_order(have, start, ok):
    if ok:
        steps.check_order(have, start)
    else:
        with pytest.raises(steps.StepError, match=f"only reached step '{have}'"):
            steps.check_order(have, start)


def test_collection_cannot_be_resumed():
    with pytest.raises(steps.StepError, match="collection needs no input"):
        steps.check_order("collection", "collection")


# ----------------------------------------------------------------------------- CLI errors

def test_cli_errors_exit_2_with_a_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    cases = [
        (["run", "--from-step", "features", "--input", str(tmp_path / "missing.json"),
          "--output", str(tmp_path / "o.json")], "does not exist"),
        (["run", "--date", "2025-12-11", "--until-step", "features"], "--output is required"),
        (["run", "--until-step", "storage"], "--date is required"),
        (["run", "--date", "11/12/2025"], "is not a date"),
        (["run", "--from-step", "features", "--output", str(tmp_path / "o.json")], "needs --input"),
        (["backtest", "--data-dir", str(tmp_path), "--seasons", ""], "--seasons is empty"),
        (["backtest", "--data-dir", str(tmp_path), "--seasons", " , "], "--seasons is empty"),
    ]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    cases.append((["run", "--from-step", "features", "--input", str(bad),
                   "--output", str(tmp_path / "o.json")], "not valid JSON"))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    cases.append((["run", "--from-step", "prediction", "--input", str(other),
                   "--output", str(tmp_path / "o.json")], "not a `tipoff run` document"))
    for argv, msg in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert msg in err, (argv, err)


@pytest.mark.parametrize("doc, msg", [
    ({"metadata": {"step": "collection"}, "collection": {}}, "has no 'target_date'"),
    ({"metadata": {"step": "collection"}, "collection": {
        "target_date": "2025-12-11", "run_as_of_ts": "x", "source": "simulated",
        "snapshots": {"schedule": {}}}}, "snapshots.schedule has no 'table'"),
    ({"metadata": {"step": "collection"}, "collection": {
        "target_date": "2025-12-11", "run_as_of_ts": "x", "source": "simulated",
        "snapshots": {k: {"table": {"columns": [], "records": 3}, "raw": {}, "endpoint": "",
                          "source": ""} for k in ("schedule", "injuries", "odds", "rosters")}}},
     "records should be a list"),
])
def test_a_hand_made_document_is_refused_with_the_key_it_lacks(tmp_path, capsys, monkeypatch,
                                                                doc, msg):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    f = tmp_path / "hand.json"
    f.write_text(json.dumps(doc))
    assert main(["run", "--from-step", "features", "--input", str(f), "--output",
                 str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_cli_refuses_paths_outside_the_data_root(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path / "data"))
    outside = tmp_path / "x" / "table.parquet"
    outside.parent.mkdir(parents=True)
    outside.write_bytes(b"PAR1")
    for argv in (["show", "game_results", "--partition", "../../../x"],
                 ["show", "odds_snapshot", "--partition", "2026-01-01", "--run", "x/../../.."],
                 ["show", "game_results", "--partition", "2026-01-01", "--run", "x/../../.."],
                 ["pin", "odds_snapshot", "--partition", "../x", "--run", "20260101T000000Z"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("tipoff ") and len(err.strip().splitlines()) == 1, err


# ----------------------------------------------------------------------------- the real thing

def test_steps_chain_with_hand_offs_and_match_live_job(root, base, tmp_path, capsys):
    c, f, p = (tmp_path / n for n in ("c.json", "f.json", "p.json"))
    assert main(["run", "--date", DAY, "--as-of", AS_OF, "--until-step", "collection",
                 "--output", str(c), "--quiet"]) == 0
    doc = json.loads(c.read_text())
    md = doc["metadata"]
    assert md["step"] == "collection" and md["target_date"] == DAY
    assert md["run_as_of_ts"] == AS_OF and md["input_source"] == "source:simulated"
    assert md["total_games"] > 0 and md["model_version"] is None and md["timestamp"]
    assert set(doc["collection"]["snapshots"]) == {"schedule", "injuries", "odds", "rosters"}

    # resuming at prediction from a collection-only document is refused
    assert main(["run", "--from-step", "prediction", "--input", str(c),
                 "--output", str(p), "--quiet"]) == 2
    assert "only reached step 'collection'" in capsys.readouterr().err

    assert main(["run", "--from-step", "features", "--input", str(c), "--until-step", "features",
                 "--output", str(f), "--quiet"]) == 0
    fd = json.loads(f.read_text())
    assert fd["metadata"]["step"] == "features" and fd["metadata"]["input_source"] == f"file:{c}"
    assert len(fd["features"]["games"]["records"]) == md["total_games"]

    assert main(["run", "--from-step", "prediction", "--input", str(f), "--until-step",
                 "prediction", "--output", str(p), "--n-sims", "2000", "--quiet"]) == 0
    pd_ = json.loads(p.read_text())
    from resources.registry import ModelRegistry
    assert pd_["metadata"]["model_version"] == ModelRegistry().production_version("win_market_free")
    assert main(["run", "--from-step", "storage", "--input", str(p), "--quiet"]) == 0

    # the same slate through Dagster's live_job in a copy of the same store
    other = tmp_path / "dagster_root"
    shutil.copytree(base, other)
    import os
    os.environ["TIPOFF_DATA_DIR"] = str(other)
    try:
        from pipeline_assets.definitions import defs
        r = defs.resolve_job_def("live_job").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), partition_key=DAY,
            tags={"tipoff/run_as_of_ts": AS_OF},
            run_config={**QUIET, "ops": {"game_scores": {"config": {"n_sims": 2000}}}})
        assert r.success
    finally:
        os.environ["TIPOFF_DATA_DIR"] = str(root)
    for asset in ("schedule_snapshot", "injury_snapshot", "odds_snapshot", "roster_snapshot",
                  "live_game_features", "live_minutes_features", "game_scores", "minutes_scores"):
        a = read_table(asset, DAY, root=root)
        b = read_table(asset, DAY, root=other)
        pd.testing.assert_frame_equal(a, b, check_like=False, obj=asset)
    token = "20251211T170000Z"
    for asset in ("game_scores", "minutes_scores", "live_game_features", "live_minutes_features"):
        name = "features.parquet" if asset.startswith("live") else "table.parquet"
        a = (run_folder(asset, DAY, token, root) / name).read_bytes()
        b = (run_folder(asset, DAY, token, other) / name).read_bytes()
        assert a == b, f"{asset}: tipoff run and live_job wrote different bytes"
    for kind in ("odds", "injuries"):
        same = [(root / "live/snapshots" / kind / DAY / f"run={token}" / n).read_bytes()
                == (other / "live/snapshots" / kind / DAY / f"run={token}" / n).read_bytes()
                for n in ("raw.json", "table.parquet", "meta.json")]
        assert all(same), kind
    # predictions log and run registry entries
    from pipeline_assets.monitoring.live_runs import read_live_runs
    from resources.predictions_log import PredictionsLog
    assert len(PredictionsLog().read(DAY)) == md["total_games"]
    runs = read_live_runs(root, DAY)
    assert len(runs) == 1 and runs.iloc[0]["mode"] == "cli"
    assert runs.iloc[0]["run_as_of_ts"] == AS_OF and runs.iloc[0]["games"] == md["total_games"]
    assert set(runs.iloc[0]["snapshot_age_hours"]) == {"schedule", "injuries", "odds", "rosters"}


def test_until_storage_in_one_go_with_default_as_of(root, capsys):
    """No --as-of on a past date: 5 minutes before the first tip, like the snapshot assets."""
    assert main(["run", "--date", DAY, "--n-sims", "500", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"storage: {DAY} as of 2025-12")
    sched = read_table("schedule_snapshot", DAY, root=root)
    as_of = pd.Timestamp(read_table("game_scores", DAY, root=root)["run_as_of_ts"].iloc[0])
    assert as_of == sched["tip_ts"].min() - pd.Timedelta(minutes=5)


def test_stored_slates_are_reported_to_dagster_as_materializations(root, tmp_path, monkeypatch,
                                                                    capsys):
    """Partition status in the UI counts slates stored by `tipoff run` (runless events)."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    assert main(["run", "--date", DAY, "--as-of", AS_OF, "--n-sims", "500"]) == 0
    assert "reported 8 materializations and 7 check results to Dagster" in capsys.readouterr().err
    instance = dg.DagsterInstance.get()
    for asset in ("schedule_snapshot", "odds_snapshot", "live_game_features", "game_scores",
                  "minutes_scores"):
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == {DAY}, asset
    ev = instance.get_latest_materialization_event(dg.AssetKey("game_scores"))
    md = ev.asset_materialization.metadata
    assert md["via"].value == "tipoff run" and md["run_as_of_ts"].value == AS_OF
    assert md["path"].value.endswith("run=20251211T170000Z") and md["games"].value > 0
    # and the asset checks of the stored scores, as a Dagster run would have recorded them
    for asset, check in (("game_scores", "schedule_covered"), ("minutes_scores", "one_row_per_player")):
        rec = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey(asset), check)])[dg.AssetCheckKey(dg.AssetKey(asset), check)]
        assert rec.event.dagster_event.event_specific_data.passed, (asset, check)
    # --no-dagster-report leaves the instance alone
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "other_home"))
    assert main(["run", "--date", DAY, "--as-of", "2025-12-11T18:00:00+00:00", "--n-sims", "500",
                 "--quiet", "--no-dagster-report"]) == 0
    assert not (tmp_path / "other_home").exists()


def test_storage_refuses_to_overwrite_a_different_run(root, tmp_path, capsys):
    p = tmp_path / "p.json"
    assert main(["run", "--date", DAY, "--as-of", AS_OF, "--until-step", "prediction",
                 "--output", str(p), "--n-sims", "500", "--quiet"]) == 0
    assert main(["run", "--from-step", "storage", "--input", str(p), "--quiet"]) == 0
    assert main(["run", "--from-step", "storage", "--input", str(p), "--quiet"]) == 0  # identical
    doc = json.loads(p.read_text())
    doc["prediction"]["games"]["records"][0]["p_home_win"] = 0.5
    p.write_text(json.dumps(doc))
    assert main(["run", "--from-step", "storage", "--input", str(p), "--quiet"]) == 1
    assert "never overwritten" in capsys.readouterr().err


# ----------------------------------------------------------------------------- pin

def test_pin_and_unpin(root, capsys):
    for as_of in ("2025-12-11T15:00:00Z", "2025-12-11T17:00:00Z"):
        assert main(["run", "--date", DAY, "--as-of", as_of, "--until-step", "collection",
                     "--output", str(root / "c.json"), "--quiet"]) == 0
        assert main(["run", "--from-step", "features", "--input", str(root / "c.json"),
                     "--n-sims", "500", "--quiet"]) == 0
    assert run_folder("game_scores", DAY).name == "run=20251211T170000Z"
    assert main(["pin", "game_scores", "--partition", DAY, "--run", "20251211T150000Z"]) == 0
    assert run_folder("game_scores", DAY).name == "run=20251211T150000Z"
    assert main(["pin", "game_scores", "--partition", DAY, "--unpin"]) == 0
    assert run_folder("game_scores", DAY).name == "run=20251211T170000Z"
    capsys.readouterr()
    assert main(["pin", "game_scores", "--partition", DAY, "--run", "20990101T000000Z"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["pin", "game_results", "--partition", DAY, "--run", "x"]) == 2
    assert "not written per run" in capsys.readouterr().err
    assert main(["pin", "game_scores", "--partition", DAY]) == 2
