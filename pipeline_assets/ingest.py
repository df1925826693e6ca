"""Snapshot and label assets: thin Dagster wrappers around `collect` (one asset per catalog row).

Snapshots (schedule, injuries, odds, rosters) are taken "as of" a run timestamp and written per
run under `live/snapshots/<kind>/<date>/run=<ts>/`; labels (results, box scores) are written per
date.  A multi-date run (single-run backfill) fetches every date first.  A date the source
refuses (bad payload: quarantined, named by source, endpoint and field) writes nothing; the other
dates are written and reported as materialized, and the step then fails naming the refused dates.

Degrade, don't die: in a one-date run (a live slate) a feed that is not required
(`featureio.required_feeds`: $TIPOFF_REQUIRED_FEEDS, default the schedule only, or the asset's
`required` config) does not fail its step when the source refuses it: it is quarantined and
named the same way, nothing is written, the materialization says `feed_status: failed` with the
error, its `feed_fetched` check fails, and the live features then use the newest stored run
within the feed's max age, or go without it.  A backfill (several dates) stays strict: history
with a silent gap would flow into gold features and training.
"""

import functools
import json

import dagster as dg
import pandas as pd

from pipeline_assets import collect
from pipeline_assets.featureio import REQUIRED_FEEDS_ENV, required_feeds
from pipeline_assets.partitions import DAILY, AsOfConfig, explicit_as_of, run_created_ts
from resources import storage
from resources.cache import invalidate_cache
from resources.dagster_resources import SourceResource, StorageResource
from resources.sources.base import Extract
from tipoff_core import catalog
from tipoff_core.schemas import TABLES
from tipoff_core.tags import LAYER_TAG
from tipoff_core.timeutil import resolve_as_of


def table_schema(kind: str) -> dg.TableSchema:
    schema, _key = TABLES[kind]
    return dg.TableSchema(columns=[
        dg.TableColumn(c, t, constraints=dg.TableColumnConstraints(nullable=t in ("float", "Int", "bool")))
        for c, t in schema.items()])


class SnapshotConfig(AsOfConfig):
    """`required`: whether a failed fetch fails the run (True) or leaves the slate degraded
    (False); unset = $TIPOFF_REQUIRED_FEEDS (default: only the schedule is required).  Runs over
    several dates (backfills) always fail on a refused date."""

    required: bool | None = None


class LabelConfig(AsOfConfig):
    """`force_shrink`: let this run drop stored finals it no longer sees (they stay in the
    date's versions.parquet); without it such a run fails and stores nothing."""

    force_shrink: bool = False


def fetch_dates(src, kind: str, as_ofs: dict[str, pd.Timestamp], root
                ) -> tuple[dict[str, Extract], dict[str, collect.CollectError]]:
    """Every date's answer, and the dates the source refused (each quarantined)."""
    extracts, refused = {}, {}
    for day, as_of in as_ofs.items():
        try:
            extracts[day] = collect.fetch(src, kind, day, as_of, root)
        except collect.CollectError as exc:
            refused[day] = exc
    return extracts, refused


def fail_refused(context: dg.AssetExecutionContext, asset: str, refused: dict[str, str],
                 written: list[str], errors: dict[str, collect.CollectError] | None = None) -> None:
    """The written dates are materialized; the refused ones (date -> why) fail the step."""
    if not refused:
        return
    for day in written:
        context.log_event(dg.AssetMaterialization(asset_key=asset, partition=day,
                                                  metadata={"refused_in_same_run": len(refused)}))
    shown = "; ".join(f"{d}: {why}" for d, why in list(refused.items())[:5])
    more = f" (+{len(refused) - 5} more)" if len(refused) > 5 else ""
    md = {"refused_dates": ", ".join(refused)[:2000]}
    first = next(iter((errors or {}).values()), None)
    if first is not None:
        md.update({"source": first.error.source, "endpoint": first.error.endpoint,
                   "field": first.error.field or "", "quarantined": str(first.kept or "")})
    raise dg.Failure(
        description=f"{asset}: {len(refused)} of {len(refused) + len(written)} date(s) refused, "
                    f"nothing written for them ({len(written)} other date(s) written): "
                    f"{shown}{more}", metadata=md)


