"""Partitions and the as-of clock shared by every daily asset."""
from __future__ import annotations

import datetime as dt
import os

import dagster as dg
import pandas as pd

from pipeline_assets.timeutil import LEAGUE_TZ, local_ts, now_utc, to_date, utc

# Daily partitions on the league calendar; the first date covers the archive's first season.
# end_offset=1 makes today's slate a partition as soon as the day starts.
PARTITIONS_START = os.environ.get("TIPOFF_PARTITIONS_START", "2007-10-01")
DAILY = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="America/New_York",
                                     end_offset=1)

RUN_AS_OF_TAG = "tipoff/run_as_of_ts"
# Past dates default to this long before the day's first tip: the pre-game view of the slate.
PRE_TIP_MARGIN = pd.Timedelta(minutes=5)
NO_GAMES_DEFAULT_TIME = dt.time(12, 0)


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
    raw = (config.run_as_of_ts if config else "") or context.run.tags.get(RUN_AS_OF_TAG, "")
    if not raw:
        return None
    try:
        return utc(raw).floor("s")
    except ValueError as exc:
        raise dg.Failure(f"run_as_of_ts {raw!r} is not an ISO timestamp: {exc}") from None


def default_as_of(day: dt.date | str, now: pd.Timestamp, tips: pd.Series) -> pd.Timestamp:
    """The documented default as-of for a date (see AsOfConfig)."""
    day = to_date(day)
    if day >= now.tz_convert(LEAGUE_TZ).date():
        return now
    if len(tips):
        return (utc(tips.min()) - PRE_TIP_MARGIN).floor("s")
    return local_ts(day, NO_GAMES_DEFAULT_TIME)
