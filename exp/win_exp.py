"""Win-probability experiments: feature groups -> walk-forward logistic regression -> metrics."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from exp.common import DEV, EVAL, EXP, boot_ci, brier, ll, prepared
from tipoff_core.domain import betting as B
from pipeline_assets.features import players as PL
from exp import team_ratings as TR

_CACHE: dict = {}


def base():
    """(games frame with gold baseline features + market, prepared inputs)."""
    if "base" in _CACHE:
        return _CACHE["base"]
    from pipeline_assets.backtest import build_archive_features
    games, _ = build_archive_features("/work/shared/data", progress=lambda m: None)
    g, inp, box = prepared()
    games = games[games["season"] >= "2015-16"].reset_index(drop=True)
    hml, aml = games["close_home_ml"].to_numpy(float), games["close_away_ml"].to_numpy(float)
    ok = np.isfinite(hml) & np.isfinite(aml)
    p = np.full(len(games), np.nan)
    p[ok] = np.asarray(B.devig_moneyline(hml[ok], aml[ok])[0], float)
    games["p_mkt"] = p
    games["y"] = pd.to_numeric(games["label_home_win"].astype("Float64")).to_numpy(float)
    games["margin"] = pd.to_numeric(games["label_margin"].astype("Float64")).to_numpy(float)
    _CACHE["base"] = (games, inp, box)
    return _CACHE["base"]


def team_rating_feats(hl=TR.DEFAULT_HALF_LIFE_DAYS, ridge=TR.DEFAULT_RIDGE, cap=TR.DEFAULT_CAP,
                      ridge_home=TR.DEFAULT_RIDGE_HOME):
    games, inp, _ = base()
    t = inp.targets.set_index("game_id").loc[games["game_id"]].reset_index()
    return TR.margin_ratings(t, inp.results, half_life=hl, ridge=ridge, cap=cap,
                             ridge_home=ridge_home)


def box_weights_by_season(box, ridge=1.0, min_minutes=250.0):
    from exp.common import LOG_SEASONS
    b = box[box["game_date"] >= "2015-08-01"].copy()
    from pipeline_assets.timeutil import season_of
    dates = b["game_date"].unique()
    smap = {d: season_of(d) for d in dates}
    b["season"] = b["game_date"].map(smap)
    tot = PL.season_totals(b)
    out = {}
    for s in LOG_SEASONS:
        tr = tot[tot["season"] < s] if s != LOG_SEASONS[0] else tot[tot["season"] == s]
        out[s] = PL.fit_box_weights(tr, min_minutes=min_minutes, ridge=ridge)
    return out


def player_feats(hl=365.0, k_pm=1500.0, k_box=300.0, repl=-2.0, m_mode="blend", p_col="p_play",
                 box_ridge=1.0, extra_cols=False, hl_box=None):
    games, inp, box = base()
    key = ("stream", hl)
    if key not in _CACHE:
        _CACHE[key] = PL.rating_stream(_box_full(inp, box), half_life=hl)
    stream = _CACHE[key]
    bstream = None
    if hl_box is not None and hl_box != hl:
        bkey = ("stream", hl_box)
        if bkey not in _CACHE:
            _CACHE[bkey] = PL.rating_stream(_box_full(inp, box), half_life=hl_box)
        bstream = _CACHE[bkey]
    if "cand" not in _CACHE:
        c = pd.read_parquet(EXP / "cand.parquet")
        c["p_play"] = pd.read_parquet(EXP / "pplay.parquet")["p_play"].to_numpy()
        _CACHE["cand"] = c
    c = _CACHE["cand"]
    wkey = ("bw", box_ridge)
    if wkey not in _CACHE:
        _CACHE[wkey] = box_weights_by_season(box, ridge=box_ridge)
    bw = _CACHE[wkey]
    parts = []
    for s, w in bw.items():
        sel = (c["season"] == s).to_numpy()
        if not sel.any():
            continue
        rr = PL.player_ratings(c.loc[sel, ["player_id", "cutoff_ts"]].reset_index(drop=True),
                               stream, w, k_pm=k_pm, k_box=k_box, repl_48=repl,
                               box_stream=bstream)
        rr.index = np.flatnonzero(sel)
        parts.append(rr)
    R = pd.concat(parts).sort_index()
    cc = c.join(R)
    if m_mode == "blend":
        cc["exp_min"] = (0.5 * cc["min_l5"] + 0.5 * cc["min_ewm"]).fillna(0.0)
    else:
        cc["exp_min"] = cc[m_mode].fillna(0.0)
    cc["oracle"] = cc["played"]
    return cc


def _box_full(inp, box):
    extra = [c for c in box.columns if c in PL.BOX_STATS or c == "plus_minus"]
    have = set(inp.box.columns)
    add = [c for c in extra if c not in have]
    return inp.box.merge(box[["game_id", "player_id"] + add], on=["game_id", "player_id"],
                         how="left")


def side_strength(cc, p_col="p_play", r_col="rating", repl=-2.0):
    ts = PL.team_strength(cc, p_col=p_col, r_col=r_col, repl_48=repl)
    games, _, _ = base()
    n = len(games)
    # sides were built from targets >= 2015-16 in tip order; map via game_id
    sg = cc.drop_duplicates("_side")[["_side", "game_id", "is_home"]].set_index("_side")
    ts = ts.join(sg)
    h = ts[ts["is_home"] == 1].set_index("game_id")
    a = ts[ts["is_home"] == 0].set_index("game_id")
    out = pd.DataFrame(index=games["game_id"])
    for pre, d in (("h", h), ("a", a)):
        for col in ("avail", "full", "miss_share", "exp_minutes"):
            out[f"{pre}_{col}"] = d[col].reindex(games["game_id"]).to_numpy()
    return out.reset_index(drop=True)


# ------------------------------------------------------------------ walk-forward LR

def walk_lr(X: pd.DataFrame, games: pd.DataFrame, seasons, C=1.0, cadence=7, first="2015-16",
            weight_hl=None, train_from=None, home_col=None, return_models=False):
    """Walk-forward standardized logistic regression.  With ``home_col`` the model has no
    intercept; that column (1 = home advantage applies, 0 = neutral site) enters unscaled, so the
    home edge is a coefficient that vanishes at neutral sites."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    y = games["y"].to_numpy()
    ok = np.isfinite(y) & games["game_type"].isin(["regular", "playoff"]).to_numpy()
    day = pd.to_datetime(games["game_date"]).to_numpy("datetime64[D]")
    season = games["season"].to_numpy()
    Xv = X.to_numpy(float)
    hidx = list(X.columns).index(home_col) if home_col else None
    pred = np.full(len(games), np.nan)
    last = None
    for s in seasons:
        te = np.flatnonzero((season == s) & ok)
        d0 = day[te].min()
        blk = ((day[te] - d0) // np.timedelta64(cadence, "D")).astype(int)
        for b in np.unique(blk):
            start = d0 + np.timedelta64(int(b) * cadence, "D")
            tr = ok & (day < start) & (season >= (train_from or first))
            Xt = Xv[tr]
            med = np.nanmedian(Xt, axis=0)
            med = np.where(np.isfinite(med), med, 0.0)
            Xt = np.where(np.isfinite(Xt), Xt, med)
            sc = _Scaler(hidx).fit(Xt)
            sw = None
            if weight_hl:
                age = (start - day[tr]).astype(float)
                sw = 0.5 ** (age / weight_hl)
            m = LogisticRegression(C=C, max_iter=1000, fit_intercept=hidx is None).fit(
                sc.transform(Xt), y[tr], sample_weight=sw)
            rows = te[blk == b]
            Xr = np.where(np.isfinite(Xv[rows]), Xv[rows], med)
            pred[rows] = m.predict_proba(sc.transform(Xr))[:, 1]
            last = (m, sc, list(X.columns))
    return (pred, last) if return_models else pred


class _Scaler:
    """StandardScaler that leaves one column (the home flag) unscaled."""

    def __init__(self, keep=None):
        self.keep = keep

    def fit(self, X):
        self.mu = X.mean(axis=0)
        self.sd = X.std(axis=0)
        self.sd = np.where(self.sd > 0, self.sd, 1.0)
        if self.keep is not None:
            self.mu[self.keep], self.sd[self.keep] = 0.0, 1.0
        return self

    def transform(self, X):
        return (X - self.mu) / self.sd


def evaluate(preds: dict, games: pd.DataFrame, seasons, ref="market", prev=None):
    """Table: per season & pooled LL of each model; gap to market; paired bootstrap CI vs market
    and vs ``prev``."""
    sel_all = games["season"].isin(seasons).to_numpy() & np.isfinite(games["p_mkt"].to_numpy())
    sel_all &= np.isfinite(games["y"].to_numpy())
    for p in preds.values():
        sel_all &= np.isfinite(p)
    y = games["y"].to_numpy()
    pm = games["p_mkt"].to_numpy()
    rows = []
    for name, p in preds.items():
        r = {"model": name}
        for s in list(seasons) + ["pooled"]:
            sel = sel_all & ((games["season"] == s).to_numpy() if s != "pooled" else True)
            r[s] = ll(y[sel], p[sel]).mean()
        sel = sel_all
        d = ll(y[sel], p[sel]) - ll(y[sel], pm[sel])
        m, lo, hi = boot_ci(d)
        r["gap"] = m
        r["gap_ci"] = f"[{lo:+.4f},{hi:+.4f}]"
        if prev is not None and name != prev:
            d2 = ll(y[sel], p[sel]) - ll(y[sel], preds[prev][sel])
            m2, lo2, hi2 = boot_ci(d2)
            r["vs_prev"] = f"{m2:+.4f} [{lo2:+.4f},{hi2:+.4f}]"
        r["brier"] = brier(y[sel], p[sel]).mean()
        rows.append(r)
    mk = {"model": "market"}
    for s in list(seasons) + ["pooled"]:
        sel = sel_all & ((games["season"] == s).to_numpy() if s != "pooled" else True)
        mk[s] = ll(y[sel], pm[sel]).mean()
    mk["brier"] = brier(y[sel_all], pm[sel_all]).mean()
    rows.append(mk)
    df = pd.DataFrame(rows).set_index("model")
    df.attrs["n"] = int(sel_all.sum())
    return df


def kelly(p, games, seasons):
    from pipeline_assets.backtest import kelly_bets
    sel = games["season"].isin(seasons).to_numpy() & np.isfinite(p)
    g = games[sel]
    return kelly_bets(p[sel], g["y"].to_numpy(), g["close_home_ml"].to_numpy(float),
                      g["close_away_ml"].to_numpy(float))
