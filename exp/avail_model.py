"""Walk-forward availability classifier vs recent-appearance rules (Brier, log loss, reliability)."""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

from exp.common import DEV, EVAL, brier, cached, ll
from pipeline_assets.features.availability import AVAIL_FEATURES

FEATS = [f for f in AVAIL_FEATURES if f not in ("inj_q", "inj_prob", "on_roster", "playoff")]
FEATS_OLD = [f for f in FEATS if f not in ("team_win_pct", "games_left")]
# post-season model: no short-term recency (regular-season-end rest says little about playoffs)
FEATS_PO = [f for f in FEATS if f not in ("missed", "days_since", "played_l3", "played_l5",
                                          "played_l10", "min_team_l5", "min_last", "ramp",
                                          "games_left", "b2b_x_min")]
PARAMS = dict(n_estimators=150, learning_rate=0.1, num_leaves=15, min_child_samples=200,
              subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0)


def fit(X, y, kind="lgbm", params=None):
    if kind == "lgbm":
        import lightgbm as lgb
        m = lgb.LGBMClassifier(objective="binary", n_jobs=2, verbose=-1, random_state=0,
                               **(params or PARAMS))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(X, y)
        return m
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler
    from sklearn.impute import SimpleImputer
    m = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                      LogisticRegression(C=1.0, max_iter=500))
    m.fit(X, y)
    return m


def walk(c: pd.DataFrame, seasons, feats=FEATS, kind="lgbm", cadence_days=400, params=None,
         train_seasons=None):
    """Predicted P(play) for rows of ``seasons``; refit every ``cadence_days`` on rows dated
    strictly before the block."""
    out = pd.Series(np.nan, index=c.index)
    day = pd.to_datetime(c["game_date"]).to_numpy("datetime64[D]")
    for s in seasons:
        te = np.flatnonzero(c["season"].to_numpy() == s)
        d0 = day[te].min()
        blocks = ((day[te] - d0) // np.timedelta64(cadence_days, "D")).astype(int)
        for b in np.unique(blocks):
            start = d0 + np.timedelta64(int(b) * cadence_days, "D")
            tr = (day < start) & (c["box_known"] > 0).to_numpy()
            if train_seasons:
                tr &= c["season"].to_numpy() >= f"{int(s[:4]) - train_seasons}"
            X = c.loc[tr, feats].to_numpy(float)
            m = fit(X, c.loc[tr, "played"].to_numpy(), kind, params)
            rows = te[blocks == b]
            out.iloc[rows] = m.predict_proba(c.iloc[rows][feats].to_numpy(float))[:, 1]
    return out


def rules(c: pd.DataFrame, seasons):
    """Recent-appearance rules; the 'calibrated' ones use rates from earlier seasons only."""
    r = {}
    te = c["season"].isin(seasons).to_numpy()
    r["played_last_game (0/1)"] = (c["missed"] == 0).astype(float)
    r["share_last5"] = c["played_l5"].fillna(0.0)
    cal = pd.Series(np.nan, index=c.index)
    cal2 = pd.Series(np.nan, index=c.index)
    for s in seasons:
        tr = (c["season"] < s) & (c["box_known"] > 0)
        rows = c["season"] == s
        rate = c[tr].groupby(c["missed"].clip(upper=5))["played"].mean()
        cal[rows] = c.loc[rows, "missed"].clip(upper=5).map(rate)
        k = (c["played_l5"].fillna(0) * 5).round()
        rate2 = c[tr].groupby([k[tr], c.loc[tr, "missed"].clip(upper=3)])["played"].mean()
        idx = pd.MultiIndex.from_arrays([k[rows], c.loc[rows, "missed"].clip(upper=3)])
        cal2[rows] = rate2.reindex(idx).to_numpy()
    r["played_last_game (calibrated by games missed)"] = cal
    r["k_of_last5 x missed (calibrated)"] = cal2.fillna(cal)
    return r


def reliability(y, p, bins=10):
    b = np.minimum((p * bins).astype(int), bins - 1)
    df = pd.DataFrame({"b": b, "p": p, "y": y}).groupby("b").agg(n=("y", "size"),
                                                                 mean_p=("p", "mean"),
                                                                 obs=("y", "mean"))
    return df


def report(c, preds: dict, seasons, mask=None):
    rows = []
    te = c["season"].isin(seasons).to_numpy() & (c["box_known"] > 0).to_numpy()
    if mask is not None:
        te &= mask
    y = c["played"].to_numpy()
    for name, p in preds.items():
        p = np.asarray(p, float)
        for s in list(seasons) + ["pooled"]:
            sel = te & ((c["season"] == s).to_numpy() if s != "pooled" else True)
            rows.append({"model": name, "season": s, "rows": int(sel.sum()),
                         "brier": brier(y[sel], p[sel]).mean(),
                         "logloss": ll(y[sel], np.clip(p[sel], 1e-4, 1 - 1e-4)).mean()})
    return pd.DataFrame(rows).pivot(index="model", columns="season", values="brier")


if __name__ == "__main__":
    c = pd.read_parquet("data/exp/cand.parquet")
    seasons = DEV if "eval" not in sys.argv else EVAL
    t = time.time()
    p = walk(c, seasons)
    print(f"lgbm walk {time.time() - t:.1f}s")
    preds = {**rules(c, seasons), "lgbm": p}
    print(report(c, preds, seasons).round(4).to_string())
    te = c["season"].isin(seasons).to_numpy() & (c["box_known"] > 0).to_numpy()
    print(reliability(c["played"].to_numpy()[te], p.to_numpy()[te]).round(3).to_string())
