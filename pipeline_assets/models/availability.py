"""P(plays) per candidate player-game: a small LightGBM classifier on the as-of features of
``features.availability`` (label: the player appeared in the game, i.e. has a box row).

Two fitted classifiers:

* ``regular``  every feature in ``FEATURES``;
* ``playoff``  without short-term recency (``PLAYOFF_DROP``: games missed, days since, played in
  the last 3/5/10, minutes in the last team games, ramp, games left, b2b x minutes), used for
  post-season targets: stars resting the last regular-season games says little about the
  playoffs, and archives without playoff box scores (ours) would otherwise freeze that rest into
  every playoff game.

Training rows: candidate rows of team-games that have box rows (``box_known``); a candidate of a
team-game without any box row has no label.  Fit once per season on earlier seasons (refits in
season did not help on 2016-17..2018-19: Brier 0.0776 monthly vs 0.0774 once).  Calibration:
LightGBM's log-loss fit is used as is (reliability on the dev and evaluation seasons within 0.025
per decile; the 0.1-0.3 deciles over-predict by ~0.02), no extra calibrator.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline_assets.features.availability import AVAIL_FEATURES

# inj_q / inj_prob / on_roster exist only with a live injury report / roster (constant in the
# archive); playoff is used to route rows, not as a feature.
FEATURES = [f for f in AVAIL_FEATURES if f not in ("inj_q", "inj_prob", "on_roster", "playoff")]
PLAYOFF_DROP = ("missed", "days_since", "played_l3", "played_l5", "played_l10", "min_team_l5",
                "min_last", "ramp", "games_left", "b2b_x_min")
PLAYOFF_FEATURES = [f for f in FEATURES if f not in PLAYOFF_DROP]
PARAMS = dict(n_estimators=150, learning_rate=0.1, num_leaves=15, min_child_samples=200,
              subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0)


@dataclass
class AvailabilityModel:
    models: dict                       # "regular" / "playoff" -> fitted LGBMClassifier
    features: dict                     # same keys -> feature list
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """P(plays) per row (1-D array aligned with ``rows``)."""
        p = np.full(len(rows), np.nan)
        if len(rows) == 0:
            return p
        po = (rows["playoff"].to_numpy(float) > 0) if "playoff" in rows.columns else \
            np.zeros(len(rows), bool)
        for key, mask in (("regular", ~po), ("playoff", po)):
            if mask.any():
                X = rows.loc[mask, self.features[key]].to_numpy(float)
                p[mask] = self.models[key].predict_proba(X)[:, 1]
        return p


def fit_availability(rows: pd.DataFrame, label: str = "played", *, seed: int = 0,
                     n_jobs: int = 2, params: dict | None = None,
                     known_col: str | None = "box_known") -> AvailabilityModel:
    """Fit both classifiers on ``rows`` (candidate rows with ``label`` 0/1; rows whose
    ``known_col`` is 0 -- team-games without box rows -- are ignored)."""
    import lightgbm as lgb
    keep = np.isfinite(rows[label].to_numpy(float))
    if known_col and known_col in rows.columns:
        keep &= rows[known_col].to_numpy(float) > 0
    tr = rows[keep]
    y = tr[label].to_numpy(int)
    if len(np.unique(y)) < 2:
        raise ValueError(f"fit_availability: need both labels, got {len(tr)} rows")
    p = {**PARAMS, **(params or {})}
    models, feats = {}, {"regular": list(FEATURES), "playoff": list(PLAYOFF_FEATURES)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, cols in feats.items():
            models[key] = lgb.LGBMClassifier(objective="binary", random_state=seed, n_jobs=n_jobs,
                                             verbose=-1, **p).fit(tr[cols].to_numpy(float), y)
    return AvailabilityModel(models, feats, p, {"n_rows": int(len(tr)),
                                                "base_rate": float(y.mean())})


def recent_appearance_rule(train: pd.DataFrame, rows: pd.DataFrame, label: str = "played",
                           cap: int = 5) -> np.ndarray:
    """The baseline: P(plays) = training rate of playing given consecutive team games missed
    (0, 1, ..., cap+)."""
    rate = train.groupby(train["missed"].clip(upper=cap))[label].mean()
    return rows["missed"].clip(upper=cap).map(rate).to_numpy(float)


def reliability_table(y, p, bins: int = 10) -> pd.DataFrame:
    y, p = np.asarray(y, float), np.asarray(p, float)
    b = np.minimum((p * bins).astype(int), bins - 1)
    df = pd.DataFrame({"bin": b, "p": p, "y": y}).groupby("bin").agg(
        n=("y", "size"), mean_p=("p", "mean"), observed=("y", "mean"))
    return df.reset_index()
