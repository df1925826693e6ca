"""Dagster run tags Tipoff reads and writes (one place, so assets, sensors and the CLI agree)."""
from __future__ import annotations

RUN_AS_OF_TAG = "tipoff/run_as_of_ts"        # ISO timestamp: the run's as-of (snapshots, features)
RETRAIN_TAG = "tipoff/retrain_reason"        # why a train_job run happened (see RETRAIN_REASONS)
TRIGGER_TAG = "tipoff/trigger"               # which schedule / sensor / command launched the run
SOURCE_API_TAG = "tipoff/source_api"         # "true" on runs that call a data source's API
DRIFT_DETAIL_TAG = "tipoff/drift_detail"     # the drift check that fired, with its numbers
DRIFT_EVALUATION_TAG = "tipoff/drift_evaluation"
DRIFT_PRODUCTION_VERSION_TAG = "tipoff/drift_production_version"
NEW_GAMES_TAG = "tipoff/new_games"           # how many new final games a labels run was asked for
PROMOTED_TAG = "tipoff/promoted"             # materialization tag of win_model: any version promoted
LAYER_TAG = "tipoff/layer"                   # asset tag: snapshot | label | feature | model | ...
DOMAIN_TAG = "tipoff/domain"                 # asset tag: schedule | odds | games | minutes | ...

# Values of RETRAIN_TAG (and of TrainConfig.reason).
RETRAIN_MANUAL = "manual"
RETRAIN_MONTHLY = "monthly"
RETRAIN_DRIFT = "drift"
RETRAIN_DEMO = "demo"
RETRAIN_INITIAL = "initial"             # the first models of a replay (sensors.replay)
RETRAIN_REASONS = (RETRAIN_MANUAL, RETRAIN_MONTHLY, RETRAIN_DRIFT, RETRAIN_DEMO, RETRAIN_INITIAL)
