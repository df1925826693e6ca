"""The `archive` source: replays a directory laid out like shared/data as if it were live.

Layout (every file in each folder is read, so more seasons can simply be dropped in; a missing
folder means that kind is empty):

  historical_lines/*.csv        closing lines + final scores, `<season>-MMDD` dates, full team names
  betting_results/*.csv         scores, quarters, regular/playoff flags, lines, lower-case codes
  player_logs/*.csv.gz, *.csv   stats.nba.com player game logs (regular season)
  injuries/*.csv                Pro Sports Transactions injury list (placed on / activated from IL)

Public API
----------
  ArchiveSource(data_dir)
  .fetch(kind, game_date, as_of) -> Extract        the Source protocol (see base.py)
  .table(kind, season=None) -> DataFrame           whole normalized history of a kind (bulk, cached)
  .game_dates(season=None) -> list[date]           dates with games
  .seasons() -> list[str]                          seasons with games, e.g. ['2007-08', ...]
  .seasons_for(start, end) -> list[str]            seasons with games in [start, end]
  .season_games(season) -> DataFrame               = table("schedule", season)
  .nba_game_ids() -> DataFrame                     NBA GAME_ID (player logs) -> archive game_id
  .reconciliation() -> dict                        how the three game sources were reconciled

Normalization decisions (the archive has dates, not times):

* Teams: every historical name, nickname and code is mapped to one of the 30 current franchises
  (ids, tricodes and names from `nba_api.stats.static.teams`, plus `_ALIASES` and the era table
  `_NICKNAME_ERAS` for bare injury-list nicknames such as "Hornets" (Charlotte until 2002, New
  Orleans 2002-13, Charlotte again from 2014), "Bullets" (Washington 1963-2000: the list keeps
  the old name until 1999), "Sonics", "Bobcats").  Rows of teams that are not a current franchise
  (ABA teams, the 1950s Baltimore Bullets, a stray "Bullets" row dated 2017) are dropped and
  counted in `notes['injuries']['dropped_team_rows']`; unknown names in the game files likewise
  (`dropped_unknown_team`).
* Input hygiene: exact duplicate rows are dropped (injuries: ignoring the ID column), then
  repeated keys (same game twice) keep the first file's row.  Known non-numeric markers are
  accepted: "NL" (no line) -> NaN, "PK" (pick'em) -> 0.0, "+145" -> 145.  Injury "names" that are
  notes, dates or team names (e.g. "NBA health and safety protocols (DTD)", "76ers") are dropped
  (`non_player_names_dropped`); a row naming the same player in both columns is read as
  Relinquished then Acquired (i.e. back in).
* game_id = f"{YYYYMMDD}{AWAY}{HOME}" with current tricodes, e.g. "20211019BKNMIL".
* Games: historical_lines and betting_results are joined on (date, home, away); rows still
  unmatched are paired when the same matchup with the same final score is one day apart
  (historical_lines carries a few off-by-one dates, e.g. Christmas games dated 12/24) and the
  betting_results date is kept.
  Scores and quarters come from betting_results when present, else from the lines
  (home = (Points + Win_Margin) / 2), else from summed player-log points.  Player-log games are
  mapped to the same game_id via (GAME_DATE, home, away) read from MATCHUP.
* game_type: betting_results flags (play-in games, flagged neither regular nor playoff, are
  labelled "playoff", i.e. post-season).  Lines-only rows: "playoff" if dated after the last
  regular-season date betting_results shows for that season, else (season absent there) after
  the last player-log date of the season, else from April 16 of the season's second year on.
* Timestamps: tip_ts = date 19:30 New York (DEFAULT_TIP_LOCAL); final_ts = tip_ts + GAME_DURATION.
  snapshot_ts per kind:
    schedule   regular-season games: the season's first game date 09:00 local minus 7 days
               (the schedule is published in advance); post-season games: the day before the game
               at 09:00 local (a playoff schedule is not known at season start -- stamping it
               there would leak which teams reach the playoffs).
    odds       closing lines: tip_ts - 30 min, bookmaker "closing", one row per game.  Moneylines
               and total from historical_lines, spread sign from the favourite (lower moneyline;
               betting_results' whos_favored when the moneylines are equal).  Games missing from
               historical_lines fall back to betting_results (bookmaker "betting_results").
               Unusable values become NaN (counted in notes): Spread 0.0 (missing line), "NL",
               moneylines strictly between -100 and +100, totals outside [150, 300], spreads above
               25, or of 15+ points while the favourite's moneyline is above -700 (e.g. a 43.5
               "spread" at -165).  "PK" = 0.0; a negative Spread is read as its magnitude.
    rosters    D 09:00 local.  DERIVED roster, not an official one: for each team playing on D,
               players whose most recent appearance (player logs, same season, before D) was for
               that team within the last 30 days; if that gives fewer than 8, every player whose
               most recent appearance that season was for the team.  position is "".  Only
               seasons with player logs have rosters.
    results / box_scores   final_ts.
    injuries   each transaction's date at 12:00 local.
* Injuries for game date D at as_of: per (team, player), the last transaction dated <= D whose
  snapshot_ts <= as_of; players whose last transaction is Relinquished are "Out" (reason = Notes).
  Only teams playing on D.  A Relinquished transaction older than 120 days (before D - 120 days)
  with no later transaction is treated as stale and ignored.  player_id: injury names (each
  alias of "A / B") normalized (accents, case, punctuation, parentheticals, Jr./Sr./II-IV
  removed) and matched to player-log PLAYER_IDs in the same team+season, else the same season,
  else an adjacent season (unique matches only); unmatched names get a stable negative
  surrogate -(int(sha1(first normalized alias).hexdigest()[:12], 16) % 10**9) - 1.
* Box scores: minutes = MIN (whole minutes), starter NA (the logs have no starter flag).
  overtime_periods: from player-log minutes (team total minus 240, per 25) when logs exist,
  0 when betting_results shows no overtime points, else NA.

Malformed input (missing column, non-numeric number, unparseable date, bad MATCHUP) raises
SourceError(source="archive", endpoint=<file path relative to data_dir>, field=<column>,
raw=<first KB of the file, decompressed for .gz>).
"""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
import threading
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from tipoff_core.schemas import TABLES, conform
from tipoff_core.timeutil import (DEFAULT_TIP_LOCAL, GAME_DURATION, LEAGUE_TZ, season_of,
                                      to_date)
from resources.sources.base import KINDS, Extract, SourceError, finish, records_payload

SOURCE = "archive"
LINES_DIR, BETTING_DIR, LOGS_DIR, INJURIES_DIR = (
    "historical_lines", "betting_results", "player_logs", "injuries")

STALE_INJURY_DAYS = 120
ROSTER_WINDOW_DAYS = 30
ROSTER_MIN_PLAYERS = 8
ODDS_LEAD = pd.Timedelta(minutes=30)
SCHEDULE_LEAD_DAYS = 7

# --------------------------------------------------------------------------------------------
# Teams
# --------------------------------------------------------------------------------------------


def _team_tables() -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    from nba_api.stats.static import teams

    ids, names, aliases = {}, {}, {}
    for t in teams.get_teams():
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
TEAM_ALIASES = {**_API_ALIASES, **{k: v for k, v in _ALIASES.items()}}
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


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _local(days: pd.Series, at: dt.time) -> pd.Series:
    """UTC instants of a wall-clock time on naive (midnight) league dates, vectorized."""
    t = days + pd.Timedelta(hours=at.hour, minutes=at.minute)
    return t.dt.tz_localize(LEAGUE_TZ).dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def _datestr(days: pd.Series) -> pd.Series:
    """'YYYY-MM-DD' strings (object dtype) of naive datetimes, formatting each unique value once."""
    codes, uniq = pd.factorize(days, sort=False)
    if len(uniq) == 0:
        return pd.Series([], index=days.index, dtype=object)
    labels = np.asarray(pd.DatetimeIndex(uniq).strftime("%Y-%m-%d"), dtype=object)
    return pd.Series(labels[codes], index=days.index, dtype=object)


