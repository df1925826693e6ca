"""Game-level features: one row per target game (gold and live use this same function).

Gold passes ``cutoff_ts = tip_ts``; live passes ``cutoff_ts = min(run_as_of_ts, tip_ts)``.  The
input tables may hold rows from after any cutoff: each target is filtered by its own cutoff
(see ``asof``).  Labels are the target game's own result when ``results`` has it (they are what
is predicted, never an input of a feature).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline_assets.features import asof as A
from pipeline_assets.features.schema import (DIFF_FEATURES, LINE_MOVEMENT, TEAM_FEATURES,
                                             conform_features)

_ID = ["game_id", "season", "game_date", "tip_ts", "cutoff_ts", "home_team_id", "away_team_id"]


def build_game_features(targets: pd.DataFrame, results: pd.DataFrame | None,
                        box_scores: pd.DataFrame | None, injuries: pd.DataFrame | None,
                        odds: pd.DataFrame | None) -> pd.DataFrame:
    """Features of ``targets`` (SCHEDULE rows + ``cutoff_ts``), ordered like ``targets``.

    Columns: ``schema.columns("game")`` -- ids, FEATURE_COLUMNS["game"], MARKET_COLUMNS["game"]
    (``mkt_*``, a separate group), LABEL_COLUMNS["game"].
    """
    inp = A.prepare(targets, results, box_scores, injuries, odds, who="build_game_features")
    t = inp.targets
    n = len(t)
    streams = A.build_team_streams(inp)
    ps = A.player_stream(inp.box)

    # one row per (game, side): even = home, odd = away
    sides = pd.DataFrame({
        "_side": np.arange(2 * n),
        "team_id": np.column_stack([t["home_team_id"], t["away_team_id"]]).ravel(),
        "season": np.repeat(t["season"].to_numpy(), 2),
        "game_date": np.repeat(t["game_date"].to_numpy(), 2),
        "cutoff_ts": t["cutoff_ts"].repeat(2).array,
    })
    st = A.team_state(sides, streams)
    st = st.join(_injury_impact(sides, inp, ps, st["pts_recent"].to_numpy()))

    cols: dict[str, object] = {c: t[c] for c in _ID}
    per_side = {}
    for prefix, sl in (("home", slice(0, None, 2)), ("away", slice(1, None, 2))):
        part = st.iloc[sl].reset_index(drop=True)
        per_side[prefix] = part
        for name, _ in TEAM_FEATURES:
            cols[f"{prefix}_{name}"] = part[name].to_numpy()
    for name in DIFF_FEATURES:
        cols[f"diff_{name}"] = (per_side["home"][name] - per_side["away"][name]).to_numpy()
    h2h = A.h2h_state(t, streams.h2h)
    cols.update({c: h2h[c].to_numpy() for c in h2h.columns})
    cols["elo_prob_home"] = A.elo_prob(cols["home_elo"], cols["away_elo"])
    cols["home_flag"] = 1.0 - t["neutral_site"].astype("boolean").fillna(False).to_numpy(float)

    mkt = A.market_consensus(t, inp.odds)
    for c in ("mkt_available", "mkt_n_books", "mkt_prob_home", "mkt_home_spread", "mkt_total"):
        cols[c] = mkt[c].to_numpy()
    if LINE_MOVEMENT:  # off by default (schema.LINE_MOVEMENT)
        move = A.market_movement(t, inp.odds)
        cols.update({c: move[c].to_numpy() for c in A.MOVEMENT_COLUMNS})

    lab = t[["game_id"]].merge(inp.results[["game_id", "home_pts", "away_pts"]], on="game_id",
                               how="left")
    hp = lab["home_pts"].astype("Int64")
    ap = lab["away_pts"].astype("Int64")
    cols["label_home_win"] = (hp > ap).astype("boolean")
    cols["label_margin"] = hp - ap
    cols["label_total"] = hp + ap
    out = pd.DataFrame(cols)
    return conform_features(out, "game")


def _injury_impact(sides: pd.DataFrame, inp: A.Inputs, ps: pd.DataFrame,
                   team_pts: np.ndarray) -> pd.DataFrame:
    """Per side: players ruled out, their expected minutes / 240 and their expected points /
    the team's recent points per game (the value-weighted share of the team's minutes), both
    capped at 1."""
    out = A.injured_players(sides, inp.injuries, ps, team_pts)
    agg = out.groupby("_side").agg(cnt=("player_id", "size"), mins=("exp_min", "sum"),
                                   pts=("exp_pts", "sum"))
    agg = agg.reindex(sides["_side"].to_numpy()).fillna(0.0)
    return pd.DataFrame({
        "inj_out_count": agg["cnt"].to_numpy().astype(np.int64),
        "inj_out_min_share": np.minimum(agg["mins"].to_numpy() / A.TEAM_MINUTES, 1.0),
        "inj_impact": np.minimum(agg["pts"].to_numpy() / team_pts, 1.0),
    }, index=sides.index)
