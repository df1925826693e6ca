"""The `game_ratings` asset: a thin wrapper over `ratings` (docs/RATING.md)."""

from collections.abc import Callable, Mapping

import dagster as dg
import pandas as pd

from pipeline_assets import ratings
from pipeline_assets.featureio import LiveInputError, live_feature_run
from pipeline_assets.metadata import markdown_table
from pipeline_assets.partitions import DAILY
from resources import storage
from resources.dagster_resources import SourceResource, StorageResource
from resources.sources.base import SourceError
from tipoff_core import catalog
from tipoff_core.tags import LAYER_TAG

CHECK = "ratings_valid"


def _scores(day: str, root) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The date's `game_scores` run a reader uses now (PINNED honoured) and the live game
    features that run was scored from (None when either is missing)."""
    table = catalog.table("game_scores")
    base = storage.partition_dir(table, day, root)
    token = storage.select_run(base)
    if token is None:
        return pd.DataFrame(columns=["game_id", "game_date", "home_team_id", "away_team_id",
                                     "margin_mean", "margin_sd", "p_overtime"]), None
    scores = storage.read_parquet(base / f"run={token}" / table.file)
    try:
        features, _ = live_feature_run("game", day, scores["run_as_of_ts"].max(), root)
    except (LiveInputError, KeyError):
        features = None
    return scores, features


def _gold(day: str, root) -> pd.DataFrame | None:
    try:
        return storage.read_partition(catalog.feature("gold", "game"), day, root=root)
    except (storage.NotMaterialized, KeyError):
        return None


def ratings_of_day(day: str, root, play_by_play: Callable[[str], Mapping | None] | None = None
                   ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Post-game ratings of the date's finals (context: gold features, else the scored run's live
    features) beside the predicted ratings of its latest scored slate, and the finals that could
    not be rated (game_id -> why).  ``play_by_play(game_id)``: the game's play-by-play payload or
    None (the source's; the rating then uses the quarter scores)."""
    scores, live = _scores(day, root)
    gold = _gold(day, root)
    context = pd.concat([f for f in (gold, live) if f is not None and len(f)], ignore_index=True) \
        if any(f is not None and len(f) for f in (gold, live)) else None
    results = storage.read_label_range(catalog.label("results"), [day], root)
    pbp = {}
    for gid in (results["game_id"].astype(str) if len(results) else []):
        payload = play_by_play(gid) if play_by_play is not None else None
        if payload is not None:
            pbp[gid] = payload
    rated = ratings.rate_games(results, context, play_by_play=pbp)
    table = ratings.ratings_table(rated, ratings.predict_ratings(scores, live))
    table.attrs = {}  # nothing but the columns goes into the stored file
    return table, rated.attrs["unrated"]


def write_ratings(table: pd.DataFrame, day: str, root) -> str:
    path = storage.partition_dir(catalog.table("game_ratings"), day, root) / \
        catalog.table("game_ratings").file
    storage.atomic_write_bytes(path, storage.parquet_bytes(table))
    return str(path)


@dg.asset(deps=["game_results", "game_scores", "gold_game_features"], partitions_def=DAILY,
          group_name="ratings", kinds={"parquet"}, backfill_policy=dg.BackfillPolicy.single_run(),
          tags={LAYER_TAG: "rating"},
          check_specs=[dg.AssetCheckSpec(CHECK, asset="game_ratings",
                                         description="ratings in 0..100, one row per game")],
          description="Per game, 0-100 how good it was to watch (lead changes, ties, seconds "
                      "within 5, final margin, overtime, strength, rivalry, conference; basis "
                      "play_by_play or quarter_scores) and the predicted rating from the latest "
                      "game_scores run's Monte Carlo margin (docs/RATING.md).")
def game_ratings(context: dg.AssetExecutionContext, store: StorageResource,
                 source: SourceResource) -> dg.MaterializeResult:
    root = store.path()
    src = source.get()

    def play_by_play(game_id: str) -> Mapping | None:
        try:
            return src.play_by_play(game_id)
        except SourceError as exc:  # the rating falls back to quarter scores; the row says so
            context.log.warning(f"game_ratings: no play-by-play for {game_id} ({exc})")
            return None

    tables, path, unrated = [], None, {}
    for day in context.partition_keys:
        table, missed = ratings_of_day(day, root, play_by_play)
        path = write_ratings(table, day, root)
        unrated.update(missed)
        for gid, why in missed.items():
            context.log.warning(f"game_ratings {day}: {gid} has no post-game rating: {why}")
        context.log.info(f"game_ratings {day}: {int(table['rating'].notna().sum())} rated, "
                         f"{int(table['predicted_rating'].notna().sum())} predicted")
        tables.append(table)
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    problems = ratings.check_ratings(table)

    def mean(col):
        v = table[col].dropna()
        return float(v.mean()) if len(v) else float("nan")

    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(table), "rows": len(table),
                  "rated": int(table["rating"].notna().sum()),
                  "predicted": int(table["predicted_rating"].notna().sum()),
                  "unrated_finals": len(unrated),
                  "mean_rating": mean("rating"), "mean_predicted_rating": mean("predicted_rating"),
                  "top_10": dg.MetadataValue.md(markdown_table(ratings.top_games(table, 10))),
                  "dates": len(tables), "path": dg.MetadataValue.path(path)},
        check_results=[dg.AssetCheckResult(check_name=CHECK, passed=not problems,
                                           metadata={"problems": "; ".join(problems) or "none"})])


rating_assets = [game_ratings]
