"""Source and Elo speed: what used to be timed inside unit tests (timings belong here).

    python bench/bench_sources.py

Prints, with each figure's goal as a ratio (< 1 = within the goal):
  * a simulated season's generation, every table (goal 5 s);
  * a cold simulated fetch per (kind, date) after the season's tables exist (goal 20 ms);
  * exact 538-style Elo over 20,000 games after the JIT warm-up (goal 1 s).
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from resources.sources import simulated  # noqa: E402
from resources.sources.base import KINDS  # noqa: E402
from resources.sources.simulated import SimulatedSource  # noqa: E402
from tipoff_core.domain.elo import elo_ratings_before_games  # noqa: E402


def season_generation(season: str = "2024-25") -> float:
    simulated._SHARED.clear()
    t0 = time.perf_counter()
    src = SimulatedSource(seed=11)
    for kind in KINDS:
        src.table(kind, season)
    return time.perf_counter() - t0


def cold_fetch(season: str = "2026-27") -> float:
    src = SimulatedSource(seed=7)
    dates = src.game_dates(season)
    for kind in KINDS:
        src.fetch(kind, dates[0], pd.Timestamp("2030-01-01", tz="UTC"))  # build the tables
    t0, n = time.perf_counter(), 0
    for day in dates[20:50]:
        for kind in KINDS:
            src.fetch(kind, day, pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=23))
            n += 1
    return (time.perf_counter() - t0) / n


def elo_20k() -> float:
    rng = np.random.default_rng(0)
    n = 20_000
    t0 = pd.Timestamp("2023-10-24 23:30", tz="UTC")
    games = pd.DataFrame({
        "game_id": np.arange(n).astype(str), "season": (np.arange(n) // 1230).astype(str),
        "tip_ts": t0 + pd.to_timedelta(np.arange(n) // 5, unit="h"),
        "home_team_id": rng.integers(0, 30, n), "away_team_id": rng.integers(30, 60, n),
        "home_pts": rng.integers(80, 130, n).astype(float),
        "away_pts": rng.integers(80, 130, n).astype(float)})
    elo_ratings_before_games(games.head(10))  # JIT / cache load
    t = time.perf_counter()
    elo_ratings_before_games(games)
    return time.perf_counter() - t


def main() -> None:
    gen = season_generation()
    print(f"simulated season, every table: {gen:.3f} s  (goal 5 s: {gen / 5:.2f}x)")
    per = cold_fetch()
    print(f"simulated cold fetch: {per * 1e3:.2f} ms per (kind, date)  (goal 20 ms: {per / 0.02:.2f}x)")
    elo = elo_20k()
    print(f"Elo over 20,000 games: {elo:.3f} s = {elo / 20_000 * 1e6:.1f} us/game  "
          f"(goal 1 s: {elo:.2f}x)")


if __name__ == "__main__":
    main()
