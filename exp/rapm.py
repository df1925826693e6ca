"""Regularised adjusted plus-minus from player-game plus-minus (no stints), solved by date with
decayed normal equations and a box-score prior; experiment + timing."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import cg

from pipeline_assets.features import players as PL


def design(box: pd.DataFrame, res: pd.DataFrame):
    """Rows = player-games with minutes > 0 and a plus-minus.  Returns (R csr, y, w_base, t_days,
    player index, players)."""
    b = box[(box["minutes"] > 0) & box["plus_minus"].notna()].drop(columns=["avail_ts"], errors="ignore").copy()
    r = res[["game_id", "home_team_id", "avail_ts"]]
    b = b.merge(r, on="game_id", how="inner")
    b["home"] = (b["team_id"] == b["home_team_id"]).astype(float) * 2 - 1
    players = np.unique(b["player_id"].to_numpy())
    pidx = {p: i for i, p in enumerate(players)}
    b["pi"] = b["player_id"].map(pidx).to_numpy()
    b = b.sort_values(["avail_ts", "game_id", "team_id", "player_id"], kind="mergesort",
                      ignore_index=True)
    gt = b.groupby(["game_id", "team_id"], sort=False)["minutes"].transform("sum")
    rows, cols, vals = [], [], []
    # per game: team lists
    n = len(b)
    gid = b["game_id"].to_numpy()
    tid = b["team_id"].to_numpy()
    mins = b["minutes"].to_numpy(float)
    pi = b["pi"].to_numpy()
    tot = gt.to_numpy(float)
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    ends = np.r_[starts[1:], n]
    np_ = len(players)
    for s, e in zip(starts, ends):
        idx = np.arange(s, e)
        t = tid[idx]
        for k in idx:
            mate = idx[(t == tid[k]) & (idx != k)]
            opp = idx[t != tid[k]]
            a = mins[k] / 48.0
            T = tot[k]
            rows.extend([k] * (1 + len(mate) + len(opp)))
            cols.append(pi[k]); vals.append(a)
            cols.extend(pi[mate]); vals.extend(a * 4.0 * mins[mate] / max(T - mins[k], 1.0))
            oT = mins[opp].sum()
            cols.extend(pi[opp]); vals.extend(-a * 5.0 * mins[opp] / max(oT, 1.0))
    # home advantage column
    R = sp.csr_matrix((vals, (rows, cols)), shape=(n, np_ + 1))
    H = sp.csr_matrix((b["home"].to_numpy() * mins / 48.0, (np.arange(n), np.full(n, np_))),
                      shape=(n, np_ + 1))
    R = (R + H).tocsr()
    y = b["plus_minus"].to_numpy(float)
    w = 1.0 / np.maximum(mins, 1.0)
    td = PL._days(b["avail_ts"])
    return R, y, w, td, players, b


def solve_by_date(R, y, w, td, players, solve_days, prior_fn, lam=20.0, half_life=365.0,
                  lam_h=50.0, h0=2.0):
    """Ratings per 48 at each solve day (ascending): returns dict day -> vector (players)."""
    np1 = R.shape[1]
    A = np.zeros((np1, np1))
    bvec = np.zeros(np1)
    j = 0
    n = len(y)
    t_prev = None
    x = np.zeros(np1)
    out = {}
    for d in solve_days:
        if t_prev is not None:
            f = 2.0 ** (-(d - t_prev) / half_life)
            A *= f
            bvec *= f
        k = np.searchsorted(td, d, side="right")
        if k > j:
            Rs = R[j:k]
            ws = w[j:k] * 2.0 ** (-(d - td[j:k]) / half_life)
            Aw = Rs.multiply(ws[:, None]).tocsr()
            A += (Rs.T @ Aw).toarray()
            bvec += Rs.T @ (ws * y[j:k])
            j = k
        t_prev = d
        prior = prior_fn(d)  # per 48, length np1-1
        reg = np.r_[np.full(np1 - 1, lam), lam_h]
        rhs = bvec + reg * np.r_[prior, h0]
        M = A + np.diag(reg)
        x, info = cg(M, rhs, x0=x, rtol=1e-6, maxiter=200)
        out[d] = x.copy()
    return out
