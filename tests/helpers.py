"""Small shortcuts shared by tests (reading a partition of an asset by name)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from resources import storage
from tipoff_core import catalog


def read_table(asset: str, partition: str, run: str = "latest", root: Path | None = None) -> pd.DataFrame:
    return storage.read_partition(catalog.table(asset), partition, run, root)


def run_folder(asset: str, partition: str, run: str = "latest", root: Path | None = None) -> Path:
    return storage.run_folder(catalog.table(asset), partition, run, root)


def partition_dir(asset: str, partition: str, root: Path | None = None) -> Path:
    return storage.partition_dir(catalog.table(asset), partition, root)
