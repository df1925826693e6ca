"""A live run as four resumable steps outside Dagster: collection -> features -> prediction -> storage.

`tipoff run --date D --until-step STEP --output F.json` runs the steps up to STEP and writes one JSON
document; `tipoff run --from-step STEP --input F.json [--until-step S] [--output G.json]` resumes
from STEP with a document an earlier invocation wrote.  Each step is the function the Dagster
assets call, with the same configuration objects -- nothing is reimplemented here:

collection  `collect.fetch` of the four snapshot kinds of the date as of run_as_of_ts (given, or
            `timeutil.resolve_as_of`: now for today and later, 5 minutes before the first tip for
            past dates), nothing written yet; a feed that is not required and fails is
            quarantined and named under `failed` (the slate goes on degraded), a required one
            fails the step
features    `featureio.read_live_inputs` (the store's snapshot runs at or before the as-of plus
            the collected ones) and `featureio.build_live` with the store's label history
prediction  `scoring.score_game_table` / `scoring.score_minutes_table` through the registry's
            production models, with the `StakePolicy` given on the command line; each game
            record also carries `rating` (the predicted game rating, `ratings.predicted_rating_of`)
            and `features` (its components {input, value, weight, points}), outside `columns`;
            `shadow` holds the slate scored by the shadow market-free model (`scoring.score_shadow`)
storage     `collect.write_snapshot`, `featureio.write_live`, `scoring.write_score_run`, the
            predictions log (`scoring.prediction_log_rows`, plus `scoring.shadow_log_rows` with
            role=shadow) and a run-registry entry (ops/live_runs.jsonl)

So `tipoff run` and `live_job` for the same date and as-of on the same store write the same files.

The document: ``{"metadata": {step, timestamp, target_date, total_games, input_source,
model_version, run_as_of_ts, steps, format, failed_feeds, degraded, degraded_feeds},
"collection": ..., "features": ..., ...}`` -- every step's data is kept, so a later step can
start from any earlier document.  Tables are
``{"columns", "dtypes", "records"}`` (timestamps ISO 8601 UTC).
"""
from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from pathlib import Path

import pandas as pd

from pipeline_assets import collect, ratings, scoring
from pipeline_assets.featureio import (LiveInputError, LivePolicy, LiveResult, build_live,
                                       load_history, odds_at, read_live_inputs, slate_health,
                                       write_live)
from pipeline_assets.monitoring.live_runs import append_live_run
from resources import storage
from resources.predictions_log import PredictionsLog
from resources.registry import ModelRegistry, NoProductionModelError
from resources.sources import source_from_env
from resources.sources.base import Extract
from tipoff_core import catalog
from tipoff_core.schemas import SNAPSHOT_KINDS, restore_dtypes
from tipoff_core.timeutil import now_utc, parse_as_of, resolve_as_of, ts_token, utc

STEPS = ("collection", "features", "prediction", "storage")
FORMAT = "tipoff-steps/2"
VIA = "tipoff run"


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
        try:
            if t.startswith("datetime64"):
                s = pd.to_datetime(s, utc=True, format="ISO8601")
                df[c] = s.astype(t) if "UTC" in t else s
            elif t in ("int64", "Int64", "boolean", "float64", "bool"):
                df[c] = (s.astype(float) if t == "float64" else s.astype(t))
            elif t in ("str", "string"):
                df[c] = s.astype(t)
            else:
                df[c] = s.astype(object).where(s.notna(), None)
        except (TypeError, ValueError) as exc:
            raise StepError(f"column {c!r} has a value that is not {t}: {exc}") from None
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
        _check_section(doc[s], SECTION_KEYS[s], f"input file {p}: section {s!r}")
    where = f"input file {p}: section 'collection'"
    failed = doc["collection"].get("failed") or {}
    for kind in SNAPSHOT_KINDS:
        if kind in doc["collection"]["snapshots"] or kind not in failed:
            _check_section(doc["collection"]["snapshots"].get(kind), SNAPSHOT_BLOCK,
                           f"{where}.snapshots.{kind}")
    return doc


TABLE_KEYS = {"columns": list, "records": list}
SNAPSHOT_BLOCK = {"table": TABLE_KEYS, "raw": dict, "endpoint": str, "source": str}
SECTION_KEYS: dict[str, dict] = {
    # every kind is in `snapshots`, or in `failed` when its fetch failed (a degraded slate)
    "collection": {"target_date": str, "run_as_of_ts": str, "source": str,
                   "snapshots": {"schedule": SNAPSHOT_BLOCK}},
    "features": {"games": TABLE_KEYS, "minutes": TABLE_KEYS, "coverage": TABLE_KEYS,
                 "summary": dict},
    "prediction": {"games": TABLE_KEYS, "minutes": TABLE_KEYS, "teams_flagged": TABLE_KEYS,
                   "model_versions": dict},
    "storage": {"paths": dict},
}