@functools.lru_cache(maxsize=4096)
def _tips(src, day: str, now: pd.Timestamp, root) -> pd.Series:
    """Shared by the four snapshot assets of a run (one schedule look-up per date, not four).
    A date whose schedule the source refuses gets the no-games default (its own fetch then
    fails and names the problem)."""
    try:
        return collect.schedule_tips(src, day, now, root)
    except collect.CollectError:
        return pd.Series([], dtype="datetime64[us, UTC]")


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


def _check_specs(name: str, extra: tuple[tuple[str, str], ...] = ()) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(c, asset=name, partitions_def=DAILY, description=d) for c, d in (
        ("schema", "columns and order match the versioned table contract"),
        ("unique_key", "no duplicate primary keys"),
        ("no_row_after_as_of", "no row stamped after the run's as-of timestamp"), *extra)]


FEED_CHECK = ("feed_fetched", "the source answered this run; fails when a feed that is not "
                              "required failed and the slate went on without a new snapshot")


def degraded_feed(context: dg.AssetExecutionContext, asset: str, day: str,
                  exc: collect.CollectError) -> tuple[dict, dg.AssetCheckResult]:
    """Metadata and the failed `feed_fetched` check of a feed the slate goes on without."""
    err = exc.error
    md = {"feed_status": "failed", "error": str(exc)[:2000], "source": err.source,
          "endpoint": err.endpoint, "field": err.field or "",
          "quarantined": str(exc.kept or ""), "required": False}
    context.log.error(f"{asset} {day}: FEED FAILED, slate goes on without a new snapshot "
                      f"(not required; {REQUIRED_FEEDS_ENV}={','.join(required_feeds())}): {exc}")
    return md, dg.AssetCheckResult(check_name=FEED_CHECK[0], passed=False, metadata=md)


def _range_metadata(frames: dict[str, pd.DataFrame], kind: str) -> dict:
    total = sum(len(f) for f in frames.values())
    md = {"rows": dg.MetadataValue.int(total), "dates": dg.MetadataValue.int(len(frames)),
          "dagster/column_schema": table_schema(kind), "dagster/row_count": total}
    if len(frames) > 1:
        per = [f"| {d} | {len(f)} |" for d, f in list(frames.items())[:60]]
        md["rows_per_date"] = dg.MetadataValue.md("| date | rows |\n|---|---|\n" + "\n".join(per)
                                                  + ("\n| … | |" if len(frames) > 60 else ""))
    return md


