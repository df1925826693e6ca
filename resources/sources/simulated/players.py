"""Players: identities (ids, names, positions, talent) and each season's roles.

15 players per team, ids ``9_000_000 + team_index * 100 + slot`` (team_index = position of the
franchise in id order), with a minutes role (starters ~30-36, bench 10-25, deep bench 0-8), a value
(points of team strength lost when he is out; stars ~3-6) and a usage.  Identities derive from
``SeedSequence([seed, 0])``, so they are the same in every season.
"""
from __future__ import annotations

import numpy as np

from resources.sources.simulated.league import N_TEAMS

N_SLOTS = 15
PLAYER_ID_BASE = 9_000_000

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


def make_players(seed: int) -> dict:
    """(team, slot) arrays: name, position, quality (talent, best slots first), player_id."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    combos = rng.choice(len(_FIRST) * len(_LAST), N_TEAMS * N_SLOTS, replace=False)
    names = np.array([f"{_FIRST[c // len(_LAST)]} {_LAST[c % len(_LAST)]}" for c in combos],
                     dtype=object).reshape(N_TEAMS, N_SLOTS)
    pos = np.array([[_POSITION_POOL[i] for i in rng.permutation(N_SLOTS)]
                    for _ in range(N_TEAMS)], dtype=object)
    quality = np.sort(rng.normal(0, 1, (N_TEAMS, N_SLOTS)), axis=1)[:, ::-1] * 1.0
    quality = quality + np.linspace(1.5, -1.5, N_SLOTS)  # slot order ~ talent order
    pid = PLAYER_ID_BASE + np.arange(N_TEAMS)[:, None] * 100 + np.arange(N_SLOTS)[None, :]
    return {"name": names, "position": pos, "quality": quality, "player_id": pid}


def season_roles(quality: np.ndarray, r_play: np.random.Generator) -> dict:
    """(team, slot) arrays of a season: in-team rank (0 = best), role minutes, value, usage and
    the probability of playing when available."""
    quality = quality + r_play.normal(0, 0.45, (N_TEAMS, N_SLOTS))
    order_q = np.argsort(-quality, axis=1, kind="stable")
    rank = np.empty_like(order_q)
    np.put_along_axis(rank, order_q, np.arange(N_SLOTS)[None, :].repeat(N_TEAMS, 0), axis=1)
    role_min = _ROLE_MIN[rank] * np.exp(r_play.normal(0, 0.06, rank.shape))
    value = _ROLE_VALUE[rank] * np.exp(r_play.normal(0, 0.22, rank.shape))
    usage = _ROLE_USAGE[rank] * np.exp(r_play.normal(0, 0.08, rank.shape))
    play_p = _ROLE_PLAY[rank]
    return dict(rank=rank, role_min=role_min, value=value, usage=usage, play_p=play_p)
