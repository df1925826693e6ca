"""What The Odds API costs Tipoff, in credits: the 15-minute cadence of a game day (current-odds
endpoint) and `tipoff odds backfill` plans (historical endpoints), over one season's schedule.

Pure arithmetic over the slot plans the sensor and the backfill use (pipeline_assets.odds_history)
and the endpoint costs (resources.sources.odds_api.call_cost); no request is made.  The schedule
is the simulated league's (1230 games, most tips 19:00-22:30 New York, like the NBA's).

    .venv/bin/python bench/bench_odds_credits.py [--season 2025-26] [--regions 1] [--markets 3]
"""
from __future__ import annotations

import argparse
import datetime as dt

import numpy as np
import pandas as pd

from pipeline_assets.odds_history import SlotPlan, snapshot_slots
from resources.sources.odds_api import EP_HISTORICAL_EVENT_ODDS, EP_HISTORICAL_EVENTS, EP_ODDS, call_cost
from resources.sources.simulated import SimulatedSource

OPEN = dt.time(10, 0)


def historical_cost(slot: pd.Timestamp, tips: pd.Series, markets: int, regions: int) -> int:
    """One historical snapshot: the events call, then every game not yet started."""
    return call_cost(EP_HISTORICAL_EVENTS) + int((tips > slot).sum()) * call_cost(
        EP_HISTORICAL_EVENT_ODDS, markets, regions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--season", default="2025-26")
    ap.add_argument("--markets", type=int, default=3)
    ap.add_argument("--regions", type=int, default=1)
    args = ap.parse_args()
    sched = SimulatedSource(seed=7).table("schedule", args.season)
    days = sched.groupby("game_date")["tip_ts"]
    cadence, plans = [], {"open,close": SlotPlan((("open", "close")), None, OPEN),
                          "close": SlotPlan(("close",), None, OPEN),
                          "every 60": SlotPlan((), 60, OPEN),
                          "every 15": SlotPlan((), 15, OPEN)}
    backfill = {k: [] for k in plans}
    # for comparison: GET /v4/historical/sports/{sport}/odds prices every game of a snapshot for
    # 10 x markets x regions (not used: no recorded response to test a parser against)
    sport_level = {k: [] for k in plans}
    games = []
    for day, tips in days:
        tips = tips.reset_index(drop=True)
        games.append(len(tips))
        slots = snapshot_slots(day, tips, opening=OPEN, interval=15)
        cadence.append(len(slots) * call_cost(EP_ODDS, args.markets, args.regions))
        for name, plan in plans.items():
            slots_of = plan.slots(day, tips)
            backfill[name].append(sum(historical_cost(s, tips, args.markets, args.regions)
                                      for s in slots_of))
            sport_level[name].append(len(slots_of) * call_cost(EP_HISTORICAL_EVENT_ODDS,
                                                               args.markets, args.regions))
    n_days, n_games = len(games), int(np.sum(games))
    print(f"season {args.season} (simulated schedule): {n_days} game days, {n_games} games, "
          f"{args.markets} market(s) x {args.regions} region(s)")
    c = np.array(cadence)
    print(f"cadence (15 min from {OPEN:%H:%M} + closes, current odds): {c.mean():.0f} credits per "
          f"game day (min {c.min()}, max {c.max()}), season {c.sum():,}")
    for name, costs in backfill.items():
        b, s = np.array(costs), np.array(sport_level[name])
        print(f"backfill --{'times ' if 'every' not in name else ''}{name}: {b.mean():,.0f} "
              f"credits per game day, {b.sum() / n_games:,.0f} per game, season {b.sum():,} "
              f"(sport-level endpoint: season {s.sum():,}, {b.sum() / max(s.sum(), 1):.1f}x less)")


if __name__ == "__main__":
    main()
