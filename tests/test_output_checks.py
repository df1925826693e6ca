"""The rules behind the output asset checks (pipeline_assets/score_checks.py): each passes a sound
table and names what is wrong in a broken one.  The checks run on real slates in
tests/test_end_to_end.py."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, strategies as st

from pipeline_assets import score_checks as rules


def _slate() -> pd.DataFrame:
    return pd.DataFrame({
        "game_id": ["g1", "g2", "g3"], "p_home_win": [0.6, 0.3, 0.5],
        "p_home_win_with_market": [0.58, 0.35, 0.5], "p_market_home": [0.55, np.nan, 0.5],
        "stake_home": [0.02, 0.0, 0.0], "stake_away": [0.0, 0.0, 0.0],
        "recommendation": ["home", "none", "none"]})


def test_a_sound_slate_passes_every_rule():
    t = _slate()
    assert rules.probability_problems(t, rules.REQUIRED_GAME_PROBABILITIES) == []
    assert rules.duplicate_problems(t, ["game_id"]) == []
    assert rules.stake_problems(t, 0.05) == []
    assert rules.unscored_games(t[["game_id"]], t) == ([], {})


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=20))
def test_probability_rule_flags_exactly_the_values_outside_the_unit_interval(values):
    t = pd.DataFrame({"p_over": values})
    v = np.asarray(values, float)
    outside = int(((v < 0) | (v > 1)).sum())
    assert rules.probability_problems(t) == ([f"p_over: {outside} value(s) outside [0, 1]"]
                                             if outside else [])


def test_missing_required_probability_and_out_of_range_are_named():
    t = _slate().assign(p_home_win=[1.2, np.nan, 0.5])
    problems = rules.probability_problems(t, rules.REQUIRED_GAME_PROBABILITIES)
    assert problems == ["p_home_win: 1 value(s) outside [0, 1]", "p_home_win: 1 missing"]
    assert rules.probability_problems(t.drop(columns="p_home_win_with_market"),
                                      rules.REQUIRED_GAME_PROBABILITIES)[-1] == \
        "p_home_win_with_market: column missing"


def test_duplicates_stakes_and_unscored_games_are_named():
    t = _slate()
    dup = pd.concat([t, t.iloc[[0]]], ignore_index=True)
    assert rules.duplicate_problems(dup, ["game_id"])[0].startswith("2 rows share a game_id")
    over = t.assign(stake_home=[0.08, 0.0, 0.0])
    assert rules.stake_problems(over, 0.05) == ["stake_home: 1 stake(s) outside [0, 0.05] (max 0.0800)"]
    # a stake on the side not recommended, and a recommendation without a stake
    wrong = t.assign(stake_away=[0.0, 0.01, 0.0], recommendation=["home", "none", "away"])
    assert rules.stake_problems(wrong, 0.05) == [
        "2 game(s) whose stakes do not match the recommendation (e.g. g2)"]
    sched = pd.DataFrame({"game_id": ["g1", "g2", "g3", "g4", "g5"]})
    assert rules.unscored_games(sched, t, {"g5": "postponed"}) == (["g4"], {"g5": "postponed"})


def test_minutes_rules():
    t = pd.DataFrame({"game_id": ["g1"] * 2, "player_id": [1, 2], "p_play": [0.9, 0.2],
                      "p10": [20.0, 0.0], "p50": [28.0, 5.0], "p90": [34.0, 12.0]})
    t["expected_minutes"] = t["p_play"] * t["p50"]
    assert rules.minutes_problems(t) == []
    bad = t.assign(p10=[30.0, 0.0], p90=[34.0, 80.0], expected_minutes=[28.0, 1.0])
    assert rules.minutes_problems(bad) == [
        "1 player(s) with p10 > p50 or p50 > p90", "1 player(s) with minutes outside [0, 70]",
        "1 row(s) where expected_minutes != p_play x p50"]


def test_performance_rules():
    rows = [{"window": w, "n_evaluated": 10, "accuracy": 0.6, "log_loss": 0.66, "brier": 0.23,
             "coverage": 1.0} for w in rules.PERFORMANCE_WINDOWS]
    t = pd.DataFrame(rows)
    assert rules.performance_problems(t) == []
    # a window without games may have NaN metrics
    t.loc[0, ["n_evaluated", "accuracy", "log_loss", "brier", "coverage"]] = [0, math.nan, math.nan,
                                                                               math.nan, math.nan]
    assert rules.performance_problems(t) == []
    t.loc[1, "accuracy"] = 1.4
    t.loc[2, "log_loss"] = math.nan
    assert rules.performance_problems(t.iloc[:3]) == [
        "window production: 0 rows (expected 1)",
        "window last_50_games: accuracy 1.4000 outside [0, 1]",
        "window last_14_days: log_loss missing with 10 games evaluated"]


def test_backtest_rules():
    good = {"log_loss": 0.64, "brier": 0.22, "accuracy": 0.65}
    block = {"games": 1000, "model_market_free": good, "model_with_market": good, "elo": good}
    assert rules.backtest_problems(block) == []
    assert rules.backtest_problems({**block, "elo": {**good, "log_loss": 0.9}}) == [
        "elo: log loss 0.9 not in (0, 0.75]"]
    assert rules.backtest_problems({"games": 0}) == ["no games evaluated"]


def test_a_range_run_evaluates_each_partition_it_planned(tmp_path):
    """Over a range of dates every partitioned check reports one evaluation per date (Dagster's
    range-wide AssetCheckResult would leave each planned date unevaluated, shown "Skipped")."""
    import dagster as dg
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    from pipeline_assets.output_checks import game_scores_checks, model_performance_metrics
    from pipeline_assets.partitions import DAILY
    from resources.dagster_resources import StorageResource

    days = ["2026-01-10", "2026-01-11", "2026-01-12"]
    defs = dg.Definitions(
        assets=[dg.AssetSpec("game_scores", partitions_def=DAILY),
                dg.AssetSpec("model_performance", partitions_def=DAILY)],
        asset_checks=[game_scores_checks, model_performance_metrics],
        jobs=[dg.define_asset_job("checks", selection=dg.AssetSelection.all_asset_checks(),
                                  partitions_def=DAILY)],
        resources={"store": StorageResource(root=str(tmp_path))})
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("checks").execute_in_process(
        instance=instance, tags={"dagster/asset_partition_range_start": days[0],
                                 "dagster/asset_partition_range_end": days[-1]})
    evaluations = result.get_asset_check_evaluations()
    # the store is empty: every date fails every check, each on its own partition, saying why
    assert sorted((e.check_name, e.partition) for e in evaluations) == sorted(
        (n, d) for n in ("probabilities_in_unit_interval", "one_row_per_game", "stakes_within_cap",
                         "schedule_covered", "metrics_in_range") for d in days)
    assert not any(e.passed for e in evaluations)
    assert all("no stored run" in e.metadata["details"].value for e in evaluations)
    for key in defs.resolve_asset_graph().asset_check_keys:
        statuses = {r.partition: r.status for r in
                    instance.event_log_storage.get_asset_check_execution_history(key, limit=10)}
        assert statuses == {d: AssetCheckExecutionRecordStatus.FAILED for d in days}, key