def _check_section(obj, spec: dict, where: str) -> None:
    """A hand-made or damaged document fails here, naming the missing or mistyped key."""
    if not isinstance(obj, dict):
        raise StepError(f"{where} is not an object")
    for key, want in spec.items():
        if key not in obj:
            raise StepError(f"{where} has no {key!r} (was it written by `tipoff run --output`?)")
        if isinstance(want, dict):
            _check_section(obj[key], want, f"{where}.{key}")
        elif not isinstance(obj[key], want):
            raise StepError(f"{where}.{key} should be a {want.__name__}, not "
                            f"{type(obj[key]).__name__}")
    if spec is TABLE_KEYS and any(not isinstance(r, dict) for r in obj["records"]):
        raise StepError(f"{where}.records must be a list of objects")


def save_document(doc: dict, path: str | Path) -> Path:
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
    live = (doc.get("features") or {}).get("summary") or {}  # degraded: feeds gone without, why
    md.update(degraded=bool(live.get("degraded")), degraded_feeds=live.get("degraded_feeds") or {})
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
               "failed_feeds": sorted(c.get("failed") or {}),
               "steps": list(STEPS[:STEPS.index(step) + 1]), "format": FORMAT})
    return md


# ----------------------------------------------------------------------------- the steps

def _extract_block(ex: Extract) -> dict:
    return {"table": table_to_json(ex.table), "raw": _raw_to_json(ex.raw), "endpoint": ex.endpoint,
            "source": ex.source, "notes": ex.notes}


def _extracts(c: dict) -> dict[str, Extract]:
    """The collected snapshots back as Extracts (canonical dtypes)."""
    return {kind: Extract(kind, restore_dtypes(table_from_json(b["table"]), kind),
                          _raw_from_json(b["raw"]), b["endpoint"], b["source"], b.get("notes", {}))
            for kind, b in c["snapshots"].items()}


def _pending(c: dict) -> dict[tuple[str, str], pd.DataFrame]:
    return {(kind, c["target_date"]): ex.table for kind, ex in _extracts(c).items()}


def collection(day: str, source, root: Path, as_of: pd.Timestamp | None = None,
               required: tuple[str, ...] = ("schedule",), log=None) -> dict:
    """The date's four snapshots as of `as_of` (default: the one as-of rule).  A feed outside
    `required` that fails is quarantined (`collect.fetch`) and named under `failed`; the slate
    goes on without it."""
    def fetch(kind, t):
        try:
            return collect.fetch(source, kind, day, t, root)
        except collect.CollectError as exc:
            raise StepFailure(f"collection: {exc}") from None

    rule = "given" if as_of is not None else \
        "default (now for today and later, 5 min before the first tip for past dates)"
    now = now_utc()
    as_of = resolve_as_of(day, as_of, now, lambda: fetch("schedule", now).table["tip_ts"])
    snapshots, failed = {}, {}
    for kind in SNAPSHOT_KINDS:
        try:
            snapshots[kind] = _extract_block(collect.fetch(source, kind, day, as_of, root))
        except collect.CollectError as exc:
            if kind in required:
                raise StepFailure(f"collection: {exc}") from None
            err = exc.error
            failed[kind] = {"error": str(exc), "source": err.source, "endpoint": err.endpoint,
                            "field": err.field, "quarantined": str(exc.kept or "")}
            if log:
                log(f"[tipoff run] collection: {kind} FAILED, going on without it: {exc}")
    return {"target_date": day, "run_as_of_ts": as_of.isoformat(), "as_of_rule": rule,
            "source": getattr(source, "name", str(source)), "snapshots": snapshots,
            "failed": failed}


def features(c: dict, root: Path, policy: LivePolicy) -> LiveResult:
    """Live features of the collected snapshots plus the store's earlier runs and labels."""
    day, as_of = c["target_date"], utc(c["run_as_of_ts"])
    failures = {k: v["error"] for k, v in (c.get("failed") or {}).items()}
    try:
        inputs = read_live_inputs(day, as_of, root, policy, _pending(c), failures)
        return build_live(day, as_of, inputs, load_history(root, day), policy)
    except LiveInputError as exc:
        raise StepFailure(f"features: {exc}") from None


def features_block(result: LiveResult) -> dict:
    return {"games": table_to_json(result.games), "minutes": table_to_json(result.minutes),
            "coverage": table_to_json(result.coverage), "summary": result.summary}


