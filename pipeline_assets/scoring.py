"""Score a slate: win probability, Monte Carlo margin/total distributions, edge and Kelly stake.

Plain Python; the `game_scores` / `minutes_scores` assets wrap it.  The edge is measured with the
market-free model (a model that has seen the market cannot claim an edge against it); the
with-market probability and the Elo, Pythagorean and logistic baselines are reported beside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline_assets.domain import betting, metrics, montecarlo

MARGIN_SD = 12.0      # NBA final-margin sd around expectation
TOTAL_SD = 18.0
LEAGUE_TOTAL = 225.0  # fallback expected total when a team has no scoring history


@dataclass
class StakePolicy:
    kelly_fraction: float = 0.25
    cap: float = 0.05        # never more than 5% of bankroll on one game
    min_edge: float = 0.02   # below this the recommendation is none


def consensus_moneylines(odds: pd.DataFrame, cutoffs: pd.DataFrame) -> pd.DataFrame:
    """Per game: the best available home and away American prices among bookmakers' latest rows
    at or before the game's cutoff (a bettor takes the best price)."""
    cols = ["game_id", "best_home_ml", "best_away_ml"]
    if odds is None or odds.empty:
        return pd.DataFrame(columns=cols)
    o = odds.merge(cutoffs[["game_id", "cutoff_ts"]], on="game_id")
    o = o[o["snapshot_ts"] <= o["cutoff_ts"]].sort_values("snapshot_ts", kind="mergesort")
    o = o.drop_duplicates(["game_id", "bookmaker"], keep="last")
    dec_h = betting.american_to_decimal(o["home_ml"].to_numpy(float))
    dec_a = betting.american_to_decimal(o["away_ml"].to_numpy(float))
    o = o.assign(dec_h=dec_h, dec_a=dec_a)
    best = o.groupby("game_id").agg(dec_h=("dec_h", "max"), dec_a=("dec_a", "max")).reset_index()
    best["best_home_ml"] = betting.decimal_to_american(best["dec_h"].to_numpy(float))
    best["best_away_ml"] = betting.decimal_to_american(best["dec_a"].to_numpy(float))
    return best[cols]


def expected_total(f: pd.DataFrame) -> np.ndarray:
    """Team-based total: each side's scoring blended with the opponent's allowance."""
    home = (f["home_pts_for_pg"] + f["away_pts_against_pg"]) / 2
    away = (f["away_pts_for_pg"] + f["home_pts_against_pg"]) / 2
    return (home + away).fillna(LEAGUE_TOTAL).to_numpy(float)


def score_games(features: pd.DataFrame, p_market_free: np.ndarray, p_with_market: np.ndarray,
                p_logistic: np.ndarray, odds: pd.DataFrame | None, *, n_sims: int = 10_000,
                seed: int = 0, policy: StakePolicy | None = None) -> pd.DataFrame:
    """One row per game of `features` (live game features)."""
    policy = policy or StakePolicy()
    f = features.reset_index(drop=True)
    p = np.clip(np.asarray(p_market_free, float), 1e-4, 1 - 1e-4)
    mu_margin = montecarlo.prob_to_margin(p, sd=MARGIN_SD)
    mu_total = expected_total(f)
    spread = f["mkt_home_spread"].to_numpy(float)
    line = f["mkt_total"].to_numpy(float)
    sims = montecarlo.simulate_slate(mu_margin, mu_total, MARGIN_SD, TOTAL_SD, 0.0, n_sims=n_sims,
                                     seed=seed, home_spread=spread, total_line=line)
    prices = consensus_moneylines(odds, f).set_index("game_id").reindex(f["game_id"])
    home_ml = prices["best_home_ml"].to_numpy(float)
    away_ml = prices["best_away_ml"].to_numpy(float)
    p_mkt = f["mkt_prob_home"].to_numpy(float)
    edge_home = betting.edge(p, p_mkt)
    stake_home = np.where(np.isnan(home_ml), 0.0,
                          betting.stake(p, np.nan_to_num(home_ml, nan=100.0),
                                        policy.kelly_fraction, policy.cap))
    stake_away = np.where(np.isnan(away_ml), 0.0,
                          betting.stake(1 - p, np.nan_to_num(away_ml, nan=100.0),
                                        policy.kelly_fraction, policy.cap))
    bet_home = (edge_home >= policy.min_edge) & (stake_home > 0)
    bet_away = (-edge_home >= policy.min_edge) & (stake_away > 0)
    rec = np.where(bet_home, "home", np.where(bet_away, "away", "none"))
    pyth_h = metrics.pythagorean_prob(f["home_pts_for_pg"].to_numpy(float), f["home_pts_against_pg"].to_numpy(float))
    pyth_a = metrics.pythagorean_prob(f["away_pts_for_pg"].to_numpy(float), f["away_pts_against_pg"].to_numpy(float))
    # log5 combination of the two teams' Pythagorean expectations (no home advantage)
    pyth = (pyth_h - pyth_h * pyth_a) / (pyth_h + pyth_a - 2 * pyth_h * pyth_a)
    out = pd.DataFrame({
        "game_id": f["game_id"], "game_date": f["game_date"], "tip_ts": f["tip_ts"],
        "cutoff_ts": f["cutoff_ts"], "home_team_id": f["home_team_id"],
        "away_team_id": f["away_team_id"],
        "p_home_win": p, "p_home_win_with_market": np.asarray(p_with_market, float),
        "p_home_win_mc": sims["p_home_win"],
        "margin_mean": sims["margin_mean"], "margin_sd": sims["margin_sd"],
        **{f"margin_{q}": sims[f"margin_{q}"] for q in ("p05", "p25", "p50", "p75", "p95")},
        "total_mean": sims["total_mean"], "total_sd": sims["total_sd"],
        **{f"total_{q}": sims[f"total_{q}"] for q in ("p05", "p25", "p50", "p75", "p95")},
        "p_overtime": sims["p_ot"],
        "market_home_spread": spread, "market_total": line,
        "p_home_cover": sims["p_home_cover"], "p_over": sims["p_over"],
        "p_market_home": p_mkt, "edge_home": edge_home,
        "best_home_ml": home_ml, "best_away_ml": away_ml,
        "stake_home": np.where(bet_home, stake_home, 0.0),
        "stake_away": np.where(bet_away, stake_away, 0.0),
        "recommendation": rec,
        "p_elo": f["elo_prob_home"].to_numpy(float),
        "p_pythagorean": pyth, "p_logistic": np.asarray(p_logistic, float),
    })
    return out
