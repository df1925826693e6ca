"""A live run as four resumable steps outside Dagster: collection -> features -> prediction -> storage.

`tipoff run --date D --until-step STEP --output F.json` runs the steps up to STEP and writes one JSON
document; `tipoff run --from-step STEP --input F.json [--until-step S] [--output G.json]` resumes
from STEP with a document an earlier invocation wrote.  Each step calls the same code the assets
call -- `ingest.fetch_or_fail` and the as-of rules of `partitions`, `featureio.build_live`,
`scoring.score_games` / `training.predict_minutes` through the registry's production models,
`featureio.write_live` and the store's run folders, the predictions log -- nothing is reimplemented.

collection  snapshots (schedule, injuries, odds, rosters) of the date as of run_as_of_ts (given, or
            the snapshot assets' default: now for today and later, 5 minutes before the first tip
            for past dates), earlier days' rosters when the date has none yet, and the results and
            box scores of the date and the day before (so the features see games that ended since
            the last label run)
features    live game and minutes features; the collected tables are written to a temporary data
            root and `build_live` reads them there, with the store's label history plus the
            collected labels
prediction  game scores and minutes p10/p50/p90 with the production models
storage     snapshot, live feature and score run folders under the data root, the predictions log,
            and a run-registry entry (ops/live_runs.jsonl)

The document: ``{"metadata": {step, timestamp, target_date, total_games, input_source,
model_version, run_as_of_ts, steps, format}, "collection": ..., "features": ..., ...}`` -- every
step's data is kept, so a later step can start from any earlier document.  Tables are
``{"columns", "dtypes", "records"}`` (timestamps ISO 8601 UTC).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import tempfile
import uuid
from pathlib import Path

import pandas as pd

STEPS = ("collection", "features", "prediction", "storage")
FORMAT = "tipoff-steps/1"
LABEL_DAYS_BACK = 1          # collect labels of the date and this many days before
ROSTER_FALLBACK_DAYS = 3     # = LivePolicy.roster_fallback_days default


class StepError(ValueError):
    """Bad invocation or input document (the CLI exits with status 2)."""


class StepFailure(RuntimeError):
    """A step ran and failed (source error, no production model...; exit status 1)."""


# ----------------------------------------------------------------------------- tables <-> JSON

def _json_value(v):
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v) or v is pd.NA:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item"):          # numpy scalars -> Python (floats keep every bit: repr)
        return v.item()
    return v


def table_to_json(df: pd.DataFrame) -> dict:
    """Lossless: floats are written with repr (17 significant digits), so a table read back is
    bit-identical -- features must not change between steps."""
    df = df.reset_index(drop=True)
    cols = [str(c) for c in df.columns]
    values = [[_json_value(v) for v in df[c].astype(object)] for c in df.columns]
    return {"columns": cols, "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
            "records": [dict(zip(cols, row)) for row in zip(*values)] if cols else []}


def table_from_json(obj: dict) -> pd.DataFrame:
    cols, dtypes = obj["columns"], obj.get("dtypes", {})
    df = pd.DataFrame.from_records(obj["records"], columns=cols)
    for c in cols:
        t = dtypes.get(c, "object")
        s = df[c]
        if t.startswith("datetime64"):
            s = pd.to_datetime(s, utc=True, format="ISO8601")
            df[c] = s.astype(t) if "UTC" in t else s
        elif t in ("int64", "Int64", "boolean", "float64", "bool"):
            df[c] = (s.astype(float) if t == "float64" else s.astype(t))
        elif t in ("str", "string"):
            df[c] = s.astype(t)
        else:
            df[c] = s.astype(object).where(s.notna(), None)
    return df


def _raw_to_json(raw: bytes) -> dict:
    try:
        return {"encoding": "utf-8", "data": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "data": base64.b64encode(raw).decode("ascii")}


def _raw_from_json(obj: dict) -> bytes:
    if obj.get("encoding") == "base64":
        return base64.b64decode(obj["data"])
    return obj.get("data", "").encode("utf-8")


# ----------------------------------------------------------------------------- documents

def load_document(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise StepError(f"input file {p} does not exist")
    try:
        doc = json.loads(p.read_text())
    except ValueError as exc:
        raise StepError(f"input file {p} is not valid JSON: {exc}") from None
    md = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(md, dict) or md.get("step") not in STEPS:
        raise StepError(f"input file {p} is not a `tipoff run` document (metadata.step missing or "
                        f"not one of {', '.join(STEPS)})")
    for s in STEPS[:STEPS.index(md["step"]) + 1]:
        if s not in doc:
            raise StepError(f"input file {p} says it reached step {md['step']!r} but has no "
                            f"{s!r} section")
    return doc


def save_document(doc: dict, path: str | Path) -> Path:
    from resources import storage
    p = Path(path)
    storage.atomic_write_bytes(p.resolve(), json.dumps(doc, indent=1, default=str).encode())
    return p


def check_order(doc_step: str, from_step: str, input_name: str = "the input") -> None:
    """--from-step X needs a document that reached the step before X (or later)."""
    if from_step not in STEPS[1:]:
        raise StepError(f"--from-step must be one of {', '.join(STEPS[1:])} (collection needs no "
                        "input: use --date)")
    need = STEPS[STEPS.index(from_step) - 1]
    if STEPS.index(doc_step) < STEPS.index(need):
        raise StepError(f"{input_name} only reached step {doc_step!r}; --from-step {from_step} needs "
                        f"a document produced by --until-step {need} or later")


def _metadata(doc: dict, step: str, input_source: str) -> dict:
    c = doc.get("collection", {})
    md = dict(doc.get("metadata", {}))
    total = md.get("total_games")
    if step == "collection":
        sched = table_from_json(c["snapshots"]["schedule"]["table"])
        total = int(sched.drop_duplicates("game_id")["game_date"].eq(c["target_date"]).sum())
    elif step in ("features", "prediction", "storage") and "features" in doc:
        total = len(doc["features"]["games"]["records"])
    md.update({"step": step, "timestamp": pd.Timestamp.now(tz="UTC").isoformat(),
               "target_date": c.get("target_date"), "total_games": total,
               "input_source": input_source, "run_as_of_ts": c.get("run_as_of_ts"),
               "model_version": (doc.get("prediction") or {}).get("model_versions", {}).get(
                   "win_market_free"),
               "steps": list(STEPS[:STEPS.index(step) + 1]), "format": FORMAT})
    return md


# ----------------------------------------------------------------------------- the steps

def collect(day: str, source, root: Path, as_of: pd.Timestamp | None = None) -> dict:
    """Snapshots (+ fallback rosters, + recent labels) of `day` as of `as_of` (default: the
    snapshot assets' rule)."""
    import dagster as dg
    from pipeline_assets.ingest import fetch_or_fail
    from pipeline_assets.partitions import default_as_of
    from pipeline_assets.schemas import LABEL_KINDS, SNAPSHOT_KINDS
    from pipeline_assets.timeutil import now_utc, to_date

    def fetch(kind, d, t):
        try:
            return fetch_or_fail(source, kind, d, t, root)
        except dg.Failure as exc:
            raise StepFailure(f"collection: {exc.description}") from None

    rule = "given"
    if as_of is None:
        now = now_utc()
        sched = fetch("schedule", day, now)
        as_of = default_as_of(day, now, sched.table["tip_ts"])
        rule = "default (now for today and later, 5 min before the first tip for past dates)"

    def block(ex):
        return {"table": table_to_json(ex.table), "raw": _raw_to_json(ex.raw),
                "endpoint": ex.endpoint, "source": ex.source, "notes": ex.notes}

    snapshots = {kind: block(fetch(kind, day, as_of)) for kind in SNAPSHOT_KINDS}
    rosters_back = {}
    if not snapshots["rosters"]["table"]["records"]:
        for back in range(1, ROSTER_FALLBACK_DAYS + 1):
            d = (to_date(day) - dt.timedelta(days=back)).isoformat()
            rosters_back[d] = block(fetch("rosters", d, as_of))
            if rosters_back[d]["table"]["records"]:
                break
    label_days = [(to_date(day) - dt.timedelta(days=b)).isoformat()
                  for b in range(LABEL_DAYS_BACK, -1, -1)]
    labels = {kind: {d: table_to_json(fetch(kind, d, as_of).table) for d in label_days}
              for kind in LABEL_KINDS}
    return {"target_date": day, "run_as_of_ts": as_of.isoformat(), "as_of_rule": rule,
            "source": getattr(source, "name", str(source)), "snapshots": snapshots,
            "roster_fallback": rosters_back, "labels": labels}


def _collected_tables(c: dict) -> dict[str, pd.DataFrame]:
    from pipeline_assets.schemas import restore_dtypes
    return {k: restore_dtypes(table_from_json(b["table"]), k) for k, b in c["snapshots"].items()}


def _write_snapshots(c: dict, root: Path, with_meta: bool) -> list[Path]:
    """The collected snapshot tables as run folders under `root` (the store's layout)."""
    from pipeline_assets.schemas import arrow_schema, restore_dtypes
    from pipeline_assets.timeutil import ts_token, utc
    from resources import storage
    as_of = utc(c["run_as_of_ts"])
    blocks = [(k, c["target_date"], b) for k, b in c["snapshots"].items()]
    if not with_meta:  # the features step also needs the fallback days' rosters
        blocks += [("rosters", d, b) for d, b in c.get("roster_fallback", {}).items()]
    out = []
    for kind, day, b in blocks:
        table = restore_dtypes(table_from_json(b["table"]), kind)
        files = {"table.parquet": storage.parquet_bytes(table, arrow_schema(kind))}
        if with_meta:
            meta = {"kind": kind, "source": b["source"], "endpoint": b["endpoint"], "date": day,
                    "run_as_of_ts": as_of.isoformat(), "rows": len(table), "notes": b["notes"]}
            files = {"raw.json": _raw_from_json(b["raw"]), **files,
                     "meta.json": json.dumps(meta, sort_keys=True, default=str).encode()}
        out.append(storage.write_run_folder(storage.snapshot_dir(kind, day, root), ts_token(as_of),
                                            files).path)
    return out


def _history(c: dict, root: Path):
    """The store's label history up to the date as it would read after the collected per-date
    label tables replaced the stored ones (same rows, same order: rolling features sum floats in
    row order, so the order is part of the result)."""
    from pipeline_assets.featureio import History, load_history
    from pipeline_assets.schemas import restore_dtypes
    hist = load_history(root, c["target_date"])
    frames = {}
    for kind, old in (("results", hist.results), ("box_scores", hist.box_scores)):
        new = {d: restore_dtypes(table_from_json(t), kind)
               for d, t in sorted(c["labels"].get(kind, {}).items())}
        new = {d: t for d, t in new.items() if len(t)}
        if not new:
            frames[kind] = old
            continue
        kept = old[~old["game_date"].isin(list(new))]
        both = pd.concat([kept.astype(object), *(t.astype(object) for t in new.values())],
                         ignore_index=True)
        both = both.sort_values("game_date", kind="mergesort", ignore_index=True)
        frames[kind] = restore_dtypes(both, kind)
    return History(frames["results"], frames["box_scores"])


def features(c: dict, root: Path, policy=None):
    """LiveResult of the collected snapshots (build_live on a temporary data root)."""
    from pipeline_assets.featureio import LiveInputError, build_live
    from pipeline_assets.timeutil import utc
    with tempfile.TemporaryDirectory(prefix="tipoff-steps-") as tmp:
        _write_snapshots(c, Path(tmp), with_meta=False)
        try:
            return build_live(c["target_date"], utc(c["run_as_of_ts"]), Path(tmp), policy,
                              history=_history(c, root))
        except LiveInputError as exc:
            raise StepFailure(f"features: {exc}") from None


def features_block(result) -> dict:
    return {"games": table_to_json(result.games), "minutes": table_to_json(result.minutes),
            "coverage": table_to_json(result.coverage), "summary": result.summary}


def _live_result(f: dict):
    from pipeline_assets.featureio import LiveResult
    return LiveResult(table_from_json(f["games"]), table_from_json(f["minutes"]), f["summary"],
                      table_from_json(f["coverage"]))


def predict(c: dict, f: dict, registry, n_sims: int = 10_000) -> dict:
    """Game scores and minutes predictions with the production models."""
    from pipeline_assets import training
    from pipeline_assets.scoring import StakePolicy, score_games
    from pipeline_assets.timeutil import utc
    from resources.registry import NoProductionModelError
    as_of = utc(c["run_as_of_ts"])
    live = _live_result(f)
    try:
        free = registry.load_production("win_market_free")
        market = registry.load_production("win_with_market")
        minutes_model = registry.load_production("minutes")
    except NoProductionModelError as exc:
        raise StepFailure(f"prediction: {exc}") from None
    feats = live.games
    odds = _collected_tables(c)["odds"]
    odds = odds[odds["snapshot_ts"] <= as_of]
    table = score_games(feats, free.model["model"].predict_proba(feats),
                        market.model["model"].predict_proba(feats),
                        free.model["baseline"].predict_proba(feats), odds, n_sims=n_sims,
                        seed=int(as_of.value // 10**9) % (2**31), policy=StakePolicy())
    table.insert(0, "run_as_of_ts", as_of)
    mfeats = live.minutes
    if len(mfeats):
        rec, flags = training.predict_minutes(minutes_model.model, mfeats)
        mins = mfeats[["game_id", "game_date", "team_id", "opp_team_id", "player_id", "player_name"]] \
            .reset_index(drop=True).join(rec[["p10", "p50", "p90", "p50_raw"]].reset_index(drop=True))
    else:
        flags = pd.DataFrame(columns=["game_id", "team_id"])
        mins = pd.DataFrame(columns=["game_id", "game_date", "team_id", "opp_team_id", "player_id",
                                     "player_name", "p10", "p50", "p90", "p50_raw"])
    mins.insert(0, "run_as_of_ts", as_of)
    return {"games": table_to_json(table), "minutes": table_to_json(mins),
            "teams_flagged": table_to_json(flags.reset_index(drop=True)),
            "n_sims": n_sims,
            "model_versions": {"win_market_free": free.version, "win_with_market": market.version,
                               "minutes": minutes_model.version}}


def store(doc: dict, root: Path, predictions_log=None) -> dict:
    """Write snapshot / live feature / score run folders, the predictions log, the run registry."""
    from pipeline_assets.featureio import write_live
    from pipeline_assets.model_assets import _write_scores
    from pipeline_assets.monitoring import append_live_run
    from pipeline_assets.timeutil import utc
    from resources.storage import RunExistsError
    c, f, p = doc["collection"], doc["features"], doc["prediction"]
    day, as_of = c["target_date"], utc(c["run_as_of_ts"])
    live = _live_result(f)
    scores, mins = table_from_json(p["games"]), table_from_json(p["minutes"])
    versions = p["model_versions"]
    paths: dict[str, str] = {}
    try:
        for path in _write_snapshots(c, root, with_meta=True):
            paths[f"snapshot_{path.parent.parent.name}"] = str(path)
        for fs in ("game", "minutes"):
            paths[f"live_{fs}_features"] = str(write_live(live, fs, day, as_of, root))
        feat_run = Path(paths["live_game_features"]).name.removeprefix("run=")
        summary = {"mode": "live", "date": day, "run_as_of_ts": as_of.isoformat(),
                   "model_version": versions["win_market_free"],
                   "with_market_version": versions["win_with_market"],
                   "feature_source": f"live/features_game/{day}/run={feat_run}",
                   "source": c["source"], "games": len(scores), "via": "tipoff run",
                   "bets": int((scores["recommendation"] != "none").sum()) if len(scores) else 0}
        paths["game_scores"] = str(_write_scores("game_scores", day, as_of, scores, summary, root))
        msummary = {"mode": "live", "date": day, "run_as_of_ts": as_of.isoformat(),
                    "model_version": versions["minutes"], "players": len(mins),
                    "feature_source": f"live/features_minutes/{day}/run={feat_run}",
                    "teams_flagged": p["teams_flagged"]["records"], "via": "tipoff run"}
        paths["minutes_scores"] = str(_write_scores("minutes_scores", day, as_of, mins, msummary,
                                                    root))
    except RunExistsError as exc:
        raise StepFailure(f"storage: {exc}") from None
    logged = 0
    if predictions_log is not None and len(scores):
        rows = scores.assign(run_as_of_ts=as_of.isoformat(), model_version=versions["win_market_free"],
                             mode="live", source=c["source"],
                             stake=scores[["stake_home", "stake_away"]].max(axis=1),
                             logged_at=pd.Timestamp.now(tz="UTC").isoformat())
        logged = predictions_log.append(rows)
    entry = {"run_id": f"cli-{uuid.uuid4().hex[:12]}", "mode": "cli", "job": "tipoff run",
             "status": "SUCCESS", "date": day, "run_as_of_ts": as_of.isoformat(),
             "trigger": "tipoff run", "snapshot_age_hours": f["summary"].get("snapshot_age_hours"),
             "warnings": f["summary"].get("warnings", []), "games": len(scores),
             "model_version": versions["win_market_free"], "bets": summary["bets"], "error": None}
    paths["live_runs"] = str(append_live_run(entry, root))
    return {"paths": paths, "predictions_logged": int(logged), "live_run": entry}


# ----------------------------------------------------------------------------- orchestration

def run(*, date: str | None = None, until: str = "storage", from_step: str | None = None,
        input_path: str | None = None, as_of: str | None = None, root: Path | None = None,
        source=None, registry=None, predictions_log=None, n_sims: int = 10_000,
        policy=None, log=None) -> dict:
    """Run steps and return the document (see module docstring)."""
    from pipeline_assets.timeutil import utc
    from resources import storage
    if until not in STEPS:
        raise StepError(f"--until-step must be one of {', '.join(STEPS)}")
    root = root or storage.data_root()
    if from_step is None:
        if not date:
            raise StepError("--date is required unless resuming with --from-step/--input")
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise StepError(f"--date {date!r} is not a date (YYYY-MM-DD)") from None
        start, doc, input_source = "collection", {"metadata": {}}, None
    else:
        if not input_path:
            raise StepError("--from-step needs --input (a document written by --output)")
        doc = load_document(input_path)
        check_order(doc["metadata"]["step"], from_step, f"input file {input_path}")
        if date and date != doc["collection"]["target_date"]:
            raise StepError(f"--date {date} does not match the input's target_date "
                            f"{doc['collection']['target_date']}")
        start, input_source = from_step, f"file:{input_path}"
        for s in STEPS[STEPS.index(from_step):]:  # steps re-run from here on are recomputed
            doc.pop(s, None)
    if STEPS.index(until) < STEPS.index(start):
        raise StepError(f"--until-step {until} comes before --from-step {start}")
    parsed_as_of = None
    if as_of:
        if from_step is not None:
            raise StepError("--as-of applies to collection; the input already fixes run_as_of_ts")
        try:
            parsed_as_of = utc(as_of).floor("s")
        except ValueError:
            raise StepError(f"--as-of {as_of!r} is not an ISO timestamp") from None

    for step in STEPS[STEPS.index(start):STEPS.index(until) + 1]:
        if log:
            log(f"[tipoff run] {step} ...")
        if step == "collection":
            if source is None:
                from resources.sources import make_source
                import os
                source = make_source(os.environ.get("TIPOFF_SOURCE", "simulated"),
                                     os.environ.get("TIPOFF_ARCHIVE_DIR", ""),
                                     int(os.environ.get("TIPOFF_SEED", "7")),
                                     os.environ.get("TIPOFF_SHOCK", ""))
            doc["collection"] = collect(date, source, root, parsed_as_of)
            input_source = input_source or f"source:{doc['collection']['source']}"
        elif step == "features":
            doc["features"] = features_block(features(doc["collection"], root, policy))
        elif step == "prediction":
            if registry is None:
                from resources.registry import ModelRegistry
                registry = ModelRegistry()
            doc["prediction"] = predict(doc["collection"], doc["features"], registry, n_sims)
        elif step == "storage":
            if predictions_log is None:
                from resources.predictions_log import PredictionsLog
                predictions_log = PredictionsLog()
            doc["storage"] = store(doc, root, predictions_log)
        doc["metadata"] = _metadata(doc, step, input_source)
    return doc


def summary_line(doc: dict) -> str:
    md = doc["metadata"]
    return (f"{md['step']}: {md['target_date']} as of {md['run_as_of_ts']}, {md['total_games']} "
            f"games, model {md.get('model_version') or '-'} (input {md['input_source']})")


# ----------------------------------------------------------------------------- command line
# `tipoff run`, `tipoff pin`, `tipoff live-runs` (registered by pipeline_assets.cli)

def cmd_run(args) -> int:
    import sys
    log = (lambda m: print(m, file=sys.stderr)) if not args.quiet else None
    if args.until_step != "storage" and not args.output:
        print("tipoff run: --output is required when stopping before storage", file=sys.stderr)
        return 2
    try:
        doc = run(date=args.date, until=args.until_step, from_step=args.from_step,
                  input_path=args.input, as_of=args.as_of, n_sims=args.n_sims, log=log)
    except StepError as exc:
        print(f"tipoff run: {exc}", file=sys.stderr)
        return 2
    except StepFailure as exc:
        print(f"tipoff run: {exc}", file=sys.stderr)
        return 1
    if args.output:
        save_document(doc, args.output)
    print(summary_line(doc) + (f" -> {args.output}" if args.output else ""))
    if "storage" in doc and doc["metadata"]["step"] == "storage":
        for k, v in sorted(doc["storage"]["paths"].items()):
            print(f"  {k}: {v}")
    return 0


def cmd_pin(args) -> int:
    """Pin (or unpin) the run `latest` resolves to for one partition of a run-addressed asset."""
    import sys
    from pipeline_assets.catalog import NotMaterialized, known_assets, run_folder
    from resources import storage
    if (args.run is None) == (not args.unpin):
        print("tipoff pin: give exactly one of --run TOKEN or --unpin", file=sys.stderr)
        return 2
    if args.asset not in known_assets():
        print(f"tipoff pin: unknown asset {args.asset!r}; known: {', '.join(known_assets())}",
              file=sys.stderr)
        return 2
    try:
        folder = run_folder(args.asset, args.partition, args.run or "latest")
        base = folder.parent
        storage.pin_run(base, None if args.unpin else args.run)
    except (ValueError, NotMaterialized, FileNotFoundError) as exc:
        print(f"tipoff pin: {exc}", file=sys.stderr)
        return 2
    now = storage.resolve_run(base).name.removeprefix("run=")
    print(f"{args.asset} {args.partition}: " + (f"pinned to {args.run}" if not args.unpin else
                                                  "unpinned") + f"; latest -> {now}")
    return 0


def cmd_live_runs(args) -> int:
    from pipeline_assets.monitoring import read_live_runs
    from resources.storage import data_root
    df = read_live_runs(data_root(), args.date)
    if df.empty:
        print("no live runs recorded")
        return 0
    cols = [c for c in ("date", "run_as_of_ts", "status", "trigger", "games", "model_version",
                        "snapshot_age_hours", "warnings", "error", "run_id") if c in df.columns]
    df[cols].tail(args.limit).to_csv(__import__("sys").stdout, index=False)
    return 0


def add_subcommands(sub) -> None:
    r = sub.add_parser("run", help="run a live slate step by step (collection, features, "
                                   "prediction, storage) with JSON hand-offs")
    r.add_argument("--date", help="league date YYYY-MM-DD (needed unless resuming)")
    r.add_argument("--until-step", choices=STEPS, default="storage")
    r.add_argument("--from-step", choices=STEPS[1:], help="resume at this step from --input")
    r.add_argument("--input", help="document written by an earlier --output")
    r.add_argument("--output", help="write the document here (required before storage)")
    r.add_argument("--as-of", help="run_as_of_ts for collection (ISO; default: the assets' rule)")
    r.add_argument("--n-sims", type=int, default=10_000, help="Monte Carlo sims per game")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(fn=cmd_run)
    p = sub.add_parser("pin", help="pin which run `latest` means for one partition (or unpin)")
    p.add_argument("asset")
    p.add_argument("--partition", required=True, help="league date YYYY-MM-DD")
    p.add_argument("--run", help="run token YYYYMMDDTHHMMSSZ to pin")
    p.add_argument("--unpin", action="store_true", help="remove the pin (LATEST applies again)")
    p.set_defaults(fn=cmd_pin)
    lr = sub.add_parser("live-runs", help="the run registry of live runs (ops/live_runs.jsonl)")
    lr.add_argument("--date", help="only this league date")
    lr.add_argument("--limit", type=int, default=50)
    lr.set_defaults(fn=cmd_live_runs)