def build_snapshot_asset(table: catalog.Table) -> dg.AssetsDefinition:
    kind = table.kind

    @dg.asset(name=table.asset, partitions_def=DAILY, group_name="snapshots",
              backfill_policy=dg.BackfillPolicy.single_run(),
              check_specs=_check_specs(table.asset, (FEED_CHECK,)),
              kinds={"parquet"}, tags={LAYER_TAG: "snapshot"},
              description=f"{kind} as knowable at the run's as-of timestamp, one folder per run "
                          f"under `{table.folder}/<date>/run=<ts>/` with a LATEST pointer.")
    def _snapshot(context: dg.AssetExecutionContext, config: SnapshotConfig, source: SourceResource,
                  store: StorageResource) -> dg.MaterializeResult:
        src, root = source.get(), store.path()
        now, explicit = run_created_ts(context), explicit_as_of(context, config)
        as_ofs = {day: resolve_as_of(day, explicit, now, lambda d=day: _tips(src, d, now, root))
                  for day in context.partition_keys}
        extracts, refused = fetch_dates(src, kind, as_ofs, root)
        required = config.required if config.required is not None else kind in required_feeds()
        feed_md, feed_check = {"feed_status": "ok"}, dg.AssetCheckResult(
            check_name=FEED_CHECK[0], passed=True, metadata={"required": required})
        if refused and not required and len(as_ofs) == 1:  # a slate goes on without this feed
            feed_md, feed_check = degraded_feed(context, table.asset, *next(iter(refused.items())))
            refused = {}
        created, folders = 0, []
        for day, ex in extracts.items():
            folder = collect.write_snapshot(ex, day, as_ofs[day], root)
            created += folder.created
            folders.append(folder.path)
        storage.warm_read_cache(table, list(extracts), root)  # a backfill: the gold run reads packs
        fail_refused(context, table.asset, {d: str(e) for d, e in refused.items()},
                     list(extracts), refused)
        frames = {d: ex.table for d, ex in extracts.items()}
        context.log.info(f"{table.asset}: {sum(len(f) for f in frames.values())} rows over "
                         f"{len(frames)} date(s); {created} new run folder(s)")
        md = _range_metadata(frames, kind)
        if kind == "odds" and extracts:  # the API's odds / predictions of these dates are stale
            md["cache_entries_invalidated"] = invalidate_cache("odds", sorted(extracts))
        md.update({"source": src.name, "new_run_folders": created,
                   "run_as_of_ts": ", ".join(sorted({t.isoformat() for t in as_ofs.values()}))[:500],
                   "path": dg.MetadataValue.path(str(folders[-1])) if folders else "", **feed_md})
        return dg.MaterializeResult(metadata=md, check_results=[
            *table_checks(kind, frames, as_ofs), feed_check])

    return _snapshot


def build_label_asset(table: catalog.Table) -> dg.AssetsDefinition:
    kind = table.kind

    @dg.asset(name=table.asset, partitions_def=DAILY, group_name="labels",
              backfill_policy=dg.BackfillPolicy.single_run(), check_specs=_check_specs(table.asset),
              kinds={"parquet"}, tags={LAYER_TAG: "label"},
              description=f"{kind} of games final by the run's as-of time (default now), one table "
                          f"per date under `{table.folder}/<date>/`.")
    def _label(context: dg.AssetExecutionContext, config: LabelConfig, source: SourceResource,
               store: StorageResource) -> dg.MaterializeResult:
        src, root = source.get(), store.path()
        as_of = explicit_as_of(context, config) or run_created_ts(context)
        extracts, refused = fetch_dates(src, kind, {d: as_of for d in context.partition_keys}, root)
        reasons = {d: str(e) for d, e in refused.items()}
        writes = []
        for day, ex in list(extracts.items()):
            try:
                writes.append(collect.write_labels(ex, day, as_of, root, force=config.force_shrink))
            except storage.LabelShrinkError as exc:  # the stored labels stay as they are
                reasons[day] = str(exc)
                del extracts[day]
        storage.warm_read_cache(table, list(extracts), root)  # a backfill: the gold run reads packs
        fail_refused(context, table.asset, reasons, list(extracts), refused)
        frames = {d: ex.table for d, ex in extracts.items()}
        changed = sum(w.changed for w in writes)
        corrected = sum(w.corrected for w in writes)
        context.log.info(f"{table.asset}: {sum(len(f) for f in frames.values())} rows over "
                         f"{len(frames)} date(s); {changed} table(s) changed, "
                         f"{sum(w.added for w in writes)} final(s) added, {corrected} corrected")
        md = _range_metadata(frames, kind)
        md.update({"source": src.name, "tables_changed": changed, "as_of": as_of.isoformat(),
                   "finals_added": sum(w.added for w in writes), "finals_corrected": corrected,
                   "finals_removed_by_force": sum(w.removed for w in writes)})
        return dg.MaterializeResult(metadata=md,
                                    check_results=table_checks(kind, frames, {d: as_of for d in frames}))

    return _label


snapshot_assets = [build_snapshot_asset(t) for t in catalog.of_layer("snapshot")]
label_assets = [build_label_asset(t) for t in catalog.of_layer("label")]
