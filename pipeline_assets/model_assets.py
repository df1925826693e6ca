"""Model and score assets: train -> register -> gate -> (maybe) promote; score through production.

Thin wrappers: training is `training`, scoring and storing a slate is `scoring` (the step runner
calls the same functions).
"""

import json

import dagster as dg
import pandas as pd

from pipeline_assets import mlflow_models, scoring, training
from pipeline_assets.feature_assets import live_as_of
from pipeline_assets.featureio import (LiveInputError, box_history, live_feature_run,
                                       live_feature_summary, odds_at, slate_health)
from pipeline_assets.metadata import calibration_markdown, importance_markdown, markdown_table
from pipeline_assets.partitions import DAILY
from resources import storage
from resources.dagster_resources import (MlflowResource, PredictionsLogResource, RegistryResource,
                                         SourceResource, StorageResource)
from resources.registry import NoProductionModelError
from tipoff_core import catalog
from tipoff_core.tags import PROMOTED_TAG, RETRAIN_MANUAL, RETRAIN_TAG


class TrainConfig(dg.Config):
    """`until`: train on games before this date (default: all labelled games).  `fast`: smaller
    hyperparameter grid.  `reason` is recorded with the version (schedule, drift, manual...)."""

    until: str = ""
    fast: bool = False
    reason: str = RETRAIN_MANUAL
    max_log_loss: float = training.DEFAULT_WIN_FLOORS["max_log_loss"]
    shadow_min_games: int = training.SHADOW_MIN_GAMES


def _report_md(reports) -> dict:
    rows = [{"model": r.name, "version": r.version, "promoted": r.promoted,
             "candidate": json.dumps({k: round(v, 4) for k, v in r.candidate_metrics.items()}),
             "production_before": r.production_version or "none",
             "production_metrics": json.dumps({k: round(v, 4) for k, v in (r.production_metrics or {}).items()}),
             "train_rows": r.train_rows, "gate_window": " .. ".join(r.window),
             "seconds": round(r.seconds, 1)} for r in reports]
    return {"versions": dg.MetadataValue.md(markdown_table(pd.DataFrame(rows))),
            "gate_reasons": dg.MetadataValue.md("\n".join(f"- **{r.name}**: " + "; ".join(r.reasons)
                                                          for r in reports))}


def _trigger(context, config: TrainConfig) -> str:
    return context.run.tags.get(RETRAIN_TAG) or config.reason


def _gold(store: StorageResource, feature_set: str) -> pd.DataFrame:
    table = storage.read_season_tables(catalog.feature("gold", feature_set), store.path())
    if table.empty:
        raise dg.Failure(f"no {catalog.feature('gold', feature_set).asset} yet: backfill "
                         "history first (history_job)")
    return table


@dg.asset(deps=["gold_game_features", "gold_minutes_features", "player_box_scores"],
          group_name="models", kinds={"sklearn", "lightgbm", "mlflow"},
          description="Win-probability models: market-free (expected-lineup strength: who plays "
                      "x how good, logistic regression with recency weights and a home flag) and "
                      "with-market (the market's probability stacked with it); versioned "
                      "v{YYYYMMDD_HHMMSS}, promoted only through the gate.")
def win_model(context: dg.AssetExecutionContext, config: TrainConfig, store: StorageResource,
              registry: RegistryResource, mlflow: MlflowResource,
              predictions_log: PredictionsLogResource) -> dg.MaterializeResult:
    games, players = _gold(store, "game"), _gold(store, "minutes")
    reg, tracking = registry.get(), mlflow.get()
    reports = training.train_win(games, players, box_history(store.path()), reg,
                                 until=config.until or None, fast=config.fast,
                                 floors={"max_log_loss": config.max_log_loss},
                                 **_mlflow_hooks(context, reg, tracking),
                                 reason=_trigger(context, config),
                                 predictions_log=predictions_log.get(),
                                 shadow_min_games=config.shadow_min_games)
    for r in reports:
        context.log.info(f"{r.name} {r.version}: {'PROMOTED' if r.promoted else 'kept production'}"
                         f" -- {'; '.join(r.reasons)}")
    md = _report_md(reports)
    md.update({f"{r.name}_version": r.version for r in reports})
    md.update({f"{r.name}_production": reg.production_version(r.name) or "none" for r in reports})
    md.update({f"{r.name}_log_loss": r.candidate_metrics["log_loss"] for r in reports})
    md["lineup"] = dg.MetadataValue.json(reports[0].extra["lineup"])
    md.update(_mlflow_links(context, tracking, reports))
    md["calibration"] = dg.MetadataValue.md(calibration_markdown(
        {r.name: (r.extra["y_window"], r.extra["p_window"]) for r in reports}))
    md["feature_importance"] = dg.MetadataValue.md(importance_markdown(
        reports[0].extra["lineup"]["coef"], f"{reports[0].name}: feature weights",
        "logistic coefficient (per standard deviation; home_flag per unit)"))
    return dg.MaterializeResult(metadata=md, tags={PROMOTED_TAG: str(any(r.promoted for r in reports))})


