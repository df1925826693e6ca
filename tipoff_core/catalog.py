"""The one table of what exists: every table asset, its table kind, keys, partitioning, where it is
stored and, for features, which snapshot kinds it reads.

Ingest builds its snapshot and label assets from this table, the feature assets take their
dependencies from it, `resources.storage` maps (asset, partition, run) to a path with it, and
`tipoff show`, `tipoff pin` and the step runner look tables up here.  Adding a table kind means:
its contract in `schemas.TABLES`, one row here, and the source that fetches it.

Storage kinds (paths under the data root):

  run     <folder>/<date>/run=<run token>/<file>, plus LATEST (newest run) and PINNED (operator)
  date    <folder>/<date>/<file>                     (labels: one table per date)
  season  <folder>/season=<season>.parquet           (gold features: rows of many dates)
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

from tipoff_core.schemas import LABEL_KINDS, SNAPSHOT_KINDS, TABLES

DAILY = "daily (America/New_York)"
DAILY_PER_RUN = "daily, one run per run_as_of_ts"
BY_SEASON = "by season"


@dataclass(frozen=True)
class Table:
    asset: str                     # Dagster asset name (fixed by DESIGN.md)
    kind: str                      # table kind: schemas.TABLES key, or feature set / score name
    layer: str                     # snapshot | label | gold | live | score | monitoring
    keys: tuple[str, ...]          # primary key of a partition's rows
    partitioning: str
    storage: str                   # run | date | season (see module docstring)
    folder: str                    # relative to the data root
    file: str = "table.parquet"
    reads: tuple[str, ...] = ()    # snapshot kinds the table is built from (features)

    @property
    def per_run(self) -> bool:
        return self.storage == "run"


SNAPSHOT_ASSET_NAMES = {"schedule": "schedule_snapshot", "injuries": "injury_snapshot",
                        "odds": "odds_snapshot", "rosters": "roster_snapshot"}
LABEL_ASSET_NAMES = {"results": "game_results", "box_scores": "player_box_scores"}
# Gold features see every stored snapshot run (each row filtered by its game's tip).
GOLD_READS = ("schedule", "injuries", "odds", "rosters")
LIVE_READS = ("schedule", "injuries", "odds", "rosters")
# Both paths also read this many days of injury reports before a target date (a player's
# consecutive listed dates are a feature).
INJURY_LOOKBACK_DAYS = 30

TABLE_LIST: tuple[Table, ...] = (
    *(Table(SNAPSHOT_ASSET_NAMES[k], k, "snapshot", tuple(TABLES[k][1]), DAILY_PER_RUN, "run",
            f"live/snapshots/{k}") for k in SNAPSHOT_KINDS),
    *(Table(LABEL_ASSET_NAMES[k], k, "label", tuple(TABLES[k][1]), DAILY, "date", f"labels/{k}")
      for k in LABEL_KINDS),
    Table("gold_game_features", "game", "gold", ("game_id",), DAILY, "season", "gold/game",
          reads=GOLD_READS),
    Table("gold_minutes_features", "minutes", "gold", ("game_id", "player_id"), DAILY, "season",
          "gold/minutes", reads=GOLD_READS),
    Table("live_game_features", "game", "live", ("game_id",), DAILY_PER_RUN, "run",
          "live/features_game", "features.parquet", LIVE_READS),
    Table("live_minutes_features", "minutes", "live", ("game_id", "player_id"), DAILY_PER_RUN,
          "run", "live/features_minutes", "features.parquet", LIVE_READS),
    Table("game_scores", "game_scores", "score", ("game_id",), DAILY_PER_RUN, "run",
          "artifacts/game_scores"),
    Table("minutes_scores", "minutes_scores", "score", ("game_id", "player_id"), DAILY_PER_RUN,
          "run", "artifacts/minutes_scores"),
    Table("model_performance", "model_performance", "monitoring", ("window",), DAILY_PER_RUN,
          "run", "artifacts/model_performance"),
    Table("game_ratings", "game_ratings", "rating", ("game_id",), DAILY, "date",
          "artifacts/game_ratings"),
    Table("halftime_scores", "halftime_scores", "score", ("game_id",), DAILY_PER_RUN, "run",
          "artifacts/halftime_scores"),
)
TABLES_BY_ASSET: dict[str, Table] = {t.asset: t for t in TABLE_LIST}


class UnknownTableError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def table(asset: str) -> Table:
    """The catalog row of a table asset; the error lists the known ones."""
    try:
        return TABLES_BY_ASSET[asset]
    except KeyError:
        raise UnknownTableError(f"unknown asset {asset!r}; known: {', '.join(known_assets())}") \
            from None


def known_assets() -> list[str]:
    return sorted(TABLES_BY_ASSET)


def of_layer(layer: str) -> list[Table]:
    return [t for t in TABLE_LIST if t.layer == layer]


def snapshot(kind: str) -> Table:
    return table(SNAPSHOT_ASSET_NAMES[kind])


def label(kind: str) -> Table:
    return table(LABEL_ASSET_NAMES[kind])


def feature(layer: str, feature_set: str) -> Table:
    """The gold or live table of a feature set ("game" | "minutes")."""
    return next(t for t in TABLE_LIST if t.layer == layer and t.kind == feature_set)


def snapshot_assets_read_by(tables: list[Table]) -> list[str]:
    """Snapshot asset names a list of feature tables depends on (in catalog order)."""
    kinds = {k for t in tables for k in t.reads}
    return [SNAPSHOT_ASSET_NAMES[k] for k in SNAPSHOT_KINDS if k in kinds]


# ----------------------------------------------------------------------------- partition keys
# Daily partitions on the league calendar; the first date covers the archive's first season.
PARTITIONS_START = os.environ.get("TIPOFF_PARTITIONS_START", "2007-10-01")
RUN_TOKEN_RE = re.compile(r"\d{8}T\d{6}Z")


class BadKeyError(ValueError):
    """A partition key or run token that is not one of the partition set / the token format."""


def is_date(name: str) -> bool:
    """Whether `name` is a date written YYYY-MM-DD (a date partition's folder name)."""
    try:
        return len(name) == 10 and dt.date.fromisoformat(name) is not None
    except (TypeError, ValueError):
        return False


def check_partition(day: str) -> str:
    """`day` if it is a date of the daily partition set (PARTITIONS_START .. a year ahead)."""
    if not is_date(day):
        raise BadKeyError(f"partition {day!r} is not a date YYYY-MM-DD")
    d = dt.date.fromisoformat(day)
    last = dt.date.today() + dt.timedelta(days=366)
    if not (dt.date.fromisoformat(PARTITIONS_START) <= d <= last):
        raise BadKeyError(f"partition {day} is outside the partition set "
                          f"({PARTITIONS_START} .. {last})")
    return day


def check_run_token(run: str) -> str:
    """`run` if it is 'latest' or a run token like 20261123T160000Z."""
    if run != "latest" and not RUN_TOKEN_RE.fullmatch(run or ""):
        raise BadKeyError(f"run {run!r} is not 'latest' or a run token YYYYMMDDTHHMMSSZ")
    return run
