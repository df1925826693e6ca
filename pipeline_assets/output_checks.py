"""Asset checks on the outputs: `game_scores`, `minutes_scores`, `model_performance`,
`backtest_report`.  Thin wrappers: they read what the asset stored (its latest/pinned run per
date) and apply the plain rules of `score_checks`.  Each partitioned check carries the asset's
`partitions_def`, so a run checks the partitions it materialized, not every stored one, and
reports one evaluation per partition (`partitions.check_evaluation`).
"""

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd

from pipeline_assets import score_checks as rules
from pipeline_assets.backtest_assets import SEASONS
from pipeline_assets.metadata import markdown_table
from pipeline_assets.partitions import (DAILY, check_evaluation, per_partition_results,
                                        selected_checks)
from pipeline_assets.scoring import StakePolicy
from resources import storage
from resources.dagster_resources import StorageResource
from tipoff_core import catalog
from tipoff_core.timeutil import parse_ts_token


def _spec(asset: str, name: str, partitions_def, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, partitions_def=partitions_def,
                             description=description, blocking=False)


def _latest_run(asset: str, day: str, root: Path) -> tuple[Path, pd.Timestamp] | None:
    """(folder, as-of) of the run `latest` means for one date of a per-run table, else None."""
    base = storage.partition_dir(catalog.table(asset), day, root)
    token = storage.select_run(base)
    return (base / f"run={token}", parse_ts_token(token)) if token else None


def _summary(folder: Path) -> dict:
    try:
        return json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def _schedule_at(day: str, as_of: pd.Timestamp, root: Path) -> pd.DataFrame:
    """The schedule a scoring run at `as_of` saw (its newest schedule run at or before it)."""
    table = catalog.snapshot("schedule")
    base = storage.partition_dir(table, day, root)
    token = storage.select_run(base, as_of)
    return storage.read_parquet(base / f"run={token}" / table.file) if token else pd.DataFrame(
        columns=["game_id"])


# ----------------------------------------------------------------------------- game_scores

GAME_CHECKS = {
    "probabilities_in_unit_interval": "Every p_* column within [0, 1]; the two win probabilities "
                                      "never missing.",
    "one_row_per_game": "No game_id twice in a slate.",
    "stakes_within_cap": f"Stakes within [0, {StakePolicy.cap}] (the default cap) and consistent "
                         "with the recommendation (stake on the recommended side only).",
    "schedule_covered": "Every game of the schedule the run saw is scored, or the run's summary "
                        "(`unscored`) says why.",
}


def game_scores_problems(day: str, root: Path) -> tuple[dict[str, list[str]], dict]:
    """({check: problems} of the date's latest game_scores run, counts)."""
    run = _latest_run("game_scores", day, root)
    if run is None:
        return {n: ["no stored run"] for n in GAME_CHECKS}, {"games": 0, "excused": 0}
    folder, as_of = run
    t = storage.read_parquet(folder / "table.parquet")
    missing, ok = rules.unscored_games(_schedule_at(day, as_of, root), t,
                                       _summary(folder).get("unscored"))
    return {
        "probabilities_in_unit_interval": rules.probability_problems(
            t, rules.REQUIRED_GAME_PROBABILITIES),
        "one_row_per_game": rules.duplicate_problems(t, ["game_id"]),
        "stakes_within_cap": rules.stake_problems(t, StakePolicy.cap),
        "schedule_covered": [f"game {g} scheduled but not scored (no reason given)" for g in missing],
    }, {"games": len(t), "excused": len(ok)}


@dg.multi_asset_check(
    specs=[_spec("game_scores", n, DAILY, d) for n, d in GAME_CHECKS.items()], can_subset=True,
    description="Scored slates: probabilities, one row per game, stakes, schedule coverage.")
def game_scores_checks(context: dg.AssetCheckExecutionContext, store: StorageResource):
    yield from per_partition_results(context, _evaluations(
        "game_scores", context.partition_keys, store.path(), selected_checks(context, "game_scores")))


def _evaluations(asset: str, days: list[str], root: Path,
                 selected: set[str] | None = None) -> Iterator[dg.AssetCheckEvaluation]:
    """One evaluation per date and check of `asset` (all its checks unless `selected`)."""
    names, problems_of = CHECKS_OF[asset]
    for day in days:
        problems, counts = problems_of(day, root)
        for n in names:
            if selected is None or n in selected:
                yield check_evaluation(asset, n, day, problems[n], counts)


