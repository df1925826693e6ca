"""How well the predicted game rating ranks the archive's games (needs ../shared/data).

Per season 2016-17 .. 2021-22: the post-game rating from quarter scores (`ratings.rate_games`,
context: the pre-game Elo and the divisions / conferences) against the predicted rating from
pre-game information only -- no result enters it:

- spread: margin ~ Normal(-closing home spread, MARGIN_SD) (the archive's odds at the cutoff),
- elo:    margin ~ Normal(prob_to_margin(Elo P(home)), MARGIN_SD),

with the same context.  Prints Spearman's rank correlation per season (with a Fisher-z 95 %
interval, se = 1.03 / sqrt(n - 3)) and the number of games; `flow only` correlates the two
ratings without their shared context points (strength, rivalry, conference), i.e. how well the
margin distribution alone ranks how close and back-and-forth games were; `context only` correlates
the post-game rating with the context points alone (what the matchup, without the margin, gives).
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("TIPOFF_SHARED_DIR", REPO.parent / "shared")) / "data"
SEASONS = ["2016-17", "2017-18", "2018-19", "2019-20", "2020-21", "2021-22"]
CONTEXT = ("strength", "rivalry", "same_conference")


def spearman(a, b) -> tuple[float, float, float]:
    import pandas as pd
    rho = float(pd.Series(a).rank().corr(pd.Series(b).rank()))
    n = len(a)
    z, se = math.atanh(rho), 1.03 / math.sqrt(n - 3)
    return rho, math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)


def main() -> int:
    if not (DATA / "historical_lines").is_dir():
        print(f"skipped: no archive data at {DATA} (set TIPOFF_SHARED_DIR to the shared/ folder)")
        return 0
    import numpy as np
    import pandas as pd

    from pipeline_assets import ratings
    from pipeline_assets.backtest import build_archive_features
    from pipeline_assets.scoring import MARGIN_SD
    from resources.sources.archive.source import ArchiveSource
    from tipoff_core.domain import montecarlo, rating

    t0 = time.perf_counter()
    games, _ = build_archive_features(DATA, progress=lambda m: None)
    results = ArchiveSource(DATA).table("results")
    results = results[results["season"].isin(SEASONS)]
    feats = games[games["game_id"].isin(results["game_id"])]
    rated = ratings.rate_games(results, feats).set_index("game_id")
    base = feats[["game_id", "game_date", "home_team_id", "away_team_id"]].reset_index(drop=True)
    spread = feats["mkt_home_spread"].to_numpy(float)
    elo_margin = montecarlo.prob_to_margin(np.clip(feats["elo_prob_home"].to_numpy(float),
                                                   1e-4, 1 - 1e-4), sd=MARGIN_SD)
    preds = {}
    for name, mean in (("spread", -spread), ("elo", elo_margin)):
        s = base.assign(margin_mean=mean, margin_sd=MARGIN_SD, p_overtime=np.nan)
        s = s[np.isfinite(s["margin_mean"])]
        preds[name] = ratings.predict_ratings(s, feats).set_index("game_id")
    seconds = time.perf_counter() - t0

    ctx = [ratings.POINTS[c] for c in CONTEXT]
    pctx = [ratings.PREDICTED_POINTS[c] for c in CONTEXT]
    print(f"cpus {os.cpu_count()}; {len(rated):,} games rated (basis quarter_scores) in "
          f"{seconds:.1f} s; margin sd {MARGIN_SD}")
    print(f"{'season':8s} {'games':>6s}  {'spread rho [95% CI]':24s} {'elo rho [95% CI]':24s} "
          f"{'spread flow only':>16s} {'context only':>12s} {'mean rating':>11s} {'mean pred':>9s}")
    for season in SEASONS + ["all"]:
        ids = rated.index if season == "all" else \
            rated.index[feats.set_index("game_id").loc[rated.index, "season"] == season]
        out = {"season": season}
        for name, p in preds.items():
            common = ids.intersection(p.index)
            r, q = rated.loc[common], p.loc[common]
            out[name] = (len(common), *spearman(r["rating"], q["predicted_rating"]))
            if name == "spread":
                out["flow"] = spearman(r["rating"] - r[ctx].sum(axis=1),
                                       q["predicted_rating"] - q[pctx].sum(axis=1))[0]
                out["context"] = spearman(r["rating"], q[pctx].sum(axis=1))[0]
                out["means"] = (r["rating"].mean(), q["predicted_rating"].mean())
        n, rho, lo, hi = out["spread"]
        ne, rhoe, loe, hie = out["elo"]
        print(f"{season:8s} {n:6d}  {rho:.3f} [{lo:.3f}, {hi:.3f}]{'':6s} "
              f"{rhoe:.3f} [{loe:.3f}, {hie:.3f}] (n={ne}) {out['flow']:10.3f} {out['context']:12.3f} "
              f"{out['means'][0]:11.1f} {out['means'][1]:9.1f}")
    # the two probabilities the prediction rests on, against what happened (pooled, spread)
    p = preds["spread"]
    r = rated.loc[p.index]
    close = (r["final_margin"].abs() <= rating.CLOSE_FINISH_MARGIN).mean()
    ot = (r["overtime_periods"] > 0).mean()
    sd = float((r["final_margin"] - p["margin_mean"]).std())
    print(f"spread, pooled: P(close finish) predicted {p['p_close_finish'].mean():.3f}, realised "
          f"{close:.3f}; P(overtime) predicted {p['p_overtime'].mean():.3f}, realised {ot:.3f}; "
          f"realised sd of the margin around -spread {sd:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
