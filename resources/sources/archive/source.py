"""ArchiveSource: the Source protocol over an archive directory, with lazy parsing and caching.

Each folder is parsed once, on first need (games.py, injuries.py); every kind's whole history is
built once (games.py, odds.py, rosters.py, injuries.py) and conformed; `fetch` answers a date from
those tables (injuries: from the transaction stream, as known at `as_of`).

What a problem in an input file refuses (files.py finds them; `fetch` raises a SourceError naming
the file, line and field, with the complete file as the raw payload to quarantine):

| problem in | refuses |
|---|---|
| a damaged file | every date of the seasons it covers (its name's season, else every date), for every kind built from its folder |
| a bad row of historical_lines / betting_results | schedule, results and odds of the row's date |
| a bad row of player_logs | box_scores, schedule and results of its date; rosters of the 30 days after it |
| a bad row of injuries | injuries of its date and of the 120 days after it (a transaction stays in force that long) |

Kinds built from a folder: historical_lines and betting_results -> schedule, results, odds;
player_logs -> box_scores, rosters, schedule, results; injuries -> injuries.  `table()` (bulk,
for the backtest) refuses a kind whose inputs have any problem.
"""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from tipoff_core.schemas import TABLES, conform
from tipoff_core.timeutil import season_of, to_date, utc
from resources.sources.archive.files import SOURCE, Problem, _datestr, _File, _per_unique
from resources.sources.archive.games import (build_box_scores, build_results, build_schedule,
                                             read_betting, read_lines, read_logs, reconcile,
                                             team_days)
from resources.sources.archive.injuries import (build_injuries, injuries_at, read_transactions,
                                                transaction_stream)
from resources.sources.archive.odds import build_odds
from resources.sources.archive.injuries import STALE_INJURY_DAYS
from resources.sources.archive.rosters import ROSTER_WINDOW_DAYS, build_rosters
from resources.sources import in_game
from resources.sources.base import KINDS, Extract, SourceError, finish, records_payload

LINES_DIR, BETTING_DIR, LOGS_DIR, INJURIES_DIR = (
    "historical_lines", "betting_results", "player_logs", "injuries")
# kind -> {folder: days after a bad row's date that it still refuses (0 = its date only)}
DEPENDS_ON = {
    "schedule": {LINES_DIR: 0, BETTING_DIR: 0, LOGS_DIR: 0},
    "results": {LINES_DIR: 0, BETTING_DIR: 0, LOGS_DIR: 0},
    "odds": {LINES_DIR: 0, BETTING_DIR: 0},
    "box_scores": {LOGS_DIR: 0},
    "rosters": {LOGS_DIR: ROSTER_WINDOW_DAYS},
    "injuries": {INJURIES_DIR: STALE_INJURY_DAYS},
}


