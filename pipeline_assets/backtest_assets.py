"""`backtest_report`: the walk-forward backtest of one season, from the pipeline's own gold tables."""

import dagster as dg
import pandas as pd

from pipeline_assets import backtest
from pipeline_assets.featureio import box_history, latest_per_game
from pipeline_assets.metadata import figure_markdown, markdown_table, pyplot
from resources import storage
from resources.dagster_resources import StorageResource
from tipoff_core import catalog

SEASONS = dg.StaticPartitionsDefinition([f"{y}-{(y + 1) % 100:02d}" for y in range(2008, 2031)])


class BacktestConfig(dg.Config):
    cadence_days: int = 7
    full_grid: bool = False  # the minutes model with LightGBM's full settings (3x slower)
    minutes_cadence_days: int = 30


def gold_with_eval_columns(root) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold tables plus the evaluation-only columns (game type, closing line, overtime)."""
    games = storage.read_season_tables(catalog.feature("gold", "game"), root)
    minutes = storage.read_season_tables(catalog.feature("gold", "minutes"), root)
    if games.empty:
        raise dg.Failure("no gold_game_features yet: backfill history first (history_job)")
    dates = sorted(games["game_date"].unique())
    sched = latest_per_game(storage.read_snapshot_history(catalog.snapshot("schedule"), dates, root))
    odds = storage.read_snapshot_history(catalog.snapshot("odds"), dates, root)
    results = storage.read_label_range(catalog.label("results"), dates, root)
    return backtest.add_eval_columns(games, minutes, sched, results, odds)


def _ci(c: dict | None) -> str:
    if not c or c.get("mean") is None:
        return ""
    return f"{c['mean']:+.4f} [{c['lo']:+.4f}, {c['hi']:+.4f}]"


def calibration_png(cal: list[dict], title: str) -> str:
    df = pd.DataFrame(cal).dropna(subset=["mean_pred"])
    fig, ax = pyplot().subplots(figsize=(4, 4), dpi=80)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.scatter(df["mean_pred"], df["mean_obs"], s=10 + df["count"] / max(df["count"].max(), 1) * 80)
    ax.set(xlabel="predicted P(home win)", ylabel="observed", title=title, xlim=(0, 1), ylim=(0, 1))
    return figure_markdown(fig, "calibration")


# A season's walk-forward reads every earlier season too: depend on all gold partitions.
@dg.asset(deps=[dg.AssetDep(a, partition_mapping=dg.AllPartitionMapping())
                for a in ("gold_game_features", "gold_minutes_features")], partitions_def=SEASONS,
          group_name="monitoring", kinds={"lightgbm", "json"},
          description="Walk-forward backtest of one season: models retrained weekly on games "
                      "already finished, against Elo and the market (closing line).")
def backtest_report(context: dg.AssetExecutionContext, config: BacktestConfig,
                    store: StorageResource) -> dg.MaterializeResult:
    season = context.partition_key
    root = store.path()
    games, minutes = gold_with_eval_columns(root)
    if season not in set(games["season"]):
        raise dg.Failure(f"season {season} has no gold features; backfill it first")
    results = storage.read_label_range(catalog.label("results"), root=root)
    res = backtest.walk_forward(games, minutes, [season], box_history(root),
                                cadence_days=config.cadence_days, fast=not config.full_grid,
                                minutes_cadence_days=config.minutes_cadence_days,
                                progress=context.log.info,
                                results=results[backtest.QUARTER_COLUMNS] if len(results) else None)
    path = backtest.write_json_atomic(root / "artifacts" / "backtest_report" / f"season={season}"
                                      / "report.json", res)
    block = res[season]
    rows = [{"model": k, **{m: block[k][m] for m in ("log_loss", "brier", "accuracy")},
             "vs market [95% CI]": _ci(block["vs_market"].get(k.removeprefix("model_")))}
            for k in ("model_market_free", "model_with_market", "elo", "market")]
    table = pd.DataFrame(rows).round(4)
    md = {"games": block["games"], "table": dg.MetadataValue.md(markdown_table(table)),
          "minutes": dg.MetadataValue.json(block["minutes"]),
          "minutes_expected_lineup": dg.MetadataValue.json(block["minutes_expected_lineup"]),
          "availability": dg.MetadataValue.json(block["availability"]),
          "spread_only": dg.MetadataValue.json(block["spread_only"]),
          "kelly": dg.MetadataValue.json(block["kelly"]),
          "halftime": dg.MetadataValue.json(block.get("halftime", {})),
          "market_source": str(block["market"].get("source")), "path": dg.MetadataValue.path(str(path))}
    if block.get("calibration"):
        md["calibration_plot"] = dg.MetadataValue.md(calibration_png(block["calibration"],
                                                                     f"market-free, {season}"))
    context.log.info(backtest.format_table(res))
    return dg.MaterializeResult(metadata=md)
