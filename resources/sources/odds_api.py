"""The Odds API v4: what each call costs, the credit budgets checked before every call, the ledger
of credits spent and the cache of historical answers.  Plain Python (no Dagster).

Endpoints the live source calls (logical names) and their cost in credits (The Odds API's usage
quota; https://the-odds-api.com/liveapi/guides/v4/):

  oddsapi.v4.odds                    GET /v4/sports/basketball_nba/odds              markets x regions
  oddsapi.v4.historical.events       GET /v4/historical/sports/basketball_nba/events   1 (0 if empty)
  oddsapi.v4.historical.event_odds   GET /v4/historical/sports/basketball_nba/events/{id}/odds
                                                                               10 x markets x regions

Every answer carries `x-requests-remaining` (credits left in the plan's period), `x-requests-used`
and `x-requests-last` (what this call cost); the ledger records them, and a meter refuses a call
the remaining credits cannot pay for.

Budgets.  A `CreditMeter` checks the cost of the next call, *before* making it, against
  * its own `budget` -- the credits one `tipoff odds backfill` may spend (`--budget`, else
    `TIPOFF_ODDS_CREDIT_BUDGET`);
  * the pipeline's `daily_budget` -- the credits the Dagster runs (purpose "pipeline") may spend
    per New York day, summed from the ledger across processes (`TIPOFF_ODDS_DAILY_CREDIT_BUDGET`,
    default 500);
  * the account's remaining credits (the last `x-requests-remaining` seen);
and raises `CreditBudgetExceeded` (a SourceError naming the endpoint and the numbers) instead of
calling.  The Odds API key never reaches the ledger or the cache.

Files under `<data root>/ops/`: `odds_credits.jsonl`, one JSON line per call (`ts`, `purpose`,
`endpoint`, `credits`, `estimated`, `remaining`, `used`, `date`, `as_of`, `cached`) and one per
snapshot a backfill completed (`kind: snapshot`), appended under a lock; `odds_api_cache/`, the body
of every historical answer by request (a snapshot of the past never changes), so a backfill
interrupted mid-snapshot pays nothing twice when it resumes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resources import storage
from resources.sources.base import SourceError
from resources.sources.http import is_secret_param
from tipoff_core.domain.betting import decimal_to_american as _decimal_to_american
from tipoff_core.timeutil import clock_now, league_date

EP_ODDS = "oddsapi.v4.odds"
EP_HISTORICAL_EVENTS = "oddsapi.v4.historical.events"
EP_HISTORICAL_EVENT_ODDS = "oddsapi.v4.historical.event_odds"
SPORT = "basketball_nba"
ODDS_PATH = f"/v4/sports/{SPORT}/odds"
HISTORICAL_EVENTS_PATH = f"/v4/historical/sports/{SPORT}/events"
HISTORICAL_EVENT_ODDS_PATH = f"/v4/historical/sports/{SPORT}/events/{{event_id}}/odds"
MARKETS = ("h2h", "spreads", "totals")

CREDIT_BUDGET_ENV = "TIPOFF_ODDS_CREDIT_BUDGET"
DAILY_BUDGET_ENV = "TIPOFF_ODDS_DAILY_CREDIT_BUDGET"
DEFAULT_DAILY_BUDGET = 500
PIPELINE, BACKFILL = "pipeline", "backfill"
LEDGER_FILE = "odds_credits.jsonl"
CACHE_FOLDER = "odds_api_cache"
HISTORICAL_MULTIPLIER = 10


def call_cost(endpoint: str, markets: int = 1, regions: int = 1) -> int:
    """Credits a call costs at most (historical events cost 0 when the snapshot has none)."""
    if endpoint == EP_HISTORICAL_EVENTS:
        return 1
    if endpoint == EP_HISTORICAL_EVENT_ODDS:
        return HISTORICAL_MULTIPLIER * markets * regions
    if endpoint == EP_ODDS:
        return markets * regions
    raise ValueError(f"unknown Odds API endpoint {endpoint!r}")


def count(csv: str) -> int:
    """How many comma-separated names (markets, regions) a parameter holds."""
    return len([x for x in str(csv).split(",") if x.strip()])


def decimal_to_american(price: float) -> float:
    """A decimal price (stake included, > 1) as a whole American price: 1.91 -> -110, 3.3 -> 230.
    Raises ValueError for a decimal price that is not above 1."""
    if not (isinstance(price, (int, float)) and math.isfinite(price) and price > 1):
        raise ValueError(f"decimal price must be a number above 1, got {price!r}")
    return float(np.round(_decimal_to_american(float(price))))


def int_env(name: str, default: int | None = None, *, unit: str = "credits", low: int = 0,
            high: int | None = None) -> int | None:
    """A whole number in [low, high] from the environment (unset/empty: `default`); ValueError
    naming the variable otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number of {unit}") from None
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name}={raw!r} must be {bounds} {unit}")
    return value


def daily_budget_from_env() -> int | None:
    """`TIPOFF_ODDS_DAILY_CREDIT_BUDGET` (default 500); 0 means no Odds API call at all."""
    return int_env(DAILY_BUDGET_ENV, DEFAULT_DAILY_BUDGET)


class CreditBudgetExceeded(SourceError):
    """The next Odds API call would spend more than a budget allows; nothing was requested."""

    def __init__(self, endpoint: str, message: str):
        super().__init__("live", endpoint, message)


