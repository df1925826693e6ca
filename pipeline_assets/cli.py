"""`tipoff` command line: inspect tables, run the demo and the step runner, manage models, backtest,
backfill odds history.

User errors (a bad argument, an unknown asset, a partition that is not materialized) print one
line naming the problem and what would fix it, and exit with status 2; a step that ran and failed
exits with 1; `tipoff odds backfill` stopped by its credit budget exits with 3 (re-run to resume).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path

from pipeline_assets import mlflow_models, odds_history, steps
from pipeline_assets.backtest import run_backtest_cli
from pipeline_assets.featureio import LiveInputError, parity
from pipeline_assets.monitoring.live_runs import read_live_runs
from pipeline_assets.ratings import franchises
from pipeline_assets.scoring import DEFAULT_N_SIMS, StakePolicy, slate_view
from pipeline_assets.serving import ab_split_from_env
from resources import storage
from resources.cache import invalidate_cache
from resources.mlflow_tracking import MlflowTracking, registered_name
from resources.registry import ModelRegistry, RegistryError
from resources.sources import injury_report
from resources.sources import source_from_env
from resources.sources.base import SourceError
from resources.sources.live import ODDS_KEY_ENV, LiveSource
from resources.sources.odds_api import (BACKFILL, CREDIT_BUDGET_ENV, MARKETS as ODDS_MARKETS,
                                        CreditLedger, CreditMeter, int_env)
from tipoff_core import catalog
from tipoff_core.domain import rating
from tipoff_core.tags import RETRAIN_DEMO, RETRAIN_TAG
from tipoff_core.timeutil import LEAGUE_TZ, now_utc


class UserError(Exception):
    """A mistake in the invocation: printed as one line, exit status 2."""


def _fail(prog: str, exc: BaseException) -> int:
    print(f"tipoff {prog}: {exc}", file=sys.stderr)
    return 2


def cmd_show(args) -> int:
    table = catalog.table(args.asset)
    df = storage.read_partition(table, args.partition, args.run)
    try:
        df.to_csv(sys.stdout, index=False)
    except BrokenPipeError:  # e.g. `tipoff show ... | head`
        sys.stderr.close()
    return 0


def dagster_instance():
    """The persistent local instance (DAGSTER_HOME, default data/dagster_home)."""
    import dagster as dg  # Dagster loads only for the commands that run jobs (keeps others fast)
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(storage.DATA_FOLDER / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.get()


def run_job(job_name: str, start: str | None, end: str | None = None, tags: dict | None = None,
            log_level: str = "DEBUG"):
    from pipeline_assets.definitions import defs  # loading the code location is the slow part
    job = defs.resolve_job_def(job_name)
    run_tags = dict(tags or {})
    cfg = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if start is None:
        result = job.execute_in_process(instance=dagster_instance(), tags=run_tags, run_config=cfg)
    elif end is None or end == start:
        result = job.execute_in_process(instance=dagster_instance(), partition_key=start,
                                        tags=run_tags, run_config=cfg)
    else:
        run_tags.update({"dagster/asset_partition_range_start": start,
                         "dagster/asset_partition_range_end": end})
        result = job.execute_in_process(instance=dagster_instance(), tags=run_tags, run_config=cfg)
    if not result.success:
        raise SystemExit(f"{job_name} failed for {start}..{end or start}")
    return result


def _print_slate(day: str, note: str = "") -> None:
    t = storage.read_partition(catalog.table("game_scores"), day)
    teams = dict(zip(franchises()["team_id"], franchises()["team"]))
    print(f"[tipoff] slate of {day}{note} (tip in New York time; p_home: the model, market_home: "
          "the de-vigged market; bet: the side backed, with its own edge and stake):")
    print(slate_view(t, teams).to_string(index=False))
    bets = int((t["recommendation"] != "none").sum())
    print(f"[tipoff] {len(t)} games, {bets} bets (quarter Kelly, stake = share of bankroll); "
          f"every column: `tipoff show game_scores --partition {day}`")


def _no_market(day: dt.date) -> bool:
    t = storage.read_partition(catalog.table("game_scores"), day.isoformat())
    return bool(len(t)) and t["p_market_home"].isna().all()


def next_game_day(source, after: dt.date, as_of, horizon_days: int = 160, step: int = 1
                  ) -> dt.date | None:
    """The first date after `after` (step=-1: before it) with games on the source's schedule as
    known at `as_of` (None within `horizon_days`: an off-season is at most about five months)."""
    for i in range(1, horizon_days + 1):
        day = after + dt.timedelta(days=i * step)
        if len(source.fetch("schedule", day, as_of).table):
            return day
    return None


def cmd_demo(args) -> int:
    """Backfill a short history, train, then score today's slate (or the date given) end to end;
    on a day without games, the next game day's."""
    today = (dt.date.fromisoformat(catalog.check_partition(args.date)) if args.date
             else now_utc().tz_convert(LEAGUE_TZ).date())
    start = (today - dt.timedelta(days=args.history_days)).isoformat()
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    level = "DEBUG" if args.verbose else "INFO"
    t0 = time.perf_counter()

    def phase(n: int, text: str) -> None:
        print(f"[tipoff] {time.perf_counter() - t0:4.0f}s  {n}/3 {text}", flush=True)

    phase(1, f"history {start}..{yesterday} on source={os.environ.get('TIPOFF_SOURCE', 'simulated')}"
             ": snapshots, labels, gold features (one run)")
    run_job("history_job", start, yesterday, log_level=level)
    phase(2, "training the win and minutes models (MLflow, registry, gate, promotion)")
    run_job("train_job", None, tags={RETRAIN_TAG: RETRAIN_DEMO}, log_level=level)
    phase(3, f"slate of {today}: snapshots as of now (for a past --date: 5 minutes before its "
             "first tip), live features, scores")
    run_job("live_job", today.isoformat(), log_level=level)
    day, note = today, ""
    if storage.read_partition(catalog.table("game_scores"), today.isoformat()).empty:
        nxt = next_game_day(source_from_env(), today, now_utc())
        if nxt is None:
            print(f"[tipoff] no games on {today} nor in the 160 days after it on this source")
            return 0
        print(f"[tipoff] no games on {today}; scoring the next game day, {nxt}")
        run_job("live_job", nxt.isoformat(), log_level=level)
        day, note = nxt, f" (the next game day: {today} has no games)"
    _print_slate(day.isoformat(), note)
    if not args.date and _no_market(day):
        # before the books open the as-of rule leaves the slate without prices: show the
        # previous game day as it stood before its tip, where edge and stakes mean something
        prev = next_game_day(source_from_env(), today, now_utc(), args.history_days, step=-1)
        if prev is not None:
            print(f"[tipoff] no odds for {day} as of now (the books have not opened yet, or the "
                  f"odds feed failed): no edge, no bets; for a slate with the market, the last "
                  f"game day, {prev}:")
            run_job("live_job", prev.isoformat(), log_level=level)
            _print_slate(prev.isoformat(), " (as of 5 minutes before its first tip)")
    print(f"[tipoff] done in {time.perf_counter() - t0:.0f}s; inspect with e.g. "
          f"`tipoff show schedule_snapshot --partition {day}` or open the UI with `dagster dev`")
    return 0


