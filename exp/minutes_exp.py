"""Minutes experiments: the backtest's protocol (monthly refits, reconciliation to 240 + OT,
split-conformal p10/p90) with extra features from the availability candidate frame."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from pipeline_assets import backtest as BT
from pipeline_assets.features import FEATURE_COLUMNS
from pipeline_assets.models import train_minutes_model


def walk_minutes(Mn: pd.DataFrame, season: str, cols, cadence_days=30, fast=False,
                 train_seasons=3, conformal_rows=20_000, params=None, n_jobs=2):
    test = Mn["season"].to_numpy() == season
    seasons_before = sorted(s for s in Mn["season"].unique() if s < season)
    keep = set(seasons_before[-train_seasons:] if train_seasons else seasons_before) | {season}
    pool = Mn[Mn["season"].isin(keep).to_numpy()]
    pool_days = pool["_day"].to_numpy()
    tframe = Mn[test]
    tdays = tframe["_day"].to_numpy()
    start = tdays.min()

    def fit(train):
        return train_minutes_model(train, cols, date_col="game_date", seed=0, fast=fast,
                                   holdout_frac=0.0, n_jobs=n_jobs, params=params)

    history = None
    base = pool[pool_days < start]
    if len(base) > conformal_rows + 1000:
        cut_day = base["_day"].to_numpy()[-conformal_rows]
        cal_train = base[base["_day"].to_numpy() < cut_day]
        cal = base[base["_day"].to_numpy() >= cut_day]
        history = BT._predict_minutes(fit(cal_train), cal)
    parts, model, used, nfit = [], None, None, 0
    for r, mask in BT._blocks(tdays, cadence_days):
        train = pool[pool_days < r]
        if model is None or len(train) > len(used):
            model, used = fit(train), train
            nfit += 1
        rec = BT._predict_minutes(model, tframe[mask])
        if history is not None and len(history):
            h = history.iloc[-conformal_rows:]
            a, b = BT._conformal_offsets(h["label_minutes"].to_numpy(float), h["p10"].to_numpy(),
                                         h["p90"].to_numpy())
            rec["p10_raw"], rec["p90_raw"] = rec["p10"], rec["p90"]
            rec["p10"] = np.clip(np.minimum(rec["p10"] - a, rec["p50"]), 0.0, 48.0)
            rec["p90"] = np.clip(np.maximum(rec["p90"] + b, rec["p50"]), 0.0, 48.0)
            if "inj_out" in rec:
                off = rec["inj_out"].to_numpy(bool)
                rec.loc[off, ["p10", "p50", "p90"]] = 0.0
        raw = rec.copy()
        if "p10_raw" in raw.columns:
            raw["p10"], raw["p90"] = raw["p10_raw"], raw["p90_raw"]
        history = raw if history is None else pd.concat([history, raw], ignore_index=True)
        parts.append(rec)
    return pd.concat(parts, ignore_index=True), nfit


def metrics(rec):
    y = rec["label_minutes"].to_numpy(float)
    return {"rows": len(rec), "mae": float(np.mean(np.abs(y - rec["p50"]))),
            "cov": float(np.mean((y >= rec["p10"]) & (y <= rec["p90"])))}
