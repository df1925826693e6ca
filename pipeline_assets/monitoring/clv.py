"""Closing-line value (CLV) of every logged recommendation.

The closing line of a game is the market at its last odds snapshot strictly before the tip: per
bookmaker its last row stamped ``snapshot_ts < tip_ts``, and over books the median (the same
consensus the features use).  The moneyline close is de-vigged per book (multiplicative) before the
median, so it is a fair probability.  CLV says whether a bet got a better number than the market
settled on, a far less noisy sign of skill than a season of results:

``ml_clv``             fair closing probability of the side taken minus the implied probability
                       of the price taken (vig included: what the bettor paid).  +0.02 = the bet
                       was 2 probability points cheaper than the fair close.
``spread_clv_points``  the side's own line taken minus its closing line (home: line - close;
                       away: line + close of the home line).  +1.5 = 1.5 points better.
``total_clv_points``   over: close - line taken; under: line taken - close.
``clv_close_ts``       the newest snapshot the close was taken from.

Leak-free by construction: only snapshots strictly before the tip count, and a row only gets CLV
once the evaluation's as-of is past the tip (the close is final) -- computed after the fact, never
an input of a prediction.  A recommendation made at or after the tip gets none.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from resources.predictions_log import CLV_COLUMNS, KEY, PRODUCTION
from tipoff_core.domain import betting

MARKETS = {"moneyline": "ml_clv", "spread": "spread_clv_points", "total": "total_clv_points"}
CLOSE_COLUMNS = ["game_id", "close_p_home", "close_home_spread", "close_total", "close_ts"]


def closing_lines(odds: pd.DataFrame, tips: pd.DataFrame) -> pd.DataFrame:
    """Per game of `tips` (game_id, tip_ts) with odds before its tip: the no-vig closing P(home),
    closing home spread and total (medians over books of each book's last row strictly before the
    tip) and the newest snapshot_ts used."""
    if odds is None or odds.empty or tips.empty:
        return pd.DataFrame(columns=CLOSE_COLUMNS)
    t = tips[["game_id", "tip_ts"]].drop_duplicates("game_id")
    t = t.assign(tip_ts=pd.to_datetime(t["tip_ts"], utc=True))
    m = t.merge(odds, on="game_id", how="inner")
    m = m[m["snapshot_ts"] < m["tip_ts"]]
    m = m.sort_values(["game_id", "bookmaker", "snapshot_ts"], kind="mergesort")
    m = m.drop_duplicates(["game_id", "bookmaker"], keep="last")
    if m.empty:
        return pd.DataFrame(columns=CLOSE_COLUMNS)
    fair, _ = betting.devig_moneyline(m["home_ml"].to_numpy(float), m["away_ml"].to_numpy(float))
    m = m.assign(p=np.asarray(fair, float))
    agg = m.groupby("game_id", sort=True).agg(
        close_p_home=("p", "median"), close_home_spread=("home_spread", "median"),
        close_total=("total", "median"), close_ts=("snapshot_ts", "max")).reset_index()
    return agg[CLOSE_COLUMNS]


def closing_line_value(log: pd.DataFrame, close: pd.DataFrame, tips: pd.DataFrame,
                       as_of: pd.Timestamp | None) -> pd.DataFrame:
    """The CLV columns (`CLV_COLUMNS`) of the predictions-log rows `log` that recommended at least
    one market, by the log's key; rows whose game has not tipped by `as_of` (or has no close, or
    was recommended at/after the tip) are left out.  NaN where a market had no bet or no close."""
    cols = list(KEY) + CLV_COLUMNS
    if log is None or log.empty or close.empty:
        return pd.DataFrame(columns=cols)
    t = tips[["game_id", "tip_ts"]].drop_duplicates("game_id")
    g = log.merge(t.assign(tip_ts=pd.to_datetime(t["tip_ts"], utc=True)), on="game_id",
                  how="inner").merge(close, on="game_id", how="inner")
    made = pd.to_datetime(g["run_as_of_ts"], utc=True, format="ISO8601")
    g = g[made < g["tip_ts"]]
    if as_of is not None:
        g = g[g["tip_ts"] <= as_of]
    if g.empty:
        return pd.DataFrame(columns=cols)
    g = g.reset_index(drop=True)
    rec = g["recommendation"].fillna("none").to_numpy(object)
    price = g["ml_price"].to_numpy(float)
    paid = np.full(len(g), np.nan)
    ok = np.isfinite(price) & (rec != "none")
    paid[ok] = np.asarray(betting.american_to_prob(price[ok]), float)
    p_home = g["close_p_home"].to_numpy(float)
    fair = np.where(rec == "home", p_home, np.where(rec == "away", 1.0 - p_home, np.nan))
    ml = fair - paid

    sp_side = g["spread_side"].fillna("none").to_numpy(object)
    sp_line = g["spread_line"].to_numpy(float)
    ch = g["close_home_spread"].to_numpy(float)
    spread = np.where(sp_side == "home", sp_line - ch,
                      np.where(sp_side == "away", sp_line + ch, np.nan))
    to_side = g["total_side"].fillna("none").to_numpy(object)
    to_line = g["total_line"].to_numpy(float)
    ct = g["close_total"].to_numpy(float)
    total = np.where(to_side == "over", ct - to_line,
                     np.where(to_side == "under", to_line - ct, np.nan))
    out = g[list(KEY)].copy()
    out["ml_clv"], out["spread_clv_points"], out["total_clv_points"] = ml, spread, total
    out["clv_close_ts"] = g["close_ts"].map(lambda v: pd.Timestamp(v).isoformat())
    any_bet = np.isfinite(ml) | np.isfinite(spread) | np.isfinite(total)
    return out[any_bet].reset_index(drop=True)[cols]


def clv_summary(log: pd.DataFrame, tips: pd.DataFrame | None = None) -> dict:
    """Per market over production's recommendations -- the latest logged run of each game before
    its tip when `tips` is given (the slate of record) --: n, mean CLV and the share that beat the
    close (CLV > 0; equal to the close does not count)."""
    out = {m: {"n": 0, "mean_clv": None, "beat_close_pct": None} for m in MARKETS}
    if log is None or log.empty:
        return out
    g = log[log["role"] == PRODUCTION] if "role" in log else log
    if tips is not None and len(g):
        t = tips[["game_id", "tip_ts"]].drop_duplicates("game_id")
        g = g.merge(t.assign(tip_ts=pd.to_datetime(t["tip_ts"], utc=True)), on="game_id")
        g = g[pd.to_datetime(g["run_as_of_ts"], utc=True, format="ISO8601") < g["tip_ts"]]
    g = g.sort_values(["game_id", "run_as_of_ts"], kind="mergesort").drop_duplicates(
        "game_id", keep="last")
    for market, col in MARKETS.items():
        v = pd.to_numeric(g[col], errors="coerce").to_numpy(float) if col in g else np.array([])
        v = v[np.isfinite(v)]
        if len(v):
            out[market] = {"n": int(len(v)), "mean_clv": float(v.mean()),
                           "beat_close_pct": float((v > 0).mean() * 100.0)}
    return out


def clv_markdown(summary: dict) -> str:
    lines = ["| market | bets | mean CLV | beat close % |", "|---|---|---|---|"]
    for market, s in summary.items():
        unit = " pts" if market != "moneyline" else ""
        mean = "-" if s["mean_clv"] is None or math.isnan(s["mean_clv"]) else \
            f"{s['mean_clv']:+.3f}{unit}"
        pct = "-" if s["beat_close_pct"] is None else f"{s['beat_close_pct']:.0f}"
        lines.append(f"| {market} | {s['n']} | {mean} | {pct} |")
    return "\n".join(lines)
