"""`halftime_sensor`: on game nights, poll the source's in-game states and request a
`halftime_job` run for the date as soon as a game completes a new checkpoint (Q1, halftime, Q3).

Cursor: ``{"<date>": {"<game_id>": <last checkpoint requested>}}`` for the dates polled (today on
the league calendar, and yesterday until 04:00 New York, when late games are still on).  A game is
requested again only when it reaches a later checkpoint; a game first seen final is requested
once, for its halftime record.  The run is tagged `tipoff/run_as_of_ts` = the poll time, so it
scores exactly the scoreboard the sensor saw; the run key makes a repeated request a no-op.  A tick
that raises (source down, malformed payload) leaves the cursor unchanged.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import dagster as dg
import pandas as pd

from pipeline_assets.halftime import checkpoints
from resources.dagster_resources import SourceResource
from sensors import clock
from sensors.common import alert_on_exception, sensor_status
from tipoff_core.tags import RUN_AS_OF_TAG, TRIGGER_TAG
from tipoff_core.timeutil import LEAGUE_TZ, league_date

LATE_GAMES_UNTIL_HOUR = 4
POLL_SECONDS = 120


def poll_dates(now: pd.Timestamp) -> list[str]:
    today = league_date(now)
    dates = [today]
    if now.tz_convert(LEAGUE_TZ).hour < LATE_GAMES_UNTIL_HOUR:
        dates.insert(0, today - dt.timedelta(days=1))
    return [d.isoformat() for d in dates]


def parse_cursor(raw: str | None) -> dict[str, dict[str, int]]:
    try:
        obj = json.loads(raw) if raw else {}
        return {str(d): {str(g): int(c) for g, c in v.items()} for d, v in obj.items()}
    except (ValueError, TypeError, AttributeError):
        return {}  # unreadable: start over (requests are deduplicated by run key anyway)


def poll(source, cursor: dict[str, dict[str, int]], now: pd.Timestamp
         ) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    """({date: games that reached a new checkpoint}, new cursor); raises on any source error."""
    new: dict[str, list[str]] = {}
    out: dict[str, dict[str, int]] = {}
    for day in poll_dates(now):
        states = source.game_states(dt.date.fromisoformat(day), now).table
        seen = dict(cursor.get(day, {}))
        cps = checkpoints(states)
        for gid, cp in zip(states["game_id"].astype(str), cps.astype(int)):
            if cp > seen.get(gid, 0):
                new.setdefault(day, []).append(gid)
                seen[gid] = cp
        out[day] = seen
    return new, out


def run_key(day: str, cursor_day: dict[str, int]) -> str:
    digest = hashlib.sha1(json.dumps(cursor_day, sort_keys=True).encode()).hexdigest()[:12]
    return f"halftime-{day}-{digest}"


@dg.sensor(name="halftime_sensor", job_name="halftime_job", minimum_interval_seconds=POLL_SECONDS,
           default_status=sensor_status(),
           description="On game nights polls the scoreboard (in-game states of today, and of "
                       "yesterday before 04:00 New York) and requests halftime_scores for the date "
                       "when a game completes Q1, halftime or Q3.")
@alert_on_exception
def halftime_sensor(context: dg.SensorEvaluationContext, source: SourceResource) -> dg.SensorResult:
    now = clock.now()
    new, cursor = poll(source.get(), parse_cursor(context.cursor), now)
    requests = [dg.RunRequest(run_key=run_key(day, cursor[day]), partition_key=day,
                              tags={RUN_AS_OF_TAG: now.isoformat(), TRIGGER_TAG: "halftime_sensor"})
                for day in sorted(new)]
    dump = json.dumps(cursor, sort_keys=True)
    if requests:
        context.log.info("new checkpoints: " + ", ".join(f"{d}: {', '.join(g)}"
                                                         for d, g in sorted(new.items())))
        return dg.SensorResult(run_requests=requests, cursor=dump)
    return dg.SensorResult(skip_reason=f"no game reached a new checkpoint as of {now.isoformat()}",
                           cursor=dump)
