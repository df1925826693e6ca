"""Feature inputs from the store, and feature outputs to it, for the gold and live paths.

Both paths call the same builders (`pipeline_assets.features`) through `features_from_tables`;
they differ only in which targets they pass and in each target's cutoff: gold = tip, live =
min(run_as_of_ts, tip).  No Dagster here: the feature assets, the step runner (`tipoff run`) and
the backtest call these functions.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline_assets.features import (FEATURE_SCHEMA_VERSION, ID_COLUMNS, build_game_features,
                                      build_minutes_features, diff_features)
from resources import storage
from tipoff_core import catalog
from tipoff_core.schemas import SNAPSHOT_KINDS, empty_frame
from tipoff_core.timeutil import parse_ts_token, season_of, to_date, ts_token

# Freshness limits per snapshot kind for live features: age = run_as_of_ts - the snapshot run.
DEFAULT_MAX_AGE_HOURS = {"schedule": 72.0, "injuries": 12.0, "odds": 12.0, "rosters": 48.0}
DEFAULT_ROSTER_FALLBACK_DAYS = 3
TS = "datetime64[us, UTC]"

# --- degrade, don't die: which feeds a live slate cannot do without, and how old is too old.
# A required feed that fails stops the run; any other feed that fails (or is missing, or older
# than its max age) leaves the slate scoring without it, marked degraded.  No schedule, no slate:
# the schedule is always required.
REQUIRED_FEEDS_ENV = "TIPOFF_REQUIRED_FEEDS"    # comma list of snapshot kinds, default schedule
MAX_AGE_HOURS_ENV = "TIPOFF_MAX_AGE_HOURS"      # e.g. "injuries=6,odds=3" (others: defaults)
ALWAYS_REQUIRED = ("schedule",)
FEED_OK, FEED_FALLBACK, FEED_STALE, FEED_MISSING = "ok", "fallback", "stale", "missing"


class LiveInputError(RuntimeError):
    pass


def required_feeds(value: str | list[str] | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The snapshot kinds a live slate requires: `value` (a comma list or a list), else
    $TIPOFF_REQUIRED_FEEDS, else just the schedule (always included).  Unknown kinds raise
    ValueError naming the known ones."""
    if value is None:
        value = os.environ.get(REQUIRED_FEEDS_ENV, "")
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in SNAPSHOT_KINDS]
    if unknown:
        raise ValueError(f"{REQUIRED_FEEDS_ENV} / required_feeds: unknown feed(s) "
                         f"{', '.join(unknown)}; choose from {', '.join(SNAPSHOT_KINDS)}")
    return tuple(k for k in SNAPSHOT_KINDS if k in names or k in ALWAYS_REQUIRED)


def max_age_hours(overrides: dict[str, float | None] | None = None) -> dict[str, float]:
    """Per-feed freshness limits: DEFAULT_MAX_AGE_HOURS, then $TIPOFF_MAX_AGE_HOURS
    ("injuries=6,odds=3"), then `overrides` (None values ignored)."""
    limits = dict(DEFAULT_MAX_AGE_HOURS)
    for item in filter(None, (i.strip() for i in os.environ.get(MAX_AGE_HOURS_ENV, "").split(","))):
        kind, sep, hours = item.partition("=")
        try:
            if not sep or kind.strip() not in limits:
                raise ValueError
            limits[kind.strip()] = float(hours)
        except ValueError:
            raise ValueError(f"{MAX_AGE_HOURS_ENV}: {item!r} is not <feed>=<hours> with a feed "
                             f"among {', '.join(SNAPSHOT_KINDS)}") from None
    limits.update({k: float(v) for k, v in (overrides or {}).items() if v is not None})
    return limits


@dataclass
class History:
    """Label history (all stored dates) shared by every target of a run."""

    results: pd.DataFrame
    box_scores: pd.DataFrame


def load_history(root: Path, until: str) -> History:
    res = storage.read_label_range(catalog.label("results"), None, root)
    box = storage.read_label_range(catalog.label("box_scores"), None, root)
    return History(res[res["game_date"] <= until].reset_index(drop=True),
                   box[box["game_date"] <= until].reset_index(drop=True))


