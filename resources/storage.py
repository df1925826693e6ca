"""Local artifact store: run-addressed snapshot folders, per-date label tables, season tables.

Layout under the data root (``TIPOFF_DATA_DIR``, default ``<repo>/data``)::

    live/snapshots/<kind>/<date>/run=<ts>/{raw.json,table.parquet,meta.json}
    live/snapshots/<kind>/<date>/LATEST          <- run token an operator may pin (PINNED wins)
    labels/<kind>/<date>/{raw.json,table.parquet}
    gold/<name>/season=<season>.parquet           <- one file per season, rows replaced by date
    live/features_<name>/<date>/run=<ts>/...      (live features)
    artifacts/<name>/<date>/run=<ts>/...          (scores)

Every write goes to a temporary sibling and is renamed into place, so a reader never sees a
half-written file or folder and a failed run leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    return Path(os.environ.get("TIPOFF_DATA_DIR") or REPO_ROOT / "data").resolve()


# ---------------------------------------------------------------- atomic primitives

def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parquet_bytes(df: pd.DataFrame, schema: pa.Schema | None = None) -> bytes:
    """Deterministic parquet bytes (no wall-clock metadata), so rewrites are byte-identical."""
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=True)
    return buf.getvalue()


def read_parquet(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def read_many(files: list[Path], kind: str) -> pd.DataFrame:
    """Read many small parquet files of one table kind at once (threaded Arrow dataset scan)."""
    from pipeline_assets.schemas import arrow_schema, empty_frame, restore_dtypes
    if not files:
        return empty_frame(kind)
    table = ds.dataset([str(f) for f in files], format="parquet", schema=arrow_schema(kind)).to_table()
    return restore_dtypes(table.to_pandas(), kind)


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class RunExistsError(RuntimeError):
    pass


@dataclass(frozen=True)
class RunFolder:
    path: Path
    created: bool  # False when an identical run already existed (idempotent re-run)


def write_run_folder(base: Path, run_token: str, files: dict[str, bytes]) -> RunFolder:
    """Write ``files`` into ``base/run=<token>/`` atomically and point ``base/LATEST`` at it.

    Re-writing identical content is a no-op; different content for an existing run is refused
    (runs are addressable and never silently overwritten).
    """
    final = base / f"run={run_token}"
    if final.exists():
        existing = {p.name: p.read_bytes() for p in final.iterdir() if p.is_file()}
        if all(existing.get(k) == v for k, v in files.items()):
            _point_latest(base, run_token)
            return RunFolder(final, created=False)
        raise RunExistsError(
            f"{final} already exists with different content; runs are never overwritten — "
            "use a new run_as_of_ts")
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".run={run_token}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        for name, payload in files.items():
            (tmp / name).write_bytes(payload)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_latest(base, run_token)
    return RunFolder(final, created=True)


def _point_latest(base: Path, run_token: str) -> None:
    """LATEST follows the newest run by as-of time; an operator's PINNED file overrides it."""
    current = (base / "LATEST").read_text().strip() if (base / "LATEST").exists() else ""
    if run_token >= current:
        atomic_write_bytes(base / "LATEST", run_token.encode())


def resolve_run(base: Path, run: str = "latest") -> Path:
    """Folder of a run: 'latest' (PINNED if an operator pinned one, else LATEST) or a token."""
    if run == "latest":
        for pointer in ("PINNED", "LATEST"):
            if (base / pointer).exists():
                run = (base / pointer).read_text().strip()
                break
        else:
            raise FileNotFoundError(f"no runs under {base}")
    folder = base / f"run={run}"
    if not folder.is_dir():
        raise FileNotFoundError(f"run {run!r} not found under {base}")
    return folder


def list_runs(base: Path) -> list[str]:
    if not base.is_dir():
        return []
    return sorted(p.name[4:] for p in base.iterdir() if p.is_dir() and p.name.startswith("run="))


def pin_run(base: Path, run: str | None) -> None:
    """Pin ``latest`` to a run token (None unpins)."""
    if run is None:
        (base / "PINNED").unlink(missing_ok=True)
        return
    resolve_run(base, run)
    atomic_write_bytes(base / "PINNED", run.encode())


# ---------------------------------------------------------------- layout

def snapshot_dir(kind: str, date: str, root: Path | None = None) -> Path:
    return (root or data_root()) / "live" / "snapshots" / kind / date


def label_dir(kind: str, date: str, root: Path | None = None) -> Path:
    return (root or data_root()) / "labels" / kind / date


def gold_path(name: str, season: str, root: Path | None = None) -> Path:
    return (root or data_root()) / "gold" / name / f"season={season}.parquet"


def run_artifact_dir(group: str, name: str, date: str, root: Path | None = None) -> Path:
    """``live/features_<name>/<date>`` or ``artifacts/<name>/<date>``."""
    r = root or data_root()
    return r / "live" / f"features_{name}" / date if group == "features" else r / "artifacts" / name / date


def write_label_table(kind: str, date: str, table: pd.DataFrame, raw: bytes,
                      root: Path | None = None) -> tuple[Path, bool]:
    """Per-date label table; returns (path, changed)."""
    from pipeline_assets.schemas import arrow_schema
    folder = label_dir(kind, date, root)
    payload = parquet_bytes(table, arrow_schema(kind))
    target = folder / "table.parquet"
    changed = not (target.exists() and target.read_bytes() == payload)
    if changed:
        atomic_write_bytes(folder / "raw.json", raw)
        atomic_write_bytes(target, payload)
    return target, changed


def read_label_range(kind: str, dates: list[str] | None = None, root: Path | None = None) -> pd.DataFrame:
    """Label rows of the given dates (all stored dates when None)."""
    folder = (root or data_root()) / "labels" / kind
    if dates is None:
        files = sorted(folder.glob("*/table.parquet"))
    else:
        files = [p for d in dates if (p := folder / d / "table.parquet").exists()]
    return read_many(files, kind)


def read_snapshot_history(kind: str, dates: list[str], root: Path | None = None) -> pd.DataFrame:
    """Union of every stored run of a snapshot kind for these dates (duplicates removed).

    Gold features see all stored runs and filter each row by the target game's cutoff themselves.
    """
    files = []
    for d in dates:
        base = snapshot_dir(kind, d, root)
        files.extend(base / f"run={t}" / "table.parquet" for t in list_runs(base))
    return read_many(files, kind).drop_duplicates(ignore_index=True)


def write_season_rows(name: str, season: str, dates: list[str], rows: pd.DataFrame,
                      root: Path | None = None) -> Path:
    """Replace the rows of ``dates`` in a season table with ``rows`` (idempotent, atomic)."""
    path = gold_path(name, season, root)
    if path.exists():
        old = read_parquet(path)
        old = old[~old["game_date"].isin(dates)]
        rows = pd.concat([old, rows], ignore_index=True) if len(old) else rows
    sort_cols = [c for c in ("game_date", "tip_ts", "game_id", "team_id", "player_id") if c in rows]
    rows = rows.sort_values(sort_cols, kind="mergesort", ignore_index=True)
    atomic_write_bytes(path, parquet_bytes(rows))
    return path


def read_season_tables(name: str, root: Path | None = None) -> pd.DataFrame:
    folder = (root or data_root()) / "gold" / name
    files = sorted(folder.glob("season=*.parquet")) if folder.is_dir() else []
    return pd.concat([read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()


def write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())
