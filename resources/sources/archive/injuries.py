"""injuries: the Pro Sports Transactions injury list (placed on / activated from IL) and
player-id resolution of its names.

* Input: exact duplicate rows are dropped (ignoring the ID column).  Rows of teams that are not a
  current franchise are dropped and counted in `notes['injuries']['dropped_team_rows']`.  Injury
  "names" that are notes, dates or team names (e.g. "NBA health and safety protocols (DTD)",
  "76ers") are dropped (`non_player_names_dropped`); a row naming the same player in both columns
  is read as Relinquished then Acquired (i.e. back in).  snapshot_ts: each transaction's date at
  12:00 local.
* Injuries for game date D at as_of: per (team, player), the last transaction dated <= D whose
  snapshot_ts <= as_of; players whose last transaction is Relinquished are "Out" (reason = Notes).
  Only teams playing on D.  A Relinquished transaction older than 120 days (before D - 120 days)
  with no later transaction is treated as stale and ignored.
* player_id: injury names (each alias of "A / B") normalized (accents, case, punctuation,
  parentheticals, Jr./Sr./II-IV removed) and matched to player-log PLAYER_IDs in the same
  team+season, else the same season, else an adjacent season (unique matches only); unmatched
  names get a stable negative surrogate -(int(sha1(first normalized alias).hexdigest()[:12], 16)
  % 10**9) - 1.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata

import numpy as np
import pandas as pd

from tipoff_core.timeutil import LEAGUE_TZ
from resources.sources.archive.files import (Checks, FileDamage, Problem, _datestr, _File, _local,
                                             _parse_dates, _per_unique,
                                             _read_csv, _seasons_of)
from resources.sources.archive.teams import (_NICKNAME_ERAS, TEAM_ALIASES, TEAM_IDS,
                                             _map_nicknames, _team_key)

STALE_INJURY_DAYS = 120


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


def _shift_season(season: str, delta: int) -> str:
    y = int(season[:4]) + delta
    return f"{y}-{(y + 1) % 100:02d}"


def read_transactions(files: list[_File], problems: list[Problem]) -> tuple[pd.DataFrame, dict]:
    """injuries/*.csv as events: one row per (transaction, player) of a current franchise, and
    the notes counting what was dropped; damaged files and bad rows go to `problems`."""
    req = ["Date", "Team", "Acquired", "Relinquished", "Notes"]
    frames, notes = [], {"files": 0, "rows": 0, "duplicate_rows_dropped": 0,
                         "dropped_team_rows": 0, "dropped_team_names": {},
                         "rows_without_player": 0, "non_player_names_dropped": 0}
    for f in files:
        try:
            raw = _read_csv(f, req, optional=("ID",), text=tuple(req))
        except FileDamage as exc:
            problems.append(exc.problem)
            continue
        notes["files"] += 1
        notes["rows"] += len(raw)
        n0 = len(raw)
        raw = raw.drop_duplicates(subset=req)
        notes["duplicate_rows_dropped"] += n0 - len(raw)
        if raw.empty:
            continue
        checks = Checks(f)
        day = _parse_dates(checks, raw, "Date", "%d/%m/%Y")
        ok = checks.settle(raw, day, problems)
        raw, day = raw[ok], day[ok]
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
    return tx, notes


def transaction_stream(events: pd.DataFrame, logs: pd.DataFrame, notes: dict) -> pd.DataFrame:
    """The events with their players resolved, stamped at noon local, in (day, seq) order."""
    tx = _resolve_players(events, logs, notes)
    tx["snapshot_ts"] = _local(tx["day"], dt.time(12, 0))
    return tx.sort_values(["day", "seq"], kind="stable").reset_index(drop=True)


def _resolve_players(tx: pd.DataFrame, logs: pd.DataFrame, notes: dict) -> pd.DataFrame:
    """player_id / player_name for injury names: logs by team+season > season > adjacent."""
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


def injuries_at(tx: pd.DataFrame, g: pd.DataFrame, day: pd.Timestamp,
                as_of: pd.Timestamp) -> pd.DataFrame:
    """Players out for teams playing on `day` (games `g`), from transactions knowable at `as_of`."""
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
    playing = set(g.loc[g["day"] == day, ["home", "away"]].to_numpy().ravel())
    out = last[last["out"] & last["team"].isin(playing)]
    return _injury_rows(out, pd.Series(day, index=out.index))


def _injury_rows(ev: pd.DataFrame, days: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({
        "game_date": _datestr(days), "team_id": ev["team_id"], "team": ev["team"],
        "player_id": ev["player_id"], "player_name": ev["player_name"], "status": "Out",
        "reason": ev["reason"], "snapshot_ts": ev["snapshot_ts"],
    }).sort_values(["team_id", "player_id"], kind="stable")


def build_injuries(tx: pd.DataFrame, td: pd.DataFrame) -> pd.DataFrame:
    """Vectorized equivalent of `injuries_at(tx, games, D, D 12:00)` for every team-day of `td`.

    Every Relinquished event starts an 'out' spell [day, min(next event of the same
    team+player, day + 121 days)); team game dates inside a spell get the row.
    """
    if tx.empty or td.empty:
        return _injury_rows(tx.iloc[:0], pd.Series([], dtype="datetime64[ns]"))
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
    out = _injury_rows(ev, days)
    out = out.sort_values(["game_date", "team_id", "player_id"], kind="stable")
    return out.drop_duplicates(["team_id", "player_id", "game_date"], keep="last")
