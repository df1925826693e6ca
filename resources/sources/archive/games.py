"""The three game files, their reconciliation into one row per game, and the kinds built from it.

Parsers (each returns its frame and the notes that count what it dropped):

  historical_lines/*.csv        closing lines + final scores, `<season>-MMDD` dates, full team names
  betting_results/*.csv         scores, quarters, regular/playoff flags, lines, lower-case codes
  player_logs/*.csv.gz, *.csv   stats.nba.com player game logs (regular season)

* Input hygiene: exact duplicate rows are dropped; rows that give one game (or player-game) twice
  with different values are a conflict: both are dropped and refused (see files.py).  Player
  logs' MIN, PTS, FGA, FTA, OREB and TOV must lie in the box-score ranges of
  `tipoff_core.schemas.RANGES`; betting results' scores in [0, 200] and quarters that add up to
  them.  "NL" (no line) -> NaN, "PK" (pick'em) -> 0.0, "+145" -> 145.  Unknown team
  names are dropped and counted (`dropped_unknown_team`).  A bad MATCHUP or date is a bad cell.
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
* schedule snapshot_ts: regular-season games at the season's first game date 09:00 local minus
  7 days (the schedule is published in advance); post-season games the day before the game at
  09:00 local (a playoff schedule is not known at season start -- stamping it there would leak
  which teams reach the playoffs).  results and box_scores: final_ts.
* Box scores: minutes = MIN (whole minutes), starter NA (the logs have no starter flag).
  overtime_periods: from player-log minutes (team total minus 240, per 25) when logs exist,
  0 when betting_results shows no overtime points, else NA.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tipoff_core.timeutil import DEFAULT_TIP_LOCAL, GAME_DURATION
from resources.sources.archive.files import (Checks, FileDamage, Problem, _bool, _datestr, _File,
                                             _local, _numeric, _parse_dates, _per_unique,
                                             _read_csv, _seasons_of)
from tipoff_core.schemas import RANGES, games_left
from resources.sources.archive.teams import TEAM_IDS, _map_teams

SCHEDULE_LEAD_DAYS = 7
# box-score column -> player-log column
LOG_BOX_COLUMNS = {"minutes": "MIN", "pts": "PTS", "fga": "FGA", "fta": "FTA", "oreb": "OREB",
                   "tov": "TOV", "plus_minus": "PLUS_MINUS", "fgm": "FGM", "fg3m": "FG3M",
                   "ftm": "FTM", "dreb": "DREB", "ast": "AST", "stl": "STL", "blk": "BLK",
                   "pf": "PF"}
# The 2020 Orlando bubble: every game at a neutral site (the archive has no venue column).
BUBBLE = ("2020-07-30", "2020-10-11")


def one_per_key(out: pd.DataFrame, keys: list[str], what: str,
                problems: list[Problem]) -> tuple[pd.DataFrame, int]:
    """Exact repeats (across files too) are dropped; rows giving one key different values
    conflict: every one of them is dropped and recorded.  Returns (rows, exact repeats)."""
    values = [c for c in out.columns if c not in ("file", "line")]
    exact = out.duplicated(values, keep="first").to_numpy()
    out = out[~exact]
    clash = out.duplicated(keys, keep=False).to_numpy()
    for _, group in out[clash].groupby(keys, sort=False):
        differ = [c for c in values if c not in keys and group[c].nunique(dropna=False) > 1]
        where = ", ".join(f"{r.file} line {r.line}" for r in group.itertuples())
        for r in group.itertuples():
            problems.append(Problem(
                r.file, r.line, differ[0] if differ else keys[-1],
                f"conflicts with another row for the same {what} "
                f"({', '.join(str(getattr(r, k))[:10] for k in keys)}: {where}; they differ in "
                f"{', '.join(differ)})", pd.Timestamp(r.day)))
    return out[~clash].reset_index(drop=True), int(exact.sum())


def _game_id(days: pd.Series, away: pd.Series, home: pd.Series) -> pd.Series:
    return _datestr(days).str.replace("-", "", regex=False) + away + home


# --------------------------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------------------------

def read_lines(files: list[_File], problems: list[Problem]) -> tuple[pd.DataFrame, dict]:
    """historical_lines/*.csv: one row per game, and its notes; damaged files and bad rows go
    to `problems`."""
    frames, notes = [], {"files": 0, "rows": 0, "duplicate_rows_dropped": 0,
                         "dropped_unknown_team": {}}
    req = ["Date", "Home", "Away", "OU", "Spread", "ML_Home", "ML_Away", "Points",
           "Win_Margin"]
    for f in files:
        try:
            raw = _read_csv(f, req, text=("Date", "Home", "Away"))
        except FileDamage as exc:
            problems.append(exc.problem)
            continue
        notes["files"] += 1
        notes["rows"] += len(raw)
        n0 = len(raw)
        raw = raw.drop_duplicates()  # keep the index: problems cite file lines
        notes["duplicate_rows_dropped"] += n0 - len(raw)
        if raw.empty:
            continue
        checks = Checks(f)
        date = raw["Date"].str.strip()
        m = date.str.extract(r"^(\d{4})-(\d{2})-(\d{2})(\d{2})$")
        checks.flag(raw, m[0].isna(), "Date", "is not <season>-MMDD (e.g. 2015-16-1027)")
        m = m.fillna({0: "1900", 1: "01", 2: "01", 3: "01"})
        y1 = m[0].astype(int)
        season = m[0] + "-" + m[1]
        d1 = pd.to_datetime(pd.DataFrame({"year": y1, "month": m[2].astype(int),
                                          "day": m[3].astype(int)}), errors="coerce")
        d2 = pd.to_datetime(pd.DataFrame({"year": y1 + 1, "month": m[2].astype(int),
                                          "day": m[3].astype(int)}), errors="coerce")
        # Calendar year: the second year of the season when that date belongs to the season
        # (Jan-Jul normally, and the Aug-Oct 2020 bubble), else the first (Aug-Dec).
        ok2 = _seasons_of(d2.fillna(pd.Timestamp("1900-01-01"))) == season
        day = d2.where(ok2 & d2.notna(), d1)
        checks.flag(raw, day.isna(), "Date", "is not a calendar date")
        home, away = _map_teams(raw["Home"]), _map_teams(raw["Away"])
        unknown = home.isna() | away.isna()
        for nm in pd.concat([raw["Home"][home.isna()], raw["Away"][away.isna()]]):
            notes["dropped_unknown_team"][nm] = notes["dropped_unknown_team"].get(nm, 0) + 1
        df = pd.DataFrame({
            "day": day.astype("datetime64[ns]"), "season": season.astype(object),
            "home": home, "away": away,
            "total": _numeric(checks, raw, "OU", tokens={"NL": np.nan}),
            "spread": _numeric(checks, raw, "Spread", tokens={"NL": np.nan, "PK": 0.0,
                                                              "PICK": 0.0, "PK.": 0.0}),
            "spread_raw": raw["Spread"].astype(str).str.strip().str.upper().astype(object),
            "home_ml": _numeric(checks, raw, "ML_Home", tokens={"NL": np.nan}),
            "away_ml": _numeric(checks, raw, "ML_Away", tokens={"NL": np.nan}),
            "points": _numeric(checks, raw, "Points"),
            "margin": _numeric(checks, raw, "Win_Margin"),
            "file": f.rel, "line": raw.index.to_numpy() + 2,
        })
        checks.in_range(raw, df["points"], "Points", 0, 400)
        checks.in_range(raw, df["margin"], "Win_Margin", -100, 100)
        keep = checks.settle(raw, df["day"], problems)
        frames.append(df[keep & ~unknown.to_numpy()])
    cols = ["day", "season", "home", "away", "total", "spread", "spread_raw", "home_ml",
            "away_ml", "points", "margin", "file", "line"]
    out = (pd.concat(frames, ignore_index=True) if frames
           else pd.DataFrame({c: pd.Series([], dtype=object) for c in cols}))
    if not frames:
        out["day"] = out["day"].astype("datetime64[ns]")
        for c in ("total", "spread", "home_ml", "away_ml", "points", "margin"):
            out[c] = out[c].astype("float64")
    n0 = len(out)
    out, _ = one_per_key(out, ["day", "home", "away"], "game", problems)
    notes["duplicate_games_dropped"] = n0 - len(out)
    return out.drop(columns=["line"]), notes


def read_betting(files: list[_File], problems: list[Problem]) -> tuple[pd.DataFrame, dict]:
    """betting_results/*.csv: one row per game, and its notes; damaged files and bad rows go to
    `problems`."""
    q = ["q1", "q2", "q3", "q4", "ot"]
    req = (["season", "date", "regular", "playoffs", "away", "home", "score_away",
            "score_home"] + [f"{p}_{s}" for s in ("away", "home") for p in q]
           + ["whos_favored", "spread", "total", "moneyline_away", "moneyline_home"])
    frames, notes = [], {"files": 0, "rows": 0, "duplicate_rows_dropped": 0,
                         "dropped_unknown_team": {}}
    ranges = RANGES["results"]
    for f in files:
        try:
            raw = _read_csv(f, req, text=("date", "home", "away", "whos_favored"))
        except FileDamage as exc:
            problems.append(exc.problem)
            continue
        notes["files"] += 1
        notes["rows"] += len(raw)
        n0 = len(raw)
        raw = raw.drop_duplicates()  # keep the index: problems cite file lines
        notes["duplicate_rows_dropped"] += n0 - len(raw)
        if raw.empty:
            continue
        checks = Checks(f)
        end_year = _numeric(checks, raw, "season", allow_na=False).fillna(1900).astype(int)
        season = ((end_year - 1).astype(str) + "-" + (end_year % 100).map("{:02d}".format))
        home, away = _map_teams(raw["home"]), _map_teams(raw["away"])
        unknown = home.isna() | away.isna()
        for nm in pd.concat([raw["home"][home.isna()], raw["away"][away.isna()]]):
            notes["dropped_unknown_team"][nm] = notes["dropped_unknown_team"].get(nm, 0) + 1
        fav = raw["whos_favored"].str.strip().str.lower()
        checks.flag(raw, fav.notna() & ~fav.isin(["home", "away"]), "whos_favored",
                    "is not home/away")
        df = pd.DataFrame({
            "day": _parse_dates(checks, raw, "date", "%m/%d/%y"),
            "season": season.astype(object), "home": home, "away": away,
            "regular": _bool(checks, raw, "regular"), "playoffs": _bool(checks, raw, "playoffs"),
            "home_pts": _numeric(checks, raw, "score_home", allow_na=False),
            "away_pts": _numeric(checks, raw, "score_away", allow_na=False),
            **{f"home_{p}": _numeric(checks, raw, f"{p}_home") for p in q},
            **{f"away_{p}": _numeric(checks, raw, f"{p}_away") for p in q},
            "fav": fav.astype(object),
            "spread": _numeric(checks, raw, "spread", tokens={"NL": np.nan, "PK": 0.0}),
            "total": _numeric(checks, raw, "total", tokens={"NL": np.nan}),
            "home_ml": _numeric(checks, raw, "moneyline_home", tokens={"NL": np.nan}),
            "away_ml": _numeric(checks, raw, "moneyline_away", tokens={"NL": np.nan}),
            "file": f.rel, "line": raw.index.to_numpy() + 2,
        })
        for side, src in (("home", "score_home"), ("away", "score_away")):
            checks.in_range(raw, df[f"{side}_pts"], src, *ranges[f"{side}_pts"])
            for p in q:
                checks.in_range(raw, df[f"{side}_{p}"], f"{p}_{side}", *ranges[f"{side}_{p}"])
            quarters = df[[f"{side}_{p}" for p in q[:4]]]
            summed = quarters.sum(axis=1) + df[f"{side}_ot"].fillna(0)
            off = quarters.notna().all(axis=1) & (summed != df[f"{side}_pts"])
            checks.flag(raw, off, src, f"does not equal its quarters' sum", df[f"{side}_pts"])
        keep = checks.settle(raw, df["day"], problems)
        frames.append(df[keep & ~unknown.to_numpy()])
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
                            "file": pd.Series([], dtype=object),
                            "line": pd.Series([], dtype="int64")})
    n0 = len(out)
    out, _ = one_per_key(out, ["day", "home", "away"], "game", problems)
    notes["duplicate_games_dropped"] = n0 - len(out)
    return out.drop(columns=["line"]), notes


def read_logs(files: list[_File], problems: list[Problem]) -> tuple[pd.DataFrame, dict]:
    """player_logs/*.csv(.gz): one row per (NBA game, player), with the archive game_id, and
    its notes; damaged files and bad rows go to `problems`."""
    req = ["PLAYER_ID", "PLAYER_NAME", "TEAM_ID", "TEAM_ABBREVIATION", "GAME_ID",
           "GAME_DATE", "MATCHUP", *LOG_BOX_COLUMNS.values()]
    frames, notes = [], {"files": 0, "rows": 0, "duplicate_rows_dropped": 0,
                         "non_game_rows_dropped": 0, "dropped_unknown_team": {}}
    box_ranges = RANGES["box_scores"]
    for f in files:
        try:
            raw = _read_csv(f, req, optional=("SEASON_LABEL", "SEASON_ID"),
                            text=("PLAYER_NAME", "TEAM_ABBREVIATION", "GAME_ID", "GAME_DATE",
                                  "MATCHUP", "SEASON_LABEL"))
        except FileDamage as exc:
            problems.append(exc.problem)
            continue
        notes["files"] += 1
        notes["rows"] += len(raw)
        n0 = len(raw)
        raw = raw.drop_duplicates()  # keep the index: problems cite file lines
        notes["duplicate_rows_dropped"] += n0 - len(raw)
        if raw.empty:
            continue
        checks = Checks(f)
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
        checks.flag(raw, mu[0].isna(), "MATCHUP", "is not 'X vs. Y' or 'X @ Y'")
        mu = mu.fillna("")
        is_away = (mu[1] == "@").to_numpy()
        t1, t2 = _map_teams(mu[0]), _map_teams(mu[2])
        home = pd.Series(np.where(is_away, t2, t1), index=raw.index)
        away = pd.Series(np.where(is_away, t1, t2), index=raw.index)
        team = _map_teams(raw["TEAM_ABBREVIATION"])
        unknown = (home.isna() | away.isna() | team.isna()).to_numpy()
        for nm in mu[0][pd.isna(t1)]:
            notes["dropped_unknown_team"][nm] = notes["dropped_unknown_team"].get(nm, 0) + 1
        day = _parse_dates(checks, raw, "GAME_DATE", "ISO8601").dt.normalize()
        if "SEASON_LABEL" in raw.columns and raw["SEASON_LABEL"].notna().all():
            season = _per_unique(raw["SEASON_LABEL"], lambda u: u.str.strip())
        else:
            season = _seasons_of(day.fillna(pd.Timestamp("1900-01-01")))
        df = pd.DataFrame({
            "day": day, "season": season, "nba_game_id": gid.astype(object),
            "game_type": gtype.astype(object),
            "home": home.astype(object), "away": away.astype(object),
            "team": team.astype(object),
            "team_id": _numeric(checks, raw, "TEAM_ID", allow_na=False).fillna(0).astype("int64"),
            "player_id": _numeric(checks, raw, "PLAYER_ID", allow_na=False).fillna(0)
            .astype("int64"),
            "player_name": _per_unique(raw["PLAYER_NAME"].fillna(""), lambda u: u.str.strip()),
            **{col: _numeric(checks, raw, src) for col, src in LOG_BOX_COLUMNS.items()},
            "file": f.rel, "line": raw.index.to_numpy() + 2,
        })
        for col, src in LOG_BOX_COLUMNS.items():
            checks.in_range(raw, df[col], src, *box_ranges[col])
        ok = checks.settle(raw, df["day"], problems)
        frames.append(df[keep & ~unknown & ok])
    if frames:
        out = pd.concat(frames, ignore_index=True)
    else:
        out = pd.DataFrame({
            "day": pd.Series([], dtype="datetime64[ns]"),
            **{c: pd.Series([], dtype=object) for c in
               ["season", "nba_game_id", "game_type", "home", "away", "team", "player_name"]},
            "team_id": pd.Series([], dtype="int64"), "player_id": pd.Series([], dtype="int64"),
            **{c: pd.Series([], dtype="float64") for c in LOG_BOX_COLUMNS},
            "file": pd.Series([], dtype=object), "line": pd.Series([], dtype="int64")})
    n0 = len(out)
    out, _ = one_per_key(out, ["nba_game_id", "player_id"], "player-game", problems)
    out = out.drop(columns=["file", "line"])
    notes["duplicate_player_games_dropped"] = n0 - len(out)
    # game_id is constant per NBA game: build it once per game and broadcast.
    codes, _ = pd.factorize(out["nba_game_id"])
    firsts = out.drop_duplicates("nba_game_id")
    ids = _game_id(firsts["day"], firsts["away"], firsts["home"]).to_numpy(dtype=object)
    out["game_id"] = pd.Series(ids[codes] if len(out) else [], index=out.index, dtype=object)
    return out, notes


# --------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------

def reconcile(lines: pd.DataFrame, bet: pd.DataFrame,
              logs: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One row per game reconciled from lines, betting_results and player logs, and the counts
    saying how (the `reconciliation` notes)."""
    L = lines.assign(li=np.arange(len(lines)))
    B = bet.assign(bi=np.arange(len(bet)))
    exact, cand = _pair_lines_betting(L, B)
    games = _join_lines_betting(
        L, B, pd.concat([exact[["li", "bi"]], cand[["li", "bi"]]], ignore_index=True))
    recon = {"lines_games": int(len(lines)), "betting_games": int(len(bet)),
             "matched_exact": int(len(exact)), "matched_date_shift": int(len(cand)),
             "lines_only": int((games["src"] == "lines").sum()),
             "betting_only": int((games["src"] == "betting").sum())}
    games = _add_log_games(games, logs, recon)

    # Season label: betting_results > lines > logs; check against the calendar rule.
    games["season"] = games["season"].where(games["season"].notna(), games["l_season"])
    recon["season_label_conflicts"] = int(
        (games["l_season"].notna() & (games["l_season"] != games["season"])).sum())

    _add_scores(games, logs, recon)
    games["game_type"] = _game_types(games, bet, logs, recon)

    games = games.sort_values(["day", "game_id"], kind="stable").reset_index(drop=True)
    games["game_date"] = _datestr(games["day"])
    games["home_team_id"] = games["home"].map(TEAM_IDS).astype("int64")
    games["away_team_id"] = games["away"].map(TEAM_IDS).astype("int64")
    games["tip_ts"] = _local(games["day"], DEFAULT_TIP_LOCAL)
    games["final_ts"] = games["tip_ts"] + GAME_DURATION
    recon["games"] = int(len(games))
    return games, recon


def _pair_lines_betting(L: pd.DataFrame, B: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(li, bi) pairs of the same game: exact (date, home, away) matches, and date-shifted ones."""
    key = ["day", "home", "away"]
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
    return exact, cand


def _join_lines_betting(L: pd.DataFrame, B: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Every betting_results game plus the unpaired lines games; `l_*` columns from the lines,
    `src` = both / betting / lines."""
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
    return games


def _add_log_games(games: pd.DataFrame, logs: pd.DataFrame, recon: dict) -> pd.DataFrame:
    """game_id on every game (the first of a repeated id kept), then the player-log games not
    found there, added from the logs themselves."""
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
    return games


def _add_scores(games: pd.DataFrame, logs: pd.DataFrame, recon: dict) -> None:
    """Fill home_pts / away_pts and set overtime_periods, in place."""
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


def _game_types(games: pd.DataFrame, bet: pd.DataFrame, logs: pd.DataFrame,
                recon: dict) -> pd.Series:
    """regular / playoff per game (see the module docstring for the lines-only rule)."""
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
    return gtype


# --------------------------------------------------------------------------------------------
# Kinds built from the games
# --------------------------------------------------------------------------------------------

def build_schedule(g: pd.DataFrame) -> pd.DataFrame:
    first = g.groupby("season")["day"].transform("min")
    pre = _local(first - pd.Timedelta(days=SCHEDULE_LEAD_DAYS), dt.time(9, 0))
    day_before = _local(g["day"] - pd.Timedelta(days=1), dt.time(9, 0))
    snap = pre.where(g["game_type"] == "regular", day_before)
    return pd.DataFrame({
        "game_id": g["game_id"], "season": g["season"], "game_date": g["game_date"],
        "tip_ts": g["tip_ts"], "home_team_id": g["home_team_id"],
        "away_team_id": g["away_team_id"], "home_team": g["home"], "away_team": g["away"],
        "game_type": g["game_type"],
        "neutral_site": (g["game_date"] >= BUBBLE[0]) & (g["game_date"] <= BUBBLE[1]),
        **games_left(g, "game_date", "season", "home_team_id", "away_team_id", "game_type"),
        "snapshot_ts": snap,
    })


def build_results(g: pd.DataFrame) -> pd.DataFrame:
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


def build_box_scores(logs: pd.DataFrame) -> pd.DataFrame:
    final = _local(logs["day"], DEFAULT_TIP_LOCAL) + GAME_DURATION
    return pd.DataFrame({
        "game_id": logs["game_id"], "game_date": _datestr(logs["day"]),
        "team_id": logs["team_id"], "player_id": logs["player_id"],
        "player_name": logs["player_name"], "minutes": logs["minutes"],
        **{c: logs[c] for c in LOG_BOX_COLUMNS if c != "minutes"},
        "starter": pd.Series(pd.NA, index=logs.index, dtype="boolean"),
        "snapshot_ts": final,
    })


def team_days(g: pd.DataFrame) -> pd.DataFrame:
    """(day, season, team) for every team playing on every game date."""
    return pd.concat([
        g[["day", "season", "home"]].rename(columns={"home": "team"}),
        g[["day", "season", "away"]].rename(columns={"away": "team"}),
    ], ignore_index=True).drop_duplicates(["day", "team"])