def _seasons_of(days: pd.Series) -> pd.Series:
    codes, uniq = pd.factorize(days, sort=False)
    labels = np.asarray([season_of(d.date()) for d in pd.DatetimeIndex(uniq)], dtype=object)
    return pd.Series(labels[codes] if len(uniq) else [], index=days.index, dtype=object)


def _surrogate_id(norm: str) -> int:
    return -(int(hashlib.sha1(norm.encode()).hexdigest()[:12], 16) % 10**9) - 1


_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
_NOT_A_PLAYER = (r"(?i)\bprotocols?\b|health and safety|^\s*(?:nba|team)\b|placed on|activated"
                 r"|\binjury\b|\bIL\b|\d|\bsurgery\b")


def _not_a_player(names: pd.Series) -> pd.Series:
    """True for injury-list 'names' that are notes, dates or team names (parentheticals such as
    '(b. 1986-01-26)' are ignored)."""
    clean = names.map(_display_name)
    teamish = clean.map(lambda n: _team_key(n) in TEAM_ALIASES or _team_key(n) in _NICKNAME_ERAS)
    return clean.str.contains(_NOT_A_PLAYER, regex=True) | teamish | (clean == "")


def normalize_name(name: str) -> str:
    """Player name key: ascii, lower case, no parentheticals, punctuation or generational suffix."""
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"\([^)]*\)?", " ", s).replace(")", " ")
    s = re.sub(r"[.'`]", "", s)
    s = re.sub(r"[^a-z0-9 ]+", " ", s)
    return " ".join(t for t in s.split() if t not in _SUFFIXES)


def _display_name(name: str) -> str:
    s = re.sub(r"\([^)]*\)?", " ", str(name)).replace(")", " ")
    return " ".join(s.split())


