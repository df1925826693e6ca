"""Where each table asset keeps a partition, so `tipoff show` (and tests, scripts) can read it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from resources import storage

SNAPSHOT_ASSETS = {"schedule_snapshot": "schedule", "injury_snapshot": "injuries",
                   "odds_snapshot": "odds", "roster_snapshot": "rosters"}
LABEL_ASSETS = {"game_results": "results", "player_box_scores": "box_scores"}
GOLD_ASSETS = {"gold_game_features": "game", "gold_minutes_features": "minutes"}
LIVE_FEATURE_ASSETS = {"live_game_features": "game", "live_minutes_features": "minutes"}
SCORE_ASSETS = {"game_scores": "game_scores", "minutes_scores": "minutes_scores",
                "model_performance": "model_performance"}


class NotMaterialized(LookupError):
    pass


def known_assets() -> list[str]:
    return sorted([*SNAPSHOT_ASSETS, *LABEL_ASSETS, *GOLD_ASSETS, *LIVE_FEATURE_ASSETS,
                   *SCORE_ASSETS])


def run_folder(asset: str, partition: str, run: str = "latest", root: Path | None = None) -> Path:
    if asset in SNAPSHOT_ASSETS:
        base = storage.snapshot_dir(SNAPSHOT_ASSETS[asset], partition, root)
    elif asset in LIVE_FEATURE_ASSETS:
        base = storage.run_artifact_dir("features", LIVE_FEATURE_ASSETS[asset], partition, root)
    elif asset in SCORE_ASSETS:
        base = storage.run_artifact_dir("artifacts", SCORE_ASSETS[asset], partition, root)
    else:
        raise ValueError(f"{asset} is not written per run")
    try:
        return storage.resolve_run(base, run)
    except FileNotFoundError as exc:
        raise NotMaterialized(f"{asset} partition {partition}: {exc}") from None


def read_table(asset: str, partition: str, run: str = "latest", root: Path | None = None) -> pd.DataFrame:
    """The normalized table of one partition of a table asset."""
    if asset not in known_assets():
        raise ValueError(f"unknown asset {asset!r}; known: {', '.join(known_assets())}")
    if asset in LABEL_ASSETS:
        path = storage.label_dir(LABEL_ASSETS[asset], partition, root) / "table.parquet"
        if not path.exists():
            raise NotMaterialized(f"{asset} partition {partition} is not materialized ({path})")
        return storage.read_parquet(path)
    if asset in GOLD_ASSETS:
        from pipeline_assets.timeutil import season_of
        path = storage.gold_path(GOLD_ASSETS[asset], season_of(partition), root)
        if not path.exists():
            raise NotMaterialized(f"{asset} partition {partition} is not materialized ({path})")
        df = storage.read_parquet(path)
        return df[df["game_date"] == partition].reset_index(drop=True)
    folder = run_folder(asset, partition, run, root)
    name = "features.parquet" if asset in LIVE_FEATURE_ASSETS else "table.parquet"
    return storage.read_parquet(folder / name)
