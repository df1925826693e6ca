"""Feature drift: PSI of the production model's most important features, recent live features
against the gold features of its training window."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from resources import storage
from tipoff_core import catalog
from tipoff_core.domain import metrics

TOP_FEATURES = 6
DEFAULT_TOP_FEATURES = ["diff_elo", "elo_prob_home", "diff_net_rating", "diff_win_pct",
                        "diff_last5_margin", "diff_inj_impact"]
PSI_EXTRA_FEATURES = ("elo_prob_home",)


def feature_importance(win_model, feature_cols: list[str]) -> pd.Series:
    """Importance per feature of a pickled WinModel: tree importances, or |standardized coef| of
    the logistic baseline.  Empty when the estimator exposes neither."""
    est = getattr(win_model, "estimator", None)
    values = None
    if est is not None and hasattr(est, "feature_importances_"):
        values = np.asarray(est.feature_importances_, float)
    elif est is not None and hasattr(est, "named_steps") and "lr" in est.named_steps:
        values = np.abs(np.asarray(est.named_steps["lr"].coef_, float)).ravel()
    cols = list(getattr(win_model, "feature_cols", feature_cols) or feature_cols)
    if values is None or len(values) != len(cols):
        return pd.Series(dtype=float)
    return pd.Series(values, index=cols).sort_values(ascending=False, kind="mergesort")


def psi_eligible(name: str) -> bool:
    """Features whose distribution is comparable across the season: home-minus-away differences and
    the Elo probability.  Team levels (home_elo, away_off_rating, streaks, games played) drift with
    the stage of the season by construction, so a PSI on them flags the calendar, not a regime."""
    return name.startswith("diff_") or name in PSI_EXTRA_FEATURES


def top_features(importance: pd.Series, frame: pd.DataFrame, n: int = TOP_FEATURES) -> list[str]:
    """The `n` most important PSI-eligible numeric features, else the default list."""
    def numeric(c):
        return c in frame.columns and psi_eligible(c) and pd.api.types.is_numeric_dtype(frame[c]) \
            and not pd.api.types.is_bool_dtype(frame[c])
    ranked = [c for c in importance.index if numeric(c) and importance[c] > 0]
    if not ranked:
        ranked = [c for c in DEFAULT_TOP_FEATURES if numeric(c)]
    return ranked[:n]


def feature_psi(reference: pd.DataFrame, recent: pd.DataFrame, features: list[str],
                importance: pd.Series | None = None) -> pd.DataFrame:
    """PSI per feature of `recent` against `reference` (quantile bins of the reference)."""
    rows = []
    for f in features:
        ref = reference[f].astype(float) if f in reference else pd.Series(dtype=float)
        cur = recent[f].astype(float) if f in recent else pd.Series(dtype=float)
        rows.append({"feature": f,
                     "importance": float(importance.get(f, math.nan)) if importance is not None else math.nan,
                     "psi": metrics.psi(ref, cur), "n_reference": int(ref.notna().sum()),
                     "n_recent": int(cur.notna().sum()), "reference_mean": float(ref.mean()),
                     "recent_mean": float(cur.mean())})
    return pd.DataFrame(rows, columns=["feature", "importance", "psi", "n_reference", "n_recent",
                                       "reference_mean", "recent_mean"])


def recent_live_features(days: list[str], root: Path, as_of: pd.Timestamp | None,
                         sources: dict[str, str] | None = None) -> pd.DataFrame:
    """Live game features that were scored on `days` (the feature run named by the score run's
    summary when known, else the newest run at or before as-of)."""
    frames = []
    for day in days:
        base = storage.partition_dir(catalog.feature("live", "game"), day, root)
        token = None
        src = (sources or {}).get(day, "")
        if "run=" in src:
            token = src.rsplit("run=", 1)[-1]
            if not (base / f"run={token}").is_dir():
                token = None
        token = token or storage.select_run(base, as_of)
        if token is not None:
            frames.append(storage.read_parquet(base / f"run={token}" / "features.parquet"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def training_reference(meta: dict, root: Path) -> pd.DataFrame:
    """Gold game features of a model's training window (metadata train_start..train_end)."""
    gold = storage.read_season_tables(catalog.feature("gold", "game"), root)
    start, end = meta.get("train_start"), meta.get("train_end")
    if gold.empty or not start or not end:
        return pd.DataFrame()
    return gold[(gold["game_date"] >= str(start)) & (gold["game_date"] <= str(end))]

