"""Odds history: when a game day's odds snapshots are taken, and the backfill that takes them for
past dates through the same `collect.fetch` / `collect.write_snapshot` as the `odds_snapshot`
asset.  Plain Python (no Dagster); `odds_cadence_sensor` and `tipoff odds backfill` use it.

Snapshot times of a game day (`snapshot_slots`): every `interval` minutes from the books' opening
(`TIPOFF_ODDS_INTERVAL_MINUTES`, default 15; `TIPOFF_ODDS_OPEN_TIME`, default 10:00 New York), plus
5 minutes before each distinct tip time (so the last snapshot before every tip is its closing
line), none at or after the day's last tip.

The backfill (`backfill`) fetches odds as of each chosen instant of each date -- for a past instant
the live source asks the historical endpoints (resources/sources/live.py) -- and writes them as
`odds_snapshot` runs `live/snapshots/odds/<date>/run=<instant>/`, exactly what the live path would
have written at that instant.  A run already stored is skipped, so a re-run resumes; a refused
payload is quarantined and its snapshot named, the others still written; a credit budget stops
the backfill before the call that would break it, leaving nothing partial (the answers already
paid for are cached, so the re-run does not pay them again).
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline_assets import collect
from pipeline_assets.featureio import latest_per_game
from resources import storage
from resources.cache import invalidate_cache
from resources.sources.base import SourceError
from resources.sources.odds_api import BACKFILL, CreditBudgetExceeded, CreditLedger, int_env
from tipoff_core import catalog
from tipoff_core.timeutil import LEAGUE_TZ, PRE_TIP_MARGIN, local_ts, ts_token, utc

OPEN_TIME_ENV = "TIPOFF_ODDS_OPEN_TIME"
INTERVAL_ENV = "TIPOFF_ODDS_INTERVAL_MINUTES"
DEFAULT_OPEN_TIME = dt.time(10, 0)
DEFAULT_INTERVAL_MINUTES = 15
CLOSE = "close"
OPEN = "open"


# ------------------------------------------------------------------------------ snapshot times
def parse_clock(raw: str, what: str) -> dt.time:
    """'HH:MM' (24 h) as a time; ValueError naming `what` otherwise."""
    try:
        return dt.datetime.strptime(raw.strip(), "%H:%M").time()
    except ValueError:
        raise ValueError(f"{what} {raw!r} is not a time HH:MM (24 h, New York)") from None


def open_time() -> dt.time:
    """When the books open on a game day (New York), `TIPOFF_ODDS_OPEN_TIME`."""
    raw = os.environ.get(OPEN_TIME_ENV, "").strip()
    return parse_clock(raw, OPEN_TIME_ENV) if raw else DEFAULT_OPEN_TIME


def interval_minutes() -> int:
    """Minutes between two snapshots, `TIPOFF_ODDS_INTERVAL_MINUTES` (1..1440)."""
    return int_env(INTERVAL_ENV, DEFAULT_INTERVAL_MINUTES, unit="minutes", low=1, high=24 * 60)


def closing_slots(tips: pd.Series) -> list[pd.Timestamp]:
    """5 minutes before each distinct tip time (the closing line of the games tipping then)."""
    return sorted({utc(t) - PRE_TIP_MARGIN for t in pd.Series(tips).dropna()})


def snapshot_slots(day: dt.date | str, tips: pd.Series, *, opening: dt.time | None = None,
                   interval: int | None = None) -> list[pd.Timestamp]:
    """The odds snapshot instants (UTC) of a game day: every `interval` minutes from `opening`
    (New York) and 5 minutes before each tip, all before the last tip; none without games."""
    tips = pd.Series(tips).dropna()
    if tips.empty:
        return []
    opening = opening or open_time()
    interval = interval or interval_minutes()
    last_tip = max(utc(t) for t in tips)
    start = local_ts(day, opening)
    grid = pd.date_range(start, last_tip, freq=f"{interval}min", inclusive="left")
    slots = {utc(t) for t in grid} | {t for t in closing_slots(tips) if t >= start}
    return sorted(t for t in slots if t < last_tip)


@dataclass(frozen=True)
class SlotPlan:
    """Which instants of each date a backfill takes: `every` minutes (the cadence), or `times`
    -- 'open', 'close' (5 minutes before each tip) and New York clock times."""

    times: tuple = (OPEN, CLOSE)
    every: int | None = None
    opening: dt.time = DEFAULT_OPEN_TIME

    @classmethod
    def parse(cls, times: str | None, every: int | None, opening: dt.time) -> "SlotPlan":
        """From the command line; ValueError (one line) on a bad value."""
        if times is not None and every is not None:
            raise ValueError("give --times or --every, not both")
        if every is not None:
            if not 1 <= every <= 24 * 60:
                raise ValueError(f"--every {every}: minutes between snapshots must be 1..1440")
            return cls(times=(), every=every, opening=opening)
        tokens = [t.strip() for t in (times or f"{OPEN},{CLOSE}").split(",") if t.strip()]
        if not tokens:
            raise ValueError("--times is empty: give open, close and/or HH:MM times")
        parsed = tuple(t if t in (OPEN, CLOSE) else parse_clock(t, "--times value")
                       for t in tokens)
        return cls(times=parsed, every=None, opening=opening)

    def slots(self, day: dt.date | str, tips: pd.Series) -> list[pd.Timestamp]:
        """The instants of `day` (UTC, sorted).  open/close/every need the tip times (none on a
        day without games); a clock time is taken as asked."""
        if self.every is not None:
            return snapshot_slots(day, tips, opening=self.opening, interval=self.every)
        tips = pd.Series(tips).dropna()
        out: set[pd.Timestamp] = set()
        for t in self.times:
            if t == OPEN and len(tips):
                out.add(local_ts(day, self.opening))
            elif t == CLOSE:
                out.update(closing_slots(tips))
            elif isinstance(t, dt.time):
                out.add(local_ts(day, t))
        return sorted(out)


def stored_tips(root: Path, day: str, as_of: pd.Timestamp) -> pd.Series | None:
    """Tip times of `day` from the stored `schedule_snapshot` runs at or before `as_of` (None when
    no run is stored)."""
    table = catalog.snapshot("schedule")
    base = storage.partition_dir(table, day, root)
    tokens = storage.runs_at_or_before(base, as_of)
    if not tokens:
        return None
    return latest_per_game(storage.read_runs(table, day, tokens, root))["tip_ts"]


def day_tips(source, day: str, now: pd.Timestamp, root: Path, opening: dt.time
             ) -> tuple[pd.Series, str]:
    """(tip times of `day`, where they came from): the source's schedule; for a date its schedule
    does not cover (the live CDN publishes one season), the commence times of the historical
    events snapshot at the opening -- the call the opening snapshot makes anyway (cached)."""
    tips = collect.schedule_tips(source, day, now, root)
    event_times = getattr(source, "odds_event_times", None)
    if len(tips) or event_times is None:
        return tips, "schedule"
    try:
        times = event_times(dt.date.fromisoformat(day), local_ts(day, opening))
    except SourceError as exc:
        raise collect.CollectError(exc, collect.quarantine(exc, "odds", day, now, root)) from exc
    return times, "historical events"


# ------------------------------------------------------------------------------------ backfill
@dataclass
class BackfillReport:
    written: list[tuple[str, str]] = field(default_factory=list)     # (date, run token)
    stored: list[tuple[str, str]] = field(default_factory=list)      # already there: skipped
    not_past: list[tuple[str, str]] = field(default_factory=list)    # too recent for history
    refused: dict[tuple[str, str], str] = field(default_factory=dict)
    stopped: str | None = None                                      # why it stopped early
    out_of_credits: bool = False                                    # ... a credit budget
    left: int = 0                                                   # snapshots not reached
    credits: int = 0
    rows: int = 0

    @property
    def complete(self) -> bool:
        return self.stopped is None and not self.refused


def _dates(start: dt.date, end: dt.date) -> list[str]:
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def backfill(source, start: dt.date, end: dt.date, plan: SlotPlan, root: Path, *,
             now: pd.Timestamp, ledger: CreditLedger | None = None,
             log: Callable[[str], None] = print) -> BackfillReport:
    """Odds snapshots of every date in [start, end] at the plan's instants (see the module
    docstring).  `source` is normally a LiveSource whose meter carries the budget; any Source
    works (the simulated league in tests).  The HTTP API's cache entries of the dates written
    are invalidated."""
    report = BackfillReport()
    try:
        return _backfill(source, start, end, plan, root, now, ledger, log, report)
    finally:
        if report.written:  # the API's odds / predictions of these dates are stale
            invalidate_cache("odds", sorted({day for day, _ in report.written}))


def _backfill(source, start, end, plan, root, now, ledger, log, report) -> BackfillReport:
    meter = getattr(source, "odds_meter", None)
    recent = getattr(source, "odds_history_after", pd.Timedelta(0))
    plans: list[tuple[str, list[pd.Timestamp]]] = []
    for day in _dates(start, end):
        try:
            tips, where = day_tips(source, day, now, root, plan.opening)
        except collect.CollectError as exc:
            if isinstance(exc.error, CreditBudgetExceeded) or exc.error.field is None:
                report.stopped = str(exc.error)
                report.out_of_credits = isinstance(exc.error, CreditBudgetExceeded)
                report.left = sum(len(s) for _, s in plans)
                return report
            report.refused[(day, "schedule")] = str(exc)
            continue
        slots = plan.slots(day, tips)
        plans.append((day, slots))
        log(f"{day}: {len(tips)} game(s) ({where}), {len(slots)} snapshot(s) planned")
    todo = [(day, slot) for day, slots in plans for slot in slots]
    for i, (day, slot) in enumerate(todo):
        token = ts_token(slot)
        base = storage.partition_dir(catalog.snapshot("odds"), day, root)
        if token in storage.list_runs(base):
            report.stored.append((day, token))
            continue
        if slot > now - recent:
            report.not_past.append((day, token))
            continue
        spent = meter.spent if meter is not None else 0
        try:
            ex = collect.fetch(source, "odds", day, slot, root)
        except collect.CollectError as exc:
            report.credits += (meter.spent - spent) if meter is not None else 0
            if isinstance(exc.error, CreditBudgetExceeded) or exc.error.field is None:
                # out of credits, or not a payload problem (HTTP, key): the next call would fail
                # the same way -- stop, nothing of this snapshot was written
                report.stopped = str(exc.error)
                report.out_of_credits = isinstance(exc.error, CreditBudgetExceeded)
                report.left = len(todo) - i
                return report
            report.refused[(day, token)] = str(exc)
            log(f"{day} {_local(slot)} ({token}): REFUSED {exc}")
            continue
        folder = collect.write_snapshot(ex, day, slot, root)
        credits = (meter.spent - spent) if meter is not None else 0
        report.credits += credits
        report.rows += len(ex.table)
        report.written.append((day, token))
        if ledger is not None:
            ledger.append({"kind": "snapshot", "ts": now.isoformat(), "purpose": BACKFILL,
                           "date": day, "as_of": slot.isoformat(), "run": token,
                           "rows": len(ex.table), "credits": credits, "new": folder.created})
        n = ex.notes
        priced = f", {n['events_priced']} of {n.get('events', 0)} game(s) priced" \
            if "events_priced" in n else ""
        left = f"; {meter.remaining} left on the account" \
            if meter is not None and meter.remaining is not None else ""
        log(f"{day} {_local(slot)} ({token}): {len(ex.table)} row(s), "
            f"{ex.table['bookmaker'].nunique()} book(s){priced}; {credits} credit(s) "
            f"(backfill total {report.credits}){left}")
    return report


def _local(ts: pd.Timestamp) -> str:
    return utc(ts).tz_convert(LEAGUE_TZ).strftime("%H:%M")
