"""The Dagster side of partitions and the as-of clock shared by every daily asset.

The rule itself (explicit as-of, else now for today and later, else shortly before the first tip)
is `tipoff_core.timeutil.resolve_as_of`; this module only reads a run's config, tags and clock.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import dagster as dg
import pandas as pd

from tipoff_core.catalog import PARTITIONS_START
from tipoff_core.tags import RUN_AS_OF_TAG
from tipoff_core.timeutil import now_utc, parse_as_of, utc

# end_offset=1 makes today's slate a partition as soon as the day starts.
DAILY = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="America/New_York",
                                     end_offset=1)


class AsOfConfig(dg.Config):
    """`run_as_of_ts`: ISO timestamp (UTC if no offset).  Empty = the run tag
    `tipoff/run_as_of_ts`, else now for today and later, else 5 minutes before the date's first
    tip for past dates (noon New York time when the date has no games)."""

    run_as_of_ts: str = ""


def run_created_ts(context: dg.AssetExecutionContext) -> pd.Timestamp:
    """One 'now' per run, so every asset of a run shares the same clock."""
    record = context.instance.get_run_record_by_id(context.run_id)
    if record is not None and record.create_timestamp is not None:
        return utc(record.create_timestamp).floor("s")
    return now_utc()


def explicit_as_of(context: dg.AssetExecutionContext, config: AsOfConfig | None) -> pd.Timestamp | None:
    """The as-of given by the asset config, else by the run tag, else None."""
    raw = (config.run_as_of_ts if config else "") or context.run.tags.get(RUN_AS_OF_TAG, "")
    try:
        return parse_as_of(raw)
    except ValueError as exc:
        raise dg.Failure(str(exc)) from None


def check_evaluation(asset: str, check: str, partition: str, problems: list[str],
                     metadata: dict | None = None) -> dg.AssetCheckEvaluation:
    """One partition's result of a partitioned asset check, with its problems listed.

    Partitioned checks yield one of these per partition they checked (through
    `per_partition_results`): in a run over a range of partitions an `AssetCheckResult` has no
    partition, so every planned partition would stay unevaluated ("Skipped" in the UI) beside one
    range-wide result.
    """
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(asset), check_name=check, partition=partition, passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**(metadata or {}), "problems": len(problems),
                  "details": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:50]) or "none")})


def selected_checks(context: dg.AssetCheckExecutionContext, asset: str) -> set[str]:
    """Names of the checks of `asset` this run selected (a subsettable check op yields no others)."""
    return {k.name for k in context.selected_asset_check_keys if k.asset_key == dg.AssetKey(asset)}


def per_partition_results(context: dg.AssetCheckExecutionContext,
                          evaluations: Iterable[dg.AssetCheckEvaluation]) -> Iterator:
    """The body of a partitioned check op: its evaluations, then an empty output per selected check
    (the evaluations carry the results; the outputs only close the op's contract)."""
    yield from evaluations
    assets_def = context.op_execution_context.assets_def
    for key in context.selected_asset_check_keys:
        yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(key))
