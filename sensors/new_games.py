"""`new_games_sensor`: notice games that became final and request their labels + gold features.

Each tick asks the configured source (the `source` resource: `TIPOFF_SOURCE`, ...) for the results
of the poll window -- today and yesterday on the league calendar by default
(`TIPOFF_NEW_GAMES_LOOKBACK_DAYS`, default 1) -- as of now, and compares them with its cursor:

    {"last_final_ts": "<newest final_ts seen>", "seen": {"<date>": ["<game_id>", ...]}}

A game is new when its id is not in `seen` for its date (so a result that arrives late, with a
final_ts behind the frontier, is still picked up).  For every date with new games it requests one
`labels_job` run (game_results, player_box_scores, gold_game_features, gold_minutes_features) for
that date's partition with run_key ``labels-<date>-<hash of the new ids>``: a repeated request is
deduplicated by Dagster, and the label assets are idempotent anyway.  The run is tagged
`tipoff/run_as_of_ts` = the poll time, so it stores exactly what the sensor saw.

The new cursor is computed only after every fetch succeeded and returned with the run requests in
one `SensorResult`; a tick that raises (source down, malformed payload) leaves the stored cursor
unchanged, and the next successful tick picks up everything since.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from resources.dagster_resources import SourceResource
from sensors import clock
from sensors.common import alert_on_exception, sensor_status
from tipoff_core.tags import NEW_GAMES_TAG, RUN_AS_OF_TAG, TRIGGER_TAG
from tipoff_core.timeutil import league_date, utc

LOOKBACK_ENV = "TIPOFF_NEW_GAMES_LOOKBACK_DAYS"
DEFAULT_LOOKBACK_DAYS = 1


@dataclass
class NewGamesCursor:
    last_final_ts: str | None = None
    seen: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> "NewGamesCursor":
        if not raw:
            return cls()
        try:
            obj = json.loads(raw)
            return cls(obj.get("last_final_ts"), {str(k): sorted(map(str, v))
                                                  for k, v in (obj.get("seen") or {}).items()})
        except (ValueError, TypeError, AttributeError):
            # an unreadable cursor (hand-edited, older format) restarts the window: harmless,
            # since repeated requests are deduplicated by run_key and labels are idempotent
            return cls()

    def dump(self) -> str:
        return json.dumps({"last_final_ts": self.last_final_ts, "seen": self.seen}, sort_keys=True)


@dataclass
class Poll:
    new: dict[str, list[str]]          # date -> new final game ids
    cursor: NewGamesCursor
    finals: int                        # final games in the window


def poll_window(now: pd.Timestamp, lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> list[str]:
    today = league_date(now)
    return [(today - dt.timedelta(days=i)).isoformat() for i in range(lookback_days, -1, -1)]


def poll_new_games(source, cursor: NewGamesCursor, now: pd.Timestamp,
                   lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> Poll:
    """Fetch results of the poll window as of `now`; raise on any source error (nothing is
    returned, so the caller cannot advance its cursor on a partial answer)."""
    dates = poll_window(now, lookback_days)
    tables = {d: source.fetch("results", dt.date.fromisoformat(d), now).table for d in dates}
    new: dict[str, list[str]] = {}
    seen: dict[str, list[str]] = {}
    last = utc(cursor.last_final_ts) if cursor.last_final_ts else None
    finals = 0
    for d, t in tables.items():
        ids = sorted(set(t["game_id"].astype(str)))
        finals += len(ids)
        known = set(cursor.seen.get(d, []))
        fresh = [g for g in ids if g not in known]
        if fresh:
            new[d] = fresh
        seen[d] = sorted(known | set(ids))   # dates outside the window drop out of the cursor
        if len(t):
            newest = utc(t["final_ts"].max())
            last = newest if last is None or newest > last else last
    return Poll(new, NewGamesCursor(last.isoformat() if last is not None else None, seen), finals)


def run_key(day: str, game_ids: list[str]) -> str:
    digest = hashlib.sha1(",".join(sorted(game_ids)).encode()).hexdigest()[:12]
    return f"labels-{day}-{digest}"


def lookback_days() -> int:
    raw = os.environ.get(LOOKBACK_ENV, "").strip()
    return max(int(raw), 0) if raw else DEFAULT_LOOKBACK_DAYS


@dg.sensor(name="new_games_sensor", job_name="labels_job", minimum_interval_seconds=600,
           default_status=sensor_status(),
           description="Polls the source for games that became final (today and yesterday) and "
                       "requests labels + gold features for their dates (labels_job).")
@alert_on_exception
def new_games_sensor(context: dg.SensorEvaluationContext, source: SourceResource) -> dg.SensorResult:
    now = clock.now()
    cursor = NewGamesCursor.parse(context.cursor)
    poll = poll_new_games(source.get(), cursor, now, lookback_days())
    requests = [
        dg.RunRequest(run_key=run_key(day, ids), partition_key=day,
                      tags={RUN_AS_OF_TAG: now.isoformat(), TRIGGER_TAG: "new_games_sensor",
                            NEW_GAMES_TAG: str(len(ids))})
        for day, ids in sorted(poll.new.items())]
    if requests:
        context.log.info("new final games: " + ", ".join(f"{d}: {len(i)}" for d, i in poll.new.items()))
        return dg.SensorResult(run_requests=requests, cursor=poll.cursor.dump())
    return dg.SensorResult(skip_reason=f"no new final games ({poll.finals} final in "
                                       f"{', '.join(sorted(poll.cursor.seen))} as of "
                                       f"{now.isoformat()})", cursor=poll.cursor.dump())
