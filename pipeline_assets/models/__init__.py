"""Model layer (plain Python, no Dagster): win probability and player-minutes quantile models.

``win``      -- ``train_win_model`` / ``baseline_logistic`` / ``time_folds`` -> ``WinModel``
``minutes``  -- ``train_minutes_model`` -> ``MinutesModel``; ``reconcile_team_minutes``

Persisting, versioning and promoting models is ``resources.registry``; experiment tracking is
``resources.mlflow_resource``.
"""
from __future__ import annotations

from pipeline_assets.models.minutes import MinutesModel, reconcile_team_minutes, train_minutes_model
from pipeline_assets.models.win import (Fold, WinModel, baseline_logistic, time_folds,
                                        train_win_model)

__all__ = ["Fold", "MinutesModel", "WinModel", "baseline_logistic", "reconcile_team_minutes",
           "time_folds", "train_minutes_model", "train_win_model"]
