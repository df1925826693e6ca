"""Live path benchmark: features and scores for one slate, as an operator's 11:00 run sees it.

Builds ~90 days of simulated history in a temp store (not timed), then times, for the biggest
slate: live features (read snapshots + labels, both builders) and game scoring (10,000-sim Monte
Carlo per game).  Goal (issue 3): live features for a 15-game slate in under 2 s.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        os.environ["TIPOFF_DATA_DIR"] = d
        os.environ["TIPOFF_SOURCE"] = "simulated"
        import dagster as dg
        import numpy as np
        import pandas as pd

        from pipeline_assets.definitions import defs
        from pipeline_assets.featureio import LivePolicy, build_live, load_history, read_live_inputs
        from pipeline_assets.scoring import score_games
        start, end = "2025-10-21", "2026-01-20"
        defs.resolve_job_def("ingest_job").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end})
        root = Path(d)
        sizes = {p.name: len(pd.read_parquet(next(p.glob("run=*/table.parquet"))))
                 for p in (root / "live/snapshots/schedule").iterdir()}
        day = max(sizes, key=sizes.get)
        from tipoff_core.timeutil import parse_ts_token
        as_of = parse_ts_token((root / "live/snapshots/schedule" / day / "LATEST").read_text())
        times, score_times = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            policy = LivePolicy()
            res = build_live(day, as_of, read_live_inputs(day, as_of, root, policy),
                             load_history(root, day), policy)
            times.append(time.perf_counter() - t0)
            g = res.games
            p = np.clip(0.5 + (g["elo_prob_home"].to_numpy() - 0.5), 0.01, 0.99)
            t1 = time.perf_counter()
            score_games(g, p, p, p, None)
            score_times.append(time.perf_counter() - t1)
        t_hist = time.perf_counter()
        load_history(root, day)
        t_hist = time.perf_counter() - t_hist
        med = statistics.median(times)
        print(f"slate {day}: {len(res.games)} games, {len(res.minutes)} player rows; history "
              f"{start}..{end}")
        print(f"live features: median {med * 1000:.0f} ms over 5 runs ({med / len(res.games) * 1000:.1f} "
              f"ms/game; goal 2 s for 15 games: {med / 2:.2f}x); of which label history read "
              f"{t_hist * 1000:.0f} ms")
        print(f"scoring incl. 10,000-sim Monte Carlo: median {statistics.median(score_times) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
