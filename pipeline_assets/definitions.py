"""The Tipoff code location: `dagster dev` loads `defs` from here (see [tool.dagster])."""
from __future__ import annotations

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

from pipeline_assets.backtest_assets import backtest_report
from pipeline_assets.feature_assets import feature_assets, feature_checks, gold_live_parity
from pipeline_assets.ingest import label_assets, snapshot_assets
from pipeline_assets.model_assets import (PredictionsLogResource, RegistryResource, model_assets,
                                          score_assets)
from pipeline_assets.monitoring import monitoring_assets
from resources import instance_tuning
from resources.dagster_resources import SourceResource, StorageResource, default_env
from resources.mlflow_resource import MlflowResource
from sensors import automation_jobs, automation_schedules, automation_sensors

default_env()
instance_tuning.install()

SNAPSHOTS = dg.AssetSelection.groups("snapshots")
LABELS = dg.AssetSelection.groups("labels")

ingest_job = dg.define_asset_job(
    "ingest_job", selection=SNAPSHOTS | LABELS, partitions_def=None,
    description="Snapshots and labels for a date range (single-run backfill).",
    executor_def=dg.in_process_executor)

history_job = dg.define_asset_job(
    "history_job", selection=(SNAPSHOTS | LABELS | dg.AssetSelection.groups("gold_features"))
    - dg.AssetSelection.checks(gold_live_parity),
    description="Snapshots, labels and gold features for a date range (single-run backfill).",
    executor_def=dg.in_process_executor)

live_job = dg.define_asset_job(
    "live_job", selection=SNAPSHOTS | dg.AssetSelection.groups("live_features", "scores"),
    description="Today's slate: snapshots as of run_as_of_ts, live features, scores.",
    executor_def=dg.in_process_executor, tags={"tipoff/source_api": "true"})

train_job = dg.define_asset_job(
    "train_job", selection=dg.AssetSelection.groups("models"),
    description="Train, register and gate both models (promotes only through the gate).",
    executor_def=dg.in_process_executor)

defs = dg.Definitions(
    assets=[*snapshot_assets, *label_assets, *feature_assets, *model_assets, *score_assets,
            *monitoring_assets, backtest_report],
    asset_checks=feature_checks,
    jobs=[ingest_job, history_job, train_job, live_job, *automation_jobs],
    schedules=automation_schedules,
    sensors=automation_sensors,
    resources={
        "source": SourceResource(name=dg.EnvVar("TIPOFF_SOURCE"),
                                 archive_dir=dg.EnvVar("TIPOFF_ARCHIVE_DIR"),
                                 seed=dg.EnvVar.int("TIPOFF_SEED"),
                                 shock=dg.EnvVar("TIPOFF_SHOCK")),
        "store": StorageResource(root=dg.EnvVar("TIPOFF_DATA_DIR")),
        "registry": RegistryResource(),
        "mlflow": MlflowResource(),
        "predictions_log": PredictionsLogResource(),
    },
)
