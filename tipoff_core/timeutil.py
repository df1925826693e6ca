"""Calendar helpers: the league runs on America/New_York dates; timestamps are stored in UTC."""
from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo

import pandas as pd

LEAGUE_TZ = ZoneInfo("America/New_York")
# Archive files carry dates but not tip times; games are assumed to tip at 19:30 local.
DEFAULT_TIP_LOCAL = dt.time(19, 30)
# A game's result is assumed final this long after tip when the source has no end time.
GAME_DURATION = pd.Timedelta(hours=2, minutes=30)


def local_ts(day: dt.date | str, at: dt.time) -> pd.Timestamp:
    """UTC timestamp of a wall-clock time on a league (New York) calendar date."""
    day = to_date(day)
    return pd.Timestamp(dt.datetime.combine(day, at, tzinfo=LEAGUE_TZ)).tz_convert("UTC")


def to_date(day: dt.date | str) -> dt.date:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    return dt.date.fromisoformat(str(day)[:10])


def league_date(ts: pd.Timestamp) -> dt.date:
    """The New York calendar date of a UTC instant."""
    return pd.Timestamp(ts).tz_convert(LEAGUE_TZ).date()


def season_of(day: dt.date | str) -> str:
    """Season label like '2021-22'; a season starts in August (covers the 2020 bubble and 2020-21)."""
    day = to_date(day)
    start = day.year if day.month >= 8 else day.year - 1
    # The 2019-20 season ended in the October 2020 bubble.
    if day.year == 2020 and day.month in (8, 9, 10) and day < dt.date(2020, 10, 15):
        start = 2019
    return f"{start}-{(start + 1) % 100:02d}"


def season_start_year(season: str) -> int:
    return int(season[:4])


def utc(ts) -> pd.Timestamp:
    """Parse anything timestamp-like to tz-aware UTC (naive input is taken as UTC)."""
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def now_utc() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("s")


# The clock of the automation (sensors) and of the live source's "is this as-of in the past":
# wall time, or `TIPOFF_NOW` (an ISO timestamp) to replay a past day.  Never set on a daemon.
CLOCK_ENV = "TIPOFF_NOW"


def clock_now() -> pd.Timestamp:
    raw = os.environ.get(CLOCK_ENV, "").strip()
    return utc(raw).floor("s") if raw else now_utc()


def ts_token(ts: pd.Timestamp) -> str:
    """Filesystem-safe, sortable token for a run timestamp: 20261123T160000Z."""
    return utc(ts).strftime("%Y%m%dT%H%M%SZ")


def parse_ts_token(token: str) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.strptime(token, "%Y%m%dT%H%M%SZ"), tz="UTC")


# ----------------------------------------------------------------------------- the as-of rule
# A run's as-of (`run_as_of_ts`) is explicit (asset config, else the run tag) or, by default:
# now for today and later dates; for past dates shortly before the date's first tip (the pre-game
# view of the slate), or noon New York time on a date without games.
PRE_TIP_MARGIN = pd.Timedelta(minutes=5)
NO_GAMES_DEFAULT_TIME = dt.time(12, 0)


def parse_as_of(raw: str | None) -> pd.Timestamp | None:
    """An explicit as-of (ISO timestamp, UTC when it has no offset) floored to the second, or None
    when `raw` is empty.  Raises ValueError naming the bad value."""
    if raw is None or not str(raw).strip():
        return None
    try:
        return utc(str(raw).strip()).floor("s")
    except ValueError as exc:
        raise ValueError(f"run_as_of_ts {raw!r} is not an ISO timestamp: {exc}") from None


def default_as_of(day: dt.date | str, now: pd.Timestamp, tips: pd.Series) -> pd.Timestamp:
    """The default as-of of a league date given the run's clock and the date's tip times."""
    day = to_date(day)
    if day >= now.tz_convert(LEAGUE_TZ).date():
        return now
    if len(tips):
        return (utc(tips.min()) - PRE_TIP_MARGIN).floor("s")
    return local_ts(day, NO_GAMES_DEFAULT_TIME)


def resolve_as_of(day: dt.date | str, explicit: pd.Timestamp | None, now: pd.Timestamp,
                  tips) -> pd.Timestamp:
    """The one as-of rule: `explicit` when given, else `default_as_of`.  `tips` is the date's tip
    times, or a zero-argument callable returning them (only called when the default is needed:
    it may fetch the schedule)."""
    if explicit is not None:
        return explicit
    return default_as_of(day, now, tips() if callable(tips) else tips)
