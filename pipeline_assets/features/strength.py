"""Expected-lineup strength per target game: availability x expected minutes x player ratings.

Two stages, both Dagster-free and as-of safe:

1. model-free: for every target team-game, the candidate players (``availability.
   candidate_frame``, stored as the minutes features) with their as-of ratings
   (``players.ratings_from_sums`` of the stored ``rt_*`` sums) and expected minutes given that
   they play (:func:`expected_minutes`) -- ``models.lineup.LineupModel.rated``.
2. :func:`game_strength` -- given P(play) per row (from ``models.availability``), the per-game
   features (``STRENGTH_COLUMNS``): for each side the available and full strength
   (``players.team_strength``: minutes-weighted mean rating per 48 of the expected floor time,
   unfilled minutes at replacement level) and the share of usual minutes expected to be missing;
   ``diff_*`` = home - away.

The market-free win model (``models.lineup.LineupWinModel``, see exp/FINDINGS.md) uses
``diff_strength_avail``, ``diff_miss_share``, ``home_b2b``, ``away_b2b`` and a home flag that is
0 at neutral sites (the schedule's ``neutral_site``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline_assets.features import availability as AV
from pipeline_assets.features import players as PL

EXP_MIN_BLEND = 0.5  # expected minutes = 0.5 * mean of last 5 appearances + 0.5 * EWM (hl 5)

STRENGTH_COLUMNS = [
    "home_strength_avail", "away_strength_avail", "home_strength_full", "away_strength_full",
    "home_miss_share", "away_miss_share", "diff_strength_avail", "diff_strength_full",
    "diff_miss_share",
]


@dataclass(frozen=True)
class StrengthParams:
    half_life_days: float = PL.DEFAULT_HALF_LIFE_DAYS   # 365: ratings decay by half per year
    k_pm: float = PL.DEFAULT_K_PM                       # 1500 decayed minutes of prior
    k_box: float = PL.DEFAULT_K_BOX                     # 300 minutes of replacement box rates
    repl_48: float = -3.0                               # replacement-level margin per 48


def expected_minutes(cand: pd.DataFrame) -> np.ndarray:
    """Minutes a candidate is expected to play if he plays: a blend of his mean over the last 5
    appearances and his EWM minutes (half-life 5 appearances); 0 without any appearance."""
    m = EXP_MIN_BLEND * cand["min_l5"] + (1 - EXP_MIN_BLEND) * cand["min_ewm"]
    return m.fillna(0.0).to_numpy(float)


def game_strength(rows: pd.DataFrame, p_play: np.ndarray, n_games: int,
                  repl_48: float = StrengthParams.repl_48) -> pd.DataFrame:
    """``STRENGTH_COLUMNS`` for ``n_games`` targets whose sides are ``_side`` = 2 * i (home) and
    2 * i + 1 (away) -- the layout of ``build_game_features``.  A side without candidates gets
    the replacement level (and a miss share of 0)."""
    c = rows.assign(p_play=np.asarray(p_play, float))
    ts = PL.team_strength(c, repl_48=repl_48).reindex(np.arange(2 * n_games))
    avail = ts["avail"].fillna(repl_48).to_numpy()
    full = ts["full"].fillna(repl_48).to_numpy()
    miss = ts["miss_share"].fillna(0.0).to_numpy()
    out = pd.DataFrame({
        "home_strength_avail": avail[0::2], "away_strength_avail": avail[1::2],
        "home_strength_full": full[0::2], "away_strength_full": full[1::2],
        "home_miss_share": miss[0::2], "away_miss_share": miss[1::2]})
    out["diff_strength_avail"] = out["home_strength_avail"] - out["away_strength_avail"]
    out["diff_strength_full"] = out["home_strength_full"] - out["away_strength_full"]
    out["diff_miss_share"] = out["home_miss_share"] - out["away_miss_share"]
    return out[STRENGTH_COLUMNS]


PLAYOFF_TYPES = ("playoff", "playin")


def sides_of(targets: pd.DataFrame) -> pd.DataFrame:
    """(home, away) side rows of targets (schedule rows + cutoff_ts) in ``build_game_features``'
    layout: side 2 i is game i's home team, 2 i + 1 its away team."""
    n = len(targets)
    left = np.column_stack([targets["home_games_left"].astype("Float64").to_numpy(float, na_value=np.nan),
                            targets["away_games_left"].astype("Float64").to_numpy(float, na_value=np.nan)])
    return pd.DataFrame({
        "_side": np.arange(2 * n),
        "game_id": np.repeat(targets["game_id"].to_numpy(), 2),
        "team_id": np.column_stack([targets["home_team_id"], targets["away_team_id"]]).ravel(),
        "season": np.repeat(targets["season"].to_numpy(), 2),
        "game_date": np.repeat(targets["game_date"].to_numpy(), 2),
        "cutoff_ts": targets["cutoff_ts"].repeat(2).array,
        "games_left": left.ravel(),
        "playoff": np.repeat(targets["game_type"].isin(PLAYOFF_TYPES).to_numpy(float), 2),
    })


MINUTES_CONTEXT_COLUMNS = [
    "p_play", "exp_min", "team_supply", "mates_missing", "norm_min", "rating", "rating_rank",
    "missed", "ramp", "min_team_l5", "played_l5", "played_l20", "min_rank", "games_left",
    "team_win_pct", "apps_team", "inj_games",
]


def minutes_context(rows: pd.DataFrame, p_play: np.ndarray) -> pd.DataFrame:
    """Per candidate row, the player-information features of the minutes model
    (``MINUTES_CONTEXT_COLUMNS``; aligned with ``rows``):

      team_supply    sum over the side's candidates of P(play) x exp_min (expected minutes on offer)
      mates_missing  teammates' usual minutes expected to be lost: sum_{q != p} (1 - P_q) m_q
      norm_min       exp_min x 240 / max(60, teammates' P x m + own exp_min) (his minutes if the
                     expected supply were scaled to a 240-minute game, given that he plays)
      rating_rank    rank of the player's rating among the side's candidates (1 = best)
    plus the availability features that carry role / ramp / schedule information."""
    c = rows.assign(p_play=np.asarray(p_play, float))
    pm = c["p_play"] * c["exp_min"]
    g = pm.groupby(c["_side"])
    supply = g.transform("sum")
    usual = c["exp_min"].groupby(c["_side"]).transform("sum")
    mates_supply = supply - pm
    out = pd.DataFrame(index=rows.index)
    out["p_play"] = c["p_play"]
    out["exp_min"] = c["exp_min"]
    out["team_supply"] = supply
    out["mates_missing"] = (usual - c["exp_min"]) - mates_supply
    out["norm_min"] = c["exp_min"] * 240.0 / np.maximum(mates_supply + c["exp_min"], 60.0)
    out["rating"] = c["rating"]
    out["rating_rank"] = c.groupby("_side")["rating"].rank(ascending=False)
    for col in ("missed", "ramp", "min_team_l5", "played_l5", "played_l20", "min_rank",
                "games_left", "team_win_pct", "apps_team", "inj_games"):
        out[col] = c[col]
    return out[MINUTES_CONTEXT_COLUMNS]