# ----------------------------------------------------------------------------- minutes_scores

MINUTES_CHECKS = {
    "probabilities_in_unit_interval": "p_play within [0, 1] and never missing.",
    "one_row_per_player": "No (game_id, player_id) twice.",
    "minutes_quantiles_sane": "p10 <= p50 <= p90 within [0, 70]; expected_minutes = p_play x p50.",
}


def minutes_scores_problems(day: str, root: Path) -> tuple[dict[str, list[str]], dict]:
    """({check: problems} of the date's latest minutes_scores run, counts)."""
    run = _latest_run("minutes_scores", day, root)
    if run is None:
        return {n: ["no stored run"] for n in MINUTES_CHECKS}, {"rows": 0}
    t = storage.read_parquet(run[0] / "table.parquet")
    return {"probabilities_in_unit_interval": rules.probability_problems(t, ("p_play",)),
            "one_row_per_player": rules.duplicate_problems(t, ["game_id", "player_id"]),
            "minutes_quantiles_sane": rules.minutes_problems(t)}, {"rows": len(t)}


@dg.multi_asset_check(
    specs=[_spec("minutes_scores", n, DAILY, d) for n, d in MINUTES_CHECKS.items()], can_subset=True,
    description="Player minutes: probabilities, one row per player and game, quantiles.")
def minutes_scores_checks(context: dg.AssetCheckExecutionContext, store: StorageResource):
    yield from per_partition_results(context, _evaluations(
        "minutes_scores", context.partition_keys, store.path(), selected_checks(context, "minutes_scores")))


CHECKS_OF = {"game_scores": (list(GAME_CHECKS), game_scores_problems),
             "minutes_scores": (list(MINUTES_CHECKS), minutes_scores_problems)}


def check_evaluations(asset: str, day: str, root: Path) -> list[dg.AssetCheckEvaluation]:
    """The checks of a scores asset on one date as events (for slates stored outside a Dagster
    run, e.g. `tipoff run`, so the UI shows their checks next to their materialization)."""
    return list(_evaluations(asset, [day], root)) if asset in CHECKS_OF else []


# ----------------------------------------------------------------------------- monitoring

@dg.multi_asset_check(
    specs=[_spec("model_performance", "metrics_in_range", DAILY,
                 "Every window once; counts non-negative; accuracy, Brier, coverage in [0, 1] and "
                 "log loss >= 0 wherever games were evaluated.")], can_subset=True)
def model_performance_metrics(context: dg.AssetCheckExecutionContext, store: StorageResource):
    yield from per_partition_results(context, _performance_evaluations(context.partition_keys,
                                                                       store.path()))


def _performance_evaluations(days: list[str], root: Path) -> Iterator[dg.AssetCheckEvaluation]:
    for day in days:
        run = _latest_run("model_performance", day, root)
        if run is None:
            yield check_evaluation("model_performance", "metrics_in_range", day, ["no stored run"])
            continue
        table = storage.read_parquet(run[0] / "table.parquet")
        cols = [c for c in ("window", "n_evaluated", "accuracy", "log_loss", "brier", "coverage")
                if c in table]
        yield check_evaluation("model_performance", "metrics_in_range", day,
                               rules.performance_problems(table),
                               {"table": dg.MetadataValue.md(markdown_table(table[cols].round(4)))})


@dg.multi_asset_check(
    specs=[_spec("backtest_report", "metrics_sane", SEASONS,
                 "Games evaluated; every model's log loss in (0, 0.75] (a coin flip is 0.693), "
                 "Brier in [0, 0.30], accuracy in [0, 1].")], can_subset=True)
def backtest_report_sane(context: dg.AssetCheckExecutionContext, store: StorageResource):
    yield from per_partition_results(context, _backtest_evaluations(context.partition_keys,
                                                                    store.path()))


def _backtest_evaluations(seasons: list[str], root: Path) -> Iterator[dg.AssetCheckEvaluation]:
    for season in seasons:
        path = root / "artifacts" / "backtest_report" / f"season={season}" / "report.json"
        try:
            problems = rules.backtest_problems(json.loads(path.read_text())[season])
        except (OSError, ValueError, KeyError) as exc:
            problems = [f"no readable report ({type(exc).__name__}: {exc})"]
        yield check_evaluation("backtest_report", "metrics_sane", season, problems)


output_checks = [game_scores_checks, minutes_scores_checks, model_performance_metrics,
                 backtest_report_sane]
