"""Benchmark + quality check: the real walk-forward backtest over 2019-20, 2020-21 and 2021-22.

    python bench/bench_backtest.py [--data-dir ../shared/data] [--seasons 2019-20,2020-21,2021-22]
                                   [--cadence-days 7] [--full-grid] [--cold]
                                   [--out bench/out/backtest.json]

Production settings (weekly win-model refits, monthly minutes refits).  ``--cold`` rebuilds the
feature cache first (the end-to-end time including the feature build).  Prints per-season
metrics and times, the pooled block with paired bootstrap intervals, the quality goals of issue
14 and writes the JSON report.
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

from pipeline_assets.backtest import (archive_box_scores, archive_quarter_scores,  # noqa: E402
                                      build_archive_features, format_table, walk_forward,
                                      write_json_atomic)

DEFAULT_DATA = Path(os.environ.get("TIPOFF_SHARED_DIR", ROOT.parent / "shared")) / "data"


def _ci(c: dict) -> str:
    return f"{c['mean']:+.4f} [{c['lo']:+.4f}, {c['hi']:+.4f}]"


def goals(res: dict, seasons: list[str]) -> list[tuple[str, bool, str]]:
    o = res["overall"]
    mf, mkt = o["model_market_free"]["log_loss"], o["market"]["log_loss"]
    mi = o["minutes"]
    out = [("market-free LL <= market + 0.014 (pooled)", mf <= mkt + 0.014,
            f"{mf:.4f} vs market {mkt:.4f}: {_ci(o['vs_market']['market_free'])}")]
    for s in seasons:
        c = res[s]["vs_market"]["with_market"]
        out.append((f"with-market <= market - 0.001 ({s})", c["mean"] <= -0.001, _ci(c)))
    for s in seasons:
        c = res[s]["spread_only"]["vs_market"]
        out.append((f"spread only: with-market <= spread-implied market ({s})", c["mean"] <= 0,
                    _ci(c)))
    av = o["availability"]
    out.append(("availability Brier below the recent-appearance rule",
                av["brier_model"] < av["brier_rule"],
                f"{av['brier_model']:.4f} vs {av['brier_rule']:.4f} on {av['rows']:,} rows"))
    out.append(("minutes MAE <= 4.35", mi["mae"] <= 4.35, f"{mi['mae']:.3f}"))
    out.append(("minutes p10-p90 coverage in [0.77, 0.83]",
                0.77 <= mi["coverage_p10_p90"] <= 0.83, f"{mi['coverage_p10_p90']:.3f}"))
    per = res["config"]["seconds_per_season"]
    amort = res["config"]["availability_seconds"] / len(seasons)
    worst = max(per.values()) + amort
    out.append(("one season's backtest < 60 s (features cached)", worst < 60,
                f"{worst:.0f}s worst season incl. its share of P(plays) ({amort:.0f}s)"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA))
    ap.add_argument("--seasons", default="2019-20,2020-21,2021-22")
    ap.add_argument("--cadence-days", type=int, default=7)
    ap.add_argument("--minutes-cadence-days", type=int, default=30)
    ap.add_argument("--full-grid", action="store_true")
    ap.add_argument("--cold", action="store_true", help="rebuild the feature cache first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "backtest.json"))
    args = ap.parse_args(argv)
    if not Path(args.data_dir, "historical_lines").is_dir():
        print(f"no archive data at {args.data_dir} (set --data-dir or TIPOFF_SHARED_DIR)")
        return 2
    seasons = [s.strip() for s in args.seasons.split(",") if s.strip()]

    t0 = time.perf_counter()
    games, minutes = build_archive_features(args.data_dir, use_cache=not args.cold)
    box = archive_box_scores(args.data_dir)
    t_feat = time.perf_counter() - t0
    res = walk_forward(games, minutes, seasons, box, cadence_days=args.cadence_days,
                       fast=not args.full_grid, seed=args.seed,
                       minutes_cadence_days=args.minutes_cadence_days,
                       results=archive_quarter_scores(args.data_dir))
    total = time.perf_counter() - t0
    res["config"]["bench"] = {"feature_seconds": round(t_feat, 1), "total_seconds": round(total, 1),
                              "cold": bool(args.cold), "cpu_count": os.cpu_count(),
                              "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                              "peak_rss_mb": round(resource.getrusage(
                                  resource.RUSAGE_SELF).ru_maxrss / 1024.0)}
    out = write_json_atomic(args.out, res)

    print()
    print(format_table(res))
    print()
    cfg = res["config"]
    print(f"features {t_feat:.1f}s ({'built' if args.cold else 'cache'}); P(plays) "
          f"{cfg['availability_seconds']:.0f}s; per season: "
          + ", ".join(f"{s} {cfg['seconds_per_season'][s]:.0f}s" for s in seasons)
          + f"; total {total:.0f}s (load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for s in seasons + ["overall"]:
        b = res[s]
        print(f"{s}: vs market: free {_ci(b['vs_market']['market_free'])}, with-market "
              f"{_ci(b['vs_market']['with_market'])}; spread only {_ci(b['spread_only']['vs_market'])}"
              f"; expected-lineup minutes MAE {b['minutes_expected_lineup']['mae']:.3f}; "
              f"kelly {b['kelly']['bets']} bets roi {b['kelly']['roi']:+.3f}, with-market "
              f"{b['kelly_with_market']['bets']} bets roi {b['kelly_with_market']['roi'] or 0:+.3f}")
    print()
    for name, ok, detail in goals(res, seasons):
        print(f"[{'PASS' if ok else 'MISS'}] {name}: {detail}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