def box_history(root: Path) -> pd.DataFrame:
    """Every stored box-score row with its game's ``season`` (the box weights' training data)."""
    box = storage.read_label_range(catalog.label("box_scores"), None, root)
    results = storage.read_label_range(catalog.label("results"), None, root)
    return box.merge(results[["game_id", "season"]], on="game_id", how="inner")


def latest_per_game(schedule: pd.DataFrame) -> pd.DataFrame:
    """The newest schedule row per game (a game can appear in several snapshot runs)."""
    if schedule.empty:
        return schedule
    s = schedule.sort_values(["game_id", "snapshot_ts"], kind="mergesort")
    return s.drop_duplicates("game_id", keep="last").sort_values(
        ["tip_ts", "game_id"], kind="mergesort", ignore_index=True)


def features_from_tables(targets: pd.DataFrame, history: History, injuries: pd.DataFrame,
                         odds: pd.DataFrame, rosters: pd.DataFrame
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Game and player-game features of `targets` (schedule rows + cutoff_ts) from whole input
    tables: the one call both paths make."""
    games = build_game_features(targets, history.results, history.box_scores, injuries, odds)
    minutes = build_minutes_features(targets, history.results, history.box_scores, injuries,
                                     odds, rosters)
    return games, minutes


# ----------------------------------------------------------------------------- gold

def gold_targets(schedule: pd.DataFrame) -> pd.DataFrame:
    """Every scheduled game (newest row per game) with cutoff = tip."""
    sched = latest_per_game(schedule)
    if sched.empty:
        return empty_frame("schedule").assign(cutoff_ts=pd.Series([], dtype=TS))
    return sched.assign(cutoff_ts=sched["tip_ts"])


def gold_from_tables(schedule: pd.DataFrame, history: History, injuries: pd.DataFrame,
                     odds: pd.DataFrame, rosters: pd.DataFrame
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold game and player-game features (cutoff = tip) of every game of `schedule`."""
    return features_from_tables(gold_targets(schedule), history, injuries, odds, rosters)


def build_gold(dates: list[str], root: Path, history: History | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold game and minutes features for `dates` from the store."""
    hist = history or load_history(root, max(dates))
    # injuries are read over the look-back window too (injury_dates), every other feed by date
    snaps = {k: storage.read_snapshot_history(
        catalog.snapshot(k), injury_dates(dates) if k == "injuries" else dates, root)
        for k in catalog.GOLD_READS}
    return gold_from_tables(snaps["schedule"], hist, snaps["injuries"], snaps["odds"],
                            snaps["rosters"])


def write_gold(games: pd.DataFrame, minutes: pd.DataFrame, dates: list[str], root: Path) -> list[str]:
    """Replace the rows of `dates` in the season files of both feature sets; returns the seasons."""
    by_season: dict[str, list[str]] = {}
    for day in dates:
        by_season.setdefault(season_of(day), []).append(day)
    for fs, df in (("game", games), ("minutes", minutes)):
        table = catalog.feature("gold", fs)
        for season, days in by_season.items():
            storage.write_season_rows(table, season, days, df[df["game_date"].isin(days)], root)
    return sorted(by_season)


# ----------------------------------------------------------------------------- live

def _optional_feeds() -> tuple[str, ...]:
    required = required_feeds()
    return tuple(k for k in SNAPSHOT_KINDS if k not in required)


@dataclass
class LivePolicy:
    """Freshness limits and which feeds may be missing (default: the environment's
    `required_feeds` and `max_age_hours`)."""

    max_age_hours: dict[str, float] = field(default_factory=max_age_hours)
    roster_fallback_days: int = DEFAULT_ROSTER_FALLBACK_DAYS
    # snapshot kinds allowed to be absent, stale or failed (the slate is then degraded)
    allow_missing: tuple[str, ...] = field(default_factory=_optional_feeds)

    @classmethod
    def for_feeds(cls, required=None, max_age: dict[str, float | None] | None = None,
                  roster_fallback_days: int = DEFAULT_ROSTER_FALLBACK_DAYS) -> "LivePolicy":
        req = required_feeds(required)
        return cls(max_age_hours(max_age), roster_fallback_days,
                   tuple(k for k in SNAPSHOT_KINDS if k not in req))

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(k for k in SNAPSHOT_KINDS if k not in self.allow_missing)


@dataclass
class LiveInputs:
    """The snapshot tables a live run sees: per kind the union of the runs at or before the
    as-of (rosters: the newest non-empty run, possibly of an earlier day), with the run tokens and
    date they came from."""

    frames: dict[str, pd.DataFrame]
    tokens: dict[str, list[str]]
    read_day: dict[str, str]
    failures: dict[str, str] = field(default_factory=dict)  # kind -> why its fetch at the as-of failed


@dataclass
class LiveResult:
    games: pd.DataFrame
    minutes: pd.DataFrame
    summary: dict
    coverage: pd.DataFrame


Pending = dict[tuple[str, str], pd.DataFrame]  # (kind, date) -> a run at the as-of not yet stored


def _runs(kind: str, day: str, as_of: pd.Timestamp, root: Path, pending: Pending) -> list[str]:
    tokens = storage.runs_at_or_before(storage.partition_dir(catalog.snapshot(kind), day, root),
                                       as_of)
    if (kind, day) in pending and ts_token(as_of) not in tokens:
        tokens.append(ts_token(as_of))
    return tokens


def _read(kind: str, day: str, tokens: list[str], as_of: pd.Timestamp, root: Path,
          pending: Pending) -> pd.DataFrame:
    stored = [t for t in tokens if not ((kind, day) in pending and t == ts_token(as_of))]
    frame = storage.read_runs(catalog.snapshot(kind), day, stored, root)
    if (kind, day) in pending and ts_token(as_of) in tokens:
        frame = pd.concat([frame, pending[(kind, day)]], ignore_index=True) if len(frame) \
            else pending[(kind, day)]
        frame = frame.drop_duplicates(ignore_index=True)
    return frame


def read_live_inputs(day: str, as_of: pd.Timestamp, root: Path, policy: LivePolicy,
                     pending: Pending | None = None, failures: dict[str, str] | None = None
                     ) -> LiveInputs:
    """The snapshot runs of `day` at or before `as_of` in the store, plus `pending` runs at the
    as-of that are not stored yet (the step runner's collected snapshots), and the feeds whose
    fetch at the as-of failed (`failures`, plus the quarantine records of that as-of)."""
    pending = pending or {}
    frames, tokens, read_day = {}, {}, {}
    for kind in SNAPSHOT_KINDS:
        if kind == "rosters":
            # The newest non-empty roster run wins; before today's roster is published fall back
            # to the previous days' (bounded by roster_fallback_days).
            frames[kind], tokens[kind], read_day[kind] = empty_frame(kind), [], day
            for back in range(policy.roster_fallback_days + 1):
                d = (to_date(day) - dt.timedelta(days=back)).isoformat()
                runs = _runs(kind, d, as_of, root, pending)
                pinned = storage.select_run(storage.partition_dir(catalog.snapshot(kind), d, root),
                                            as_of)
                order = ([pinned] if pinned in runs else []) + [t for t in reversed(runs)
                                                                 if t != pinned]
                found = next(((t, tab) for t in order
                              if len(tab := _read(kind, d, [t], as_of, root, pending))), None)
                if found:
                    frames[kind], tokens[kind], read_day[kind] = found[1], [found[0]], d
                    break
            continue
        tokens[kind], read_day[kind] = _runs(kind, day, as_of, root, pending), day
        frames[kind] = _read(kind, day, tokens[kind], as_of, root, pending)
    earlier = [d for d in injury_dates([day]) if d != day]
    frames["injuries"] = pd.concat(
        [storage.read_snapshot_history(catalog.snapshot("injuries"), earlier, root),
         frames["injuries"]], ignore_index=True).drop_duplicates(ignore_index=True)
    failed = {k: why for k, why in failed_fetches(day, as_of, root).items()
              if (k, day) not in pending}
    failed.update(failures or {})
    return LiveInputs(frames, tokens, read_day, failed)


def failed_fetches(day: str, as_of: pd.Timestamp, root: Path) -> dict[str, str]:
    """Snapshot kinds whose fetch for `day` at exactly this as-of failed and left no run: kind ->
    the error of the newest quarantine record (`collect.quarantine`) of that as-of."""
    token, out = ts_token(as_of), {}
    for kind in SNAPSHOT_KINDS:
        if (storage.partition_dir(catalog.snapshot(kind), day, root) / f"run={token}").is_dir():
            continue  # a later attempt at the same as-of succeeded
        records = sorted((root / "quarantine" / kind / day).glob(f"{token}-*.json"),
                         key=lambda p: p.stat().st_mtime)
        if records:
            try:
                out[kind] = str(json.loads(records[-1].read_text())["error"])
            except (ValueError, KeyError, OSError):
                out[kind] = f"fetch failed (unreadable quarantine record {records[-1].name})"
    return out


def injury_dates(dates: list[str]) -> list[str]:
    """The dates whose injury reports features of `dates` read: each date and the
    INJURY_LOOKBACK_DAYS before it."""
    first = to_date(min(dates)) - dt.timedelta(days=catalog.INJURY_LOOKBACK_DAYS)
    last = to_date(max(dates))
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def build_live(day: str, run_as_of: pd.Timestamp, inputs: LiveInputs, history: History,
               policy: LivePolicy | None = None) -> LiveResult:
    """Live features of `day` as of `run_as_of` (cutoff = min(as-of, tip)).

    Per feed: the newest stored run at or before the as-of is used when it is within the feed's
    max age; a feed with no such run is treated as absent (its features take their no-data
    values: no market, no injury statuses, no roster) -- allowed only for feeds the policy does
    not require, and reported as degraded (`summary["feeds"]`, `summary["degraded_feeds"]`), as is
    a feed whose fetch at this as-of failed (`inputs.failures`) even when an older run stands in."""
    policy = policy or LivePolicy()
    warnings: list[str] = []
    frames: dict[str, pd.DataFrame] = {}
    fallbacks: dict[str, str] = {}
    feeds: dict[str, dict] = {}
    degraded: dict[str, str] = {}  # kind -> why, for every feed not answered fresh at this as-of
    for kind in SNAPSHOT_KINDS:
        tokens = inputs.tokens[kind]
        if kind == "rosters" and tokens and inputs.read_day[kind] != day:
            fallbacks[kind] = inputs.read_day[kind]
            warnings.append(f"rosters: none yet for {day}, using {inputs.read_day[kind]}")
        feed = _feed_status(kind, day, run_as_of, tokens, inputs.failures.get(kind),
                            policy.max_age_hours[kind])
        feeds[kind] = feed
        if feed["status"] in (FEED_MISSING, FEED_STALE) and kind not in policy.allow_missing:
            raise LiveInputError(f"{feed['reason']} -- {kind} is a required feed: materialize "
                                 f"{kind} snapshots first, or allow it to be missing "
                                 f"({REQUIRED_FEEDS_ENV} / required_feeds)")
        if feed["status"] != FEED_OK:
            degraded[kind] = feed["reason"]
            warnings.append(f"{kind}: {feed['reason']}")
        frames[kind] = inputs.frames[kind] if feed["status"] in (FEED_OK, FEED_FALLBACK) \
            else empty_frame(kind)
    ages = {k: f["age_hours"] for k, f in feeds.items()}

    schedule = latest_per_game(frames["schedule"])
    schedule = schedule[schedule["game_date"] == day].reset_index(drop=True)
    if schedule["tip_ts"].isna().any():
        raise LiveInputError(f"{day}: a target game has no tip_ts in the schedule")
    cutoff = schedule["tip_ts"].where(schedule["tip_ts"] < run_as_of, run_as_of)
    targets = schedule.assign(cutoff_ts=cutoff.astype(TS))
    games, minutes = features_from_tables(targets, history, frames["injuries"], frames["odds"],
                                          frames["rosters"])
    coverage = _coverage(targets, minutes, frames)
    summary = {
        "mode": "live", "date": day, "run_as_of_ts": run_as_of.isoformat(),
        "games": len(games), "player_rows": len(minutes), "snapshot_age_hours": ages,
        "fallbacks": fallbacks, "warnings": warnings,
        "teams_without_roster": int((coverage["roster_players"] == 0).sum()) if len(coverage) else 0,
        "games_without_odds": int((coverage["odds_rows"] == 0).sum()) if len(coverage) else 0,
        "feeds": feeds, "degraded": bool(degraded), "degraded_feeds": degraded,
    }
    return LiveResult(games, minutes, summary, coverage)


def _feed_status(kind: str, day: str, run_as_of: pd.Timestamp, tokens: list[str],
                 failed: str | None, limit: float) -> dict:
    """One feed at a run's as-of: `ok` (newest run within the max age, fetched fine), `fallback`
    (this as-of's fetch failed, an older run within the max age stands in), `stale` (newest run
    older than the max age) or `missing` (no run); the last two mean its features are missing."""
    age = round((run_as_of - parse_ts_token(tokens[-1])).total_seconds() / 3600, 3) \
        if tokens else None
    if age is not None and age <= limit:
        status = FEED_FALLBACK if failed else FEED_OK
        reason = (f"fetch failed ({failed}); using the run of {tokens[-1]}, {age:.1f} h old "
                  f"(limit {limit:g} h)") if failed else ""
    else:
        status = FEED_MISSING if age is None else FEED_STALE
        reason = ("features missing: " + (
            f"no {kind} snapshot for {day} at or before {run_as_of.isoformat()}" if age is None
            else f"the newest {kind} snapshot ({tokens[-1]}) is {age:.1f} h old, limit "
                 f"{limit:g} h") + (f"; fetch failed ({failed})" if failed else ""))
    return {"status": status, "age_hours": age, "max_age_hours": limit,
            "run": tokens[-1] if tokens else None, "error": failed, "reason": reason}


def _coverage(targets, minutes, frames) -> pd.DataFrame:
    """Per game: freshness of odds/injury data and how many roster players each team has."""
    if targets.empty:
        return pd.DataFrame(columns=["game_id", "cutoff_ts", "odds_rows", "latest_odds_ts",
                                     "injury_rows", "roster_players", "team_minutes_coverage"])
    odds = frames["odds"]
    o = odds.groupby("game_id")["snapshot_ts"].agg(["size", "max"]) if len(odds) else None
    per_team = minutes.groupby(["game_id", "team_id"]).agg(
        players=("player_id", "size"), exp_minutes=("min_last10", "sum")).reset_index() \
        if len(minutes) and "min_last10" in minutes else pd.DataFrame(
            columns=["game_id", "team_id", "players", "exp_minutes"])
    rows = []
    for g in targets.itertuples():
        teams = per_team[per_team["game_id"] == g.game_id]
        inj = frames["injuries"]
        rows.append({
            "game_id": g.game_id, "cutoff_ts": g.cutoff_ts,
            "odds_rows": int(o.loc[g.game_id, "size"]) if o is not None and g.game_id in o.index else 0,
            "latest_odds_ts": o.loc[g.game_id, "max"] if o is not None and g.game_id in o.index else pd.NaT,
            "injury_rows": int(inj["team_id"].isin([g.home_team_id, g.away_team_id]).sum()),
            "roster_players": int(teams["players"].min()) if len(teams) == 2 else 0,
            # share of 2 x 240 minutes the rostered players' recent averages account for
            "team_minutes_coverage": round(float(teams["exp_minutes"].fillna(0).sum()) / 480, 3)
            if len(teams) else 0.0,
        })
    return pd.DataFrame(rows)


def live_files(result: LiveResult, feature_set: str) -> dict[str, bytes]:
    """features.parquet, ids.csv, summary.json, coverage.csv of one feature set."""
    df = result.games if feature_set == "game" else result.minutes
    summary = dict(result.summary, feature_set=feature_set, schema_version=FEATURE_SCHEMA_VERSION,
                   rows=len(df))
    return {
        "features.parquet": storage.parquet_bytes(df),
        "ids.csv": df[ID_COLUMNS[feature_set]].to_csv(index=False).encode(),
        "summary.json": json.dumps(summary, indent=2, sort_keys=True, default=str).encode(),
        "coverage.csv": result.coverage.to_csv(index=False).encode(),
    }


def write_live(result: LiveResult, feature_set: str, day: str, run_as_of: pd.Timestamp,
               root: Path) -> Path:
    """The live feature run folder `live/features_<set>/<date>/run=<ts>/`."""
    base = storage.partition_dir(catalog.feature("live", feature_set), day, root)
    return storage.write_run_folder(base, ts_token(run_as_of), live_files(result, feature_set)).path


def slate_health(live_summary: dict) -> dict:
    """What a scored slate reports about its inputs (game_scores summary and metadata, the run
    registry): degraded or not, which feeds and why, snapshot ages, games without odds."""
    return {"degraded": bool(live_summary.get("degraded")),
            "degraded_feeds": dict(live_summary.get("degraded_feeds") or {}),
            "snapshot_age_hours": live_summary.get("snapshot_age_hours"),
            "games_without_odds": live_summary.get("games_without_odds")}


def live_feature_summary(feature_set: str, day: str, token: str, root: Path) -> dict:
    """summary.json of a live feature run (an empty dict for runs written before it existed)."""
    path = storage.partition_dir(catalog.feature("live", feature_set), day, root) / \
        f"run={token}" / "summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


def live_feature_run(feature_set: str, day: str, as_of: pd.Timestamp, root: Path
                     ) -> tuple[pd.DataFrame, str]:
    """The live feature run a scorer at `as_of` uses (see `storage.select_run`): (table, token)."""
    table = catalog.feature("live", feature_set)
    base = storage.partition_dir(table, day, root)
    token = storage.select_run(base, as_of)
    if token is None:
        raise LiveInputError(f"no {table.asset} run for {day} at or before {as_of.isoformat()}: "
                             "materialize live features first (live_job)")
    return storage.read_parquet(base / f"run={token}" / table.file), token


def odds_at(day: str, as_of: pd.Timestamp, root: Path, pending: Pending | None = None,
            live_summary: dict | None = None) -> pd.DataFrame:
    """Every odds row of `day` knowable at `as_of`: all stored runs at or before it (plus a
    pending run at the as-of), rows stamped after it dropped.  None when the live features of
    that as-of (`live_summary`) found the odds stale or missing: a scorer prices against the
    market its features saw, never against a line older than the odds' max age."""
    feed = ((live_summary or {}).get("feeds") or {}).get("odds") or {}
    if feed.get("status") in (FEED_STALE, FEED_MISSING):
        return empty_frame("odds")
    pending = pending or {}
    odds = _read("odds", day, _runs("odds", day, as_of, root, pending), as_of, root, pending)
    return odds[odds["snapshot_ts"] <= as_of].reset_index(drop=True)


# ----------------------------------------------------------------------------- parity

def parity(day: str, root: Path) -> dict[str, pd.DataFrame]:
    """Rebuild a past date through the live path (as of after its last tip) and diff vs gold."""
    gold_g = storage.read_partition(catalog.table("gold_game_features"), day, root=root)
    gold_m = storage.read_partition(catalog.table("gold_minutes_features"), day, root=root)
    late = pd.Timestamp(f"{to_date(day) + dt.timedelta(days=1)}T10:00", tz="UTC")
    policy = LivePolicy(max_age_hours={k: 1e9 for k in DEFAULT_MAX_AGE_HOURS},
                        allow_missing=("injuries", "odds"))
    live = build_live(day, late, read_live_inputs(day, late, root, policy),
                      load_history(root, day), policy)
    # Both paths build the same candidate rows (recent appearances, the injury report, the roster
    # known at the cutoff), so every column of every row is compared.
    minutes = diff_features(gold_m, live.minutes, ["game_id", "player_id"])
    return {"game": diff_features(gold_g, live.games, ["game_id"]), "minutes": minutes}
