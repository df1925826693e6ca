"""The `model_performance` asset: a thin wrapper over `monitoring.report`."""

import os

import dagster as dg
import numpy as np

from pipeline_assets.monitoring.clv import MARKETS, clv_markdown
from pipeline_assets.monitoring.shadow import shadow_markdown
from pipeline_assets.monitoring.report import (DRIFT_DAYS, PSI_DAYS, ROLLING_DAYS, ROLLING_GAMES,
                                               WINDOWS, calibration_markdown, performance_report,
                                               windows_markdown, write_report)
from pipeline_assets.partitions import DAILY, AsOfConfig, explicit_as_of, run_created_ts
from resources.dagster_resources import RegistryResource, StorageResource
from resources.predictions_log import PredictionsLog
from tipoff_core.tags import LAYER_TAG


class PerformanceConfig(AsOfConfig):
    """`run_as_of_ts` (or the run tag; default: the run's start) bounds what is evaluated: score
    runs and results known by then.  Window lengths are configurable."""

    drift_days: int = DRIFT_DAYS
    psi_days: int = PSI_DAYS
    rolling_games: int = ROLLING_GAMES
    rolling_days: int = ROLLING_DAYS


def _predictions_log(root) -> PredictionsLog | None:
    """The predictions log the scorers wrote (`TIPOFF_PREDICTIONS_URL`, else the SQLite file under
    the store's root); None when there is none yet (nothing is created here)."""
    if os.environ.get("TIPOFF_PREDICTIONS_URL"):
        return PredictionsLog()
    path = root / "predictions.db"
    return PredictionsLog(f"sqlite:///{path}") if path.is_file() else None


@dg.asset(deps=["game_scores", "minutes_scores", "game_results", "player_box_scores",
                "live_game_features", "gold_game_features"],
          partitions_def=DAILY, group_name="monitoring", kinds={"parquet"},
          backfill_policy=dg.BackfillPolicy.single_run(), tags={LAYER_TAG: "monitoring"},
          description="Next-day validation of the production models: accuracy, log loss, Brier, "
                      "calibration, coverage, minutes MAE/interval coverage for the date, the last "
                      "50 games, the last 14 days and the production version's recent games; PSI of "
                      "the top features vs the training window; shadow vs production on the same "
                      "games (predictions log); closing-line value of the logged recommendations "
                      "(mean and % beating the close per market).  Read by drift_sensor.")
def model_performance(context: dg.AssetExecutionContext, config: PerformanceConfig,
                      store: StorageResource, registry: RegistryResource) -> dg.MaterializeResult:
    root = store.path()
    as_of = explicit_as_of(context, config) or run_created_ts(context)
    reg = registry.get()
    plog = _predictions_log(root)
    report = None
    folders = []
    for day in context.partition_keys:
        report = performance_report(day, root, reg, as_of, drift_days=config.drift_days,
                                    psi_days=config.psi_days, rolling_games=config.rolling_games,
                                    rolling_days=config.rolling_days, predictions_log=plog)
        folders.append(write_report(report, root).path)
        d = report.table.set_index("window")
        context.log.info(f"model_performance {day}: day n={int(d.loc['day', 'n_evaluated'])} "
                         f"ll={d.loc['day', 'log_loss']:.4f}; last 14 days "
                         f"n={int(d.loc['last_14_days', 'n_evaluated'])} "
                         f"ll={d.loc['last_14_days', 'log_loss']:.4f} "
                         f"acc={d.loc['last_14_days', 'accuracy']:.3f}")
    s = report.summary
    d = report.table.set_index("window")

    def num(v):
        return float(v) if v is not None and np.isfinite(float(v)) else float("nan")

    md = {f"{w}_{k}": num(d.loc[w, k]) for w in WINDOWS
          for k in ("accuracy", "log_loss", "brier", "coverage")}
    md.update({f"{w}_games": int(d.loc[w, "n_evaluated"]) for w in WINDOWS})
    md.update({
        "minutes_mae_14d": num(d.loc["last_14_days", "minutes_mae"]),
        "minutes_coverage_p10_p90_14d": num(d.loc["last_14_days", "minutes_coverage_p10_p90"]),
        "production_version": s["production_version"] or "none",
        "baseline_log_loss": num(s["baseline"].get("log_loss")),
        "baseline_accuracy": num(s["baseline"].get("accuracy")),
        "max_psi": max([v for v in s["psi"].values() if v is not None], default=float("nan")),
        "psi": dg.MetadataValue.json(s["psi"]),
        "windows": dg.MetadataValue.md(windows_markdown(report.table)),
        "calibration_last_14_days": dg.MetadataValue.md(calibration_markdown(report.calibration)),
        "run_as_of_ts": as_of.isoformat(), "dates": len(context.partition_keys),
        "path": dg.MetadataValue.path(str(folders[-1])),
        "dagster/row_count": len(report.table),
        "shadow_version": s["shadow"]["current_version"] or "none",
        "shadow": dg.MetadataValue.md(shadow_markdown(report.shadow)),
    })
    clv = {m: s["clv"][m] for m in MARKETS}
    md["clv_last_14_days"] = dg.MetadataValue.md(clv_markdown(clv))
    for m, c in clv.items():
        md.update({f"clv_{m}_bets": c["n"], f"clv_{m}_mean": num(c["mean_clv"]),
                   f"clv_{m}_beat_close_pct": num(c["beat_close_pct"])})
    cur = report.shadow[report.shadow["shadow_version"] == s["shadow"]["current_version"]]
    if len(cur):
        r = cur.iloc[0]
        md.update({"shadow_games": int(r["n"]), "shadow_log_loss": num(r["shadow_log_loss"]),
                   "shadow_production_log_loss": num(r["production_log_loss"]),
                   "shadow_brier": num(r["shadow_brier"]),
                   "shadow_production_brier": num(r["production_brier"])})
        context.log.info(f"shadow {r['shadow_version']} vs production on {int(r['n'])} games: "
                         f"log loss {r['shadow_log_loss']:.4f} vs {r['production_log_loss']:.4f}")
    return dg.MaterializeResult(metadata=md)


monitoring_assets = [model_performance]


