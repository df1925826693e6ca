"""The clock sensors read: wall time, or `TIPOFF_NOW` (an ISO timestamp) to replay a past day.

Schedules do not need this (they use the tick's scheduled execution time); sensors have no such
time, so a fast-forward test or an operator replaying a day sets `TIPOFF_NOW`.  Never set it on a
production daemon.
"""
from __future__ import annotations

import os

import pandas as pd

from tipoff_core.timeutil import now_utc, utc

CLOCK_ENV = "TIPOFF_NOW"


def now() -> pd.Timestamp:
    raw = os.environ.get(CLOCK_ENV, "").strip()
    return utc(raw).floor("s") if raw else now_utc()