def _as_json(obj):
    """Notes must be JSON-friendly: numpy scalars -> python."""
    if isinstance(obj, dict):
        return {str(k): _as_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_as_json(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


class _File:
    """One input file: its path relative to data_dir and lazily its first KB (for errors)."""

    def __init__(self, root: Path, path: Path):
        self.path, self.rel = path, path.relative_to(root).as_posix()

    def head(self) -> bytes:
        opener = gzip.open if self.path.name.endswith(".gz") else open
        try:
            with opener(self.path, "rb") as fh:
                return fh.read(1024)
        except OSError:
            with open(self.path, "rb") as fh:
                return fh.read(1024)

    def error(self, message: str, field: str | None = None) -> SourceError:
        return SourceError(SOURCE, self.rel, message, field=field, raw=self.head())


def _read_csv(f: _File, required: list[str], optional: tuple[str, ...] = (),
              text: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read the wanted columns; numbers are inferred by the C parser (fast path), `text`
    columns are kept as strings.  A column that fails to infer as numeric is parsed (and
    reported) by `_numeric`."""
    wanted = set(required) | set(optional)
    try:
        header = pd.read_csv(f.path, nrows=0).columns
        dtypes = {c: str for c in header if str(c).strip() in set(text)}
        df = pd.read_csv(f.path, dtype=dtypes, keep_default_na=False, na_values=[""],
                         usecols=lambda c: str(c).strip() in wanted)
    except pd.errors.EmptyDataError:
        raise f.error("file is empty (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as exc:
        raise f.error(f"cannot parse file: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    for col in required:
        if col not in df.columns:
            raise f.error(f"required column '{col}' is missing", field=col)
    return df


def _per_unique(s: pd.Series, func) -> pd.Series:
    """Apply a vectorized `func` to the unique values of `s` only, then broadcast back."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    res = pd.Series(func(pd.Series(np.asarray(uniq, dtype=object), dtype=object)))
    out = res.reset_index(drop=True).reindex(codes)
    out.index = s.index
    return out


def _first_bad(f: _File, df: pd.DataFrame, col: str, bad: pd.Series, what: str) -> SourceError:
    i = int(np.flatnonzero(bad.to_numpy())[0])
    return f.error(f"{what} {df[col].iloc[i]!r} on data row {df.index[i] + 1}", field=col)


def _numeric(f: _File, df: pd.DataFrame, col: str, *, tokens: dict[str, float] | None = None,
             allow_na: bool = True) -> pd.Series:
    """Parse a numeric column; `tokens` maps known non-numeric markers (e.g. 'NL') to values."""
    s = df[col]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        out = s.astype("float64")
    else:
        def parse(u: pd.Series) -> pd.Series:
            t = u.astype(str).str.strip()
            num = pd.to_numeric(t, errors="coerce").astype("float64")
            if tokens:
                tok = t.str.upper().map(tokens)
                num = num.where(~t.str.upper().isin(list(tokens)), tok)
            ok = num.notna() | t.str.upper().isin(list(tokens or ())) | (t == "")
            return num.where(ok, -np.inf).where(t != "", np.nan)

        out = _per_unique(s, parse).astype("float64")
        bad = np.isneginf(out)
        if bad.any():
            raise _first_bad(f, df, col, bad, "non-numeric value")
    if not allow_na and out.isna().any():
        raise _first_bad(f, df, col, out.isna(), "missing value")
    return out


def _parse_dates(f: _File, df: pd.DataFrame, col: str, fmt: str) -> pd.Series:
    out = _per_unique(df[col], lambda u: pd.to_datetime(u.astype(str).str.strip(), format=fmt,
                                                        errors="coerce"))
    out = pd.to_datetime(out)
    bad = out.isna()
    if bad.any():
        raise _first_bad(f, df, col, bad, f"unparseable date (expected {fmt})")
    return out.astype("datetime64[ns]")


_BOOL = {"TRUE": True, "FALSE": False, "T": True, "F": False, "1": True, "0": False,
         "YES": True, "NO": False}


def _bool(f: _File, df: pd.DataFrame, col: str) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool)
    out = _per_unique(s, lambda u: u.astype(str).str.strip().str.upper().map(_BOOL))
    bad = out.isna()
    if bad.any():
        raise _first_bad(f, df, col, bad, "not a boolean:")
    return out.astype(bool)


def _game_id(days: pd.Series, away: pd.Series, home: pd.Series) -> pd.Series:
    return _datestr(days).str.replace("-", "", regex=False) + away + home


# --------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------

class ArchiveSource:
    """Replays files laid out like shared/data; see the module docstring for every rule."""

    name = SOURCE

    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir).expanduser()
        if not self.data_dir.is_dir():
            raise SourceError(SOURCE, str(self.data_dir),
                              "archive data directory not found (expected a folder laid out like "
                              "shared/data: historical_lines/, betting_results/, player_logs/, "
                              "injuries/)")
        self._cache: dict[str, object] = {}
        self._notes: dict[str, dict] = {}
        self._lock = threading.RLock()  # lazy parsing is not re-entrant across threads

    # ---- public API -------------------------------------------------------------------------

    def fetch(self, kind: str, game_date: dt.date, as_of: pd.Timestamp) -> Extract:
        """Rows of `kind` for `game_date` knowable at `as_of` (see the module docstring)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        day = pd.Timestamp(to_date(game_date))
        as_of = pd.Timestamp(as_of)
        as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
        with self._lock:
            if kind == "injuries":
                df = self._injuries_at(day, as_of)
            else:
                df = self._slice(kind, day)
            notes = self._fetch_notes(kind, day, 0)
        df = df[df["snapshot_ts"] <= as_of]
        if kind == "results":
            df = df[df["final_ts"] <= as_of]
        schema, _ = TABLES[kind]
        df = df[list(schema)].reset_index(drop=True)
        notes["rows"] = len(df)
        return finish(kind, df, as_of, source=SOURCE, endpoint=self._endpoint(kind),
                      raw=records_payload(df), notes=notes)

    def table(self, kind: str, season: str | None = None) -> pd.DataFrame:
        """The whole normalized history of `kind` (every date), conformed to its schema.

        Rows are sorted by game date.  Odds and rosters (whose schemas carry no date) get an
        extra trailing `game_date` column.  Injuries: for every game date D, the players out for
        each team playing on D as known at D 12:00 local (so every snapshot_ts <= that instant).
        `season` (e.g. "2021-22") restricts to that season's game dates (same call shape as the
        simulated source).  Cached on the instance; a shallow copy is returned (copy-on-write
        protects the cache).
        """
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        key = f"table:{kind}"
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._build_table(kind)
            t = self._cache[key]
            if season is None:
                return t.copy(deep=False)
            skey = f"season:{kind}"
            if skey not in self._cache:
                g = self._games()
                by_date = dict(zip(g["game_date"], g["season"]))
                dates = t["game_date"]
                self._cache[skey] = _per_unique(
                    dates, lambda u: u.map(lambda d: by_date.get(d) or season_of(d))).to_numpy()
            return t[self._cache[skey] == season].reset_index(drop=True)

    def season_games(self, season: str) -> pd.DataFrame:
        """Every game of a season (SCHEDULE schema)."""
        return self.table("schedule", season)

    def seasons_for(self, start, end) -> list[str]:
        """Seasons with at least one game dated within [start, end]."""
        start, end = pd.Timestamp(to_date(start)), pd.Timestamp(to_date(end))
        with self._lock:
            g = self._games()
        return sorted(pd.unique(g.loc[(g["day"] >= start) & (g["day"] <= end), "season"]))

    def _build_table(self, kind: str) -> pd.DataFrame:
        df = getattr(self, f"_build_{kind}")()
        out = conform(df, kind, SOURCE, self._endpoint(kind))
        if "game_date" not in out.columns:
            out["game_date"] = df["game_date"].to_numpy()
        order = np.argsort(out["game_date"].to_numpy().astype(str), kind="stable")
        return out.iloc[order].reset_index(drop=True)

    def game_dates(self, season: str | None = None) -> list[dt.date]:
        with self._lock:
            g = self._games()
        if season is not None:
            g = g[g["season"] == season]
        return [d.date() for d in pd.DatetimeIndex(pd.unique(g["day"])).sort_values()]

    def seasons(self) -> list[str]:
        with self._lock:
            return sorted(pd.unique(self._games()["season"]).tolist())

    def nba_game_ids(self) -> pd.DataFrame:
        """NBA GAME_ID (player logs) -> archive game_id, with date, home and away tricodes."""
        with self._lock:
            logs = self._logs()
        cols = ["nba_game_id", "game_id", "game_date", "home", "away"]
        if logs.empty:
            return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
        g = logs.drop_duplicates("nba_game_id")
        return pd.DataFrame({"nba_game_id": g["nba_game_id"], "game_id": g["game_id"],
                             "game_date": _datestr(g["day"]), "home": g["home"],
                             "away": g["away"]}).reset_index(drop=True)

    def reconciliation(self) -> dict:
        """Counts describing how lines, betting_results and player logs were reconciled."""
        with self._lock:
            self._games()
            return dict(self._notes["reconciliation"])

    # ---- fetch helpers ------------------------------------------------------------------------

    def _endpoint(self, kind: str) -> str:
        return {
            "schedule": f"{LINES_DIR}+{BETTING_DIR}+{LOGS_DIR}",
            "results": f"{LINES_DIR}+{BETTING_DIR}+{LOGS_DIR}",
            "odds": f"{LINES_DIR}+{BETTING_DIR}",
            "rosters": LOGS_DIR, "box_scores": LOGS_DIR,
            "injuries": f"{INJURIES_DIR}+{LOGS_DIR}",
        }[kind]

    def _slice(self, kind: str, day: pd.Timestamp) -> pd.DataFrame:
        key = f"index:{kind}"
        if key not in self._cache:
            t = self.table(kind)
            dates = t["game_date"].to_numpy().astype(str)
            uniq, first = np.unique(dates, return_index=True)
            bounds = np.append(first, len(dates))
            self._cache[key] = (t, {d: (int(bounds[i]), int(bounds[i + 1]))
                                    for i, d in enumerate(uniq)})
        t, index = self._cache[key]
        lo, hi = index.get(day.strftime("%Y-%m-%d"), (0, 0))
        return t.iloc[lo:hi]

    def _fetch_notes(self, kind: str, day: pd.Timestamp, n: int) -> dict:
        notes = {"rows": n, "game_date": day.strftime("%Y-%m-%d")}
        if kind in ("schedule", "results", "odds", "box_scores"):
            self._games()
            notes["reconciliation"] = self._notes["reconciliation"]
        parts = {"schedule": ["lines", "betting", "logs"],
                 "results": ["lines", "betting", "logs"], "odds": ["lines", "betting", "odds"],
                 "rosters": ["logs"], "box_scores": ["logs"], "injuries": ["injuries"]}[kind]
        for part in parts:
            self._part(part)
            if self._notes.get(part):
                notes[part] = self._notes[part]
        return _as_json(notes)

    def _part(self, part: str):
        return {"lines": self._lines, "betting": self._betting, "logs": self._logs,
                "injuries": self._injury_tx, "odds": lambda: self.table("odds")}[part]()

    def _files(self, folder: str, patterns: tuple[str, ...]) -> list[_File]:
        d = self.data_dir / folder
        if not d.is_dir():
            return []
        paths = sorted({p for pat in patterns for p in d.glob(pat) if p.is_file()})
        return [_File(self.data_dir, p) for p in paths]

    # ---- folder parsers (lazy, cached) -----------------------------------------------------

    def _lines(self) -> pd.DataFrame:
        if "lines" in self._cache:
            return self._cache["lines"]
        frames, notes = [], {"files": 0, "rows": 0, "duplicate_rows_dropped": 0,
                             "dropped_unknown_team": {}}
        req = ["Date", "Home", "Away", "OU", "Spread", "ML_Home", "ML_Away", "Points",
               "Win_Margin"]
        for f in self._files(LINES_DIR, ("*.csv",)):
            raw = _read_csv(f, req, text=("Date", "Home", "Away"))
            notes["files"] += 1
            notes["rows"] += len(raw)
            n0 = len(raw)
            raw = raw.drop_duplicates()  # keep the index: error messages cite file rows
            notes["duplicate_rows_dropped"] += n0 - len(raw)
            if raw.empty:
                continue
            date = raw["Date"].str.strip()
            m = date.str.extract(r"^(\d{4})-(\d{2})-(\d{2})(\d{2})$")
            if m[0].isna().any():
                i = int(np.flatnonzero(m[0].isna().to_numpy())[0])
                raise f.error(f"date {raw['Date'].iloc[i]!r} on data row {raw.index[i] + 1} is not "
                              "<season>-MMDD (e.g. 2015-16-1027)", field="Date")
            y1 = m[0].astype(int)
            season = m[0] + "-" + m[1]
            d1 = pd.to_datetime(pd.DataFrame({"year": y1, "month": m[2].astype(int),
                                              "day": m[3].astype(int)}), errors="coerce")
            d2 = pd.to_datetime(pd.DataFrame({"year": y1 + 1, "month": m[2].astype(int),
                                              "day": m[3].astype(int)}), errors="coerce")
            if d1.isna().any() and d2.isna().any():
                i = int(np.flatnonzero((d1.isna() & d2.isna()).to_numpy())[0])
                raise f.error(f"date {raw['Date'].iloc[i]!r} on data row {raw.index[i] + 1} "
                              "is not a calendar date", field="Date")
            # Calendar year: the second year of the season when that date belongs to the season
            # (Jan-Jul normally, and the Aug-Oct 2020 bubble), else the first (Aug-Dec).
            ok2 = _seasons_of(d2.fillna(pd.Timestamp("1900-01-01"))) == season
            day = d2.where(ok2 & d2.notna(), d1)
            if day.isna().any():
                i = int(np.flatnonzero(day.isna().to_numpy())[0])
                raise f.error(f"date {raw['Date'].iloc[i]!r} is not a calendar date", field="Date")
            home, away = _map_teams(raw["Home"]), _map_teams(raw["Away"])
            unknown = home.isna() | away.isna()
            for nm in pd.concat([raw["Home"][home.isna()], raw["Away"][away.isna()]]):
                notes["dropped_unknown_team"][nm] = notes["dropped_unknown_team"].get(nm, 0) + 1
            df = pd.DataFrame({
                "day": day.astype("datetime64[ns]"), "season": season.astype(object),
                "home": home, "away": away,
                "total": _numeric(f, raw, "OU", tokens={"NL": np.nan}),
                "spread": _numeric(f, raw, "Spread", tokens={"NL": np.nan, "PK": 0.0, "PICK": 0.0,
                                                             "PK.": 0.0}),
                "spread_raw": raw["Spread"].astype(str).str.strip().str.upper().astype(object),
                "home_ml": _numeric(f, raw, "ML_Home", tokens={"NL": np.nan}),
                "away_ml": _numeric(f, raw, "ML_Away", tokens={"NL": np.nan}),
                "points": _numeric(f, raw, "Points"),
                "margin": _numeric(f, raw, "Win_Margin"),
                "file": f.rel,
            })[~unknown.to_numpy()]
            frames.append(df)
        cols = ["day", "season", "home", "away", "total", "spread", "spread_raw", "home_ml",
                "away_ml", "points", "margin", "file"]
        out = (pd.concat(frames, ignore_index=True) if frames
               else pd.DataFrame({c: pd.Series([], dtype=object) for c in cols}))
        if not frames:
            out["day"] = out["day"].astype("datetime64[ns]")
            for c in ("total", "spread", "home_ml", "away_ml", "points", "margin"):
                out[c] = out[c].astype("float64")
        n0 = len(out)
        out = out.drop_duplicates(["day", "home", "away"], keep="first").reset_index(drop=True)
        notes["duplicate_games_dropped"] = n0 - len(out)
        self._notes["lines"] = notes
        self._cache["lines"] = out
        return out

    def _betting(self) -> pd.DataFrame:
        if "betting" in self._cache:
            return self._cache["betting"]
        q = ["q1", "q2", "q3", "q4", "ot"]
        req = (["season", "date", "regular", "playoffs", "away", "home", "score_away",
                "score_home"] + [f"{p}_{s}" for s in ("away", "home") for p in q]
               + ["whos_favored", "spread", "total", "moneyline_away", "moneyline_home"])
        frames, notes = [], {"files": 0, "rows": 0, "duplicate_rows_dropped": 0,
                             "dropped_unknown_team": {}}
        for f in self._files(BETTING_DIR, ("*.csv",)):
            raw = _read_csv(f, req, text=("date", "home", "away", "whos_favored"))
            notes["files"] += 1
            notes["rows"] += len(raw)
            n0 = len(raw)
            raw = raw.drop_duplicates()  # keep the index: error messages cite file rows
            notes["duplicate_rows_dropped"] += n0 - len(raw)
            if raw.empty:
                continue
            end_year = _numeric(f, raw, "season", allow_na=False).astype(int)
            season = ((end_year - 1).astype(str) + "-" + (end_year % 100).map("{:02d}".format))
            home, away = _map_teams(raw["home"]), _map_teams(raw["away"])
            unknown = home.isna() | away.isna()
            for nm in pd.concat([raw["home"][home.isna()], raw["away"][away.isna()]]):
                notes["dropped_unknown_team"][nm] = notes["dropped_unknown_team"].get(nm, 0) + 1
            fav = raw["whos_favored"].str.strip().str.lower()
            badfav = fav.notna() & ~fav.isin(["home", "away"])
            if badfav.any():
                i = int(np.flatnonzero(badfav.to_numpy())[0])
                raise f.error("whos_favored must be home/away, got "
                              f"{raw['whos_favored'].iloc[i]!r}", field="whos_favored")
            df = pd.DataFrame({
                "day": _parse_dates(f, raw, "date", "%m/%d/%y"),
                "season": season.astype(object), "home": home, "away": away,
                "regular": _bool(f, raw, "regular"), "playoffs": _bool(f, raw, "playoffs"),
                "home_pts": _numeric(f, raw, "score_home", allow_na=False),
                "away_pts": _numeric(f, raw, "score_away", allow_na=False),
                **{f"home_{p}": _numeric(f, raw, f"{p}_home") for p in q},
                **{f"away_{p}": _numeric(f, raw, f"{p}_away") for p in q},
                "fav": fav.astype(object),
                "spread": _numeric(f, raw, "spread", tokens={"NL": np.nan, "PK": 0.0}),
                "total": _numeric(f, raw, "total", tokens={"NL": np.nan}),
                "home_ml": _numeric(f, raw, "moneyline_home", tokens={"NL": np.nan}),
                "away_ml": _numeric(f, raw, "moneyline_away", tokens={"NL": np.nan}),
                "file": f.rel,
            })[~unknown.to_numpy()]
            frames.append(df)
        if frames:
            out = pd.concat(frames, ignore_index=True)
        else:
            out = pd.DataFrame({"day": pd.Series([], dtype="datetime64[ns]"),
                                "season": pd.Series([], dtype=object),
                                "home": pd.Series([], dtype=object),
                                "away": pd.Series([], dtype=object),
                                "regular": pd.Series([], dtype=bool),
                                "playoffs": pd.Series([], dtype=bool),
                                **{c: pd.Series([], dtype="float64") for c in
                                   ["home_pts", "away_pts", "spread", "total", "home_ml",
                                    "away_ml"] + [f"{s}_{p}" for s in ("home", "away")
                                                  for p in q]},
                                "fav": pd.Series([], dtype=object),
                                "file": pd.Series([], dtype=object)})
        n0 = len(out)
        out = out.drop_duplicates(["day", "home", "away"], keep="first").reset_index(drop=True)
        notes["duplicate_games_dropped"] = n0 - len(out)
        self._notes["betting"] = notes
        self._cache["betting"] = out
        return out

    def _logs(self) -> pd.DataFrame:
        if "logs" in self._cache:
            return self._cache["logs"]
        req = ["PLAYER_ID", "PLAYER_NAME", "TEAM_ID", "TEAM_ABBREVIATION", "GAME_ID",
               "GAME_DATE", "MATCHUP", "MIN", "PTS", "FGA", "FTA", "OREB", "TOV"]
        frames, notes = [], {"files": 0, "rows": 0, "duplicate_rows_dropped": 0,
                             "non_game_rows_dropped": 0, "dropped_unknown_team": {}}
        for f in self._files(LOGS_DIR, ("*.csv.gz", "*.csv")):
            raw = _read_csv(f, req, optional=("SEASON_LABEL", "SEASON_ID"),
                            text=("PLAYER_NAME", "TEAM_ABBREVIATION", "GAME_ID", "GAME_DATE",
                                  "MATCHUP", "SEASON_LABEL"))
            notes["files"] += 1
            notes["rows"] += len(raw)
            n0 = len(raw)
            raw = raw.drop_duplicates()  # keep the index: error messages cite file rows
            notes["duplicate_rows_dropped"] += n0 - len(raw)
            if raw.empty:
                continue
            gid = _per_unique(raw["GAME_ID"], lambda u: u.str.strip().str.zfill(10))
            # GAME_ID digit 3: 2 regular season, 4 playoffs, 5 play-in (1 preseason, 3 all-star).
            gtype = gid.str[2].map({"2": "regular", "4": "playoff", "5": "playoff"})
            keep = gtype.notna().to_numpy()
            notes["non_game_rows_dropped"] += int((~keep).sum())
            codes, umu = pd.factorize(raw["MATCHUP"].fillna(""))
            mu = (pd.Series(np.asarray(umu, dtype=object)).str.strip()
                  .str.extract(r"^(\S+)\s+(vs\.?|@)\s+(\S+)$").iloc[codes]
                  .reset_index(drop=True))
            mu.index = raw.index
            bad = mu[0].isna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise f.error(f"MATCHUP {raw['MATCHUP'].iloc[i]!r} on data row "
                              f"{raw.index[i] + 1} is not 'X vs. Y' or 'X @ Y'", field="MATCHUP")
            is_away = (mu[1] == "@").to_numpy()
            t1, t2 = _map_teams(mu[0]), _map_teams(mu[2])
            home = pd.Series(np.where(is_away, t2, t1), index=raw.index)
            away = pd.Series(np.where(is_away, t1, t2), index=raw.index)
            team = _map_teams(raw["TEAM_ABBREVIATION"])
            unknown = (home.isna() | away.isna() | team.isna()).to_numpy()
            for nm in mu[0][pd.isna(t1)]:
                notes["dropped_unknown_team"][nm] = notes["dropped_unknown_team"].get(nm, 0) + 1
            day = _parse_dates(f, raw, "GAME_DATE", "ISO8601").dt.normalize()
            if "SEASON_LABEL" in raw.columns and raw["SEASON_LABEL"].notna().all():
                season = _per_unique(raw["SEASON_LABEL"], lambda u: u.str.strip())
            else:
                season = _seasons_of(day)
            df = pd.DataFrame({
                "day": day, "season": season, "nba_game_id": gid.astype(object),
                "game_type": gtype.astype(object),
                "home": home.astype(object), "away": away.astype(object),
                "team": team.astype(object),
                "team_id": _numeric(f, raw, "TEAM_ID", allow_na=False).astype("int64"),
                "player_id": _numeric(f, raw, "PLAYER_ID", allow_na=False).astype("int64"),
                "player_name": _per_unique(raw["PLAYER_NAME"].fillna(""), lambda u: u.str.strip()),
                "minutes": _numeric(f, raw, "MIN"),
                "pts": _numeric(f, raw, "PTS"), "fga": _numeric(f, raw, "FGA"),
                "fta": _numeric(f, raw, "FTA"), "oreb": _numeric(f, raw, "OREB"),
                "tov": _numeric(f, raw, "TOV"),
            })[keep & ~unknown]
            frames.append(df)
        if frames:
            out = pd.concat(frames, ignore_index=True)
        else:
            out = pd.DataFrame({
                "day": pd.Series([], dtype="datetime64[ns]"),
                **{c: pd.Series([], dtype=object) for c in
                   ["season", "nba_game_id", "game_type", "home", "away", "team", "player_name"]},
                "team_id": pd.Series([], dtype="int64"), "player_id": pd.Series([], dtype="int64"),
                **{c: pd.Series([], dtype="float64") for c in
                   ["minutes", "pts", "fga", "fta", "oreb", "tov"]}})
        n0 = len(out)
        out = out.drop_duplicates(["nba_game_id", "player_id"], keep="first").reset_index(drop=True)
        notes["duplicate_player_games_dropped"] = n0 - len(out)
        # game_id is constant per NBA game: build it once per game and broadcast.
        codes, _ = pd.factorize(out["nba_game_id"])
        firsts = out.drop_duplicates("nba_game_id")
        ids = _game_id(firsts["day"], firsts["away"], firsts["home"]).to_numpy(dtype=object)
        out["game_id"] = pd.Series(ids[codes] if len(out) else [], index=out.index, dtype=object)
        self._notes["logs"] = notes
        self._cache["logs"] = out
        return out

    # ---- games master ------------------------------------------------------------------------

    def _games(self) -> pd.DataFrame:
        """One row per game: reconciled from lines, betting_results and player logs."""
        if "games" in self._cache:
            return self._cache["games"]
        lines, bet, logs = self._lines(), self._betting(), self._logs()
        key = ["day", "home", "away"]
        L = lines.assign(li=np.arange(len(lines)))
        B = bet.assign(bi=np.arange(len(bet)))
        exact = L[key + ["li"]].merge(B[key + ["bi"]], on=key, how="inner")
        # Pair what is left when the same matchup is one day apart (off-by-one line dates).
        lo = L[~L["li"].isin(exact["li"])]
        bo = B[~B["bi"].isin(exact["bi"])]
        # Both sides must agree on the final score (back-to-back games between the same teams
        # on consecutive days exist, e.g. the 2020-21 two-game series).
        cand = lo[["home", "away", "day", "li", "points", "margin"]].merge(
            bo[["home", "away", "day", "bi", "home_pts", "away_pts"]], on=["home", "away"],
            suffixes=("_l", "_b"))
        same_score = ((cand["points"] == cand["home_pts"] + cand["away_pts"])
                      & (cand["margin"] == cand["home_pts"] - cand["away_pts"]))
        cand = cand[((cand["day_l"] - cand["day_b"]).abs() <= pd.Timedelta(days=1)) & same_score]
        cand = cand[~cand["li"].duplicated(keep=False) & ~cand["bi"].duplicated(keep=False)]
        pairs = pd.concat([exact[["li", "bi"]], cand[["li", "bi"]]], ignore_index=True)

        # Matched + betting-only rows take the betting_results date; lines-only keep theirs.
        lcols = ["total", "spread", "spread_raw", "home_ml", "away_ml", "points", "margin"]
        Lr = L.set_index("li")
        Bb = B.copy()
        Bb["li"] = pd.Series(pairs["li"].to_numpy(), index=pairs["bi"].to_numpy()).reindex(
            np.arange(len(B))).to_numpy()
        Bb["src"] = np.where(Bb["li"].notna(), "both", "betting")
        lonly = L[~L["li"].isin(pairs["li"])].copy()
        lonly["src"] = "lines"
        games = pd.concat([
            Bb.drop(columns=["file"]),
            lonly[["day", "season", "home", "away", "li", "src"]],
        ], ignore_index=True)
        li = games["li"]
        has_l = li.notna().to_numpy()
        for c in lcols:
            vals = pd.Series(np.nan if c != "spread_raw" else None, index=games.index,
                             dtype="float64" if c != "spread_raw" else object)
            if has_l.any():
                vals[has_l] = Lr.loc[li[has_l].astype(int), c].to_numpy()
            games[f"l_{c}"] = vals
        games["l_season"] = pd.Series(None, index=games.index, dtype=object)
        if has_l.any():
            games.loc[has_l, "l_season"] = Lr.loc[li[has_l].astype(int), "season"].to_numpy()

        # Player-log games not found above are added from the logs themselves.
        recon = {"lines_games": int(len(lines)), "betting_games": int(len(bet)),
                 "matched_exact": int(len(exact)), "matched_date_shift": int(len(cand)),
                 "lines_only": int(len(lonly)), "betting_only": int((Bb["src"] == "betting").sum())}
        lg = logs.drop_duplicates("nba_game_id")[["nba_game_id", "day", "season", "home", "away",
                                                  "game_type", "game_id"]]
        games["game_id"] = _game_id(games["day"], games["away"], games["home"])
        dup = games["game_id"].duplicated(keep="first")
        recon["duplicate_game_ids_dropped"] = int(dup.sum())
        games = games[~dup].reset_index(drop=True)
        in_master = lg["game_id"].isin(games["game_id"])
        recon["log_games"] = int(len(lg))
        recon["log_games_matched"] = int(in_master.sum())
        recon["log_games_unmatched"] = int((~in_master).sum())
        if (~in_master).any():
            extra = lg[~in_master].drop(columns=["nba_game_id"]).rename(
                columns={"game_type": "log_type"})
            extra["src"] = "logs"
            games = pd.concat([games, extra], ignore_index=True)

        # Season label: betting_results > lines > logs; check against the calendar rule.
        games["season"] = games["season"].where(games["season"].notna(), games["l_season"])
        recon["season_label_conflicts"] = int(
            (games["l_season"].notna() & (games["l_season"] != games["season"])).sum())

        # Scores: betting_results > lines > summed player-log points.
        pts = (logs.groupby(["game_id", "team"], sort=False)
               .agg(pts=("pts", "sum"), mins=("minutes", "sum")).reset_index())
        hp = games[["game_id", "home"]].merge(pts, left_on=["game_id", "home"],
                                              right_on=["game_id", "team"], how="left")
        ap = games[["game_id", "away"]].merge(pts, left_on=["game_id", "away"],
                                              right_on=["game_id", "team"], how="left")
        lh = (games["l_points"] + games["l_margin"]) / 2
        la = (games["l_points"] - games["l_margin"]) / 2
        l_ok = (lh == lh.round()) & (la == la.round()) & (lh >= 0) & (la >= 0)
        both = games["src"] == "both"
        recon["score_mismatch_lines_vs_betting"] = int(
            (both & ((lh != games["home_pts"]) | (la != games["away_pts"]))).sum())
        log_h, log_a = hp["pts"].to_numpy(), ap["pts"].to_numpy()
        has_log = ~np.isnan(log_h) & ~np.isnan(log_a)
        recon["score_mismatch_logs_vs_final"] = int(
            (has_log & games["home_pts"].notna().to_numpy()
             & ((log_h != games["home_pts"].to_numpy())
                | (log_a != games["away_pts"].to_numpy()))).sum())
        for side, lv, logv in (("home", lh, log_h), ("away", la, log_a)):
            v = games[f"{side}_pts"]
            v = v.where(v.notna(), lv.where(l_ok))
            games[f"{side}_pts"] = v.where(v.notna(), pd.Series(logv, index=games.index))
        recon["lines_scores_unusable"] = int((games["src"].eq("lines") & ~l_ok).sum())

        # Overtime periods: player-log minutes > betting OT points (0 means no OT) > unknown.
        mins = np.fmax(hp["mins"].to_numpy(), ap["mins"].to_numpy())
        ot_logs = np.clip(np.round((mins - 240) / 25), 0, None)
        no_ot = (games["home_ot"] == 0) & (games["away_ot"] == 0)
        ot = pd.Series(np.where(~np.isnan(mins), ot_logs, np.where(no_ot, 0, np.nan)),
                       index=games.index)
        games["overtime_periods"] = ot

        # Game type.
        gtype = pd.Series(None, index=games.index, dtype=object)
        has_b = games["regular"].notna()
        gtype[has_b] = np.where(games.loc[has_b, "regular"].astype(bool), "regular", "playoff")
        recon["play_in_games"] = int((has_b & ~games["regular"].astype("boolean").fillna(True)
                                      & ~games["playoffs"].astype("boolean").fillna(False)).sum())
        if "log_type" in games.columns:
            gtype = gtype.where(gtype.notna(), games["log_type"])
        reg_end = bet[bet["regular"]].groupby("season")["day"].max()
        log_end = logs[logs["game_type"] == "regular"].groupby("season")["day"].max()
        need = gtype.isna()
        if need.any():
            s = games.loc[need, "season"]
            d = games.loc[need, "day"]
            end = pd.to_datetime(s.map(reg_end.to_dict())).astype("datetime64[ns]")
            end = end.fillna(pd.to_datetime(s.map(log_end.to_dict())).astype("datetime64[ns]"))
            heur = pd.to_datetime(s.str[:4].astype(int).add(1).astype(str) + "-04-16")
            playoff = np.where(end.notna(), d > end, d >= heur)
            gtype[need] = np.where(playoff, "playoff", "regular")
            recon["lines_only_game_type_inferred"] = int(need.sum())
        games["game_type"] = gtype

        games = games.sort_values(["day", "game_id"], kind="stable").reset_index(drop=True)
        games["game_date"] = _datestr(games["day"])
        games["home_team_id"] = games["home"].map(TEAM_IDS).astype("int64")
        games["away_team_id"] = games["away"].map(TEAM_IDS).astype("int64")
        games["tip_ts"] = _local(games["day"], DEFAULT_TIP_LOCAL)
        games["final_ts"] = games["tip_ts"] + GAME_DURATION
        recon["games"] = int(len(games))
        self._notes["reconciliation"] = recon
        self._cache["games"] = games
        return games

    # ---- kind builders ------------------------------------------------------------------------

    def _build_schedule(self) -> pd.DataFrame:
        g = self._games()
        first = g.groupby("season")["day"].transform("min")
        pre = _local(first - pd.Timedelta(days=SCHEDULE_LEAD_DAYS), dt.time(9, 0))
        day_before = _local(g["day"] - pd.Timedelta(days=1), dt.time(9, 0))
        snap = pre.where(g["game_type"] == "regular", day_before)
        return pd.DataFrame({
            "game_id": g["game_id"], "season": g["season"], "game_date": g["game_date"],
            "tip_ts": g["tip_ts"], "home_team_id": g["home_team_id"],
            "away_team_id": g["away_team_id"], "home_team": g["home"], "away_team": g["away"],
            "game_type": g["game_type"], "snapshot_ts": snap,
        })

    def _build_results(self) -> pd.DataFrame:
        g = self._games()
        g = g[g["home_pts"].notna() & g["away_pts"].notna()]
        q = ["q1", "q2", "q3", "q4", "ot"]
        return pd.DataFrame({
            "game_id": g["game_id"], "season": g["season"], "game_date": g["game_date"],
            "home_team_id": g["home_team_id"], "away_team_id": g["away_team_id"],
            "home_pts": g["home_pts"], "away_pts": g["away_pts"],
            **{f"home_{p}": g[f"home_{p}"] for p in q},
            **{f"away_{p}": g[f"away_{p}"] for p in q},
            "overtime_periods": g["overtime_periods"], "final_ts": g["final_ts"],
            "snapshot_ts": g["final_ts"],
        })

    def _build_odds(self) -> pd.DataFrame:
        g = self._games()
        notes = {}
        has_l = g["li"].notna()
        # Closing lines from historical_lines.
        hml, aml = g["l_home_ml"].copy(), g["l_away_ml"].copy()
        spread, total = g["l_spread"].abs(), g["l_total"].copy()
        src_fav = g["fav"]
        # Fallback to betting_results when the lines lack the game.
        fb = ~has_l & g["regular"].notna()
        hml[fb], aml[fb] = g.loc[fb, "home_ml"], g.loc[fb, "away_ml"]
        spread[fb], total[fb] = g.loc[fb, "spread"].abs(), g.loc[fb, "total"]
        keep = has_l | fb
        # Moneylines strictly between -100 and +100 are not American odds.
        for s in (hml, aml):
            bad = (s > -100) & (s < 100)
            notes["moneyline_invalid"] = notes.get("moneyline_invalid", 0) + int((bad & keep).sum())
            s[bad] = np.nan
        # Spread 0.0 is a missing line ("PK" is a real pick'em and parses to 0.0 too).
        pick = has_l & g["l_spread_raw"].isin(["PK", "PICK", "PK."])
        missing = (spread == 0) & ~pick & has_l
        notes["spread_missing"] = int(missing.sum())
        spread[missing] = np.nan
        fav_ml = np.fmin(hml, aml)
        implausible = (spread > 25) | ((spread >= 15) & (fav_ml > -700))
        notes["spread_implausible"] = int((implausible & keep).sum())
        spread[implausible] = np.nan
        bad_total = (total < 150) | (total > 300)
        notes["total_implausible"] = int((bad_total & keep).sum())
        total[bad_total] = np.nan
        # Favourite: lower moneyline; equal/missing moneylines -> betting_results' whos_favored
        # when it gives a non-zero spread; otherwise the sign is unknown.
        home_fav = pd.Series(np.where(hml < aml, 1.0, np.where(aml < hml, 0.0, np.nan)),
                             index=g.index)
        bet_fav = pd.Series(np.where(src_fav == "home", 1.0,
                                     np.where(src_fav == "away", 0.0, np.nan)),
                            index=g.index).where(g["spread"] > 0)
        unknown = home_fav.isna()
        home_fav = home_fav.where(~unknown, bet_fav)
        sign = np.where(home_fav == 1.0, -1.0, np.where(home_fav == 0.0, 1.0, np.nan))
        home_spread = pd.Series(np.where(spread == 0, 0.0, spread * sign), index=g.index)
        notes["spread_sign_unknown"] = int((keep & home_spread.isna() & spread.notna()).sum())
        notes["spread_sign_from_whos_favored"] = int((keep & unknown & home_fav.notna()
                                                      & (spread > 0)).sum())
        notes["fallback_betting_results"] = int(fb.sum())
        self._notes["odds"] = notes
        g = g[keep]
        tip = g["tip_ts"]
        return pd.DataFrame({
            "game_id": g["game_id"],
            "bookmaker": np.where(has_l[keep], "closing", "betting_results"),
            "home_ml": hml[keep], "away_ml": aml[keep], "home_spread": home_spread[keep],
            "total": total[keep], "snapshot_ts": tip - ODDS_LEAD, "game_date": g["game_date"],
        })

    def _build_box_scores(self) -> pd.DataFrame:
        logs = self._logs()
        final = _local(logs["day"], DEFAULT_TIP_LOCAL) + GAME_DURATION
        return pd.DataFrame({
            "game_id": logs["game_id"], "game_date": _datestr(logs["day"]),
            "team_id": logs["team_id"], "player_id": logs["player_id"],
            "player_name": logs["player_name"], "minutes": logs["minutes"],
            "pts": logs["pts"], "fga": logs["fga"], "fta": logs["fta"], "oreb": logs["oreb"],
            "tov": logs["tov"], "starter": pd.Series(pd.NA, index=logs.index, dtype="boolean"),
            "snapshot_ts": final,
        })

    def _team_days(self) -> pd.DataFrame:
        """(day, season, team) for every team playing on every game date."""
        g = self._games()
        return pd.concat([
            g[["day", "season", "home"]].rename(columns={"home": "team"}),
            g[["day", "season", "away"]].rename(columns={"away": "team"}),
        ], ignore_index=True).drop_duplicates(["day", "team"])

    def _build_rosters(self) -> pd.DataFrame:
        logs = self._logs()
        td = self._team_days()
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

    # ---- injuries --------------------------------------------------------------------------

    def _injury_tx(self) -> pd.DataFrame:
        """The transaction stream as events: one row per (transaction, player), sorted."""
        if "injury_tx" in self._cache:
            return self._cache["injury_tx"]
        req = ["Date", "Team", "Acquired", "Relinquished", "Notes"]
        frames, notes = [], {"files": 0, "rows": 0, "duplicate_rows_dropped": 0,
                             "dropped_team_rows": 0, "dropped_team_names": {},
                             "rows_without_player": 0, "non_player_names_dropped": 0}
        for f in self._files(INJURIES_DIR, ("*.csv",)):
            raw = _read_csv(f, req, optional=("ID",), text=tuple(req))
            notes["files"] += 1
            notes["rows"] += len(raw)
            n0 = len(raw)
            raw = raw.drop_duplicates(subset=req)
            notes["duplicate_rows_dropped"] += n0 - len(raw)
            if raw.empty:
                continue
            day = _parse_dates(f, raw, "Date", "%d/%m/%Y")
            team = _map_nicknames(raw["Team"], day)
            drop = team.isna().to_numpy()
            notes["dropped_team_rows"] += int(drop.sum())
            for nm, n in raw["Team"][drop].value_counts().items():
                notes["dropped_team_names"][nm] = notes["dropped_team_names"].get(nm, 0) + int(n)
            base = pd.DataFrame({"day": day, "team": team.astype(object),
                                 "reason": raw["Notes"].fillna("").str.strip().astype(object),
                                 "row": np.arange(len(raw)) + 1_000_000 * len(frames)})
            ev = []
            for col, is_out, rank in (("Relinquished", True, 0), ("Acquired", False, 1)):
                name = raw[col].str.strip()
                has = name.notna() & (name != "")
                # A few "names" are not players (e.g. "NBA health and safety protocols (DTD)").
                junk = has & _per_unique(name.fillna(""), _not_a_player).fillna(False).astype(bool)
                notes["non_player_names_dropped"] += int(junk.sum())
                has &= ~junk
                e = base[has.to_numpy()].copy()
                e["raw_name"] = name[has].astype(object)
                e["out"] = is_out
                e["seq"] = e["row"] * 2 + rank
                ev.append(e)
            e = pd.concat(ev, ignore_index=True)
            notes["rows_without_player"] += int(
                (raw["Relinquished"].fillna("").str.strip().eq("")
                 & raw["Acquired"].fillna("").str.strip().eq("")).sum())
            frames.append(e[~e["team"].isna().to_numpy()])
        cols = {"day": "datetime64[ns]", "team": object, "reason": object, "row": "int64",
                "raw_name": object, "out": bool, "seq": "int64"}
        tx = (pd.concat(frames, ignore_index=True) if frames
              else pd.DataFrame({c: pd.Series([], dtype=t) for c, t in cols.items()}))
        tx["team_id"] = tx["team"].map(TEAM_IDS).astype("int64")
        tx["season"] = _seasons_of(tx["day"])
        tx = self._resolve_players(tx, notes)
        tx["snapshot_ts"] = _local(tx["day"], dt.time(12, 0))
        tx = tx.sort_values(["day", "seq"], kind="stable").reset_index(drop=True)
        self._notes["injuries"] = notes
        self._cache["injury_tx"] = tx
        return tx

    def _resolve_players(self, tx: pd.DataFrame, notes: dict) -> pd.DataFrame:
        """player_id / player_name for injury names: logs by team+season > season > adjacent."""
        logs = self._logs()
        u = tx[["season", "team_id", "raw_name"]].drop_duplicates().reset_index(drop=True)
        u["uid"] = np.arange(len(u))
        names = pd.unique(u["raw_name"])
        alias_lists = {n: [a for a in (normalize_name(p) for p in n.split("/")) if a]
                       for n in names}
        ex = u.assign(alias=u["raw_name"].map(alias_lists)).explode("alias")
        ex = ex[ex["alias"].notna()]
        ex["pos"] = ex.groupby("uid").cumcount()
        lp = logs[["season", "team_id", "player_id", "player_name"]].drop_duplicates()
        lp = lp.assign(alias=lp["player_name"].map(
            {n: normalize_name(n) for n in pd.unique(lp["player_name"])}))

        def unique_lookup(keys: list[str], frame: pd.DataFrame) -> pd.DataFrame:
            f = frame.drop_duplicates(keys + ["player_id"])
            return f[~f.duplicated(keys, keep=False)][keys + ["player_id"]]

        best = []
        adj = pd.concat([lp.assign(season=lp["season"].map(lambda s, d=d: _shift_season(s, d)))
                         for d in (-1, 1)], ignore_index=True) if len(lp) else lp
        for level, keys, frame in ((0, ["season", "team_id", "alias"], lp),
                                   (1, ["season", "alias"], lp),
                                   (2, ["season", "alias"], adj)):
            m = ex.merge(unique_lookup(keys, frame), on=keys, how="inner")
            best.append(m.assign(level=level))
        m = pd.concat(best, ignore_index=True).sort_values(["uid", "level", "pos"])
        m = m.drop_duplicates("uid")[["uid", "player_id", "level"]]
        u = u.merge(m, on="uid", how="left")
        first_alias = u["raw_name"].map(lambda n: (alias_lists[n] or [n.strip().lower()])[0])
        sur = first_alias.map({a: _surrogate_id(a) for a in pd.unique(first_alias)})
        notes["names_matched_team_season"] = int((u["level"] == 0).sum())
        notes["names_matched_season"] = int((u["level"] == 1).sum())
        notes["names_matched_adjacent_season"] = int((u["level"] == 2).sum())
        in_log_era = u["season"].isin(pd.unique(lp["season"]))
        notes["names_unmatched_in_log_seasons"] = int((u["player_id"].isna() & in_log_era).sum())
        notes["names_surrogate"] = int(u["player_id"].isna().sum())
        u["player_id"] = u["player_id"].where(u["player_id"].notna(), sur).astype("int64")
        log_names = logs.drop_duplicates("player_id", keep="last").set_index("player_id")[
            "player_name"]
        disp = u["raw_name"].map(lambda n: _display_name(n.split("/")[0]) or n.strip())
        u["player_name"] = u["player_id"].map(log_names).where(lambda s: s.notna(), disp)
        return tx.merge(u[["season", "team_id", "raw_name", "player_id", "player_name"]],
                        on=["season", "team_id", "raw_name"], how="left")

    def _injuries_at(self, day: pd.Timestamp, as_of: pd.Timestamp) -> pd.DataFrame:
        """Players out for teams playing on `day`, from transactions knowable at `as_of`."""
        tx = self._injury_tx()
        # Last transaction date whose noon stamp is <= as_of, capped at the game date.
        local = as_of.tz_convert(LEAGUE_TZ)
        cutoff = pd.Timestamp(local.date())
        if local.time() < dt.time(12, 0):
            cutoff -= pd.Timedelta(days=1)
        cutoff = min(cutoff, day)
        lo_day = day - pd.Timedelta(days=STALE_INJURY_DAYS)
        days = tx["day"].to_numpy()
        lo = np.searchsorted(days, lo_day.to_datetime64(), side="left")
        hi = np.searchsorted(days, cutoff.to_datetime64(), side="right")
        w = tx.iloc[lo:hi]
        last = w.drop_duplicates(["team_id", "player_id"], keep="last")
        g = self._games()
        playing = set(g.loc[g["day"] == day, ["home", "away"]].to_numpy().ravel())
        out = last[last["out"] & last["team"].isin(playing)]
        return self._injury_rows(out, pd.Series(day, index=out.index))

    @staticmethod
    def _injury_rows(ev: pd.DataFrame, days: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({
            "game_date": _datestr(days), "team_id": ev["team_id"], "team": ev["team"],
            "player_id": ev["player_id"], "player_name": ev["player_name"], "status": "Out",
            "reason": ev["reason"], "snapshot_ts": ev["snapshot_ts"],
        }).sort_values(["team_id", "player_id"], kind="stable")

    def _build_injuries(self) -> pd.DataFrame:
        """Vectorized equivalent of `_injuries_at(D, D 12:00)` for every game date D.

        Every Relinquished event starts an 'out' spell [day, min(next event of the same
        team+player, day + 121 days)); team game dates inside a spell get the row.
        """
        tx = self._injury_tx()
        td = self._team_days()
        if tx.empty or td.empty:
            return self._injury_rows(tx.iloc[:0], pd.Series([], dtype="datetime64[ns]"))
        s = tx.sort_values(["team_id", "player_id", "day", "seq"], kind="stable")
        nxt = s.groupby(["team_id", "player_id"], sort=False)["day"].shift(-1)
        stale_end = s["day"] + pd.Timedelta(days=STALE_INJURY_DAYS + 1)
        end = nxt.where(nxt.notna() & (nxt < stale_end), stale_end)
        spells = s[s["out"].to_numpy() & (end > s["day"]).to_numpy()]
        end = end[spells.index]
        # Encode (team, day) as one sorted integer key and find the game days in each spell.
        teams = sorted(TEAM_IDS)
        tidx = {t: i for i, t in enumerate(teams)}
        day_num = lambda d: (d.to_numpy().astype("datetime64[D]").astype("int64"))  # noqa: E731
        tkey = td["team"].map(tidx).to_numpy().astype("int64") * 1_000_000 + day_num(td["day"])
        order = np.argsort(tkey, kind="stable")
        tkey, tdays = tkey[order], td["day"].to_numpy()[order]
        base = spells["team"].map(tidx).to_numpy().astype("int64") * 1_000_000
        lo = np.searchsorted(tkey, base + day_num(spells["day"]), side="left")
        hi = np.searchsorted(tkey, base + day_num(end), side="left")
        n = hi - lo
        rep = np.repeat(np.arange(len(spells)), n)
        pos = np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
        ev = spells.iloc[rep].reset_index(drop=True)
        days = pd.Series(tdays[pos], index=ev.index)
        out = self._injury_rows(ev, days)
        out = out.sort_values(["game_date", "team_id", "player_id"], kind="stable")
        return out.drop_duplicates(["team_id", "player_id", "game_date"], keep="last")


def _shift_season(season: str, delta: int) -> str:
    y = int(season[:4]) + delta
    return f"{y}-{(y + 1) % 100:02d}"
