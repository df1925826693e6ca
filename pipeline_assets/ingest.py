"""Snapshot and label assets: thin Dagster wrappers around `Source.fetch` and the store.

Snapshots (schedule, injuries, odds, rosters) are taken "as of" a run timestamp and written per
run under `live/snapshots/<kind>/<date>/run=<ts>/`; labels (results, box scores) are written per
date.  A multi-date run (single-run backfill) fetches every date first and writes only when all
succeeded, so a failure leaves nothing behind.
"""

import functools
import json

import dagster as dg
import pandas as pd

from pipeline_assets.partitions import DAILY, AsOfConfig, default_as_of, explicit_as_of, run_created_ts
from pipeline_assets.schemas import LABEL_KINDS, SNAPSHOT_KINDS, TABLES, arrow_schema
from pipeline_assets.timeutil import to_date, ts_token
from resources import storage
from resources.dagster_resources import SourceResource, StorageResource
from resources.sources.base import Extract, SourceError

ASSET_OF_KIND = {
    "schedule": "schedule_snapshot", "injuries": "injury_snapshot", "odds": "odds_snapshot",
    "rosters": "roster_snapshot", "results": "game_results", "box_scores": "player_box_scores",
}
KIND_OF_ASSET = {v: k for k, v in ASSET_OF_KIND.items()}


def table_schema(kind: str) -> dg.TableSchema:
    schema, key = TABLES[kind]
    return dg.TableSchema(columns=[
        dg.TableColumn(c, t, constraints=dg.TableColumnConstraints(nullable=t in ("float", "Int", "bool")))
        for c, t in schema.items()])


def quarantine(error: SourceError, kind: str, day: str, as_of: pd.Timestamp, root) -> str | None:
    """Keep the offending raw payload for audit; return where it went."""
    if not error.raw:
        return None
    path = root / "quarantine" / kind / day / f"{ts_token(as_of)}-{error.source}.raw"
    storage.atomic_write_bytes(path, error.raw)
    storage.write_json(path.with_suffix(".json"), {"error": str(error), "endpoint": error.endpoint,
                                                   "field": error.field})
    return str(path)


def fetch_or_fail(src, kind: str, day: str, as_of: pd.Timestamp, root) -> Extract:
    try:
        return src.fetch(kind, to_date(day), as_of)
    except SourceError as exc:
        kept = quarantine(exc, kind, day, as_of, root)
        raise dg.Failure(description=f"{exc}" + (f" (raw payload kept at {kept})" if kept else ""),
                         metadata={"source": exc.source, "endpoint": exc.endpoint,
                                   "field": exc.field or "", "raw_payload": kept or ""}) from exc


@functools.lru_cache(maxsize=4096)
def _default_as_of(src, day: str, now: pd.Timestamp, root) -> pd.Timestamp:
    """Shared by the four snapshot assets of a run (one schedule look-up per date, not four)."""
    sched = fetch_or_fail(src, "schedule", day, now, root)
    return default_as_of(day, now, sched.table["tip_ts"])


def table_checks(kind: str, frames: dict[str, pd.DataFrame], as_ofs: dict[str, pd.Timestamp]
                 ) -> list[dg.AssetCheckResult]:
    """Schema, duplicate keys and the as-of bound, over every date written by this run."""
    schema, key = TABLES[kind]
    schema_bad = {d: sorted(set(schema) ^ set(f.columns)) for d, f in frames.items()
                  if list(f.columns) != list(schema)}
    dupes = {d: int(f.duplicated(key).sum()) for d, f in frames.items() if len(f)}
    dupes = {d: n for d, n in dupes.items() if n}
    late = {d: int((f["snapshot_ts"] > as_ofs[d]).sum()) for d, f in frames.items() if len(f)}
    late = {d: n for d, n in late.items() if n}
    return [
        dg.AssetCheckResult(check_name="schema", passed=not schema_bad,
                            metadata={"dates_with_mismatch": json.dumps(schema_bad)[:2000]}),
        dg.AssetCheckResult(check_name="unique_key", passed=not dupes,
                            metadata={"key": ", ".join(key), "duplicates": sum(dupes.values())}),
        dg.AssetCheckResult(check_name="no_row_after_as_of", passed=not late,
                            metadata={"rows_after_as_of": sum(late.values())}),
    ]


def _check_specs(name: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(c, asset=name, partitions_def=DAILY, description=d) for c, d in (
        ("schema", "columns and order match the versioned table contract"),
        ("unique_key", "no duplicate primary keys"),
        ("no_row_after_as_of", "no row stamped after the run's as-of timestamp"))]