def cmd_models(args) -> int:
    """list / promote / rollback through the registry (the production pointer switches
    atomically; MLflow's mirror follows), sync-mlflow repairs the mirror."""
    try:
        return _models(ModelRegistry(), args)
    except ValueError as exc:  # e.g. an invalid model name
        raise UserError(str(exc)) from None


def _models(reg: ModelRegistry, args) -> int:
    if args.action == "list":
        df = reg.list_versions(args.name)
        cols = [c for c in ("name", "version", "state", "created_at", "promoted_at", "reason")
                if c in df.columns]
        print(df[cols].to_string(index=False) if len(df) else "no model versions yet "
              "(materialize win_model / minutes_model, e.g. `tipoff demo`)")
    elif args.action == "promote":
        if not (args.name and args.version):
            raise UserError("promote needs NAME and VERSION, e.g. "
                            "`tipoff models promote win_market_free v20261123_130236`")
        if args.force and not args.reason:
            raise UserError("--force needs a --reason (it is recorded in the version's history)")
        reg.promote(args.name, args.version, reason=args.reason or "manual promotion (CLI)",
                    force=args.force)
        print(f"{args.name}: production is now {args.version}")
        mlflow_models.mirror_or_warn(reg, MlflowTracking(), [args.name])
        _promotion_landed()
    elif args.action == "rollback":
        if not args.name:
            raise UserError("rollback needs NAME, e.g. `tipoff models rollback win_market_free`")
        version = reg.rollback(args.name, reason=args.reason or "rollback (CLI)")
        print(f"{args.name}: rolled back; production is now {version}")
        mlflow_models.mirror_or_warn(reg, MlflowTracking(), [args.name])
        _promotion_landed()
    elif args.action == "sync-mlflow":
        return _sync_mlflow(reg, args.name)
    return 0


