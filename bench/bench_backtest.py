"""Benchmark + quality check: the real walk-forward backtest over 2019-20, 2020-21 and 2021-22.

    python bench/bench_backtest.py [--data-dir ../shared/data] [--seasons 2019-20,2020-21,2021-22]
                                   [--cadence-days 7] [--fast] [--out bench/out/backtest.json]

Default settings (weekly win-model retrains, monthly minutes retrains, full tuning grid once per
test season).  Prints per-season metrics and time, the pooled block, the quality goals
(market-free log loss <= market + 0.015 and <= Elo - 0.02 pooled; minutes MAE <= 4.6 with p10-p90
coverage in [0.77, 0.83]) and writes the JSON report.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline_assets.backtest import (build_archive_features, format_table,  # noqa: E402
                                      walk_forward, write_json_atomic)

DEFAULT_DATA = Path(os.environ.get("TIPOFF_SHARED_DIR", ROOT.parent / "shared")) / "data"


def goals(res: dict) -> list[tuple[str, bool, str]]:
    o = res["overall"]
    mf, mkt, elo = (o[k]["log_loss"] for k in ("model_market_free", "market", "elo"))
    mi = o["minutes"]
    return [
        ("market-free LL <= market + 0.015", mf <= mkt + 0.015,
         f"{mf:.4f} vs {mkt + 0.015:.4f} (market {mkt:.4f}; gap {mf - mkt:+.4f})"),
        ("market-free LL <= Elo - 0.02", mf <= elo - 0.02,
         f"{mf:.4f} vs {elo - 0.02:.4f} (Elo {elo:.4f}; gap {mf - elo:+.4f})"),
        ("minutes MAE <= 4.6", mi["mae"] is not None and mi["mae"] <= 4.6, f"{mi['mae']:.3f}"),
        ("minutes p10-p90 coverage in [0.77, 0.83]",
         mi["coverage_p10_p90"] is not None and 0.77 <= mi["coverage_p10_p90"] <= 0.83,
         f"{mi['coverage_p10_p90']:.3f}"),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA))
    ap.add_argument("--seasons", default="2019-20,2020-21,2021-22")
    ap.add_argument("--cadence-days", type=int, default=7)
    ap.add_argument("--minutes-cadence-days", type=int, default=30)
    ap.add_argument("--fast", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "backtest.json"))
    args = ap.parse_args(argv)
    if not Path(args.data_dir, "historical_lines").is_dir():
        print(f"no archive data at {args.data_dir} (set --data-dir or TIPOFF_SHARED_DIR)")
        return 2
    seasons = [s.strip() for s in args.seasons.split(",") if s.strip()]

    t0 = time.perf_counter()
    games, minutes = build_archive_features(args.data_dir)
    t_feat = time.perf_counter() - t0
    res = walk_forward(games, minutes, seasons, cadence_days=args.cadence_days, fast=args.fast,
                       seed=args.seed, minutes_cadence_days=args.minutes_cadence_days)
    total = time.perf_counter() - t0
    res["config"]["bench"] = {"feature_seconds": round(t_feat, 1), "total_seconds": round(total, 1),
                              "cpu_count": os.cpu_count(),
                              "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                              "peak_rss_mb": round(resource.getrusage(
                                  resource.RUSAGE_SELF).ru_maxrss / 1024.0)}
    out = write_json_atomic(args.out, res)

    print()
    print(format_table(res))
    print()
    cfg = res["config"]
    print(f"features {t_feat:.1f}s; per season: "
          + ", ".join(f"{s} {cfg['seconds_per_season'][s]:.0f}s" for s in seasons)
          + f"; total {total:.0f}s (load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for s in seasons:
        b, m = res[s], cfg["models"][s]
        print(f"{s}: market_free={m['market_free']['candidate']}/{m['market_free']['calibration']} "
              f"with_market={m['with_market']['candidate']}/{m['with_market']['calibration']} "
              f"retrains={cfg['n_retrains'][s]} market={b['market']['counts']} "
              f"kelly={ {k: round(v, 3) if isinstance(v, float) else v for k, v in b['kelly'].items()} }")
    print()
    for name, ok, detail in goals(res):
        print(f"[{'PASS' if ok else 'MISS'}] {name}: {detail}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