def _range_metadata(frames: dict[str, pd.DataFrame], kind: str) -> dict:
    total = sum(len(f) for f in frames.values())
    md = {"rows": dg.MetadataValue.int(total), "dates": dg.MetadataValue.int(len(frames)),
          "dagster/column_schema": table_schema(kind), "dagster/row_count": total}
    if len(frames) > 1:
        per = [f"| {d} | {len(f)} |" for d, f in list(frames.items())[:60]]
        md["rows_per_date"] = dg.MetadataValue.md("| date | rows |\n|---|---|\n" + "\n".join(per)
                                                  + ("\n| … | |" if len(frames) > 60 else ""))
    return md


def build_snapshot_asset(kind: str) -> dg.AssetsDefinition:
    name = ASSET_OF_KIND[kind]

    @dg.asset(name=name, partitions_def=DAILY, group_name="snapshots",
              backfill_policy=dg.BackfillPolicy.single_run(), check_specs=_check_specs(name),
              kinds={"parquet"}, tags={"tipoff/layer": "snapshot"},
              description=f"{kind} as knowable at the run's as-of timestamp, one folder per run "
                          f"under live/snapshots/{kind}/<date>/run=<ts>/ with a LATEST pointer.")
    def _snapshot(context: dg.AssetExecutionContext, config: AsOfConfig, source: SourceResource,
                  store: StorageResource) -> dg.MaterializeResult:
        src, root = source.get(), store.path()
        now, explicit = run_created_ts(context), explicit_as_of(context, config)
        extracts: dict[str, Extract] = {}
        as_ofs: dict[str, pd.Timestamp] = {}
        for day in context.partition_keys:
            as_of = explicit if explicit is not None else _default_as_of(src, day, now, root)
            as_ofs[day] = as_of
            extracts[day] = fetch_or_fail(src, kind, day, as_of, root)
        created = 0
        folders = []
        for day, ex in extracts.items():
            meta = {"kind": kind, "source": ex.source, "endpoint": ex.endpoint, "date": day,
                    "run_as_of_ts": as_ofs[day].isoformat(), "rows": len(ex.table),
                    "notes": ex.notes}
            folder = storage.write_run_folder(
                storage.snapshot_dir(kind, day, root), ts_token(as_ofs[day]),
                {"raw.json": ex.raw, "table.parquet": storage.parquet_bytes(ex.table, arrow_schema(kind)),
                 "meta.json": json.dumps(meta, sort_keys=True, default=str).encode()})
            created += folder.created
            folders.append(folder.path)
        frames = {d: ex.table for d, ex in extracts.items()}
        context.log.info(f"{name}: {sum(len(f) for f in frames.values())} rows over "
                         f"{len(frames)} date(s); {created} new run folder(s)")
        md = _range_metadata(frames, kind)
        md.update({"source": src.name, "new_run_folders": created,
                   "run_as_of_ts": ", ".join(sorted({t.isoformat() for t in as_ofs.values()}))[:500],
                   "path": dg.MetadataValue.path(str(folders[-1])) if folders else ""})
        return dg.MaterializeResult(metadata=md, check_results=table_checks(kind, frames, as_ofs))

    return _snapshot


def build_label_asset(kind: str) -> dg.AssetsDefinition:
    name = ASSET_OF_KIND[kind]

    @dg.asset(name=name, partitions_def=DAILY, group_name="labels",
              backfill_policy=dg.BackfillPolicy.single_run(), check_specs=_check_specs(name),
              kinds={"parquet"}, tags={"tipoff/layer": "label"},
              description=f"{kind} of games final by the run's as-of time (default now), one table "
                          f"per date under labels/{kind}/<date>/.")
    def _label(context: dg.AssetExecutionContext, config: AsOfConfig, source: SourceResource,
               store: StorageResource) -> dg.MaterializeResult:
        src, root = source.get(), store.path()
        as_of = explicit_as_of(context, config) or run_created_ts(context)
        extracts = {day: fetch_or_fail(src, kind, day, as_of, root) for day in context.partition_keys}
        changed = sum(storage.write_label_table(kind, day, ex.table, ex.raw, root)[1]
                      for day, ex in extracts.items())
        frames = {d: ex.table for d, ex in extracts.items()}
        context.log.info(f"{name}: {sum(len(f) for f in frames.values())} rows over "
                         f"{len(frames)} date(s); {changed} table(s) changed")
        md = _range_metadata(frames, kind)
        md.update({"source": src.name, "tables_changed": changed, "as_of": as_of.isoformat()})
        return dg.MaterializeResult(metadata=md,
                                    check_results=table_checks(kind, frames, {d: as_of for d in frames}))

    return _label


snapshot_assets = [build_snapshot_asset(k) for k in SNAPSHOT_KINDS]
label_assets = [build_label_asset(k) for k in LABEL_KINDS]
