"""The feature layer: one code path for gold (historical) and live features.

The caller passes the target games with a per-game ``cutoff_ts`` -- gold: ``tip_ts``; live:
``min(run_as_of_ts, tip_ts)`` -- and whole input tables (which may contain rows from after any
cutoff).  Every input row a feature can see has ``snapshot_ts <= cutoff_ts``, and label-derived
features use only games with ``final_ts <= cutoff_ts``.  No Dagster here.
"""
from pipeline_assets.features.game import build_game_features
from pipeline_assets.features.minutes import build_minutes_features
from pipeline_assets.features.schema import (
    FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION, ID_COLUMNS, LABEL_COLUMNS, MARKET_COLUMNS,
    FeatureSchemaError, columns, diff_features, dtypes, empty_features, validate_features,
)

__all__ = [
    "FEATURE_COLUMNS", "FEATURE_SCHEMA_VERSION", "ID_COLUMNS", "LABEL_COLUMNS", "MARKET_COLUMNS",
    "FeatureSchemaError", "build_game_features", "build_minutes_features", "columns",
    "diff_features", "dtypes", "empty_features", "validate_features",
]
