"""Home-win probability models, agnostic of the exact feature names.

``train_win_model`` tunes a small set of candidates -- a standardized logistic regression baseline,
LightGBM and XGBoost (shallow, regularized) -- by season-blocked, time-ordered cross-validation and
returns a calibrated, picklable :class:`WinModel` refit on all rows.

Cross-validation (``time_folds``): for each of the last ``k`` seasons (k = 3, or 2 with ``fast``;
fewer when the data has fewer earlier seasons) train on every row dated more than ``gap_days`` (7)
days before the validation season's first date and validate on that season -- at least a full week
with no data separates the two, so rolling/lagged features cannot leak across.  With a single season
the dates are cut into ``k + 1`` contiguous blocks and the last ``k`` are validated the same way.
Rows are never shuffled.

Selection: the candidate with the lowest mean per-fold out-of-fold (OOF) log loss wins.  Its
calibration (``none`` / ``sigmoid`` (Platt, on the logit) / ``isotonic``) is then chosen by
forward-chained OOF log loss -- the calibrator for fold i is fit on the OOF predictions of folds
< i and scored on fold i (with one fold: fit on its first half by date, score on the second half);
``none`` wins ties.  Finally the candidate is refit on all rows and the calibrator on all of its
OOF predictions.

Missing values: LightGBM/XGBoost route NaN natively; the logistic baseline imputes training medians.
"""
from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from tipoff_core.domain.metrics import log_loss as _log_loss
from tipoff_core.domain.metrics import probability_metrics

log = logging.getLogger(__name__)

GAP_DAYS = 7
PROB_CLIP = 1e-4  # final probabilities live in [PROB_CLIP, 1 - PROB_CLIP]
CALIBRATIONS = ("none", "sigmoid", "isotonic")


# ---------------------------------------------------------------- folds

@dataclass(frozen=True)
class Fold:
    """One time-ordered CV split; ``train_idx`` / ``valid_idx`` are positions into the inputs."""

    name: str
    train_idx: np.ndarray
    valid_idx: np.ndarray
    train_end: pd.Timestamp
    valid_start: pd.Timestamp
    valid_end: pd.Timestamp


def time_folds(dates, seasons=None, n_folds: int = 3, gap_days: int = GAP_DAYS,
               min_train_rows: int = 50, min_valid_rows: int = 20) -> list[Fold]:
    """Season-blocked, time-ordered folds (see module docstring); oldest validation block first.

    ``dates``: array-like of dates (any order); ``seasons``: same-length labels, or None (or a single
    distinct value) for date blocks.  Every fold satisfies ``valid dates - train dates > gap_days``.
    Folds whose training part has < ``min_train_rows`` rows (or validation < ``min_valid_rows``) are
    dropped, so fewer than ``n_folds`` -- possibly zero -- may come back.
    """
    d = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy(dtype="datetime64[ns]")
    ok = ~np.isnat(d)
    gap = np.timedelta64(int(gap_days), "D")
    n_folds = max(int(n_folds), 0)
    blocks: list[tuple[str, np.ndarray]] = []  # (name, valid mask), oldest first

    s = None
    if seasons is not None:
        s = pd.Series(np.asarray(seasons, dtype=object))
        s_ok = ok & s.notna().to_numpy()
        if s[s_ok].nunique() < 2:
            s = None
    if s is not None:
        first = pd.Series(d[s_ok]).groupby(s[s_ok].to_numpy()).min().sort_values(kind="stable")
        for label in first.index[1:][-n_folds:] if n_folds else []:
            blocks.append((f"season={label}", s_ok & (s == label).to_numpy()))
    elif ok.any() and n_folds:
        udates = np.unique(d[ok])
        chunks = [c for c in np.array_split(udates, n_folds + 1) if len(c)]
        for i, c in enumerate(chunks[1:], start=1):
            blocks.append((f"block={i}", ok & (d >= c[0]) & (d <= c[-1])))

    folds = []
    for name, vmask in blocks:
        start = d[vmask].min()
        tmask = ok & (d < start - gap)
        if tmask.sum() < min_train_rows or vmask.sum() < min_valid_rows:
            continue
        folds.append(Fold(name=name, train_idx=np.flatnonzero(tmask), valid_idx=np.flatnonzero(vmask),
                          train_end=pd.Timestamp(d[tmask].max()), valid_start=pd.Timestamp(start),
                          valid_end=pd.Timestamp(d[vmask].max())))
    return folds