def _sync_mlflow(reg: ModelRegistry, name: str | None) -> int:
    """Make MLflow's registered models agree with the registry (e.g. after MLflow was down)."""
    names = [name] if name else sorted(set(reg.list_versions()["name"]))
    if name and reg.list_versions(name).empty:
        raise UserError(f"no versions of {name!r} in the registry (see `tipoff models list`)")
    tracking = MlflowTracking()
    try:
        changes = mlflow_models.mirror(reg, tracking, names)
    except Exception as exc:  # noqa: BLE001 - MLflow unreachable or refusing: one line, exit 1
        print(f"tipoff models: MLflow at {tracking.resolved_tracking_uri()} could not be synced "
              f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]})", file=sys.stderr)
        return 1
    for n, c in changes.items():
        print(f"{registered_name(n)}: {len(c['registered'])} version(s) registered, "
              f"{len(c['retagged'])} retagged, alias production -> {c['alias'] or 'none'}"
              + (" (moved)" if c["alias_moved"] else ""))
    if not names:
        print("no model versions yet (materialize win_model / minutes_model, e.g. `tipoff demo`)")
    return 0


def cmd_parity(args) -> int:
    """Rebuild a past date through the live path and diff it against gold."""
    diffs = parity(catalog.check_partition(args.date), storage.data_root())
    ok = True
    for name, d in diffs.items():
        ok &= d.empty
        print(f"{name}: " + ("identical" if d.empty else f"{len(d)} difference(s)"))
        if len(d):
            print(d.to_string(index=False))
    return 0 if ok else 1


def cmd_backtest(args) -> int:
    """Walk-forward backtest over archive seasons; writes the JSON report atomically."""
    seasons = [x.strip() for x in args.seasons.split(",") if x.strip()]
    if not seasons:
        raise UserError("--seasons is empty; give seasons like 2019-20,2020-21")
    try:
        run_backtest_cli(args.data_dir, seasons, args.json, cadence_days=args.cadence_days,
                         fast=not args.full_grid)
    except (ValueError, OSError, SourceError) as exc:  # unknown seasons, not an archive folder
        raise UserError(str(exc)) from None
    return 0


def cmd_run(args) -> int:
    log = (lambda m: print(m, file=sys.stderr)) if not args.quiet else None
    if args.until_step != "storage" and not args.output:
        raise UserError("--output is required when stopping before storage")
    policy = StakePolicy(args.kelly_fraction, args.stake_cap, args.min_edge,
                         args.spread_min_edge, args.total_min_edge)
    try:
        doc = steps.run(date=args.date, until=args.until_step, from_step=args.from_step,
                        input_path=args.input, as_of=args.as_of, n_sims=args.n_sims,
                        stake_policy=policy, log=log)
    except steps.StepError as exc:
        raise UserError(str(exc)) from None
    except steps.StepFailure as exc:
        print(f"tipoff run: {exc}", file=sys.stderr)
        return 1
    if args.output:
        steps.save_document(doc, args.output)
    print(steps.summary_line(doc) + (f" -> {args.output}" if args.output else ""))
    if "storage" in doc and doc["metadata"]["step"] == "storage":
        for k, v in sorted(doc["storage"]["paths"].items()):
            print(f"  {k}: {v}")
        if not args.no_dagster_report:
            _report_to_dagster(doc, log)
    return 0


