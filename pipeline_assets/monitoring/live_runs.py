"""Run registry of live runs: one JSON line per live run (Dagster `live_job` runs via
`sensors.live_runs`, `tipoff run` via the step runner): date, run_as_of_ts, status, snapshot
ages, warnings, model version, error."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd


def live_runs_path(root: Path) -> Path:
    return root / "ops" / "live_runs.jsonl"


def append_live_run(entry: dict, root: Path) -> Path:
    """Append one entry (a single write of one line, flushed and fsynced)."""

    path = live_runs_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def read_live_runs(root: Path, date: str | None = None) -> pd.DataFrame:
    """Every recorded live run (the last entry per run_id), oldest first."""
    path = live_runs_path(root)
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a torn last line after a crash
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.drop_duplicates("run_id", keep="last") if "run_id" in df else df
    if date is not None and "date" in df:
        df = df[df["date"] == date]
    return df.reset_index(drop=True)
