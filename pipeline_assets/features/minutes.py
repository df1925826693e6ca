"""Player-minutes features: one row per (target game, player) (gold and live share this code).

``player_targets`` are (game_id, team_id, player_id, player_name) rows: gold passes the box-score
appearances of the target games, live the roster players of both teams.  History is the
player's own appearances (box rows with minutes) available at the target's cutoff, of any team.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline_assets.features import asof as A
from pipeline_assets.features.schema import conform_features

PLAYER_TARGET_COLUMNS = ["game_id", "team_id", "player_id", "player_name"]


def build_minutes_features(targets: pd.DataFrame, player_targets: pd.DataFrame,
                           results: pd.DataFrame | None, box_scores: pd.DataFrame | None,
                           injuries: pd.DataFrame | None,
                           odds: pd.DataFrame | None) -> pd.DataFrame:
    """Minutes features for ``player_targets``, ordered like ``player_targets``.

    ``targets`` are the games (SCHEDULE rows + ``cutoff_ts``); every player target must belong
    to one of them and to its home or away team.  Columns: ``schema.columns("minutes")``.
    """
    inp = A.prepare(targets, results, box_scores, injuries, odds, who="build_minutes_features")
    rows = _player_rows(player_targets, inp.targets)

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
    out["label_minutes"] = lab["minutes"].to_numpy(float)
    out = pd.DataFrame(out)
    return conform_features(out, "minutes")


def _player_rows(player_targets: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    who = "build_minutes_features"
    if player_targets is None:
        raise ValueError(f"{who}: player_targets is required")
    missing = [c for c in PLAYER_TARGET_COLUMNS if c not in player_targets.columns]
    if missing:
        raise ValueError(f"{who}: player_targets is missing columns {missing}")
    pt = pd.DataFrame({
        "game_id": player_targets["game_id"].astype(str).astype(object).to_numpy(),
        "team_id": pd.to_numeric(player_targets["team_id"]).astype(np.int64).to_numpy(),
        "player_id": pd.to_numeric(player_targets["player_id"]).astype(np.int64).to_numpy(),
        "player_name": player_targets["player_name"].astype(str).astype(object).to_numpy(),
    })
    dup = pt.duplicated(["game_id", "player_id"])
    if dup.any():
        raise ValueError(f"{who}: player_targets list player {pt.loc[dup, 'player_id'].iloc[0]} "
                         f"twice for game {pt.loc[dup, 'game_id'].iloc[0]!r}")
    rows = pt.merge(t[["game_id", "season", "game_date", "tip_ts", "cutoff_ts", "home_team_id",
                       "away_team_id"]], on="game_id", how="left")
    if rows["season"].isna().any():
        gid = rows.loc[rows["season"].isna(), "game_id"].iloc[0]
        raise ValueError(f"{who}: player_targets game {gid!r} is not among targets")
    is_home = (rows["team_id"] == rows["home_team_id"]).to_numpy()
    is_away = (rows["team_id"] == rows["away_team_id"]).to_numpy()
    if not (is_home | is_away).all():
        bad = rows.loc[~(is_home | is_away)].iloc[0]
        raise ValueError(f"{who}: player {bad['player_id']} has team {bad['team_id']}, which does "
                         f"not play game {bad['game_id']!r}")
    rows["is_home"] = is_home
    rows["opp_team_id"] = np.where(is_home, rows["away_team_id"], rows["home_team_id"])
    return rows
