"""Model and score assets: train -> register -> gate -> (maybe) promote; score through production."""
import json

import dagster as dg
import pandas as pd

from pipeline_assets import training
from pipeline_assets.feature_assets import live_as_of, markdown_table
from pipeline_assets.partitions import DAILY
from pipeline_assets.scoring import score_games
from pipeline_assets.timeutil import parse_ts_token, ts_token
from resources import storage
from resources.dagster_resources import SourceResource, StorageResource
from resources.mlflow_resource import MlflowResource
from resources.predictions_log import PredictionsLog
from resources.registry import ModelRegistry, NoProductionModelError


class RegistryResource(dg.ConfigurableResource):
    """Model registry root (default `<data root>/models`)."""

    root: str = ""

    def get(self) -> ModelRegistry:
        return ModelRegistry(self.root or None)


class PredictionsLogResource(dg.ConfigurableResource):
    """Predictions log database (`TIPOFF_PREDICTIONS_URL`; SQLite under the data root by default)."""

    url: str = ""

    def get(self) -> PredictionsLog:
        return PredictionsLog(self.url or None)


class TrainConfig(dg.Config):
    """`until`: train on games before this date (default: all labelled games).  `fast`: smaller
    hyperparameter grid.  `reason` is recorded with the version (schedule, drift, manual...)."""

    until: str = ""
    fast: bool = False
    reason: str = "manual"
    max_log_loss: float = training.DEFAULT_WIN_FLOORS["max_log_loss"]


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
    return context.run.tags.get("tipoff/retrain_reason") or config.reason


@dg.asset(deps=["gold_game_features"], group_name="models", kinds={"lightgbm", "xgboost", "mlflow"},
          description="Win-probability models (market_free and with_market): season-blocked CV, "
                      "calibrated, versioned v{YYYYMMDD_HHMMSS}, promoted only through the gate.")
