"""Player-game features: one row per (target game, candidate player); gold and live share this code.

The rows are the candidates of each side (``availability.candidate_frame``: players with an
appearance for the team in its last 20 available games and still with it, players on its injury
report for the date, roster players), the same for gold and live.  Per row:

* minutes history (``min_last*``, ``min_ewm``, starts, role change, rest, own injury status,
  teammates out, the game's spread) -- the minutes model's inputs;
* ``av_<name>`` for every ``availability.AVAIL_FEATURES`` -- the availability model's inputs;
* ``rt_*``: the decayed sums a player rating is made of (``players.rating_sums``); the box
  weights that turn them into a rating are fit at training time (``models.lineup``);
* labels: ``label_minutes`` (minutes played; NaN when he did not appear) and ``label_played``
  (appeared; NA while the team-game has no box score).

History is the player's own appearances (box rows with minutes) available at the target's cutoff,
of any team.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline_assets.features import asof as A
from pipeline_assets.features import availability as AV
from pipeline_assets.features import players as PL
from pipeline_assets.features.schema import conform_features
from pipeline_assets.features.strength import sides_of
from tipoff_core.schemas import conform

AV_PREFIX = "av_"


def build_minutes_features(targets: pd.DataFrame, results: pd.DataFrame | None,
                           box_scores: pd.DataFrame | None, injuries: pd.DataFrame | None,
                           odds: pd.DataFrame | None,
                           rosters: pd.DataFrame | None = None) -> pd.DataFrame:
    """Player-game features of the candidates of ``targets`` (SCHEDULE rows + ``cutoff_ts``),
    sorted by (game_id, team_id, player_id).  ``rosters``: ROSTERS rows (each side uses the
    latest snapshot at or before its cutoff).  Columns: ``schema.columns("minutes")``."""
    inp = A.prepare(targets, results, box_scores, injuries, odds, who="build_minutes_features")
    ros = None if rosters is None or len(rosters) == 0 else \
        conform(rosters, "rosters", A.SOURCE, "build_minutes_features.rosters")
    sides = sides_of(inp.targets)
    cand = AV.candidate_frame(sides, inp.results, inp.box, inp.injuries, ros)
    cand = cand.merge(sides[["_side", "game_id"]], on="_side", how="left")
    rows = _player_rows(cand, inp, ros)
    sums = PL.rating_sums(rows[["player_id", "cutoff_ts"]], PL.rating_stream(inp.box))

    ps = A.player_stream(inp.box)
    hist = A.player_state(rows, ps)

    # team schedule state (back-to-back) per (game, team)
    sides = rows[["game_id", "team_id", "season", "game_date", "cutoff_ts"]].drop_duplicates(
        ["game_id", "team_id"], ignore_index=True)
    sides["_side"] = np.arange(len(sides))
    games = A.team_stream(inp.results)
    last = A.asof(sides, games, ["team_id", "season"], ["day"])
    gap = A.day_number(sides["game_date"]) - last["day"].to_numpy(float)
    sides["team_b2b"] = gap == 1
    rows = rows.merge(sides[["game_id", "team_id", "_side", "team_b2b"]],
                      on=["game_id", "team_id"], how="left")

    # injuries: own latest status, and teammates ruled out
    lat = A.latest_injuries(sides, inp.injuries, ps)
    own = rows[["_side", "player_id"]].merge(lat[["_side", "player_id", "status_norm"]],
                                             on=["_side", "player_id"], how="left")
    out_players = A.injured_players(sides, inp.injuries, ps)[["_side", "player_id", "exp_min"]]
    mates = rows[["_side", "player_id"]].reset_index().merge(
        out_players.rename(columns={"player_id": "mate_id"}), on="_side", how="inner")
    mates = mates[mates["mate_id"] != mates["player_id"]]
    magg = mates.groupby("index").agg(cnt=("mate_id", "size"), mins=("exp_min", "sum"))
    magg = magg.reindex(np.arange(len(rows))).fillna(0.0)

    mkt = A.market_consensus(inp.targets, inp.odds)
    spread = rows[["game_id"]].merge(mkt[["game_id", "mkt_home_spread"]], on="game_id",
                                     how="left")["mkt_home_spread"].abs()

    lab = rows[["game_id", "player_id"]].merge(
        inp.box[["game_id", "player_id", "minutes"]], on=["game_id", "player_id"], how="left")
    known = rows[["game_id", "team_id"]].merge(
        inp.box[["game_id", "team_id"]].drop_duplicates().assign(known=True),
        on=["game_id", "team_id"], how="left")["known"].fillna(False).to_numpy(bool)

    day = A.day_number(rows["game_date"])
    status = own["status_norm"].fillna("").to_numpy()
    out: dict[str, object] = {c: rows[c] for c in (
        "game_id", "season", "game_date", "tip_ts", "cutoff_ts", "team_id", "opp_team_id",
        "player_id", "player_name", "is_home")}
    for k in (1, 3, 5, 10):
        out[f"min_last{k}"] = hist[f"m{k}"].to_numpy()
    out["min_season_mean"] = hist["s_mean"].to_numpy()
    out["min_ewm"] = hist["ewm"].to_numpy()
    out["starts_share"] = hist["starts_share"].to_numpy()
    out["games_season"] = hist["s_n"].to_numpy()
    out["days_since_last"] = day - hist["day"].to_numpy(float)
    out["team_b2b"] = rows["team_b2b"].to_numpy(bool)
    out["role_change"] = (hist["m5"] - hist["s_mean"]).to_numpy()
    for s in ("out", "doubtful", "questionable", "probable"):
        out[f"inj_{s}"] = status == s
    out["teammates_out"] = magg["cnt"].to_numpy().astype(np.int64)
    out["teammates_out_min"] = magg["mins"].to_numpy()
    out["mkt_abs_spread"] = spread.to_numpy()
    for f in AV.AVAIL_FEATURES:
        out[f"{AV_PREFIX}{f}"] = rows[f].to_numpy(float)
    for c in sums.columns:
        out[c] = sums[c].to_numpy()
    played = lab["minutes"].notna().to_numpy()
    out["label_minutes"] = lab["minutes"].to_numpy(float)
    out["label_played"] = pd.array(np.where(known, played, False), dtype="boolean")
    out["label_played"][~known] = pd.NA
    out = pd.DataFrame(out)
    return conform_features(out, "minutes")


def _player_rows(cand: pd.DataFrame, inp: A.Inputs,
                 rosters: pd.DataFrame | None) -> pd.DataFrame:
    """Candidate rows with the game's ids and each player's name at the cutoff (the newest
    listing; at equal times a box row beats an injury report beats a roster), sorted by
    (game_id, team_id, player_id)."""
    t = inp.targets
    rows = cand.merge(t[["game_id", "tip_ts", "home_team_id", "away_team_id"]], on="game_id",
                      how="left")
    is_home = (rows["team_id"] == rows["home_team_id"]).to_numpy()
    rows["is_home"] = is_home
    rows["opp_team_id"] = np.where(is_home, rows["away_team_id"], rows["home_team_id"])
    listed = [inp.box[["player_id", "player_name", "avail_ts"]].rename(
        columns={"avail_ts": "ts"}).assign(rank=2),
        inp.injuries[["player_id", "player_name", "snapshot_ts"]].rename(
        columns={"snapshot_ts": "ts"}).assign(rank=1)]
    if rosters is not None:
        listed.append(rosters[["player_id", "player_name", "snapshot_ts"]].rename(
            columns={"snapshot_ts": "ts"}).assign(rank=0))
    names = pd.concat(listed, ignore_index=True)
    names = names[names["player_name"].astype(str).str.len() > 0]
    names = A._sorted(names, ["ts", "rank", "player_id", "player_name"])
    rows["player_name"] = A.asof(rows, names, ["player_id"], ["player_name"])["player_name"] \
        .to_numpy(object)
    rows["player_name"] = rows["player_name"].fillna("").astype(object)
    return A._sorted(rows.drop(columns=["_side"]), ["game_id", "team_id", "player_id"])
