"""Evaluation and monitoring metrics (vectorized numpy, no framework dependencies).

Probabilistic: log_loss (log_losses per row), brier, accuracy, calibration_table,
bootstrap_mean_ci (paired comparisons).  Drift: psi.  Regression: mae, rmse,
interval_coverage.  Basketball: pythagorean_prob.  Pairs with a NaN in any input are dropped.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

LOG_LOSS_EPS = 1e-15
PSI_EPS = 1e-4


def _pairs(*arrays):
    arrs = [np.asarray(a, dtype=float).ravel() for a in arrays]
    n = arrs[0].shape[0]
    for a in arrs[1:]:
        if a.shape[0] != n:
            raise ValueError(f"length mismatch: {[x.shape[0] for x in arrs]}")
    ok = np.ones(n, dtype=bool)
    for a in arrs:
        ok &= ~np.isnan(a)
    return [a[ok] for a in arrs]


def log_loss(y, p, eps: float = LOG_LOSS_EPS) -> float:
    """Mean binary cross-entropy, p clipped to [eps, 1 - eps]."""
    y, p = _pairs(y, p)
    if y.size == 0:
        return float("nan")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def brier(y, p) -> float:
    """Mean squared error of probabilities."""
    y, p = _pairs(y, p)
    return float(np.mean((p - y) ** 2)) if y.size else float("nan")


def accuracy(y, p, threshold: float = 0.5) -> float:
    """Share of correct calls, predicting 1 when p > threshold (p == threshold counts as 0)."""
    y, p = _pairs(y, p)
    return float(np.mean((p > threshold) == (y > 0.5))) if y.size else float("nan")


def calibration_table(p, y, bins: int = 10, strategy: str = "uniform") -> pd.DataFrame:
    """Reliability table: one row per bin with lo, hi, count, mean_pred, mean_obs.

    ``uniform``: equal-width bins on [0, 1] (deciles of probability for bins=10; every bin is
    listed, empty ones with count 0 and NaN means).  ``quantile``: bins with equal counts, edges
    from the quantiles of p.  The last bin is closed on the right.
    """
    p, y = _pairs(p, y)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1))) if p.size else np.array([0.0, 1.0])
    else:
        raise ValueError(f"unknown strategy {strategy!r} (uniform | quantile)")
    nb = len(edges) - 1
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, nb - 1)
    count = np.bincount(idx, minlength=nb)
    sum_p = np.bincount(idx, weights=p, minlength=nb)
    sum_y = np.bincount(idx, weights=y, minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.where(count > 0, sum_p / count, np.nan)
        mean_obs = np.where(count > 0, sum_y / count, np.nan)
    return pd.DataFrame({"bin": np.arange(nb), "lo": edges[:-1], "hi": edges[1:], "count": count,
                         "mean_pred": mean_pred, "mean_obs": mean_obs})


def expected_calibration_error(p, y, bins: int = 10) -> float:
    """Count-weighted mean |mean_pred - mean_obs| over uniform bins."""
    t = calibration_table(p, y, bins=bins)
    t = t[t["count"] > 0]
    if t.empty:
        return float("nan")
    return float(np.average(np.abs(t["mean_pred"] - t["mean_obs"]), weights=t["count"]))


def psi(expected, actual, bins: int = 10, eps: float = PSI_EPS) -> float:
    """Population stability index of ``actual`` against the reference sample ``expected``.

    Bin edges are the quantiles of ``expected`` (duplicates merged, outer edges open to +-inf);
    empty-bin shares are floored at ``eps``.  PSI = sum((a - e) * ln(a / e)).
    Rule of thumb: < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant shift.
    """
    e = np.asarray(expected, dtype=float).ravel()
    a = np.asarray(actual, dtype=float).ravel()
    e = e[~np.isnan(e)]
    a = a[~np.isnan(a)]
    if e.size == 0 or a.size == 0:
        return float("nan")
    inner = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)[1:-1]))
    nb = inner.size + 1
    # bin i = (edge[i-1], edge[i]]; ties at an edge fall left, consistently for both samples
    e_share = np.bincount(np.searchsorted(inner, e, side="left"), minlength=nb) / e.size
    a_share = np.bincount(np.searchsorted(inner, a, side="left"), minlength=nb) / a.size
    e_share = np.maximum(e_share, eps)
    a_share = np.maximum(a_share, eps)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def pythagorean_prob(pts_for, pts_against, exponent: float = 14.0):
    """Pythagorean win expectation PF^x / (PF^x + PA^x) (NBA exponent ~14, Morey's 13.91).

    Computed as 1 / (1 + (PA/PF)^x) to avoid overflow; 0.5 when both are 0."""
    pf = np.asarray(pts_for, dtype=float)
    pa = np.asarray(pts_against, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        r = 1.0 / (1.0 + (pa / pf) ** exponent)
    r = np.where((pf == 0) & (pa == 0), 0.5, r)
    return r.item() if r.ndim == 0 else r


def mae(y, yhat) -> float:
    y, yhat = _pairs(y, yhat)
    return float(np.mean(np.abs(y - yhat))) if y.size else float("nan")


def rmse(y, yhat) -> float:
    y, yhat = _pairs(y, yhat)
    return float(np.sqrt(np.mean((y - yhat) ** 2))) if y.size else float("nan")


def interval_coverage(y, lo, hi) -> float:
    """Share of y inside the closed interval [lo, hi]."""
    y, lo, hi = _pairs(y, lo, hi)
    return float(np.mean((y >= lo) & (y <= hi))) if y.size else float("nan")


def log_losses(y, p, eps: float = LOG_LOSS_EPS) -> np.ndarray:
    """Per-row binary cross-entropy (NaN where y or p is NaN)."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), eps, 1.0 - eps)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def bootstrap_mean_ci(d, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> dict:
    """Mean of ``d`` (e.g. per-game log-loss differences of two models on the same games) and
    its percentile bootstrap interval, rows resampled with replacement (NaNs dropped)."""
    (d,) = _pairs(d)
    if d.size == 0:
        return {"mean": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": 0}
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for i in range(0, n_boot, 250):  # chunks: 250 x n indices at a time, not n_boot x n
        k = min(250, n_boot - i)
        means[i:i + k] = d[rng.integers(0, d.size, size=(k, d.size))].mean(axis=1)
    a = (1.0 - level) / 2.0
    return {"mean": float(d.mean()), "lo": float(np.quantile(means, a)),
            "hi": float(np.quantile(means, 1.0 - a)), "n": int(d.size)}


# ------------------------------------------------------------------------------ metric bundles
# The one answer to "how good were these predictions" for the gate, the backtest and monitoring.

def probability_metrics(y, p) -> dict:
    """Win-probability metrics: n, log_loss, brier, accuracy (pairs with a NaN dropped)."""
    yy, pp = _pairs(y, p)
    return {"n": int(yy.size), "log_loss": log_loss(yy, pp), "brier": brier(yy, pp),
            "accuracy": accuracy(yy, pp)}


def minutes_metrics(y, p10, p50, p90) -> dict:
    """Minutes-prediction metrics: rows, mae and rmse of p50, coverage of [p10, p90]."""
    y = np.asarray(y, dtype=float)
    return {"rows": int(np.isfinite(y).sum()), "mae": mae(y, p50), "rmse": rmse(y, p50),
            "coverage_p10_p90": interval_coverage(y, p10, p90)}
