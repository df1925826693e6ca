"""Settings shared by Tipoff's schedules and sensors."""
from __future__ import annotations

import os

import dagster as dg

# `TIPOFF_AUTOMATION=on` makes every schedule and sensor start RUNNING when the code location is
# first loaded by a daemon (production); by default they are STOPPED and an operator turns them on
# in the UI (Automation tab) or with `dagster schedule start` / `dagster sensor start`.
AUTOMATION_ENV = "TIPOFF_AUTOMATION"
LEAGUE_TZ_NAME = "America/New_York"


def automation_on() -> bool:
    return os.environ.get(AUTOMATION_ENV, "").strip().lower() in ("1", "on", "true", "running")


def schedule_status() -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if automation_on() else dg.DefaultScheduleStatus.STOPPED


def sensor_status() -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if automation_on() else dg.DefaultSensorStatus.STOPPED
