"""Longer views of live performance than `report`'s windows: per season, and a rolling log loss
over every scored game (plain pandas; `model_performance` shows them in the UI)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_assets.monitoring.evaluation import per_game_log_loss, scored_games, win_metrics
from resources import storage
from tipoff_core import catalog
from tipoff_core.timeutil import season_of

SEASON_COLUMNS = ["season", "games", "accuracy", "log_loss", "brier", "market_games",
                  "market_log_loss", "model_log_loss_on_market_games"]


def scored_history(day: str, root: Path, as_of: pd.Timestamp | None = None,
                   seasons: int = 3) -> pd.DataFrame:
    """`scored_games` of every scored date up to `day` in its season and the `seasons - 1`
    before it (what the store held at `as_of`)."""
    base = storage.table_folder(catalog.table("game_scores"), root)
    if not base.is_dir():
        return pd.DataFrame()
    first = int(season_of(day)[:4]) - (seasons - 1)
    dates = sorted(p.name for p in base.iterdir() if p.is_dir() and p.name <= day
                   and int(season_of(p.name)[:4]) >= first)
    frames = [g for g in (scored_games(d, root, as_of) for d in dates) if len(g)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def season_table(games: pd.DataFrame) -> pd.DataFrame:
    """One row per season: final games evaluated, accuracy, log loss, Brier of the production
    market-free model, and the de-vigged market on the games that had one."""
    if games.empty:
        return pd.DataFrame(columns=SEASON_COLUMNS)
    rows = []
    for season, g in games.groupby(games["game_date"].astype(str).map(season_of), sort=True):
        m = win_metrics(g)
        rows.append({"season": season, "games": m["n_evaluated"], "accuracy": m["accuracy"],
                     "log_loss": m["log_loss"], "brier": m["brier"], "market_games": m["market_n"],
                     "market_log_loss": m["market_log_loss"],
                     "model_log_loss_on_market_games": m["model_log_loss_on_market_games"]})
    return pd.DataFrame(rows, columns=SEASON_COLUMNS)


def rolling_log_loss(games: pd.DataFrame, window: int = 50) -> pd.DataFrame:
    """Per final game in tip order: the model's log loss averaged over the last `window` games,
    and the market's over the last `window` games that had a market (NaN until a fifth of the
    window is there: the first few games say nothing)."""
    cols = ["tip_ts", "model", "market"]
    if games.empty or not games["final"].astype(bool).any():
        return pd.DataFrame(columns=cols)
    when = "tip_ts" if "tip_ts" in games else "game_date"  # tables stored before tip_ts was kept
    f = games.loc[games["final"].astype(bool)].sort_values([when, "game_id"], kind="mergesort")
    y = f["home_win"].to_numpy(float)
    model = pd.Series(per_game_log_loss(y, f["p_home_win"]))
    mkt_p = f["p_market_home"].to_numpy(float) if "p_market_home" in f else np.full(len(f), np.nan)
    market = pd.Series(np.where(np.isnan(mkt_p), np.nan, per_game_log_loss(y, np.nan_to_num(mkt_p, nan=0.5))))
    return pd.DataFrame({
        "tip_ts": pd.to_datetime(f[when], utc=True).to_numpy(),
        "model": model.rolling(window, min_periods=max(1, window // 5)).mean().to_numpy(),
        "market": market.rolling(window, min_periods=max(1, window // 5)).mean().to_numpy()})
