"""`simulated` source: a deterministic, seedable NBA league that answers like a live feed.

The offline default of Tipoff (demo, tests, benchmarks).  A season is generated lazily, fully
vectorized, and cached per instance; everything in season ``YYYY-YY`` derives from
``numpy.random.default_rng([seed, YYYY])`` (via ``SeedSequence([seed, YYYY]).spawn``), and player
identities (ids, names, positions) from ``SeedSequence([seed, 0])``, so a season is identical across
processes and call orders.

The league
----------
* Teams: the 30 real franchises (``nba_api.stats.static.teams``), real conferences/divisions.
* Calendar: 3rd Tuesday of October to the first Sunday on/after April 9; no games on Thanksgiving,
  Christmas Eve and the All-Star break (Fri..Tue around the 3rd Sunday of February).
* Schedule: the NBA formula (4 games vs division rivals, 4 vs six and 3 vs four conference teams,
  2 vs the other conference) -> 1230 games, 82 per team, 41 home / 41 away; dates assigned greedily
  (5..14 games per date, weekday pattern, no team twice a day, no 3 games in 3 nights, ~12-15
  back-to-backs per team).  Tip times follow the home team's time zone (19:00/19:30 local on
  weekdays, some weekend/holiday afternoon games, Christmas slate), stored UTC.
* Teams have a latent net rating (sd 4.5) that random-walks through the season and a pace rating.
  15 players per team, ids ``9_000_000 + team_index * 100 + slot`` (team_index = position of the
  franchise in id order), with a minutes role (starters ~30-36, bench 10-25, deep bench 0-8), a
  value (points of team strength lost when he is out; stars ~3-6) and a usage.
* Injuries: 1% hazard per player-game, heavy-tailed durations (1-30 games, 2.5% season-ending).  An
  injury in game k is on the report from 08:00 local the next day; on game days the report is
  updated at 13:00 and 17:30 local (earlier for afternoon games) with Out / Doubtful /
  Questionable / Probable / Available; game-time decisions resolve at the last update; a few late
  scratches appear only on the last update.  Missing players weaken their team by their value.
* Scores: margin ~ N(strength_home - strength_away + 2.5, 10.5), total ~ 225 + paces + N(0, 16.5),
  quarter splits, overtime (5-minute periods, ~10 pts a side each).  final_ts = tip + ~2h15m.
* Box scores: minutes around the role (blowouts rest starters), summing exactly to 240 + 25 * OT
  per team (0.1-minute grid); pts/fga/fta/oreb/tov split from plausible team totals
  (possessions = fga - oreb + tov + 0.44 fta ~ 100).  Only players with minutes > 0 appear.
* Odds: two books (``simbook_a``, ``simbook_b``), 3 snapshots per game (open 10:00 local, 14:00,
  30 min before tip).  The market sees true ratings with noise (~1.5 pts on the closing spread),
  plus the injury report visible at snapshot time (late news moves the line); spread and total
  rounded to 0.5, American moneylines from P(home) = Phi(margin / 12) with ~4.5% overround.
* Rosters: every team's 15 players, one snapshot per season date at 09:00 local.
* Schedule: every game of the season stamped with the release time, Aug 15 12:00 local.

Shock (drift tests)
-------------------
``shock={"date": "2026-01-15", "team": "BOS", "kind": "star_out_and_trade"}`` (optional key
``"partner"``: tricode of the team that gains).  From that date on, the team's most valuable player
is Out for the season (on every injury report from 08:00 local on the shock date, reason
"... (season-ending)"), and the team's strength drops by 6 points in total (his value plus a
rating cut making up the rest); the partner (default: the median-rated team of the other
conference on that date) gains +6 rating points from the same date (a trade).

``shock={"date": "2026-01-23", "kind": "league_realignment"}`` (optional ``"fraction"``, default
2/3): a league-wide regime shift (a trade-deadline / injury wave that reshuffles the league).  On
the shock date the ``round(fraction * 30)`` teams farthest from that day's league mean (20 by
default: the strongest and the weakest) have their true rating path from that date on mirrored
around the daily league mean (``rating[x:, t] = 2 * mean[x:] - rating[x:, t]``): contenders turn
into bottom teams and vice versa, the other teams are untouched.  Nothing else changes (no injury
report rows), so the shift is only visible through results.  Scores and the market (odds are
generated from the true ratings) follow the new truth at once; features built from past results
(Elo, recent form) are anti-informative for the mirrored teams until they catch up.  On seed 7 from
2026-01-23 the old and new ratings correlate at -0.92, and a model trained before the shock drops
from log loss ~0.60 / accuracy ~0.66 to ~0.78 / 0.50 on the next 50 games (market ~0.64).

For both kinds every random draw is unchanged, so the league is identical to the unshocked one
before the shock date.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr

from tipoff_core.domain import betting
from tipoff_core.schemas import conform, empty_frame
from tipoff_core.timeutil import to_date, utc

from .base import KINDS, Extract, SourceError, finish, records_payload

NAME = "simulated"
N_TEAMS, N_SLOTS, N_GAMES_TEAM = 30, 15, 82
PLAYER_ID_BASE = 9_000_000
BOOKS = ("simbook_a", "simbook_b")
BOOK_OVERROUND = (0.045, 0.0475)
HOME_ADV = 2.5
MARGIN_NOISE_SD = 10.5
MARKET_MARGIN_SD = 12.0
SHOCK_SWING = 6.0
REALIGN_FRACTION = 2 / 3
SHOCK_KINDS = ("star_out_and_trade", "league_realignment")
NY = "America/New_York"
_CACHE_SIZE = 4096  # fetch answers kept per source instance (LRU)
_SHARED_SIZE = 16   # generated seasons kept per process, shared by equal instances (LRU)
_SHARED: OrderedDict = OrderedDict()

# --- league structure -----------------------------------------------------------------------
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

_FIRST = ["Aaron", "Andre", "Anthony", "Bam", "Ben", "Brandon", "Caleb", "Cam", "Chris", "Cole",
          "Darius", "De'Andre", "Derrick", "Devin", "Donovan", "Dylan", "Elijah", "Evan", "Gary",
          "Isaiah", "Jaden", "Jalen", "Jamal", "Jaylen", "Jordan", "Josh", "Julius", "Justin",
          "Keegan", "Kevin", "Kyle", "Lamar", "Luka", "Malik", "Marcus", "Max", "Miles", "Mikal",
          "Nikola", "Noah", "Obi", "Onyeka", "Paolo", "Quentin", "Reggie", "Rudy", "Scottie",
          "Shai", "Stephen", "Terry", "Trey", "Tyrese", "Victor", "Walker", "Zach", "Zion"]
_LAST = ["Adams", "Anderson", "Bailey", "Barnes", "Bell", "Bridges", "Brooks", "Brown", "Carter",
         "Collins", "Davis", "Edwards", "Ellis", "Fox", "Garland", "Gordon", "Grant", "Green",
         "Hall", "Harris", "Hayes", "Holiday", "Hunter", "Jackson", "James", "Johnson", "Jones",
         "King", "Lewis", "Lopez", "Martin", "Mitchell", "Moore", "Murray", "Nance", "Okafor",
         "Parker", "Porter", "Powell", "Reed", "Robinson", "Ross", "Sanders", "Simmons", "Smith",
         "Thomas", "Thompson", "Turner", "Walker", "Wallace", "Washington", "White", "Williams",
         "Wilson", "Wright", "Young"]
_POSITION_POOL = ["G", "G", "G", "G", "G-F", "F-G", "F", "F", "F", "F", "F-C", "C-F", "C", "C", "G"]
_OREB_W = {"G": 0.5, "G-F": 0.7, "F-G": 0.75, "F": 1.0, "F-C": 1.6, "C-F": 1.7, "C": 2.1}

# role by in-team rank (0 = best player): mean minutes, participation probability, value, usage
_ROLE_MIN = np.array([35, 34, 33, 32, 30, 24, 20, 16, 12, 8, 5, 4, 3, 2, 2], float)
_ROLE_PLAY = np.array([1, 1, 1, 1, 1, 1, 1, .97, .9, .75, .55, .4, .3, .25, .2])
_ROLE_VALUE = np.array([4.2, 2.6, 1.9, 1.5, 1.2, .9, .75, .6, .45, .35, .25, .15, .08, .05, .03])
_ROLE_USAGE = np.array([1.55, 1.3, 1.12, 1.0, .92, 1.0, .92, .86, .82, .8, .78, .76, .75, .75, .75])

_BODY = ["Left Ankle", "Right Ankle", "Left Knee", "Right Knee", "Left Hamstring",
         "Right Hamstring", "Lower Back", "Left Calf", "Right Calf", "Left Foot", "Right Foot",
         "Right Shoulder", "Left Wrist", "Right Hip", "Left Groin", "Right Thumb"]
_KIND_SHORT = ["Soreness", "Contusion", "Sprain", "Tightness"]
_KIND_MID = ["Sprain", "Strain", "Bone Bruise", "Tendinopathy"]
_KIND_LONG = ["Fracture", "Partial Tear", "Surgery", "Severe Sprain"]
_GTD_REASONS = ["Injury/Illness - Illness", "Injury/Illness - Lower Back; Soreness",
                "Injury/Illness - Left Knee; Soreness", "Injury/Illness - Right Ankle; Soreness",
                "Injury/Illness - Non-Covid Illness", "Injury/Illness - Left Hip; Tightness"]
_SURPRISE_REASONS = ["Injury/Illness - Illness", "Personal Reasons",
                     "Injury/Illness - Migraine", "Injury/Illness - Right Ankle; Sprain"]

# injury report statuses (0 = not listed)
_STATUS = np.array(["", "Out", "Doubtful", "Questionable", "Probable", "Available"], dtype=object)
NONE, OUT, DOUBT, QUES, PROB, AVAIL = range(6)
# probability of missing the game the market assigns to each status
_P_OUT_GIVEN_STATUS = np.array([0.0, 1.0, 0.8, 0.35, 0.06, 0.0])


def _teams() -> pd.DataFrame:
    from nba_api.stats.static import teams as nba_teams

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


# --- calendar -------------------------------------------------------------------------------
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


# --- season generation ----------------------------------------------------------------------
@dataclass
class _Season:
    label: str
    year: int
    days: pd.DatetimeIndex            # every calendar date start..end (naive midnight)
    game_day: np.ndarray              # (G,) day index of each game
    home: np.ndarray                  # (G,) team index
    away: np.ndarray
    tip: np.ndarray                   # (G,) datetime64[us] UTC (naive values)
    game_ids: np.ndarray              # (G,) object
    arrays: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)   # kind -> conformed full-season table
    index: dict = field(default_factory=dict)    # kind -> (dict date->(lo,hi), ts int64 array)
    cache: dict = field(default_factory=dict)    # per-date row JSON for raw payloads


def _matchups(rng: np.random.Generator, teams: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """All 1230 (home, away) pairs of the NBA formula, 41 home games per team."""
    idx = {t: i for i, t in enumerate(teams["team"])}
    home, away = [], []

    def add(h, a, n):
        home.extend([h] * n)
        away.extend([a] * n)

    for conf in ("East", "West"):
        divs = [[idx[t] for t in tris] for (c, _), tris in _DIVISIONS.items() if c == conf]
        for d in divs:
            for i in range(5):
                for j in range(i + 1, 5):
                    add(d[i], d[j], 2)
                    add(d[j], d[i], 2)
        for a_i, b_i in ((0, 1), (0, 2), (1, 2)):
            A, B = divs[a_i], [divs[b_i][p] for p in rng.permutation(5)]
            s = int(rng.integers(5))
            for i in range(5):
                for j in range(5):
                    off = (j - i - s) % 5
                    if off == 0:        # 3 games, extra one at A
                        add(A[i], B[j], 2)
                        add(B[j], A[i], 1)
                    elif off == 1:      # 3 games, extra one at B
                        add(A[i], B[j], 1)
                        add(B[j], A[i], 2)
                    else:
                        add(A[i], B[j], 2)
                        add(B[j], A[i], 2)
    east = [idx[t] for (c, _), tris in _DIVISIONS.items() if c == "East" for t in tris]
    west = [idx[t] for (c, _), tris in _DIVISIONS.items() if c == "West" for t in tris]
    for e in east:
        for w in west:
            add(e, w, 1)
            add(w, e, 1)
    return np.array(home), np.array(away)


def _day_targets(rng, days: pd.DatetimeIndex, off: np.ndarray, fixed: dict[int, int],
                 total: int) -> np.ndarray:
    dow_w = np.array([8.5, 6.2, 9.5, 5.6, 8.6, 7.6, 6.8])  # Mon..Sun
    w = dow_w[days.dayofweek.to_numpy()] * np.exp(rng.normal(0, 0.15, len(days)))
    w[off] = 0
    free = ~off
    for d in fixed:
        free[d] = False
    rest = total - sum(fixed.values())
    x = w * free
    x = x / x.sum() * rest
    k = np.clip(np.floor(x + rng.random(len(days))), 5, 14).astype(int)
    k[~free] = 0
    for d, n in fixed.items():
        k[d] = n
    # fix the sum exactly, within 5..14
    cand = np.flatnonzero(free)
    while k.sum() != total:
        diff = total - k.sum()
        d = cand[rng.integers(len(cand))]
        if diff > 0 and k[d] < 14:
            k[d] += 1
        elif diff < 0 and k[d] > 5:
            k[d] -= 1
    return k


def _assign_days(rng, H, A, k_target, off, b2b_penalty=0.36, noise=0.22, b2b_gain=0.15,
                 b2b_target=13.5):
    """Greedy date assignment.  Returns (G,) day index per game."""
    n_days = len(k_target)
    G = len(H)
    game_day = np.full(G, -1)
    rem = np.full(N_TEAMS, N_GAMES_TEAM, float)
    occ = np.zeros((N_TEAMS, n_days + 2), bool)  # padded: occ[:, d + 1] = plays on day d
    game_days = ~off & (k_target > 0)
    days_left = np.cumsum(game_days[::-1])[::-1].astype(float)
    unsched = np.ones(G, bool)
    b2b = np.zeros(N_TEAMS)
    for d in range(n_days):
        if not game_days[d]:
            continue
        idx = np.flatnonzero(unsched)
        if len(idx) == 0:
            break
        h, a = H[idx], A[idx]
        y1, y2 = occ[:, d], occ[:, d - 1] if d >= 1 else np.zeros(N_TEAMS, bool)
        u = rem / days_left[d]
        # back-to-back cost grows for teams already above their share of ~13.5 per season
        played = N_GAMES_TEAM - rem
        pen = y1 * np.maximum(0.05, b2b_penalty + b2b_gain * (b2b - b2b_target * played / 82))
        pri = u[h] + u[a] + rng.normal(0, noise, len(idx)) - pen[h] - pen[a]
        banned = y1 & y2
        pri[banned[h] | banned[a]] = -np.inf
        order = np.argsort(-pri, kind="stable")
        busy = np.zeros(N_TEAMS, bool)
        picked = 0
        k = k_target[d]
        for j in order.tolist():
            if pri[j] == -np.inf:
                break
            hh, aa = h[j], a[j]
            if busy[hh] or busy[aa]:
                continue
            busy[hh] = busy[aa] = True
            g = idx[j]
            game_day[g] = d
            unsched[g] = False
            picked += 1
            if picked == k:
                break
        occ[busy, d + 1] = True
        b2b += busy & y1
        rem -= busy
    # leftovers: cheapest feasible day (both free, no 3-in-3, fewest new b2bs, < 14 games)
    counts = np.bincount(game_day[game_day >= 0], minlength=n_days)
    pad = np.zeros((N_TEAMS, n_days + 4), bool)  # pad[:, d + 2] = plays on day d
    pad[:, 2:-2] = occ[:, 1:-1]
    gd = np.flatnonzero(game_days)
    for g in np.flatnonzero(unsched).tolist():
        cost = 1e-3 * np.abs(counts[gd] - 8) + 100.0 * (counts[gd] >= 14) \
            - 50.0 * (counts[gd] < 5) + 0.3 * (counts[gd] >= k_target[gd])
        for t in (H[g], A[g]):
            c = gd + 2
            p2, p1, n1, n2 = pad[t, c - 2], pad[t, c - 1], pad[t, c + 1], pad[t, c + 2]
            bad = pad[t, c] | (p2 & p1) | (p1 & n1) | (n1 & n2)
            cost = cost + np.where(bad, np.inf, p1.astype(float) + n1)
        j = int(np.argmin(cost))
        if not np.isfinite(cost[j]):  # cannot happen in practice
            raise SourceError(NAME, "schedule", "could not place every game")
        d = int(gd[j])
        game_day[g] = d
        counts[d] += 1
        pad[[H[g], A[g]], d + 2] = True
    # repair: fill any date below 5 games by moving games from busier dates
    for d in gd[counts[gd] < 5].tolist():
        while counts[d] < 5:
            best, best_cost = -1, np.inf
            for g in np.flatnonzero(counts[game_day] > 5).tolist():
                src = game_day[g]
                cost = 0.0
                for t in (H[g], A[g]):
                    row = pad[t].copy()
                    row[src + 2] = False
                    if row[d + 2]:
                        cost = np.inf
                        break
                    row[d + 2] = True
                    w = row[d:d + 5]
                    if (w[:3].all() or w[1:4].all() or w[2:].all()):
                        cost = np.inf
                        break
                    cost += (row[1:] & row[:-1]).sum() - (pad[t][1:] & pad[t][:-1]).sum()
                if cost < best_cost:
                    best, best_cost = g, cost
            if best < 0:
                raise SourceError(NAME, "schedule", f"could not fill day {d}")
            src = game_day[best]
            pad[[H[best], A[best]], src + 2] = False
            pad[[H[best], A[best]], d + 2] = True
            counts[src] -= 1
            counts[d] += 1
            game_day[best] = d
    return game_day


def _local_tips(rng, days, game_day, home, teams, holidays_afternoon: set[int], christmas: int):
    """Tip timestamps (UTC, datetime64[us]) from local wall-clock times of the home team."""
    G = len(game_day)
    tz = teams["tz"].to_numpy()[home]
    minute = rng.choice([19 * 60, 19 * 60 + 30, 20 * 60, 18 * 60 + 30], size=G,
                        p=[0.5, 0.36, 0.09, 0.05])
    dow = days.dayofweek.to_numpy()[game_day]
    afternoon_day = (dow >= 5) | np.isin(game_day, list(holidays_afternoon))
    aft = afternoon_day & (rng.random(G) < 0.28)
    aft_min = rng.choice([12 * 60, 13 * 60, 15 * 60, 15 * 60 + 30, 17 * 60, 18 * 60], size=G,
                         p=[0.1, 0.2, 0.25, 0.2, 0.1, 0.15])
    west = np.isin(tz, ["America/Denver", "America/Phoenix", "America/Los_Angeles"])
    minute = np.where(west & (minute > 19 * 60 + 30), 19 * 60, minute)  # no 23:00 ET tips
    minute = np.where(aft, aft_min, minute)
    # Christmas slate: Eastern-time slots, earliest for eastern home teams
    et_fixed = np.full(G, -1)
    xmas = np.flatnonzero(game_day == christmas)
    if len(xmas):
        slots = [12 * 60, 14 * 60 + 30, 17 * 60, 20 * 60, 22 * 60 + 30]
        order = xmas[np.argsort([_TZ_RANK[z] for z in tz[xmas]], kind="stable")]
        for i, g in enumerate(order):
            et_fixed[g] = slots[i] if i < len(slots) else 19 * 60 + 30
    tips = np.empty(G, dtype="datetime64[us]")
    base = days.to_numpy().astype("datetime64[us]")[game_day]
    for zone in np.unique(tz):
        m = (tz == zone) & (et_fixed < 0)
        if m.any():
            local = base[m] + minute[m].astype("timedelta64[m]")
            tips[m] = pd.DatetimeIndex(local).tz_localize(zone).tz_convert("UTC").tz_localize(None)
    m = et_fixed >= 0
    if m.any():
        local = base[m] + et_fixed[m].astype("timedelta64[m]")
        tips[m] = pd.DatetimeIndex(local).tz_localize(NY).tz_convert("UTC").tz_localize(None)
    return tips


def _ny_to_utc(naive_local: np.ndarray) -> np.ndarray:
    """America/New_York wall-clock (naive datetime64) -> naive UTC datetime64[us]."""
    return pd.DatetimeIndex(naive_local.astype("datetime64[us]")).tz_localize(NY) \
        .tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[us]")


def _sub(rng: np.random.Generator) -> np.random.Generator:
    """A child generator for a draw whose consumption depends on its parameters (poisson,
    multinomial): the parent advances by a fixed amount, so later draws never shift when a shock
    changes earlier parameters, and games before a shock stay identical."""
    return np.random.default_rng(rng.integers(2**63))


def _largest_remainder(x: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round rows of non-negative x to integers summing to `totals` (zeros stay zero)."""
    fl = np.floor(x)
    deficit = (totals - fl.sum(axis=1)).astype(int)
    frac = np.where(x > 0, x - fl, -1.0)
    order = np.argsort(-frac, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(x.shape[1])[None, :].repeat(len(x), 0), axis=1)
    return (fl + (ranks < deficit[:, None])).astype(np.int64)


