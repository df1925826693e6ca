"""In-game states (recorded CDN scoreboard, replayed sources), the halftime sensor and the
`halftime_scores` asset: a poll of the recorded scoreboard ends in a scored halftime run."""
from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_assets import halftime as H
from pipeline_assets import scoring
from pipeline_assets.definitions import defs
from pipeline_assets.halftime_assets import halftime_scores
from resources.dagster_resources import PredictionsLogResource, SourceResource, StorageResource
from resources.predictions_log import PredictionsLog
from resources.sources import in_game, make_source
from resources.sources.base import SourceError
from resources.sources.http import HttpClient
from resources.sources.live import LiveSource
from sensors.halftime import halftime_sensor, poll_dates
from tests.helpers import read_table

SCOREBOARD = "nba_cdn/todaysScoreboard_00_2023-04-20.json"
DAY = "2023-04-20"
# 21:00 New York on the scoreboard's day
POLL = "2023-04-21T01:00:00Z"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def live_source(raw: bytes) -> LiveSource:
    return LiveSource(http=HttpClient(transport=lambda url, params: (200, raw), min_interval=0))


class RecordedScoreboard(SourceResource):
    """The live source answering every request with one recorded scoreboard file."""

    path: str = ""

    def get(self):
        with open(self.path, "rb") as f:
            return live_source(f.read())


def test_recorded_scoreboard_states(fixtures_dir):
    raw = (fixtures_dir / SCOREBOARD).read_bytes()
    t = live_source(raw).game_states(dt.date(2023, 4, 20), pd.Timestamp(POLL)).table
    by = t.set_index("game_id")
    assert list(t.columns) == in_game.GAME_STATE_COLUMNS and len(t) == 3
    # BKN at PHI final 97-102; GSW-SAC in Q2 (7:15 left); LAC-PHX in Q1
    assert by.loc["0042200123", "status"] == "final" and by.loc["0042200123", "periods_completed"] == 4
    assert by.loc["0042200163", ["status", "period", "periods_completed"]].tolist() == [
        "in_progress", 2, 1]
    assert by.loc["0042200173", "periods_completed"] == 0
    # the quarter in progress is hidden: GSW have 10 points in Q2 on the board
    assert by.loc["0042200163", "home_q1"] == 29 and pd.isna(by.loc["0042200163", "home_q2"])
    assert by.loc["0042200163", "home_score"] == 39
    assert H.checkpoints(t).tolist() == [2, 1, 0]  # sorted by game id
    # another day's scoreboard has no states for this date
    assert live_source(raw).game_states(dt.date(2023, 4, 21), pd.Timestamp(POLL)).table.empty


def test_damaged_scoreboard_names_the_field(fixtures_dir):
    doc = json.loads((fixtures_dir / SCOREBOARD).read_bytes())
    del doc["scoreboard"]["games"][1]["homeTeam"]["periods"]
    with pytest.raises(SourceError, match=r"scoreboard\.games\[1\]\.homeTeam\.periods"):
        live_source(json.dumps(doc).encode()).game_states(dt.date(2023, 4, 20), pd.Timestamp(POLL))


@settings(max_examples=15, deadline=None)
@given(a=st.integers(0, 330), b=st.integers(0, 330))
def test_replayed_states_never_show_more_than_the_clock(a, b):
    """The simulated replay reveals quarters in order, never a quarter before its end, and the
    final score only once the game is final."""
    src = make_source("simulated", "", 7, "")
    day = dt.date(2026, 1, 10)
    tip = src.fetch("schedule", day, pd.Timestamp("2026-01-10T12:00Z")).table["tip_ts"].min()
    final = src.fetch("results", day, pd.Timestamp("2026-01-13T00:00Z")).table.set_index("game_id")
    early, late = sorted((tip + pd.Timedelta(minutes=a), tip + pd.Timedelta(minutes=b)))
    s1 = src.game_states(day, early).table.set_index("game_id")
    s2 = src.game_states(day, late).table.set_index("game_id")
    assert (s1["periods_completed"] <= s2["periods_completed"]).all()
    for s, at in ((s1, early), (s2, late)):
        for gid, row in s.iterrows():
            for k, q in enumerate(in_game.QUARTERS):
                shown = row[f"home_{q}"]
                assert pd.isna(shown) == (k >= row["periods_completed"])
                if not pd.isna(shown):
                    assert shown == final.loc[gid, f"home_{q}"]
            assert (row["status"] == "final") == (at >= final.loc[gid, "final_ts"])


