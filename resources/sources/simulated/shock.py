"""Shocks (drift tests): validating a shock and applying it to a season's truth.

See the package docstring for the two kinds (``star_out_and_trade``, ``league_realignment``).
Every random draw is made as without the shock, so the league is identical before its date.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from tipoff_core.timeutil import to_date
from resources.sources.base import SourceError
from resources.sources.simulated.league import N_GAMES_TEAM, N_TEAMS, NAME, teams_frame
from resources.sources.simulated.players import N_SLOTS

SHOCK_SWING = 6.0
REALIGN_FRACTION = 2 / 3
SHOCK_KINDS = ("star_out_and_trade", "league_realignment")


def check_shock(shock: dict | None) -> dict | None:
    """The shock normalized (ISO date, defaults left out), or None; SourceError when invalid."""
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


def apply_shock(shock: dict | None, rating: np.ndarray, value: np.ndarray, D: np.ndarray,
                teams: pd.DataFrame, start: dt.date,
                end: dt.date) -> tuple[np.ndarray, dict | None]:
    """Apply a checked shock to a season running `start`..`end`: `rating` (day, team) is changed in
    place; returns forced absences (team, team-game, slot) and what was done (None when the shock
    is not in this season)."""
    forced = np.zeros((N_TEAMS, N_GAMES_TEAM, N_SLOTS), bool)
    if not shock:
        return forced, None
    day = dt.date.fromisoformat(shock["date"])
    if not start <= day <= end:
        return forced, None
    x = (day - start).days
    if shock["kind"] == "league_realignment":
        # the strongest and weakest teams on the shock date (by |rating - mean|) swap sides:
        # their whole path from x on is mirrored around the league mean of that day
        frac = float(shock.get("fraction", REALIGN_FRACTION))
        dev = rating[x] - rating[x].mean()
        n_flip = max(1, int(round(frac * N_TEAMS)))
        flip = np.sort(np.argsort(-np.abs(dev), kind="stable")[:n_flip])
        mean_x = rating[x:].mean(axis=1, keepdims=True)
        rating[x:, flip] = 2 * mean_x - rating[x:, flip]
        shock_info = {"team": None, "star": None, "partner": None, "day": x,
                      "flipped": flip.tolist()}
    else:
        ti = int(np.flatnonzero(teams["team"].to_numpy() == shock["team"])[0])
        star = int(np.argmax(value[ti]))
        forced[ti, D[ti] >= x, star] = True
        if shock.get("partner"):
            pi = int(np.flatnonzero(teams["team"].to_numpy() == shock["partner"])[0])
        else:
            conf = teams["conference"].to_numpy()
            other = np.flatnonzero(conf != conf[ti])
            pi = int(other[np.argsort(rating[x, other])[len(other) // 2]])
        rating[x:, ti] -= max(0.0, SHOCK_SWING - value[ti, star])
        rating[x:, pi] += SHOCK_SWING
        shock_info = {"team": ti, "star": star, "partner": pi, "day": x}
    return forced, shock_info