BASE_RATING_YEAR = 2000
BASE_RATING_RHO = 0.65


class SimulatedSource:
    """Deterministic simulated league.  See the module docstring for the model."""

    name = NAME

    def __init__(self, seed: int = 7, shock: dict | None = None):
        self.seed = int(seed)
        self.shock = self._check_shock(shock)
        self._seasons: dict[str, _Season] = {}
        self._teams = teams_frame()
        self._players = self._make_players()
        self._cache: OrderedDict = OrderedDict()

    # ---- public API ------------------------------------------------------------------------
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

    # ---- identities --------------------------------------------------------------------------
    def _make_players(self) -> dict:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0]))
        combos = rng.choice(len(_FIRST) * len(_LAST), N_TEAMS * N_SLOTS, replace=False)
        names = np.array([f"{_FIRST[c // len(_LAST)]} {_LAST[c % len(_LAST)]}" for c in combos],
                         dtype=object).reshape(N_TEAMS, N_SLOTS)
        pos = np.array([[_POSITION_POOL[i] for i in rng.permutation(N_SLOTS)]
                        for _ in range(N_TEAMS)], dtype=object)
        quality = np.sort(rng.normal(0, 1, (N_TEAMS, N_SLOTS)), axis=1)[:, ::-1] * 1.0
        quality = quality + np.linspace(1.5, -1.5, N_SLOTS)  # slot order ~ talent order
        pid = PLAYER_ID_BASE + np.arange(N_TEAMS)[:, None] * 100 + np.arange(N_SLOTS)[None, :]
        return {"name": names, "position": pos, "quality": quality, "player_id": pid}

    def _check_shock(self, shock):
        if not shock:
            return None
        kind = shock.get("kind", "star_out_and_trade")
        if kind not in SHOCK_KINDS:
            raise SourceError(NAME, "shock", f"unknown shock kind {kind!r}")
        if kind == "league_realignment":
            frac = float(shock.get("fraction", REALIGN_FRACTION))
            if not 0 < frac <= 1:
                raise SourceError(NAME, "shock", f"bad fraction {frac!r}", field="fraction")
            return {"date": to_date(shock["date"]).isoformat(), "kind": kind,
                    **({"fraction": frac} if "fraction" in shock else {})}
        tris = set(teams_frame()["team"])
        if shock.get("team") not in tris:
            raise SourceError(NAME, "shock", f"unknown team {shock.get('team')!r}", field="team")
        if shock.get("partner") is not None and (shock["partner"] not in tris
                                                 or shock["partner"] == shock["team"]):
            raise SourceError(NAME, "shock", f"bad partner {shock['partner']!r}", field="partner")
        return {"date": to_date(shock["date"]).isoformat(), "team": shock["team"], "kind": kind,
                **({"partner": shock["partner"]} if shock.get("partner") else {})}

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
                s = self._generate(season)
                _SHARED[key] = s
                while len(_SHARED) > _SHARED_SIZE:
                    _SHARED.popitem(last=False)
            self._seasons[season] = s
        return s

    def _season_base_ratings(self, year: int) -> np.ndarray:
        """Opening net ratings, persistent across seasons like real franchises: an AR(1) from
        BASE_RATING_YEAR with year-over-year correlation BASE_RATING_RHO and sd 4.5."""
        base = np.zeros(N_TEAMS)
        for y in range(BASE_RATING_YEAR, year + 1):
            eps = np.random.default_rng([self.seed, y, 17]).normal(0, 4.5, N_TEAMS)
            base = eps if y == BASE_RATING_YEAR else (
                BASE_RATING_RHO * base + np.sqrt(1 - BASE_RATING_RHO ** 2) * eps)
        return base

    def _generate(self, label: str) -> _Season:
        year = _start_year(label)
        ss = np.random.SeedSequence([self.seed, year])
        (r_sched, r_tips, r_team, r_play, r_inj, r_game, r_box, r_mkt) = \
            [np.random.default_rng(c) for c in ss.spawn(8)]
        teams = self._teams
        start, end = season_window(label)
        days = pd.date_range(start, end, freq="D")
        n_days = len(days)
        dindex = {d.date(): i for i, d in enumerate(days)}

        # calendar: off days and fixed days
        thanksgiving = _nth_weekday(year, 11, 3, 4)
        asg = _nth_weekday(year + 1, 2, 6, 3)
        off = np.zeros(n_days, bool)
        for d in [thanksgiving, dt.date(year, 12, 24)] + \
                [asg + dt.timedelta(days=i) for i in range(-2, 3)]:
            off[dindex[d]] = True
        christmas = dindex[dt.date(year, 12, 25)]
        mlk = dindex[_nth_weekday(year + 1, 1, 0, 3)]
        fixed = {0: 5, christmas: 5}
        k_target = _day_targets(r_sched, days, off, fixed, 1230)

        H, A = _matchups(r_sched, teams)
        perm = r_sched.permutation(len(H))
        H, A = H[perm], A[perm]
        game_day = _assign_days(r_sched, H, A, k_target, off)
        tip = _local_tips(r_tips, days, game_day, H, teams,
                          {christmas, mlk, dindex[thanksgiving + dt.timedelta(days=1)]}, christmas)
        order = np.lexsort((H, tip))
        H, A, game_day, tip = H[order], A[order], game_day[order], tip[order]
        G = len(H)
        game_ids = np.array([f"002{year % 100:02d}{i + 1:05d}" for i in range(G)], dtype=object)
        s = _Season(label, year, days, game_day, H, A, tip, game_ids)

        # per-team game index
        team_games = np.zeros((N_TEAMS, N_GAMES_TEAM), int)
        k_of = np.zeros((G, 2), int)
        for t in range(N_TEAMS):
            gs = np.flatnonzero((H == t) | (A == t))
            team_games[t] = gs
            side = (A[gs] == t).astype(int)
            k_of[gs, side] = np.arange(N_GAMES_TEAM)
        D = game_day[team_games]  # (30, 82) day index per team-game

        # team ratings (net, daily random walk) and paces
        base = self._season_base_ratings(year)
        walk = np.cumsum(r_team.normal(0, 0.12, (n_days, N_TEAMS)), axis=0)
        rating = base[None, :] + walk - walk.mean(axis=1, keepdims=True)
        pace = r_team.normal(0, 2.5, N_TEAMS)

        # players: season roles
        quality = self._players["quality"] + r_play.normal(0, 0.45, (N_TEAMS, N_SLOTS))
        order_q = np.argsort(-quality, axis=1, kind="stable")
        rank = np.empty_like(order_q)
        np.put_along_axis(rank, order_q, np.arange(N_SLOTS)[None, :].repeat(N_TEAMS, 0), axis=1)
        role_min = _ROLE_MIN[rank] * np.exp(r_play.normal(0, 0.06, rank.shape))
        value = _ROLE_VALUE[rank] * np.exp(r_play.normal(0, 0.22, rank.shape))
        usage = _ROLE_USAGE[rank] * np.exp(r_play.normal(0, 0.08, rank.shape))
        play_p = _ROLE_PLAY[rank]

        # shock
        forced = np.zeros((N_TEAMS, N_GAMES_TEAM, N_SLOTS), bool)
        shock_info = None
        x = None
        if self.shock and self.shock["date"] <= end.isoformat() and \
                dt.date.fromisoformat(self.shock["date"]) >= start:
            x = dindex[dt.date.fromisoformat(self.shock["date"])]
        if shock_info is None and self.shock and self.shock["kind"] == "league_realignment" \
                and x is not None:
            # the strongest and weakest teams on the shock date (by |rating - mean|) swap sides:
            # their whole path from x on is mirrored around the league mean of that day
            frac = float(self.shock.get("fraction", REALIGN_FRACTION))
            dev = rating[x] - rating[x].mean()
            n_flip = max(1, int(round(frac * N_TEAMS)))
            flip = np.sort(np.argsort(-np.abs(dev), kind="stable")[:n_flip])
            mean_x = rating[x:].mean(axis=1, keepdims=True)
            rating[x:, flip] = 2 * mean_x - rating[x:, flip]
            shock_info = {"team": None, "star": None, "partner": None, "day": x,
                          "flipped": flip.tolist()}
        elif x is not None:
            ti = int(np.flatnonzero(teams["team"].to_numpy() == self.shock["team"])[0])
            star = int(np.argmax(value[ti]))
            forced[ti, D[ti] >= x, star] = True
            if self.shock.get("partner"):
                pi = int(np.flatnonzero(teams["team"].to_numpy() == self.shock["partner"])[0])
            else:
                conf = teams["conference"].to_numpy()
                other = np.flatnonzero(conf != conf[ti])
                pi = int(other[np.argsort(rating[x, other])[len(other) // 2]])
            rating[x:, ti] -= max(0.0, SHOCK_SWING - value[ti, star])
            rating[x:, pi] += SHOCK_SWING
            shock_info = {"team": ti, "star": star, "partner": pi, "day": x}

        # injuries: sequential over team-game index, vectorized over (team, slot)
        shp = (N_GAMES_TEAM, N_TEAMS, N_SLOTS)
        u_inj, u_gtd, u_gtdres, u_surp = (r_inj.random(shp) for _ in range(4))
        dur_draw = np.clip(np.ceil(np.exp(r_inj.normal(0.9, 1.0, shp))), 1, 30).astype(int)
        dur_draw[r_inj.random(shp) < 0.025] = 999
        body = r_inj.integers(len(_BODY), size=shp)
        kind_i = r_inj.integers(4, size=shp)
        mstat_u = r_inj.random(shp)
        u1stat_u = r_inj.random(shp)
        gtd_reason = r_inj.integers(len(_GTD_REASONS), size=shp)
        surp_reason = r_inj.integers(len(_SURPRISE_REASONS), size=shp)
        inj_partial = r_inj.uniform(0.15, 0.9, shp)

        inj_out = np.zeros(shp, bool)
        rem_after = np.zeros(shp, int)
        reason_code = np.zeros(shp, int)  # index into reason strings list built below
        in_game_injury = np.zeros(shp, bool)
        gtd = np.zeros(shp, bool)
        gtd_out = np.zeros(shp, bool)
        surprise = np.zeros(shp, bool)
        remaining = np.zeros((N_TEAMS, N_SLOTS), int)
        cur_reason = np.zeros((N_TEAMS, N_SLOTS), int)
        forced_k = np.moveaxis(forced, 1, 0)
        reasons: list[str] = []
        reason_id: dict[str, int] = {}

        def rid(text: str) -> int:
            if text not in reason_id:
                reason_id[text] = len(reasons)
                reasons.append(text)
            return reason_id[text]

        # reason table: code = reason_tab[body, severity, kind]
        reason_tab = np.array([[[rid(f"Injury/Illness - {b}; {kname}") for kname in lst]
                                for lst in (_KIND_SHORT, _KIND_MID, _KIND_LONG)] for b in _BODY])
        season_end_reason = {b: rid(f"Injury/Illness - {b}; Surgery (season-ending)")
                             for b in _BODY}
        gtd_ids = np.array([rid(r) for r in _GTD_REASONS])
        surp_ids = np.array([rid(r) for r in _SURPRISE_REASONS])
        season_end_ids = np.array([season_end_reason[b] for b in _BODY])
        shock_reason = rid("Injury/Illness - Left Knee; Torn ACL (season-ending)")
        for k in range(N_GAMES_TEAM):
            fk = forced_k[k]
            out = (remaining > 0) | fk
            inj_out[k] = out
            rem_after[k] = np.where(fk, 999, np.maximum(remaining - 1, 0))
            reason_code[k] = np.where(fk, shock_reason, cur_reason)
            healthy = ~out
            g = healthy & (u_gtd[k] < 0.012)
            gtd[k] = g
            gtd_out[k] = g & (u_gtdres[k] < 0.35)
            surprise[k] = healthy & ~g & (u_surp[k] < 0.002)
            playing = healthy & ~gtd_out[k] & ~surprise[k]
            remaining = np.where(out, np.maximum(remaining - 1, 0), remaining)
            new = playing & (u_inj[k] < 0.01)
            in_game_injury[k] = new
            d = dur_draw[k]
            sev = np.where(d <= 3, 0, np.where(d <= 10, 1, 2))
            code = reason_tab[body[k], sev, kind_i[k]]
            code = np.where(d >= 999, season_end_ids[body[k]], code)
            remaining = np.where(new, d, remaining)
            cur_reason = np.where(new, code, cur_reason)
        # -> (team, k, slot)
        T = lambda a: np.moveaxis(a, 0, 1)  # noqa: E731
        inj_out, rem_after, reason_code, in_game_injury = (T(inj_out), T(rem_after),
                                                           T(reason_code), T(in_game_injury))
        gtd, gtd_out, surprise = T(gtd), T(gtd_out), T(surprise)
        mstat_u, u1stat_u, gtd_reason, surp_reason, inj_partial = (
            T(mstat_u), T(u1stat_u), T(gtd_reason), T(surp_reason), T(inj_partial))
        gtd_rc = gtd_ids[gtd_reason]
        surp_rc = surp_ids[surp_reason]
        out_total = inj_out | gtd_out | surprise
        returning = np.zeros_like(inj_out)
        returning[:, 1:] = inj_out[:, :-1] & ~inj_out[:, 1:]

        # report statuses (morning, update 1, update 2) per team-game-player
        last = inj_out & (rem_after == 0)
        st_m = np.zeros(inj_out.shape, int)
        st_1 = np.zeros(inj_out.shape, int)
        st_2 = np.zeros(inj_out.shape, int)
        st_m[inj_out] = OUT
        st_1[inj_out] = OUT
        st_2[inj_out] = OUT
        m_doubt = last & (mstat_u < 0.65)
        st_m[m_doubt] = DOUBT
        st_1[m_doubt & (u1stat_u < 0.6)] = DOUBT
        st_m[returning] = QUES
        st_1[returning] = np.where(u1stat_u[returning] < 0.7, PROB, QUES)
        st_2[returning] = AVAIL
        st_m[gtd] = QUES
        st_1[gtd] = QUES
        st_1[gtd & gtd_out & (u1stat_u < 0.3)] = DOUBT
        st_1[gtd & ~gtd_out & (u1stat_u < 0.3)] = PROB
        st_2[gtd] = np.where(gtd_out[gtd], OUT, AVAIL)
        st_2[surprise] = OUT
        rcode = np.where(gtd, gtd_rc, np.where(surprise, surp_rc, reason_code))

        # report / snapshot times per game (UTC naive us)
        tip_local = pd.DatetimeIndex(tip).tz_localize("UTC").tz_convert(NY).tz_localize(None) \
            .to_numpy().astype("datetime64[us]")
        day0 = days.to_numpy().astype("datetime64[us]")[game_day]
        mins = lambda m: np.timedelta64(int(m), "m")  # noqa: E731
        t_u1 = np.minimum(day0 + mins(13 * 60), tip_local - mins(150))
        t_u2 = np.minimum(day0 + mins(17 * 60 + 30), tip_local - mins(60))
        t_open = np.minimum(day0 + mins(10 * 60), tip_local - mins(180))
        t_mid = np.minimum(day0 + mins(14 * 60), tip_local - mins(90))
        t_close = tip_local - mins(30)
        rep_ts = {"u1": _ny_to_utc(t_u1), "u2": _ny_to_utc(t_u2)}
        odds_ts = np.stack([_ny_to_utc(t_open), _ny_to_utc(t_mid), _ny_to_utc(t_close)], 1)
        morning_ts = _ny_to_utc(days.to_numpy().astype("datetime64[us]") + mins(8 * 60))
        roster_ts = _ny_to_utc(days.to_numpy().astype("datetime64[us]") + mins(9 * 60))

        # ---- scores
        tidx = np.stack([H, A], 1)                         # (G, 2)
        side_out = out_total[tidx, k_of]                   # (G, 2, 15)
        side_val = value[tidx]                             # (G, 2, 15)
        missing = (side_out * side_val).sum(-1)            # (G, 2)
        strength = rating[game_day[:, None], tidx] - missing
        mu = strength[:, 0] - strength[:, 1] + HOME_ADV
        M = np.rint(r_game.normal(mu, MARGIN_NOISE_SD))
        tie_u = r_game.random(G)
        M = np.where((np.abs(M) == 1) & (tie_u < 0.5), 0, M)
        total_reg = 225 + pace[H] + pace[A] + r_game.normal(0, 16.5, G)
        h_reg = np.rint((total_reg + M) / 2)
        a_reg = h_reg - M
        low = np.minimum(h_reg, a_reg)
        bump = np.maximum(0, 78 - low)
        h_reg += bump
        a_reg += bump
        ot = np.zeros(G, int)
        h_ot = np.zeros(G)
        a_ot = np.zeros(G)
        ot_draw = np.rint(r_game.normal(10.5, 3.3, (6, G, 2))).clip(2, 22)
        tied = h_reg == a_reg
        for i in range(6):
            if not tied.any():
                break
            h_ot[tied] += ot_draw[i, tied, 0]
            a_ot[tied] += ot_draw[i, tied, 1]
            ot[tied] += 1
            tied = tied & (h_ot == a_ot)
        if tied.any():  # after 6 OTs, break the tie
            h_ot[tied] += 1
        h_pts = (h_reg + h_ot).astype(np.int64)
        a_pts = (a_reg + a_ot).astype(np.int64)
        qp = r_game.dirichlet([60, 60, 60, 57], size=(G, 2))
        reg = np.stack([h_reg, a_reg], 1).astype(np.int64)
        quarters = _sub(r_game).multinomial(reg, qp)      # (G, 2, 4)
        final_off = r_game.normal(135, 8, G) + 20 * ot
        final_ts = tip + np.rint(final_off * 60).astype("timedelta64[s]").astype("timedelta64[us]")

        # ---- box scores (G, 2, 15)
        rank_s = rank[tidx]
        role_s = role_min[tidx]
        avail = ~side_out
        blow = np.clip((np.abs(h_pts - a_pts) - 14) / 20, 0, 1)[:, None, None]
        # rank among available players: injuries promote the next men up the rotation
        key = np.where(avail, rank_s, N_SLOTS + rank_s)
        arank = np.argsort(np.argsort(key, axis=-1, kind="stable"), axis=-1, kind="stable")
        plays = avail & (r_box.random(side_out.shape) < np.minimum(1, _ROLE_PLAY[arank]
                                                                   + 0.5 * blow * (arank >= 9)))
        plays |= avail & (arank < 8)  # a team dresses and plays at least eight
        m = (0.6 * role_s + 0.4 * _ROLE_MIN[arank]) * np.exp(r_box.normal(0, 0.13, side_out.shape))
        m = np.where(arank < 5, m * (1 - 0.22 * blow), m)
        m = np.where(arank >= 12, r_box.uniform(1, 8, side_out.shape) * (0.5 + blow), m)
        ig = in_game_injury[tidx, k_of]
        m = np.where(ig, m * inj_partial[tidx, k_of], m)
        m = np.where(plays, np.maximum(m, 0.5), 0.0)
        tot_min = (240 + 25 * ot)[:, None].astype(float)
        cap = (46 + 5 * ot)[:, None, None].astype(float)
        for _ in range(3):
            m = m * (tot_min / m.sum(-1))[..., None]
            m = np.minimum(m, cap)
        m = m * (tot_min / m.sum(-1))[..., None]
        tenths = _largest_remainder((m * 10).reshape(G * 2, N_SLOTS),
                                    (tot_min * 10).repeat(2, 1).reshape(-1)).reshape(G, 2, N_SLOTS)
        minutes = tenths / 10.0
        plays = tenths > 0
        # starters: the five best-ranked players who play
        srank = np.where(plays, rank_s, 99)
        starter = np.zeros_like(plays)
        first5 = np.argsort(srank, axis=-1, kind="stable")[..., :5]
        np.put_along_axis(starter, first5, True, axis=-1)
        starter &= plays
        # team totals
        pts_t = np.stack([h_pts, a_pts], 1)
        poss = pts_t.sum(1, keepdims=True) / 2 / 1.13 + r_box.normal(0, 1.0, (G, 2))
        oreb_t = _sub(r_box).poisson(0.105 * poss)
        tov_t = _sub(r_box).poisson(0.13 * poss)
        fta_t = _sub(r_box).poisson(0.215 * poss * np.clip(pts_t / poss / 1.13, 0.7, 1.4))
        fga_t = np.maximum(np.rint(poss + oreb_t - tov_t - 0.44 * fta_t
                                   + r_box.normal(0, 1.5, (G, 2))), 55).astype(np.int64)
        use = usage[tidx]
        posw = np.vectorize(_OREB_W.get, otypes=[float])(self._players["position"])[tidx]

        def split(n, w, cap):
            """Multinomial split of team totals n (G, 2) by weights w, no share above cap."""
            w = np.where(plays, w, 0.0).reshape(G * 2, N_SLOTS)
            w = w / w.sum(-1, keepdims=True)
            for _ in range(6):  # water-filling: capped shares fixed, the rest rescaled
                over = w >= cap
                free = np.where(over, 0.0, w)
                left = np.maximum(1 - cap * over.sum(-1, keepdims=True), 0)
                w = np.where(over, cap, free * left / np.maximum(free.sum(-1, keepdims=True),
                                                                 1e-12))
            w = w / w.sum(-1, keepdims=True)
            return _sub(r_box).multinomial(np.asarray(n).reshape(-1), w).reshape(G, 2, N_SLOTS)

        gam = lambda a: r_box.gamma(a, 1 / a, side_out.shape)  # noqa: E731
        fta = split(fta_t, minutes * use ** 1.5 * gam(3), 0.45)
        fga = split(fga_t, minutes * use * gam(6), 0.32)
        pts = split(pts_t, (1.1 * fga + 0.78 * fta + 1e-9) * gam(10), 0.37)
        # a player cannot score more than 3 * fga + fta: move any excess to teammates with room
        for _ in range(4):
            room = 3 * fga + fta - pts
            excess = np.maximum(-room, 0)
            if not excess.any():
                break
            pts = pts - excess
            room = np.maximum(3 * fga + fta - pts, 0)
            best = np.argmax(room, axis=-1)[..., None]
            np.put_along_axis(pts, best, np.take_along_axis(pts, best, -1)
                              + excess.sum(-1, keepdims=True), axis=-1)
        oreb = split(oreb_t, minutes * posw * gam(3), 0.5)
        tov = split(tov_t, minutes * use * gam(3), 0.45)

        # ---- market
        bias = r_mkt.normal(0, 0.6, (len(BOOKS), N_TEAMS))
        e_open = r_mkt.normal(0, 1.7, G)
        e_mid = 0.75 * e_open + r_mkt.normal(0, 0.6, G)
        e_close = 0.6 * e_open + r_mkt.normal(0, 0.6, G)
        eps = np.stack([e_open, e_mid, e_close], 1)      # (G, 3)
        book_eps = r_mkt.normal(0, 0.35, (len(BOOKS), G, 3))
        tot_eps = r_mkt.normal(0, 2.5, (G, 3)) * np.array([1.0, 0.85, 0.75])
        book_tot_eps = r_mkt.normal(0, 0.8, (len(BOOKS), G, 3))
        pst = _P_OUT_GIVEN_STATUS
        vals_side = value[tidx]
        exp_miss = np.stack([
            (pst[st_m[tidx, k_of]] * vals_side).sum(-1),
            (pst[st_1[tidx, k_of]] * vals_side).sum(-1),
            (pst[st_2[tidx, k_of]] * vals_side).sum(-1),
        ], -1)                                             # (G, 2, 3)
        r_g = rating[game_day[:, None], tidx]              # (G, 2)
        exp_total = 225 + pace[H] + pace[A]

        odds_rows = []
        for b, book in enumerate(BOOKS):
            mu_b = (r_g[:, 0:1] + bias[b, H][:, None] - exp_miss[:, 0]) \
                - (r_g[:, 1:2] + bias[b, A][:, None] - exp_miss[:, 1]) + HOME_ADV + eps \
                + book_eps[b]                              # (G, 3) expected home margin
            spread = -np.round(mu_b * 2) / 2
            spread = np.where(spread == 0, 0.0, spread)
            total = np.round((exp_total[:, None] + tot_eps + book_tot_eps[b]) * 2) / 2
            p = np.clip(ndtr(mu_b / MARKET_MARGIN_SD), 0.005, 0.995)
            qh, qa = _vig(p, BOOK_OVERROUND[b])
            odds_rows.append((book, _american(qh), _american(qa), spread, total))

        s.arrays.update(dict(
            team_games=team_games, k_of=k_of, D=D, rating=rating, pace=pace, rank=rank,
            role_min=role_min, value=value, usage=usage, play_p=play_p,
            inj_out=inj_out, in_game_injury=in_game_injury, out_total=out_total,
            returning=returning, gtd=gtd, surprise=surprise,
            st_m=st_m, st_1=st_1, st_2=st_2, rcode=rcode, reasons=np.array(reasons, dtype=object),
            rep_ts=rep_ts, morning_ts=morning_ts, roster_ts=roster_ts, odds_ts=odds_ts,
            h_pts=h_pts, a_pts=a_pts, quarters=quarters, ot=ot, h_ot=h_ot, a_ot=a_ot,
            final_ts=final_ts, minutes=minutes, starter=starter, pts=pts, fga=fga, fta=fta,
            oreb=oreb, tov=tov, odds=odds_rows, mu_true=mu, shock=shock_info, forced=forced,
        ))
        return s

    # ---- tables ------------------------------------------------------------------------------
    def _table(self, s: _Season, kind: str) -> pd.DataFrame:
        t = s.tables.get(kind)
        if t is None:
            raw = getattr(self, f"_build_{kind}")(s)
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

    def _dates(self, s: _Season, day_idx: np.ndarray) -> np.ndarray:
        return np.asarray(s.days.strftime("%Y-%m-%d"), dtype=object)[day_idx]

    def _teamcols(self):
        return self._teams["team_id"].to_numpy(), self._teams["team"].to_numpy().astype(object)

    @staticmethod
    def _ts(a: np.ndarray) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(np.asarray(a).astype("datetime64[us]")).tz_localize("UTC")

    def _build_schedule(self, s: _Season) -> pd.DataFrame:
        tid, tri = self._teamcols()
        release = pd.Timestamp(dt.datetime(s.year, 8, 15, 12, 0), tz=NY).tz_convert("UTC")
        return pd.DataFrame({
            "game_id": s.game_ids, "season": s.label, "game_date": self._dates(s, s.game_day),
            "tip_ts": self._ts(s.tip), "home_team_id": tid[s.home], "away_team_id": tid[s.away],
            "home_team": tri[s.home], "away_team": tri[s.away], "game_type": "regular",
            "snapshot_ts": release,
        })

    def _build_results(self, s: _Season) -> pd.DataFrame:
        ar = s.arrays
        tid, _ = self._teamcols()
        q = ar["quarters"]
        df = pd.DataFrame({
            "game_id": s.game_ids, "season": s.label, "game_date": self._dates(s, s.game_day),
            "home_team_id": tid[s.home], "away_team_id": tid[s.away],
            "home_pts": ar["h_pts"], "away_pts": ar["a_pts"],
            **{f"home_q{i + 1}": q[:, 0, i] for i in range(4)},
            "home_ot": ar["h_ot"].astype(np.int64),
            **{f"away_q{i + 1}": q[:, 1, i] for i in range(4)},
            "away_ot": ar["a_ot"].astype(np.int64),
            "overtime_periods": ar["ot"], "final_ts": self._ts(ar["final_ts"]),
            "snapshot_ts": self._ts(ar["final_ts"]),
        })
        return df.iloc[np.lexsort((np.arange(len(df)), ar["final_ts"], s.game_day))]

    def _build_box_scores(self, s: _Season) -> pd.DataFrame:
        ar = s.arrays
        tid, _ = self._teamcols()
        minutes = ar["minutes"]
        g_i, side_i, slot_i = np.nonzero(minutes > 0)
        team_i = np.stack([s.home, s.away], 1)[g_i, side_i]
        pid = self._players["player_id"][team_i, slot_i]
        fts = ar["final_ts"][g_i]
        # order: date, final time, game, home side first, starters first, minutes desc
        order = np.lexsort((pid, -minutes[g_i, side_i, slot_i], ~ar["starter"][g_i, side_i, slot_i],
                            side_i, g_i, fts, s.game_day[g_i]))
        g_i, side_i, slot_i, team_i, pid, fts = (a[order] for a in (g_i, side_i, slot_i, team_i,
                                                                     pid, fts))
        sel = (g_i, side_i, slot_i)
        return pd.DataFrame({
            "game_id": s.game_ids[g_i], "game_date": self._dates(s, s.game_day[g_i]),
            "team_id": tid[team_i], "player_id": pid.astype(np.int64),
            "player_name": self._players["name"][team_i, slot_i],
            "minutes": minutes[sel], "pts": ar["pts"][sel], "fga": ar["fga"][sel],
            "fta": ar["fta"][sel], "oreb": ar["oreb"][sel], "tov": ar["tov"][sel],
            "starter": ar["starter"][sel], "snapshot_ts": self._ts(fts),
        })

    def _build_odds(self, s: _Season) -> pd.DataFrame:
        ar = s.arrays
        G = len(s.game_ids)
        frames = []
        for b, (book, hml, aml, spread, total) in enumerate(ar["odds"]):
            frames.append(pd.DataFrame({
                "game_id": np.repeat(s.game_ids, 3), "bookmaker": book,
                "home_ml": hml.ravel(), "away_ml": aml.ravel(), "home_spread": spread.ravel(),
                "total": total.ravel(), "snapshot_ts": self._ts(ar["odds_ts"].ravel()),
                "_day": np.repeat(s.game_day, 3), "_b": b, "_g": np.repeat(np.arange(G), 3),
            }))
        df = pd.concat(frames, ignore_index=True)
        order = np.lexsort((df["_b"].to_numpy(), df["_g"].to_numpy(),
                            df["snapshot_ts"].to_numpy(), df["_day"].to_numpy()))
        df = df.iloc[order].reset_index(drop=True)
        s.arrays["odds_game_date"] = self._dates(s, df["_day"].to_numpy())
        df["game_date"] = s.arrays["odds_game_date"]
        return df

    def _build_rosters(self, s: _Season) -> pd.DataFrame:
        tid, tri = self._teamcols()
        n_days = len(s.days)
        per = N_TEAMS * N_SLOTS
        team_i = np.tile(np.repeat(np.arange(N_TEAMS), N_SLOTS), n_days)
        slot_i = np.tile(np.tile(np.arange(N_SLOTS), N_TEAMS), n_days)
        day_i = np.repeat(np.arange(n_days), per)
        s.arrays["roster_day_key"] = self._dates(s, day_i)
        return pd.DataFrame({
            "team_id": tid[team_i], "team": tri[team_i],
            "player_id": self._players["player_id"][team_i, slot_i].astype(np.int64),
            "player_name": self._players["name"][team_i, slot_i],
            "position": self._players["position"][team_i, slot_i],
            "snapshot_ts": self._ts(s.arrays["roster_ts"][day_i]),
        })

    def _build_injuries(self, s: _Season) -> pd.DataFrame:
        ar = s.arrays
        D = ar["D"]                                         # (30, 82)
        st_m, st_1, st_2 = ar["st_m"], ar["st_1"], ar["st_2"]
        n_days = len(s.days)
        # morning reports: every date in (previous game day, game day] for injury-based rows;
        # game-time decisions only on the game day.
        prev = np.concatenate([np.full((N_TEAMS, 1), -1), D[:, :-1]], axis=1)
        t_i, k_i, p_i = np.nonzero(st_m > 0)
        gtd_only = ar["gtd"][t_i, k_i, p_i] & ~ar["inj_out"][t_i, k_i, p_i] \
            & ~ar["returning"][t_i, k_i, p_i]
        first = np.where(gtd_only, D[t_i, k_i], prev[t_i, k_i] + 1)
        first = np.maximum(first, 0)
        if ar["shock"] is not None:  # the shock is news from its date on, not before
            first = np.where(ar["forced"][t_i, k_i, p_i], np.maximum(first, ar["shock"]["day"]),
                             first)
        cnt = D[t_i, k_i] - first + 1
        rep = np.repeat(np.arange(len(t_i)), cnt)
        offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        m_day = first[rep] + offs
        parts = [dict(t=t_i[rep], k=k_i[rep], p=p_i[rep], day=m_day,
                      st=st_m[t_i, k_i, p_i][rep], ts=ar["morning_ts"][m_day])]
        # game-day updates
        team_games = ar["team_games"]
        for st, key in ((st_1, "u1"), (st_2, "u2")):
            t_i, k_i, p_i = np.nonzero(st > 0)
            g = team_games[t_i, k_i]
            parts.append(dict(t=t_i, k=k_i, p=p_i, day=D[t_i, k_i], st=st[t_i, k_i, p_i],
                              ts=ar["rep_ts"][key][g]))
        cat = {c: np.concatenate([pp[c] for pp in parts]) for c in parts[0]}
        assert (cat["day"] >= 0).all() and (cat["day"] < n_days).all()
        tid, tri = self._teamcols()
        t, k, p = cat["t"], cat["k"], cat["p"]
        pid = self._players["player_id"][t, p].astype(np.int64)
        order = np.lexsort((pid, t, cat["ts"], cat["day"]))
        t, k, p, pid = t[order], k[order], p[order], pid[order]
        day, st, ts = cat["day"][order], cat["st"][order], cat["ts"][order]
        return pd.DataFrame({
            "game_date": self._dates(s, day), "team_id": tid[t], "team": tri[t],
            "player_id": pid, "player_name": self._players["name"][t, p],
            "status": _STATUS[st], "reason": ar["reasons"][ar["rcode"][t, k, p]],
            "snapshot_ts": self._ts(ts),
        })


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


def _vig(p: np.ndarray, overround: float) -> tuple[np.ndarray, np.ndarray]:
    """Power-method margin: q_i = p_i ** lam with q_h + q_a = 1 + overround."""
    lam = np.full_like(p, 0.95)
    lp, lq = np.log(p), np.log1p(-p)
    for _ in range(30):
        a, b = np.exp(lam * lp), np.exp(lam * lq)
        f = a + b - (1 + overround)
        lam = lam - f / (a * lp + b * lq)
    return np.exp(lam * lp), np.exp(lam * lq)


def _american(q: np.ndarray) -> np.ndarray:
    ml = np.where(q >= 0.5, -100 * q / (1 - q), 100 * (1 - q) / q)
    big = np.abs(ml) >= 200
    ml = np.where(big, np.round(ml / 5) * 5, np.round(ml))
    return np.where(np.abs(ml) < 100, np.where(ml < 0, -100.0, 100.0), ml).astype(float)


# Implied probability (with vig) of a moneyline: the league's prices go through the same function
# as every consumer's (re-exported for callers of this module).
american_to_prob = betting.american_to_prob
