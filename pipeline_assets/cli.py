"""`tipoff` command line: inspect tables, run the demo, manage models, backtest."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import warnings
from pathlib import Path


def _quiet() -> None:
    warnings.filterwarnings("ignore")


def cmd_show(args) -> int:
    from pipeline_assets.catalog import NotMaterialized, read_table
    try:
        df = read_table(args.asset, args.partition, args.run)
    except (ValueError, NotMaterialized) as exc:
        print(f"tipoff show: {exc}", file=sys.stderr)
        return 2
    try:
        df.to_csv(sys.stdout, index=False)
    except BrokenPipeError:  # e.g. `tipoff show ... | head`
        sys.stderr.close()
    return 0


def dagster_instance():
    """The persistent local instance (DAGSTER_HOME, default data/dagster_home)."""
    import dagster as dg
    from resources.storage import data_root
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(data_root() / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.get()


def run_job(job_name: str, start: str | None, end: str | None = None, tags: dict | None = None):
    from pipeline_assets.definitions import defs
    job = defs.resolve_job_def(job_name)
    run_tags = dict(tags or {})
    if start is None:
        result = job.execute_in_process(instance=dagster_instance(), tags=run_tags)
    elif end is None or end == start:
        result = job.execute_in_process(instance=dagster_instance(), partition_key=start, tags=run_tags)
    else:
        run_tags.update({"dagster/asset_partition_range_start": start,
                         "dagster/asset_partition_range_end": end})
        result = job.execute_in_process(instance=dagster_instance(), tags=run_tags)
    if not result.success:
        raise SystemExit(f"{job_name} failed for {start}..{end or start}")
    return result


def _print_slate(day: str) -> None:
    from pipeline_assets.catalog import read_table
    t = read_table("game_scores", day)
    cols = ["game_id", "p_home_win", "p_market_home", "edge_home", "margin_p50", "total_p50",
            "recommendation"]
    print(t[cols].round(3).to_string(index=False))


def cmd_demo(args) -> int:
    """Backfill a short simulated history, then run today's slate end to end."""
    import time

    from pipeline_assets.timeutil import LEAGUE_TZ, now_utc
    today = now_utc().tz_convert(LEAGUE_TZ).date()
    start = (today - dt.timedelta(days=args.history_days)).isoformat()
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    t0 = time.perf_counter()
    print(f"[tipoff] source={os.environ.get('TIPOFF_SOURCE', 'simulated')}  "
          f"backfilling {start}..{yesterday} (snapshots, labels, gold features: one run)")
    run_job("history_job", start, yesterday)
    print("[tipoff] training win and minutes models (registered, gated, promoted)")
    run_job("train_job", None, tags={"tipoff/retrain_reason": "demo"})
    print(f"[tipoff] today's slate {today}: snapshots, live features, scores")
    run_job("live_job", today.isoformat())
    _print_slate(today.isoformat())
    print(f"[tipoff] done in {time.perf_counter() - t0:.1f}s; inspect with e.g. "
          f"`tipoff show schedule_snapshot --partition {today}` or open the UI with `dagster dev`")
    return 0


def cmd_models(args) -> int:
    """list / promote / rollback through the registry (the production pointer switches atomically)."""
    from resources.registry import ModelRegistry, RegistryError
    reg = ModelRegistry()
    try:
        if args.action == "list":
            df = reg.list_versions(args.name)
            cols = [c for c in ("name", "version", "state", "created_at", "promoted_at", "reason")
                    if c in df.columns]
            print(df[cols].to_string(index=False) if len(df) else "no model versions yet "
                  "(materialize win_model / minutes_model, e.g. `tipoff demo`)")
        elif args.action == "promote":
            if not (args.name and args.version):
                raise RegistryError("promote needs NAME and VERSION, e.g. "
                                    "`tipoff models promote win_market_free v20261123_130236`")
            reg.promote(args.name, args.version, reason=args.reason or "manual promotion (CLI)")
            print(f"{args.name}: production is now {args.version}")
        elif args.action == "rollback":
            if not args.name:
                raise RegistryError("rollback needs NAME, e.g. `tipoff models rollback win_market_free`")
            version = reg.rollback(args.name, reason=args.reason or "rollback (CLI)")
            print(f"{args.name}: rolled back; production is now {version}")
    except (RegistryError, LookupError, ValueError) as exc:
        print(f"tipoff models: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_parity(args) -> int:
    """Rebuild a past date through the live path and diff it against gold."""
    from pipeline_assets.catalog import NotMaterialized
    from pipeline_assets.featureio import parity
    from resources.storage import data_root
    try:
        diffs = parity(args.date, data_root())
    except (NotMaterialized, RuntimeError, ValueError) as exc:
        print(f"tipoff parity: {exc}", file=sys.stderr)
        return 2
    gaps = diffs.pop("minutes_roster_gaps")
    ok = True
    for name, d in diffs.items():
        ok &= d.empty
        print(f"{name}: " + ("identical" if d.empty else f"{len(d)} difference(s)"))
        if len(d):
            print(d.to_string(index=False))
    if len(gaps):
        print(f"note: {len(gaps)} appearance(s) not on the live roster (not compared):")
        print(gaps.to_string(index=False))
    return 0 if ok else 1


def cmd_backtest(args) -> int:
    """Walk-forward backtest over archive seasons; writes the JSON report atomically."""
    from pipeline_assets.backtest import run_backtest_cli
    seasons = [x.strip() for x in args.seasons.split(",") if x.strip()]
    try:
        run_backtest_cli(args.data_dir, seasons, args.json, cadence_days=args.cadence_days,
                         fast=args.fast)
    except (ValueError, OSError) as exc:
        print(f"tipoff backtest: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    _quiet()
    p = argparse.ArgumentParser(prog="tipoff", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show", help="print one partition of a table asset as CSV")
    s.add_argument("asset")
    s.add_argument("--partition", required=True, help="league date YYYY-MM-DD")
    s.add_argument("--run", default="latest", help="'latest' (default) or a run token")
    s.set_defaults(fn=cmd_show)
    d = sub.add_parser("demo", help="backfill a short history and score today's slate")
    d.add_argument("--history-days", type=int, default=400)
    d.set_defaults(fn=cmd_demo)
    m = sub.add_parser("models", help="list, promote or roll back model versions")
    m.add_argument("action", choices=["list", "promote", "rollback"])
    m.add_argument("name", nargs="?", help="win_market_free | win_with_market | minutes")
    m.add_argument("version", nargs="?", help="v{YYYYMMDD_HHMMSS} (promote)")
    m.add_argument("--reason", default="")
    m.set_defaults(fn=cmd_models)
    pa = sub.add_parser("parity", help="diff a past date's live-path features against gold")
    pa.add_argument("--date", required=True)
    pa.set_defaults(fn=cmd_parity)
    bt = sub.add_parser("backtest", help="walk-forward backtest over archive seasons")
    bt.add_argument("--data-dir", required=True, help="archive folder laid out like shared/data")
    bt.add_argument("--seasons", required=True, help="comma-separated, e.g. 2020-21,2021-22")
    bt.add_argument("--json", default=None, help="write the JSON report here")
    bt.add_argument("--cadence-days", type=int, default=7, help="win-model retrain cadence")
    bt.add_argument("--fast", action="store_true", help="small tuning grid (quicker)")
    bt.set_defaults(fn=cmd_backtest)
    from pipeline_assets.steps import add_subcommands  # run, pin, live-runs
    add_subcommands(sub)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
