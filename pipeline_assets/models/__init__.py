"""Model layer (plain Python, no Dagster): win probability and player-minutes quantile models.

``win``      -- ``train_win_model`` / ``baseline_logistic`` / ``time_folds`` -> ``WinModel``
``minutes``  -- ``train_minutes_model`` -> ``MinutesModel``; ``reconcile_team_minutes``

Persisting, versioning and promoting models is ``resources.registry``; experiment tracking is
``resources.mlflow_resource``.
"""
from __future__ import annotations

import os

# LightGBM / XGBoost run on OpenMP (libgomp).  With the default *active* wait policy its idle threads
# spin, and on a busy 2-core host (other Dagster steps, tests) a 2-thread fit was measured 10-20x
# slower than 1 thread (e.g. 34 s vs 1.8 s).  PASSIVE makes n_jobs=2 never worse than 1.  Takes effect
# only if set before libgomp is first loaded (i.e. before lightgbm/xgboost/sklearn are imported);
# an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pipeline_assets.models.minutes import MinutesModel, reconcile_team_minutes, train_minutes_model
from pipeline_assets.models.win import (Fold, WinModel, baseline_logistic, time_folds,
                                        train_win_model)

__all__ = ["Fold", "MinutesModel", "WinModel", "baseline_logistic", "reconcile_team_minutes",
           "time_folds", "train_minutes_model", "train_win_model"]
