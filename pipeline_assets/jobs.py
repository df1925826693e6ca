"""Every job of the code location (the CLI, schedules and sensors launch them by name)."""
from __future__ import annotations

import dagster as dg

from pipeline_assets.executors import tipoff_executor
from pipeline_assets.feature_assets import gold_live_parity
from tipoff_core.tags import SOURCE_API_TAG

SNAPSHOTS = dg.AssetSelection.groups("snapshots")
LABELS = dg.AssetSelection.groups("labels")
GOLD = dg.AssetSelection.groups("gold_features") - dg.AssetSelection.checks(gold_live_parity)
PERFORMANCE = dg.AssetSelection.assets("model_performance")
RATINGS = dg.AssetSelection.assets("game_ratings")
CALLS_SOURCE = {SOURCE_API_TAG: "true"}  # the production run queue limits these to one at a time
# Every job runs in process unless its run config (or TIPOFF_EXECUTOR) picks Celery workers.

ingest_job = dg.define_asset_job(
    "ingest_job", selection=SNAPSHOTS | LABELS,
    description="Snapshots and labels for a date range (single-run backfill).",
    executor_def=tipoff_executor)

history_job = dg.define_asset_job(
    "history_job", selection=SNAPSHOTS | LABELS | GOLD,
    description="Snapshots, labels and gold features for a date range (single-run backfill).",
    executor_def=tipoff_executor)

live_job = dg.define_asset_job(
    "live_job", selection=SNAPSHOTS | dg.AssetSelection.groups("live_features", "scores"),
    description="Today's slate: snapshots as of run_as_of_ts, live features, scores.",
    executor_def=tipoff_executor, tags=CALLS_SOURCE)

train_job = dg.define_asset_job(
    "train_job", selection=dg.AssetSelection.groups("models"),
    description="Train, register and gate both models (promotes only through the gate).",
    executor_def=tipoff_executor)

labels_job = dg.define_asset_job(
    "labels_job", selection=LABELS | GOLD | RATINGS,
    description="Results and box scores of one date, then its gold features and game ratings "
                "(new_games_sensor).",
    executor_def=tipoff_executor, tags=CALLS_SOURCE)

overnight_job = dg.define_asset_job(
    "overnight_job", selection=LABELS | GOLD | PERFORMANCE | RATINGS,
    description="Yesterday's labels and gold features, then next-day validation (model_performance) "
                "and game ratings.",
    executor_def=tipoff_executor, tags=CALLS_SOURCE)

performance_job = dg.define_asset_job(
    "performance_job", selection=PERFORMANCE,
    description="Re-evaluate model_performance for a date (weekly drift evaluation).",
    executor_def=tipoff_executor)

halftime_job = dg.define_asset_job(
    "halftime_job", selection=dg.AssetSelection.assets("halftime_scores"),
    description="In-game scores of a date as of run_as_of_ts (halftime_sensor).",
    executor_def=tipoff_executor, tags=CALLS_SOURCE)

odds_job = dg.define_asset_job(
    "odds_job", selection=dg.AssetSelection.assets("odds_snapshot"),
    description="One odds snapshot of a date as of run_as_of_ts (odds_cadence_sensor: every 15 "
                "minutes on game days, from the books' opening to the last tip).",
    executor_def=tipoff_executor, tags=CALLS_SOURCE)

all_jobs = [ingest_job, history_job, live_job, train_job, labels_job, overnight_job,
            performance_job, halftime_job, odds_job]