def _report_to_dagster(doc: dict, log) -> None:
    """Record what storage wrote as runless materializations on the local Dagster instance, so
    the UI's partition status includes slates stored by `tipoff run`.  The slate is stored
    whatever happens here: a failure is a warning, not an error."""
    events = steps.materialization_events(doc)
    checks = 0
    try:
        import dagster as dg
        from pipeline_assets.output_checks import check_evaluations
        instance = dagster_instance()
        for e in events:
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=e["asset"], partition=e["partition"], metadata=e["metadata"]))
            # the asset checks a Dagster run would have run on it, on what was stored
            for ev in check_evaluations(e["asset"], e["partition"], storage.data_root()):
                instance.report_runless_asset_event(ev)
                checks += 1
    except Exception as exc:  # noqa: BLE001 -- any instance problem (storage down, bad yaml)
        print(f"tipoff run: warning: stored, but not reported to Dagster: {exc}", file=sys.stderr)
        return
    if log:
        log(f"[tipoff run] reported {len(events)} materializations and {checks} check results "
            f"to Dagster ({os.environ.get('DAGSTER_HOME')})")


def cmd_pin(args) -> int:
    """Pin (or unpin) the run `latest` resolves to for one partition of a run-addressed asset."""
    if (args.run is None) == (not args.unpin):
        raise UserError("give exactly one of --run TOKEN or --unpin")
    table = catalog.table(args.asset)
    base = storage.run_base(table, args.partition)
    storage.run_folder(table, args.partition, args.run or "latest")  # names the runs if missing
    storage.pin_run(base, None if args.unpin else args.run)
    now = storage.resolve_run(base).name.removeprefix("run=")
    print(f"{args.asset} {args.partition}: " + (f"pinned to {args.run}" if not args.unpin else
                                                  "unpinned") + f"; latest -> {now}")
    return 0


def cmd_injuries(args) -> int:
    """parse: the official injury report PDF FILE as CSV (one row per player, one per team not
    yet submitted)."""
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:  # missing, a folder, no permission
        raise UserError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    try:
        report_ts, rows = injury_report.parse_report(data)
    except injury_report.InjuryReportError as exc:
        raise UserError(f"{args.file} is not a usable injury report: {exc}") from None
    try:
        injury_report.report_table(report_ts, rows).to_csv(sys.stdout, index=False)
    except BrokenPipeError:  # e.g. `tipoff injuries parse ... | head`
        sys.stderr.close()
    return 0


def cmd_live_runs(args) -> int:
    df = read_live_runs(storage.data_root(), args.date)
    if df.empty:
        print("no live runs recorded")
        return 0
    cols = [c for c in ("date", "run_as_of_ts", "status", "degraded", "trigger", "games",
                        "model_version", "snapshot_age_hours", "degraded_feeds", "warnings",
                        "error", "run_id") if c in df.columns]
    df[cols].tail(args.limit).to_csv(sys.stdout, index=False)
    return 0


def cmd_rating(args) -> int:
    """Rate a game from its NBA CDN play-by-play file (JSON, gzipped or not): JSON on stdout."""
    try:
        flow = rating.pbp_flow(rating.decode_payload(Path(args.pbp).read_bytes()))
    except OSError as exc:  # missing, a folder, no permission
        raise UserError(f"cannot read {args.pbp}: {exc.strerror or exc}") from None
    except rating.PlayByPlayError as exc:
        raise UserError(f"{args.pbp} is not a usable play-by-play file: {exc}") from None
    try:
        ctx = rating.RatingContext(home_elo=args.home_elo, away_elo=args.away_elo,
                                   rivalry=args.rivalry, inter_conference=None if
                                   args.conference is None else args.conference == "inter")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    score, comps = rating.game_rating(flow, ctx)
    rnd = {k: {f: round(v, 4) if isinstance(v, float) else v for f, v in c.items()}
           for k, c in comps.items()}
    print(json.dumps({**flow.summary(), "rating": round(score, 1), "components": rnd}, indent=2))
    return 0


