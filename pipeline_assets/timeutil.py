"""Calendar helpers: the league runs on America/New_York dates; timestamps are stored in UTC."""
from __future__ import annotations

import datetime as dt
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


def ts_token(ts: pd.Timestamp) -> str:
    """Filesystem-safe, sortable token for a run timestamp: 20261123T160000Z."""
    return utc(ts).strftime("%Y%m%dT%H%M%SZ")


def parse_ts_token(token: str) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.strptime(token, "%Y%m%dT%H%M%SZ"), tz="UTC")
