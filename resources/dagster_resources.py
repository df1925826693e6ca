"""Dagster resources: thin configurable wrappers around the plain-Python sources and stores."""
from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from resources import storage
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


def default_env() -> None:
    """Make the documented defaults explicit so `dg.EnvVar` always resolves."""
    os.environ.setdefault("TIPOFF_SOURCE", "simulated")
    os.environ.setdefault("TIPOFF_ARCHIVE_DIR", "")
    os.environ.setdefault("TIPOFF_SEED", "7")
    os.environ.setdefault("TIPOFF_SHOCK", "")
    os.environ.setdefault("TIPOFF_DATA_DIR", str(storage.data_root()))