# ---------------------------------------------------------------- candidates

@dataclass(frozen=True)
class Candidate:
    name: str
    kind: str  # logistic | lightgbm | xgboost
    params: dict

    def build(self, seed: int, n_jobs: int):
        p = dict(self.params)
        if self.kind == "logistic":
            from sklearn.impute import SimpleImputer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import Pipeline
            from sklearn.preprocessing import StandardScaler
            return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                             ("scale", StandardScaler()),
                             ("lr", LogisticRegression(C=p["C"], max_iter=2000))])
        if self.kind == "lightgbm":
            import lightgbm as lgb
            return lgb.LGBMClassifier(objective="binary", subsample=0.8, subsample_freq=1,
                                      colsample_bytree=0.8, n_jobs=n_jobs, random_state=seed,
                                      verbose=-1, **p)
        if self.kind == "xgboost":
            import xgboost as xgb
            return xgb.XGBClassifier(objective="binary:logistic", tree_method="hist", subsample=0.8,
                                     colsample_bytree=0.8, n_jobs=n_jobs, random_state=seed,
                                     eval_metric="logloss", verbosity=0, **p)
        raise ValueError(f"unknown candidate kind {self.kind!r}")


def default_candidates(fast: bool = False) -> list[Candidate]:
    """The hyperparameter grid: a handful of small, regularized settings per family."""
    lr = [0.01, 0.1] if fast else [0.003, 0.01, 0.1, 1.0]
    lgb = ([dict(n_estimators=150, learning_rate=0.05, num_leaves=7, min_child_samples=50,
                 reg_lambda=5.0)] if fast else
           [dict(n_estimators=300, learning_rate=0.03, num_leaves=7, min_child_samples=50, reg_lambda=5.0),
            dict(n_estimators=150, learning_rate=0.05, num_leaves=7, min_child_samples=100, reg_lambda=5.0),
            dict(n_estimators=300, learning_rate=0.02, num_leaves=15, min_child_samples=100, reg_lambda=10.0),
            dict(n_estimators=500, learning_rate=0.01, num_leaves=4, min_child_samples=50, reg_lambda=1.0)])
    xgb = ([dict(n_estimators=150, learning_rate=0.05, max_depth=2, min_child_weight=10,
                 reg_lambda=5.0)] if fast else
           [dict(n_estimators=300, learning_rate=0.03, max_depth=2, min_child_weight=10, reg_lambda=5.0),
            dict(n_estimators=200, learning_rate=0.03, max_depth=3, min_child_weight=20, reg_lambda=10.0),
            dict(n_estimators=150, learning_rate=0.05, max_depth=3, min_child_weight=10, reg_lambda=5.0),
            dict(n_estimators=300, learning_rate=0.015, max_depth=4, min_child_weight=30, reg_lambda=10.0)])
    out = [Candidate(f"logistic_C{c:g}", "logistic", {"C": c}) for c in lr]
    out += [Candidate(f"lightgbm_{i}", "lightgbm", p) for i, p in enumerate(lgb)]
    out += [Candidate(f"xgboost_{i}", "xgboost", p) for i, p in enumerate(xgb)]
    return out


# ---------------------------------------------------------------- calibration