def _odds_backfill_args(args) -> tuple[dt.date, dt.date, "odds_history.SlotPlan", int]:
    """The validated arguments of `tipoff odds backfill` (UserError: one line naming the fix)."""
    try:
        start, end = (dt.date.fromisoformat(d) for d in (args.start, args.end))
    except ValueError:
        raise UserError(f"--start {args.start} / --end {args.end}: dates are YYYY-MM-DD") from None
    today = now_utc().tz_convert(LEAGUE_TZ).date()
    if start > end:
        raise UserError(f"--start {start} is after --end {end}")
    if end > today:
        raise UserError(f"--end {end} is in the future: history ends today ({today}); the "
                        "odds_cadence_sensor takes today's snapshots")
    try:
        opening = odds_history.open_time()
        plan = odds_history.SlotPlan.parse(args.times, args.every, opening)
        budget = args.budget if args.budget is not None else int_env(CREDIT_BUDGET_ENV)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if budget is None:
        raise UserError(f"no credit budget: pass --budget N or set {CREDIT_BUDGET_ENV} "
                        "(historical odds cost 10 credits per market and game)")
    if budget < 0:
        raise UserError(f"--budget {budget} must not be negative")
    if not os.environ.get(ODDS_KEY_ENV, "").strip():
        raise UserError(f"no Odds API key: set {ODDS_KEY_ENV} (historical odds need a paid plan)")
    source = os.environ.get("TIPOFF_SOURCE", "").strip()
    if source not in ("", "live"):
        raise UserError(f"TIPOFF_SOURCE={source}: the odds backfill writes the live source's "
                        "store; unset it or set TIPOFF_SOURCE=live")
    if set(args.markets.split(",")) - set(ODDS_MARKETS) or not args.markets.strip():
        raise UserError(f"--markets {args.markets}: choose from {','.join(ODDS_MARKETS)}")
    return start, end, plan, budget


def cmd_odds(args) -> int:
    """backfill: odds_snapshot runs of past dates from The Odds API's historical endpoints."""
    start, end, plan, budget = _odds_backfill_args(args)
    os.environ["TIPOFF_SOURCE"] = "live"  # the store of the live source (or TIPOFF_DATA_DIR)
    root = storage.data_root()
    ledger = CreditLedger.for_root(root)
    meter = CreditMeter(ledger, budget=budget, purpose=BACKFILL)
    source = LiveSource(odds_meter=meter, odds_in_play=args.in_play, odds_markets=args.markets,
                        odds_regions=args.regions)
    print(f"[tipoff] odds backfill {start}..{end} into {root}: "
          + (f"every {plan.every} min" if plan.every else
             "times " + ",".join(t if isinstance(t, str) else t.strftime("%H:%M")
                                 for t in plan.times))
          + f", budget {budget} credit(s)", file=sys.stderr)
    report = odds_history.backfill(source, start, end, plan, root, now=now_utc(), ledger=ledger,
                                   log=lambda line: print(line, file=sys.stderr))
    done = (f"{len(report.written)} snapshot(s) written ({report.rows} rows), "
            f"{len(report.stored)} already stored, {report.credits} credit(s) spent"
            + (f", {meter.cache_hits} answer(s) from the cache" if meter.cache_hits else "")
            + (f", {meter.remaining} left on the account" if meter.remaining is not None else "")
            + (f"; {len(report.not_past)} too recent (the cadence sensor's)"
               if report.not_past else ""))
    print(f"[tipoff] {done}", file=sys.stderr)
    if report.stopped:
        print(f"[tipoff] stopped before {report.left} snapshot(s): {report.stopped}",
              file=sys.stderr)
        return 3 if report.out_of_credits else 1
    if report.refused:
        shown = "; ".join(f"{d} {t}: {why}" for (d, t), why in list(report.refused.items())[:3])
        print(f"[tipoff] {len(report.refused)} snapshot(s) refused (raw payloads quarantined): "
              f"{shown}", file=sys.stderr)
        return 1
    return 0


def _promotion_landed() -> None:
    """The HTTP API's model and prediction entries are stale (train_job's promotions are the
    serving cache sensor's)."""
    invalidate_cache("promotion")


