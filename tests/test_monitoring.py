"""model_performance: windows, coverage, as-of and pins, the production window, PSI, the asset."""
from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from pipeline_assets.monitoring import drift, live_runs
from pipeline_assets.monitoring import report as mon
from pipeline_assets.monitoring_assets import model_performance
from resources import storage
from tests.helpers import partition_dir
from tipoff_core import catalog
from tipoff_core.domain import metrics
from resources.registry import ModelRegistry

DAYS = ["2026-01-10", "2026-01-11", "2026-01-12"]
RNG = np.random.default_rng(3)


class FakeWin:
    """Stands in for a pickled WinModel: an sklearn pipeline with an `lr` step + feature_cols."""

    def __init__(self, cols):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        x = RNG.normal(size=(200, len(cols)))
        y = (x[:, 0] + 0.3 * x[:, 1] + RNG.normal(size=200) > 0).astype(int)
        self.estimator = Pipeline([("lr", LogisticRegression())]).fit(x, y)
        self.feature_cols = cols


COLS = ["diff_elo", "diff_net_rating", "home_elo", "elo_prob_home"]


def _write(path: Path, df: pd.DataFrame) -> None:
    storage.atomic_write_bytes(path, storage.parquet_bytes(df))


def _scores(root, day, token, version, games, p):
    base = partition_dir("game_scores", day, root)
    t = pd.DataFrame({"game_id": games, "game_date": day, "home_team_id": 1, "away_team_id": 2,
                      "p_home_win": p, "p_market_home": np.clip(np.array(p) + 0.05, 0.01, 0.99),
                      "p_elo": 0.6, "margin_mean": 3.0, "market_home_spread": -3.0})
    summary = {"model_version": version, "feature_source": f"live/features_game/{day}/run={token}"}
    storage.write_run_folder(base, token, {"table.parquet": storage.parquet_bytes(t),
                                           "summary.json": json.dumps(summary).encode()})
    feats = pd.DataFrame({c: RNG.normal(size=len(games)) for c in COLS}).assign(game_id=games)
    storage.write_run_folder(partition_dir("live_game_features", day, root), token,
                             {"features.parquet": storage.parquet_bytes(feats)})
    m = pd.DataFrame({"game_id": np.repeat(games, 2), "player_id": np.tile([1, 2], len(games)),
                      "p10": 10.0, "p50": 20.0, "p90": 30.0})
    storage.write_run_folder(partition_dir("minutes_scores", day, root), token,
                             {"table.parquet": storage.parquet_bytes(m)})


def _results(root, day, games, home_wins, final_hour=4):
    ts = pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1, hours=final_hour)
    r = pd.DataFrame({"game_id": games, "game_date": day,
                      "home_pts": [110 if w else 100 for w in home_wins],
                      "away_pts": [100 if w else 110 for w in home_wins], "final_ts": ts,
                      "snapshot_ts": ts})
    _write(partition_dir("game_results", day, root) / "table.parquet", r)
    b = pd.DataFrame({"game_id": np.repeat(games, 2), "player_id": np.tile([1, 2], len(games)),
                      "minutes": np.tile([25.0, 35.0], len(games)), "snapshot_ts": ts})
    _write(partition_dir("player_box_scores", day, root) / "table.parquet", b)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    reg = ModelRegistry(str(tmp_path / "models"))
    meta = {"metrics": {"log_loss": 0.62, "accuracy": 0.66, "brier": 0.21, "n": 100},
            "train_start": "2025-10-21", "train_end": "2025-12-31",
            "gate_window": ["2025-12-18", "2025-12-31"]}
    old = reg.register("win_market_free", {"model": FakeWin(COLS)}, COLS, dict(meta))
    reg.promote("win_market_free", old)
    new = reg.register("win_market_free", {"model": FakeWin(COLS)}, COLS, dict(meta))
    reg.promote("win_market_free", new)
    # reference: the training window in the gold table
    gold = pd.DataFrame({c: RNG.normal(size=600) for c in COLS})
    gold["game_date"] = pd.date_range("2025-10-21", "2025-12-31").strftime("%Y-%m-%d").to_numpy()[
        RNG.integers(0, 72, 600)]
    gold["game_id"] = [f"g{i}" for i in range(600)]
    storage.write_season_rows(catalog.feature("gold", "game"), "2025-26", sorted(gold["game_date"].unique()), gold, tmp_path)
    # day 1 scored by the old version, days 2-3 by production; day 3 has an unscored final game
    _scores(tmp_path, DAYS[0], "20260110T160000Z", old, ["a1", "a2"], [0.8, 0.3])
    _scores(tmp_path, DAYS[1], "20260111T160000Z", new, ["b1", "b2"], [0.7, 0.6])
    _scores(tmp_path, DAYS[2], "20260112T160000Z", new, ["c1", "c2"], [0.9, 0.2])
    _results(tmp_path, DAYS[0], ["a1", "a2"], [True, False])
    _results(tmp_path, DAYS[1], ["b1", "b2"], [False, True])
    _results(tmp_path, DAYS[2], ["c1", "c2", "c3"], [True, True, False])
    return {"root": tmp_path, "reg": reg, "old": old, "new": new}


