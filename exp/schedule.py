"""Schedule-strain features: rest, density, travel, time zones, altitude (Dagster-free).

Per target team-game (``sides``: ``_side``, ``team_id``, ``game_date``, ``cutoff_ts``, and the
target game's ``home_team_id``), from the team's previous games in the SCHEDULE table (a schedule
is public in advance, so earlier games of the team count once their tip is before the cutoff;
results are not needed):

  rest_days      days since the team's previous game (capped at 10; 10 when none)
  b2b            played the previous calendar day
  three_in_four  this is the team's 3rd game in 4 days
  travel_km      great-circle km from the previous game's arena to this one (0 when none)
  tz_shift       |time-zone change| in hours since the previous game
  altitude       1 when the game is in Denver or Salt Lake City (arenas above 1,200 m) and the
                 team is not the home team

Arena coordinates are those of the 30 current franchises' home arenas (``ARENAS``); a game is
located at its home team's arena (neutral-site games are rare; the 2020 bubble is handled as a
neutral site elsewhere and gets the visiting teams' travel to Orlando only once).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline_assets.features import asof as A

# team_id -> (lat, lon, UTC offset in standard time, metres above sea level)
ARENAS: dict[int, tuple[float, float, float, float]] = {
    1610612737: (33.757, -84.396, -5, 320),    # ATL
    1610612738: (42.366, -71.062, -5, 5),      # BOS
    1610612751: (40.683, -73.976, -5, 10),     # BKN
    1610612766: (35.225, -80.839, -5, 230),    # CHA
    1610612741: (41.881, -87.674, -6, 180),    # CHI
    1610612739: (41.497, -81.688, -5, 200),    # CLE
    1610612742: (32.790, -96.810, -6, 140),    # DAL
    1610612743: (39.749, -105.008, -7, 1610),  # DEN
    1610612765: (42.341, -83.055, -5, 190),    # DET
    1610612744: (37.768, -122.388, -8, 5),     # GSW
    1610612745: (29.751, -95.362, -6, 15),     # HOU
    1610612754: (39.764, -86.156, -5, 220),    # IND
    1610612746: (34.043, -118.267, -8, 90),    # LAC
    1610612747: (34.043, -118.267, -8, 90),    # LAL
    1610612763: (35.138, -90.051, -6, 80),     # MEM
    1610612748: (25.781, -80.188, -5, 2),      # MIA
    1610612749: (43.045, -87.917, -6, 190),    # MIL
    1610612750: (44.979, -93.276, -6, 250),    # MIN
    1610612740: (29.949, -90.082, -6, 2),      # NOP
    1610612752: (40.751, -73.993, -5, 10),     # NYK
    1610612760: (35.463, -97.515, -6, 370),    # OKC
    1610612753: (28.539, -81.384, -5, 30),     # ORL
    1610612755: (39.901, -75.172, -5, 10),     # PHI
    1610612756: (33.446, -112.071, -7, 340),   # PHX
    1610612757: (45.532, -122.667, -8, 15),    # POR
    1610612758: (38.580, -121.500, -8, 10),    # SAC
    1610612759: (29.427, -98.438, -6, 200),    # SAS
    1610612761: (43.643, -79.379, -5, 80),     # TOR
    1610612762: (40.768, -111.901, -7, 1300),  # UTA
    1610612764: (38.898, -77.021, -5, 20),     # WAS
}
HIGH_ALTITUDE_M = 1200.0
REST_CAP = 10


def _arena(team_ids: np.ndarray) -> np.ndarray:
    out = np.full((len(team_ids), 4), np.nan)
    for i, t in enumerate(team_ids):
        if int(t) in ARENAS:
            out[i] = ARENAS[int(t)]
    return out


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def schedule_strain(sides: pd.DataFrame, schedule: pd.DataFrame) -> pd.DataFrame:
    """Features above for ``sides`` (``_side``, ``team_id``, ``game_date``, ``cutoff_ts``,
    ``home_team_id``) from ``schedule`` (one row per game: ``game_id``, ``game_date``, ``tip_ts``,
    ``home_team_id``, ``away_team_id``).  Aligned with ``sides``."""
    s = schedule[["game_id", "game_date", "tip_ts", "home_team_id", "away_team_id"]]
    long = pd.concat([s.assign(team_id=s["home_team_id"]), s.assign(team_id=s["away_team_id"])],
                     ignore_index=True)
    long = A._sorted(long, ["tip_ts", "game_id", "team_id"])
    long["day"] = A.day_number(long["game_date"])
    long["day_prev"] = long.groupby("team_id", sort=False)["day"].shift(1)
    long["ts"] = long["tip_ts"]
    # the team's last game that tipped strictly before the cutoff (never the target itself)
    left = sides[["_side", "team_id", "game_date", "cutoff_ts"]].reset_index(drop=True)
    left["cutoff_ts"] = left["cutoff_ts"] - pd.Timedelta(microseconds=1)
    tgt_day = A.day_number(left["game_date"])
    prev = A.asof(left, long, ["team_id"], ["day", "home_team_id", "day_prev"])
    prev_day = prev["day"].to_numpy(float)
    prev_host = prev["home_team_id"].to_numpy(float)
    second_prev = prev["day_prev"].to_numpy(float)
    gap = tgt_day - prev_day
    here = _arena(sides["home_team_id"].to_numpy())
    there = _arena(np.nan_to_num(prev_host, nan=-1).astype(np.int64))
    km = haversine_km(there[:, 0], there[:, 1], here[:, 0], here[:, 1])
    out = pd.DataFrame(index=pd.RangeIndex(len(sides)))
    out["rest_days"] = np.where(np.isfinite(gap), np.minimum(gap, REST_CAP), REST_CAP)
    out["b2b"] = (gap == 1).astype(float)
    out["three_in_four"] = ((tgt_day - second_prev) <= 3).astype(float)
    out["travel_km"] = np.nan_to_num(km, nan=0.0)
    out["tz_shift"] = np.nan_to_num(np.abs(here[:, 2] - there[:, 2]), nan=0.0)
    out["altitude"] = ((here[:, 3] >= HIGH_ALTITUDE_M)
                       & (sides["team_id"].to_numpy() != sides["home_team_id"].to_numpy())
                       ).astype(float)
    return out