# ------------------------------------------------------------------------------------ ledger
class CreditLedger:
    """The credits spent (JSON lines) and the cache of historical answers, in one folder (or a
    callable returning it, resolved at each use: the data root may change between runs)."""

    def __init__(self, folder: Path | Callable[[], Path]):
        self._folder = folder

    @classmethod
    def for_root(cls, root: Path | None = None) -> "CreditLedger":
        """The ledger of a data root (default: the current `storage.data_root()`)."""
        if root is not None:
            return cls(Path(root) / "ops")
        return cls(lambda: storage.data_root() / "ops")

    @property
    def folder(self) -> Path:
        return Path(self._folder() if callable(self._folder) else self._folder)

    @property
    def path(self) -> Path:
        return self.folder / LEDGER_FILE

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(dict(record), sort_keys=True, default=str) + "\n"
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with storage.locked(path), open(path, "a") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def records(self) -> list[dict]:
        """Every record; a line torn by a crash mid-write is skipped."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def spent(self, *, purpose: str | None = None, day: dt.date | None = None) -> int:
        """Credits of the recorded calls (of one purpose, on one New York day)."""
        total = 0
        for r in self.records():
            if r.get("kind", "call") != "call":
                continue
            if purpose is not None and r.get("purpose") != purpose:
                continue
            if day is not None and league_date(pd.Timestamp(r["ts"])) != day:
                continue
            total += int(r.get("credits") or 0)
        return total

    @staticmethod
    def request_key(path: str, params: Mapping[str, Any]) -> str:
        """Identity of a request without its secrets (the cache key)."""
        kept = sorted((k, str(v)) for k, v in params.items() if not is_secret_param(k))
        return hashlib.sha256(json.dumps([path, kept]).encode()).hexdigest()

    def cached(self, key: str) -> bytes | None:
        try:
            return (self.folder / CACHE_FOLDER / f"{key}.json").read_bytes()
        except FileNotFoundError:
            return None

    def store(self, key: str, body: bytes) -> None:
        storage.atomic_write_bytes(self.folder / CACHE_FOLDER / f"{key}.json", body)


# ------------------------------------------------------------------------------------- meter
Budget = int | None | Callable[[], "int | None"]


class CreditMeter:
    """Checks every Odds API call against the budgets before it is made and records what it
    cost.  `ledger=None` keeps the count in memory only (tests, ad-hoc use)."""

    def __init__(self, ledger: CreditLedger | None = None, *, budget: Budget = None,
                 daily_budget: Budget = None, purpose: str = PIPELINE,
                 clock: Callable[[], pd.Timestamp] = clock_now):
        self.ledger = ledger
        self._budget, self._daily_budget = budget, daily_budget
        self.purpose = purpose
        self.clock = clock
        self.spent = 0          # credits this meter's calls cost
        self.calls = 0          # requests made (cache hits excluded)
        self.cache_hits = 0
        self.remaining: int | None = None   # the account's credits left, from the last answer
        self.used: int | None = None

    @classmethod
    def from_env(cls) -> "CreditMeter":
        """The pipeline's meter: ledger under the data root, daily budget from the environment
        (both read at each call, so a long-lived process follows the current settings)."""
        return cls(CreditLedger.for_root(), daily_budget=daily_budget_from_env, purpose=PIPELINE)

    @property
    def budget(self) -> int | None:
        return self._budget() if callable(self._budget) else self._budget

    @property
    def daily_budget(self) -> int | None:
        return self._daily_budget() if callable(self._daily_budget) else self._daily_budget

    def spent_today(self) -> int:
        """Credits the pipeline spent today (New York date of the clock), from the ledger."""
        if self.ledger is None:
            return self.spent
        return self.ledger.spent(purpose=PIPELINE, day=league_date(self.clock()))

    def check(self, endpoint: str, cost: int) -> None:
        """Raise CreditBudgetExceeded when a call costing `cost` would break a budget."""
        budget = self.budget
        if budget is not None and self.spent + cost > budget:
            raise CreditBudgetExceeded(endpoint, (
                f"credit budget reached: this call costs {cost} credit(s) and {self.spent} of "
                f"the budget of {budget} are spent (raise --budget or {CREDIT_BUDGET_ENV}; a "
                "re-run resumes where this one stopped)"))
        daily = self.daily_budget
        if daily is not None and self.purpose == PIPELINE:
            today = self.spent_today()
            if today + cost > daily:
                raise CreditBudgetExceeded(endpoint, (
                    f"daily credit budget reached: this call costs {cost} credit(s) and the "
                    f"pipeline spent {today} of {daily} today "
                    f"({league_date(self.clock()).isoformat()}, New York; raise "
                    f"{DAILY_BUDGET_ENV} or wait for tomorrow)"))
        if self.remaining is not None and cost > self.remaining:
            raise CreditBudgetExceeded(endpoint, (
                f"the Odds API account has {self.remaining} credit(s) left (x-requests-remaining)"
                f" and this call costs {cost}"))

    def record(self, endpoint: str, estimate: int, headers: Mapping[str, str], *,
               context: Mapping[str, Any] | None = None) -> int:
        """Book a call that was made: its cost from `x-requests-last` (else the estimate)."""
        last = _int_header(headers, "x-requests-last")
        self.remaining = _int_header(headers, "x-requests-remaining", self.remaining)
        self.used = _int_header(headers, "x-requests-used", self.used)
        credits = estimate if last is None else last
        self.spent += credits
        self.calls += 1
        if self.ledger is not None:
            self.ledger.append({"kind": "call", "ts": self.clock().isoformat(),
                                "purpose": self.purpose, "endpoint": endpoint,
                                "credits": credits, "estimated": last is None,
                                "remaining": self.remaining, "used": self.used,
                                **dict(context or {})})
        return credits

    def summary(self) -> dict:
        return {"credits_spent": self.spent, "calls": self.calls, "cache_hits": self.cache_hits,
                "credits_remaining": self.remaining}


def _int_header(headers: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = headers.get(name)
    try:
        return int(float(raw)) if raw not in (None, "") else default
    except (TypeError, ValueError):
        return default