def test_poll_dates_cover_late_games():
    assert poll_dates(pd.Timestamp("2023-04-21T01:00Z")) == ["2023-04-20"]  # 21:00 NY
    assert poll_dates(pd.Timestamp("2023-04-21T06:30Z")) == ["2023-04-20", "2023-04-21"]  # 02:30


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Six weeks of simulated results and gold features before the scoreboard's day (what the
    halftime model is fit on)."""
    root = tmp_path_factory.mktemp("halftime")
    mp = pytest.MonkeyPatch()
    mp.setenv("TIPOFF_DATA_DIR", str(root))
    mp.setenv("TIPOFF_SHOCK", "")
    try:
        defs.resolve_job_def("history_job").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), run_config=QUIET,
            tags={"dagster/asset_partition_range_start": "2023-03-01",
                  "dagster/asset_partition_range_end": "2023-04-15"})
    finally:
        mp.undo()
    return root


def _pregame(root, game_ids, p, as_of="2023-04-20T22:00:00Z"):
    """A stored pregame slate for the scoreboard's real game ids (the simulated history has its
    own ids, so the slate is written the way `game_scores` writes it)."""
    table = pd.DataFrame({"game_id": game_ids, "p_home_win": p})
    scoring.write_score_run("game_scores", DAY, pd.Timestamp(as_of), table, {}, root)


def test_sensor_on_the_recorded_scoreboard_ends_in_a_scored_halftime_run(
        history, fixtures_dir, tmp_path, monkeypatch):
    root = history
    _pregame(root, ["0042200123", "0042200163", "0042200173"], [0.62, 0.55, 0.48])
    monkeypatch.setenv("TIPOFF_NOW", POLL)
    source = RecordedScoreboard(name="live", path=str(fixtures_dir / SCOREBOARD))
    ctx = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), cursor=None,
                                  resources={"source": source}, definitions=defs)
    tick = halftime_sensor.evaluate_tick(ctx)
    assert len(tick.run_requests) == 1, tick.skip_message
    rr = tick.run_requests[0]
    assert rr.partition_key == DAY and rr.tags["tipoff/run_as_of_ts"] == pd.Timestamp(POLL).isoformat()
    assert json.loads(tick.cursor) == {DAY: {"0042200123": 2, "0042200163": 1}}
    # the same scoreboard again: nothing new
    again = halftime_sensor.evaluate_tick(dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), cursor=tick.cursor, resources={"source": source},
        definitions=defs))
    assert not again.run_requests and json.loads(again.cursor) == json.loads(tick.cursor)

    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    res = dg.materialize([halftime_scores], partition_key=rr.partition_key, tags=rr.tags,
                         resources={"source": source, "store": StorageResource(root=str(root)),
                                    "predictions_log": PredictionsLogResource(url=url)},
                         instance=dg.DagsterInstance.ephemeral())
    assert res.success
    t = read_table("halftime_scores", DAY, root=root).set_index("game_id")
    assert set(t.index) == {"0042200123", "0042200163"}
    # BKN-PHI at halftime 47-58 (home BKN... the scoreboard's home side), GSW-SAC after Q1 29-20
    assert t.loc["0042200123", ["period", "home_score", "away_score", "margin"]].tolist() == [
        2, 47, 58, -11]
    assert t.loc["0042200163", ["period", "margin"]].tolist() == [1, 9]
    assert ((t["p_home_win"] > 0) & (t["p_home_win"] < 1)).all()
    assert t.loc["0042200123", "p_home_win"] < 0.5 < t.loc["0042200163", "p_home_win"]
    assert (t["margin_p10"] < t["margin_p50"]).all() and (t["margin_p50"] < t["margin_p90"]).all()
    logged = PredictionsLog(url).read(DAY, kind="halftime")
    assert len(logged) == 2 and set(logged["model_version"]) == {
        f"halftime@{DAY}_q2", f"halftime@{DAY}_q1"}
    assert PredictionsLog(url).read(DAY, kind="pregame").empty
    md = res.asset_materializations_for_node("halftime_scores")[0].metadata
    assert md["games_scored"].value == 2 and "0042200123" in md["preview"].value


def test_a_game_without_a_pregame_slate_is_skipped_with_the_reason(history, fixtures_dir):
    raw = (fixtures_dir / SCOREBOARD).read_bytes()
    states = live_source(raw).game_states(dt.date(2023, 4, 20), pd.Timestamp(POLL)).table
    model = H.fit_model(history, DAY)
    pregame = pd.DataFrame({"game_id": ["0042200163"], "p_pregame": [0.5], "pregame_run": ["x"]})
    table, skipped = H.score_states(states, pregame, model, "m")
    assert list(table["game_id"]) == ["0042200163"]
    assert skipped == {"0042200123": "no pregame game_scores run at or before the as-of"}


def test_no_history_is_a_clear_error(tmp_path):
    with pytest.raises(H.HalftimeInputError, match="backfill history first"):
        H.fit_model(tmp_path, DAY)


def test_model_fit_on_history_uses_the_score(history):
    model = H.fit_model(history, DAY)
    lead = model.predict(np.array([2, 2]), np.array([-10.0, 10.0]), np.array([0.5, 0.5]))
    # a 10-point halftime lead either way moves the probability a lot (the simulated league's
    # second halves regress towards its first halves, so less than the ~0.7 of real games)
    assert lead["p_home_win"].iloc[1] - lead["p_home_win"].iloc[0] > 0.3


def test_training_prefers_the_logged_pregame_prediction_over_elo(history, tmp_path):
    from resources import storage
    from tipoff_core import catalog
    results = storage.read_label_range(catalog.label("results"), root=history)
    gid = str(results["game_id"].iloc[0])
    log = PredictionsLog(f"sqlite:///{tmp_path / 'p.db'}")
    before = H.training_frame(history, DAY, log)
    row = results.iloc[0]
    log.append(pd.DataFrame([{
        "game_id": gid, "run_as_of_ts": "2023-03-01T16:00:00+00:00", "model_version": "v1",
        "game_date": str(row["game_date"])[:10], "mode": "live", "source": "simulated",
        "home_team_id": int(row["home_team_id"]), "away_team_id": int(row["away_team_id"]),
        "p_home_win": 0.123, "p_market_home": None, "edge_home": None, "margin_mean": None,
        "total_mean": None, "recommendation": None, "stake": None, "p_elo": None,
        "logged_at": "2023-03-01T16:00:01+00:00", "kind": "pregame"}]))
    after = H.training_frame(history, DAY, log)
    assert len(after) == len(before)
    assert (after.loc[after["game_id"] == gid, "p_pregame"] == 0.123).all()
    others = after["game_id"] != gid
    assert after.loc[others, "p_pregame"].tolist() == before.loc[others, "p_pregame"].tolist()
