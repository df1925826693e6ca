"""Tipoff's schedules (America/New_York; STOPPED by default, see sensors.common).

| schedule | when (New York) | job | partition | tags |
|---|---|---|---|---|
| live_morning_schedule | 11:00 daily | live_job | today | run_as_of_ts = tick time |
| live_afternoon_schedule | 16:00 daily | live_job | today | run_as_of_ts = tick time (refresh) |
| overnight_schedule | 03:00 daily | overnight_job | yesterday | labels + gold + model_performance |
| weekly_drift_schedule | Mon 04:00 | performance_job | each of the last 7 days | re-evaluation |
| monthly_retrain_schedule | 1st 05:00 | train_job | - | retrain_reason = monthly |

Every tick's as-of is its scheduled time (not the moment the daemon got to it), so a late or
replayed tick produces exactly the run it would have produced on time; run keys make a tick's
requests idempotent.
"""
from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from sensors import clock
from sensors.common import LEAGUE_TZ_NAME, schedule_status
from tipoff_core.tags import RETRAIN_MONTHLY, RETRAIN_TAG, RUN_AS_OF_TAG, TRIGGER_TAG
from tipoff_core.timeutil import league_date, ts_token, utc


def tick_time(context: dg.ScheduleEvaluationContext) -> pd.Timestamp:
    """The tick's scheduled time in UTC (the clock when evaluated by hand without one)."""
    t = context.scheduled_execution_time
    return utc(t).floor("s") if t is not None else clock.now()


def live_request(context: dg.ScheduleEvaluationContext, slot: str) -> dg.RunRequest:
    t = tick_time(context)
    day = league_date(t).isoformat()
    return dg.RunRequest(run_key=f"live-{day}-{ts_token(t)}", partition_key=day,
                         tags={RUN_AS_OF_TAG: t.isoformat(), TRIGGER_TAG: f"schedule:{slot}"})


@dg.schedule(name="live_morning_schedule", cron_schedule="0 11 * * *", job_name="live_job",
             execution_timezone=LEAGUE_TZ_NAME, default_status=schedule_status(),
             description="Today's slate at 11:00 New York: snapshots as of the tick, live features, "
                         "scores.")
def live_morning_schedule(context: dg.ScheduleEvaluationContext):
    return live_request(context, "live_morning")


@dg.schedule(name="live_afternoon_schedule", cron_schedule="0 16 * * *", job_name="live_job",
             execution_timezone=LEAGUE_TZ_NAME, default_status=schedule_status(),
             description="Afternoon refresh of today's slate at 16:00 New York (later injury "
                         "reports and odds); a new run folder per as-of, LATEST follows it.")
def live_afternoon_schedule(context: dg.ScheduleEvaluationContext):
    return live_request(context, "live_afternoon")


@dg.schedule(name="overnight_schedule", cron_schedule="0 3 * * *", job_name="overnight_job",
             execution_timezone=LEAGUE_TZ_NAME, default_status=schedule_status(),
             description="03:00 New York: yesterday's results and box scores, gold features, and "
                         "next-day validation (model_performance for yesterday).")
def overnight_schedule(context: dg.ScheduleEvaluationContext):
    t = tick_time(context)
    day = (league_date(t) - dt.timedelta(days=1)).isoformat()
    return dg.RunRequest(run_key=f"overnight-{day}-{ts_token(t)}", partition_key=day,
                         tags={RUN_AS_OF_TAG: t.isoformat(), TRIGGER_TAG: "schedule:overnight"})


WEEKLY_DAYS = 7


@dg.schedule(name="weekly_drift_schedule", cron_schedule="0 4 * * 1", job_name="performance_job",
             execution_timezone=LEAGUE_TZ_NAME, default_status=schedule_status(),
             description="Monday 04:00 New York: re-evaluate model_performance for each of the last "
                         "7 days with everything known now (late corrections included); "
                         "drift_sensor reads the result.")
def weekly_drift_schedule(context: dg.ScheduleEvaluationContext):
    t = tick_time(context)
    today = league_date(t)
    for back in range(WEEKLY_DAYS, 0, -1):
        day = (today - dt.timedelta(days=back)).isoformat()
        yield dg.RunRequest(run_key=f"weekly-performance-{day}-{ts_token(t)}", partition_key=day,
                            tags={RUN_AS_OF_TAG: t.isoformat(), TRIGGER_TAG: "schedule:weekly_drift"})


@dg.schedule(name="monthly_retrain_schedule", cron_schedule="0 5 1 * *", job_name="train_job",
             execution_timezone=LEAGUE_TZ_NAME, default_status=schedule_status(),
             description="05:00 New York on the 1st: retrain both models on every labelled game; "
                         "promotion still goes through the gate.")
def monthly_retrain_schedule(context: dg.ScheduleEvaluationContext):
    t = tick_time(context)
    month = league_date(t).strftime("%Y-%m")
    return dg.RunRequest(run_key=f"retrain-monthly-{month}",
                         tags={RETRAIN_TAG: RETRAIN_MONTHLY, TRIGGER_TAG: "schedule:monthly_retrain"})


automation_schedules = [live_morning_schedule, live_afternoon_schedule, overnight_schedule,
                        weekly_drift_schedule, monthly_retrain_schedule]
