"""Every Dagster resource of Tipoff: thin configurable wrappers around plain-Python classes.

| resource key      | class                   | wraps                                   | configured by |
|---|---|---|---|
| `source`          | SourceResource          | `resources.sources.make_source`         | TIPOFF_SOURCE, TIPOFF_ARCHIVE_DIR, TIPOFF_SEED, TIPOFF_SHOCK |
| `store`           | StorageResource         | the data root (`resources.storage`)     | TIPOFF_DATA_DIR |
| `registry`        | RegistryResource        | `resources.registry.ModelRegistry`      | root (default <data root>/models) |
| `mlflow`          | MlflowResource          | `resources.mlflow_tracking.MlflowTracking` | MLFLOW_TRACKING_URI |
| `predictions_log` | PredictionsLogResource  | `resources.predictions_log.PredictionsLog` | TIPOFF_PREDICTIONS_URL |
"""
from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from resources import storage
from resources.mlflow_tracking import MlflowTracking
from resources.predictions_log import PredictionsLog
from resources.registry import ModelRegistry
from resources.sources import Source, make_source


class SourceResource(dg.ConfigurableResource):
    """The data source every snapshot and label asset reads (`TIPOFF_SOURCE`)."""

    name: str = "simulated"
    archive_dir: str = ""
    seed: int = 7
    shock: str = ""  # simulated only: regime-shift JSON (`TIPOFF_SHOCK`), see SimulatedSource

    def get(self) -> Source:
        return make_source(self.name, self.archive_dir, self.seed, self.shock)


class StorageResource(dg.ConfigurableResource):
    """Root folder of parquet artifacts (`TIPOFF_DATA_DIR`, default `<repo>/data`)."""

    root: str = ""

    def path(self) -> Path:
        return Path(self.root).resolve() if self.root else storage.data_root()


class RegistryResource(dg.ConfigurableResource):
    """Model registry root (default `<data root>/models`)."""

    root: str = ""

    def get(self) -> ModelRegistry:
        return ModelRegistry(self.root or None)


class PredictionsLogResource(dg.ConfigurableResource):
    """Predictions log database (`TIPOFF_PREDICTIONS_URL`; SQLite under the data root by default)."""

    url: str = ""

    def get(self) -> PredictionsLog:
        return PredictionsLog(self.url or None)


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking (`tracking_uri`, else MLFLOW_TRACKING_URI, else the local default)."""

    tracking_uri: str = ""
    experiment: str = "tipoff"
    artifact_root: str = ""

    def get(self) -> MlflowTracking:
        return MlflowTracking(self.tracking_uri, self.experiment, self.artifact_root)


def default_env() -> None:
    """Make the documented defaults explicit so `dg.EnvVar` always resolves."""
    os.environ.setdefault("TIPOFF_SOURCE", "simulated")
    os.environ.setdefault("TIPOFF_ARCHIVE_DIR", "")
    os.environ.setdefault("TIPOFF_SEED", "7")
    os.environ.setdefault("TIPOFF_SHOCK", "")
    os.environ.setdefault("TIPOFF_DATA_DIR", str(storage.data_root()))


def resources() -> dict[str, dg.ConfigurableResource]:
    """The resources of the code location, bound to the environment."""
    default_env()
    return {
        "source": SourceResource(name=dg.EnvVar("TIPOFF_SOURCE"),
                                 archive_dir=dg.EnvVar("TIPOFF_ARCHIVE_DIR"),
                                 seed=dg.EnvVar.int("TIPOFF_SEED"), shock=dg.EnvVar("TIPOFF_SHOCK")),
        "store": StorageResource(root=dg.EnvVar("TIPOFF_DATA_DIR")),
        "registry": RegistryResource(),
        "mlflow": MlflowResource(),
        "predictions_log": PredictionsLogResource(),
    }

