"""`odds_cadence_sensor`: on game days, one `odds_job` run (odds_snapshot only) every 15 minutes from
the books' opening until the last tip, plus one 5 minutes before each tip, so the last snapshot
before every tip is its closing line (`pipeline_assets.odds_history.snapshot_slots`).

Each tick (every minute) reads today's tip times from the stored `schedule_snapshot` (the source's
schedule when none is stored yet) and requests the newest slot that is due and not requested yet,
for today's partition, tagged `tipoff/run_as_of_ts` = the slot's time, with run key
``odds-<date>-<slot token>``: a late tick produces exactly the run it would have produced on time,
once (slots it missed entirely are skipped, not requested late: odds as of a past instant cost
historical credits).  Nothing is requested before the opening, between two slots, or at or after
the day's last tip.  Cursor: the token of the last slot requested.

Credits: before requesting, the sensor adds what the run will cost (the current-odds call:
markets x regions = 3 credits; a slot older than the live source's history window is priced as a
historical snapshot) to what the pipeline spent today (the ledger, `ops/odds_credits.jsonl`) and
skips the slot when that exceeds `TIPOFF_ODDS_DAILY_CREDIT_BUDGET`.  The run's own calls are
checked again by the source.  Only the live source spends credits; the simulated and archive
sources cost nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from pipeline_assets import collect
from pipeline_assets.odds_history import interval_minutes, open_time, snapshot_slots, stored_tips
from resources.dagster_resources import SourceResource, StorageResource
from resources.sources.odds_api import (EP_HISTORICAL_EVENT_ODDS, EP_HISTORICAL_EVENTS, EP_ODDS,
                                        MARKETS, PIPELINE, CreditLedger, call_cost, count,
                                        daily_budget_from_env)
from sensors import clock
from sensors.common import alert_on_exception, sensor_status
from tipoff_core.tags import RUN_AS_OF_TAG, TRIGGER_TAG
from tipoff_core.timeutil import LEAGUE_TZ, league_date, local_ts, ts_token, utc

TICK_SECONDS = 60


@dataclass(frozen=True)
class SlotDecision:
    slot: pd.Timestamp | None      # the snapshot to request now, or None
    reason: str                    # why (the skip reason when slot is None)
    missed: int = 0                # due slots never requested (a late start)


def _hm(ts: pd.Timestamp) -> str:
    return utc(ts).tz_convert(LEAGUE_TZ).strftime("%H:%M")


def next_slot(now: pd.Timestamp, slots: list[pd.Timestamp], last_tip: pd.Timestamp | None,
              last_requested: str | None) -> SlotDecision:
    """The slot a tick at `now` requests: the newest one due, unless it was requested already."""
    if not slots or last_tip is None:
        return SlotDecision(None, "no games today")
    if now >= last_tip:
        return SlotDecision(None, f"after the last tip ({_hm(last_tip)} New York): no more odds "
                                  "snapshots today")
    due = [s for s in slots if s <= now]
    if not due:
        return SlotDecision(None, f"before the books open: first snapshot at {_hm(slots[0])} "
                                  "New York")
    slot = due[-1]
    if last_requested is not None and ts_token(slot) <= last_requested:
        later = [s for s in slots if s > now]
        return SlotDecision(None, f"snapshot of {_hm(slot)} already requested; next at "
                                  f"{_hm(later[0])}" if later else "last snapshot requested")
    missed = sum(1 for s in due[:-1]
                 if last_requested is None or ts_token(s) > last_requested)
    return SlotDecision(slot, f"snapshot of {_hm(slot)} New York", missed)


def run_cost(source, slot: pd.Timestamp, now: pd.Timestamp, tips: pd.Series) -> int:
    """Credits an odds_snapshot run of `slot` will spend (0 for sources without a meter)."""
    if getattr(source, "odds_meter", None) is None:
        return 0
    regions = count(getattr(source, "odds_regions", "us"))
    if now - slot <= getattr(source, "odds_history_after", pd.Timedelta(0)):
        return call_cost(EP_ODDS, len(MARKETS), regions)
    open_games = int((pd.Series(tips) > slot).sum())
    markets = count(getattr(source, "odds_markets", ",".join(MARKETS)))
    return call_cost(EP_HISTORICAL_EVENTS) + open_games * call_cost(EP_HISTORICAL_EVENT_ODDS,
                                                                     markets, regions)


@dg.sensor(name="odds_cadence_sensor", job_name="odds_job", minimum_interval_seconds=TICK_SECONDS,
           default_status=sensor_status(),
           description="On game days requests an odds snapshot (odds_job) every 15 minutes from "
                       "the books' opening to the last tip and 5 minutes before each tip (the "
                       "closing line), within the daily Odds API credit budget.")
@alert_on_exception
def odds_cadence_sensor(context: dg.SensorEvaluationContext, source: SourceResource,
                        store: StorageResource) -> dg.SensorResult:
    now = clock.now()
    day = league_date(now).isoformat()
    opening = open_time()
    if now < local_ts(day, opening):  # nothing to read before the books open
        return dg.SensorResult(skip_reason=f"{day}: before the books open ({opening:%H:%M} "
                                           "New York)")
    root, src = store.path(), source.get()
    tips = stored_tips(root, day, now)
    where = "stored schedule_snapshot"
    if tips is None:
        tips, where = collect.schedule_tips(src, day, now, root), "source schedule"
    tips = pd.Series(tips).dropna()
    slots = snapshot_slots(dt.date.fromisoformat(day), tips, opening=opening,
                           interval=interval_minutes())
    last_tip = utc(tips.max()) if len(tips) else None
    decision = next_slot(now, slots, last_tip, context.cursor)
    if decision.slot is None:
        return dg.SensorResult(skip_reason=f"{day}: {decision.reason} ({len(tips)} game(s), "
                                           f"{where})")
    cost = run_cost(src, decision.slot, now, tips)
    budget = daily_budget_from_env()
    if cost and budget is not None:
        spent = CreditLedger.for_root(root).spent(purpose=PIPELINE, day=league_date(now))
        if spent + cost > budget:
            return dg.SensorResult(skip_reason=(
                f"{day}: {decision.reason} skipped: it costs ~{cost} credit(s) and the pipeline "
                f"spent {spent} of its daily budget of {budget} (TIPOFF_ODDS_DAILY_CREDIT_BUDGET)"))
    if decision.missed:
        context.log.info(f"{decision.missed} earlier slot(s) of {day} were never requested "
                         "(sensor stopped or late); only the newest is")
    token = ts_token(decision.slot)
    request = dg.RunRequest(run_key=f"odds-{day}-{token}", partition_key=day,
                            tags={RUN_AS_OF_TAG: decision.slot.isoformat(),
                                  TRIGGER_TAG: "odds_cadence_sensor"})
    context.log.info(f"{day}: requesting the {decision.reason} (~{cost} credit(s))")
    return dg.SensorResult(run_requests=[request], cursor=token)
