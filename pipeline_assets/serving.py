"""What the HTTP API (`tipoff serve`, `pipeline_assets/api.py`) answers, as plain functions over
the stores: no FastAPI here.

* `Service.slate(date)`     the stored `game_scores` run of a date a reader uses now (`PINNED`, else
                            the newest: `storage.select_run`), one record per game;
* `Service.predict(...)`    an on-demand prediction of any matchup on any date from today on, as of
                            now: a schedule-shaped target row (the scheduled game when the matchup
                            is on the date's schedule, else a made-up one tipping 19:30 New York),
                            the date's snapshot runs at or before now (`featureio.read_live_inputs`)
                            and the stored label history, through the same builders live features
                            use (`featureio.features_from_tables`, cutoff = min(now, tip)); then the
                            production models (`scoring.load_production_models`), the Monte Carlo
                            and the stake (`scoring.score_game_table`) for the prices given;
                            With `TIPOFF_AB_SPLIT=0.1` a deterministic share of requests (a
                            hash of the request: the same request always lands in the same arm)
                            is answered by the shadow candidate (`variant: treatment`) instead of
                            production (`control`); computed answers of both arms go to the
                            predictions log (`kind=on_demand`, `variant`, `role`);
* `Service.game(game_id)`   a game's latest prediction, its result once final (`game_results`) and
                            its latest in-game score (`halftime_scores`);
* `Service.health()`        model versions, data freshness, cache status.

With the predictions log in PostgreSQL (`TIPOFF_PREDICTIONS_URL=postgresql+psycopg2://...`) slates
and game predictions are read from the log (`record_json` keeps each scored row), not from the file
store: several API processes behind a load balancer answer from one truth and share one Redis.

Answers go through the Redis cache (`resources.cache.Cache`) when it is reachable and straight to
the stores when it is not.  Models, label history and a date's snapshot inputs are also kept in
process, re-read when their files change.
"""
from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import logging
import math
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from pipeline_assets import scoring
from pipeline_assets.featureio import (DEFAULT_MAX_AGE_HOURS, History, LivePolicy,
                                       features_from_tables, latest_per_game, load_history,
                                       read_live_inputs)
from pipeline_assets.features.asof import one_book_consensus
from pipeline_assets.ratings import franchises
from resources import storage
from resources.cache import Cache
from resources.predictions_log import ON_DEMAND, PRODUCTION, SHADOW, PredictionsLog
from resources.registry import ModelRegistry, NoProductionModelError
from tipoff_core import catalog
from tipoff_core.schemas import SNAPSHOT_KINDS, empty_frame, restore_dtypes
from tipoff_core.timeutil import (DEFAULT_TIP_LOCAL, LEAGUE_TZ, clock_now, local_ts,
                                  parse_ts_token, season_of, to_date, ts_token)

QUANTILES = ("p05", "p25", "p50", "p75", "p95")
REQUEST_BOOK = "request"          # bookmaker name of the prices a /predict caller gives
TS = "datetime64[us, UTC]"
RECHECK_SECONDS = 2.0             # how often in-process copies look at their files again
SERVE_SIMS_ENV = "TIPOFF_SERVE_SIMS"
GRID_MAX_AGE = 15 * 60            # seconds after which a date's matchup grid is rebuilt (in the
                                  # background: the old one answers meanwhile)
AB_SPLIT_ENV = "TIPOFF_AB_SPLIT"
CONTROL, TREATMENT = "control", "treatment"   # the arms: production answers / the candidate does
LOG = logging.getLogger("tipoff.serve")
# The columns of the live features the market (odds) enters; a request's prices replace them.
MARKET_GAME_COLUMNS = ("mkt_available", "mkt_n_books", "mkt_prob_home", "mkt_home_spread",
                       "mkt_total")


class ServingError(ValueError):
    """A request the caller must fix: `status` is the HTTP status the API answers with."""

    status = 400


class NotFound(ServingError):
    status = 404


class Unavailable(ServingError):
    status = 503


# ----------------------------------------------------------------------------- small helpers