@dg.asset(deps=["gold_minutes_features", "player_box_scores"], group_name="models",
          kinds={"lightgbm", "mlflow"},
          description="Player-minutes quantile model (p10/p50/p90 if he plays) with P(plays) from "
                      "the availability model, versioned and gated on MAE.")
def minutes_model(context: dg.AssetExecutionContext, config: TrainConfig, store: StorageResource,
                  registry: RegistryResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    reg, tracking = registry.get(), mlflow.get()
    r = training.train_minutes(_gold(store, "minutes"), box_history(store.path()), reg,
                               until=config.until or None, fast=config.fast,
                               **_mlflow_hooks(context, reg, tracking),
                               reason=_trigger(context, config))
    context.log.info(f"minutes {r.version}: {'PROMOTED' if r.promoted else 'kept production'} -- "
                     f"{'; '.join(r.reasons)}")
    md = _report_md([r])
    md.update({"version": r.version, "production": reg.production_version("minutes") or "none",
               "mae": r.candidate_metrics["mae"],
               "coverage_p10_p90": r.candidate_metrics["coverage_p10_p90"]})
    md.update(_mlflow_links(context, tracking, [r]))
    return dg.MaterializeResult(metadata=md)


def _mlflow_hooks(context, reg, tracking) -> dict:
    """Training's MLflow hooks: log each model as an MLflow model, then mirror the registry's
    versions, states and `production` alias into MLflow (failures are warnings)."""
    return mlflow_models.TrainingHooks(reg, tracking, context.log).kwargs()


def _mlflow_links(context, tracking, reports) -> dict:
    """`<name>_mlflow_run`: the run in the MLflow UI (TIPOFF_MLFLOW_UI_URL), per model."""
    out = {}
    for r in reports:
        run_id = r.extra.get("mlflow_run_id")
        if not run_id:
            continue
        try:
            out[f"{r.name}_mlflow_run"] = dg.MetadataValue.url(tracking.run_url(run_id))
        except Exception as exc:  # noqa: BLE001 - a link is not worth failing the asset
            context.log.warning(f"no MLflow link for {r.name}: {exc}")
    return out


# ----------------------------------------------------------------------------- scores

class ScoreConfig(dg.Config):
    """As-of and stake policy of a scoring run (defaults: `scoring.StakePolicy`)."""

    run_as_of_ts: str = ""
    n_sims: int = scoring.DEFAULT_N_SIMS
    kelly_fraction: float = scoring.StakePolicy.kelly_fraction
    stake_cap: float = scoring.StakePolicy.cap
    min_edge: float = scoring.StakePolicy.min_edge
    spread_min_edge: float = scoring.StakePolicy.spread_min_edge
    total_min_edge: float = scoring.StakePolicy.total_min_edge

    def policy(self) -> scoring.StakePolicy:
        return scoring.StakePolicy(self.kelly_fraction, self.stake_cap, self.min_edge,
                                   self.spread_min_edge, self.total_min_edge)


def _production(load):
    try:
        return load()
    except NoProductionModelError as exc:
        raise dg.Failure(f"{exc} -- materialize win_model / minutes_model (or `tipoff models "
                         "promote`) first") from None


def _features(feature_set: str, day: str, as_of: pd.Timestamp, root) -> tuple[pd.DataFrame, str]:
    try:
        return live_feature_run(feature_set, day, as_of, root)
    except LiveInputError as exc:
        raise dg.Failure(str(exc)) from None


@dg.asset(deps=["live_game_features", "live_minutes_features", "win_model"], partitions_def=DAILY,
          group_name="scores",
          kinds={"numba", "parquet"}, backfill_policy=dg.BackfillPolicy.single_run(),
          description="Per game: win probability (production market-free model), Monte Carlo "
                      "margin/total distributions, cover/over, de-vigged market, edge, Kelly stake; "
                      "one spread and one total recommendation (line, price, push-aware Kelly). "
                      "The shadow market-free model (newest candidate that passed training) scores "
                      "the same slate into the predictions log only (role=shadow).")
def game_scores(context: dg.AssetExecutionContext, config: ScoreConfig, store: StorageResource,
                registry: RegistryResource, predictions_log: PredictionsLogResource,
                source: SourceResource) -> dg.MaterializeResult:
    root = store.path()
    models = _production(lambda: scoring.load_production_models(registry.get()))
    for problem in models.fallbacks().values():
        context.log.warning(problem)
    shadow = scoring.load_shadow_model(registry.get(), models)
    log = predictions_log.get()
    tables, logged, shadow_logged, shadow_problems, folder = [], 0, 0, [], None
    degraded_dates: list[str] = []
    for day in context.partition_keys:
        as_of = live_as_of(context, config, day, root)
        feats, feat_run = _features("game", day, as_of, root)
        players, _ = _features("minutes", day, as_of, root)
        live_summary = live_feature_summary("game", day, feat_run, root)
        odds = odds_at(day, as_of, root, live_summary=live_summary)
        table = scoring.score_game_table(feats, players, models, odds, as_of, config.policy(),
                                         config.n_sims)
        summary = scoring.game_summary(table, day, as_of, models, feat_run, source.name, "dagster")
        # degraded slate: which feeds the features went without, and why (featureio.build_live)
        summary.update(slate_health(live_summary))
        if summary["degraded"]:
            degraded_dates.append(day)
            context.log.warning(f"game_scores {day}: DEGRADED slate -- " + "; ".join(
                f"{k}: {why}" for k, why in summary["degraded_feeds"].items()))
        folder = scoring.write_score_run("game_scores", day, as_of, table, summary, root)
        logged += log.append(scoring.prediction_log_rows(table, as_of, models.free.version,
                                                         source.name))
        shadow_table, problem = scoring.score_shadow(feats, players, shadow, models, odds, as_of,
                                                     config.policy(), config.n_sims)
        if problem and problem not in shadow_problems:
            context.log.warning(problem)
            shadow_problems.append(problem)
        shadow_logged += log.append(scoring.shadow_log_rows(shadow_table, as_of, shadow.version,
                                                            source.name))
        context.log.info(f"scored {len(table)} games for {day} with {models.free.version}; "
                         f"{summary['bets']} bets" + (f"; shadow {shadow.version} logged "
                                                      f"{0 if shadow_table is None else len(shadow_table)}"
                                                      if shadow.version else ""))
        tables.append(table)
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    preview = table[["game_id", "p_home_win", "p_market_home", "edge_home", "margin_p50",
                     "total_p50", "recommendation"]].round(3)
    return dg.MaterializeResult(metadata={
        **{k: v for k, v in summary.items() if k not in ("date", "games", "bets",
                                                          "model_fallbacks", "degraded_feeds",
                                                          "snapshot_age_hours")},
        "degraded": bool(degraded_dates), "degraded_dates": ", ".join(degraded_dates),
        "degraded_feeds": dg.MetadataValue.json(summary["degraded_feeds"]),
        "snapshot_age_hours": dg.MetadataValue.json(summary["snapshot_age_hours"] or {}),
        "model_fallbacks": dg.MetadataValue.json(models.fallbacks()),
        "games": len(table), "bets": int((table["recommendation"] != "none").sum()),
        "dates": len(tables), "rows": len(table), "dagster/row_count": len(table),
        "logged_predictions": logged, "shadow_version": shadow.version or "none",
        "shadow_logged_predictions": shadow_logged,
        "shadow_problems": dg.MetadataValue.json(shadow_problems),
        "path": dg.MetadataValue.path(str(folder)),
        "preview": dg.MetadataValue.md(markdown_table(preview))})


@dg.asset(deps=["live_minutes_features", "minutes_model"], partitions_def=DAILY,
          group_name="scores", kinds={"lightgbm", "parquet"},
          backfill_policy=dg.BackfillPolicy.single_run(),
          description="Per player: p10/p50/p90 minutes, reconciled to 240 per team.")
def minutes_scores(context: dg.AssetExecutionContext, config: ScoreConfig, store: StorageResource,
                   registry: RegistryResource) -> dg.MaterializeResult:
    root = store.path()
    minutes = _production(lambda: registry.get().load_production(scoring.MINUTES))
    for problem in scoring.fallbacks({scoring.MINUTES: minutes}).values():
        context.log.warning(problem)
    rows = flagged = 0
    folder = None
    for day in context.partition_keys:
        as_of = live_as_of(context, config, day, root)
        feats, feat_run = _features("minutes", day, as_of, root)
        table, flags = scoring.score_minutes_table(feats, minutes, as_of)
        summary = scoring.minutes_summary(table, flags, day, as_of, minutes, feat_run, "dagster")
        folder = scoring.write_score_run("minutes_scores", day, as_of, table, summary, root)
        rows, flagged = rows + len(table), flagged + len(flags)
    return dg.MaterializeResult(metadata={
        "model_version": minutes.version, "rows": rows,
        "model_fallbacks": dg.MetadataValue.json(scoring.fallbacks({scoring.MINUTES: minutes})), "dagster/row_count": rows,
        "dates": len(context.partition_keys), "teams_flagged_outside_230_260": flagged,
        "path": dg.MetadataValue.path(str(folder))})


model_assets = [win_model, minutes_model]
score_assets = [game_scores, minutes_scores]


# ----------------------------------------------------------------------------- model checks
# Cheap: they read the registry's table and each checked version's features.txt /
# metadata.json (no model is unpickled, no feature partition is read).

def _feature_check(reg, names: list[str]) -> dg.AssetCheckResult:
    checked = {n: training.versions_to_check(reg, n) for n in names}
    problems = [p for n in names for p in training.feature_problems(reg, n, checked[n])]
    empty = not any(checked.values())  # nothing to check yet: a warning, not an error
    if empty:
        problems = [f"no version of {', '.join(names)} registered yet"]
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN if empty else dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or "feature lists equal the current schema's "
                                            f"({training.FEATURE_SCHEMA_VERSION})",
        metadata={"checked_versions": dg.MetadataValue.json(checked),
                  "feature_schema_version": training.FEATURE_SCHEMA_VERSION,
                  "problems": dg.MetadataValue.json(problems)})


