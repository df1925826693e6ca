"""Game ratings in the pipeline: the plain functions on hand-made games, the `game_ratings` asset
on a simulated store, and the step runner's predicted rating per game."""
from __future__ import annotations

import gzip
import json

import dagster as dg
import pandas as pd
import pytest

from pipeline_assets import ratings, scoring, steps
from pipeline_assets.cli import main
from pipeline_assets.ingest import label_assets
from pipeline_assets.rating_assets import game_ratings
from resources.dagster_resources import SourceResource, StorageResource
from tests.helpers import read_table
from tests.test_steps import AS_OF, DAY, base, root  # noqa: F401  (module fixtures reused)
from tipoff_core.domain import rating
from tipoff_core.tags import RUN_AS_OF_TAG

BOS, NYK, GSW, DET, LAL, LAC = 1610612738, 1610612752, 1610612744, 1610612765, 1610612747, 1610612746


def _result(gid, home, away, hq, aq, hot=0, aot=0, n_ot=0):
    row = {"game_id": gid, "season": "2024-25", "game_date": "2025-01-01", "home_team_id": home,
           "away_team_id": away, "home_pts": sum(hq) + hot, "away_pts": sum(aq) + aot,
           "home_ot": hot, "away_ot": aot, "overtime_periods": n_ot}
    row.update({f"home_q{i + 1}": v for i, v in enumerate(hq)})
    row.update({f"away_q{i + 1}": v for i, v in enumerate(aq)})
    return row


CLOSE_OT = _result("close", BOS, NYK, [25, 27, 26, 22], [26, 26, 25, 23], 10, 8, 1)
BLOWOUT = _result("blowout", GSW, DET, [35, 35, 30, 30], [25, 25, 25, 25])


def _score(gid, home, away, margin_mean, p_ot=0.03):
    return {"game_id": gid, "game_date": "2025-01-01", "home_team_id": home, "away_team_id": away,
            "margin_mean": margin_mean, "margin_sd": 12.0, "p_overtime": p_ot,
            "run_as_of_ts": pd.Timestamp("2025-01-01T16:00:00Z")}


# ----------------------------------------------------------------------------- plain functions

def test_a_close_overtime_game_rates_above_a_blowout_from_quarter_scores():
    rated = ratings.rate_games(pd.DataFrame([CLOSE_OT, BLOWOUT])).set_index("game_id")
    assert (rated["basis"] == rating.BASIS_QUARTER_SCORES).all()
    assert rated.loc["close", "rating"] > rated.loc["blowout", "rating"] + 30
    assert rated.loc["close", "overtime_periods"] == 1 and rated.loc["close", "final_margin"] == 2
    assert rated.loc["blowout", "final_margin"] == 30
    points = rated[list(ratings.POINTS.values())].sum(axis=1)
    assert (points - rated["rating"]).abs().max() < 1e-9  # the components add up to the rating
    # BOS-NYK: same division (rivalry), same conference; GSW-DET: inter-conference
    assert rated.loc["close", "rivalry"] and not rated.loc["close", "inter_conference"]
    assert rated.loc["blowout", "inter_conference"] and not rated.loc["blowout", "rivalry"]


def test_context_comes_from_elo_else_standing():
    feats = pd.DataFrame([{"game_id": "close", "home_elo": 1650.0, "away_elo": 1650.0},
                          {"game_id": "blowout", "home_win_pct": 0.8, "away_win_pct": 0.6,
                           "home_games": 10, "away_games": 10}])
    rated = ratings.rate_games(pd.DataFrame([CLOSE_OT, BLOWOUT]), feats).set_index("game_id")
    assert rated.loc["close", "points_strength"] == pytest.approx(10.0)   # 1650 Elo -> 1
    assert rated.loc["blowout", "strength"] == pytest.approx(0.7)         # mean win pct
    unknown = ratings.rate_games(pd.DataFrame([BLOWOUT])).iloc[0]
    assert unknown["strength"] == rating.NEUTRAL


def test_play_by_play_is_the_basis_when_given():
    actions = [{"orderNumber": 1, "period": 1, "clock": "PT11M00.00S", "scoreHome": "2",
                "scoreAway": "0", "teamTricode": "BOS", "actionType": "2pt"},
               {"orderNumber": 2, "period": 4, "clock": "PT00M00.00S", "scoreHome": "2",
                "scoreAway": "0", "actionType": "game", "subType": "end"}]
    row = _result("pbp", BOS, NYK, [2, 0, 0, 0], [0, 0, 0, 0])
    rated = ratings.rate_games(pd.DataFrame([row]), play_by_play={"pbp": {"game": {
        "gameId": "pbp", "actions": actions}}})
    assert rated.iloc[0]["basis"] == rating.BASIS_PLAY_BY_PLAY


