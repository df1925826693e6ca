"""Ablation of the frozen market-free design (dev or eval seasons): each group added and removed,
paired bootstrap CIs vs the market, vs the full model and vs the current (gold) feature set."""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from exp.common import DEV, EVAL, boot_ci, ll
from exp.win_exp import base, evaluate, player_feats, side_strength, walk_lr
from pipeline_assets.features import FEATURE_COLUMNS

FULL = ["avail", "h_b2b", "a_b2b", "miss", "home_flag"]
KW = dict(weight_hl=365, home_col="home_flag")


def rule_strength(games):
    """Player strength with the recent-appearance rule instead of the availability model:
    P = rate of playing given consecutive team games missed (0..5+), from earlier seasons."""
    cc = player_feats(hl=365, k_pm=1500, repl=-3, k_box=300).copy()
    p = np.full(len(cc), np.nan)
    known = cc["box_known"] > 0
    for s in sorted(cc["season"].unique()):
        tr = known & ((cc["season"] < s) if s != "2015-16" else (cc["season"] == s))
        rate = cc[tr].groupby(cc["missed"].clip(upper=5))["played"].mean()
        sel = (cc["season"] == s).to_numpy()
        p[sel] = cc.loc[sel, "missed"].clip(upper=5).map(rate).to_numpy()
    cc["p_rule"] = p
    cc["p_last"] = (cc["missed"] == 0).astype(float)
    out = {}
    for col in ("p_rule", "p_last"):
        ss = side_strength(cc, p_col=col, repl=-3)
        out[col] = (ss["h_avail"] - ss["a_avail"]).to_numpy()
        out[col + "_miss"] = (ss["h_miss_share"] - ss["a_miss_share"]).to_numpy()
    return out


def run(seasons):
    games, inp, box = base()
    f = pd.read_parquet("data/exp/groups2.parquet")
    gold = games[FEATURE_COLUMNS["game"]].astype(float)
    rs = rule_strength(games)
    preds = {}
    preds["current (gold 59 features, LR C=0.003)"] = walk_lr(gold, games, seasons, C=0.003)
    preds["elo only"] = walk_lr(f[["elo"]], games, seasons)
    preds["FULL"] = walk_lr(f[FULL], games, seasons, **KW)
    add = {"+elo": ["elo"], "+team rating": ["trm"], "+travel/tz/altitude": ["a_travel_km", "a_tz_shift", "a_altitude"],
           "+3-in-4, rest days": ["t34_diff", "rest_diff"], "+full strength": ["full"],
           "+playoff x strength": ["playoff", "po_avail"], "+gold 59": list(FEATURE_COLUMNS["game"])}
    for k, cols in add.items():
        X = pd.concat([f[FULL], gold[[c for c in cols if c in gold.columns]] if k == "+gold 59"
                       else f[cols]], axis=1)
        preds[k] = walk_lr(X, games, seasons, **KW, C=0.01 if k == "+gold 59" else 1.0)
    for k, cols in {"-b2b": ["h_b2b", "a_b2b"], "-miss": ["miss"]}.items():
        preds[k] = walk_lr(f[[c for c in FULL if c not in cols]], games, seasons, **KW)
    # availability: the model replaced by the recent-appearance rules
    X = f[FULL].copy()
    X["avail"], X["miss"] = rs["p_rule"], rs["p_rule_miss"]
    preds["avail via rule P(missed k games)"] = walk_lr(X, games, seasons, **KW)
    X["avail"], X["miss"] = rs["p_last"], rs["p_last_miss"]
    preds["avail via rule played-last-game"] = walk_lr(X, games, seasons, **KW)
    X = f[FULL].drop(columns=["avail", "miss"]).assign(elo=f["elo"])
    preds["-players (elo + b2b)"] = walk_lr(X, games, seasons, **KW)
    ev = evaluate(preds, games, seasons, prev="FULL")
    cur = preds["current (gold 59 features, LR C=0.003)"]
    y = games["y"].to_numpy()
    sel = games["season"].isin(seasons).to_numpy() & np.isfinite(games["p_mkt"].to_numpy())
    for p in preds.values():
        sel &= np.isfinite(p)
    vs_cur = {}
    for k, p in preds.items():
        m, lo, hi = boot_ci(ll(y[sel], p[sel]) - ll(y[sel], cur[sel]))
        vs_cur[k] = f"{m:+.4f} [{lo:+.4f},{hi:+.4f}]"
    ev["vs_current"] = pd.Series(vs_cur)
    return ev, preds


if __name__ == "__main__":
    seasons = EVAL if "eval" in sys.argv else DEV
    ev, preds = run(seasons)
    pd.set_option("display.width", 250)
    print(f"n games = {ev.attrs['n']}")
    print(ev.round(4).to_string())
    pd.DataFrame(preds).to_parquet(f"data/exp/ablation_preds_{'eval' if 'eval' in sys.argv else 'dev'}.parquet")