def _gate_check(reg, names: list[str]) -> dg.AssetCheckResult:
    outcomes = {n: training.gate_outcome(reg, n) for n in names}
    refused = [n for n, o in outcomes.items() if o["passed"] is not True]
    return dg.AssetCheckResult(
        passed=not refused, severity=dg.AssetCheckSeverity.WARN,
        description=("; ".join(f"{n} {outcomes[n]['version']}: {outcomes[n]['reason']}"
                               for n in refused)
                     or "the newest versions passed the promotion gate"),
        metadata={n: dg.MetadataValue.json(o) for n, o in outcomes.items()})


@dg.asset_check(asset=win_model, name="feature_list_matches_schema",
                description="The newest and the production win versions were trained on the "
                            "current feature schema: feature lists equal what this code trains.")
def win_model_features(registry: RegistryResource) -> dg.AssetCheckResult:
    return _feature_check(registry.get(), [training.WIN_FREE, training.WIN_MARKET])


@dg.asset_check(asset=win_model, name="promotion_gate",
                description="The newest win versions passed the promotion gate (a refused "
                            "candidate leaves production as it was: a warning, not an error).")
def win_model_gate(registry: RegistryResource) -> dg.AssetCheckResult:
    return _gate_check(registry.get(), [training.WIN_FREE, training.WIN_MARKET])


@dg.asset_check(asset=minutes_model, name="feature_list_matches_schema",
                description="The newest and the production minutes versions were trained on the "
                            "current feature schema.")
def minutes_model_features(registry: RegistryResource) -> dg.AssetCheckResult:
    return _feature_check(registry.get(), [training.MINUTES_NAME])


@dg.asset_check(asset=minutes_model, name="promotion_gate",
                description="The newest minutes version passed the promotion gate (warning).")
def minutes_model_gate(registry: RegistryResource) -> dg.AssetCheckResult:
    return _gate_check(registry.get(), [training.MINUTES_NAME])


model_checks = [win_model_features, win_model_gate, minutes_model_features, minutes_model_gate]
