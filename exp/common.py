"""Shared harness pieces: prepared as-of inputs, sides, metrics, bootstrap."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from exp.data import EXP, load
from pipeline_assets.features import asof as A

DEV = ["2016-17", "2017-18", "2018-19"]
EVAL = ["2019-20", "2020-21", "2021-22"]
LOG_SEASONS = ["2015-16"] + DEV + EVAL


def prepared(first_season: str = "2013-14"):
    """asof.prepare()d inputs with cutoff = tip for every game from ``first_season`` on."""
    g, box, inj = load()
    keep = g["season"] >= first_season
    sched_cols = ["game_id", "season", "game_date", "tip_ts", "home_team_id", "away_team_id",
                  "home_team", "away_team", "game_type", "snapshot_ts"]
    t = g.loc[keep, sched_cols].reset_index(drop=True)
    t["cutoff_ts"] = t["tip_ts"]
    res_cols = ["game_id", "season", "game_date", "home_team_id", "away_team_id", "home_pts",
                "away_pts", "home_q1", "home_q2", "home_q3", "home_q4", "home_ot", "away_q1",
                "away_q2", "away_q3", "away_q4", "away_ot", "overtime_periods", "final_ts"]
    res = g.loc[keep & g["home_pts"].notna(), res_cols].copy()
    res["snapshot_ts"] = res["final_ts"]
    inp = A.prepare(t, res, box, inj[inj["game_date"] >= "2013-08-01"], None, who="exp")
    return g[keep].reset_index(drop=True), inp, box


def sides_of(t: pd.DataFrame) -> pd.DataFrame:
    n = len(t)
    return pd.DataFrame({
        "_side": np.arange(2 * n),
        "game_id": np.repeat(t["game_id"].to_numpy(), 2),
        "is_home": np.tile([1, 0], n),
        "team_id": np.column_stack([t["home_team_id"], t["away_team_id"]]).ravel(),
        "opp_id": np.column_stack([t["away_team_id"], t["home_team_id"]]).ravel(),
        "season": np.repeat(t["season"].to_numpy(), 2),
        "game_date": np.repeat(t["game_date"].to_numpy(), 2),
        "cutoff_ts": t["cutoff_ts"].repeat(2).array,
    })


def ll(y, p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def brier(y, p):
    return (p - y) ** 2


def boot_ci(d: np.ndarray, n: int = 2000, seed: int = 0):
    """Mean of per-game differences and its 95% bootstrap CI (games resampled)."""
    rng = np.random.default_rng(seed)
    d = np.asarray(d, float)
    idx = rng.integers(0, len(d), size=(n, len(d)))
    m = d[idx].mean(axis=1)
    return float(d.mean()), float(np.quantile(m, 0.025)), float(np.quantile(m, 0.975))


def cached(name: str, fn, refresh: bool = False):
    p = EXP / f"{name}.parquet"
    if p.exists() and not refresh:
        return pd.read_parquet(p)
    t = time.time()
    df = fn()
    df.to_parquet(p)
    print(f"[cache] {name}: {len(df):,} rows in {time.time() - t:.1f}s")
    return df
