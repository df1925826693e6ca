"""Loading feature inputs from the store for the gold and live paths (no Dagster here).

Both paths call the same builders in `pipeline_assets.features`; they differ only in which
targets they pass and in each target's cutoff: gold = tip, live = min(run_as_of_ts, tip).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline_assets.features import build_game_features, build_minutes_features, diff_features
from pipeline_assets.schemas import empty_frame
from pipeline_assets.timeutil import parse_ts_token, to_date
from resources import storage

# Freshness limits per snapshot kind for live features: age = run_as_of_ts - the snapshot run.
DEFAULT_MAX_AGE_HOURS = {"schedule": 72.0, "injuries": 12.0, "odds": 12.0, "rosters": 48.0}


class LiveInputError(RuntimeError):
    pass


@dataclass
class History:
    """Label history (all stored dates) shared by every target of a run."""

    results: pd.DataFrame
    box_scores: pd.DataFrame


def load_history(root: Path, until: str) -> History:
    res = storage.read_label_range("results", None, root)
    box = storage.read_label_range("box_scores", None, root)
    return History(res[res["game_date"] <= until].reset_index(drop=True),
                   box[box["game_date"] <= until].reset_index(drop=True))


def latest_per_game(schedule: pd.DataFrame) -> pd.DataFrame:
    """The newest schedule row per game (a game can appear in several snapshot runs)."""
    if schedule.empty:
        return schedule
    s = schedule.sort_values(["game_id", "snapshot_ts"], kind="mergesort")
    return s.drop_duplicates("game_id", keep="last").sort_values(
        ["tip_ts", "game_id"], kind="mergesort", ignore_index=True)


# ----------------------------------------------------------------------------- gold

def build_gold(dates: list[str], root: Path, history: History | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold game and minutes features for `dates` (cutoff = tip)."""
    hist = history or load_history(root, max(dates))
    schedule = latest_per_game(storage.read_snapshot_history("schedule", dates, root))
    injuries = storage.read_snapshot_history("injuries", dates, root)
    odds = storage.read_snapshot_history("odds", dates, root)
    targets = schedule.assign(cutoff_ts=schedule["tip_ts"]) if len(schedule) else \
        empty_frame("schedule").assign(cutoff_ts=pd.Series([], dtype="datetime64[us, UTC]"))
    games = build_game_features(targets, hist.results, hist.box_scores, injuries, odds)
    player_targets = hist.box_scores.loc[hist.box_scores["game_id"].isin(targets["game_id"]),
                                         ["game_id", "team_id", "player_id", "player_name"]]
    minutes = build_minutes_features(targets, player_targets.reset_index(drop=True), hist.results,
                                     hist.box_scores, injuries, odds)
    return games, minutes


# ----------------------------------------------------------------------------- live

@dataclass
class LivePolicy:
    max_age_hours: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_AGE_HOURS))
    roster_fallback_days: int = 3
    allow_missing: tuple[str, ...] = ()  # snapshot kinds allowed to be absent or stale


@dataclass
class LiveResult:
    games: pd.DataFrame
    minutes: pd.DataFrame
    summary: dict
    coverage: pd.DataFrame


def _runs_at_or_before(kind: str, day: str, as_of: pd.Timestamp, root: Path) -> list[str]:
    base = storage.snapshot_dir(kind, day, root)
    return [t for t in storage.list_runs(base) if parse_ts_token(t) <= as_of]


def _roster_run(day: str, as_of: pd.Timestamp, root: Path, fallback_days: int
                ) -> tuple[list[str], str, pd.DataFrame | None]:
    """The newest non-empty roster run at or before `as_of`: (tokens, its date, its table)."""
    for back in range(fallback_days + 1):
        d = (to_date(day) - dt.timedelta(days=back)).isoformat()
        for token in reversed(_runs_at_or_before("rosters", d, as_of, root)):
            table = _read_runs("rosters", d, [token], root)
            if len(table):
                return [token], d, table
    return [], day, None


def _read_runs(kind: str, day: str, tokens: list[str], root: Path) -> pd.DataFrame:
    base = storage.snapshot_dir(kind, day, root)
    files = [base / f"run={t}" / "table.parquet" for t in tokens]
    return storage.read_many(files, kind).drop_duplicates(ignore_index=True)