# Isotonic calibration needs many out-of-fold rows; below this only Platt or none are considered.
MIN_ISOTONIC_ROWS = 1500


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class Calibrator:
    """Maps raw probabilities to calibrated ones: ``none`` | ``sigmoid`` (Platt) | ``isotonic``."""

    def __init__(self, method: str = "none"):
        if method not in CALIBRATIONS:
            raise ValueError(f"unknown calibration {method!r} ({' | '.join(CALIBRATIONS)})")
        self.method = method
        self._a, self._b, self._iso = 1.0, 0.0, None

    def fit(self, p, y) -> "Calibrator":
        p, y = np.asarray(p, float), np.asarray(y, float)
        if self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression
            lr = LogisticRegression(C=1e4, max_iter=1000).fit(_logit(p)[:, None], y)
            self._a, self._b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        elif self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression
            self._iso = IsotonicRegression(y_min=PROB_CLIP, y_max=1 - PROB_CLIP,
                                           out_of_bounds="clip").fit(p, y)
        return self

    def transform(self, p) -> np.ndarray:
        p = np.asarray(p, float)
        if self.method == "sigmoid":
            p = 1.0 / (1.0 + np.exp(-(self._a * _logit(p) + self._b)))
        elif self.method == "isotonic":
            p = self._iso.predict(p)
        return np.clip(p, PROB_CLIP, 1 - PROB_CLIP)

    def __repr__(self) -> str:
        return f"Calibrator({self.method!r})"


