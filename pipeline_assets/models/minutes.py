"""Player-minutes quantile model (p10 / p50 / p90 per player-game) and team reconciliation.

``train_minutes_model`` fits one LightGBM quantile regressor per quantile.  Before the final fit on
all rows it scores a time-ordered holdout (the last ``holdout_frac`` of dates, training only on rows
more than a week older) so ``MinutesModel.metrics`` carries honest pinball losses and 80%-interval
coverage.  Predictions are clipped to [0, 48], sorted per row (p10 <= p50 <= p90), and players known
to be Out (``inj_out == 1`` when that column exists, or an explicit ``out_mask``) get 0.

``reconcile_team_minutes`` rescales each team's p50 so it sums to the minutes the game will have
(240 by default; pass 240 + 25 * OT, a column name or a per-row array when known), scaling p10/p90
by the same factor (clipped to [0, 48]) and flagging teams whose raw p50 sum looks implausible.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from tipoff_core.domain import metrics

log = logging.getLogger(__name__)

QUANTILES = (0.1, 0.5, 0.9)
QCOLS = ("p10", "p50", "p90")
MAX_MINUTES = 48.0
GAP_DAYS = 7


def _matrix(df: pd.DataFrame, feature_cols: Sequence[str]) -> np.ndarray:
    missing = [c for c in feature_cols if c not in df.columns]
    if missing:
        raise KeyError(f"feature columns missing from the frame: {missing[:10]} "
                       f"({len(missing)} of {len(feature_cols)})")
    X = df[list(feature_cols)].to_numpy(dtype=float, na_value=np.nan, copy=True)
    X[~np.isfinite(X)] = np.nan
    return X


def _out_flags(df: pd.DataFrame, out_col: str | None, out_mask=None) -> np.ndarray:
    out = np.zeros(len(df), dtype=bool)
    if out_col and out_col in df.columns:
        out |= pd.to_numeric(df[out_col], errors="coerce").fillna(0).to_numpy(dtype=float) >= 0.5
    if out_mask is not None:
        m = np.asarray(out_mask, dtype=bool).ravel()
        if m.shape[0] != len(df):
            raise ValueError(f"out_mask has {m.shape[0]} entries for {len(df)} rows")
        out |= m
    return out


def pinball_loss(y, q_pred, q: float) -> float:
    d = np.asarray(y, float) - np.asarray(q_pred, float)
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


def _lgbm_params(fast: bool) -> dict:
    return dict(n_estimators=120 if fast else 300, learning_rate=0.05 if fast else 0.04,
                num_leaves=15 if fast else 31, min_child_samples=40, subsample=0.8, subsample_freq=1,
                colsample_bytree=0.8, reg_lambda=1.0)


@dataclass
class MinutesModel:
    """Three LightGBM quantile regressors; ``predict`` returns a DataFrame[p10, p50, p90]."""

    models: dict  # quantile -> fitted LGBMRegressor
    feature_cols: list[str]
    params: dict
    out_col: str | None = "inj_out"
    kind: str = "lightgbm_quantile"
    metrics: dict = field(default_factory=dict)

    def predict(self, df: pd.DataFrame, out_mask=None) -> pd.DataFrame:
        """Quantiles per row of ``df`` (same index), monotone per row, in [0, 48]; Out players -> 0."""
        if len(df) == 0:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in QCOLS}, index=df.index)
        X = _matrix(df, self.feature_cols)
        pred = np.column_stack([self.models[q].predict(X) for q in QUANTILES])
        pred = np.sort(np.clip(pred, 0.0, MAX_MINUTES), axis=1)
        pred[_out_flags(df, self.out_col, out_mask)] = 0.0
        return pd.DataFrame(pred, columns=list(QCOLS), index=df.index)

    def __repr__(self) -> str:
        return f"MinutesModel(n_features={len(self.feature_cols)}, params={self.params})"


def _fit_quantiles(X, y, params: dict, seed: int, n_jobs: int) -> dict:
    import lightgbm as lgb
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for q in QUANTILES:
            models[q] = lgb.LGBMRegressor(objective="quantile", alpha=q, random_state=seed,
                                          n_jobs=n_jobs, verbose=-1, **params).fit(X, y)
    return models


def interval_metrics(y, pred: pd.DataFrame | np.ndarray) -> dict:
    """Pinball loss per quantile, mean pinball, 80% coverage, p50 MAE."""
    P = np.asarray(pred, float)
    y = np.asarray(y, float)
    out = {f"pinball_{c}": pinball_loss(y, P[:, i], q) for i, (c, q) in enumerate(zip(QCOLS, QUANTILES))}
    out["pinball_mean"] = float(np.mean([out[f"pinball_{c}"] for c in QCOLS]))
    m = metrics.minutes_metrics(y, P[:, 0], P[:, 1], P[:, 2])
    out["coverage_80"], out["mae_p50"] = m["coverage_p10_p90"], m["mae"]
    return out


def train_minutes_model(df: pd.DataFrame, feature_cols: Sequence[str], label_col: str = "label_minutes",
                        date_col: str | None = "game_date", out_col: str | None = "inj_out",
                        seed: int = 0, fast: bool = False, *, holdout_frac: float = 0.15,
                        gap_days: int = GAP_DAYS, n_jobs: int = 2,
                        params: dict | None = None) -> MinutesModel:
    """Fit p10/p50/p90 minutes models on ``df`` (one row per player-game).

    Rows with a missing label are ignored, and so are rows flagged Out (their minutes are set to 0
    at prediction time).  ``holdout_frac`` of the latest dates is scored first (set 0 to skip).
    """
    feature_cols = list(feature_cols)
    if label_col not in df.columns:
        raise KeyError(f"column {label_col!r} not in the training frame")
    y_all = pd.to_numeric(df[label_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan, copy=True)
    keep = ~np.isnan(y_all) & ~_out_flags(df, out_col)
    sub = df.loc[keep]
    X, y = _matrix(sub, feature_cols), y_all[keep]
    if len(y) < 50:
        raise ValueError(f"only {len(y)} labelled rows to train the minutes model")
    p = {**_lgbm_params(fast), **(params or {})}

    metrics: dict = {"n_rows": int(len(y)), "n_features": len(feature_cols)}
    if date_col and date_col in sub.columns:
        d = pd.to_datetime(sub[date_col]).to_numpy(dtype="datetime64[ns]")
        metrics["train_start"] = str(pd.Timestamp(np.nanmin(d)).date())
        metrics["train_end"] = str(pd.Timestamp(np.nanmax(d)).date())
        udates = np.unique(d[~np.isnat(d)])
        n_hold = int(round(len(udates) * holdout_frac))
        if holdout_frac > 0 and 0 < n_hold < len(udates):
            start = udates[-n_hold]
            tr = d < start - np.timedelta64(gap_days, "D")
            ho = d >= start
            if tr.sum() >= 200 and ho.sum() >= 50:
                tmp = MinutesModel(_fit_quantiles(X[tr], y[tr], p, seed, n_jobs), feature_cols, p, None)
                pred = tmp.predict(pd.DataFrame(X[ho], columns=feature_cols))
                metrics.update({f"holdout_{k}": v for k, v in interval_metrics(y[ho], pred).items()})
                metrics["holdout_start"] = str(pd.Timestamp(start).date())
                metrics["holdout_rows"] = int(ho.sum())
    models = _fit_quantiles(X, y, p, seed, n_jobs)
    log.info("minutes model: %s", {k: v for k, v in metrics.items() if k.startswith("holdout_")})
    return MinutesModel(models=models, feature_cols=feature_cols,
                        params={**p, "seed": seed, "fast": fast, "quantiles": list(QUANTILES)},
                        out_col=out_col, metrics=metrics)


# ---------------------------------------------------------------- reconciliation

def reconcile_team_minutes(pred_df: pd.DataFrame, group_cols: Sequence[str] = ("game_id", "team_id"),
                           total: float | str | Sequence[float] = 240.0, *, cap: float = MAX_MINUTES,
                           flag_below: float = 10.0, flag_above: float = 20.0,
                           out_col: str | None = "inj_out", out_mask=None
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scale each team's p50 so it sums to ``total``; returns (reconciled copy, flags).

    ``total``: the team's minutes for the game -- a number (240; 240 + 25 * OT), a column name, or a
    per-row array (the first value of each group is used).  p10/p90 are scaled by the same factor and
    clipped to [0, ``cap``]; p50 is capped at ``cap`` with the excess spread over the team's other
    playing players (so the sum stays exact whenever ``n_playing * cap >= total``).  Rows flagged Out
    (``out_col`` == 1 or ``out_mask``) are 0.  The copy gains ``p50_raw`` and ``scale``.

    ``flags``: one row per team whose raw p50 sum is outside [total - flag_below, total + flag_above]
    (= [230, 260] for 240), or whose minutes cannot be reconciled (nobody playing / too few players);
    columns ``group_cols + [raw_p50_sum, total, scale, n_players, reason]``.
    """
    group_cols = list(group_cols)
    out = pred_df.copy()
    n = len(out)
    if isinstance(total, str):
        tot_row = pd.to_numeric(out[total], errors="coerce").to_numpy(dtype=float)
    else:
        tot_row = np.broadcast_to(np.asarray(total, dtype=float), (n,)).astype(float)
    g = out.groupby(group_cols, sort=False, dropna=False).ngroup().to_numpy()
    ng = int(g.max()) + 1 if n else 0

    q = {c: pd.to_numeric(out[c], errors="coerce").fillna(0.0).to_numpy(dtype=float) for c in QCOLS}
    off = _out_flags(out, out_col, out_mask)
    for c in QCOLS:
        q[c] = np.where(off, 0.0, np.clip(q[c], 0.0, None))

    first = np.full(ng, -1)
    first[g[::-1]] = np.arange(n)[::-1]  # first row of each group
    total_g = tot_row[first] if ng else np.empty(0)
    raw = np.bincount(g, weights=q["p50"], minlength=ng)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(raw > 0, total_g / raw, np.nan)
    f_row = np.nan_to_num(factor[g], nan=1.0)

    p50 = q["p50"] * f_row
    for _ in range(100):  # cap at `cap`, spread the excess over uncapped players (water-filling)
        over = p50 > cap + 1e-12
        if not over.any():
            break
        excess = np.bincount(g, weights=np.where(over, p50 - cap, 0.0), minlength=ng)
        p50 = np.where(over, cap, p50)
        free = (p50 > 0) & (p50 < cap)
        free_sum = np.bincount(g, weights=np.where(free, p50, 0.0), minlength=ng)
        with np.errstate(divide="ignore", invalid="ignore"):
            bump = np.where(free_sum > 0, excess / free_sum, 0.0)
        if not (bump > 0).any():
            break
        p50 = np.where(free, p50 * (1.0 + bump[g]), p50)
    p10 = np.minimum(np.clip(q["p10"] * f_row, 0.0, cap), p50)
    p90 = np.maximum(np.clip(q["p90"] * f_row, 0.0, cap), p50)

    out["p50_raw"] = q["p50"]
    out["p10"], out["p50"], out["p90"] = p10, p50, p90
    out["scale"] = factor[g] if n else np.empty(0)

    n_players = np.bincount(g, weights=(q["p50"] > 0).astype(float), minlength=ng)
    final = np.bincount(g, weights=p50, minlength=ng)
    reason = np.full(ng, "", dtype=object)
    reason[(raw < total_g - flag_below) & (raw > 0)] = "raw p50 sum below range"
    reason[raw > total_g + flag_above] = "raw p50 sum above range"
    reason[~np.isclose(final, total_g) & (raw > 0)] = "cannot reach total (too few players under cap)"
    reason[raw <= 0] = "no minutes predicted for team"
    flagged = np.flatnonzero(reason != "")
    keys = out.iloc[first[flagged]][group_cols].reset_index(drop=True) if ng else out[group_cols].iloc[:0]
    flags = keys.assign(raw_p50_sum=raw[flagged], total=total_g[flagged], scale=factor[flagged],
                        n_players=n_players[flagged].astype(int), reason=reason[flagged])
    if len(flags):
        log.warning("reconcile_team_minutes: %d team-games flagged", len(flags))
    return out, flags


def predict_minutes(model: MinutesModel, df: pd.DataFrame, total: float | str = 240.0
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """p10/p50/p90 per player of ``df``, reconciled so each team's p50 sums to ``total`` (240, or
    a column of ``df`` such as 240 + 25 x overtime periods); returns (predictions, flags).

    The predictions frame keeps ``df``'s game_id, team_id, player_id (and ``inj_out``) plus
    p10, p50, p90, p50_raw and scale, in ``df``'s row order."""
    pred = model.predict(df)
    both = pd.concat([df[["game_id", "team_id", "player_id"]].reset_index(drop=True),
                      pred.reset_index(drop=True)], axis=1)
    if "inj_out" in df:
        both["inj_out"] = df["inj_out"].to_numpy()
    if isinstance(total, str):
        both[total] = df[total].to_numpy()
    return reconcile_team_minutes(both, total=total)