class ArchiveSource:
    """Replays files laid out like shared/data; see the package docstring for every rule."""

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
        self._problems: list[Problem] = []
        self._lock = threading.RLock()  # lazy parsing is not re-entrant across threads

    # ---- public API -------------------------------------------------------------------------

    def play_by_play(self, game_id: str) -> None:
        """No play-by-play here: game ratings use the quarter scores."""
        return None

    def game_states(self, game_date, as_of) -> Extract:
        """In-game states replayed from the date's results (`in_game.replayed_game_states`)."""
        return in_game.replayed_game_states(self, to_date(game_date), utc(as_of))

    def fetch(self, kind: str, game_date: dt.date, as_of: pd.Timestamp) -> Extract:
        """Rows of `kind` for `game_date` knowable at `as_of` (see the package docstring)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        day = pd.Timestamp(to_date(game_date))
        as_of = pd.Timestamp(as_of)
        as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
        with self._lock:
            if kind == "injuries":
                df = injuries_at(self._injury_tx(), self._games(), day, as_of)
            else:
                df = self._slice(kind, day)
            notes = self._fetch_notes(kind, day, 0)
            refusal = self._refusal(kind, day)
        if refusal is not None:
            raise refusal
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
        with self._lock:
            self._build_parts(kind)
            bad = self._problems_for(kind)
            if bad:
                raise self._error(bad[0], f" ({len(bad)} problem(s) in the inputs of {kind}; "
                                          "bulk tables are refused until they are fixed)")
            return self._table(kind, season)

    def _table(self, kind: str, season: str | None = None) -> pd.DataFrame:
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
        df = self._build(kind)
        out = conform(df, kind, SOURCE, self._endpoint(kind))
        if "game_date" not in out.columns:
            out["game_date"] = df["game_date"].to_numpy()
        order = np.argsort(out["game_date"].to_numpy().astype(str), kind="stable")
        return out.iloc[order].reset_index(drop=True)

    def _build(self, kind: str) -> pd.DataFrame:
        """The rows of `kind` before conforming, from the parsed files."""
        if kind == "odds":
            df, self._notes["odds"] = build_odds(self._games())
            return df
        return {
            "schedule": lambda: build_schedule(self._games()),
            "results": lambda: build_results(self._games()),
            "rosters": lambda: build_rosters(self._logs(), team_days(self._games())),
            "box_scores": lambda: build_box_scores(self._logs()),
            "injuries": lambda: build_injuries(self._injury_tx(), team_days(self._games())),
        }[kind]()

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
            t = self._table(kind)
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
                "injuries": self._injury_tx, "odds": lambda: self._table("odds")}[part]()

    # ---- problems in the inputs -----------------------------------------------------------

    def _build_parts(self, kind: str) -> None:
        """Parse every folder `kind` is built from (so all of its problems are known)."""
        for folder in DEPENDS_ON[kind]:
            {LINES_DIR: self._lines, BETTING_DIR: self._betting, LOGS_DIR: self._logs,
             INJURIES_DIR: self._injury_tx}[folder]()

    def _problems_for(self, kind: str) -> list[Problem]:
        folders = DEPENDS_ON[kind]
        return [p for p in self._problems if p.file.split("/", 1)[0] in folders]

    def _refusal(self, kind: str, day: pd.Timestamp) -> SourceError | None:
        """The SourceError refusing `kind` on `day`, if a problem in its inputs reaches it."""
        self._build_parts(kind)
        season = season_of(day.date())
        for p in self._problems_for(kind):
            window = DEPENDS_ON[kind][p.file.split("/", 1)[0]]
            if p.day is None:
                reaches = not p.seasons or season in p.seasons
            else:
                reaches = pd.Timedelta(0) <= day - p.day <= pd.Timedelta(days=window)
            if reaches:
                return self._error(p, f" (needed for {kind} of {day.date()}; fix the file and "
                                      "re-run: other dates are answered)")
        return None

    def _error(self, p: Problem, why: str) -> SourceError:
        raw = (self.data_dir / p.file).read_bytes() if (self.data_dir / p.file).is_file() else None
        return SourceError(SOURCE, p.file, p.describe() + why, field=p.field, raw=raw)

    def _files(self, folder: str, patterns: tuple[str, ...]) -> list[_File]:
        d = self.data_dir / folder
        if not d.is_dir():
            return []
        paths = sorted({p for pat in patterns for p in d.glob(pat) if p.is_file()})
        return [_File(self.data_dir, p) for p in paths]

    # ---- parsed files (lazy, cached) -------------------------------------------------------

    def _once(self, key: str, notes_key: str, parse) -> pd.DataFrame:
        """`parse()` -> (frame, notes) the first time; the frame is cached, the notes kept."""
        if key not in self._cache:
            frame, notes = parse()
            self._notes[notes_key] = notes
            self._cache[key] = frame
        return self._cache[key]

    def _lines(self) -> pd.DataFrame:
        return self._once("lines", "lines",
                          lambda: read_lines(self._files(LINES_DIR, ("*.csv",)), self._problems))

    def _betting(self) -> pd.DataFrame:
        return self._once("betting", "betting",
                          lambda: read_betting(self._files(BETTING_DIR, ("*.csv",)),
                                               self._problems))

    def _logs(self) -> pd.DataFrame:
        return self._once("logs", "logs",
                          lambda: read_logs(self._files(LOGS_DIR, ("*.csv.gz", "*.csv")),
                                            self._problems))

    def _games(self) -> pd.DataFrame:
        """One row per game: reconciled from lines, betting_results and player logs."""
        return self._once("games", "reconciliation",
                          lambda: reconcile(self._lines(), self._betting(), self._logs()))

    def _injury_tx(self) -> pd.DataFrame:
        """The transaction stream as events: one row per (transaction, player), sorted."""
        def parse():
            events, notes = read_transactions(self._files(INJURIES_DIR, ("*.csv",)),
                                              self._problems)
            return transaction_stream(events, self._logs(), notes), notes

        return self._once("injury_tx", "injuries", parse)


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