def cmd_serve(args) -> int:
    """The HTTP API (pipeline_assets/api.py) on uvicorn; OpenAPI docs at /docs."""
    import uvicorn  # the server loads only for this command
    try:
        ab_split_from_env()  # a bad TIPOFF_AB_SPLIT stops here, not in every worker
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.redis_url:
        os.environ["TIPOFF_REDIS_URL"] = args.redis_url
    print(f"[tipoff] serving {storage.data_root()} on http://{args.host}:{args.port} "
          f"(docs: http://{args.host}:{args.port}/docs)", file=sys.stderr)
    uvicorn.run("pipeline_assets.api:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, access_log=args.access_log)
    return 0


# Exceptions that are the user's to fix: one line, exit 2.
USER_ERRORS = (UserError, catalog.UnknownTableError, catalog.BadKeyError, storage.NotMaterialized,
               storage.LayoutError, RegistryError, LiveInputError, FileNotFoundError)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tipoff", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show", help="print one partition of a table asset as CSV")
    s.add_argument("asset", help=f"one of: {', '.join(catalog.known_assets())}")
    s.add_argument("--partition", required=True, help="league date YYYY-MM-DD")
    s.add_argument("--run", default="latest", help="'latest' (default) or a run token")
    s.set_defaults(fn=cmd_show)
    d = sub.add_parser("demo", help="backfill a short history and score today's slate")
    d.add_argument("--history-days", type=int, default=400)
    d.add_argument("--date", help="score this league date instead of today (YYYY-MM-DD; e.g. an "
                                  "archive date with TIPOFF_SOURCE=archive)")
    d.add_argument("--verbose", action="store_true", help="print every Dagster event (DEBUG)")
    d.set_defaults(fn=cmd_demo)
    m = sub.add_parser("models", help="list, promote or roll back model versions; "
                                      "sync-mlflow repairs MLflow's registry from them")
    m.add_argument("action", choices=["list", "promote", "rollback", "sync-mlflow"])
    m.add_argument("name", nargs="?", help="win_market_free | win_with_market | minutes")
    m.add_argument("version", nargs="?", help="v{YYYYMMDD_HHMMSS} (promote)")
    m.add_argument("--reason", default="", help="why (recorded with the version)")
    m.add_argument("--force", action="store_true",
                   help="promote a candidate that failed the gate (needs --reason)")
    m.set_defaults(fn=cmd_models)
    pa = sub.add_parser("parity", help="diff a past date's live-path features against gold")
    pa.add_argument("--date", required=True)
    pa.set_defaults(fn=cmd_parity)
    bt = sub.add_parser("backtest", help="walk-forward backtest over archive seasons")
    bt.add_argument("--data-dir", required=True, help="archive folder laid out like shared/data")
    bt.add_argument("--seasons", required=True, help="comma-separated, e.g. 2020-21,2021-22")
    bt.add_argument("--json", default=None, help="write the JSON report here")
    bt.add_argument("--cadence-days", type=int, default=7, help="win-model retrain cadence")
    bt.add_argument("--full-grid", action="store_true",
                    help="the minutes model with LightGBM's full settings instead of production's "
                         "(3x slower)")
    bt.set_defaults(fn=cmd_backtest)
    r = sub.add_parser("run", help="run a live slate step by step (collection, features, "
                                   "prediction, storage) with JSON hand-offs")
    r.add_argument("--date", help="league date YYYY-MM-DD (needed unless resuming)")
    r.add_argument("--until-step", choices=steps.STEPS, default="storage")
    r.add_argument("--from-step", choices=steps.STEPS[1:], help="resume at this step from --input")
    r.add_argument("--input", help="document written by an earlier --output")
    r.add_argument("--output", help="write the document here (required before storage)")
    r.add_argument("--as-of", help="run_as_of_ts for collection (ISO; default: the assets' rule)")
    r.add_argument("--n-sims", type=int, default=DEFAULT_N_SIMS, help="Monte Carlo sims per game")
    r.add_argument("--kelly-fraction", type=float, default=StakePolicy.kelly_fraction)
    r.add_argument("--stake-cap", type=float, default=StakePolicy.cap)
    r.add_argument("--min-edge", type=float, default=StakePolicy.min_edge)
    r.add_argument("--spread-min-edge", type=float, default=StakePolicy.spread_min_edge,
                   help="minimum edge (given no push) of a spread recommendation")
    r.add_argument("--total-min-edge", type=float, default=StakePolicy.total_min_edge,
                   help="minimum edge (given no push) of a total recommendation")
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--no-dagster-report", action="store_true",
                   help="do not record the stored assets as materializations on the Dagster "
                        "instance (DAGSTER_HOME, default data/dagster_home)")
    r.set_defaults(fn=cmd_run)
    pn = sub.add_parser("pin", help="pin which run `latest` means for one partition (or unpin)")
    pn.add_argument("asset")
    pn.add_argument("--partition", required=True, help="league date YYYY-MM-DD")
    pn.add_argument("--run", help="run token YYYYMMDDTHHMMSSZ to pin")
    pn.add_argument("--unpin", action="store_true", help="remove the pin (LATEST applies again)")
    pn.set_defaults(fn=cmd_pin)
    inj = sub.add_parser("injuries", help="read the league's official injury report PDF")
    inj.add_argument("action", choices=["parse"], help="parse: print its rows as CSV")
    inj.add_argument("file", help="Injury-Report_<date>_<time>.pdf")
    inj.set_defaults(fn=cmd_injuries)
    lr = sub.add_parser("live-runs", help="the run registry of live runs (ops/live_runs.jsonl)")
    lr.add_argument("--date", help="only this league date")
    lr.add_argument("--limit", type=int, default=50)
    lr.set_defaults(fn=cmd_live_runs)
    rt = sub.add_parser("rating", help="rate a game 0-100 from its play-by-play (docs/RATING.md)")
    rt.add_argument("--pbp", required=True, help="NBA CDN playbyplay_<gameId>.json[.gz]")
    rt.add_argument("--home-elo", type=float, help="pre-game Elo of the home team (with --away-elo)")
    rt.add_argument("--away-elo", type=float, help="pre-game Elo of the away team")
    rt.add_argument("--rivalry", action="store_true", help="the matchup is a rivalry")
    rt.add_argument("--conference", choices=["same", "inter"], help="default: unknown (neutral)")
    rt.set_defaults(fn=cmd_rating)
    od = sub.add_parser("odds", help="odds history from The Odds API (credits, budgets: "
                                     "docs/OPERATIONS.md)")
    od_sub = od.add_subparsers(dest="action", required=True)
    ob = od_sub.add_parser("backfill", help="odds_snapshot runs of past dates from the "
                                            "historical endpoints, within a credit budget")
    ob.add_argument("--start", required=True, help="first league date YYYY-MM-DD")
    ob.add_argument("--end", required=True, help="last league date YYYY-MM-DD (inclusive)")
    ob.add_argument("--times", help="snapshots per date: comma-separated open (the books' "
                                    "opening, TIPOFF_ODDS_OPEN_TIME), close (5 minutes before "
                                    "each tip) and HH:MM New York times; default open,close")
    ob.add_argument("--every", type=int, help="instead of --times: a snapshot every N minutes "
                                              "from the opening to the last tip, plus closes")
    ob.add_argument("--budget", type=int, help="credits this backfill may spend (default "
                                               "TIPOFF_ODDS_CREDIT_BUDGET; one is required)")
    ob.add_argument("--markets", default=",".join(ODDS_MARKETS),
                    help="h2h,spreads,totals (default; 10 credits each per game)")
    ob.add_argument("--regions", default="us", help="bookmaker regions (each one multiplies "
                                                    "the cost)")
    ob.add_argument("--in-play", action="store_true",
                    help="also price games already under way at a snapshot (in-play odds; no "
                         "pre-game feature uses them)")
    ob.set_defaults(fn=cmd_odds)
    sv = sub.add_parser("serve", help="serve predictions over HTTP (FastAPI; docs at /docs)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    sv.add_argument("--redis-url", help="cache (default TIPOFF_REDIS_URL or "
                                        "redis://127.0.0.1:6379/0); the API works without it")
    sv.add_argument("--log-level", default="info",
                    choices=["critical", "error", "warning", "info", "debug"])
    sv.add_argument("--access-log", action="store_true", help="log every request")
    sv.set_defaults(fn=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except USER_ERRORS as exc:
        return _fail(args.cmd, exc)


if __name__ == "__main__":
    sys.exit(main())