def win_model(context: dg.AssetExecutionContext, config: TrainConfig, store: StorageResource,
              registry: RegistryResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    games = storage.read_season_tables("game", store.path())
    if games.empty:
        raise dg.Failure("no gold_game_features yet: backfill history first (history_job)")
    reg = registry.get()
    reports = training.train_win(games, reg, until=config.until or None, fast=config.fast,
                                 floors={"max_log_loss": config.max_log_loss},
                                 log_run=mlflow.log_training, reason=_trigger(context, config))
    for r in reports:
        context.log.info(f"{r.name} {r.version}: {'PROMOTED' if r.promoted else 'kept production'}"
                         f" — {'; '.join(r.reasons)}")
    md = _report_md(reports)
    md.update({f"{r.name}_version": r.version for r in reports})
    md.update({f"{r.name}_production": reg.production_version(r.name) or "none" for r in reports})
    md.update({f"{r.name}_log_loss": r.candidate_metrics["log_loss"] for r in reports})
    return dg.MaterializeResult(metadata=md, tags={"tipoff/promoted": str(any(r.promoted for r in reports))})


@dg.asset(deps=["gold_minutes_features"], group_name="models", kinds={"lightgbm", "mlflow"},
          description="Player-minutes quantile model (p10/p50/p90), versioned and gated on MAE.")
def minutes_model(context: dg.AssetExecutionContext, config: TrainConfig, store: StorageResource,
                  registry: RegistryResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    mins = storage.read_season_tables("minutes", store.path())
    if mins.empty:
        raise dg.Failure("no gold_minutes_features yet: backfill history first (history_job)")
    reg = registry.get()
    r = training.train_minutes(mins, reg, until=config.until or None, fast=config.fast,
                               log_run=mlflow.log_training, reason=_trigger(context, config))
    context.log.info(f"minutes {r.version}: {'PROMOTED' if r.promoted else 'kept production'} — "
                     f"{'; '.join(r.reasons)}")
    md = _report_md([r])
    md.update({"version": r.version, "production": reg.production_version("minutes") or "none",
               "mae": r.candidate_metrics["mae"],
               "coverage_p10_p90": r.candidate_metrics["coverage_p10_p90"]})
    return dg.MaterializeResult(metadata=md)


# ----------------------------------------------------------------------------- scores

def _live_run(name: str, day: str, as_of: pd.Timestamp, root) -> tuple[pd.DataFrame, str]:
    """The newest live feature run at or before `as_of` (the one this scoring run should see)."""
    base = storage.run_artifact_dir("features", name, day, root)
    tokens = [t for t in storage.list_runs(base) if parse_ts_token(t) <= as_of]
    if not tokens:
        raise dg.Failure(f"no live_{name}_features run for {day} at or before {as_of.isoformat()}: "
                         "materialize live features first (live_job)")
    return storage.read_parquet(base / f"run={tokens[-1]}" / "features.parquet"), tokens[-1]


def _load(reg: ModelRegistry, name: str):
    try:
        return reg.load_production(name)
    except NoProductionModelError as exc:
        raise dg.Failure(f"{exc} — materialize win_model / minutes_model (or `tipoff models "
                         "promote`) first") from None


class ScoreConfig(dg.Config):
    run_as_of_ts: str = ""
    n_sims: int = 10_000
    kelly_fraction: float = 0.25
    stake_cap: float = 0.05
    min_edge: float = 0.02


def _write_scores(name: str, day: str, as_of, table: pd.DataFrame, summary: dict, root):
    files = {"table.parquet": storage.parquet_bytes(table),
             "summary.json": json.dumps(summary, indent=2, sort_keys=True, default=str).encode()}
    return storage.write_run_folder(storage.run_artifact_dir("artifacts", name, day, root),
                                    ts_token(as_of), files).path


@dg.asset(deps=["live_game_features", "win_model"], partitions_def=DAILY, group_name="scores",
          kinds={"numba", "parquet"},
          description="Per game: win probability (production market-free model), Monte Carlo "
                      "margin/total distributions, cover/over, de-vigged market, edge, Kelly stake.")
def game_scores(context: dg.AssetExecutionContext, config: ScoreConfig, store: StorageResource,
                registry: RegistryResource, predictions_log: PredictionsLogResource,
                source: SourceResource) -> dg.MaterializeResult:
    from pipeline_assets.scoring import StakePolicy
    root, day = store.path(), context.partition_key
    as_of = live_as_of(context, config, day, root)
    feats, feat_run = _live_run("game", day, as_of, root)
    reg = registry.get()
    free, market = _load(reg, "win_market_free"), _load(reg, "win_with_market")
    odds = storage.read_snapshot_history("odds", [day], root)
    odds = odds[odds["snapshot_ts"] <= as_of]
    table = score_games(feats, free.model["model"].predict_proba(feats),
                        market.model["model"].predict_proba(feats),
                        free.model["baseline"].predict_proba(feats), odds, n_sims=config.n_sims,
                        seed=int(as_of.value // 10**9) % (2**31),
                        policy=StakePolicy(config.kelly_fraction, config.stake_cap, config.min_edge))
    table.insert(0, "run_as_of_ts", as_of)
    summary = {"mode": "live", "date": day, "run_as_of_ts": as_of.isoformat(),
               "model_version": free.version, "with_market_version": market.version,
               "feature_source": f"live/features_game/{day}/run={feat_run}",
               "source": source.name, "games": len(table),
               "bets": int((table["recommendation"] != "none").sum())}
    folder = _write_scores("game_scores", day, as_of, table, summary, root)
    log_rows = table.assign(run_as_of_ts=as_of.isoformat(), model_version=free.version,
                            mode="live", source=source.name,
                            stake=table[["stake_home", "stake_away"]].max(axis=1),
                            logged_at=pd.Timestamp.now(tz="UTC").isoformat())
    logged = predictions_log.get().append(log_rows)
    preview = table[["game_id", "p_home_win", "p_market_home", "edge_home", "margin_p50",
                     "total_p50", "recommendation"]].round(3)
    context.log.info(f"scored {len(table)} games for {day} with {free.version}; {summary['bets']} bets")
    return dg.MaterializeResult(metadata={
        **{k: v for k, v in summary.items() if k != "date"}, "rows": len(table),
        "dagster/row_count": len(table), "logged_predictions": logged,
        "path": dg.MetadataValue.path(str(folder)), "preview": dg.MetadataValue.md(markdown_table(preview))})


@dg.asset(deps=["live_minutes_features", "minutes_model"], partitions_def=DAILY,
          group_name="scores", kinds={"lightgbm", "parquet"},
          description="Per player: p10/p50/p90 minutes, reconciled to 240 per team.")
def minutes_scores(context: dg.AssetExecutionContext, config: ScoreConfig, store: StorageResource,
                   registry: RegistryResource) -> dg.MaterializeResult:
    root, day = store.path(), context.partition_key
    as_of = live_as_of(context, config, day, root)
    feats, feat_run = _live_run("minutes", day, as_of, root)
    loaded = _load(registry.get(), "minutes")
    rec, flags = training.predict_minutes(loaded.model, feats)
    table = feats[["game_id", "game_date", "team_id", "opp_team_id", "player_id", "player_name"]] \
        .reset_index(drop=True).join(rec[["p10", "p50", "p90", "p50_raw"]].reset_index(drop=True))
    table.insert(0, "run_as_of_ts", as_of)
    summary = {"mode": "live", "date": day, "run_as_of_ts": as_of.isoformat(),
               "model_version": loaded.version, "players": len(table),
               "feature_source": f"live/features_minutes/{day}/run={feat_run}",
               "teams_flagged": flags.to_dict("records")}
    folder = _write_scores("minutes_scores", day, as_of, table, summary, root)
    return dg.MaterializeResult(metadata={
        "model_version": loaded.version, "rows": len(table), "dagster/row_count": len(table),
        "teams_flagged_outside_230_260": len(flags), "path": dg.MetadataValue.path(str(folder))})


model_assets = [win_model, minutes_model]
score_assets = [game_scores, minutes_scores]
