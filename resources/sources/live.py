"""The `live` source: NBA CDN, stats.nba.com, The Odds API and the official injury report.

Endpoints (logical names, used in errors and `Extract.endpoint`):

  cdn.scheduleLeagueV2          https://cdn.nba.com/static/json/staticData/scheduleLeagueV2.json
  cdn.todaysScoreboard          https://cdn.nba.com/static/json/liveData/scoreboard/todaysScoreboard_00.json
  stats.leaguegamelog           https://stats.nba.com/stats/leaguegamelog   (team mode, past dates)
  stats.boxscoretraditionalv3   https://stats.nba.com/stats/boxscoretraditionalv3
  stats.commonteamroster        https://stats.nba.com/stats/commonteamroster
  oddsapi.v4.odds               https://api.the-odds-api.com/v4/sports/basketball_nba/odds
  oddsapi.v4.historical.events  .../v4/historical/sports/basketball_nba/events?date=
  oddsapi.v4.historical.event_odds
                                .../v4/historical/sports/basketball_nba/events/{id}/odds?date=
  injury_report                 https://ak-static.cms.nba.com/referee/injury/Injury-Report_*.pdf
                                (the newest official PDF at as_of, see sources/injury_report.py;
                                or rows from an injected provider)

Every base URL can be overridden by the environment, read at request time: TIPOFF_NBA_CDN_URL,
TIPOFF_NBA_STATS_URL, TIPOFF_ODDS_API_URL, TIPOFF_INJURY_REPORT_URL (the folder of the PDFs).

Semantics and decisions (see also each `_fetch_*`):

- Everything here is "what the endpoint says now": `snapshot_ts` is `as_of` (the moment of the
  pull) except for odds, whose rows carry the bookmaker's `last_update`, and injuries, which carry
  the report's timestamp.  Odds stamped after `as_of` are dropped and counted in notes.
- schedule: `tip_ts` is `gameDateTimeUTC`; `game_date` is the date part of `gameDateEst` (the
  league's own date; it also survives games whose tip time is still TBD).  `game_type` comes from
  the game id prefix: 001 preseason, 002 regular, 003 allstar, 004 playoff, 005 playin,
  006 cup_final; other prefixes become "other".  Every game of the date is returned, including
  preseason games against non-NBA teams (e.g. team id 15016, Melbourne United).
- results: the CDN scoreboard only covers the league's current day.  When its `gameDate` is the
  requested date, final games (gameStatus 3) are read from it, with quarter scores from `periods`;
  otherwise the stats.nba.com team game log (Regular Season, PlayIn and Playoffs) is used: two team
  rows per GAME_ID are paired (home = MATCHUP with "vs."), quarter scores are unknown (NA) and
  overtime periods come from team minutes (240 + 25 per OT).  Neither endpoint publishes when a
  game ended, so by default `final_ts = snapshot_ts = as_of` (the moment we saw it final).  With
  `final_ts_policy="estimate"` both are instead a stable estimate clamped to `as_of`: tip +
  GAME_DURATION + 15 min per OT (scoreboard), or 03:00 New York time the next day (game log,
  which has no tip time) -- so re-pulling a past date does not move its labels later.
- box_scores: one boxscoretraditionalv3 request per final game of `results`.  Only players who
  played (minutes > 0) are kept; DNP/DND rows are dropped and counted in notes.
- rosters: one commonteamroster request per NBA team in the day's schedule (non-NBA opponents are
  skipped and counted).
- odds: events are matched to the schedule's game_id by (New York date of commence_time, home
  team id, away team id); unmatched events are dropped and counted.  One row per (event,
  bookmaker) with the moneylines, the home spread and the total and the prices of both sides of
  each; markets other than h2h/spreads/totals (e.g. `h2h_lay`) are ignored.  An as-of within
  `odds_history_after` (10 min) of the source's clock (`TIPOFF_NOW`, else wall time) is answered
  by the current-odds endpoint; an older one by the historical endpoints as of that instant
  (`_fetch_historical_odds`: events at the snapshot, then each not-yet-started game's event odds
  in decimal prices, converted to American).  Every Odds API call is paid through `odds_meter`
  (sources/odds_api.py: budgets checked before the call, credits booked in the ledger).
- injuries: `parse_injury_report_rows` normalizes the rows; player ids come from the teams'
  rosters (matched by normalized name), else a stable negative surrogate.  A team whose report
  is NOT YET SUBMITTED is one team-level row (player_id 0, status "Not Yet Submitted":
  availability unknown, not healthy).  By default the rows come from the newest official PDF
  at or before as_of (`injury_report.official_report_provider`); a damaged PDF fails the fetch
  with the PDF as raw.

Raw payloads: a kind answered by a single request keeps the exact response bytes; a kind that
needs several requests keeps deterministic JSON `{request name: parsed payload}`.  The schedule,
when only used as a lookup (odds, rosters), is kept filtered to the requested date.  The Odds API
key never appears in errors, logs, notes or raw payloads.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import pandas as pd

from tipoff_core.schemas import (
    GAME_TYPES, NOT_YET_SUBMITTED, STATUSES, TEAM_LEVEL_PLAYER_ID, empty_frame, games_left,
)
from tipoff_core.timeutil import (
    GAME_DURATION, LEAGUE_TZ, clock_now, league_date, local_ts, season_of, to_date, utc,
)
from resources.sources.base import Extract, SourceError, finish
from resources.sources import in_game
from resources.sources.http import HttpClient, redact_text, scrub_bytes
from resources.sources.injury_report import official_report_provider
from resources.sources.odds_api import (
    EP_HISTORICAL_EVENT_ODDS, EP_HISTORICAL_EVENTS, EP_ODDS, HISTORICAL_EVENT_ODDS_PATH,
    HISTORICAL_EVENTS_PATH, MARKETS as ODDS_MARKETS, ODDS_PATH, CreditLedger, CreditMeter,
    call_cost, count, decimal_to_american,
)

SOURCE = "live"

# Base URLs; each can be pointed elsewhere (a mirror, a proxy, a local server of recorded
# responses in tests) by its environment variable, read at request time.
BASE_URLS = {
    "TIPOFF_NBA_CDN_URL": "https://cdn.nba.com",
    "TIPOFF_NBA_STATS_URL": "https://stats.nba.com",
    "TIPOFF_ODDS_API_URL": "https://api.the-odds-api.com",
}
SCHEDULE_PATH = "/static/json/staticData/scheduleLeagueV2.json"
SCOREBOARD_PATH = "/static/json/liveData/scoreboard/todaysScoreboard_00.json"
PLAY_BY_PLAY_PATH = "/static/json/liveData/playbyplay/playbyplay_{game_id}.json"
STATS_PATH = "/stats/{endpoint}"


def base_url(env: str) -> str:
    """The base URL of a service: `$<env>` if set, else the public one (no trailing slash)."""
    return (os.environ.get(env) or BASE_URLS[env]).rstrip("/")


def cdn_url(path: str) -> str:
    return base_url("TIPOFF_NBA_CDN_URL") + path


def stats_url(endpoint: str) -> str:
    return base_url("TIPOFF_NBA_STATS_URL") + STATS_PATH.format(endpoint=endpoint)


def odds_api_url(path: str) -> str:
    return base_url("TIPOFF_ODDS_API_URL") + path

EP_SCHEDULE = "cdn.scheduleLeagueV2"
EP_SCOREBOARD = "cdn.todaysScoreboard"
EP_PLAY_BY_PLAY = "cdn.playbyplay"
EP_GAMELOG = "stats.leaguegamelog"
EP_BOX = "stats.boxscoretraditionalv3"
EP_ROSTER = "stats.commonteamroster"
EP_INJURIES = "injury_report"

ODDS_KEY_ENV = "ODDS_API_KEY"
GAMELOG_SEASON_TYPES = ("Regular Season", "PlayIn", "Playoffs")
FINAL_TS_POLICIES = ("as_of", "estimate")
OT_DURATION = pd.Timedelta(minutes=15)
# Every NBA game of a league date is over by this New York time on the next day.
GAMELOG_FINAL_BY = dt.time(3, 0)

# box-score column -> boxscoretraditionalv3 statistics key (besides points, attempts, minutes)
BOX_LINE = {"fgm": "fieldGoalsMade", "fg3m": "threePointersMade", "ftm": "freeThrowsMade",
            "dreb": "reboundsDefensive", "ast": "assists", "stl": "steals", "blk": "blocks",
            "pf": "foulsPersonal"}
# NBA game id prefix -> game type (the values are schemas.GAME_TYPES)
GAME_TYPE_OF_PREFIX = dict(zip(("001", "002", "003", "004", "005", "006"), GAME_TYPES[:6]))
_NAME_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}

InjuryRowsProvider = Callable[[dt.date, pd.Timestamp], tuple[list[dict], pd.Timestamp]]
# the ODDS columns a bookmaker's quotes fill (NaN when it does not quote them)
ODDS_VALUES = ("home_ml", "away_ml", "home_spread", "total", "home_spread_price",
               "away_spread_price", "over_price", "under_price")
# Odds as of an instant more than this before the source's clock come from the historical
# endpoints: the current endpoint only answers "now".
ODDS_HISTORY_AFTER = pd.Timedelta(minutes=10)
# The pipeline's meter: the data root's ledger, TIPOFF_ODDS_DAILY_CREDIT_BUDGET (make_source).
odds_meter_from_env = CreditMeter.from_env


# --------------------------------------------------------------------------------- teams / names
def _load_teams() -> dict[int, dict]:
    from nba_api.stats.static import teams  # offline, bundled with nba_api

    return {int(t["id"]): t for t in teams.get_teams()}


NBA_TEAMS: dict[int, dict] = _load_teams()
TEAM_TRICODE: dict[int, str] = {tid: t["abbreviation"] for tid, t in NBA_TEAMS.items()}


def _team_key(name: str) -> str:
    return re.sub(r"\s+", " ", str(name).replace(".", "")).strip().lower()


_TEAM_BY_NAME: dict[str, int] = {_team_key(t["full_name"]): tid for tid, t in NBA_TEAMS.items()}
# Names used by stats.nba.com, the injury report and sportsbooks that differ from nba_api's.
_TEAM_BY_NAME.update({"la clippers": 1610612746, "los angeles clippers": 1610612746})


def team_id_from_name(name: str) -> int | None:
    """NBA team id for a full team name ("Philadelphia 76ers", "LA Clippers"), else None."""
    return _TEAM_BY_NAME.get(_team_key(name))


def normalize_name(name: str) -> str:
    """Join key for player names: accents stripped, lower case, no punctuation or Jr./III."""
    s = unicodedata.normalize("NFKD", str(name))
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = re.sub(r"[.'\u2019`]", "", s)
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return " ".join(t for t in s.split() if t not in _NAME_SUFFIXES)


def surrogate_player_id(name: str) -> int:
    """Stable negative id for a player the source cannot identify."""
    digest = hashlib.sha1(normalize_name(name).encode()).hexdigest()
    return -(int(digest[:12], 16) % 10**9) - 1


def report_name_to_first_last(name: str) -> str:
    """'Jackson Jr., Jaren' -> 'Jaren Jackson Jr.'; names without a comma are kept."""
    last, sep, first = str(name).partition(",")
    if not sep:
        return " ".join(str(name).split())
    return " ".join(f"{first.strip()} {last.strip()}".split())


def season_from_game_id(game_id: str) -> str:
    """'0022400001' -> '2024-25'."""
    yy = int(game_id[3:5])
    start = 2000 + yy if yy < 90 else 1900 + yy
    return f"{start}-{(start + 1) % 100:02d}"


def game_type_from_id(game_id: str) -> str:
    return GAME_TYPE_OF_PREFIX.get(game_id[:3], "other")


def parse_minutes(value: str) -> float:
    """'PT34M12.00S' / '34:12' / '' -> minutes as a float ('' is 0: did not play)."""
    s = str(value).strip()
    if not s:
        return 0.0
    m = re.fullmatch(r"PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", s)
    if m and (m.group(1) or m.group(2)):
        return int(m.group(1) or 0) + float(m.group(2) or 0) / 60.0
    m = re.fullmatch(r"(\d+):(\d{1,2}(?:\.\d+)?)", s)
    if m:
        return int(m.group(1)) + float(m.group(2)) / 60.0
    m = re.fullmatch(r"\d+(?:\.\d+)?", s)
    if m:
        return float(s)
    raise ValueError(f"unrecognized minutes {value!r}")


# ------------------------------------------------------------------------------ typed JSON access
_MISSING = object()


_CLOCK_RE = re.compile(r"PT(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?")


def _clock_seconds(clock: str) -> float | None:
    """Seconds left in the period of an ISO duration like PT07M15.00S (None if unreadable)."""
    m = _CLOCK_RE.fullmatch(clock.strip())
    if not m:
        return None
    return float(m.group(1) or 0) * 60 + float(m.group(2) or 0)


class _Doc:
    """Typed access into one payload; errors name the endpoint and field path and carry raw."""

    def __init__(self, endpoint: str, raw: bytes | None):
        self.endpoint, self.raw = endpoint, raw

    def error(self, path: str, message: str) -> SourceError:
        return SourceError(SOURCE, self.endpoint, message, field=path or "<root>", raw=self.raw)

    def check(self, value: Any, path: str, typ: str) -> Any:
        ok = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "num": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "list": lambda v: isinstance(v, list),
            "dict": lambda v: isinstance(v, dict),
            "any": lambda v: True,
        }[typ.rstrip("?")]
        if value is None and typ.endswith("?"):
            return None
        if value is None or not ok(value):
            raise self.error(path, f"expected {typ.rstrip('?')}, got {type(value).__name__} "
                                   f"{_short(value)}")
        return value

    def get(self, obj: dict, key: str, path: str, typ: str) -> Any:
        where = f"{path}.{key}" if path else key
        value = obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING
        if value is _MISSING:
            if typ.endswith("?"):
                return None
            raise self.error(where, "is missing")
        return self.check(value, where, typ)

    def ts(self, obj: dict, key: str, path: str) -> pd.Timestamp:
        value = self.get(obj, key, path, "str")
        try:
            return utc(pd.Timestamp(value))
        except (ValueError, TypeError):
            raise self.error(f"{path}.{key}" if path else key,
                             f"is not a timestamp: {_short(value)}") from None

    def result_set(self, payload: Any, name: str, required: dict[str, str]) -> list[dict]:
        """stats.nba.com `resultSets` table `name` as dicts; `required` maps header -> type.

        Each dict carries its field path prefix under the key '__path__'.
        """
        self.check(payload, "", "dict")
        sets = self.get(payload, "resultSets", "", "list")
        idx = None
        for i, rs in enumerate(sets):
            self.check(rs, f"resultSets[{i}]", "dict")
            if rs.get("name") == name:
                idx = i
                break
        if idx is None:
            raise self.error("resultSets", f"has no result set named {name!r}")
        base = f"resultSets[{idx}]"
        headers = self.get(sets[idx], "headers", base, "list")
        for j, h in enumerate(headers):
            self.check(h, f"{base}.headers[{j}]", "str")
        for h in required:
            if h not in headers:
                raise self.error(f"{base}.headers", f"lacks column {h!r}")
        rows = self.get(sets[idx], "rowSet", base, "list")
        out = []
        for r, row in enumerate(rows):
            path = f"{base}.rowSet[{r}]"
            self.check(row, path, "list")
            if len(row) != len(headers):
                raise self.error(path, f"has {len(row)} values for {len(headers)} headers")
            rec = dict(zip(headers, row))
            for h, typ in required.items():
                self.check(rec[h], f"{path}.{h}", typ)
            rec["__path__"] = path
            out.append(rec)
        return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _iso(ts: pd.Timestamp) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def _commence_window(game_date: dt.date) -> dict[str, str]:
    """commenceTimeFrom / commenceTimeTo: the New York calendar day of `game_date`."""
    start = pd.Timestamp(dt.datetime.combine(game_date, dt.time(0), tzinfo=LEAGUE_TZ))
    return {"commenceTimeFrom": _iso(start), "commenceTimeTo": _iso(start + pd.Timedelta(days=1))}


def _market_groups(markets: str) -> list[str]:
    """Historical event-odds requests: the moneyline alone, then the lines (spreads, totals)
    together -- the same credits as one request, and `markets="h2h"` skips the second."""
    wanted = [m for m in ODDS_MARKETS if m in {x.strip() for x in markets.split(",")}]
    groups = [",".join(m for m in wanted if m == "h2h"), ",".join(m for m in wanted if m != "h2h")]
    return [g for g in groups if g]


def _merge_book_row(by_book: dict[str, dict], row: dict) -> None:
    """Fold one bookmaker's row of another market request into its row so far; the merged row is
    knowable once both were (the later last_update)."""
    have = by_book.get(row["bookmaker"])
    if have is None:
        by_book[row["bookmaker"]] = row
        return
    for col in ODDS_VALUES:
        if pd.isna(have[col]) and not pd.isna(row[col]):
            have[col] = row[col]
    have["snapshot_ts"] = max(have["snapshot_ts"], row["snapshot_ts"])


# ------------------------------------------------------------------------------- injury rows
_INJURY_FIELDS = ("Game Date", "Game Time", "Matchup", "Team", "Player Name", "Current Status",
                  "Reason")
_CARRIED = ("Game Date", "Game Time", "Matchup", "Team")


def parse_injury_report_rows(rows: list[dict], report_ts: pd.Timestamp, *,
                             roster: pd.DataFrame | None = None,
                             endpoint: str = EP_INJURIES, raw: bytes | None = None,
                             notes: dict | None = None) -> pd.DataFrame:
    """Normalize rows parsed from the official injury report PDF into the INJURIES table.

    Each row has "Game Date" (MM/DD/YYYY), "Game Time", "Matchup" (AWAY@HOME), "Team" (full
    name), "Player Name" ("Last, First"), "Current Status" and "Reason".  Blank "Game Date",
    "Game Time", "Matchup" and "Team" cells are carried down from the row above (the PDF prints
    them once per game/team).  A row without a player whose "Current Status" is "NOT YET
    SUBMITTED" (how `injury_report.parse_report` gives a team whose report is not in) becomes a
    team-level row: player_id TEAM_LEVEL_PLAYER_ID (0), player_name "", status NOT_YET_SUBMITTED
    (the team's availability is unknown, not healthy).  Other rows without a player are skipped
    and counted in `notes["rows_without_player"]`.

    `roster` (columns team_id, player_id, player_name) supplies NBA person ids, matched by team
    and normalized name, then by normalized name alone when that is unambiguous; other players
    get `surrogate_player_id`.  `snapshot_ts` is `report_ts`.  A missing or mistyped field raises
    SourceError naming `rows[i].<field>`.
    """
    doc = _Doc(endpoint, raw if raw is not None else _json_bytes(rows))
    notes = notes if notes is not None else {}
    try:
        snap = utc(report_ts)
    except (ValueError, TypeError):
        raise doc.error("report_ts", f"is not a timestamp: {_short(report_ts)}") from None
    doc.check(rows, "rows", "list")

    by_team: dict[tuple[int, str], int] = {}
    by_name: dict[str, set[int]] = {}
    if roster is not None and len(roster):
        for tid, pid, pname in zip(roster["team_id"], roster["player_id"], roster["player_name"]):
            key = normalize_name(pname)
            by_team[(int(tid), key)] = int(pid)
            by_name.setdefault(key, set()).add(int(pid))

    out, carried = [], dict.fromkeys(_CARRIED, "")
    skipped = surrogates = 0
    for i, row in enumerate(rows):
        path = f"rows[{i}]"
        doc.check(row, path, "dict")
        vals = {k: doc.get(row, k, path, "str").strip() for k in _INJURY_FIELDS}
        for k in _CARRIED:
            if vals[k]:
                carried[k] = vals[k]
            else:
                vals[k] = carried[k]
        team_row = (not vals["Player Name"]
                    and vals["Current Status"].title() == NOT_YET_SUBMITTED)
        if not vals["Player Name"] and not team_row:
            skipped += 1
            continue
        try:
            game_date = dt.datetime.strptime(vals["Game Date"], "%m/%d/%Y").date()
        except ValueError:
            raise doc.error(f"{path}.Game Date",
                            f"is not MM/DD/YYYY: {_short(vals['Game Date'])}") from None
        team_id = team_id_from_name(vals["Team"])
        if team_id is None:
            raise doc.error(f"{path}.Team", f"is not an NBA team name: {_short(vals['Team'])}")
        status = vals["Current Status"].title()
        if status not in STATUSES:
            raise doc.error(f"{path}.Current Status",
                            f"is not one of {', '.join(STATUSES)}: "
                            f"{_short(vals['Current Status'])}")
        if team_row:  # the team's report is not in: availability unknown
            out.append({"game_date": game_date.isoformat(), "team_id": team_id,
                        "team": TEAM_TRICODE[team_id], "player_id": TEAM_LEVEL_PLAYER_ID,
                        "player_name": "", "status": status, "reason": vals["Reason"],
                        "snapshot_ts": snap})
            continue
        if status == NOT_YET_SUBMITTED:
            raise doc.error(f"{path}.Current Status",
                            "is the team-level status NOT YET SUBMITTED on a player row")
        name = report_name_to_first_last(vals["Player Name"])
        key = normalize_name(name)
        pid = by_team.get((team_id, key))
        if pid is None and len(by_name.get(key, ())) == 1:
            pid = next(iter(by_name[key]))
        if pid is None:
            pid = surrogate_player_id(name)
            surrogates += 1
        out.append({"game_date": game_date.isoformat(), "team_id": team_id,
                    "team": TEAM_TRICODE[team_id], "player_id": pid, "player_name": name,
                    "status": status, "reason": vals["Reason"], "snapshot_ts": snap})
    notes["rows_without_player"] = notes.get("rows_without_player", 0) + skipped
    notes["surrogate_player_ids"] = notes.get("surrogate_player_ids", 0) + surrogates
    if not out:
        return empty_frame("injuries")
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------- the source
class LiveSource:
    """Source backed by the public NBA endpoints, The Odds API and the injury report."""

    name = "live"

    def __init__(self, http: HttpClient | None = None, odds_api_key: str | None = None,
                 injury_rows_provider: InjuryRowsProvider | None = None, *,
                 odds_regions: str = "us", final_ts_policy: str = "as_of",
                 schedule_ttl: float = 300.0, odds_meter: CreditMeter | None = None,
                 now: Callable[[], pd.Timestamp] = clock_now,
                 odds_history_after: pd.Timedelta = ODDS_HISTORY_AFTER,
                 odds_in_play: bool = False, odds_markets: str = ",".join(ODDS_MARKETS)):
        if final_ts_policy not in FINAL_TS_POLICIES:
            raise ValueError(f"final_ts_policy must be one of {FINAL_TS_POLICIES}")
        if not _market_groups(odds_markets):
            raise ValueError(f"odds_markets must name some of {', '.join(ODDS_MARKETS)}")
        self.http = http or HttpClient()
        self._odds_api_key = odds_api_key
        # Every Odds API call is checked against the credit budgets and booked here (default: in
        # memory only; the pipeline's source books into the data root's ledger, see make_source).
        self.odds_meter = odds_meter or CreditMeter()
        self.now = now  # decides whether an as-of is "now" (current odds) or past (historical)
        self.odds_history_after = odds_history_after
        self.odds_in_play = odds_in_play  # historical: also price games already under way
        self.odds_markets = odds_markets  # historical: markets asked for (h2h,spreads,totals)
        # Default: the newest official PDF at or before as_of; tests inject rows instead.
        self.injury_rows_provider = injury_rows_provider or official_report_provider(self.http)
        self.odds_regions = odds_regions
        self.final_ts_policy = final_ts_policy
        # The season schedule is several MB and every snapshot run asks for it at least twice
        # (once for the as-of default, once for odds/rosters): reuse it for `schedule_ttl` s.
        self.schedule_ttl = schedule_ttl
        self._schedule_cache: tuple[float, Any, bytes] | None = None
        if odds_api_key:
            self.http.add_secret(odds_api_key)

    def __repr__(self) -> str:  # never shows the key
        key = "set" if self._odds_api_key else None
        return f"LiveSource(http={self.http!r}, odds_api_key={key})"

    def fetch(self, kind: str, game_date: dt.date, as_of: pd.Timestamp) -> Extract:
        handler = {
            "schedule": self._fetch_schedule, "results": self._fetch_results,
            "box_scores": self._fetch_box_scores, "rosters": self._fetch_rosters,
            "odds": self._fetch_odds, "injuries": self._fetch_injuries,
        }.get(kind)
        if handler is None:
            raise ValueError(f"unknown kind {kind!r}")
        return handler(to_date(game_date), utc(as_of))

    def play_by_play(self, game_id: str) -> dict | None:
        """The CDN play-by-play payload of a game (the game rating's exact basis); raises
        SourceError when it cannot be fetched or is not a JSON object."""
        payload, raw = self.http.get_json(cdn_url(PLAY_BY_PLAY_PATH.format(game_id=game_id)),
                                          endpoint=EP_PLAY_BY_PLAY)
        return _Doc(EP_PLAY_BY_PLAY, raw).check(payload, "", "dict")

    def game_states(self, game_date: dt.date, as_of: pd.Timestamp) -> Extract:
        """In-game states of `game_date` from the CDN scoreboard (see `in_game`); a scoreboard of
        another day gives no rows (it covers only the league's current day)."""
        payload, raw = self.http.get_json(cdn_url(SCOREBOARD_PATH), endpoint=EP_SCOREBOARD)
        notes: dict = {}
        table = self.parse_game_states(payload, raw, to_date(game_date), utc(as_of), notes)
        return Extract(in_game.KIND, table, raw, EP_SCOREBOARD, SOURCE, notes)

    @staticmethod
    def parse_game_states(payload: Any, raw: bytes, game_date: dt.date, as_of: pd.Timestamp,
                          notes: dict | None = None) -> pd.DataFrame:
        """`in_game.GAME_STATE_COLUMNS` rows of a todaysScoreboard payload: quarter scores of the
        completed periods only."""
        doc = _Doc(EP_SCOREBOARD, raw)
        notes = notes if notes is not None else {}
        doc.check(payload, "", "dict")
        sb = doc.get(payload, "scoreboard", "", "dict")
        sb_date = doc.get(sb, "gameDate", "scoreboard", "str")
        notes["scoreboard_date"] = sb_date
        if sb_date != game_date.isoformat():
            return in_game.empty_states()
        rows = []
        for i, g in enumerate(doc.get(sb, "games", "scoreboard", "list")):
            path = f"scoreboard.games[{i}]"
            doc.check(g, path, "dict")
            status = doc.get(g, "gameStatus", path, "int")
            if status not in (1, 2, 3):
                raise doc.error(f"{path}.gameStatus", f"unknown status {status}")
            period = doc.get(g, "period", path, "int")
            clock_raw = doc.get(g, "gameClock", path, "str?") or ""
            clock_s = _clock_seconds(clock_raw) if clock_raw else None
            done = in_game.completed_periods(status, period, clock_s,
                                             doc.get(g, "gameStatusText", path, "str?") or "")
            row = {"game_id": doc.get(g, "gameId", path, "str"), "game_date": sb_date,
                   "status": {1: in_game.SCHEDULED, 2: in_game.IN_PROGRESS, 3: in_game.FINAL}[status],
                   "period": period if status > 1 else 0, "periods_completed": done}
            for side, prefix in (("homeTeam", "home"), ("awayTeam", "away")):
                tpath = f"{path}.{side}"
                t = doc.get(g, side, path, "dict")
                row[f"{prefix}_team_id"] = doc.get(t, "teamId", tpath, "int")
                row[f"{prefix}_score"] = doc.get(t, "score", tpath, "int") if status > 1 else pd.NA
                by_period = {}
                for k, per in enumerate(doc.get(t, "periods", tpath, "list")):
                    ppath = f"{tpath}.periods[{k}]"
                    doc.check(per, ppath, "dict")
                    by_period[doc.get(per, "period", ppath, "int")] = doc.get(
                        per, "score", ppath, "int")
                for q in range(1, 5):
                    # a period in progress already has a partial score: hide it
                    row[f"{prefix}_q{q}"] = by_period.get(q, pd.NA) if q <= done else pd.NA
            rows.append(row)
        notes["games"] = len(rows)
        return in_game.conform_states(rows, as_of)

    # ---------------------------------------------------------------- schedule
    def _schedule_payload(self) -> tuple[Any, bytes]:
        now = self.http.clock()
        if self._schedule_cache is not None and now - self._schedule_cache[0] < self.schedule_ttl:
            return self._schedule_cache[1], self._schedule_cache[2]
        payload, raw = self.http.get_json(cdn_url(SCHEDULE_PATH), endpoint=EP_SCHEDULE)
        if self.schedule_ttl > 0:
            self._schedule_cache = (now, payload, raw)
        return payload, raw

    @staticmethod
    def parse_schedule(payload: Any, raw: bytes, game_date: dt.date,
                       as_of: pd.Timestamp, notes: dict | None = None) -> pd.DataFrame:
        """SCHEDULE rows of `game_date` from a scheduleLeagueV2 payload."""
        doc = _Doc(EP_SCHEDULE, raw)
        notes = notes if notes is not None else {}
        doc.check(payload, "", "dict")
        ls = doc.get(payload, "leagueSchedule", "", "dict")
        season = doc.get(ls, "seasonYear", "leagueSchedule", "str")
        dates = doc.get(ls, "gameDates", "leagueSchedule", "list")
        rows, tbd, season_games = [], 0, []
        for i, gd in enumerate(dates):
            gpath = f"leagueSchedule.gameDates[{i}]"
            doc.check(gd, gpath, "dict")
            for j, g in enumerate(doc.get(gd, "games", gpath, "list")):
                path = f"{gpath}.games[{j}]"
                doc.check(g, path, "dict")
                game_id = doc.get(g, "gameId", path, "str")
                est = doc.get(g, "gameDateEst", path, "str")
                try:
                    gdate = dt.date.fromisoformat(est[:10])
                except ValueError:
                    raise doc.error(f"{path}.gameDateEst",
                                    f"is not a date: {_short(est)}") from None
                season_games.append({
                    "season": season, "game_date": gdate.isoformat(),
                    "game_type": game_type_from_id(game_id),
                    "home_team_id": (g.get("homeTeam") or {}).get("teamId"),
                    "away_team_id": (g.get("awayTeam") or {}).get("teamId")})
                if gdate != game_date:
                    continue
                tip = doc.ts(g, "gameDateTimeUTC", path)
                if league_date(tip) != gdate:
                    tbd += 1  # tip time not announced yet: the timestamp is a date placeholder
                teams = {}
                for side in ("homeTeam", "awayTeam"):
                    t = doc.get(g, side, path, "dict")
                    teams[side] = (doc.get(t, "teamId", f"{path}.{side}", "int"),
                                   doc.get(t, "teamTricode", f"{path}.{side}", "str"))
                rows.append({
                    "game_id": game_id, "season": season, "game_date": gdate.isoformat(),
                    "tip_ts": tip, "home_team_id": teams["homeTeam"][0],
                    "away_team_id": teams["awayTeam"][0], "home_team": teams["homeTeam"][1],
                    "away_team": teams["awayTeam"][1], "game_type": game_type_from_id(game_id),
                    "neutral_site": bool(doc.get(g, "isNeutral", path, "bool?")),
                    "snapshot_ts": as_of,
                })
        notes["games"] = len(rows)
        if tbd:
            notes["tip_time_tbd"] = tbd
        if not rows:
            return empty_frame("schedule")
        out = pd.DataFrame(rows)
        # games left per team: the whole season's schedule is in the payload
        season_df = pd.DataFrame(season_games)
        keyed = season_df.assign(**games_left(season_df, "game_date", "season", "home_team_id",
                                              "away_team_id", "game_type"))
        key = ["game_date", "home_team_id", "away_team_id"]
        out = out.merge(keyed[key + ["home_games_left", "away_games_left"]]
                        .drop_duplicates(key), on=key, how="left")
        return out

    def _schedule_table(self, game_date, as_of, notes=None) -> tuple[pd.DataFrame, Any, bytes]:
        payload, raw = self._schedule_payload()
        return self.parse_schedule(payload, raw, game_date, as_of, notes), payload, raw

    @staticmethod
    def _schedule_excerpt(payload: dict, game_date: dt.date) -> dict:
        """The schedule payload cut down to the requested date (kept as raw by lookup kinds)."""
        ls = payload.get("leagueSchedule", {})
        keep = [gd for gd in ls.get("gameDates", [])
                if any(str(g.get("gameDateEst", ""))[:10] == game_date.isoformat()
                       for g in gd.get("games", []) if isinstance(g, dict))]
        return {"meta": payload.get("meta"),
                "leagueSchedule": {"seasonYear": ls.get("seasonYear"), "gameDates": keep}}

    def _fetch_schedule(self, game_date, as_of) -> Extract:
        notes: dict = {}
        df, _, raw = self._schedule_table(game_date, as_of, notes)
        return finish("schedule", df, as_of, source=SOURCE, endpoint=EP_SCHEDULE, raw=raw,
                      notes=notes)

    # ----------------------------------------------------------------- results
    def _results(self, game_date, as_of, notes) -> tuple[pd.DataFrame, dict[str, Any], str]:
        """(results frame, {request name: (payload, raw)}, endpoint used)."""
        payload, raw = self.http.get_json(cdn_url(SCOREBOARD_PATH), endpoint=EP_SCOREBOARD)
        doc = _Doc(EP_SCOREBOARD, raw)
        doc.check(payload, "", "dict")
        sb = doc.get(payload, "scoreboard", "", "dict")
        sb_date = doc.get(sb, "gameDate", "scoreboard", "str")
        if sb_date == game_date.isoformat():
            notes["results_endpoint"] = EP_SCOREBOARD
            df = self.parse_scoreboard(payload, raw, game_date, as_of, notes,
                                       final_ts_policy=self.final_ts_policy)
            return df, {EP_SCOREBOARD: (payload, raw)}, EP_SCOREBOARD
        notes["results_endpoint"] = EP_GAMELOG
        notes["scoreboard_date"] = sb_date
        requests_made: dict[str, Any] = {}
        frames = []
        for st in GAMELOG_SEASON_TYPES:
            params = {"Counter": 0, "DateFrom": game_date.strftime("%m/%d/%Y"),
                      "DateTo": game_date.strftime("%m/%d/%Y"), "Direction": "ASC",
                      "LeagueID": "00", "PlayerOrTeam": "T", "Season": season_of(game_date),
                      "SeasonType": st, "Sorter": "DATE"}
            p, r = self.http.get_json(stats_url("leaguegamelog"), params,
                                      endpoint=EP_GAMELOG)
            requests_made[f"{EP_GAMELOG}[{st}]"] = (p, r)
            frames.append(self.parse_league_game_log(p, r, game_date, as_of, notes,
                                                     final_ts_policy=self.final_ts_policy))
        frames = [f for f in frames if len(f)]
        df = pd.concat(frames, ignore_index=True) if frames else empty_frame("results")
        return df, requests_made, EP_GAMELOG

    @staticmethod
    def parse_scoreboard(payload: Any, raw: bytes, game_date: dt.date, as_of: pd.Timestamp,
                         notes: dict | None = None, *, final_ts_policy: str = "as_of"
                         ) -> pd.DataFrame:
        """RESULTS rows for the final games (gameStatus 3) of a todaysScoreboard payload."""
        doc = _Doc(EP_SCOREBOARD, raw)
        notes = notes if notes is not None else {}
        doc.check(payload, "", "dict")
        sb = doc.get(payload, "scoreboard", "", "dict")
        sb_date = doc.get(sb, "gameDate", "scoreboard", "str")
        games = doc.get(sb, "games", "scoreboard", "list")
        rows, not_final = [], 0
        if sb_date != game_date.isoformat():
            games = []
        for i, g in enumerate(games):
            path = f"scoreboard.games[{i}]"
            doc.check(g, path, "dict")
            game_id = doc.get(g, "gameId", path, "str")
            if doc.get(g, "gameStatus", path, "int") != 3:
                not_final += 1
                continue
            reg = doc.get(g, "regulationPeriods", path, "int?") or 4
            row = {"game_id": game_id, "season": season_from_game_id(game_id),
                   "game_date": sb_date}
            ot_counts = []
            for side, prefix in (("homeTeam", "home"), ("awayTeam", "away")):
                tpath = f"{path}.{side}"
                t = doc.get(g, side, path, "dict")
                row[f"{prefix}_team_id"] = doc.get(t, "teamId", tpath, "int")
                row[f"{prefix}_pts"] = doc.get(t, "score", tpath, "int")
                quarters = {q: pd.NA for q in range(1, reg + 1)}
                ot, n_ot = 0, 0
                for k, per in enumerate(doc.get(t, "periods", tpath, "list")):
                    ppath = f"{tpath}.periods[{k}]"
                    doc.check(per, ppath, "dict")
                    num = doc.get(per, "period", ppath, "int")
                    score = doc.get(per, "score", ppath, "int")
                    if num <= reg:
                        quarters[num] = score
                    else:
                        ot += score
                        n_ot += 1
                for q in range(1, 5):
                    row[f"{prefix}_q{q}"] = quarters.get(q, pd.NA)
                row[f"{prefix}_ot"] = ot
                ot_counts.append(n_ot)
            row["overtime_periods"] = max(ot_counts)
            final = as_of
            if final_ts_policy == "estimate":
                tip = doc.ts(g, "gameTimeUTC", path)
                final = min(as_of, tip + GAME_DURATION + OT_DURATION * max(ot_counts))
            row["final_ts"] = row["snapshot_ts"] = final
            rows.append(row)
        notes["games_not_final"] = notes.get("games_not_final", 0) + not_final
        return pd.DataFrame(rows) if rows else empty_frame("results")

    @staticmethod
    def parse_league_game_log(payload: Any, raw: bytes, game_date: dt.date | None,
                              as_of: pd.Timestamp, notes: dict | None = None, *,
                              final_ts_policy: str = "as_of") -> pd.DataFrame:
        """RESULTS rows from a stats.nba.com leaguegamelog (team mode) payload.

        Two team rows per GAME_ID make one game (home = MATCHUP with "vs.").  OT periods come
        from team minutes: 240 regulation + 25 per overtime.  Quarter scores are unknown.
        Games missing one of their two rows are dropped and counted in notes.
        """
        doc = _Doc(EP_GAMELOG, raw)
        notes = notes if notes is not None else {}
        recs = doc.result_set(payload, "LeagueGameLog", {
            "TEAM_ID": "int", "GAME_ID": "str", "GAME_DATE": "str", "MATCHUP": "str",
            "MIN": "num?", "PTS": "int"})
        games: dict[str, dict[str, dict]] = {}
        for rec in recs:
            try:
                gdate = dt.date.fromisoformat(rec["GAME_DATE"][:10])
            except ValueError:
                raise doc.error(f"{rec['__path__']}.GAME_DATE",
                                f"is not a date: {_short(rec['GAME_DATE'])}") from None
            if game_date is not None and gdate != game_date:
                continue
            rec["__date__"] = gdate
            if " vs. " in rec["MATCHUP"]:
                side = "home"
            elif " @ " in rec["MATCHUP"]:
                side = "away"
            else:
                raise doc.error(f"{rec['__path__']}.MATCHUP",
                                f"is neither 'X vs. Y' nor 'X @ Y': {_short(rec['MATCHUP'])}")
            slot = games.setdefault(rec["GAME_ID"], {})
            if side in slot:
                raise doc.error(f"{rec['__path__']}.MATCHUP",
                                f"second {side} row for GAME_ID {rec['GAME_ID']}")
            slot[side] = rec
        rows, unpaired = [], 0
        for game_id in sorted(games):
            g = games[game_id]
            if set(g) != {"home", "away"}:
                unpaired += 1
                continue
            h, a = g["home"], g["away"]
            minutes = h["MIN"] if h["MIN"] is not None else a["MIN"]
            n_ot = pd.NA if minutes is None else max(0, round((float(minutes) - 240) / 25))
            final = as_of
            if final_ts_policy == "estimate":
                final = min(as_of, local_ts(h["__date__"] + dt.timedelta(days=1), GAMELOG_FINAL_BY))
            rows.append({
                "game_id": game_id, "season": season_from_game_id(game_id),
                "game_date": h["__date__"].isoformat(), "home_team_id": h["TEAM_ID"],
                "away_team_id": a["TEAM_ID"], "home_pts": h["PTS"], "away_pts": a["PTS"],
                **{f"{s}_{p}": pd.NA for s in ("home", "away")
                   for p in ("q1", "q2", "q3", "q4", "ot")},
                "overtime_periods": n_ot, "final_ts": final, "snapshot_ts": final,
            })
        notes["unpaired_game_log_games"] = notes.get("unpaired_game_log_games", 0) + unpaired
        return pd.DataFrame(rows) if rows else empty_frame("results")

    def _fetch_results(self, game_date, as_of) -> Extract:
        notes: dict = {}
        df, made, endpoint = self._results(game_date, as_of, notes)
        raw = made[EP_SCOREBOARD][1] if endpoint == EP_SCOREBOARD else \
            _json_bytes({k: p for k, (p, _) in made.items()})
        notes["games"] = len(df)
        return finish("results", df, as_of, source=SOURCE, endpoint=endpoint, raw=raw, notes=notes)

    # -------------------------------------------------------------- box scores
    @staticmethod
    def parse_box_score(payload: Any, raw: bytes, game_id: str, game_date: str,
                        as_of: pd.Timestamp, notes: dict | None = None) -> pd.DataFrame:
        """BOX_SCORES rows of one boxscoretraditionalv3 payload (players with minutes > 0)."""
        doc = _Doc(EP_BOX, raw)
        notes = notes if notes is not None else {}
        doc.check(payload, "", "dict")
        box = doc.get(payload, "boxScoreTraditional", "", "dict")
        got = doc.get(box, "gameId", "boxScoreTraditional", "str")
        if got != game_id:
            raise doc.error("boxScoreTraditional.gameId", f"is {got!r}, requested {game_id!r}")
        rows, dnp = [], 0
        for side in ("homeTeam", "awayTeam"):
            tpath = f"boxScoreTraditional.{side}"
            team = doc.get(box, side, "boxScoreTraditional", "dict")
            team_id = doc.get(team, "teamId", tpath, "int")
            for k, p in enumerate(doc.get(team, "players", tpath, "list")):
                path = f"{tpath}.players[{k}]"
                doc.check(p, path, "dict")
                st = doc.get(p, "statistics", path, "dict")
                spath = f"{path}.statistics"
                raw_min = doc.get(st, "minutes", spath, "str?") or ""
                try:
                    minutes = parse_minutes(raw_min)
                except ValueError as exc:
                    raise doc.error(f"{spath}.minutes", str(exc)) from None
                if minutes <= 0:
                    dnp += 1
                    continue
                first = doc.get(p, "firstName", path, "str")
                last = doc.get(p, "familyName", path, "str")
                rows.append({
                    "game_id": game_id, "game_date": game_date, "team_id": team_id,
                    "player_id": doc.get(p, "personId", path, "int"),
                    "player_name": f"{first} {last}".strip(), "minutes": minutes,
                    "pts": doc.get(st, "points", spath, "int"),
                    "fga": doc.get(st, "fieldGoalsAttempted", spath, "int"),
                    "fta": doc.get(st, "freeThrowsAttempted", spath, "int"),
                    "oreb": doc.get(st, "reboundsOffensive", spath, "int"),
                    "tov": doc.get(st, "turnovers", spath, "int"),
                    "plus_minus": float(doc.get(st, "plusMinusPoints", spath, "num")),
                    **{col: doc.get(st, key, spath, "int") for col, key in BOX_LINE.items()},
                    "starter": doc.get(p, "position", path, "str").strip() != "",
                    "snapshot_ts": as_of,
                })
        notes["dnp_rows_dropped"] = notes.get("dnp_rows_dropped", 0) + dnp
        return pd.DataFrame(rows) if rows else empty_frame("box_scores")

    def _fetch_box_scores(self, game_date, as_of) -> Extract:
        notes: dict = {}
        results, made, _ = self._results(game_date, as_of, notes)
        results = results[results["final_ts"] <= as_of] if len(results) else results
        kept = {k: p for k, (p, _) in made.items()}
        frames = []
        for game_id, gdate in sorted(zip(results["game_id"], results["game_date"])):
            params = {"EndPeriod": "0", "EndRange": "0", "GameID": game_id, "RangeType": "0",
                      "StartPeriod": "0", "StartRange": "0"}
            p, r = self.http.get_json(stats_url("boxscoretraditionalv3"),
                                      params, endpoint=EP_BOX)
            kept[f"{EP_BOX}[{game_id}]"] = p
            frames.append(self.parse_box_score(p, r, game_id, gdate, as_of, notes))
        frames = [f for f in frames if len(f)]
        df = pd.concat(frames, ignore_index=True) if frames else empty_frame("box_scores")
        notes["games"] = len(results)
        return finish("box_scores", df, as_of, source=SOURCE, endpoint=EP_BOX,
                      raw=_json_bytes(kept), notes=notes)

    # ----------------------------------------------------------------- rosters
    @staticmethod
    def parse_roster(payload: Any, raw: bytes, team_id: int, as_of: pd.Timestamp) -> pd.DataFrame:
        """ROSTERS rows of one commonteamroster payload."""
        doc = _Doc(EP_ROSTER, raw)
        recs = doc.result_set(payload, "CommonTeamRoster", {
            "TeamID": "int", "PLAYER_ID": "int", "PLAYER": "str", "POSITION": "str?"})
        rows = []
        for rec in recs:
            if rec["TeamID"] != team_id:
                raise doc.error(f"{rec['__path__']}.TeamID",
                                f"is {rec['TeamID']}, requested team {team_id}")
            rows.append({"team_id": team_id, "team": TEAM_TRICODE.get(team_id, str(team_id)),
                         "player_id": rec["PLAYER_ID"], "player_name": rec["PLAYER"],
                         "position": rec["POSITION"] or "", "snapshot_ts": as_of})
        return pd.DataFrame(rows) if rows else empty_frame("rosters")

    def _rosters(self, team_ids, season: str, as_of, notes) -> tuple[pd.DataFrame, dict]:
        kept, frames, skipped = {}, [], 0
        for tid in sorted(set(int(t) for t in team_ids)):
            if tid not in NBA_TEAMS:
                skipped += 1
                continue
            params = {"LeagueID": "00", "Season": season, "TeamID": tid}
            p, r = self.http.get_json(stats_url("commonteamroster"), params,
                                      endpoint=EP_ROSTER)
            kept[f"{EP_ROSTER}[{tid}]"] = p
            frames.append(self.parse_roster(p, r, tid, as_of))
        if skipped:
            notes["non_nba_teams_skipped"] = skipped
        frames = [f for f in frames if len(f)]
        return (pd.concat(frames, ignore_index=True) if frames else empty_frame("rosters")), kept

    def _fetch_rosters(self, game_date, as_of) -> Extract:
        notes: dict = {}
        sched, payload, _ = self._schedule_table(game_date, as_of)
        season = str(sched["season"].iloc[0]) if len(sched) else season_of(game_date)
        teams = list(sched["home_team_id"]) + list(sched["away_team_id"])
        df, kept = self._rosters(teams, season, as_of, notes)
        kept[f"{EP_SCHEDULE}[{game_date.isoformat()}]"] = self._schedule_excerpt(payload, game_date)
        notes["teams"] = int(df["team_id"].nunique()) if len(df) else 0
        return finish("rosters", df, as_of, source=SOURCE, endpoint=EP_ROSTER,
                      raw=_json_bytes(kept), notes=notes)

    # -------------------------------------------------------------------- odds
    def _odds_key(self, endpoint: str = EP_ODDS) -> str:
        key = self._odds_api_key or os.environ.get(ODDS_KEY_ENV, "").strip()
        if not key:
            raise SourceError(SOURCE, endpoint, f"no Odds API key: set the {ODDS_KEY_ENV} "
                                                "environment variable or pass odds_api_key")
        self.http.add_secret(key)
        return key

    def odds_are_historical(self, as_of: pd.Timestamp) -> bool:
        """Whether odds as of `as_of` come from the historical endpoints: the as-of is more than
        `odds_history_after` before the source's clock (the current endpoint answers *now*)."""
        return self.now() - utc(as_of) > self.odds_history_after

    def _odds_call(self, endpoint: str, path: str, params: dict, cost: int,
                   context: dict) -> tuple[Any, bytes, str | None]:
        """(payload, raw, cache key) of one Odds API request, paid through the credit meter:
        the budgets are checked before the request and its cost booked after.  A historical
        request already answered is read from the ledger's cache (free); the caller stores a new
        answer with `_remember` once it parsed."""
        cache_key = None
        ledger = self.odds_meter.ledger
        if endpoint != EP_ODDS and ledger is not None:
            cache_key = CreditLedger.request_key(path, params)
            body = ledger.cached(cache_key)
            if body is not None:
                self.odds_meter.cache_hits += 1
                try:
                    return json.loads(body), body, None
                except ValueError:
                    pass  # a damaged cache file: ask again
        self.odds_meter.check(endpoint, cost)
        payload, raw, headers = self.http.get_json_with_headers(odds_api_url(path), params,
                                                                endpoint=endpoint)
        self.odds_meter.record(endpoint, cost, headers, context=context)
        return payload, scrub_bytes(raw, self.http.secrets), cache_key

    def _remember(self, cache_key: str | None, raw: bytes) -> None:
        if cache_key is not None and self.odds_meter.ledger is not None:
            self.odds_meter.ledger.store(cache_key, raw)

    @staticmethod
    def _price(doc: _Doc, outcome: dict, path: str, decimal: bool) -> float:
        price = doc.get(outcome, "price", path, "num")
        if not decimal:
            return float(price)
        try:
            return decimal_to_american(price)
        except ValueError as exc:
            raise doc.error(f"{path}.price", str(exc)) from None

    @staticmethod
    def _book_row(doc: _Doc, bk: Any, bpath: str, game_id: str, home: str, away: str, *,
                  decimal: bool, notes: dict, ignored: set[str]) -> dict | None:
        """One ODDS row of a bookmaker (None when it quotes none of h2h/spreads/totals).

        The spread is the home side's point (the away side's, negated, when only it is quoted);
        the away price belongs to that line only when the away point is its negative, the under
        price to the total only at the over's point (else NaN, counted in notes)."""
        doc.check(bk, bpath, "dict")
        row = {"game_id": game_id, "bookmaker": doc.get(bk, "key", bpath, "str"),
               **dict.fromkeys(ODDS_VALUES, float("nan")),
               "snapshot_ts": doc.ts(bk, "last_update", bpath)}
        found = False
        for m, mk in enumerate(doc.get(bk, "markets", bpath, "list")):
            mpath = f"{bpath}.markets[{m}]"
            doc.check(mk, mpath, "dict")
            mkey = doc.get(mk, "key", mpath, "str")
            if mkey not in ODDS_MARKETS:
                ignored.add(mkey)
                continue
            sides: dict[str, tuple[float, float | None]] = {}
            for o, oc in enumerate(doc.get(mk, "outcomes", mpath, "list")):
                opath = f"{mpath}.outcomes[{o}]"
                doc.check(oc, opath, "dict")
                name = doc.get(oc, "name", opath, "str")
                price = LiveSource._price(doc, oc, opath, decimal)
                point = None if mkey == "h2h" else float(doc.get(oc, "point", opath, "num"))
                sides[name] = (price, point)
            first, second = {"h2h": (home, away), "spreads": (home, away),
                             "totals": ("Over", "Under")}[mkey]
            if not (first in sides or second in sides):
                continue
            found = True
            if mkey == "h2h":
                row["home_ml"] = sides.get(home, (float("nan"),))[0]
                row["away_ml"] = sides.get(away, (float("nan"),))[0]
                continue
            line_col, (p1, p2) = ("home_spread", ("home_spread_price", "away_spread_price")) \
                if mkey == "spreads" else ("total", ("over_price", "under_price"))
            sign = -1.0 if mkey == "spreads" else 1.0  # the second side's point, seen from the first
            if first in sides:
                row[p1], row[line_col] = sides[first]
                if second in sides:
                    price2, point2 = sides[second]
                    if point2 * sign == row[line_col]:
                        row[p2] = price2
                    else:
                        notes[f"{mkey}_lines_differ"] = notes.get(f"{mkey}_lines_differ", 0) + 1
            else:
                row[p2], point2 = sides[second]
                row[line_col] = point2 * sign
        return row if found else None

    @staticmethod
    def parse_odds(payload: Any, raw: bytes, schedule: pd.DataFrame, game_date: dt.date,
                   as_of: pd.Timestamp, notes: dict | None = None) -> pd.DataFrame:
        """ODDS rows (one per event and bookmaker) for the schedule's games of `game_date`, from
        the current-odds endpoint (American prices)."""
        doc = _Doc(EP_ODDS, raw)
        notes = notes if notes is not None else {}
        games = {(int(h), int(a)): gid for gid, h, a in
                 zip(schedule["game_id"], schedule["home_team_id"], schedule["away_team_id"])}
        doc.check(payload, "", "list")
        rows = []
        other_dates = unmatched = after = 0
        ignored: set[str] = set()
        for i, ev in enumerate(payload):
            path = f"[{i}]"
            doc.check(ev, path, "dict")
            commence = doc.ts(ev, "commence_time", path)
            home = doc.get(ev, "home_team", path, "str")
            away = doc.get(ev, "away_team", path, "str")
            books = doc.get(ev, "bookmakers", path, "list")
            if league_date(commence) != game_date:
                other_dates += 1
                continue
            game_id = games.get((team_id_from_name(home), team_id_from_name(away)))
            if game_id is None:
                unmatched += 1
                continue
            for b, bk in enumerate(books):
                row = LiveSource._book_row(doc, bk, f"{path}.bookmakers[{b}]", game_id, home,
                                           away, decimal=False, notes=notes, ignored=ignored)
                if row is None:
                    continue
                if row["snapshot_ts"] > as_of:
                    after += 1
                    continue
                rows.append(row)
        notes.update({"events": len(payload), "events_other_dates": other_dates,
                      "unmatched_events": unmatched, "rows_after_as_of": after,
                      "ignored_markets": sorted(ignored)})
        return pd.DataFrame(rows) if rows else empty_frame("odds")

    def _fetch_odds(self, game_date, as_of) -> Extract:
        if self.odds_are_historical(as_of):
            return self._fetch_historical_odds(game_date, as_of)
        key = self._odds_key()
        notes: dict = {"odds_endpoint": "current"}
        sched, sched_payload, _ = self._schedule_table(game_date, as_of)
        params = {
            "apiKey": key, "regions": self.odds_regions, "markets": ",".join(ODDS_MARKETS),
            "oddsFormat": "american", "dateFormat": "iso", **_commence_window(game_date),
        }
        spent = self.odds_meter.spent
        payload, raw, _ = self._odds_call(
            EP_ODDS, ODDS_PATH, params, call_cost(EP_ODDS, len(ODDS_MARKETS),
                                                  count(self.odds_regions)),
            {"date": game_date.isoformat(), "as_of": as_of.isoformat()})
        notes["credits"] = self.odds_meter.spent - spent
        secrets = self.http.secrets
        df = self.parse_odds(payload, raw, sched, game_date, as_of, notes)
        kept = {EP_ODDS: json.loads(raw),
                f"{EP_SCHEDULE}[{game_date.isoformat()}]":
                    self._schedule_excerpt(sched_payload, game_date)}
        notes = json.loads(redact_text(json.dumps(notes), secrets))
        return finish("odds", df, as_of, source=SOURCE, endpoint=EP_ODDS, raw=_json_bytes(kept),
                      notes=notes)

    # ------------------------------------------------------------ historical odds
    def _odds_games(self, game_date: dt.date, as_of: pd.Timestamp, notes: dict
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """(game_id, home_team_id, away_team_id) of the date's games, and the raw payloads used:
        the CDN schedule, or -- for a date of another season than the one it publishes -- the
        stats.nba.com game log of the date (its games are final)."""
        sched, payload, _ = self._schedule_table(game_date, as_of)
        kept: dict[str, Any] = {f"{EP_SCHEDULE}[{game_date.isoformat()}]":
                                self._schedule_excerpt(payload, game_date)}
        published = (payload.get("leagueSchedule") or {}).get("seasonYear")
        if len(sched) or published == season_of(game_date):
            notes["games_lookup"] = EP_SCHEDULE
            return sched[["game_id", "home_team_id", "away_team_id"]], kept
        results, made, endpoint = self._results(game_date, as_of, notes)
        notes["games_lookup"] = endpoint
        kept.update({k: p for k, (p, _) in made.items()})
        return results[["game_id", "home_team_id", "away_team_id"]], kept

    @staticmethod
    def _snapshot_wrapper(doc: _Doc, payload: Any, as_of: pd.Timestamp, data_type: str
                          ) -> tuple[pd.Timestamp, Any]:
        """(timestamp, data) of a historical answer ({timestamp, previous_timestamp,
        next_timestamp, data}); a snapshot after the requested date is an error."""
        doc.check(payload, "", "dict")
        snap = doc.ts(payload, "timestamp", "")
        if snap > as_of:
            raise doc.error("timestamp", f"{snap.isoformat()} is after the requested date "
                                         f"{as_of.isoformat()}")
        return snap, doc.get(payload, "data", "", data_type)

    @staticmethod
    def parse_historical_events(payload: Any, raw: bytes, game_date: dt.date,
                                as_of: pd.Timestamp, notes: dict | None = None
                                ) -> tuple[pd.Timestamp, list[dict]]:
        """(snapshot timestamp, events of `game_date`) of a historical events answer; each event
        {id, commence_time, home_team, away_team}."""
        doc = _Doc(EP_HISTORICAL_EVENTS, raw)
        notes = notes if notes is not None else {}
        snap, data = LiveSource._snapshot_wrapper(doc, payload, as_of, "list")
        events, other = [], 0
        for i, ev in enumerate(data):
            path = f"data[{i}]"
            doc.check(ev, path, "dict")
            rec = {"id": doc.get(ev, "id", path, "str"),
                   "commence_time": doc.ts(ev, "commence_time", path),
                   "home_team": doc.get(ev, "home_team", path, "str"),
                   "away_team": doc.get(ev, "away_team", path, "str")}
            if league_date(rec["commence_time"]) != game_date:
                other += 1
                continue
            events.append(rec)
        notes.update({"snapshot_timestamp": snap.isoformat(), "events": len(events),
                      "events_other_dates": other})
        return snap, events

    @staticmethod
    def parse_historical_event_odds(payload: Any, raw: bytes, event_id: str, game_id: str,
                                    as_of: pd.Timestamp, notes: dict | None = None
                                    ) -> list[dict]:
        """ODDS rows (one per bookmaker) of a historical event-odds answer (decimal prices,
        converted to American)."""
        doc = _Doc(EP_HISTORICAL_EVENT_ODDS, raw)
        notes = notes if notes is not None else {}
        _, ev = LiveSource._snapshot_wrapper(doc, payload, as_of, "dict")
        got = doc.get(ev, "id", "data", "str")
        if got != event_id:
            raise doc.error("data.id", f"is {got!r}, not the event asked for ({event_id!r})")
        home = doc.get(ev, "home_team", "data", "str")
        away = doc.get(ev, "away_team", "data", "str")
        ignored: set[str] = set(notes.get("ignored_markets", []))
        rows = []
        for b, bk in enumerate(doc.get(ev, "bookmakers", "data", "list")):
            row = LiveSource._book_row(doc, bk, f"data.bookmakers[{b}]", game_id, home, away,
                                       decimal=True, notes=notes, ignored=ignored)
            if row is None:
                continue
            if row["snapshot_ts"] > as_of:
                notes["rows_after_as_of"] = notes.get("rows_after_as_of", 0) + 1
                continue
            rows.append(row)
        notes["ignored_markets"] = sorted(ignored)
        return rows

    def _historical_events(self, game_date: dt.date, as_of: pd.Timestamp, notes: dict
                           ) -> tuple[pd.Timestamp, list[dict], Any]:
        """(snapshot timestamp, the date's events, payload) of the historical events snapshot at
        `as_of` (1 credit; 0 when empty; free when cached)."""
        params = {"apiKey": self._odds_key(EP_HISTORICAL_EVENTS), "date": _iso(as_of),
                  "dateFormat": "iso", **_commence_window(game_date)}
        payload, raw, cache_key = self._odds_call(
            EP_HISTORICAL_EVENTS, HISTORICAL_EVENTS_PATH, params, call_cost(EP_HISTORICAL_EVENTS),
            {"date": game_date.isoformat(), "as_of": as_of.isoformat()})
        snap, events = self.parse_historical_events(payload, raw, game_date, as_of, notes)
        self._remember(cache_key, raw)
        return snap, events, payload

    def odds_event_times(self, game_date: dt.date, as_of: pd.Timestamp) -> pd.Series:
        """Commence times of the date's events in the historical events snapshot at `as_of`:
        the tip times of a date the CDN schedule does not cover (an earlier season)."""
        _, events, _ = self._historical_events(game_date, utc(as_of), {})
        return pd.Series([e["commence_time"] for e in events], dtype="datetime64[us, UTC]")

    def _fetch_historical_odds(self, game_date: dt.date, as_of: pd.Timestamp) -> Extract:
        """Odds as of a past instant: the historical events snapshot at `as_of` (1 credit), then
        for each of the date's games not yet started at that snapshot (all of them with
        `odds_in_play`) its historical event odds -- h2h, then spreads and totals (10 credits per
        market and region).  Events are matched to game ids by (New York date, home, away);
        unmatched and started events cost nothing and are counted in notes."""
        key = self._odds_key(EP_HISTORICAL_EVENTS)
        notes: dict = {"odds_endpoint": "historical"}
        spent, hits = self.odds_meter.spent, self.odds_meter.cache_hits
        games, kept = self._odds_games(game_date, as_of, notes)
        rows: list[dict] = []
        if len(games):
            context = {"date": game_date.isoformat(), "as_of": as_of.isoformat()}
            snap, events, payload = self._historical_events(game_date, as_of, notes)
            kept[f"{EP_HISTORICAL_EVENTS}[{_iso(as_of)}]"] = payload
            ids = {(int(h), int(a)): gid for gid, h, a in
                   zip(games["game_id"], games["home_team_id"], games["away_team_id"])}
            unmatched = started = 0
            for ev in events:
                game_id = ids.get((team_id_from_name(ev["home_team"]),
                                   team_id_from_name(ev["away_team"])))
                if game_id is None:
                    unmatched += 1
                    continue
                if ev["commence_time"] <= snap and not self.odds_in_play:
                    started += 1  # in-play prices: no pre-game feature may use them
                    continue
                by_book: dict[str, dict] = {}
                for group in _market_groups(self.odds_markets):
                    path = HISTORICAL_EVENT_ODDS_PATH.format(event_id=ev["id"])
                    params = {"apiKey": key, "date": _iso(as_of), "regions": self.odds_regions,
                              "markets": group, "oddsFormat": "decimal", "dateFormat": "iso"}
                    payload, raw, cache_key = self._odds_call(
                        EP_HISTORICAL_EVENT_ODDS, path, params,
                        call_cost(EP_HISTORICAL_EVENT_ODDS, count(group),
                                  count(self.odds_regions)),
                        {**context, "event_id": ev["id"], "markets": group})
                    for row in self.parse_historical_event_odds(payload, raw, ev["id"], game_id,
                                                                as_of, notes):
                        _merge_book_row(by_book, row)
                    self._remember(cache_key, raw)
                    kept[f"{EP_HISTORICAL_EVENT_ODDS}[{ev['id']}|{group}]"] = payload
                rows.extend(by_book.values())
            notes.update({"unmatched_events": unmatched, "events_started": started,
                          "events_priced": notes.get("events", 0) - unmatched - started})
        notes.update({"credits": self.odds_meter.spent - spent,
                      "cache_hits": self.odds_meter.cache_hits - hits})
        df = pd.DataFrame(rows) if rows else empty_frame("odds")
        notes = json.loads(redact_text(json.dumps(notes), self.http.secrets))
        return finish("odds", df, as_of, source=SOURCE, endpoint=EP_HISTORICAL_EVENT_ODDS,
                      raw=_json_bytes(kept), notes=notes)

    # ---------------------------------------------------------------- injuries
    def _fetch_injuries(self, game_date, as_of) -> Extract:
        try:
            result = self.injury_rows_provider(game_date, as_of)
        except SourceError:
            raise
        except Exception as exc:  # the provider is user code: report it as a source failure
            raise SourceError(SOURCE, EP_INJURIES,
                              f"injury rows provider failed: {type(exc).__name__}: {exc}") from exc
        if not (isinstance(result, tuple) and len(result) == 2):
            raise SourceError(SOURCE, EP_INJURIES,
                              "injury rows provider must return (rows, report_ts)")
        rows, report_ts = result
        report_raw = _json_bytes({"report_ts": str(report_ts), "rows": rows})
        doc = _Doc(EP_INJURIES, report_raw)
        doc.check(rows, "rows", "list")
        notes: dict = {}
        # First pass without a roster, to learn the day's teams and validate every row.
        prelim = parse_injury_report_rows(rows, report_ts, raw=report_raw, notes={})
        day = prelim[prelim["game_date"] == game_date.isoformat()]
        notes["rows_other_dates"] = int(len(prelim) - len(day))
        kept: dict[str, Any] = {EP_INJURIES: {"report_ts": str(report_ts), "rows": rows}}
        roster = None
        players = day[day["player_id"] != TEAM_LEVEL_PLAYER_ID]  # team rows need no roster
        if len(players):
            roster, roster_raw = self._rosters(players["team_id"].unique(), season_of(game_date),
                                               as_of, notes)
            kept.update(roster_raw)
        df = parse_injury_report_rows(rows, report_ts, roster=roster, raw=report_raw, notes=notes)
        df = df[df["game_date"] == game_date.isoformat()]
        notes["surrogate_player_ids"] = int((df["player_id"] < 0).sum())
        return finish("injuries", df, as_of, source=SOURCE, endpoint=EP_INJURIES,
                      raw=_json_bytes(kept), notes=notes)
