"""`halftime_scores`: in-game win probability and final-margin distribution of the games of a date
that reached a checkpoint (after Q1, halftime, after Q3) as of the run's `run_as_of_ts`.

A thin wrapper over `pipeline_assets.halftime`; the halftime sensor requests it on game nights.
"""

import dagster as dg
import pandas as pd

from pipeline_assets import halftime as H
from pipeline_assets.feature_assets import live_as_of
from pipeline_assets.metadata import markdown_table
from pipeline_assets.partitions import DAILY
from resources.dagster_resources import PredictionsLogResource, SourceResource, StorageResource
from resources.sources.base import SourceError
from tipoff_core.timeutil import to_date


class HalftimeConfig(dg.Config):
    """`run_as_of_ts`: the scoreboard time (default: the run's tag, else the documented rule)."""

    run_as_of_ts: str = ""


@dg.asset(partitions_def=DAILY, group_name="in_game", kinds={"parquet"},
          deps=["game_scores", "game_results", "gold_game_features"],
          description="In-game P(home win) and final-margin quantiles of every game of the date "
                      "that completed Q1, Q2 (halftime) or Q3 at run_as_of_ts, from the score so "
                      "far and the pregame market-free probability; one folder per run under "
                      "artifacts/halftime_scores/<date>/run=<ts>/, logged with kind=halftime.")
def halftime_scores(context: dg.AssetExecutionContext, config: HalftimeConfig,
                    store: StorageResource, source: SourceResource,
                    predictions_log: PredictionsLogResource) -> dg.MaterializeResult:
    root, day = store.path(), context.partition_key
    as_of = live_as_of(context, config, day, root)
    src = source.get()
    try:
        states = src.game_states(to_date(day), as_of).table
    except SourceError as exc:
        raise dg.Failure(f"game states for {day} as of {as_of.isoformat()}: {exc}") from None
    log = predictions_log.get()
    try:
        model = H.fit_model(root, day, log)
    except H.HalftimeInputError as exc:
        raise dg.Failure(str(exc)) from None
    table, skipped = H.score_states(states, H.pregame_scores(day, as_of, root), model,
                                    f"halftime@{day}")
    summ = H.summary(table, skipped, day, as_of, model, src.name, "dagster")
    folder = H.write_run(day, as_of, table, summ, root)
    logged = log.append(H.prediction_log_rows(table, as_of, src.name))
    for gid, why in skipped.items():
        context.log.warning(f"{gid} not scored: {why}")
    context.log.info(f"halftime_scores {day} as of {as_of.isoformat()}: {len(table)} games scored "
                     f"({summ['by_period']}), {len(skipped)} skipped")
    preview = table[["game_id", "status", "period", "home_score", "away_score", "p_pregame",
                     "p_home_win", "margin_p10", "margin_p50", "margin_p90"]].round(3)
    fit = {k: {"coef": [round(c, 3) for c in v["coef"]], "sd": round(v["sd"], 2), "n": v["n"]}
           for k, v in model.to_dict()["checkpoints"].items()}
    return dg.MaterializeResult(metadata={
        "run_as_of_ts": as_of.isoformat(), "games_scored": len(table),
        "dagster/row_count": len(table), "games_on_scoreboard": len(states),
        "preview": dg.MetadataValue.md(markdown_table(preview) if len(preview) else "no game "
                                       "has completed a quarter yet"),
        "skipped": dg.MetadataValue.json(skipped), "by_period": dg.MetadataValue.json(summ["by_period"]),
        "logged_predictions": logged, "path": dg.MetadataValue.path(str(folder)),
        "model_fit": dg.MetadataValue.json(fit)})


halftime_assets = [halftime_scores]
