"""The clock sensors read: wall time, or `TIPOFF_NOW` (an ISO timestamp) to replay a past day.

Schedules do not need this (they use the tick's scheduled execution time); sensors have no such
time, so a fast-forward test or an operator replaying a day sets `TIPOFF_NOW`.  Never set it on a
production daemon.
"""
from __future__ import annotations

import pandas as pd

from tipoff_core.timeutil import CLOCK_ENV, clock_now

__all__ = ["CLOCK_ENV", "now"]


def now() -> pd.Timestamp:
    return clock_now()
