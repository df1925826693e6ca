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

Modules: `source` (ArchiveSource), `teams` (name -> franchise), `files` (CSV reading and
checks), `games` (the three game files, their reconciliation; schedule, results, box scores),
`odds`, `rosters`, `injuries` (transactions, player-id resolution).  Each module's docstring
states its rules in full; in short (the archive has dates, not times):

* Teams: every historical name, nickname and code is mapped to one of the 30 current franchises,
  bare injury-list nicknames by era; rows of teams that are no current franchise are dropped and
  counted (`dropped_team_rows`, `dropped_unknown_team`).
* Input hygiene: exact duplicate rows are dropped, then repeated keys (same game twice) keep the
  first file's row.  "NL" (no line) -> NaN, "PK" (pick'em) -> 0.0, "+145" -> 145.
* game_id = f"{YYYYMMDD}{AWAY}{HOME}" with current tricodes, e.g. "20211019BKNMIL".
* Games: historical_lines and betting_results joined on (date, home, away), then one-day-apart
  pairs with the same score; scores from betting_results > lines > summed player-log points.
* Timestamps: tip_ts = date 19:30 New York (DEFAULT_TIP_LOCAL); final_ts = tip_ts + GAME_DURATION.
  snapshot_ts per kind:
    schedule   regular season: the season's first game date 09:00 local minus 7 days;
               post-season: the day before the game at 09:00 local (no playoff leak).
    odds       closing lines: tip_ts - 30 min, one row per game.
    rosters    D 09:00 local; derived from the player logs, not official.
    results / box_scores   final_ts.
    injuries   each transaction's date at 12:00 local; players Out for D as known at as_of.

Malformed input (missing column, non-numeric number, unparseable date, bad MATCHUP) raises
SourceError(source="archive", endpoint=<file path relative to data_dir>, field=<column>,
raw=<first KB of the file, decompressed for .gz>).
"""
from resources.sources.archive.injuries import normalize_name
from resources.sources.archive.source import ArchiveSource
from resources.sources.archive.teams import TEAM_ALIASES, TEAM_IDS, TEAM_NAMES, team_code

__all__ = ["ArchiveSource", "TEAM_ALIASES", "TEAM_IDS", "TEAM_NAMES", "normalize_name",
           "team_code"]