def test_windows_metrics_and_coverage(store):
    rep = mon.performance_report(DAYS[2], store["root"], store["reg"],
                                 pd.Timestamp("2026-01-14T00:00Z"))
    t = rep.table.set_index("window")
    assert list(t.index) == list(mon.WINDOWS)
    day = t.loc["day"]
    y, p = np.array([1.0, 1.0]), np.array([0.9, 0.2])
    assert day["n_final"] == 3 and day["n_evaluated"] == 2
    assert day["coverage"] == pytest.approx(2 / 3)
    assert day["log_loss"] == pytest.approx(metrics.log_loss(y, p))
    assert day["brier"] == pytest.approx(metrics.brier(y, p))
    assert day["accuracy"] == pytest.approx(0.5)
    assert day["market_log_loss"] == pytest.approx(metrics.log_loss(y, p + 0.05))
    assert day["minutes_n"] == 4 and day["minutes_mae"] == pytest.approx(10.0)  # |25-20|, |35-20|
    assert day["minutes_coverage_p10_p90"] == pytest.approx(0.5)
    assert t.loc["last_14_days", "n_evaluated"] == 6 and t.loc["last_50_games", "n_evaluated"] == 6
    # the production window holds only the games the current production version scored
    prod = t.loc["production"]
    assert prod["n_evaluated"] == 4 and prod["model_versions"] == store["new"]
    assert rep.summary["production_version"] == store["new"]
    assert rep.summary["baseline"]["log_loss"] == 0.62
    assert rep.summary["production_window"]["n_evaluated"] == 4
    cal = rep.calibration[rep.calibration["window"] == "last_14_days"]
    assert cal["count"].sum() == 6 and len(cal) == mon.CALIBRATION_BINS


def test_as_of_bounds_what_is_evaluated_and_pins_win(store):
    root = store["root"]
    # a later re-score of day 3 (after the as-of) and a pinned run for day 2
    _scores(root, DAYS[2], "20260112T230000Z", store["new"], ["c1", "c2"], [0.1, 0.9])
    _scores(root, DAYS[1], "20260111T210000Z", store["new"], ["b1", "b2"], [0.2, 0.2])
    storage.pin_run(partition_dir("game_scores", DAYS[1], root),
                    "20260111T160000Z")
    rep = mon.performance_report(DAYS[2], root, store["reg"], pd.Timestamp("2026-01-12T20:00Z"))
    g = rep.games.set_index("game_id")
    assert g.loc["c1", "score_run"] == "20260112T160000Z"    # the 23:00 run is after the as-of
    assert g.loc["b1", "score_run"] == "20260111T160000Z"    # pinned beats the newer 21:00 run
    assert not g.loc["c1", "final"]                          # not final at 20:00 UTC on the 12th
    rep = mon.performance_report(DAYS[2], root, store["reg"], None)
    assert rep.games.set_index("game_id").loc["c1", "score_run"] == "20260112T230000Z"