def _live_result(f: dict) -> LiveResult:
    return LiveResult(table_from_json(f["games"]), table_from_json(f["minutes"]), f["summary"],
                      table_from_json(f["coverage"]))


def prediction(c: dict, f: dict, root: Path, registry: ModelRegistry,
               stake_policy: scoring.StakePolicy, n_sims: int) -> dict:
    """Game scores and minutes predictions with the production models."""
    day, as_of = c["target_date"], utc(c["run_as_of_ts"])
    live = _live_result(f)
    try:
        models = scoring.load_production_models(registry)
    except NoProductionModelError as exc:
        raise StepFailure(f"prediction: {exc}") from None
    odds = odds_at(day, as_of, root, _pending(c), live.summary)
    games = scoring.score_game_table(live.games, live.minutes, models, odds, as_of, stake_policy,
                                     n_sims)
    mins, flags = scoring.score_minutes_table(live.minutes, models.minutes, as_of)
    shadow = scoring.load_shadow_model(registry, models)
    shadow_games, problem = scoring.score_shadow(live.games, live.minutes, shadow, models, odds,
                                                 as_of, stake_policy, n_sims)
    return {"games": with_predicted_ratings(table_to_json(games), games, live.games),
            "minutes": table_to_json(mins),
            "teams_flagged": table_to_json(flags), "n_sims": n_sims,
            "stake_policy": dataclasses.asdict(stake_policy), "model_versions": models.versions(),
            "shadow": {"version": shadow.version, "problem": problem,
                       "games": None if shadow_games is None else table_to_json(shadow_games)}}


def with_predicted_ratings(block: dict, games: pd.DataFrame, features: pd.DataFrame) -> dict:
    """Each game record also carries `rating` (its predicted game rating, docs/RATING.md) and
    `features` (the components it is made of).  They stay out of `columns`, so the stored
    `game_scores` table is the one `live_job` writes."""
    by_game = {str(r["game_id"]): r for r in features.to_dict("records")}
    teams = ratings.franchises()
    for rec, row in zip(block["records"], games.to_dict("records")):
        score, comps, _ = ratings.predicted_rating_of(row, by_game.get(str(row["game_id"])), teams)
        rec["rating"] = round(score, 4)
        rec["features"] = ratings.rating_features(comps)
    return block


def storage_step(doc: dict, root: Path, predictions_log: PredictionsLog,
                 registry: ModelRegistry) -> dict:
    """Write snapshot / live feature / score run folders, the predictions log, the run registry."""
    c, f, p = doc["collection"], doc["features"], doc["prediction"]
    day, as_of = c["target_date"], utc(c["run_as_of_ts"])
    live = _live_result(f)
    games, mins = table_from_json(p["games"]), table_from_json(p["minutes"])
    flags = table_from_json(p["teams_flagged"])
    versions = p["model_versions"]
    models = _models_of(registry, versions)
    paths: dict[str, str] = {}
    try:
        for kind, ex in _extracts(c).items():
            paths[catalog.snapshot(kind).asset] = str(collect.write_snapshot(ex, day, as_of, root).path)
        for fs in ("game", "minutes"):
            paths[catalog.feature("live", fs).asset] = str(write_live(live, fs, day, as_of, root))
        feat_run = ts_token(as_of)
        summary = scoring.game_summary(games, day, as_of, models, feat_run, c["source"], VIA)
        summary.update(slate_health(f["summary"]))
        paths["game_scores"] = str(scoring.write_score_run("game_scores", day, as_of, games,
                                                           summary, root))
        msummary = scoring.minutes_summary(mins, flags, day, as_of, models.minutes, feat_run, VIA)
        paths["minutes_scores"] = str(scoring.write_score_run("minutes_scores", day, as_of, mins,
                                                              msummary, root))
    except storage.RunExistsError as exc:
        raise StepFailure(f"storage: {exc}") from None
    logged = predictions_log.append(scoring.prediction_log_rows(
        games, as_of, versions[scoring.WIN_FREE], c["source"])) if len(games) else 0
    shadow = p.get("shadow") or {}  # documents from before shadow scoring have none
    shadow_games = table_from_json(shadow["games"]) if shadow.get("games") else None
    shadow_logged = predictions_log.append(scoring.shadow_log_rows(
        shadow_games, as_of, shadow.get("version"), c["source"]))
    entry = {"run_id": f"cli-{uuid.uuid4().hex[:12]}", "mode": "cli", "job": VIA,
             "status": "SUCCESS", "date": day, "run_as_of_ts": as_of.isoformat(),
             "trigger": VIA, "snapshot_age_hours": f["summary"].get("snapshot_age_hours"),
             "warnings": f["summary"].get("warnings", []), "games": len(games),
             "model_version": versions[scoring.WIN_FREE], "bets": summary["bets"], "error": None,
             "degraded": summary["degraded"], "degraded_feeds": summary["degraded_feeds"]}
    paths["live_runs"] = str(append_live_run(entry, root))
    return {"paths": paths, "predictions_logged": int(logged),
            "shadow_version": shadow.get("version"), "shadow_predictions_logged": int(shadow_logged),
            "live_run": entry}


