"""Jobs the sensors and schedules launch (besides live_job / train_job in definitions.py)."""
from __future__ import annotations

import dagster as dg

from pipeline_assets.feature_assets import gold_live_parity
from pipeline_assets.partitions import DAILY

LABELS = dg.AssetSelection.groups("labels")
GOLD = dg.AssetSelection.groups("gold_features") - dg.AssetSelection.checks(gold_live_parity)
PERFORMANCE = dg.AssetSelection.assets("model_performance")

labels_job = dg.define_asset_job(
    "labels_job", selection=LABELS | GOLD, partitions_def=DAILY,
    description="Results and box scores of one date, then its gold features (new_games_sensor).",
    executor_def=dg.in_process_executor, tags={"tipoff/source_api": "true"})

overnight_job = dg.define_asset_job(
    "overnight_job", selection=LABELS | GOLD | PERFORMANCE, partitions_def=DAILY,
    description="Yesterday's labels and gold features, then next-day validation (model_performance).",
    executor_def=dg.in_process_executor, tags={"tipoff/source_api": "true"})

performance_job = dg.define_asset_job(
    "performance_job", selection=PERFORMANCE, partitions_def=DAILY,
    description="Re-evaluate model_performance for a date (weekly drift evaluation).",
    executor_def=dg.in_process_executor)

automation_jobs = [labels_job, overnight_job, performance_job]
