"""The schedule: the NBA matchup formula, game dates, tip times, and when each day's reports,
odds and rosters are published.

Calendar: 3rd Tuesday of October to the first Sunday on/after April 9; no games on Thanksgiving,
Christmas Eve and the All-Star break (Fri..Tue around the 3rd Sunday of February).  4 games vs
division rivals, 4 vs six and 3 vs four conference teams, 2 vs the other conference -> 1230 games,
82 per team, 41 home / 41 away; dates assigned greedily (5..14 games per date, weekday pattern, no
team twice a day, no 3 games in 3 nights, ~12-15 back-to-backs per team).  Tip times follow the
home team's time zone (19:00/19:30 local on weekdays, some weekend/holiday afternoon games,
Christmas slate), stored UTC.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from resources.sources.base import SourceError
from resources.sources.simulated.league import (_TZ_RANK, N_GAMES_TEAM, N_TEAMS, NAME, NY,
                                                _DIVISIONS, _nth_weekday, _start_year,
                                                season_window)


def season_schedule(label: str, r_sched: np.random.Generator, r_tips: np.random.Generator,
                    teams: pd.DataFrame):
    """(days, game_day, home, away, tip, game_ids) of a season: every calendar date, then per game
    (in tip order) its day index, team indices, UTC tip and NBA-style game id."""
    year = _start_year(label)
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
    return days, game_day, H, A, tip, game_ids


def publication_times(days: pd.DatetimeIndex, game_day: np.ndarray, tip: np.ndarray) -> dict:
    """When reports, odds and rosters are published (UTC naive us): injury report updates and the
    three odds snapshots per game, the morning report and the roster snapshot per date."""
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
    return dict(rep_ts=rep_ts, morning_ts=morning_ts, roster_ts=roster_ts, odds_ts=odds_ts)


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
    game_days = ~off & (k_target > 0)
    game_day, occ, unsched = _greedy_days(rng, H, A, k_target, game_days, b2b_penalty, noise,
                                          b2b_gain, b2b_target)
    counts = np.bincount(game_day[game_day >= 0], minlength=n_days)
    pad = np.zeros((N_TEAMS, n_days + 4), bool)  # pad[:, d + 2] = plays on day d
    pad[:, 2:-2] = occ[:, 1:-1]
    gd = np.flatnonzero(game_days)
    _place_leftovers(H, A, k_target, np.flatnonzero(unsched), gd, game_day, counts, pad)
    _fill_thin_days(H, A, gd, game_day, counts, pad)
    return game_day


def _greedy_days(rng, H, A, k_target, game_days, b2b_penalty, noise, b2b_gain, b2b_target):
    """Day by day, the most urgent games whose teams are free, up to the day's target.  Returns
    game_day (-1 for games left over), occ (padded: occ[:, d + 1] = plays on day d) and the
    unscheduled mask."""
    n_days = len(k_target)
    G = len(H)
    game_day = np.full(G, -1)
    rem = np.full(N_TEAMS, N_GAMES_TEAM, float)
    occ = np.zeros((N_TEAMS, n_days + 2), bool)
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
    return game_day, occ, unsched


def _place_leftovers(H, A, k_target, left, gd, game_day, counts, pad):
    """Each game `left` over goes to its cheapest feasible day (both free, no 3-in-3, fewest new
    b2bs, < 14 games); updates game_day, counts and pad in place."""
    for g in left.tolist():
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


def _fill_thin_days(H, A, gd, game_day, counts, pad):
    """Fill any date below 5 games by moving games from busier dates (in place)."""
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