def _num(v):
    """JSON-safe scalar: NaN/NA -> None, numpy -> Python."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _iso(v) -> str | None:
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    return pd.Timestamp(v).tz_convert("UTC").isoformat() if pd.Timestamp(v).tzinfo else \
        pd.Timestamp(v).tz_localize("UTC").isoformat()


def check_date(day: str) -> str:
    try:
        return catalog.check_partition(day)
    except catalog.BadKeyError as exc:
        raise ServingError(str(exc).replace("partition", "date", 1)) from None


def _pinned(base: Path) -> str | None:
    try:
        return (base / storage.PINNED).read_text().strip() or None
    except OSError:
        return None


def ab_split_from_env() -> float:
    """`TIPOFF_AB_SPLIT`: the share of /v1/predict requests the shadow candidate answers (0: off)."""
    raw = os.environ.get(AB_SPLIT_ENV, "").strip()
    try:
        share = float(raw) if raw else 0.0
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"{AB_SPLIT_ENV}={raw!r}: give the candidate's share of /v1/predict "
                         "traffic as a number from 0 to 1 (e.g. 0.1)")
    return share


def ab_arm(share: float, *request) -> str:
    """The arm of a request: a hash of the request's parts mapped to [0, 1), so the same request
    always gets the same arm and `share` of distinct requests go to the treatment."""
    h = hashlib.sha256("|".join(map(str, request)).encode()).digest()
    return TREATMENT if int.from_bytes(h[:8], "big") / 2.0 ** 64 < share else CONTROL


def league_today(now: pd.Timestamp) -> dt.date:
    return now.tz_convert(LEAGUE_TZ).date()


@dataclass
class _Memo:
    """One in-process value with the fingerprint of the files it was read from."""

    fingerprint: object = None
    value: object = None
    checked: float = 0.0


@dataclass
class _Flight:
    """One answer being computed; identical requests meanwhile wait for it (single-flight)."""

    done: threading.Event = field(default_factory=threading.Event)
    value: dict | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class Plan:
    """An answer before it is looked up: its cache key (kind, parts) and how to compute it."""

    kind: str
    parts: tuple
    produce: Callable[[], dict]


@dataclass
class MatchupGrid:
    """Live features of every ordered pair of teams on one date (see `Service.grid`)."""

    day: str
    as_of: pd.Timestamp
    fingerprint: object
    built: float
    checked: float
    targets: pd.DataFrame
    games: pd.DataFrame
    players: pd.DataFrame
    index: dict
    scheduled: dict
    by_game: dict
    odds: pd.DataFrame
    # scoring.PriceFree of every pair (aligned with `targets`), per production model versions
    price_free: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- the service

@dataclass
class Service:
    root: Path = field(default_factory=storage.data_root)
    cache: Cache | None = None
    clock: Callable[[], pd.Timestamp] = clock_now  # wall time, or TIPOFF_NOW (replays)
    n_sims: int = field(default_factory=lambda: int(os.environ.get(SERVE_SIMS_ENV) or
                                                    scoring.DEFAULT_N_SIMS))
    policy: scoring.StakePolicy = field(default_factory=scoring.StakePolicy)
    registry: ModelRegistry | None = None
    # Slates and game predictions come from this log when it is given (default: the log of
    # TIPOFF_PREDICTIONS_URL when that is PostgreSQL, else the file store).
    log: PredictionsLog | None = None
    ab_split: float = field(default_factory=ab_split_from_env)
    # On-demand predictions computed at once in this process; more wait their turn.  A miss is
    # ~12 ms of mostly GIL-holding pandas work: 8 at once in one process take twice the CPU each
    # (thread switching on the GIL) and all finish late; one at a time they finish in turn
    # (bench/RESULTS.md).  More processes (`tipoff serve --workers`) are what use more cores.
    predict_slots: int = 1

    def __post_init__(self):
        self.root = Path(self.root)
        self.cache = self.cache if self.cache is not None else Cache()
        self.registry = self.registry or ModelRegistry(self.root / "models")
        if self.log is None and os.environ.get("TIPOFF_PREDICTIONS_URL", "").startswith(
                "postgresql"):
            self.log = PredictionsLog()
        teams = franchises()
        self.teams = {int(t): str(a) for t, a in zip(teams["team_id"], teams["team"])}
        self.by_abbr = {a.upper(): t for t, a in self.teams.items()}
        self._lock = threading.RLock()
        self._models = _Memo()
        self._history = _Memo()
        self._inputs: dict[str, _Memo] = {}
        self._grids: dict[str, MatchupGrid] = {}
        self._refreshing: set[str] = set()
        self._price_lock = threading.Lock()
        self._slots = threading.Semaphore(max(1, int(self.predict_slots)))
        self._game_dates: dict[str, str] = {}
        self._indexed: dict[str, str | None] = {}
        self._index_checked = 0.0
        self._shadow = _Memo()
        self._tags: dict[str, _Memo] = {}
        self._flights: dict[tuple, _Flight] = {}
        self._flights_lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._written: list[Future] = []
        self._fallback_log: PredictionsLog | None = None
        self._warm: dict = {"state": "not started"}

    # ------------------------------------------------------------------ teams
    def team_id(self, value: str, side: str) -> int:
        v = (value or "").strip()
        if v.upper() in self.by_abbr:
            return self.by_abbr[v.upper()]
        if v.isdigit() and int(v) in self.teams:
            return int(v)
        raise ServingError(f"unknown team {value!r} for {side}; use a tricode "
                           f"({', '.join(sorted(self.by_abbr))}) or a team id")

    def team(self, team_id) -> dict:
        t = int(team_id)
        return {"team_id": t, "abbr": self.teams.get(t, str(t))}

    # ------------------------------------------------------------------ models
    def production_versions(self) -> dict[str, str | None]:
        return {n: self.registry.production_version(n)
                for n in (scoring.WIN_FREE, scoring.WIN_MARKET, scoring.MINUTES)}

    def models(self) -> scoring.ProductionModels:
        versions = self.production_versions()
        with self._lock:
            if self._models.fingerprint != versions or self._models.value is None:
                try:
                    self._models.value = scoring.load_production_models(self.registry)
                except NoProductionModelError as exc:
                    raise Unavailable(f"no production model: {exc} (train first: "
                                      "`tipoff demo` or train_job)") from None
                self._models.fingerprint = versions
            return self._models.value

    def model_metadata(self) -> dict:
        """Production versions with their metadata (cache kind `model`, keyed by the versions)."""
        versions = self.production_versions()
        tag = "-".join(str(v) for v in versions.values())

        def produce():
            out = {}
            listing = self.registry.list_versions()
            for name, version in versions.items():
                row = listing[(listing["name"] == name) & (listing["version"] == version)] \
                    if version and len(listing) else listing.iloc[0:0]
                rec = row.iloc[0].to_dict() if len(row) else {}
                out[name] = {"version": version, "created_at": _num(rec.get("created_at")),
                             "promoted_at": _num(rec.get("promoted_at"))}
            return out
        value, _ = self.cache.get_or_set("model", ("production", tag), produce)
        return value

    # ------------------------------------------------------------------ history and inputs
    def _label_fingerprint(self):
        out = []
        for kind in ("results", "box_scores"):
            folder = storage.table_folder(catalog.label(kind), self.root)
            days = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            last = folder / days[-1] / catalog.label(kind).file if days else None
            out.append((len(days), days[-1] if days else None,
                        last.stat().st_mtime_ns if last and last.exists() else None))
        return tuple(out)

    def history(self) -> History:
        """Every stored label (results, box scores), re-read when a label date is added/changed."""
        with self._lock:
            m = self._history
            if m.value is None or time.monotonic() - m.checked > RECHECK_SECONDS:
                fp = self._label_fingerprint()
                if fp != m.fingerprint or m.value is None:
                    m.value, m.fingerprint = load_history(self.root, "9999-12-31"), fp
                m.checked = time.monotonic()
            return m.value

    def _snapshot_fingerprint(self, day: str):
        days = [(to_date(day) - dt.timedelta(days=b)).isoformat()
                for b in range(LivePolicy().roster_fallback_days + 1)]
        return tuple((k, d, tuple(storage.list_runs(storage.partition_dir(
            catalog.snapshot(k), d, self.root)))) for k in SNAPSHOT_KINDS
            for d in (days if k in ("rosters", "injuries") else [day]))

    def data_tag(self, day: str) -> str:
        """A digest of what a date's on-demand answers are computed from (its snapshot runs --
        odds among them -- and the stored labels), re-checked every few seconds: it is part of
        the predict / odds / team keys, so an entry computed from older data is never served
        even where no invalidation reached Redis."""
        with self._lock:
            m = self._tags.setdefault(day, _Memo())
            if m.value is None or time.monotonic() - m.checked > RECHECK_SECONDS:
                m.value = hashlib.sha1(repr((self._snapshot_fingerprint(day),
                                             self._label_fingerprint())).encode()).hexdigest()[:12]
                m.checked = time.monotonic()
            return m.value

    def inputs(self, day: str, now: pd.Timestamp):
        """The snapshot tables of `day` a live run now would read (every kind may be missing)."""
        with self._lock:
            m = self._inputs.setdefault(day, _Memo())
            if m.value is None or time.monotonic() - m.checked > RECHECK_SECONDS:
                fp = self._snapshot_fingerprint(day)
                if fp != m.fingerprint or m.value is None:
                    policy = LivePolicy(max_age_hours={k: 1e9 for k in DEFAULT_MAX_AGE_HOURS},
                                        allow_missing=SNAPSHOT_KINDS)
                    m.value = read_live_inputs(day, now, self.root, policy)
                    m.fingerprint = fp
                m.checked = time.monotonic()
            return m.value

    # ------------------------------------------------------------------ slates
    def _slate_run(self, day: str) -> tuple[Path, str]:
        base = storage.partition_dir(catalog.table("game_scores"), day, self.root)
        token = storage.select_run(base) if base.is_dir() else None
        if token is None:
            raise NotFound(f"no scored slate for {day} (game_scores has no run: run live_job or "
                           f"`tipoff run --date {day}`)")
        return base, token

    # ------------------------------------------------------------------ answers
    def answer(self, plan: Plan) -> dict:
        """The plan's value from the cache, else computed (and cached), with `cached`.  Identical
        requests that miss together compute it once: the first computes, the others wait for
        its value (single-flight; an on-demand miss is CPU-bound, so N copies would each take N
        times as long)."""
        hit = self.cache.get(plan.kind, *plan.parts)
        if hit is not None:
            return {**hit, "cached": True}
        key = (plan.kind, plan.parts)
        with self._flights_lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return {**flight.value, "cached": False}
        try:
            flight.value = plan.produce()
            self.cache.set(plan.kind, flight.value, *plan.parts)
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._flights_lock:
                self._flights.pop(key, None)
            flight.done.set()
        return {**flight.value, "cached": False}

    def cached_bytes(self, plan: Plan) -> bytes | None:
        """The cached answer as JSON bytes with `"cached": true`, without decoding it (the
        API's fast path); None on a miss."""
        raw = self.cache.get_raw(plan.kind, *plan.parts)
        if raw is None or len(raw) < 3 or not raw.startswith(b"{"):
            return None
        return b'{"cached":true,' + raw[1:]

    def plan_slate(self, day: str) -> Plan:
        day = check_date(day)
        if self.log is not None:
            token, iso = self._log_slate_run(day)
            return Plan("slate", (day, token), lambda: self._read_log_slate(day, token, iso))
        base, token = self._slate_run(day)
        return Plan("slate", (day, token), lambda: self._read_slate(day, base, token))

    def _slate_token(self, day: str) -> str:
        return self._log_slate_run(day)[0] if self.log is not None else self._slate_run(day)[1]

    def _slate_value(self, day: str) -> dict:
        if self.log is not None:
            return self._read_log_slate(day, *self._log_slate_run(day))
        return self._read_slate(day, *self._slate_run(day))

    def _log_slate_run(self, day: str) -> tuple[str, str]:
        """(run token, logged run_as_of_ts) of the date's newest production slate in the log; an
        operator's PINNED run when the file store has one and the log holds it."""
        iso = self.log.latest_run(day)
        if iso is None:
            raise NotFound(f"no scored slate for {day} in the predictions log (run live_job or "
                           f"`tipoff run --date {day}`)")
        pin = _pinned(storage.partition_dir(catalog.table("game_scores"), day, self.root))
        if pin and pin != ts_token(pd.Timestamp(iso)):
            pinned_iso = parse_ts_token(pin).isoformat()
            if self.log.run_records(day, pinned_iso):
                return pin, pinned_iso
        return ts_token(pd.Timestamp(iso)), iso

    def _read_log_slate(self, day: str, token: str, iso: str) -> dict:
        """`_read_slate` from the predictions log (the rows of one logged production run)."""
        rows = self.log.run_records(day, iso)
        rows.sort(key=lambda vr: (str(vr[1].get("tip_ts")), str(vr[1].get("game_id"))))
        version = rows[0][0] if rows else None
        games = [self._game_record(r, v, token) for v, r in rows]
        pin = _pinned(storage.partition_dir(catalog.table("game_scores"), day, self.root))
        return {"date": day, "run": token, "pinned": pin == token,
                "run_as_of_ts": parse_ts_token(token).isoformat(), "model_version": version,
                "with_market_version": rows[0][1].get("with_market_version") if rows else None,
                "source": rows[0][1].get("source") if rows else None, "games": games}

    def slate(self, day: str) -> dict:
        return self.answer(self.plan_slate(day))

    def _read_slate(self, day: str, base: Path, token: str) -> dict:
        folder = base / f"run={token}"
        table = storage.read_parquet(folder / catalog.table("game_scores").file)
        try:
            summary = json.loads((folder / "summary.json").read_text())
        except (OSError, ValueError):
            summary = {}
        version = summary.get("model_version")
        games = [self._game_record(r, version, token) for r in table.to_dict("records")]
        return {"date": day, "run": token, "pinned": _pinned(base) == token, "run_as_of_ts": parse_ts_token(token).isoformat(),
                "model_version": version,
                "with_market_version": summary.get("with_market_version"),
                "source": summary.get("source"), "games": games}

    def _game_record(self, r: dict, version: str | None, token: str) -> dict:
        rec = r.get("recommendation") or "none"
        edge_home = _num(r.get("edge_home"))
        return {
            "game_id": str(r["game_id"]), "game_date": str(r["game_date"]),
            "tip_ts": _iso(r.get("tip_ts")),
            "home": self.team(r["home_team_id"]), "away": self.team(r["away_team_id"]),
            "p_home_win": _num(r["p_home_win"]),
            "p_home_win_with_market": _num(r.get("p_home_win_with_market")),
            "p_home_win_mc": _num(r.get("p_home_win_mc")),
            "margin": {"mean": _num(r.get("margin_mean")), "sd": _num(r.get("margin_sd")),
                       **{q: _num(r.get(f"margin_{q}")) for q in QUANTILES}},
            "total": {"mean": _num(r.get("total_mean")), "sd": _num(r.get("total_sd")),
                      **{q: _num(r.get(f"total_{q}")) for q in QUANTILES}},
            "p_overtime": _num(r.get("p_overtime")),
            "market": {"p_home": _num(r.get("p_market_home")),
                       "home_spread": _num(r.get("market_home_spread")),
                       "total": _num(r.get("market_total")),
                       "best_home_ml": _num(r.get("best_home_ml")),
                       "best_away_ml": _num(r.get("best_away_ml"))},
            "p_home_cover": _num(r.get("p_home_cover")), "p_over": _num(r.get("p_over")),
            "edge_home": edge_home,
            "recommendation": rec,
            "edge": None if rec == "none" or edge_home is None else
            (edge_home if rec == "home" else -edge_home),
            "stake": _num(r.get("stake_home") if rec == "home" else r.get("stake_away")
                          if rec == "away" else 0.0),
            "stake_home": _num(r.get("stake_home")), "stake_away": _num(r.get("stake_away")),
            "markets": scoring.markets_block(r),
            "model_version": version,
            "run": token, "run_as_of_ts": _iso(r.get("run_as_of_ts")) or
            parse_ts_token(token).isoformat(),
        }

    # ------------------------------------------------------------------ on-demand predictions
    def predict(self, home: str, away: str, day: str, *, spread: float | None = None,
                total: float | None = None, home_ml: float | None = None,
                away_ml: float | None = None) -> dict:
        return self.answer(self.plan_predict(home, away, day, spread=spread, total=total,
                                             home_ml=home_ml, away_ml=away_ml))

    def plan_predict(self, home: str, away: str, day: str, *, spread: float | None = None,
                     total: float | None = None, home_ml: float | None = None,
                     away_ml: float | None = None) -> Plan:
        day = check_date(day)
        now = self.clock()
        today = league_today(now)
        if to_date(day) < today:
            raise ServingError(f"date {day} is in the past (today is {today} in New York): "
                               "on-demand predictions are for today and later; a past slate is "
                               f"at /v1/slates/{day}")
        h, a = self.team_id(home, "home"), self.team_id(away, "away")
        if h == a:
            raise ServingError("home and away are the same team")
        prices = {"spread": spread, "total": total, "home_ml": home_ml, "away_ml": away_ml}
        for k, v in prices.items():
            if v is not None and not math.isfinite(v):
                raise ServingError(f"{k} must be a finite number")
        for k in ("home_ml", "away_ml"):
            if prices[k] is not None and -100 < prices[k] < 100:
                raise ServingError(f"{k} {prices[k]} is not an American price (<= -100 or >= 100)")
        versions = self.production_versions()
        if not all(versions.values()):
            raise Unavailable(f"no production model for "
                              f"{', '.join(n for n, v in versions.items() if not v)} (train first)")
        arm, candidate = CONTROL, None
        if self.ab_split > 0:
            candidate = self.shadow().version
            if candidate:
                arm = ab_arm(self.ab_split, day, self.teams[h], self.teams[a],
                             json.dumps(prices, sort_keys=True))
        digest = hashlib.sha1(json.dumps([prices, versions, arm, candidate if arm == TREATMENT
                                          else None], sort_keys=True).encode()).hexdigest()[:16]
        parts = (day, self.teams[h], self.teams[a], self.data_tag(day), digest)
        return Plan("predict", parts, lambda: self._predict(h, a, day, now, prices, arm=arm))

    # ------------------------------------------------------------------ traffic split
    def shadow(self) -> scoring.Shadow:
        """The shadow candidate (`scoring.load_shadow_model`), re-checked every few seconds."""
        with self._lock:
            m = self._shadow
            if m.value is None or time.monotonic() - m.checked > RECHECK_SECONDS:
                fp = (self.production_versions(), self.registry.shadow_version(scoring.WIN_FREE))
                if fp != m.fingerprint or m.value is None:
                    m.value = scoring.load_shadow_model(self.registry, self.models()) \
                        if fp[1] else scoring.Shadow(None)
                    m.fingerprint = fp
                m.checked = time.monotonic()
            return m.value

    def _log_on_demand(self, table: pd.DataFrame, now: pd.Timestamp, version: str, role: str,
                       arm: str) -> None:
        """Queue the answer's predictions-log row (one writer thread: the request does not wait)."""
        rows = scoring.prediction_log_rows(table, now, version, "api", role=role).assign(
            kind=ON_DEMAND, variant=arm, mode=ON_DEMAND)
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="tipoff-log")
            self._written.append(self._writer.submit(self._write_log, rows))

    def _write_log(self, rows: pd.DataFrame) -> int:
        try:
            if self.log is None and self._fallback_log is None:
                self._fallback_log = PredictionsLog()  # the default log (SQLite in the data root)
            return (self.log or self._fallback_log).append(rows)
        except Exception as exc:  # logging never fails an answer already given
            LOG.warning(f"on-demand prediction not logged: {type(exc).__name__}: {exc}")
            return 0

    def flush_log(self) -> int:
        """Wait for the queued on-demand log rows; how many rows were written."""
        with self._lock:
            pending, self._written = self._written, []
        return sum(f.result() for f in pending)

    def target_rows(self, pairs: list[tuple[int, int]], day: str, now: pd.Timestamp,
                    schedule: pd.DataFrame) -> tuple[pd.DataFrame, list[bool]]:
        """Schedule-shaped rows with cutoff_ts = min(now, tip), one per (home, away) pair: the
        scheduled game when the date's schedule has the pair, else a made-up game
        (`Q<date><HOME><AWAY>`, tipping 19:30 New York, neither team's games-left known)."""
        sched = latest_per_game(schedule)
        if len(sched):
            sched = sched[sched["game_date"] == day]
        found = {(int(r.home_team_id), int(r.away_team_id)): i
                 for i, r in enumerate(sched.itertuples())}
        tip = local_ts(day, DEFAULT_TIP_LOCAL)
        made = restore_dtypes(pd.DataFrame({
            "game_id": [f"Q{day.replace('-', '')}{self.teams[h]}{self.teams[a]}" for h, a in pairs],
            "season": season_of(day), "game_date": day, "tip_ts": tip,
            "home_team_id": [h for h, _ in pairs], "away_team_id": [a for _, a in pairs],
            "home_team": [self.teams[h] for h, _ in pairs],
            "away_team": [self.teams[a] for _, a in pairs], "game_type": "regular",
            "neutral_site": False, "home_games_left": None, "away_games_left": None,
            "snapshot_ts": now}), "schedule")
        scheduled = [p in found for p in pairs]
        if any(scheduled):
            real = sched.iloc[[found[p] for p in pairs if p in found]].reset_index(drop=True)
            real = real[made.columns].astype(made.dtypes.to_dict())
            at = np.flatnonzero(scheduled)
            made = pd.concat([made.drop(index=at), real.set_axis(at)]).sort_index()
            made = made.reset_index(drop=True)
        cutoff = made["tip_ts"].where(made["tip_ts"] < now, now)
        return made.assign(cutoff_ts=cutoff.astype(TS)), scheduled

    def target_row(self, h: int, a: int, day: str, now: pd.Timestamp, schedule: pd.DataFrame
                   ) -> tuple[pd.DataFrame, bool]:
        """(one schedule-shaped row with cutoff_ts, whether it is a scheduled game)."""
        rows, scheduled = self.target_rows([(h, a)], day, now, schedule)
        return rows, scheduled[0]

    def _odds_frame(self, gid: str, cutoff: pd.Timestamp, prices: dict) -> pd.DataFrame:
        """The caller's prices as one odds row of bookmaker `request` stamped at the cutoff."""
        return restore_dtypes(self._request_latest(gid, cutoff, prices).drop(columns="cutoff_ts"),
                              "odds")

    def _request_latest(self, gid: str, cutoff: pd.Timestamp, prices: dict) -> pd.DataFrame:
        """`latest_odds` of `_odds_frame` (its one row, stamped at the cutoff, is its own latest)
        without the as-of merge: what a miss prices its stakes from (the tests compare its
        scores with the full path's)."""
        nan = np.nan

        def num(k):
            return nan if prices[k] is None else float(prices[k])
        return pd.DataFrame({
            "game_id": [gid], "cutoff_ts": [cutoff], "bookmaker": [REQUEST_BOOK],
            "home_ml": [num("home_ml")], "away_ml": [num("away_ml")],
            "home_spread": [num("spread")], "total": [num("total")],
            "home_spread_price": [nan], "away_spread_price": [nan], "over_price": [nan],
            "under_price": [nan], "snapshot_ts": [cutoff]})

    def _frames(self, day: str, now: pd.Timestamp) -> dict:
        frames = dict(self.inputs(day, now).frames)
        if not len(frames["rosters"]) and day != league_today(now).isoformat():
            frames["rosters"] = self.inputs(league_today(now).isoformat(), now).frames["rosters"]
        return frames

    def _history_before(self, day: str) -> History:
        hist = self.history()
        return History(hist.results[hist.results["game_date"] < day].reset_index(drop=True),
                       hist.box_scores[hist.box_scores["game_date"] < day].reset_index(drop=True))

    def exact_features(self, h: int, a: int, day: str, now: pd.Timestamp, prices: dict
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, bool]:
        """(game features, player features, target, odds, scheduled) of one matchup through the
        live builders on one target row (what `grid_features` must equal; tests compare)."""
        frames = self._frames(day, now)
        target, scheduled = self.target_row(h, a, day, now, frames["schedule"])
        gid = target["game_id"].iloc[0]
        if any(v is not None for v in prices.values()):
            odds = self._odds_frame(gid, target["cutoff_ts"].iloc[0], prices)
        else:
            o = self.odds(day, now)
            odds = o[o["game_id"] == gid].reset_index(drop=True)
        games, players = features_from_tables(target, self._history_before(day),
                                              frames["injuries"], odds, frames["rosters"])
        return games, players, target, odds, scheduled

    def grid(self, day: str, now: pd.Timestamp) -> MatchupGrid:
        """Live features of every ordered pair of teams on `day` as of now, built in one call of
        the live builders (a request then costs a lookup, not a feature build); rebuilt when a
        snapshot run or a label lands (by the request that finds it: its answer must use the
        new data) and, in the background while the old grid keeps answering, once it is
        GRID_MAX_AGE seconds old (the data unchanged: only the as-of moves)."""
        with self._lock:
            g = self._grids.get(day)
            if g is not None and time.monotonic() - g.checked > RECHECK_SECONDS:
                if g.fingerprint != (self._snapshot_fingerprint(day), self._label_fingerprint()):
                    g = None
                else:
                    g.checked = time.monotonic()
            if g is None:
                g = self._grids[day] = self._build_grid(day, now)
            elif time.monotonic() - g.built >= GRID_MAX_AGE and day not in self._refreshing:
                self._refreshing.add(day)
                threading.Thread(target=self._refresh_grid, args=(day, g), daemon=True,
                                 name=f"tipoff-grid-{day}").start()
            return g

    def _refresh_grid(self, day: str, old: MatchupGrid) -> None:
        """Rebuild an aged grid and its price-free scores off the request path, then swap it in
        (unless the grid was replaced or dropped meanwhile)."""
        try:
            g = self._build_grid(day, self.clock())
            self.price_free(g, self.models())
            with self._lock:
                if self._grids.get(day) is old:
                    self._grids[day] = g
        except Exception as exc:  # the old grid keeps answering; the next request retries
            LOG.warning(f"matchup grid of {day} not refreshed: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._refreshing.discard(day)

    def _build_grid(self, day: str, now: pd.Timestamp) -> MatchupGrid:
        fp = (self._snapshot_fingerprint(day), self._label_fingerprint())
        frames = self._frames(day, now)
        ids = sorted(self.teams)
        pairs = [(h, a) for h in ids for a in ids if h != a]
        targets, scheduled = self.target_rows(pairs, day, now, frames["schedule"])
        odds = self.odds(day, now)
        games, players = features_from_tables(targets, self._history_before(day),
                                              frames["injuries"], odds, frames["rosters"])
        by_game = {gid: idx for gid, idx in players.groupby("game_id", sort=False).indices.items()}
        g = MatchupGrid(day=day, as_of=now, fingerprint=fp, built=time.monotonic(),
                        checked=time.monotonic(), targets=targets, games=games,
                        players=players, index={p: i for i, p in enumerate(pairs)},
                        scheduled=dict(zip(pairs, scheduled)), by_game=by_game,
                        odds=odds)
        # the grid is hundreds of thousands of long-lived objects: out of the collector's
        # generations, so full collections during requests do not rescan them (p99)
        gc.collect()
        gc.freeze()
        return g

    def grid_features(self, h: int, a: int, day: str, now: pd.Timestamp, prices: dict
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, bool]:
        """`exact_features` from the grid: the pair's rows, with the market columns recomputed
        from the caller's prices when it gives any (`one_book_consensus`: the builders'
        `market_consensus` of that one odds row)."""
        return self._grid_pair(h, a, day, now, prices)[2:]

    def _grid_pair(self, h: int, a: int, day: str, now: pd.Timestamp, prices: dict,
                   odds_frame: bool = True):
        """(grid, the pair's position in it, then what `grid_features` returns; without
        `odds_frame` the odds are None when the caller gives prices)."""
        g = self.grid(day, now)
        i = g.index[(h, a)]
        target = g.targets.iloc[[i]].reset_index(drop=True)
        games = g.games.iloc[[i]].reset_index(drop=True)
        gid = target["game_id"].iloc[0]
        players = g.players.iloc[g.by_game.get(gid, [])].reset_index(drop=True)
        if any(v is not None for v in prices.values()):
            odds = self._odds_frame(gid, target["cutoff_ts"].iloc[0], prices) if odds_frame \
                else None
            mkt = one_book_consensus(prices["home_ml"], prices["away_ml"], prices["spread"],
                                     prices["total"])
            for c in MARKET_GAME_COLUMNS:
                games[c] = np.array([mkt[c]]).astype(games[c].dtype)
            players["mkt_abs_spread"] = np.full(len(players), abs(mkt["mkt_home_spread"])
                                                ).astype(players["mkt_abs_spread"].dtype)
        else:
            odds = g.odds[g.odds["game_id"] == gid].reset_index(drop=True)
        return g, i, games, players, target, odds, g.scheduled[(h, a)]

    def price_free(self, g: MatchupGrid, models: scoring.ProductionModels) -> scoring.PriceFree:
        """The grid's `scoring.PriceFree` parts under the production models (every pair in one
        call of the models, kept with the grid): a request then runs only what its prices
        change."""
        key = tuple(models.versions().items())
        parts = g.price_free.get(key)
        if parts is None:
            with self._price_lock:  # once per grid and versions (not under the service lock)
                parts = g.price_free.get(key)
                if parts is None:
                    parts = g.price_free[key] = scoring.price_free(g.games, g.players,
                                                                   models.free, models.market)
        return parts

    def _score_from_grid(self, h: int, a: int, day: str, now: pd.Timestamp, prices: dict,
                         models: scoring.ProductionModels):
        """(the pair's `game_scores` row by production, its grid, target row, odds -- None for
        a caller's prices --, scheduled): the grid's price-free parts and `score_priced`, with
        the caller's prices as their own latest odds row (`_request_latest`)."""
        given = any(v is not None for v in prices.values())
        g, i, games, players, target, odds, scheduled = self._grid_pair(
            h, a, day, now, prices, odds_frame=False)
        latest = self._request_latest(target["game_id"].iloc[0], target["cutoff_ts"].iloc[0],
                                      prices) if given else None
        table = scoring.score_priced(games, players, self.price_free(g, models).take(i),
                                     models.free, models.market, odds, now, self.policy,
                                     self.n_sims, latest=latest)
        return table, g, target, odds, scheduled

    def _predict(self, h: int, a: int, day: str, now: pd.Timestamp, prices: dict,
                 exact: bool = False, arm: str = CONTROL) -> dict:
        with self._slots:  # `predict_slots` at once; compute_ms does not count the wait
            return self._compute_prediction(h, a, day, now, prices, exact, arm)

    def _compute_prediction(self, h: int, a: int, day: str, now: pd.Timestamp, prices: dict,
                            exact: bool, arm: str) -> dict:
        t0 = time.perf_counter()
        given = any(v is not None for v in prices.values())
        models = self.models()
        table, version, role, features_as_of = None, models.free.version, PRODUCTION, now
        if exact or arm == TREATMENT:
            games, players, target, odds, scheduled = (self.exact_features if exact else
                                                       self.grid_features)(h, a, day, now, prices)
            features_as_of = now if exact else self.grid(day, now).as_of
        else:
            table, g, target, odds, scheduled = self._score_from_grid(h, a, day, now, prices,
                                                                      models)
            features_as_of = g.as_of
        if arm == TREATMENT:
            shadow = self.shadow()
            table, problem = scoring.score_shadow(games, players, shadow, models, odds, now,
                                                  self.policy, self.n_sims)
            if table is None:  # the candidate could not answer: production does (arm kept)
                LOG.warning(f"treatment answered by production: {problem}")
            else:
                version, role = shadow.version, SHADOW
        if table is None:
            table = scoring.score_game_table(games, players, models, odds, now, self.policy,
                                             self.n_sims)
        rec = self._game_record(table.iloc[0].to_dict(), version, ts_token(now))
        rec.pop("run")
        rec.update({
            "scheduled": scheduled, "as_of": now.isoformat(),
            "features_as_of": features_as_of.isoformat(),
            "cutoff_ts": _iso(target["cutoff_ts"].iloc[0]),
            "model_versions": models.versions(), "models": self.model_metadata(),
            "prices": {k: v for k, v in prices.items()},
            "prices_source": "request" if given else ("stored odds" if len(odds) else "none"),
            "home": {**rec["home"], "state": self.team_state(h, day)},
            "away": {**rec["away"], "state": self.team_state(a, day)},
            "n_sims": self.n_sims, "compute_ms": round((time.perf_counter() - t0) * 1000, 1),
            "role": role, "variant": arm if self.ab_split > 0 else None,
        })
        if self.ab_split > 0:
            self._log_on_demand(table, now, version, role, arm)
        rec.pop("run_as_of_ts")
        return rec

    def odds(self, day: str, now: pd.Timestamp) -> pd.DataFrame:
        """The stored odds rows of `day` knowable now (cache kind `odds`, 5 min)."""
        def produce():
            o = self.inputs(day, now).frames["odds"]
            o = o[o["snapshot_ts"] <= now]
            return {"records": [{k: _num(v) for k, v in r.items()} for r in o.to_dict("records")]}
        value, _ = self.cache.get_or_set("odds", (day, self.data_tag(day)), produce)
        recs = value["records"]
        return restore_dtypes(pd.DataFrame(recs), "odds") if recs else empty_frame("odds")

    def team_state(self, team_id: int, day: str) -> dict:
        """A team's season record and rest before `day` (cache kind `team`, 6 h)."""
        def produce():
            r = self.history().results
            season = season_of(day)
            r = r[(r["season"] == season) & (r["game_date"] < day)
                  & ((r["home_team_id"] == team_id) | (r["away_team_id"] == team_id))]
            home = r["home_team_id"] == team_id
            won = np.where(home, r["home_pts"] > r["away_pts"], r["away_pts"] > r["home_pts"])
            last = str(r["game_date"].max()) if len(r) else None
            return {"season": season, "games": int(len(r)), "wins": int(won.sum()),
                    "losses": int(len(r) - won.sum()), "last_game_date": last,
                    "rest_days": (to_date(day) - to_date(last)).days - 1 if last else None}
        value, _ = self.cache.get_or_set("team", (day, self.teams.get(team_id, team_id),
                                                  self.data_tag(day)), produce)
        return value

    # ------------------------------------------------------------------ one game
    def game_date(self, game_id: str) -> str | None:
        """The league date of a game: the scored slates and the results, indexed in process."""
        with self._lock:
            if game_id in self._game_dates:
                return self._game_dates[game_id]
            if self.log is not None:
                day = self.log.game_date_of(game_id)
                if day is not None:
                    self._game_dates[game_id] = day
                    return day
            if time.monotonic() - self._index_checked < RECHECK_SECONDS:
                return None  # looked a moment ago: unknown ids do not rescan the store each time
            self._index_checked = time.monotonic()
            folder = storage.table_folder(catalog.table("game_scores"), self.root)
            for day in sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []:
                token = storage.select_run(folder / day)
                if token is None or self._indexed.get(day) == token:
                    continue
                t = storage.read_parquet(folder / day / f"run={token}" /
                                         catalog.table("game_scores").file)
                self._game_dates.update({str(g): day for g in t["game_id"]})
                self._indexed[day] = token
            res = self.history().results
            self._game_dates.update({str(g): str(d) for g, d in
                                     zip(res["game_id"], res["game_date"])
                                     if str(g) not in self._game_dates})
            return self._game_dates.get(game_id)

    def game(self, game_id: str) -> dict:
        return self.answer(self.plan_game(game_id))

    def plan_game(self, game_id: str) -> Plan:
        game_id = (game_id or "").strip()
        if not game_id or len(game_id) > 40 or not game_id.replace("-", "").isalnum():
            raise ServingError(f"game id {game_id!r} is malformed")
        day = self.game_date(game_id)
        if day is None:
            raise NotFound(f"unknown game {game_id!r}: no scored slate or result has it")
        return Plan("game", (game_id, self._game_tag(day)), lambda: self._read_game(game_id, day))

    def _game_tag(self, day: str) -> str:
        """What the game entry depends on: the slate, halftime runs and the label file."""
        parts = []
        try:
            parts.append(self._slate_token(day))
        except NotFound:
            parts.append(None)
        base = storage.partition_dir(catalog.table("halftime_scores"), day, self.root)
        parts.append(storage.select_run(base) if base.is_dir() else None)
        label = storage.partition_dir(catalog.label("results"), day, self.root) / \
            catalog.label("results").file
        parts.append(label.stat().st_mtime_ns if label.exists() else None)
        return hashlib.sha1(repr(parts).encode()).hexdigest()[:12]

    def _read_game(self, game_id: str, day: str) -> dict:
        out: dict = {"game_id": game_id, "game_date": day, "prediction": None, "final": False,
                     "result": None, "in_game": None}
        try:
            slate = self._slate_value(day)
            out["prediction"] = next((g for g in slate["games"] if g["game_id"] == game_id), None)
        except NotFound:
            pass
        label = storage.partition_dir(catalog.label("results"), day, self.root) / \
            catalog.label("results").file
        if label.exists():
            res = storage.read_parquet(label)
            res = res[res["game_id"].astype(str) == game_id]
            if len(res):
                r = res.iloc[0].to_dict()
                hp, ap = int(r["home_pts"]), int(r["away_pts"])
                out["final"] = True
                out["result"] = {
                    "home": self.team(r["home_team_id"]), "away": self.team(r["away_team_id"]),
                    "home_pts": hp, "away_pts": ap, "margin": hp - ap, "total": hp + ap,
                    "winner": "home" if hp > ap else "away",
                    "overtime_periods": _num(r.get("overtime_periods")),
                    "quarters": {side: [_num(r.get(f"{side}_q{i}")) for i in range(1, 5)]
                                 for side in ("home", "away")},
                    "final_ts": _iso(r.get("final_ts"))}
                if out["prediction"]:
                    p = out["prediction"]["p_home_win"]
                    out["result"]["predicted_winner_correct"] = (p >= 0.5) == (hp > ap)
        base = storage.partition_dir(catalog.table("halftime_scores"), day, self.root)
        token = storage.select_run(base) if base.is_dir() else None
        if token:
            t = storage.read_parquet(base / f"run={token}" / catalog.table("halftime_scores").file)
            t = t[t["game_id"].astype(str) == game_id]
            if len(t):
                out["in_game"] = {**{k: _num(v) for k, v in t.iloc[0].to_dict().items()},
                                  "run": token, "run_as_of_ts": parse_ts_token(token).isoformat()}
        if out["prediction"] is None and not out["final"]:
            raise NotFound(f"game {game_id} ({day}) has no prediction and no result yet")
        return out

    # ------------------------------------------------------------------ health
    def health(self) -> dict:
        now = self.clock()
        versions = self.production_versions()
        data: dict = {"root": str(self.root)}
        for name, table in (("latest_results_date", catalog.label("results")),
                            ("latest_slate_date", catalog.table("game_scores"))):
            folder = storage.table_folder(table, self.root)
            days = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
            data[name] = days[-1] if days else None
        data["predictions_from"] = "predictions log" if self.log is not None else "file store"
        if self.log is not None:
            try:
                data["latest_slate_date"] = self.log.latest_date()
            except Exception as exc:  # the log's database is down: report, do not fail
                data["predictions_log_error"] = f"{type(exc).__name__}: {exc}"
        if data["latest_slate_date"]:
            try:
                token = self._slate_token(data["latest_slate_date"])
            except Exception:
                token = None
            if token:
                ts = parse_ts_token(token)
                data["latest_slate_run_as_of_ts"] = ts.isoformat()
                data["latest_slate_age_hours"] = round((now - ts).total_seconds() / 3600, 2)
        cache = self.cache.status()
        try:
            meta = self.model_metadata() if all(versions.values()) else {}
        except Exception as exc:  # the registry's database is unreadable: report, do not fail
            meta = {"error": f"{type(exc).__name__}: {exc}"}
        return {"status": "ok" if all(versions.values()) else "degraded",
                "now": now.isoformat(), "models": versions, "model_metadata": meta,
                "data": data, "cache": cache, "warm": dict(self._warm)}

    # ------------------------------------------------------------------ warm-up
    def warm(self) -> dict:
        """Build what an on-demand request of today reads -- models, the matchup grid, its
        price-free scores -- and run one Monte Carlo, so no user request pays for them (each API
        worker process calls it once at startup, in the background).  Never raises: the state
        (`ready`, or why not) is in `health()`."""
        t0 = time.perf_counter()
        self._warm = {"state": "building", "pid": os.getpid()}
        try:
            now = self.clock()
            day = league_today(now).isoformat()
            h, a = min(self.teams), max(self.teams)
            self._score_from_grid(h, a, day, now, {"spread": -1.5, "total": 220.5,
                                                   "home_ml": -110.0, "away_ml": -110.0},
                                  self.models())
            # what the warm-up loaded (models, the grid's scores, compiled kernels) lives as long
            # as the process: out of the collector's generations, as the grid (p99)
            gc.collect()
            gc.freeze()
            self._warm = {"state": "ready", "date": day, "pid": os.getpid(),
                          "seconds": round(time.perf_counter() - t0, 2)}
        except Exception as exc:  # no model yet, no data: requests build what they need later
            self._warm = {"state": f"not warmed: {type(exc).__name__}: {exc}",
                          "pid": os.getpid()}
            LOG.warning(f"warm-up: {self._warm['state']}")
        return self._warm

    # ------------------------------------------------------------------ invalidation
    def on_live_run(self, day: str) -> dict:
        """A live run (new snapshots, features, scores) of `day` landed: drop its entries and
        warm the slate."""
        from_cache = self.cache.invalidate(day, ("slate", "predict", "team", "odds"))
        from_cache += self.cache.invalidate(None, ("game",))
        with self._lock:
            self._inputs.pop(day, None)
            self._grids.pop(day, None)
            self._tags.pop(day, None)
            self._indexed.pop(day, None)
            self._index_checked = 0.0
        warmed = False
        try:
            self.slate(day)
            warmed = True
        except ServingError:
            pass
        return {"date": day, "deleted": from_cache, "warmed": warmed}

    def on_promotion(self) -> int:
        with self._lock:
            self._shadow = _Memo()
        return self.cache.invalidate(None, ("model", "predict"))

