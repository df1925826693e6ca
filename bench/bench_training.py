"""Model training time on the real archive's gold features (needs ../shared/data).

Times what the pipeline's win_model / minutes_model assets run: ``fit_win_models`` (box weights,
availability classifier, out-of-sample P(plays) per season, the market-free linear model and the
market stack) on the six seasons before 2021-22, and ``fit_minutes_model`` on three seasons.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("TIPOFF_SHARED_DIR", REPO.parent / "shared")) / "data"


def main() -> int:
    if not (DATA / "historical_lines").is_dir():
        print(f"skipped: no archive data at {DATA}")
        return 0
    from pipeline_assets.backtest import archive_box_scores, build_archive_features
    from pipeline_assets.models.lineup import fit_minutes_model, fit_win_models
    games, minutes = build_archive_features(DATA, progress=lambda m: None)
    box = archive_box_scores(DATA, progress=lambda m: None)
    win_seasons = ["2015-16", "2016-17", "2017-18", "2018-19", "2019-20", "2020-21"]
    g = games[games["season"].isin(win_seasons) & games["label_home_win"].notna()]
    g = g.reset_index(drop=True)
    p = minutes[minutes["game_id"].isin(g["game_id"])].reset_index(drop=True)
    b = box[box["season"].isin(win_seasons)]
    print(f"cpus {os.cpu_count()}; win: {len(g):,} games, {len(p):,} candidate rows")
    t0 = time.perf_counter()
    _, market, info = fit_win_models(g, p, b, as_of="2021-10-19")
    dt_ = time.perf_counter() - t0
    print(f"fit_win_models: {dt_:6.1f} s ({1e3 * dt_ / len(g):.2f} ms/game); beta "
          f"{info['beta']:.3f}, sigma {info['sigma']:.2f}")
    min_seasons = ["2018-19", "2019-20", "2020-21"]
    pm = minutes[minutes["season"].isin(min_seasons)].reset_index(drop=True)
    for fast in (True, False):
        t0 = time.perf_counter()
        fit_minutes_model(pm, box[box["season"].isin(min_seasons)], fast=fast)
        dt_ = time.perf_counter() - t0
        print(f"fit_minutes_model fast={fast!s:5s}: {dt_:6.1f} s "
              f"({1e6 * dt_ / len(pm):.1f} us per candidate row, {len(pm):,} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
