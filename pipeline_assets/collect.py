"""Collection: ask the source for a table kind of a date as of a run's as-of, and store it.

Plain functions (no Dagster) shared by the snapshot and label assets (`ingest`) and the step
runner (`tipoff run`): the same fetch, the same quarantine of a bad payload, the same run folder
(`raw.json`, `table.parquet`, `meta.json`) and the same label table.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd

from resources import storage
from resources.sources.base import Extract, SourceError
from tipoff_core import catalog
from tipoff_core.schemas import TABLES, arrow_schema, restore_dtypes
from tipoff_core.timeutil import to_date, ts_token


class CollectError(RuntimeError):
    """A source could not answer; names source, endpoint and field, and where the raw payload
    was kept for audit."""

    def __init__(self, error: SourceError, kept: Path | None):
        self.error, self.kept = error, kept
        super().__init__(f"{error}" + (f" (raw payload kept at {kept})" if kept and error.raw
                                       else f" (recorded at {kept})" if kept else ""))


def quarantine(error: SourceError, kind: str, day: str, as_of: pd.Timestamp,
               root: Path) -> Path:
    """Keep every failure for audit: one record per attempt,
    `quarantine/<kind>/<date>/<as-of>-<source>-<unique>.json` (error, endpoint, field), pointing
    at the complete offending payload stored once by content, `quarantine/payloads/<sha256>.raw`
    (none when the source had no payload: a timeout, a report not found).  Returns the record's
    path; live features read the records of their as-of to say why a feed is missing."""
    payload = digest = None
    if error.raw:
        digest = storage.sha256(error.raw)
        payload = root / "quarantine" / "payloads" / f"{digest}.raw"
        if not payload.exists():
            storage.atomic_write_bytes(payload, error.raw)
    record = root / "quarantine" / kind / day / \
        f"{ts_token(as_of)}-{error.source}-{uuid.uuid4().hex[:12]}.json"
    storage.write_json(record, {"error": str(error), "endpoint": error.endpoint,
                                "field": error.field, "source": error.source, "date": day,
                                "run_as_of_ts": as_of.isoformat(),
                                "payload": str(payload) if payload else None,
                                "payload_sha256": digest,
                                "payload_bytes": len(error.raw) if error.raw else 0})
    return record


def fetch(source, kind: str, day: str, as_of: pd.Timestamp, root: Path) -> Extract:
    """`source.fetch` for one date; a SourceError is quarantined and raised as CollectError."""
    try:
        return source.fetch(kind, to_date(day), as_of)
    except SourceError as exc:
        raise CollectError(exc, quarantine(exc, kind, day, as_of, root)) from exc


def schedule_tips(source, day: str, now: pd.Timestamp, root: Path) -> pd.Series:
    """Tip times of a date as the source knows them now (for the default as-of of past dates)."""
    return fetch(source, "schedule", day, now, root).table["tip_ts"]


def snapshot_files(extract: Extract, day: str, as_of: pd.Timestamp) -> dict[str, bytes]:
    meta = {"kind": extract.kind, "source": extract.source, "endpoint": extract.endpoint,
            "date": day, "run_as_of_ts": as_of.isoformat(), "rows": len(extract.table),
            "notes": extract.notes}
    return {"raw.json": extract.raw,
            "table.parquet": storage.parquet_bytes(extract.table, arrow_schema(extract.kind)),
            "meta.json": json.dumps(meta, sort_keys=True, default=str).encode()}


def write_snapshot(extract: Extract, day: str, as_of: pd.Timestamp,
                   root: Path) -> storage.RunFolder:
    """The snapshot run folder `live/snapshots/<kind>/<day>/run=<as-of>/` (idempotent).

    A run stored under an older contract (without columns added since) counts as the same run
    when every column it has is identical: it is kept as it is (readers see the new columns as
    NA), not refused."""
    base = storage.partition_dir(catalog.snapshot(extract.kind), day, root)
    token = ts_token(as_of)
    try:
        return storage.write_run_folder(base, token, snapshot_files(extract, day, as_of))
    except storage.RunExistsError:
        folder = base / f"run={token}"
        if _same_rows_older_contract(folder / catalog.snapshot(extract.kind).file, extract):
            return storage.RunFolder(folder, created=False)
        raise


def _same_rows_older_contract(path: Path, extract: Extract) -> bool:
    stored = storage.read_parquet(path)
    schema = list(TABLES[extract.kind][0])
    old = [c for c in schema if c in stored.columns]
    if len(old) == len(schema) or set(stored.columns) - set(schema):
        return False  # same contract (so really different content), or not an older one
    stored = restore_dtypes(stored, extract.kind)[old].reset_index(drop=True)
    return stored.equals(extract.table[old].reset_index(drop=True))


def write_labels(extract: Extract, day: str, as_of: pd.Timestamp, root: Path, *,
                 force: bool = False) -> storage.LabelWrite:
    """Merge the finals into the date's label table (append-only; a shrink needs `force`)."""
    return storage.write_label_table(catalog.label(extract.kind), day, extract.table, extract.raw,
                                     as_of, root, force=force)
