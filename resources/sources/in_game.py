"""In-game state: the score of each game of a date after its last completed period, as of a time.

Every source answers `game_states(game_date, as_of) -> Extract` (kind ``game_states``) with one
row per game of the date (`GAME_STATE_COLUMNS`): status (`scheduled` / `in_progress` / `final`),
the period being played, the number of periods completed, and the quarter scores of the completed
periods only (later quarters are NA), so a row never shows more than was on the scoreboard at
`as_of`.

- live: the NBA CDN scoreboard (`todaysScoreboard_00.json`: `gameStatus`, `period`, `gameClock`,
  `periods[].score`); it covers only the league's current day, other dates have no states.
- simulated and archive replay their final results: a quarter is taken to end
  `QUARTER_WALL_MINUTES` after the previous one (the halftime break adds `HALFTIME_WALL_MINUTES`),
  so a replayed day passes through the same checkpoints a live night does.
"""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from resources.sources.base import Extract

KIND = "game_states"
SCHEDULED, IN_PROGRESS, FINAL = "scheduled", "in_progress", "final"
QUARTERS = ("q1", "q2", "q3", "q4")
GAME_STATE_COLUMNS = ["game_id", "game_date", "home_team_id", "away_team_id", "status", "period",
                      "periods_completed", "home_score", "away_score",
                      *(f"{s}_{q}" for s in ("home", "away") for q in QUARTERS), "snapshot_ts"]
# Wall-clock length of an NBA quarter incl. stoppages (a regulation game is ~2 h 15 min).
QUARTER_WALL_MINUTES = 30.0
HALFTIME_WALL_MINUTES = 15.0


def empty_states() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in GAME_STATE_COLUMNS})


def conform_states(rows: list[dict] | pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The state columns in order and dtype; `snapshot_ts` = `as_of`."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    if df.empty:
        return empty_states()
    df["snapshot_ts"] = as_of
    for c in ("home_team_id", "away_team_id", "period", "periods_completed", "home_score",
              "away_score", *(f"{s}_{q}" for s in ("home", "away") for q in QUARTERS)):
        df[c] = pd.array(df[c], dtype="Int64")
    df["game_id"] = df["game_id"].astype(str)
    df["game_date"] = df["game_date"].astype(str)
    return df[GAME_STATE_COLUMNS].sort_values("game_id", kind="mergesort", ignore_index=True)


def quarter_end_offsets() -> list[pd.Timedelta]:
    """Wall time after tip at which quarters 1..4 end in a replay."""
    q, half = QUARTER_WALL_MINUTES, HALFTIME_WALL_MINUTES
    return [pd.Timedelta(minutes=m) for m in (q, 2 * q, 3 * q + half, 4 * q + half)]


def replay_states(schedule: pd.DataFrame, results: pd.DataFrame, as_of: pd.Timestamp,
                  game_date: dt.date) -> pd.DataFrame:
    """States at `as_of` from a date's schedule (latest row per game) and its final results:
    the quarters whose replayed end is at or before `as_of` are revealed; the game is final once
    its `final_ts` has passed."""
    sched = schedule.sort_values("snapshot_ts").drop_duplicates("game_id", keep="last")
    res = results.drop_duplicates("game_id", keep="last").set_index("game_id")
    ends = quarter_end_offsets()
    rows = []
    for g in sched.itertuples(index=False):
        row = {"game_id": g.game_id, "game_date": game_date.isoformat(),
               "home_team_id": g.home_team_id, "away_team_id": g.away_team_id}
        r = res.loc[g.game_id] if g.game_id in res.index else None
        tip = pd.Timestamp(g.tip_ts)
        done = 0 if as_of < tip else sum(as_of >= tip + e for e in ends)
        final = r is not None and pd.notna(r["final_ts"]) and as_of >= pd.Timestamp(r["final_ts"])
        if r is None:
            done = 0  # no result to replay: the game is shown as not started
        if final:
            done = 4
        status = FINAL if final else (SCHEDULED if r is None or as_of < tip else IN_PROGRESS)
        row["status"], row["periods_completed"] = status, done
        row["period"] = 0 if status == SCHEDULED else (4 if final else min(done + 1, 4))
        for side in ("home", "away"):
            qs = [r[f"{side}_{q}"] if r is not None and k < done else pd.NA
                  for k, q in enumerate(QUARTERS)]
            for q, v in zip(QUARTERS, qs):
                row[f"{side}_{q}"] = v
            if final:
                row[f"{side}_score"] = r[f"{side}_pts"]
            else:
                known = [v for v in qs if pd.notna(v)]
                row[f"{side}_score"] = int(sum(known)) if status == IN_PROGRESS else pd.NA
        rows.append(row)
    return conform_states(rows, as_of)


def replayed_game_states(source, game_date: dt.date, as_of: pd.Timestamp) -> Extract:
    """`game_states` for a source that replays stored games (simulated, archive)."""
    schedule = source.fetch("schedule", game_date, as_of).table
    # the whole result is read but only the quarters finished by `as_of` are revealed
    later = max(as_of, pd.Timestamp(game_date.isoformat(), tz="UTC") + pd.Timedelta(days=2))
    results = source.fetch("results", game_date, later).table
    table = replay_states(schedule, results, as_of, game_date)
    raw = json.dumps({"replayed_from": "results", "as_of": as_of.isoformat()}).encode()
    return Extract(KIND, table, raw, "replay.results", source.name,
                   {"games": len(table)})


def completed_periods(status: int, period: int, clock_seconds: float | None,
                      status_text: str) -> int:
    """Periods completed on a CDN scoreboard: all of them once final (status 3); otherwise the
    ones before the current period, plus the current one when its clock has run out ("Half",
    "End of 3rd Qtr" or a 0:00 clock)."""
    if status == 3:
        return max(period, 4)
    if status != 2 or period <= 0:
        return 0
    text = status_text.strip().lower()
    ended = text.startswith("half") or text.startswith("end") or clock_seconds == 0.0
    return period if ended else period - 1
