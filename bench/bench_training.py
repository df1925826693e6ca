"""Model training time on the real archive's gold features (needs ../shared/data).

Times `train_win_model` (market-free and with-market, fast and full grids) on the last six seasons
before 2021-22 and `train_minutes_model` on three seasons, as the pipeline's win_model /
minutes_model assets would run them.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("TIPOFF_SHARED_DIR", REPO.parent / "shared")) / "data"


def main() -> int:
    if not (DATA / "historical_lines").is_dir():
        print(f"skipped: no archive data at {DATA}")
        return 0
    from pipeline_assets.backtest import build_archive_features
    from pipeline_assets.features import FEATURE_COLUMNS, MARKET_COLUMNS
    from pipeline_assets.models.minutes import train_minutes_model
    from pipeline_assets.models.win import train_win_model
    games, minutes = build_archive_features(DATA, progress=lambda m: None)
    seasons = sorted(games["season"].unique())
    win_train = games[games["season"].isin(seasons[seasons.index("2021-22") - 6:seasons.index("2021-22")])
                      & games["label_home_win"].notna()]
    min_train = minutes[minutes["season"].isin(["2018-19", "2019-20", "2020-21"])
                        & minutes["label_minutes"].notna()]
    cols = FEATURE_COLUMNS["game"]
    print(f"cpus {os.cpu_count()}; win rows {len(win_train):,} x {len(cols)}; minutes rows {len(min_train):,}")
    for name, fc in (("market_free", cols), ("with_market", cols + MARKET_COLUMNS["game"][1:])):
        for fast in (True, False):
            t0 = time.perf_counter()
            m = train_win_model(win_train, fc, fast=fast)
            dt_ = time.perf_counter() - t0
            print(f"win {name:11s} fast={fast!s:5s}: {dt_:6.1f} s  ({1e6 * dt_ / len(win_train):.0f} us/row)"
                  f"  chose {m.params.get('candidate')} / {m.calibration}")
    for fast in (True, False):
        t0 = time.perf_counter()
        train_minutes_model(min_train, FEATURE_COLUMNS["minutes"], fast=fast)
        dt_ = time.perf_counter() - t0
        print(f"minutes quantiles fast={fast!s:5s}: {dt_:6.1f} s  ({1e6 * dt_ / len(min_train):.1f} us/row)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
