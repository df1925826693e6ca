"""Team names -> the 30 current franchises.

Every historical name, nickname and code maps to a current tricode: ids, tricodes and names from
`nba_api.stats.static.teams`, plus `_ALIASES` and the era table `_NICKNAME_ERAS` for bare
injury-list nicknames such as "Hornets" (Charlotte until 2002, New Orleans 2002-13, Charlotte again
from 2014), "Bullets" (Washington 1963-2000: the list keeps the old name until 1999), "Sonics",
"Bobcats").  A name that is no current franchise (ABA teams, the 1950s Baltimore Bullets, a stray
"Bullets" row dated 2017) maps to NaN; the parsers drop and count those rows.
"""
from __future__ import annotations

import re

import pandas as pd
from nba_api.stats.static import teams as nba_teams


def _team_tables() -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    ids, names, aliases = {}, {}, {}
    for t in nba_teams.get_teams():
        abbr = t["abbreviation"]
        ids[abbr] = int(t["id"])
        names[abbr] = t["full_name"]
        for key in (t["full_name"], abbr, f"{t['city']} {t['nickname']}"):
            aliases[_team_key(key)] = abbr
        aliases.setdefault(_team_key(t["nickname"]), abbr)
    return ids, names, aliases


def _team_key(name: str) -> str:
    return re.sub(r"\s+", " ", str(name).strip().lower())


# Historical full names, city names and codes -> current tricode (applied regardless of date:
# the lines files carry stale names such as "Charlotte Bobcats" in 2021-22).
_ALIASES = {
    # full names
    "charlotte bobcats": "CHA", "charlotte hornets": "CHA", "new orleans hornets": "NOP",
    "new orleans/oklahoma city hornets": "NOP", "new orleans-oklahoma city hornets": "NOP",
    "seattle supersonics": "OKC", "seattle sonics": "OKC", "new jersey nets": "BKN",
    "new york nets": "BKN", "la clippers": "LAC", "san diego clippers": "LAC",
    "buffalo braves": "LAC", "washington bullets": "WAS", "capital bullets": "WAS",
    "vancouver grizzlies": "MEM", "kansas city kings": "SAC", "kansas city-omaha kings": "SAC",
    "cincinnati royals": "SAC", "new orleans jazz": "UTA", "san diego rockets": "HOU",
    "philadelphia warriors": "GSW", "san francisco warriors": "GSW",
    "syracuse nationals": "PHI", "st. louis hawks": "ATL", "minneapolis lakers": "LAL",
    "fort wayne pistons": "DET", "chicago zephyrs": "WAS", "chicago packers": "WAS",
    # codes (betting_results uses ESPN-style lower-case codes; others for dropped-in files)
    "gs": "GSW", "no": "NOP", "nop": "NOP", "noh": "NOP", "nok": "NOP", "nor": "NOP",
    "ny": "NYK", "sa": "SAS", "utah": "UTA", "utah jazz": "UTA", "wsh": "WAS", "was": "WAS",
    "bkn": "BKN", "brk": "BKN", "nj": "BKN", "njn": "BKN", "phx": "PHX", "pho": "PHX",
    "sea": "OKC", "cha": "CHA", "cho": "CHA", "chh": "CHA", "van": "MEM", "gsw": "GSW",
    "nyk": "NYK", "sas": "SAS", "uta": "UTA", "la": "LAC",
    # injury-list nicknames that are not era dependent
    "blazers": "POR", "trail blazers": "POR", "sixers": "PHI", "cavailers": "CLE",
    "cavs": "CLE", "wolves": "MIN", "mavs": "DAL",
}

# Bare nicknames whose franchise depends on the date: (from, until (exclusive), tricode).
_NICKNAME_ERAS = {
    "hornets": [("1988-07-01", "2002-07-01", "CHA"), ("2002-07-01", "2013-07-01", "NOP"),
                ("2014-05-01", "2100-01-01", "CHA")],
    "bobcats": [("2004-07-01", "2014-07-01", "CHA")],
    "pelicans": [("2013-04-18", "2100-01-01", "NOP")],
    "sonics": [("1967-07-01", "2008-07-01", "OKC")],
    "supersonics": [("1967-07-01", "2008-07-01", "OKC")],
    "thunder": [("2008-07-01", "2100-01-01", "OKC")],
    "bullets": [("1963-07-01", "2000-07-01", "WAS")],  # the list keeps "Bullets" to 1999
    "wizards": [("1997-05-15", "2100-01-01", "WAS")],
    "zephyrs": [("1962-07-01", "1963-07-01", "WAS")],
    "packers": [("1961-07-01", "1962-07-01", "WAS")],
    "braves": [("1970-07-01", "1978-07-01", "LAC")],
}

TEAM_IDS, TEAM_NAMES, _API_ALIASES = _team_tables()
TEAM_ALIASES = {**_API_ALIASES, **_ALIASES}
for _nick in _NICKNAME_ERAS:
    TEAM_ALIASES.pop(_nick, None)  # era-dependent: resolved by `_map_nicknames`


def team_code(name: str) -> str | None:
    """Current tricode of a team name / nickname / code, or None (era-free lookup)."""
    return TEAM_ALIASES.get(_team_key(name))


def _map_teams(values: pd.Series) -> pd.Series:
    """Vectorized name/code -> tricode (NaN when unknown)."""
    uniq = pd.unique(values.astype(object))
    lut = {u: TEAM_ALIASES.get(_team_key(u)) for u in uniq}
    return values.map(lut)


def _map_nicknames(values: pd.Series, days: pd.Series) -> pd.Series:
    """Injury-list team nicknames -> tricode, honouring franchise eras (NaN when defunct)."""
    out = _map_teams(values).astype(object)
    keys = values.map({u: _team_key(u) for u in pd.unique(values.astype(object))})
    for nick, eras in _NICKNAME_ERAS.items():
        sel = (keys == nick).to_numpy()
        if not sel.any():
            continue
        d = days[sel]
        code = pd.Series(None, index=d.index, dtype=object)
        for start, end, abbr in eras:
            code[(d >= pd.Timestamp(start)) & (d < pd.Timestamp(end))] = abbr
        out[sel] = code
    return out