def test_psi_uses_importance_ranked_season_comparable_features(store):
    rep = mon.performance_report(DAYS[2], store["root"], store["reg"], None, psi_days=3)
    assert set(rep.psi["feature"]) == {"diff_elo", "diff_net_rating", "elo_prob_home"}  # no home_elo
    assert (rep.psi["n_recent"] == 6).all() and (rep.psi["n_reference"] == 600).all()
    assert rep.psi["importance"].is_monotonic_decreasing
    assert set(rep.summary["psi"]) == set(rep.psi["feature"]) and rep.summary["psi_n_recent"] == 6
    assert not drift.psi_eligible("home_elo") and drift.psi_eligible("diff_elo")


def test_feature_importance_of_tree_and_linear_models():
    imp = drift.feature_importance(FakeWin(COLS), COLS)
    assert list(imp.index)[0] == "diff_elo" and len(imp) == 4

    class Tree:
        feature_importances_ = np.array([1.0, 5.0, 3.0, 0.0])
    tree = type("M", (), {"estimator": Tree(), "feature_cols": COLS})()
    assert list(drift.feature_importance(tree, COLS).index[:2]) == ["diff_net_rating", "home_elo"]
    assert drift.feature_importance(object(), COLS).empty


def test_report_is_written_and_found_by_the_drift_sensor(store):
    from tests.helpers import read_table
    root = store["root"]
    for d in DAYS:
        mon.write_report(mon.performance_report(d, root, store["reg"],
                                                pd.Timestamp("2026-01-14T08:00Z")), root)
    s = mon.latest_summary(root)
    assert s["date"] == DAYS[2] and s["run_folder"].endswith("run=20260114T080000Z")
    assert mon.latest_summary(root, not_before="2026-01-13") is None
    t = read_table("model_performance", DAYS[2], root=root)
    assert list(t["window"]) == list(mon.WINDOWS)


def test_the_asset_materializes_a_run_folder_with_metadata(store):
    from resources.dagster_resources import RegistryResource
    from resources.dagster_resources import StorageResource
    res = dg.materialize(
        [model_performance], partition_key=DAYS[2],
        resources={"store": StorageResource(root=str(store["root"])),
                   "registry": RegistryResource(root=str(store["root"] / "models"))},
        tags={"tipoff/run_as_of_ts": "2026-01-14T08:00:00Z"}, instance=dg.DagsterInstance.ephemeral())
    assert res.success
    md = res.asset_materializations_for_node("model_performance")[0].metadata
    assert md["day_games"].value == 2 and md["production_version"].value == store["new"]
    assert "| window |" in md["windows"].value and "p bin" in md["calibration_last_14_days"].value
    folder = store["root"] / "artifacts/model_performance" / DAYS[2] / "run=20260114T080000Z"
    assert {p.name for p in folder.iterdir()} == {"table.parquet", "games.parquet",
                                                  "calibration.parquet", "psi.parquet", "clv.parquet",
                                                  "summary.json"}


def test_a_date_without_scores_or_games(store):
    rep = mon.performance_report("2026-01-20", store["root"], store["reg"], None)
    day = rep.table.set_index("window").loc["day"]
    assert day["n_evaluated"] == 0 and np.isnan(day["log_loss"])
    assert rep.summary["production_window"]["n_evaluated"] == 4  # the 28-day window reaches back


def test_live_run_log(tmp_path):
    live_runs.append_live_run({"run_id": "a", "date": "2026-01-10", "status": "FAILURE"}, tmp_path)
    live_runs.append_live_run({"run_id": "a", "date": "2026-01-10", "status": "SUCCESS"}, tmp_path)
    live_runs.append_live_run({"run_id": "b", "date": "2026-01-11", "status": "SUCCESS"}, tmp_path)
    with open(live_runs.live_runs_path(tmp_path), "a") as fh:
        fh.write('{"run_id": "c", "da')  # a torn line after a crash
    df = live_runs.read_live_runs(tmp_path)
    assert list(df["run_id"]) == ["a", "b"] and df.iloc[0]["status"] == "SUCCESS"
    assert len(live_runs.read_live_runs(tmp_path, "2026-01-11")) == 1
