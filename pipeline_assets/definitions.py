"""The Tipoff code location: `dagster dev` loads `defs` from here (see [tool.dagster])."""
from __future__ import annotations

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

from pipeline_assets.ingest import label_assets, snapshot_assets
from resources import instance_tuning
from resources.dagster_resources import SourceResource, StorageResource, default_env

default_env()
instance_tuning.install()

SNAPSHOTS = dg.AssetSelection.groups("snapshots")
LABELS = dg.AssetSelection.groups("labels")

ingest_job = dg.define_asset_job(
    "ingest_job", selection=SNAPSHOTS | LABELS, partitions_def=None,
    description="Snapshots and labels for a date range (single-run backfill).",
    executor_def=dg.in_process_executor)

defs = dg.Definitions(
    assets=[*snapshot_assets, *label_assets],
    jobs=[ingest_job],
    resources={
        "source": SourceResource(name=dg.EnvVar("TIPOFF_SOURCE"),
                                 archive_dir=dg.EnvVar("TIPOFF_ARCHIVE_DIR"),
                                 seed=dg.EnvVar.int("TIPOFF_SEED")),
        "store": StorageResource(root=dg.EnvVar("TIPOFF_DATA_DIR")),
    },
)