def choose_calibration(oof: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[str, pd.DataFrame]:
    """Pick a calibration by forward-chained OOF log loss; ``oof`` = [(p, y)] per fold, time order.

    Returns (method, report) with one report row per method and scored fold.
    """
    if len(oof) >= 2:
        plan = [(np.concatenate([p for p, _ in oof[:i]]), np.concatenate([y for _, y in oof[:i]]),
                 oof[i][0], oof[i][1], i) for i in range(1, len(oof))]
    elif len(oof) == 1 and len(oof[0][0]) >= 40:
        p, y = oof[0]
        h = len(p) // 2  # fold rows are in date order
        plan = [(p[:h], y[:h], p[h:], y[h:], 0)]
    else:
        return "none", pd.DataFrame(columns=["method", "scored_fold", "n_fit", "n_eval", "log_loss"])
    rows = []
    for method in CALIBRATIONS:
        for p_fit, y_fit, p_ev, y_ev, i in plan:
            if method != "none" and len(np.unique(y_fit)) < 2:
                ll = np.nan
            elif method == "isotonic" and len(p_fit) < MIN_ISOTONIC_ROWS:
                ll = np.nan  # a step function fit on a few hundred games overfits badly
            else:
                ll = _log_loss(y_ev, Calibrator(method).fit(p_fit, y_fit).transform(p_ev))
            rows.append({"method": method, "scored_fold": i, "n_fit": len(p_fit), "n_eval": len(p_ev),
                         "log_loss": ll})
    report = pd.DataFrame(rows)
    mean = report.groupby("method", sort=False)["log_loss"].mean()
    best = "none"
    for method in CALIBRATIONS[1:]:  # a calibrator must beat "none" (and its rival) strictly
        if np.isfinite(mean[method]) and mean[method] < mean[best] - 1e-6:
            best = method
    report["chosen"] = report["method"] == best
    return best, report


# ---------------------------------------------------------------- the model object

def _matrix(df: pd.DataFrame, feature_cols: Sequence[str]) -> np.ndarray:
    missing = [c for c in feature_cols if c not in df.columns]
    if missing:
        raise KeyError(f"feature columns missing from the frame: {missing[:10]}"
                       f"{' ...' if len(missing) > 10 else ''} ({len(missing)} of {len(feature_cols)})")
    try:
        X = df[list(feature_cols)].to_numpy(dtype=float, na_value=np.nan, copy=True)
    except (TypeError, ValueError) as exc:
        bad = [c for c in feature_cols if not (pd.api.types.is_numeric_dtype(df[c])
                                               or pd.api.types.is_bool_dtype(df[c]))]
        raise TypeError(f"feature columns must be numeric; non-numeric: {bad[:10]}") from exc
    X[~np.isfinite(X)] = np.nan
    return X


@dataclass
class WinModel:
    """A fitted home-win probability model (estimator + calibrator), picklable.

    ``params``: the chosen candidate's hyperparameters plus ``candidate``/``calibration``.
    ``cv_report``: one row per candidate per fold (log_loss, brier, accuracy, n_train, n_valid, ...;
    ``selected`` marks the winner).  ``calibration_report``: forward-chained OOF log loss per
    calibration method (``chosen`` marks the pick).  ``metrics``: the winner's mean CV metrics and
    training window, ready for registry metadata / MLflow.
    """

    estimator: Any
    calibrator: Calibrator
    feature_cols: list[str]
    kind: str
    params: dict
    cv_report: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration_report: pd.DataFrame = field(default_factory=pd.DataFrame)
    metrics: dict = field(default_factory=dict)

    @property
    def calibration(self) -> str:
        return self.calibrator.method

    def predict_raw(self, df: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(_matrix(df, self.feature_cols))[:, 1]

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Calibrated home-win probability per row of ``df`` (1-D array)."""
        if len(df) == 0:
            return np.empty(0)
        return self.calibrator.transform(self.predict_raw(df))

    def __repr__(self) -> str:
        return (f"WinModel(kind={self.kind!r}, calibration={self.calibration!r}, "
                f"n_features={len(self.feature_cols)}, params={self.params})")


# ---------------------------------------------------------------- training

@dataclass
class _Data:
    X: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    seasons: np.ndarray | None


def _prepare(df: pd.DataFrame, feature_cols, label_col, date_col, season_col) -> _Data:
    feature_cols = list(feature_cols)
    if not feature_cols:
        raise ValueError("feature_cols is empty")
    for c in (label_col, date_col):
        if c not in df.columns:
            raise KeyError(f"column {c!r} not in the training frame")
    y = pd.to_numeric(df[label_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan, copy=True)
    dates = pd.to_datetime(df[date_col]).to_numpy(dtype="datetime64[ns]")
    keep = ~np.isnan(y) & ~np.isnat(dates)
    order = np.argsort(dates[keep], kind="stable")
    sub = df.loc[keep].iloc[order]
    y = y[keep][order]
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"{label_col} must be 0/1")
    if len(np.unique(y)) < 2:
        raise ValueError(f"{label_col} has a single class over {len(y)} labelled rows; cannot train")
    seasons = (sub[season_col].to_numpy(dtype=object) if season_col and season_col in sub.columns
               else None)
    return _Data(_matrix(sub, feature_cols), y.astype(int), dates[keep][order], seasons)


def _cv_metrics(y, p) -> dict:
    m = probability_metrics(y, p)
    return {k: m[k] for k in ("log_loss", "brier", "accuracy")}


def _fit_predict(cand: Candidate, X_tr, y_tr, X_va, seed, n_jobs) -> np.ndarray:
    est = cand.build(seed, n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X_tr, y_tr)
        return est.predict_proba(X_va)[:, 1]


def train_win_model(df: pd.DataFrame, feature_cols: Sequence[str], label_col: str = "label_home_win",
                    date_col: str = "game_date", season_col: str | None = "season", seed: int = 0,
                    fast: bool = False, *, n_folds: int | None = None, gap_days: int = GAP_DAYS,
                    n_jobs: int = 2, candidates: Sequence[Candidate] | None = None,
                    progress: Callable[[str], None] | None = None) -> WinModel:
    """Tune, calibrate and refit a home-win model on ``df`` (see module docstring).

    Rows with a missing label or date are ignored.  ``fast`` shrinks the grid to one setting per
    family and uses 2 folds.  When no fold can be built (too little history) the logistic baseline is
    fit without tuning and ``cv_report`` is empty.
    """
    data = _prepare(df, feature_cols, label_col, date_col, season_col)
    cands = list(candidates) if candidates is not None else default_candidates(fast)
    folds = time_folds(data.dates, data.seasons, n_folds=n_folds or (2 if fast else 3), gap_days=gap_days)
    folds = [f for f in folds if len(np.unique(data.y[f.train_idx])) == 2]
    say = progress or log.info

    rows, oof = [], {}
    for cand in cands:
        oof[cand.name] = []
        for k, f in enumerate(folds):
            p = _fit_predict(cand, data.X[f.train_idx], data.y[f.train_idx], data.X[f.valid_idx],
                             seed, n_jobs)
            y_va = data.y[f.valid_idx]
            oof[cand.name].append((p, y_va))
            rows.append({"candidate": cand.name, "kind": cand.kind,
                         "params": json.dumps(cand.params, sort_keys=True), "fold": k,
                         "fold_name": f.name, "train_end": f.train_end, "valid_start": f.valid_start,
                         "valid_end": f.valid_end, "n_train": len(f.train_idx),
                         "n_valid": len(f.valid_idx), **_cv_metrics(y_va, p)})
        if folds:
            say(f"win cv {cand.name}: mean log loss "
                f"{np.mean([r['log_loss'] for r in rows if r['candidate'] == cand.name]):.4f}")
    cv_report = pd.DataFrame(rows)

    if folds:
        mean_ll = cv_report.groupby("candidate", sort=False)["log_loss"].mean()
        best = next(c for c in cands if c.name == mean_ll.idxmin())
        cv_report["selected"] = cv_report["candidate"] == best.name
        method, cal_report = choose_calibration(oof[best.name])
    else:
        warnings.warn("train_win_model: not enough history for time-ordered CV; fitting the logistic "
                      "baseline untuned and uncalibrated", RuntimeWarning, stacklevel=2)
        best = next((c for c in cands if c.kind == "logistic"), Candidate("logistic_C0.1", "logistic",
                                                                          {"C": 0.1}))
        method, cal_report = "none", pd.DataFrame()

    est = best.build(seed, n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(data.X, data.y)
    cal = Calibrator(method)
    if method != "none":
        cal.fit(np.concatenate([p for p, _ in oof[best.name]]),
                np.concatenate([y for _, y in oof[best.name]]))

    metrics = {"n_rows": int(len(data.y)), "n_features": len(feature_cols), "n_folds": len(folds),
               "train_start": str(pd.Timestamp(data.dates[0]).date()),
               "train_end": str(pd.Timestamp(data.dates[-1]).date()),
               "base_rate": float(data.y.mean())}
    if folds:
        sel = cv_report[cv_report["selected"]]
        metrics.update({f"cv_{m}": float(sel[m].mean()) for m in ("log_loss", "brier", "accuracy")})
        chosen = cal_report[cal_report["chosen"]] if len(cal_report) else cal_report
        if len(chosen):
            metrics["cv_calibrated_log_loss"] = float(chosen["log_loss"].mean())
    params = {"candidate": best.name, "kind": best.kind, "calibration": method, "seed": seed,
              "fast": fast, **best.params}
    say(f"win model: {best.name} calibration={method} "
        f"cv_log_loss={metrics.get('cv_log_loss', float('nan')):.4f}")
    return WinModel(estimator=est, calibrator=cal, feature_cols=list(feature_cols), kind=best.kind,
                    params=params, cv_report=cv_report, calibration_report=cal_report, metrics=metrics)


def baseline_logistic(df: pd.DataFrame, feature_cols: Sequence[str], label_col: str = "label_home_win",
                      date_col: str = "game_date", season_col: str | None = "season", C: float = 1.0,
                      seed: int = 0) -> WinModel:
    """The standardized, median-imputed logistic regression alone, fit on all rows, uncalibrated.

    Reported beside the selected model for every game as a sanity baseline.
    """
    data = _prepare(df, feature_cols, label_col, date_col, season_col)
    cand = Candidate(f"logistic_C{C:g}", "logistic", {"C": C})
    est = cand.build(seed, 1)
    est.fit(data.X, data.y)
    metrics = {"n_rows": int(len(data.y)), "n_features": len(feature_cols),
               "train_start": str(pd.Timestamp(data.dates[0]).date()),
               "train_end": str(pd.Timestamp(data.dates[-1]).date())}
    return WinModel(estimator=est, calibrator=Calibrator("none"), feature_cols=list(feature_cols),
                    kind="logistic", params={"candidate": cand.name, "kind": "logistic",
                                             "calibration": "none", "C": C},
                    metrics=metrics)
