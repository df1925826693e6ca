"""Opponent-adjusted, time-decayed margin ratings with an estimated home advantage (Dagster-free).

For each distinct cutoff c (ascending) the ratings solve a weighted ridge regression over every
result available at c (``avail_ts <= c``):

    margin_g  ~  h * home_g + R[home team] - R[away team]
    weight_g  =  2 ** (-(c - avail_ts_g) / half_life_days)
    minimise  sum_g weight_g (clip(margin_g, -cap, cap) - prediction_g)^2
              + ridge * sum_T R_T^2 + ridge_h * (h - h0)^2

``home_g`` is 1, or 0 at a neutral site (the 2020 Orlando bubble, 2020-07-30..2020-10-11, and
any game flagged ``neutral`` by the caller).  The decay runs in calendar days over seasons, so
ratings are carried across seasons; the off-season (no games for months) shrinks every rating
toward 0 (league average) through the ridge term because the data weights decay.  The home
advantage ``h`` is estimated in the same regression with the same decay, so it follows the
league's recent seasons (it fell from about 3 points to about 1.5-2 from 2019-20 on).

The normal equations are updated incrementally (decay all, add new games) so a season costs a
few milliseconds; the solve is a 31x31 dense system per cutoff.  Results after a cutoff never
enter its solve.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline_assets.features.players import _days

DEFAULT_HALF_LIFE_DAYS = 120.0
DEFAULT_RIDGE = 3.0
DEFAULT_RIDGE_HOME = 10.0
DEFAULT_HOME_PRIOR = 2.5
DEFAULT_CAP = 25.0
BUBBLE = ("2020-07-30", "2020-10-11")


def neutral_site(game_date: pd.Series, flag: pd.Series | None = None) -> np.ndarray:
    """True for games at a neutral site: the 2020 bubble dates, or where ``flag`` says so."""
    d = game_date.astype(str).to_numpy()
    out = (d >= BUBBLE[0]) & (d <= BUBBLE[1])
    if flag is not None:
        out |= flag.fillna(False).to_numpy(bool)
    return out


def margin_ratings(targets: pd.DataFrame, results: pd.DataFrame, *,
                   half_life: float = DEFAULT_HALF_LIFE_DAYS, ridge: float = DEFAULT_RIDGE,
                   ridge_home: float = DEFAULT_RIDGE_HOME, home_prior: float = DEFAULT_HOME_PRIOR,
                   cap: float = DEFAULT_CAP) -> pd.DataFrame:
    """Per target (``home_team_id``, ``away_team_id``, ``cutoff_ts``, ``game_date``, optional
    ``neutral``): ``tr_home``, ``tr_away`` (ratings in points), ``tr_hca`` (estimated home
    advantage at that cutoff), ``tr_neutral`` and ``tr_margin`` = hca * (not neutral) + home -
    away, ``tr_weight`` (sum of decayed game weights; 0 = no history).  Aligned with targets.
    ``results`` need ``avail_ts`` (``asof.prepare``)."""
    teams = np.unique(np.concatenate([
        targets["home_team_id"].to_numpy(np.int64), targets["away_team_id"].to_numpy(np.int64),
        results["home_team_id"].to_numpy(np.int64), results["away_team_id"].to_numpy(np.int64)]))
    idx = {t: i for i, t in enumerate(teams)}
    nt = len(teams)
    r = results.sort_values(["avail_ts", "game_id"], kind="mergesort")
    rh = r["home_team_id"].map(idx).to_numpy(np.int64)
    ra = r["away_team_id"].map(idx).to_numpy(np.int64)
    y = np.clip(r["home_pts"].to_numpy(float) - r["away_pts"].to_numpy(float), -cap, cap)
    hflag = (~neutral_site(r["game_date"], r["neutral"] if "neutral" in r.columns else None)
             ).astype(float)
    rt = _days(r["avail_ts"])

    tneutral = neutral_site(targets["game_date"], targets["neutral"]
                            if "neutral" in targets.columns else None)
    tc = _days(targets["cutoff_ts"].reset_index(drop=True))
    order = np.argsort(tc, kind="mergesort")
    uniq, inv = np.unique(tc[order], return_inverse=True)
    out_r = np.zeros((len(uniq), nt))
    out_h = np.zeros(len(uniq))
    out_w = np.zeros(len(uniq))

    n = nt + 1  # teams + home advantage
    AtA = np.zeros((n, n))
    Atb = np.zeros(n)
    wsum = 0.0
    t_prev = None
    j = 0
    reg = np.diag(np.r_[np.full(nt, ridge), ridge_home])
    prior = np.r_[np.zeros(nt), ridge_home * home_prior]
    for u, c in enumerate(uniq):
        if t_prev is not None:
            f = 2.0 ** (-(c - t_prev) / half_life)
            AtA *= f
            Atb *= f
            wsum *= f
        while j < len(rt) and rt[j] <= c:
            f = 2.0 ** (-(c - rt[j]) / half_life)
            x = np.zeros(n)
            x[rh[j]] += 1.0
            x[ra[j]] -= 1.0
            x[nt] = hflag[j]
            AtA += f * np.outer(x, x)
            Atb += f * x * y[j]
            wsum += f
            j += 1
        t_prev = c
        sol = np.linalg.solve(AtA + reg, Atb + prior)
        out_r[u] = sol[:nt]
        out_h[u] = sol[nt]
        out_w[u] = wsum
    row = np.empty(len(tc), dtype=np.int64)
    row[order] = inv
    th = targets["home_team_id"].map(idx).to_numpy(np.int64)
    ta = targets["away_team_id"].map(idx).to_numpy(np.int64)
    home = out_r[row, th]
    away = out_r[row, ta]
    hca = out_h[row]
    return pd.DataFrame({"tr_home": home, "tr_away": away, "tr_hca": hca,
                         "tr_neutral": tneutral.astype(float),
                         "tr_margin": np.where(tneutral, 0.0, hca) + home - away,
                         "tr_weight": out_w[row]})
