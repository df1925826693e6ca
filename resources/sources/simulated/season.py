"""A season of the league, generated step by step: schedule, team ratings, player roles, the
shock, injuries and reports, games and box scores, the market.

Teams have a latent net rating (sd 4.5, persistent across seasons) that random-walks through the
season, and a pace rating.

Each step draws from its own child of ``SeedSequence([seed, YYYY])`` (the opening ratings from
``default_rng([seed, y, 17])`` per year since BASE_RATING_YEAR), so a season is identical across
processes and call orders, and one step's draws never shift another's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resources.sources.simulated.games import box_scores, play_games
from resources.sources.simulated.injuries import simulate_injuries
from resources.sources.simulated.league import N_GAMES_TEAM, N_TEAMS, _start_year, season_window
from resources.sources.simulated.odds import market_lines
from resources.sources.simulated.players import season_roles
from resources.sources.simulated.schedule import publication_times, season_schedule
from resources.sources.simulated.shock import apply_shock

BASE_RATING_YEAR = 2000
BASE_RATING_RHO = 0.65


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


def generate_season(seed: int, shock: dict | None, label: str, teams: pd.DataFrame,
                    players: dict) -> _Season:
    """Season `label` of the league with this seed and (checked) shock."""
    year = _start_year(label)
    ss = np.random.SeedSequence([seed, year])
    (r_sched, r_tips, r_team, r_play, r_inj, r_game, r_box, r_mkt) = \
        [np.random.default_rng(c) for c in ss.spawn(8)]
    s = _Season(label, year, *season_schedule(label, r_sched, r_tips, teams))
    team_games, k_of, D = _team_game_index(s.home, s.away, s.game_day)
    rating, pace = _team_ratings(r_team, base_ratings(seed, year), len(s.days))
    roles = season_roles(players["quality"], r_play)
    forced, shock_info = apply_shock(shock, rating, roles["value"], D, teams,
                                     *season_window(label))
    report, inj_partial = simulate_injuries(r_inj, forced)
    tidx = np.stack([s.home, s.away], 1)               # (G, 2)
    side_out = report["out_total"][tidx, k_of]         # (G, 2, 15)
    games, mu = play_games(r_game, tidx, s.game_day, s.tip, rating, pace, roles["value"],
                           side_out)
    box = box_scores(r_box, tidx, games, roles, players["position"], side_out,
                     report["in_game_injury"][tidx, k_of], inj_partial[tidx, k_of])
    odds = market_lines(r_mkt, tidx, s.game_day, rating, pace, roles["value"],
                        (report["st_m"], report["st_1"], report["st_2"]), k_of)
    s.arrays.update(dict(
        team_games=team_games, k_of=k_of, D=D, rating=rating, pace=pace, **roles, **report,
        **publication_times(s.days, s.game_day, s.tip), **games, **box, odds=odds, mu_true=mu,
        shock=shock_info, forced=forced,
    ))
    return s


def base_ratings(seed: int, year: int) -> np.ndarray:
    """Opening net ratings, persistent across seasons like real franchises: an AR(1) from
    BASE_RATING_YEAR with year-over-year correlation BASE_RATING_RHO and sd 4.5."""
    base = np.zeros(N_TEAMS)
    for y in range(BASE_RATING_YEAR, year + 1):
        eps = np.random.default_rng([seed, y, 17]).normal(0, 4.5, N_TEAMS)
        base = eps if y == BASE_RATING_YEAR else (
            BASE_RATING_RHO * base + np.sqrt(1 - BASE_RATING_RHO ** 2) * eps)
    return base


def _team_game_index(H: np.ndarray, A: np.ndarray, game_day: np.ndarray):
    """team_games (30, 82): game index of each team-game; k_of (G, 2): team-game index of each
    game's home and away side; D (30, 82): day index of each team-game."""
    G = len(H)
    team_games = np.zeros((N_TEAMS, N_GAMES_TEAM), int)
    k_of = np.zeros((G, 2), int)
    for t in range(N_TEAMS):
        gs = np.flatnonzero((H == t) | (A == t))
        team_games[t] = gs
        side = (A[gs] == t).astype(int)
        k_of[gs, side] = np.arange(N_GAMES_TEAM)
    D = game_day[team_games]  # (30, 82) day index per team-game
    return team_games, k_of, D


def _team_ratings(r_team: np.random.Generator, base: np.ndarray, n_days: int):
    """Daily net ratings (days, 30): a random walk around the opening ratings, centred on the
    league mean each day; and each team's pace."""
    walk = np.cumsum(r_team.normal(0, 0.12, (n_days, N_TEAMS)), axis=0)
    rating = base[None, :] + walk - walk.mean(axis=1, keepdims=True)
    pace = r_team.normal(0, 2.5, N_TEAMS)
    return rating, pace
