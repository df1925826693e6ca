"""rosters: DERIVED from the player logs, not official ones.

snapshot_ts D 09:00 local.  For each team playing on D, players whose most recent appearance
(player logs, same season, before D) was for that team within the last 30 days; if that gives
fewer than 8, every player whose most recent appearance that season was for the team.  position
is "".  Only seasons with player logs have rosters.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from resources.sources.archive.files import _datestr, _local
from resources.sources.archive.teams import TEAM_IDS

ROSTER_WINDOW_DAYS = 30
ROSTER_MIN_PLAYERS = 8


def build_rosters(logs: pd.DataFrame, td: pd.DataFrame) -> pd.DataFrame:
    """Derived rosters of every team-day in `td` (see `team_days`) from the player logs."""
    cols = ["team_id", "team", "player_id", "player_name", "position", "snapshot_ts",
            "game_date"]
    td = td[td["season"].isin(pd.unique(logs["season"]))]
    if logs.empty or td.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols}).assign(
            snapshot_ts=pd.Series([], dtype="datetime64[us, UTC]"))
    app = (logs[["season", "day", "player_id", "team", "player_name"]]
           .drop_duplicates(["player_id", "day"], keep="last")
           .sort_values("day", kind="stable"))
    days = td[["season", "day"]].drop_duplicates()
    players = app[["season", "player_id"]].drop_duplicates()
    left = days.merge(players, on="season").sort_values("day", kind="stable")
    right = app.rename(columns={"day": "last_day"})
    right["day"] = right["last_day"]
    last = pd.merge_asof(left, right[["day", "season", "player_id", "team", "player_name",
                                      "last_day"]],
                         on="day", by=["season", "player_id"], direction="backward",
                         allow_exact_matches=False)
    last = last[last["last_day"].notna()]
    last = last.merge(td[["day", "team"]], on=["day", "team"], how="inner")
    last["recent"] = (last["day"] - last["last_day"]) <= pd.Timedelta(days=ROSTER_WINDOW_DAYS)
    n_recent = last.groupby(["day", "team"])["recent"].transform("sum")
    r = last[last["recent"] | (n_recent < ROSTER_MIN_PLAYERS)]
    r = r.sort_values(["day", "team", "player_id"], kind="stable")
    return pd.DataFrame({
        "team_id": r["team"].map(TEAM_IDS).astype("int64"), "team": r["team"],
        "player_id": r["player_id"], "player_name": r["player_name"], "position": "",
        "snapshot_ts": _local(r["day"], dt.time(9, 0)), "game_date": _datestr(r["day"]),
    })
