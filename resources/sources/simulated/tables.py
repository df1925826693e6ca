"""The normalized tables of a generated season, one builder per kind (before conforming).

Rows come sorted by game date and snapshot time, so what is knowable at an instant is a prefix
of a date's rows.  Rosters: every team's 15 players, one snapshot per season date at 09:00
local.  Schedule: every game of the season stamped with the release time, Aug 15 12:00 local.
Box scores: only players with minutes > 0.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tipoff_core.schemas import games_left

from resources.sources.simulated.injuries import _STATUS
from resources.sources.simulated.league import N_TEAMS, NY
from resources.sources.simulated.players import N_SLOTS
from resources.sources.simulated.season import _Season


def build_table(kind: str, s: _Season, teams: pd.DataFrame, players: dict) -> pd.DataFrame:
    """Every row of `kind` in season `s` (teams from `teams_frame`, players from `make_players`)."""
    return _BUILDERS[kind](s, teams, players)


def _dates(s: _Season, day_idx: np.ndarray) -> np.ndarray:
    return np.asarray(s.days.strftime("%Y-%m-%d"), dtype=object)[day_idx]


def _teamcols(teams: pd.DataFrame):
    return teams["team_id"].to_numpy(), teams["team"].to_numpy().astype(object)


def _ts(a: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(a).astype("datetime64[us]")).tz_localize("UTC")


def _schedule(s: _Season, teams: pd.DataFrame, players: dict) -> pd.DataFrame:
    tid, tri = _teamcols(teams)
    release = pd.Timestamp(dt.datetime(s.year, 8, 15, 12, 0), tz=NY).tz_convert("UTC")
    out = pd.DataFrame({
        "game_id": s.game_ids, "season": s.label, "game_date": _dates(s, s.game_day),
        "tip_ts": _ts(s.tip), "home_team_id": tid[s.home], "away_team_id": tid[s.away],
        "home_team": tri[s.home], "away_team": tri[s.away], "game_type": "regular",
        "neutral_site": False,
    })
    return out.assign(**games_left(out, "game_date", "season", "home_team_id", "away_team_id",
                                   "game_type"), snapshot_ts=release)


def _results(s: _Season, teams: pd.DataFrame, players: dict) -> pd.DataFrame:
    ar = s.arrays
    tid, _ = _teamcols(teams)
    q = ar["quarters"]
    df = pd.DataFrame({
        "game_id": s.game_ids, "season": s.label, "game_date": _dates(s, s.game_day),
        "home_team_id": tid[s.home], "away_team_id": tid[s.away],
        "home_pts": ar["h_pts"], "away_pts": ar["a_pts"],
        **{f"home_q{i + 1}": q[:, 0, i] for i in range(4)},
        "home_ot": ar["h_ot"].astype(np.int64),
        **{f"away_q{i + 1}": q[:, 1, i] for i in range(4)},
        "away_ot": ar["a_ot"].astype(np.int64),
        "overtime_periods": ar["ot"], "final_ts": _ts(ar["final_ts"]),
        "snapshot_ts": _ts(ar["final_ts"]),
    })
    return df.iloc[np.lexsort((np.arange(len(df)), ar["final_ts"], s.game_day))]


def _box_scores(s: _Season, teams: pd.DataFrame, players: dict) -> pd.DataFrame:
    ar = s.arrays
    tid, _ = _teamcols(teams)
    minutes = ar["minutes"]
    g_i, side_i, slot_i = np.nonzero(minutes > 0)
    team_i = np.stack([s.home, s.away], 1)[g_i, side_i]
    pid = players["player_id"][team_i, slot_i]
    fts = ar["final_ts"][g_i]
    # order: date, final time, game, home side first, starters first, minutes desc
    order = np.lexsort((pid, -minutes[g_i, side_i, slot_i], ~ar["starter"][g_i, side_i, slot_i],
                        side_i, g_i, fts, s.game_day[g_i]))
    g_i, side_i, slot_i, team_i, pid, fts = (a[order] for a in (g_i, side_i, slot_i, team_i,
                                                                 pid, fts))
    sel = (g_i, side_i, slot_i)
    return pd.DataFrame({
        "game_id": s.game_ids[g_i], "game_date": _dates(s, s.game_day[g_i]),
        "team_id": tid[team_i], "player_id": pid.astype(np.int64),
        "player_name": players["name"][team_i, slot_i],
        "minutes": minutes[sel], "pts": ar["pts"][sel], "fga": ar["fga"][sel],
        "fta": ar["fta"][sel], "oreb": ar["oreb"][sel], "tov": ar["tov"][sel],
        **{c: ar[c][sel] for c in ("plus_minus", "fgm", "fg3m", "ftm", "dreb", "ast", "stl",
                                   "blk", "pf")},
        "starter": ar["starter"][sel], "snapshot_ts": _ts(fts),
    })


def _odds(s: _Season, teams: pd.DataFrame, players: dict) -> pd.DataFrame:
    ar = s.arrays
    G = len(s.game_ids)
    frames = []
    for b, (book, hml, aml, spread, total, hsp, asp, over, under) in enumerate(ar["odds"]):
        frames.append(pd.DataFrame({
            "game_id": np.repeat(s.game_ids, 3), "bookmaker": book,
            "home_ml": hml.ravel(), "away_ml": aml.ravel(), "home_spread": spread.ravel(),
            "total": total.ravel(), "home_spread_price": hsp.ravel(),
            "away_spread_price": asp.ravel(), "over_price": over.ravel(),
            "under_price": under.ravel(), "snapshot_ts": _ts(ar["odds_ts"].ravel()),
            "_day": np.repeat(s.game_day, 3), "_b": b, "_g": np.repeat(np.arange(G), 3),
        }))
    df = pd.concat(frames, ignore_index=True)
    order = np.lexsort((df["_b"].to_numpy(), df["_g"].to_numpy(),
                        df["snapshot_ts"].to_numpy(), df["_day"].to_numpy()))
    df = df.iloc[order].reset_index(drop=True)
    s.arrays["odds_game_date"] = _dates(s, df["_day"].to_numpy())
    df["game_date"] = s.arrays["odds_game_date"]
    return df


def _rosters(s: _Season, teams: pd.DataFrame, players: dict) -> pd.DataFrame:
    tid, tri = _teamcols(teams)
    n_days = len(s.days)
    per = N_TEAMS * N_SLOTS
    team_i = np.tile(np.repeat(np.arange(N_TEAMS), N_SLOTS), n_days)
    slot_i = np.tile(np.tile(np.arange(N_SLOTS), N_TEAMS), n_days)
    day_i = np.repeat(np.arange(n_days), per)
    s.arrays["roster_day_key"] = _dates(s, day_i)
    return pd.DataFrame({
        "team_id": tid[team_i], "team": tri[team_i],
        "player_id": players["player_id"][team_i, slot_i].astype(np.int64),
        "player_name": players["name"][team_i, slot_i],
        "position": players["position"][team_i, slot_i],
        "snapshot_ts": _ts(s.arrays["roster_ts"][day_i]),
    })


def _injuries(s: _Season, teams: pd.DataFrame, players: dict) -> pd.DataFrame:
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
    tid, tri = _teamcols(teams)
    t, k, p = cat["t"], cat["k"], cat["p"]
    pid = players["player_id"][t, p].astype(np.int64)
    order = np.lexsort((pid, t, cat["ts"], cat["day"]))
    t, k, p, pid = t[order], k[order], p[order], pid[order]
    day, st, ts = cat["day"][order], cat["st"][order], cat["ts"][order]
    return pd.DataFrame({
        "game_date": _dates(s, day), "team_id": tid[t], "team": tri[t],
        "player_id": pid, "player_name": players["name"][t, p],
        "status": _STATUS[st], "reason": ar["reasons"][ar["rcode"][t, k, p]],
        "snapshot_ts": _ts(ts),
    })


_BUILDERS = {"schedule": _schedule, "results": _results, "box_scores": _box_scores,
             "odds": _odds, "rosters": _rosters, "injuries": _injuries}
