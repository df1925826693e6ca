"""The league: the 30 franchises with their conferences, divisions and home time zones, and the
season calendar (each season's regular-season window and its label)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from resources.sources.base import SourceError

NAME = "simulated"
N_TEAMS, N_GAMES_TEAM = 30, 82
NY = "America/New_York"

_DIVISIONS = {
    ("East", "Atlantic"): ["BOS", "BKN", "NYK", "PHI", "TOR"],
    ("East", "Central"): ["CHI", "CLE", "DET", "IND", "MIL"],
    ("East", "Southeast"): ["ATL", "CHA", "MIA", "ORL", "WAS"],
    ("West", "Northwest"): ["DEN", "MIN", "OKC", "POR", "UTA"],
    ("West", "Pacific"): ["GSW", "LAC", "LAL", "PHX", "SAC"],
    ("West", "Southwest"): ["DAL", "HOU", "MEM", "NOP", "SAS"],
}
_HOME_TZ = {
    "America/New_York": ["ATL", "BOS", "BKN", "CHA", "CLE", "DET", "IND", "MIA", "NYK", "ORL",
                         "PHI", "TOR", "WAS"],
    "America/Chicago": ["CHI", "DAL", "HOU", "MEM", "MIL", "MIN", "NOP", "OKC", "SAS"],
    "America/Denver": ["DEN", "UTA"],
    "America/Phoenix": ["PHX"],
    "America/Los_Angeles": ["GSW", "LAC", "LAL", "POR", "SAC"],
}
_TZ_RANK = {"America/New_York": 0, "America/Chicago": 1, "America/Denver": 2,
            "America/Phoenix": 2, "America/Los_Angeles": 3}


def _teams() -> pd.DataFrame:
    from nba_api.stats.static import teams as nba_teams  # a large module: load when used

    rows = sorted(nba_teams.get_teams(), key=lambda t: t["id"])
    conf_div = {tri: key for key, tris in _DIVISIONS.items() for tri in tris}
    tz = {tri: z for z, tris in _HOME_TZ.items() for tri in tris}
    df = pd.DataFrame({
        "team_index": np.arange(len(rows)),
        "team_id": np.array([t["id"] for t in rows], dtype="int64"),
        "team": [t["abbreviation"] for t in rows],
        "name": [t["full_name"] for t in rows],
    })
    df["conference"] = [conf_div[t][0] for t in df["team"]]
    df["division"] = [conf_div[t][1] for t in df["team"]]
    df["tz"] = [tz[t] for t in df["team"]]
    if len(df) != N_TEAMS:
        raise SourceError(NAME, "teams", f"expected 30 franchises, nba_api has {len(df)}")
    return df


_TEAMS: pd.DataFrame | None = None


def teams_frame() -> pd.DataFrame:
    """The 30 franchises in team_index order (team_id, team, name, conference, division, tz)."""
    global _TEAMS
    if _TEAMS is None:
        _TEAMS = _teams()
    return _TEAMS.copy()


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def season_window(season: str) -> tuple[dt.date, dt.date]:
    """(first, last) regular-season date of a season label like '2026-27'."""
    y = _start_year(season)
    start = _nth_weekday(y, 10, 1, 3)  # 3rd Tuesday of October
    apr9 = dt.date(y + 1, 4, 9)
    end = apr9 + dt.timedelta(days=(6 - apr9.weekday()) % 7)  # first Sunday on/after April 9
    return start, end


def _start_year(season: str) -> int:
    s = str(season)
    if len(s) != 7 or s[4] != "-" or not (s[:4].isdigit() and s[5:].isdigit()) \
            or (int(s[:4]) + 1) % 100 != int(s[5:]):
        raise SourceError(NAME, "season", f"bad season label {season!r} (expected like '2026-27')")
    return int(s[:4])


def _label(year: int) -> str:
    return f"{year}-{(year + 1) % 100:02d}"


def _season_label_for(day: dt.date) -> str:
    return _label(day.year if day.month >= 8 else day.year - 1)
