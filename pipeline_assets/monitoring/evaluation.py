"""Next-day evaluation: what was predicted for a date (the scored slate of record) against what
happened (results, box scores), and the metrics of a set of evaluated games."""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from resources import storage
from tipoff_core import catalog
from tipoff_core.domain import metrics
from tipoff_core.timeutil import to_date

CALIBRATION_BINS = 10


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def scored_games(day: str, root: Path, as_of: pd.Timestamp | None = None,
                 results: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per scored game of `day`: prediction (newest/pinned game_scores run <= as_of) joined to the
    result when final by `as_of` (`results`: `final_results` of the day, read when None).  Empty
    when the date was never scored."""
    base = storage.partition_dir(catalog.table("game_scores"), day, root)
    token = storage.select_run(base, as_of)
    if token is None:
        return pd.DataFrame()
    folder = base / f"run={token}"
    scores = storage.read_parquet(folder / "table.parquet")
    summary = _read_json(folder / "summary.json")
    keep = [c for c in ("game_id", "game_date", "tip_ts", "home_team_id", "away_team_id",
                        "p_home_win", "p_market_home", "p_elo", "margin_mean", "market_home_spread")
            if c in scores.columns]
    out = scores[keep].copy()
    out["score_run"] = token
    out["model_version"] = summary.get("model_version", "")
    out["feature_source"] = summary.get("feature_source", "")
    res = final_results(day, root, as_of) if results is None else results
    out = out.merge(res, on="game_id", how="left")
    out["final"] = out["home_win"].notna()
    return out


def final_results(day: str, root: Path, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """game_id, home_win (float 0/1), margin of the games of `day` final by `as_of`."""
    path = storage.partition_dir(catalog.label("results"), day, root) / "table.parquet"
    cols = ["game_id", "home_win", "margin"]
    if not path.exists():
        return pd.DataFrame(columns=cols)
    r = storage.read_parquet(path)
    if as_of is not None and len(r):
        r = r[r["final_ts"] <= as_of]
    margin = r["home_pts"].astype(float) - r["away_pts"].astype(float)
    return pd.DataFrame({"game_id": r["game_id"].astype(str), "home_win": (margin > 0).astype(float),
                         "margin": margin})


def scored_minutes(day: str, root: Path, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per player who played on `day`: p10/p50/p90 (newest/pinned minutes_scores run) and minutes."""
    base = storage.partition_dir(catalog.table("minutes_scores"), day, root)
    token = storage.select_run(base, as_of)
    box_path = storage.partition_dir(catalog.label("box_scores"), day, root) / "table.parquet"
    if token is None or not box_path.exists():
        return pd.DataFrame()
    pred = storage.read_parquet(base / f"run={token}" / "table.parquet")
    box = storage.read_parquet(box_path)
    if as_of is not None and len(box):
        box = box[box["snapshot_ts"] <= as_of]
    box = box[["game_id", "player_id", "minutes"]]
    return pred[["game_id", "player_id", "p10", "p50", "p90"]].merge(box, on=["game_id", "player_id"])


def days_back(day: str, n: int) -> list[str]:
    d = to_date(day)
    return [(d - dt.timedelta(days=i)).isoformat() for i in range(n - 1, -1, -1)]



# ----------------------------------------------------------------------------- metrics

def per_game_log_loss(y, p) -> np.ndarray:
    p = np.clip(np.asarray(p, float), metrics.LOG_LOSS_EPS, 1 - metrics.LOG_LOSS_EPS)
    y = np.asarray(y, float)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def win_metrics(games: pd.DataFrame) -> dict:
    """Metrics of the final games of an evaluation frame (see `scored_games`)."""
    g = games.loc[games["final"].astype(bool)] if len(games) else games
    n = int(len(g))
    out = {"n_scored": int(len(games)), "n_evaluated": n}
    if n == 0:
        return {**out, "accuracy": math.nan, "log_loss": math.nan, "brier": math.nan,
                "ece": math.nan, "log_loss_se": math.nan, "market_n": 0,
                "market_log_loss": math.nan, "model_log_loss_on_market_games": math.nan,
                "elo_log_loss": math.nan}
    y, p = g["home_win"].to_numpy(float), g["p_home_win"].to_numpy(float)
    ll = per_game_log_loss(y, p)
    mk = g[g["p_market_home"].notna()] if "p_market_home" in g else g.iloc[:0]
    base = metrics.probability_metrics(y, p)
    out.update({
        "accuracy": base["accuracy"], "log_loss": base["log_loss"], "brier": base["brier"],
        "ece": metrics.expected_calibration_error(p, y, bins=CALIBRATION_BINS),
        "log_loss_se": float(ll.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        "market_n": int(len(mk)),
        "market_log_loss": metrics.log_loss(mk["home_win"], mk["p_market_home"]) if len(mk) else math.nan,
        "model_log_loss_on_market_games": metrics.log_loss(mk["home_win"], mk["p_home_win"])
        if len(mk) else math.nan,
        "elo_log_loss": metrics.log_loss(y, g["p_elo"]) if "p_elo" in g else math.nan,
    })
    return out


def minutes_window_metrics(rows: pd.DataFrame | None) -> dict:
    """Minutes metrics of scored player-games (see `scored_minutes`), prefixed `minutes_`."""
    if rows is None or rows.empty:
        return {"minutes_n": 0, "minutes_mae": math.nan, "minutes_coverage_p10_p90": math.nan}
    m = metrics.minutes_metrics(rows["minutes"], rows["p10"], rows["p50"], rows["p90"])
    return {"minutes_n": m["rows"], "minutes_mae": m["mae"],
            "minutes_coverage_p10_p90": m["coverage_p10_p90"]}

