"""Settings shared by Tipoff's schedules and sensors, and the wrapper that makes a failing sensor
post an alert (`alert_on_exception`, see `sensors/alerts.py`)."""
from __future__ import annotations

import functools
import os
import re
import time

import dagster as dg

from resources.alerts import SENSOR_FAILED, Alert, AlertResult, send_alert, ui_url
from sensors import clock
from tipoff_core.timeutil import league_date

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


# ----------------------------------------------------------------------------- a failed sensor
REPEAT_ENV = "TIPOFF_ALERT_REPEAT_MINUTES"
CODE_LOCATION_ENV = "TIPOFF_CODE_LOCATION"  # for sensor links; workspace.yaml names it `tipoff`
DEFAULT_CODE_LOCATION = "tipoff"

# Names of the sensor functions wrapped by `alert_on_exception` (a test checks every sensor is).
WATCHED: set[str] = set()
_last_sent: dict[tuple[str, str], float] = {}


def report_sensor_failure(sensor_name: str, exc: BaseException,
                          now: float | None = None) -> AlertResult | None:
    """Post a sensor's exception (None when the same one was posted within the repeat window)."""
    text = f"{type(exc).__name__}: {exc}"[:1500]
    now = time.monotonic() if now is None else now
    window = 60 * float(os.environ.get(REPEAT_ENV) or 60)
    key = (sensor_name, re.sub(r"\d", "#", text))  # same failure, other numbers: same alert
    if key in _last_sent and now - _last_sent[key] < window:
        return None
    _last_sent[key] = now
    location = os.environ.get(CODE_LOCATION_ENV) or DEFAULT_CODE_LOCATION
    return send_alert(Alert(
        SENSOR_FAILED, f"sensor {sensor_name} failed", text,
        date=league_date(clock.now()).isoformat(),
        link=f"{ui_url()}/locations/{location}/sensors/{sensor_name}"))


def _sensor_name(context, default: str) -> str:
    try:  # a context built without a name raises rather than answering None
        return context.sensor_name or default
    except Exception:  # noqa: BLE001
        return default


def alert_on_exception(fn):
    """Sensor-function wrapper (under the @dg.sensor decorator): an exception is posted as an
    alert, then re-raised (the tick fails as before).  Keeps the signature Dagster inspects."""
    WATCHED.add(fn.__name__)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            report_sensor_failure(_sensor_name(kwargs.get("context", args[0] if args else None),
                                               fn.__name__), exc)
            raise

    return wrapper
