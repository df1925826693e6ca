"""FiveThirtyEight NBA Elo, reproduced exactly, with a strict as-of guarantee.

The model (538's published NBA Elo, "classic" version):

- a team seen for the first time starts at ``initial`` (1500);
- home-court advantage: ``home_adv`` (100) Elo points are added to the home team's rating when
  computing the expectation ``P(home win) = 1 / (1 + 10 ** (-(elo_home + 100 - elo_away) / 400))``;
- after a game: ``shift = K * mult * (actual - expected)`` with K = 20, ``actual`` = 1 / 0 (0.5 for a
  tie, which the NBA does not have), and the margin-of-victory multiplier
  ``mult = (MOV + 3) ** 0.8 / (7.5 + 0.006 * elo_diff)`` where ``elo_diff`` is the *winner's*
  rating minus the loser's, home advantage included (538's ``elo_diff`` from the winner's side);
  the home team gains ``shift`` and the away team loses it;
- season carry-over: at the first game of a season not seen before, every rating known so far
  becomes ``0.75 * rating + 0.25 * 1505``.

As-of property: a game's pre-game ratings depend only on results that were *available before its
tip*.  By default a result is available at its own ``tip_ts`` and "before" is strict, so a game sees
exactly the games with an earlier ``tip_ts`` -- games sharing a tip time never see each other.  When
``games`` carries a ``final_ts`` column (when the result became known), results are applied in
``final_ts`` order and a game sees only results with ``final_ts < tip_ts`` (the pipeline's label
invariant: "label-derived features use only games that ended before the target game's tip").

Pure numpy/numba; O(n) in one compiled pass.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tipoff_core.jit import njit

INITIAL_RATING = 1500.0
K_FACTOR = 20.0
HOME_ADVANTAGE = 100.0
CARRYOVER_WEIGHT = 0.75
CARRYOVER_MEAN = 1505.0

REQUIRED_COLUMNS = ("game_id", "season", "tip_ts", "home_team_id", "away_team_id", "home_pts", "away_pts")
OUTPUT_COLUMNS = ("game_id", "home_elo_pre", "away_elo_pre", "elo_prob_home", "home_elo_post", "away_elo_post")


def elo_win_prob(elo_home, elo_away, home_adv: float = HOME_ADVANTAGE):
    """Expected home win probability (scalar or array), home advantage added to the home rating."""
    elo_home = np.asarray(elo_home, dtype=float)
    elo_away = np.asarray(elo_away, dtype=float)
    p = 1.0 / (1.0 + 10.0 ** (-(elo_home + home_adv - elo_away) / 400.0))
    return p.item() if p.ndim == 0 else p


def mov_multiplier(mov, elo_diff_winner):
    """538's margin-of-victory multiplier; ``elo_diff_winner`` includes home advantage."""
    mov = np.asarray(mov, dtype=float)
    elo_diff_winner = np.asarray(elo_diff_winner, dtype=float)
    m = (mov + 3.0) ** 0.8 / (7.5 + 0.006 * elo_diff_winner)
    return m.item() if m.ndim == 0 else m


@njit(cache=True)
def _shift(hp, ap, rh, ra, exp_home, k, home_adv):
    """Rating points the home team gains (the away team loses) for a final score."""
    if hp > ap:
        actual = 1.0
        mov = hp - ap
        diff = rh + home_adv - ra  # winner (home) minus loser, home advantage included
    elif ap > hp:
        actual = 0.0
        mov = ap - hp
        diff = ra - (rh + home_adv)  # winner (away) minus loser (home + advantage)
    else:  # tie (impossible in the NBA): half a win, home perspective
        actual = 0.5
        mov = 0.0
        diff = rh + home_adv - ra
    mult = (mov + 3.0) ** 0.8 / (7.5 + 0.006 * diff)
    return k * mult * (actual - exp_home)


@njit(cache=True)
def _elo_kernel(pre_order, upd_order, tip_ns, avail_ns, home_idx, away_idx, season_code,
                home_pts, away_pts, n_teams, k, home_adv, initial, carry_w, carry_mean):
    n = home_idx.shape[0]
    ratings = np.full(n_teams, np.nan)  # NaN = team not seen yet
    home_pre = np.full(n, np.nan)
    away_pre = np.full(n, np.nan)
    prob = np.full(n, np.nan)
    home_post = np.full(n, np.nan)
    away_post = np.full(n, np.nan)
    max_season = -1
    u = 0  # next result (in availability order) not yet applied
    for pi in range(n + 1):
        # 1. apply every result that became available strictly before this tip (all at the end)
        if pi < n:
            g = pre_order[pi]
            t = tip_ns[g]
        while u < n and (pi == n or avail_ns[upd_order[u]] < t):
            r = upd_order[u]
            u += 1
            if np.isnan(home_pts[r]) or np.isnan(away_pts[r]):
                continue
            sh = _shift(home_pts[r], away_pts[r], home_pre[r], away_pre[r], prob[r], k, home_adv)
            ratings[home_idx[r]] += sh
            ratings[away_idx[r]] -= sh
            home_post[r] = home_pre[r] + sh
            away_post[r] = away_pre[r] - sh
        if pi == n:
            break
        # 2. season carry-over at the first game of a new season
        s = season_code[g]
        if s > max_season:
            if max_season >= 0:
                for j in range(n_teams):
                    if not np.isnan(ratings[j]):
                        ratings[j] = carry_w * ratings[j] + (1.0 - carry_w) * carry_mean
            max_season = s
        # 3. pre-game ratings and expectation
        h = home_idx[g]
        a = away_idx[g]
        if np.isnan(ratings[h]):
            ratings[h] = initial
        if np.isnan(ratings[a]):
            ratings[a] = initial
        home_pre[g] = ratings[h]
        away_pre[g] = ratings[a]
        prob[g] = 1.0 / (1.0 + 10.0 ** (-(ratings[h] + home_adv - ratings[a]) / 400.0))
    return home_pre, away_pre, prob, home_post, away_post