def test_predicted_rating_is_higher_for_a_pickem_than_for_a_15_point_favourite():
    scores = pd.DataFrame([_score("pickem", LAL, LAC, 0.0), _score("fav", GSW, DET, 15.0, 0.01)])
    pred = ratings.predict_ratings(scores).set_index("game_id")
    assert pred.loc["pickem", "predicted_rating"] > pred.loc["fav", "predicted_rating"]
    assert pred.loc["pickem", "p_close_finish"] > pred.loc["fav", "p_close_finish"]
    assert pred.loc["pickem", "p_overtime"] == 0.03  # the Monte Carlo's P(OT) is used as given
    assert pred["predicted_rating"].between(0, 100).all()


def test_the_table_joins_both_and_unplayed_games_carry_only_the_prediction():
    rated = ratings.rate_games(pd.DataFrame([CLOSE_OT]))
    pred = ratings.predict_ratings(pd.DataFrame([_score("close", BOS, NYK, 1.0),
                                                 _score("tonight", LAL, LAC, -2.0)]))
    table = ratings.ratings_table(rated, pred).set_index("game_id")
    assert table.loc["close", "rating"] > 0 and table.loc["close", "predicted_rating"] > 0
    assert pd.isna(table.loc["tonight", "rating"]) and pd.isna(table.loc["tonight", "basis"])
    assert table.loc["tonight", "home_team"] == "LAL"
    assert table.loc["tonight", "home_team_id"] == LAL
    assert ratings.check_ratings(table.reset_index()) == []
    top = ratings.top_games(table.reset_index())
    assert list(top["game"]) == ["NYK at BOS", "LAC at LAL"]
    assert top.iloc[0]["score"] == "108-110 (1OT)"
    assert top.iloc[1]["rating"] == "–" and top.iloc[1]["predicted"] != "–"  # tonight's game


# ----------------------------------------------------------------------------- the asset

SIM_DAY = "2026-01-14"


def test_game_ratings_asset_on_a_simulated_store(tmp_path):
    res = {"source": SourceResource(name="simulated", seed=7),
           "store": StorageResource(root=str(tmp_path))}
    tags = {RUN_AS_OF_TAG: "2026-01-15T12:00:00Z"}
    assert dg.materialize(label_assets, instance=dg.DagsterInstance.ephemeral(), resources=res,
                          partition_key=SIM_DAY, tags=tags).success
    results = read_table("game_results", SIM_DAY, root=tmp_path)
    assert len(results) > 0
    # a scored slate of that date (hand-made margins), so both parts are present
    as_of = pd.Timestamp("2026-01-14T20:00:00Z")
    scores = pd.DataFrame([_score(g, h, a, m) for g, h, a, m in zip(
        results["game_id"], results["home_team_id"], results["away_team_id"],
        [3.0 * i for i in range(len(results))])]).assign(game_date=SIM_DAY, run_as_of_ts=as_of)
    scoring.write_score_run("game_scores", SIM_DAY, as_of, scores, {}, tmp_path)

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([game_ratings], instance=instance, resources=res,
                            partition_key=SIM_DAY, selection=[game_ratings])
    assert result.success
    md = result.asset_materializations_for_node("game_ratings")[0].metadata
    assert md["dagster/row_count"].value == len(results)
    top = md["top_10"].value
    assert top.splitlines()[0] == "| date | game | score | rating | basis | predicted |"
    assert len(top.splitlines()) == 2 + min(10, len(results))
    assert md["mean_rating"].value > 0
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]

    table = read_table("game_ratings", SIM_DAY, root=tmp_path)
    assert sorted(table["game_id"]) == sorted(results["game_id"])
    assert (table["basis"] == rating.BASIS_QUARTER_SCORES).all()
    assert table["rating"].between(0, 100).all() and table["predicted_rating"].between(0, 100).all()
    # the best-rated game is the first row of the UI table
    best = table.sort_values("rating", ascending=False).iloc[0]
    assert f"{best['away_team']} at {best['home_team']}" in top.splitlines()[2]


