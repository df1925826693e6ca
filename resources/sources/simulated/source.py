"""SimulatedSource: the Source protocol over generated seasons, with fetch indexes and caches.

A season is generated on first need (season.py) and kept per instance and, for equal instances
(same seed and shock), per process; its tables are built once per kind (tables.py) and each
date's rows are answered as a prefix of them, with the raw payload rendered from per-row JSON.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict

import numpy as np
import pandas as pd

from tipoff_core.schemas import conform, empty_frame
from tipoff_core.timeutil import to_date, utc
from resources.sources import in_game
from resources.sources.base import KINDS, Extract, SourceError, finish, records_payload
from resources.sources.simulated.league import (NAME, _label, _season_label_for, season_window,
                                                teams_frame)
from resources.sources.simulated.players import N_SLOTS, make_players
from resources.sources.simulated.season import _Season, generate_season
from resources.sources.simulated.shock import check_shock
from resources.sources.simulated.tables import build_table

_CACHE_SIZE = 4096  # fetch answers kept per source instance (LRU)
_SHARED_SIZE = 16   # generated seasons kept per process, shared by equal instances (LRU)
_SHARED: OrderedDict = OrderedDict()


class SimulatedSource:
    """Deterministic simulated league.  See the package docstring for the model."""

    name = NAME

    def __init__(self, seed: int = 7, shock: dict | None = None):
        self.seed = int(seed)
        self.shock = check_shock(shock)
        self._seasons: dict[str, _Season] = {}
        self._teams = teams_frame()
        self._players = make_players(self.seed)
        self._cache: OrderedDict = OrderedDict()

    # ---- public API ------------------------------------------------------------------------
    def play_by_play(self, game_id: str) -> None:
        """No play-by-play here: game ratings use the quarter scores."""
        return None

    def game_states(self, game_date, as_of) -> Extract:
        """In-game states replayed from the date's results (`in_game.replayed_game_states`)."""
        return in_game.replayed_game_states(self, to_date(game_date), utc(as_of))

    def fetch(self, kind: str, game_date, as_of) -> Extract:
        """Rows of `kind` for `game_date` knowable at `as_of` (see base.Source.fetch)."""
        endpoint = f"{NAME}/{kind}"
        if kind not in KINDS:
            raise SourceError(NAME, endpoint, f"unknown kind {kind!r}; expected one of {KINDS}")
        try:
            day = to_date(game_date)
            as_of = utc(as_of)
        except (TypeError, ValueError) as exc:
            raise SourceError(NAME, endpoint, f"bad game_date/as_of: {exc}") from None
        label = _season_label_for(day)
        start, end = season_window(label)
        if not (start <= day <= end):
            empty = empty_frame(kind)
            return finish(kind, empty, as_of, source=NAME, endpoint=endpoint,
                          raw=records_payload(empty), notes={"season": None})
        season = self._season(label)
        tbl, (pos, ts) = self._table(season, kind), self._index(season, kind)
        key = day.isoformat()
        lo, hi = pos.get(key, (0, 0))
        n = int(np.searchsorted(ts[lo:hi], as_of.value // 1000, side="right"))  # ns -> us
        ck = (label, kind, key, n)
        hit = self._cache.get(ck)
        if hit is None:
            # the season table is conformed once at build time; a date's rows are sorted by
            # snapshot_ts, so what is knowable at as_of is a prefix of them.
            rows = tbl.iloc[lo:lo + n].reset_index(drop=True)
            hit = (rows, self._payload(season, kind, key, lo, hi, n))
            self._cache[ck] = hit
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(ck)
        notes = {"season": label, "seed": self.seed}
        if self.shock:
            notes["shock"] = dict(self.shock)
        return Extract(kind, hit[0].copy(deep=False), hit[1], endpoint, NAME, notes)

    def _payload(self, s: _Season, kind: str, key: str, lo: int, hi: int, n: int) -> bytes:
        """Exactly records_payload() of the first n rows of a date, from per-row JSON built once
        per season and kind (vectorized), so a cold fetch stays well under a millisecond."""
        if n == 0:
            return b"[]"
        tbl = self._table(s, kind)
        if kind == "rosters":  # every date holds the same rows but for snapshot_ts
            tmpl = s.cache.get("rosters")
            if tmpl is None:
                tmpl = s.cache["rosters"] = (_json_rows(tbl.iloc[lo:hi]),
                                             _iso_list(tbl["snapshot_ts"].iloc[lo:lo + 1])[0])
            rows_json, ts0 = tmpl
            ts = _iso_list(tbl["snapshot_ts"].iloc[lo:lo + 1])[0]
            return ("[" + ", ".join(rows_json[:n]) + "]").replace(ts0, ts).encode()
        rows_json = s.cache.get(kind)
        if rows_json is None:
            rows_json = s.cache[kind] = _json_rows(tbl)
        return ("[" + ", ".join(rows_json[lo:lo + n]) + "]").encode()

    def season_games(self, season: str) -> pd.DataFrame:
        """The full regular-season schedule (SCHEDULE schema)."""
        return self.table("schedule", season)

    def game_dates(self, season: str) -> list[dt.date]:
        s = self._season(season)
        return [d.date() for d in s.days[np.unique(s.game_day)]]

    def table(self, kind: str, season: str) -> pd.DataFrame:
        """Every row of `kind` for a whole season, each with the snapshot_ts it carries."""
        if kind not in KINDS:
            raise SourceError(NAME, f"{NAME}/{kind}", f"unknown kind {kind!r}")
        return self._table(self._season(season), kind).copy(deep=False)

    def seasons_for(self, start, end) -> list[str]:
        """Season labels whose regular season overlaps [start, end]."""
        start, end = to_date(start), to_date(end)
        out = []
        for y in range(start.year - 1, end.year + 1):
            lab = _label(y)
            a, b = season_window(lab)
            if a <= end and b >= start:
                out.append(lab)
        return out

    def teams(self) -> pd.DataFrame:
        return self._teams.copy()

    def players(self, season: str) -> pd.DataFrame:
        """Season truth per player: role minutes, value (pts of strength), usage, rank."""
        s = self._season(season)
        ar = s.arrays
        p = self._players
        return pd.DataFrame({
            "team_id": np.repeat(self._teams["team_id"].to_numpy(), N_SLOTS),
            "team": np.repeat(self._teams["team"].to_numpy(), N_SLOTS),
            "player_id": p["player_id"].ravel(), "player_name": p["name"].ravel(),
            "position": p["position"].ravel(), "rank": ar["rank"].ravel(),
            "role_minutes": ar["role_min"].ravel(), "value": ar["value"].ravel(),
            "usage": ar["usage"].ravel(),
        })

    def team_ratings(self, season: str) -> pd.DataFrame:
        """True daily net rating per team (before injuries; includes the shock)."""
        s = self._season(season)
        r = s.arrays["rating"]
        return pd.DataFrame(r, index=pd.Index([d.date() for d in s.days], name="date"),
                            columns=self._teams["team"].tolist())

    # ---- season ------------------------------------------------------------------------------
    def _season(self, season: str) -> _Season:
        s = self._seasons.get(season)
        if s is None:
            # also shared by instances with the same seed and shock in this process (Dagster
            # builds a fresh resource per run); generation is deterministic, so this is only a
            # speed-up.
            key = (self.seed, tuple(sorted((self.shock or {}).items())), season)
            s = _SHARED.get(key)
            if s is None:
                s = generate_season(self.seed, self.shock, season, self._teams, self._players)
                _SHARED[key] = s
                while len(_SHARED) > _SHARED_SIZE:
                    _SHARED.popitem(last=False)
            self._seasons[season] = s
        return s

    # ---- tables ------------------------------------------------------------------------------
    def _table(self, s: _Season, kind: str) -> pd.DataFrame:
        t = s.tables.get(kind)
        if t is None:
            raw = build_table(kind, s, self._teams, self._players)
            t = s.tables[kind] = conform(raw, kind, NAME, f"{NAME}/{kind}")
        return t

    def _index(self, s: _Season, kind: str):
        ix = s.index.get(kind)
        if ix is None:
            t = self._table(s, kind)
            ts = t["snapshot_ts"].dt.tz_convert(None).to_numpy().astype("datetime64[us]") \
                .view(np.int64)
            if kind in ("rosters", "odds"):
                keys = s.arrays["roster_day_key" if kind == "rosters" else "odds_game_date"]
            else:
                keys = t["game_date"].to_numpy()
            pos = {}
            if len(keys):
                change = np.flatnonzero(keys[1:] != keys[:-1]) + 1
                starts = np.r_[0, change]
                stops = np.r_[change, len(keys)]
                for a, b in zip(starts.tolist(), stops.tolist()):
                    pos[str(keys[a])] = (a, b)
            ix = s.index[kind] = (pos, ts)
        return ix


def _json_rows(df: pd.DataFrame) -> list[str]:
    """json.dumps(row, sort_keys=True) for every row, as base.records_payload renders it
    (DataFrame.to_json(orient='records', date_format='iso') read back by json), vectorized by
    formatting each column's distinct values once."""
    frags = []
    for col in sorted(df.columns):
        s = df[col]
        codes, uniq = pd.factorize(s, use_na_sentinel=True)
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s):
            text = [json.dumps(v) for v in _iso_list(pd.Series(uniq))]
        elif pd.api.types.is_bool_dtype(s):
            text = ["true" if bool(v) else "false" for v in uniq]
        elif pd.api.types.is_integer_dtype(s):
            text = [str(int(v)) for v in uniq]
        elif pd.api.types.is_float_dtype(s):
            text = [json.dumps(float(v)) if np.isfinite(v) else "null" for v in uniq]
        else:
            text = [json.dumps(v) for v in uniq]
        table = np.array([f"{json.dumps(col)}: {t}" for t in text] + [f"{json.dumps(col)}: null"],
                         dtype=object)
        frags.append(table[codes].tolist())  # code -1 (missing) picks the trailing null
    return ["{" + r + "}" for r in map(", ".join, zip(*frags))] if frags else []


def _iso_list(ts: pd.Series) -> list[str]:
    """Timestamps exactly as DataFrame.to_json(date_format='iso') writes them (ms, 'Z')."""
    return json.loads(pd.Series(ts.to_numpy()).to_json(orient="values", date_format="iso"))