def _utc_ns(values: pd.Series, name: str) -> np.ndarray:
    ts = pd.to_datetime(values, utc=True)
    if ts.isna().any():
        raise ValueError(f"elo: column {name!r} has missing timestamps")
    return ts.dt.tz_localize(None).to_numpy().astype("datetime64[ns]").view("int64")


def elo_ratings_before_games(
    games: pd.DataFrame,
    *,
    k: float = K_FACTOR,
    home_adv: float = HOME_ADVANTAGE,
    initial: float = INITIAL_RATING,
    carryover_weight: float = CARRYOVER_WEIGHT,
    carryover_mean: float = CARRYOVER_MEAN,
) -> pd.DataFrame:
    """Pre-game (and post-game) 538 Elo ratings for every game.

    ``games`` needs game_id, season, tip_ts, home_team_id, away_team_id, home_pts, away_pts
    (NaN points = not played yet: the game gets pre-game ratings but updates nothing) and may carry
    ``final_ts`` (when the result became known; defaults to ``tip_ts``).  Rows need not be sorted:
    they are processed in stable ``tip_ts`` order, and seasons are "new" in order of first
    appearance along that order.

    Returns a frame aligned with ``games`` (same index and row order) with columns game_id,
    home_elo_pre, away_elo_pre, elo_prob_home (home advantage included), home_elo_post,
    away_elo_post (post = pre +/- this game's shift; NaN for unplayed games).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in games.columns]
    if missing:
        raise ValueError(f"elo: games is missing columns {missing}")
    n = len(games)
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in OUTPUT_COLUMNS}).assign(
            game_id=pd.Series(dtype=object))

    tip = _utc_ns(games["tip_ts"], "tip_ts")
    if "final_ts" in games.columns:
        final = pd.to_datetime(games["final_ts"], utc=True)
        avail = np.where(final.isna().to_numpy(), tip,
                         _utc_ns(final.fillna(pd.Timestamp(0, tz="UTC")), "final_ts"))
        avail = np.maximum(avail, tip)  # a result is never known before its tip
    else:
        avail = tip

    pre_order = np.argsort(tip, kind="stable")
    # results in availability order; ties keep tip order (so the default equals pre_order)
    upd_order = pre_order[np.argsort(avail[pre_order], kind="stable")]

    season_sorted = games["season"].to_numpy()[pre_order]
    codes_sorted, _ = pd.factorize(season_sorted, sort=False)
    if (codes_sorted < 0).any():
        raise ValueError("elo: column 'season' has missing values")
    season_code = np.empty(n, dtype=np.int64)
    season_code[pre_order] = codes_sorted

    teams = np.concatenate([games["home_team_id"].to_numpy(), games["away_team_id"].to_numpy()])
    team_codes, uniq = pd.factorize(teams, sort=False)
    if (team_codes < 0).any():
        raise ValueError("elo: team ids have missing values")
    home_idx = team_codes[:n].astype(np.int64)
    away_idx = team_codes[n:].astype(np.int64)

    home_pts = pd.to_numeric(games["home_pts"]).to_numpy(dtype=float, na_value=np.nan)
    away_pts = pd.to_numeric(games["away_pts"]).to_numpy(dtype=float, na_value=np.nan)

    hpre, apre, prob, hpost, apost = _elo_kernel(
        pre_order.astype(np.int64), upd_order.astype(np.int64), tip, avail.astype(np.int64),
        home_idx, away_idx, season_code, home_pts, away_pts, len(uniq),
        float(k), float(home_adv), float(initial), float(carryover_weight), float(carryover_mean))
    return pd.DataFrame(
        {"game_id": games["game_id"].to_numpy(), "home_elo_pre": hpre, "away_elo_pre": apre,
         "elo_prob_home": prob, "home_elo_post": hpost, "away_elo_post": apost},
        index=games.index,
    )