def build_live(day: str, run_as_of: pd.Timestamp, root: Path, policy: LivePolicy | None = None,
               history: History | None = None) -> LiveResult:
    """Live features of `day` as of `run_as_of` from the stored snapshot runs."""
    policy = policy or LivePolicy()
    warnings: list[str] = []
    ages: dict[str, float | None] = {}
    frames: dict[str, pd.DataFrame] = {}
    fallbacks: dict[str, str] = {}
    for kind in ("schedule", "injuries", "odds", "rosters"):
        table = None
        if kind == "rosters":
            # The newest non-empty roster run wins; before today's roster is published fall back to
            # the previous days' (bounded by roster_fallback_days).
            tokens, read_day, table = _roster_run(day, run_as_of, root, policy.roster_fallback_days)
            if tokens and read_day != day:
                fallbacks[kind] = read_day
                warnings.append(f"rosters: none yet for {day}, using {read_day}")
        else:
            tokens, read_day = _runs_at_or_before(kind, day, run_as_of, root), day
        if not tokens:
            ages[kind] = None
            msg = f"no {kind} snapshot for {day} at or before {run_as_of.isoformat()}"
            if kind not in policy.allow_missing:
                raise LiveInputError(msg + f" — materialize {kind} snapshots first or allow it "
                                           "to be missing (allow_missing)")
            warnings.append(msg)
            frames[kind] = empty_frame(kind)
            continue
        age_h = (run_as_of - parse_ts_token(tokens[-1])).total_seconds() / 3600
        ages[kind] = round(age_h, 3)
        if age_h > policy.max_age_hours[kind]:
            msg = (f"{kind} snapshot is {age_h:.1f} h old at {run_as_of.isoformat()} "
                   f"(limit {policy.max_age_hours[kind]} h)")
            if kind not in policy.allow_missing:
                raise LiveInputError(msg)
            warnings.append(msg)
        frames[kind] = table if table is not None else _read_runs(kind, read_day, tokens, root)

    schedule = latest_per_game(frames["schedule"])
    schedule = schedule[schedule["game_date"] == day].reset_index(drop=True)
    if schedule["tip_ts"].isna().any():
        raise LiveInputError(f"{day}: a target game has no tip_ts in the schedule")
    cutoff = schedule["tip_ts"].where(schedule["tip_ts"] < run_as_of, run_as_of)
    targets = schedule.assign(cutoff_ts=cutoff.astype("datetime64[us, UTC]"))
    hist = history or load_history(root, day)

    games = build_game_features(targets, hist.results, hist.box_scores, frames["injuries"],
                                frames["odds"])
    roster = frames["rosters"]
    sides = pd.concat([targets[["game_id", "home_team_id"]].rename(columns={"home_team_id": "team_id"}),
                       targets[["game_id", "away_team_id"]].rename(columns={"away_team_id": "team_id"})])
    player_targets = sides.merge(roster[["team_id", "player_id", "player_name"]].drop_duplicates(
        ["team_id", "player_id"]), on="team_id", how="inner")
    player_targets = player_targets.sort_values(["game_id", "team_id", "player_id"], ignore_index=True)
    minutes = build_minutes_features(targets, player_targets, hist.results, hist.box_scores,
                                     frames["injuries"], frames["odds"])
    coverage = _coverage(targets, games, minutes, frames)
    summary = {
        "mode": "live", "date": day, "run_as_of_ts": run_as_of.isoformat(),
        "games": len(games), "player_rows": len(minutes), "snapshot_age_hours": ages,
        "fallbacks": fallbacks, "warnings": warnings,
        "teams_without_roster": int((coverage["roster_players"] == 0).sum()) if len(coverage) else 0,
    }
    return LiveResult(games, minutes, summary, coverage)


def _coverage(targets, games, minutes, frames) -> pd.DataFrame:
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


def write_live(result: LiveResult, name: str, day: str, run_as_of: pd.Timestamp, root: Path) -> Path:
    """features.parquet, ids.csv, summary.json, coverage.csv under live/features_<name>/<date>/run=<ts>/."""
    from pipeline_assets.features.schema import FEATURE_SCHEMA_VERSION, ID_COLUMNS
    from pipeline_assets.timeutil import ts_token
    df = result.games if name == "game" else result.minutes
    summary = dict(result.summary, feature_set=name, schema_version=FEATURE_SCHEMA_VERSION,
                   rows=len(df))
    files = {
        "features.parquet": storage.parquet_bytes(df),
        "ids.csv": df[ID_COLUMNS[name]].to_csv(index=False).encode(),
        "summary.json": json.dumps(summary, indent=2, sort_keys=True, default=str).encode(),
        "coverage.csv": result.coverage.to_csv(index=False).encode(),
    }
    base = storage.run_artifact_dir("features", name, day, root)
    return storage.write_run_folder(base, ts_token(run_as_of), files).path


def parity(day: str, root: Path) -> dict[str, pd.DataFrame]:
    """Rebuild a past date through the live path (as of after its last tip) and diff vs gold."""
    from pipeline_assets.catalog import read_table
    gold_g = read_table("gold_game_features", day, root=root)
    gold_m = read_table("gold_minutes_features", day, root=root)
    late = pd.Timestamp(f"{to_date(day) + dt.timedelta(days=1)}T10:00", tz="UTC")
    live = build_live(day, late, root, LivePolicy(max_age_hours={k: 1e9 for k in DEFAULT_MAX_AGE_HOURS},
                                                  allow_missing=("injuries", "odds")))
    # Live player rows are the roster as of the run, gold rows the players who appeared.  Parity is
    # about the code path, so it compares the player-games both paths target (same game, player
    # and team); appearances the live roster did not cover (a debut, a trade the roster had not yet
    # caught up with) are coverage gaps, reported separately.
    keys = ["game_id", "player_id", "team_id"]
    targeted = gold_m.merge(live.minutes[keys], on=keys, how="inner")[gold_m.columns]
    gaps = gold_m.merge(live.minutes[keys], on=keys, how="left", indicator=True)
    gaps = gaps.loc[gaps["_merge"] == "left_only", ["game_id", "team_id", "player_id", "player_name"]]
    minutes = diff_features(targeted, live.minutes.merge(targeted[keys], on=keys)[live.minutes.columns],
                            ["game_id", "player_id"])
    return {"game": diff_features(gold_g, live.games, ["game_id"]), "minutes": minutes,
            "minutes_roster_gaps": gaps.reset_index(drop=True)}