def _models_of(registry: ModelRegistry, versions: dict[str, str]) -> scoring.ProductionModels:
    """The model versions a prediction document names (for the summaries storage writes)."""
    names = (scoring.WIN_FREE, scoring.WIN_MARKET, scoring.MINUTES)
    missing = [n for n in names if not isinstance(versions.get(n), str)]
    if missing:
        raise StepError(f"prediction.model_versions has no version for {', '.join(missing)}")
    try:
        return scoring.ProductionModels(*(registry.load(name, versions[name]) for name in
                                          (scoring.WIN_FREE, scoring.WIN_MARKET, scoring.MINUTES)))
    except LookupError as exc:
        raise StepFailure(f"storage: {exc}") from None


# ----------------------------------------------------------------------------- orchestration

def run(*, date: str | None = None, until: str = "storage", from_step: str | None = None,
        input_path: str | None = None, as_of: str | None = None, root: Path | None = None,
        source=None, registry: ModelRegistry | None = None,
        predictions_log: PredictionsLog | None = None, n_sims: int = scoring.DEFAULT_N_SIMS,
        policy: LivePolicy | None = None, stake_policy: scoring.StakePolicy | None = None,
        log=None) -> dict:
    """Run steps and return the document (see module docstring)."""
    if until not in STEPS:
        raise StepError(f"--until-step must be one of {', '.join(STEPS)}")
    root = root or storage.data_root()
    if from_step is None:
        if not date:
            raise StepError("--date is required unless resuming with --from-step/--input")
        try:
            catalog.check_partition(date)
        except catalog.BadKeyError as exc:
            raise StepError(f"--date: {exc}") from None
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
            parsed_as_of = parse_as_of(as_of)
        except ValueError as exc:
            raise StepError(f"--as-of: {exc}") from None
    policy = policy or LivePolicy()
    stake_policy = stake_policy or scoring.StakePolicy()
    registry = registry or ModelRegistry()

    for step in STEPS[STEPS.index(start):STEPS.index(until) + 1]:
        if log:
            log(f"[tipoff run] {step} ...")
        if step == "collection":
            doc["collection"] = collection(date, source or source_from_env(), root, parsed_as_of,
                                           policy.required, log)
            input_source = input_source or f"source:{doc['collection']['source']}"
        elif step == "features":
            doc["features"] = features_block(features(doc["collection"], root, policy))
        elif step == "prediction":
            doc["prediction"] = prediction(doc["collection"], doc["features"], root, registry,
                                           stake_policy, n_sims)
        elif step == "storage":
            doc["storage"] = storage_step(doc, root, predictions_log or PredictionsLog(), registry)
        doc["metadata"] = _metadata(doc, step, input_source)
    return doc


def materialization_events(doc: dict) -> list[dict]:
    """What a stored document wrote, as Dagster should record it (`asset`, `partition`,
    `metadata`): one materialization per asset written by the storage step, so the UI's partition
    status is true for slates stored by `tipoff run` (the CLI reports them to the instance)."""
    st = doc.get("storage")
    if not st:
        return []
    md = doc["metadata"]
    common = {"via": VIA, "run_as_of_ts": md["run_as_of_ts"], "live_run": st["live_run"]["run_id"]}
    extra = {"game_scores": {"games": md["total_games"], "model_version": md.get("model_version"),
                             "bets": st["live_run"]["bets"], "degraded": bool(md.get("degraded")),
                             "logged_predictions": st["predictions_logged"]}}
    return [{"asset": asset, "partition": md["target_date"],
             "metadata": {**common, "path": path, **extra.get(asset, {})}}
            for asset, path in sorted(st["paths"].items()) if asset in catalog.known_assets()]


def summary_line(doc: dict) -> str:
    md = doc["metadata"]
    line = (f"{md['step']}: {md['target_date']} as of {md['run_as_of_ts']}, {md['total_games']} "
            f"games, model {md.get('model_version') or '-'} (input {md['input_source']})")
    if md.get("degraded"):
        line += "; DEGRADED: " + "; ".join(f"{k}: {why}" for k, why in md["degraded_feeds"].items())
    elif md.get("failed_feeds"):
        line += f"; FAILED FEEDS: {', '.join(md['failed_feeds'])}"
    return line