def test_game_ratings_of_a_date_without_games_or_scores_is_empty(tmp_path):
    res = {"store": StorageResource(root=str(tmp_path)),
           "source": SourceResource(name="simulated", seed=7)}
    result = dg.materialize([game_ratings], instance=dg.DagsterInstance.ephemeral(),
                            resources=res, partition_key="2026-07-04")
    assert result.success
    assert read_table("game_ratings", "2026-07-04", root=tmp_path).empty


# ----------------------------------------------------------------------------- the step runner

def test_prediction_step_carries_rating_and_features(root, tmp_path):  # noqa: F811
    out = tmp_path / "p.json"
    assert main(["run", "--date", DAY, "--as-of", AS_OF, "--until-step", "prediction",
                 "--output", str(out), "--n-sims", "500", "--quiet"]) == 0
    doc = json.loads(out.read_text())
    games = doc["prediction"]["games"]
    assert games["records"]
    for rec in games["records"]:
        assert 0 <= rec["rating"] <= 100
        assert set(rec["features"]) == set(rating.COMPONENTS)
        assert sum(c["points"] for c in rec["features"].values()) == pytest.approx(rec["rating"],
                                                                                 abs=1e-3)
    # the rating is the game_ratings prediction of the same row, and stays out of the table
    assert "rating" not in games["columns"] and "features" not in games["columns"]
    table = steps.table_from_json(games)
    pred = ratings.predict_ratings(table, steps.table_from_json(doc["features"]["games"]))
    assert [round(v, 4) for v in pred["predicted_rating"]] == [r["rating"] for r in games["records"]]
    assert list(table.columns) == games["columns"]


def test_a_final_without_quarter_scores_is_left_out_and_named():
    broken = {**BLOWOUT, "game_id": "broken", "home_q3": None}
    rated = ratings.rate_games(pd.DataFrame([CLOSE_OT, broken]))
    assert list(rated["game_id"]) == ["close"]
    assert "home_q3" in rated.attrs["unrated"]["broken"]


class RecordedPlayByPlay(SourceResource):
    """The live source whose CDN answers play-by-play requests from recorded files (404 else)."""

    folder: str = ""

    def get(self):
        import pathlib

        from resources.sources.http import HttpClient
        from resources.sources.live import LiveSource

        def transport(url, params):
            f = pathlib.Path(self.folder) / (url.rsplit("/", 1)[-1] + ".gz")
            return (200, gzip.decompress(f.read_bytes())) if f.exists() else (404, b"not found")
        return LiveSource(http=HttpClient(transport=transport, min_interval=0, max_attempts=1))


def test_live_game_ratings_use_the_play_by_play(fixtures_dir, tmp_path):
    """LAC at MIN 2025-01-06 (recorded CDN play-by-play) is rated from it; a final the CDN has
    no play-by-play for falls back to its quarter scores."""
    from resources import storage
    from tipoff_core import catalog
    day = "2025-01-06"
    flow = rating.pbp_flow(rating.decode_payload(
        (fixtures_dir / "nba_cdn/playbyplay_0022400500.json.gz").read_bytes()))
    rows = pd.DataFrame([
        {**_result("0022400500", 1610612750, 1610612746, [27, 27, 27, 27], [27, 26, 27, 26]),
         "home_pts": flow.home_pts, "away_pts": flow.away_pts},
        _result("0022400501", BOS, NYK, [30, 20, 25, 25], [20, 20, 20, 20])])
    rows = rows.assign(game_date=day, final_ts=pd.Timestamp("2025-01-07T03:00Z"),
                       snapshot_ts=pd.Timestamp("2025-01-07T03:00Z"))
    # quarters that add up to the play-by-play's final (108-106)
    rows.loc[0, ["home_q4", "away_q4"]] = [flow.home_pts - 81, flow.away_pts - 80]
    storage.write_label_table(catalog.label("results"), day, rows, b"{}",
                              pd.Timestamp("2025-01-07T04:00Z"), tmp_path)
    res = {"store": StorageResource(root=str(tmp_path)),
           "source": RecordedPlayByPlay(name="live", folder=str(fixtures_dir / "nba_cdn"))}
    assert dg.materialize([game_ratings], instance=dg.DagsterInstance.ephemeral(), resources=res,
                          partition_key=day).success
    t = read_table("game_ratings", day, root=tmp_path).set_index("game_id")
    assert t.loc["0022400500", "basis"] == rating.BASIS_PLAY_BY_PLAY
    assert t.loc["0022400500", "lead_changes"] == flow.lead_changes
    assert t.loc["0022400501", "basis"] == rating.BASIS_QUARTER_SCORES
