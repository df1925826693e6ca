"""Wall time of ONE backtest season end to end with the recommended design (2 cores):
inputs + gold features from their caches, this season's player rows built fresh, availability fit,
weekly win refits + stack, monthly minutes refits.  Earlier seasons' player rows / P(play) come
from the per-season cache (that is the point of caching per season)."""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from exp import run_design as R

if __name__ == "__main__":
    season = sys.argv[1] if len(sys.argv) > 1 else "2021-22"
    t0 = time.perf_counter()
    ctx = R.Ctx()
    t1 = time.perf_counter()
    seasons = [s for s in sorted(ctx.games["season"].unique()) if s <= season]
    rows_by, pp_by, frames = {}, {}, []
    tt = {}
    for s in seasons:
        fresh = s == season
        a = time.perf_counter()
        rows_by[s], _ = R.season_rows(ctx, s, refresh=fresh)
        b = time.perf_counter()
        pp_by[s], _ = R.season_pplay(ctx, s, rows_by, refresh=fresh)
        c = time.perf_counter()
        frames.append(R.game_frame(ctx, s, rows_by[s], pp_by[s]))
        if fresh:
            tt["player_rows"] = b - a
            tt["availability_fit_predict"] = c - b
            tt["strength"] = time.perf_counter() - c
    t2 = time.perf_counter()
    F = pd.concat(frames, ignore_index=True)
    # market columns (cheap) as in run_design.main
    from tipoff_core.domain import betting as B
    from pipeline_assets.models.win_linear import market_probability
    for s in seasons:
        sel = (F["season"] == s).to_numpy()
        tr = (F["season"] < s).to_numpy() if s > R.FIRST else sel
        sig = B.fit_spread_sigma(F.loc[tr, "close_home_spread"].to_numpy(float),
                                 F.loc[tr, "margin"].to_numpy(float))
        p, _ = market_probability(F.loc[sel, "close_home_ml"], F.loc[sel, "close_away_ml"],
                                  F.loc[sel, "close_home_spread"], sig)
        F.loc[sel, "p_mkt_any"] = p
    prev = pd.read_parquet(R.OUT / "games_eval.parquet")[["game_id", "p_mf"]]
    F = F.merge(prev, on="game_id", how="left")  # earlier seasons' OOS market-free (stack input)
    sel = (F["season"] == season).to_numpy()
    F.loc[sel, "p_mf"] = np.nan
    a = time.perf_counter()
    p, fits = R.walk_win(F, season)
    F.loc[sel, "p_mf"] = p[sel]
    tt["win_weekly_refits"] = time.perf_counter() - a
    a = time.perf_counter()
    R.walk_stack(F, season, "p_mkt_any")
    tt["market_stack"] = time.perf_counter() - a
    a = time.perf_counter()
    cad = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    m = R.walk_minutes(ctx, season, rows_by, pp_by, cadence=cad)
    tt["minutes_monthly_refits"] = time.perf_counter() - a
    tt["load_inputs_and_cached_gold"] = t1 - t0
    tt["total"] = time.perf_counter() - t0
    print(season, {k: round(v, 1) for k, v in tt.items()}, "win fits", fits, "minutes", m)
