"""In-game model (issue 12): P(home win) and the final-margin distribution after quarters 1, 2, 3.

Plain numpy / pandas / scikit-learn (no Dagster), so a live-game asset can call it.

Design (per checkpoint t = 1, 2, 3 quarters played)
----------------------------------------------------
The pregame probability is turned into an expected full-game margin ``mu = PREGAME_SIGMA x
probit(p_pregame)`` (the spread/probability link the market baseline uses).  The final margin is
Gaussian around a linear predictor fit by least squares on training games::

    final_margin ~ N(a_t + b_t * margin_so_far + c_t * mu, sd_t^2)

Structurally ``b_t ~ 1`` (the lead is kept) and ``c_t ~`` the remaining share of the game (0.75,
0.5, 0.25) -- the pregame view matters less as the game goes on; the fit decides both, and ``sd_t``
is the residual sd (the noise of the remaining quarters).  P(home win) = P(final margin > 0) under
that Gaussian: regulation ties go to overtime, which the continuous distribution already splits
around 0 (the integer continuity correction at 0 gives exactly ``Phi(mean / sd)``), so win
probability and margin quantiles come from one distribution and never disagree.

Public API
----------
  CHECKPOINTS = (1, 2, 3)
  checkpoint_frame(results, p_pregame_by_game) -> one row per game x checkpoint
  fit_halftime_model(frame) -> HalftimeModel
  HalftimeModel.predict(period, margin, p_pregame) -> DataFrame(p_home_win, margin_mean,
      margin_sd, margin_p10, margin_p50, margin_p90)
  HalftimeModel.to_dict() / HalftimeModel.from_dict(d)
  fit_score_only(frame) -> ScoreOnlyModel (baseline: logistic on the margin so far, per checkpoint)
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

CHECKPOINTS = (1, 2, 3)
QUARTERS = ("q1", "q2", "q3", "q4")
PREGAME_SIGMA = 12.0  # points of full-game margin per unit of probit(p); only sets the scale of c_t
P_CLIP = 1e-3
MIN_TRAIN_ROWS = 30
Z10, Z90 = NormalDist().inv_cdf(0.1), NormalDist().inv_cdf(0.9)
FRAME_COLUMNS = ["game_id", "period", "margin", "p_pregame", "final_margin", "label_home_win"]
SCHEMA_VERSION = 1


def pregame_expected_margin(p_pregame) -> np.ndarray:
    """Expected full-game home margin implied by a pregame P(home win)."""
    from scipy.special import ndtri

    p = np.clip(np.asarray(p_pregame, float), P_CLIP, 1.0 - P_CLIP)
    return PREGAME_SIGMA * ndtri(p)


def checkpoint_frame(results: pd.DataFrame, p_pregame_by_game) -> pd.DataFrame:
    """One row per game x checkpoint (``FRAME_COLUMNS``) from results rows with quarter scores.

    ``p_pregame_by_game``: a Series (or mapping) game_id -> pregame P(home win).  Games missing any
    regulation quarter score, the final score or a finite pregame probability are dropped (a
    partial line cannot give an honest margin so far)."""
    p_map = pd.Series(p_pregame_by_game, dtype="float64")
    p_map = p_map[~p_map.index.duplicated(keep="last")]
    cols = [f"{side}_{q}" for side in ("home", "away") for q in QUARTERS]
    r = results[["game_id", "home_pts", "away_pts", *cols]]
    q = r[cols].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    pts = r[["home_pts", "away_pts"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    p = r["game_id"].map(p_map).to_numpy(float)
    ok = np.isfinite(q).all(axis=1) & np.isfinite(pts).all(axis=1) & np.isfinite(p)
    ids, q, pts, p = r["game_id"].to_numpy()[ok], q[ok], pts[ok], p[ok]
    diff = np.cumsum(q[:, :4] - q[:, 4:], axis=1)  # home - away after each quarter
    final = pts[:, 0] - pts[:, 1]
    parts = [pd.DataFrame({"game_id": ids, "period": t, "margin": diff[:, t - 1], "p_pregame": p,
                           "final_margin": final, "label_home_win": (final > 0).astype(float)})
             for t in CHECKPOINTS]
    return pd.concat(parts, ignore_index=True)[FRAME_COLUMNS] if len(ids) else \
        pd.DataFrame({c: pd.Series(dtype="object" if c == "game_id" else "float64")
                      for c in FRAME_COLUMNS})


def _design(margin, p_pregame) -> np.ndarray:
    m = np.asarray(margin, float)
    return np.column_stack([np.ones_like(m), m, pregame_expected_margin(p_pregame)])


def _periods(period, n: int) -> np.ndarray:
    t = np.broadcast_to(np.asarray(period, dtype=np.int64), (n,))
    bad = ~np.isin(t, CHECKPOINTS)
    if bad.any():
        raise ValueError(f"period must be one of {CHECKPOINTS}, got {sorted(set(t[bad].tolist()))}")
    return t


def _require(frame: pd.DataFrame, cols: list[str]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"halftime frame lacks columns {missing}")


@dataclass(frozen=True)
class Checkpoint:
    """Fitted parameters of one checkpoint: mean = coef . (1, margin, mu); residual sd."""
    coef: tuple[float, float, float]
    sd: float
    n: int


@dataclass(frozen=True)
class HalftimeModel:
    checkpoints: dict[int, Checkpoint]

    def predict(self, period, margin, p_pregame) -> pd.DataFrame:
        """P(home win) and the final-margin distribution; arguments broadcast to one length."""
        from scipy.special import ndtr

        margin, p_pregame = np.broadcast_arrays(np.asarray(margin, float),
                                                np.asarray(p_pregame, float))
        margin, p_pregame = margin.ravel(), p_pregame.ravel()
        t = _periods(period, len(margin))
        X = _design(margin, p_pregame)
        coef = np.array([self.checkpoints[int(k)].coef for k in t]).reshape(len(t), 3)
        sd = np.array([self.checkpoints[int(k)].sd for k in t], float)
        mean = (X * coef).sum(axis=1)
        return pd.DataFrame({"p_home_win": ndtr(mean / sd), "margin_mean": mean, "margin_sd": sd,
                             "margin_p10": mean + Z10 * sd, "margin_p50": mean,
                             "margin_p90": mean + Z90 * sd})

    def to_dict(self) -> dict:
        return {"kind": "halftime_gaussian", "version": SCHEMA_VERSION,
                "pregame_sigma": PREGAME_SIGMA,
                "checkpoints": {str(t): {"coef": list(c.coef), "sd": c.sd, "n": c.n}
                                for t, c in sorted(self.checkpoints.items())}}

    @classmethod
    def from_dict(cls, d: dict) -> HalftimeModel:
        if d.get("kind") != "halftime_gaussian" or d.get("version") != SCHEMA_VERSION:
            raise ValueError(f"not a halftime model dict (version {SCHEMA_VERSION}): "
                             f"{d.get('kind')!r} v{d.get('version')!r}")
        if float(d["pregame_sigma"]) != PREGAME_SIGMA:
            raise ValueError("halftime model stored with another pregame_sigma")
        return cls({int(t): Checkpoint(tuple(float(x) for x in c["coef"]), float(c["sd"]),
                                       int(c["n"]))
                    for t, c in d["checkpoints"].items()})


def fit_halftime_model(frame: pd.DataFrame) -> HalftimeModel:
    """Least squares of the final margin per checkpoint (``frame``: :func:`checkpoint_frame`
    rows, at least ``MIN_TRAIN_ROWS`` per checkpoint)."""
    _require(frame, ["period", "margin", "p_pregame", "final_margin"])
    fitted = {}
    for t in CHECKPOINTS:
        f = frame[frame["period"].to_numpy() == t]
        y = f["final_margin"].to_numpy(float)
        X = _design(f["margin"], f["p_pregame"])
        ok = np.isfinite(y) & np.isfinite(X).all(axis=1)
        if ok.sum() < MIN_TRAIN_ROWS:
            raise ValueError(f"halftime model: {int(ok.sum())} training rows at period {t} "
                             f"(need {MIN_TRAIN_ROWS})")
        coef, *_ = np.linalg.lstsq(X[ok], y[ok], rcond=None)
        resid = y[ok] - X[ok] @ coef
        sd = float(np.sqrt(resid @ resid / (ok.sum() - X.shape[1])))
        fitted[t] = Checkpoint(tuple(float(c) for c in coef), sd, int(ok.sum()))
    return HalftimeModel(fitted)


@dataclass(frozen=True)
class ScoreOnlyModel:
    """Baseline: P(home win) = logistic(alpha_t + beta_t * margin so far), no pregame input."""
    coef: dict[int, tuple[float, float]]

    def predict_proba(self, period, margin) -> np.ndarray:
        m = np.asarray(margin, float).ravel()
        t = _periods(period, len(m))
        a = np.array([self.coef[int(k)][0] for k in t], float)
        b = np.array([self.coef[int(k)][1] for k in t], float)
        return 1.0 / (1.0 + np.exp(-(a + b * m)))


def fit_score_only(frame: pd.DataFrame) -> ScoreOnlyModel:
    from sklearn.linear_model import LogisticRegression

    _require(frame, ["period", "margin", "label_home_win"])
    coef = {}
    for t in CHECKPOINTS:
        f = frame[frame["period"].to_numpy() == t]
        y = f["label_home_win"].to_numpy(float)
        if len(f) < MIN_TRAIN_ROWS or len(np.unique(y)) < 2:
            raise ValueError(f"score-only baseline: too few rows / one class at period {t}")
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(f[["margin"]].to_numpy(float), y)
        coef[t] = (float(lr.intercept_[0]), float(lr.coef_[0, 0]))
    return ScoreOnlyModel(coef)


__all__ = ["CHECKPOINTS", "FRAME_COLUMNS", "Checkpoint", "HalftimeModel", "ScoreOnlyModel",
           "checkpoint_frame", "fit_halftime_model", "fit_score_only", "pregame_expected_margin"]
