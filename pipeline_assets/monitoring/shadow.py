"""Shadow vs production on the same final games, from the predictions log (plain pandas).

The shadow market-free model (`ModelRegistry.load_shadow`) scores every live slate beside
production; both are logged (`role` = shadow / production, pregame kind).  Per game and model the
prediction of record is the latest one logged before tip (run_as_of_ts < tip_ts when the tip is
known, and <= the evaluation's as-of); a shadow version is compared with production's prediction
of record of the same games (whatever production version made it), on the games final by then.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from resources.predictions_log import PREGAME, PRODUCTION, SHADOW
from tipoff_core.domain import metrics

SHADOW_COLUMNS = ["shadow_version", "production_versions", "n", "first_date", "last_date",
                  "shadow_log_loss", "production_log_loss", "log_loss_diff", "log_loss_diff_se",
                  "shadow_brier", "production_brier", "shadow_accuracy", "production_accuracy"]


def _ts(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True, format="ISO8601")


def predictions_of_record(log: pd.DataFrame, tips: pd.DataFrame | None = None,
                          as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """The latest pregame row per (game, model_version) logged before tip and at or before
    `as_of` (`tips`: game_id, tip_ts; a game without a known tip keeps all its rows)."""
    if log is None or log.empty:
        return pd.DataFrame(columns=list(log.columns) if log is not None else [])
    df = log[log["kind"].fillna(PREGAME) == PREGAME].copy()
    df["role"] = df["role"].fillna(PRODUCTION) if "role" in df else PRODUCTION
    df["game_id"] = df["game_id"].astype(str)
    run = _ts(df["run_as_of_ts"])
    keep = pd.Series(True, index=df.index)
    if as_of is not None:
        keep &= run <= as_of
    if tips is not None and len(tips):
        tip = df["game_id"].map(tips.assign(game_id=tips["game_id"].astype(str))
                                .drop_duplicates("game_id").set_index("game_id")["tip_ts"])
        tip = pd.to_datetime(tip, utc=True)
        keep &= tip.isna() | (run < tip)
    df = df[keep].assign(_run=run[keep])
    df = df.sort_values(["_run", "logged_at"], kind="mergesort")
    return df.groupby(["game_id", "model_version"], sort=False).tail(1).drop(columns="_run")


def compare_shadow(log: pd.DataFrame, results: pd.DataFrame, tips: pd.DataFrame | None = None,
                   as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per shadow version: n final games that both it and production predicted, log loss,
    Brier and accuracy of each, the log-loss difference shadow - production (negative: shadow
    better) and its paired standard error.  `results`: game_id, home_win (final games only)."""
    rec = predictions_of_record(log, tips, as_of)
    if rec.empty or results is None or results.empty:
        return pd.DataFrame(columns=SHADOW_COLUMNS)
    res = results.dropna(subset=["home_win"]).assign(game_id=lambda r: r["game_id"].astype(str))
    res = res.drop_duplicates("game_id").set_index("game_id")["home_win"].astype(float)
    prod = (rec[rec["role"] == PRODUCTION].sort_values(["run_as_of_ts", "logged_at"],
                                                       kind="mergesort")
            .groupby("game_id").tail(1).set_index("game_id"))
    rows = []
    for version, s in rec[rec["role"] == SHADOW].groupby("model_version", sort=True):
        s = s.set_index("game_id")
        games = s.index.intersection(prod.index).intersection(res.index)
        if not len(games):
            continue
        games = sorted(games)
        y = res.loc[games].to_numpy(float)
        ps = s.loc[games, "p_home_win"].to_numpy(float)
        pp = prod.loc[games, "p_home_win"].to_numpy(float)
        ms, mp = metrics.probability_metrics(y, ps), metrics.probability_metrics(y, pp)
        diff = _per_game_ll(y, ps) - _per_game_ll(y, pp)
        n = len(games)
        dates = s.loc[games, "game_date"].astype(str)
        rows.append({
            "shadow_version": version,
            "production_versions": ",".join(sorted(set(prod.loc[games, "model_version"]))),
            "n": n, "first_date": dates.min(), "last_date": dates.max(),
            "shadow_log_loss": ms["log_loss"], "production_log_loss": mp["log_loss"],
            "log_loss_diff": float(diff.mean()),
            "log_loss_diff_se": float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
            "shadow_brier": ms["brier"], "production_brier": mp["brier"],
            "shadow_accuracy": ms["accuracy"], "production_accuracy": mp["accuracy"]})
    return pd.DataFrame(rows, columns=SHADOW_COLUMNS)


def _per_game_ll(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, metrics.LOG_LOSS_EPS, 1 - metrics.LOG_LOSS_EPS)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def shadow_note(record: pd.DataFrame, version: str | None, min_games: int) -> str | None:
    """One line for the gate's reasons about `version`'s live shadow record (None: no record)."""
    if version is None or record is None or record.empty:
        return None
    r = record[record["shadow_version"] == version]
    if r.empty:
        return None
    r = r.iloc[0]
    if r["n"] < min_games:
        return (f"shadow record of {version}: {int(r['n'])} live games (< {min_games}, not "
                "enough to report)")
    return (f"shadow record of {version} vs production ({r['production_versions']}) on "
            f"{int(r['n'])} live games {r['first_date']}..{r['last_date']}: log loss "
            f"{r['shadow_log_loss']:.4f} vs {r['production_log_loss']:.4f} "
            f"(diff {r['log_loss_diff']:+.4f} +/- {r['log_loss_diff_se']:.4f}), Brier "
            f"{r['shadow_brier']:.4f} vs {r['production_brier']:.4f} (information only)")


def shadow_markdown(record: pd.DataFrame) -> str:
    if record is None or record.empty:
        return "no shadow predictions on final games in the window"
    cols = ["shadow_version", "production_versions", "n", "shadow_log_loss",
            "production_log_loss", "log_loss_diff", "log_loss_diff_se", "shadow_brier",
            "production_brier"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in record[cols].itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v)
                                       for v in r) + " |")
    return "\n".join(lines)
