"""Experiment harness: load the archive once and cache normalized frames as parquet.

Frames (data/exp/*.parquet, git-ignored):
  games    one row per game: schedule (latest row) + result + closing line + game_type
  box      box_scores + the extra player-log columns the schema does not carry yet
           (plus_minus, fgm, fg3m, fg3a, ftm, dreb, reb, ast, stl, blk, pf), read straight from
           the player-log CSVs and joined on (NBA GAME_ID, PLAYER_ID)
  inj      the normalized injuries table (one row per team game date and listed player)
"""
from __future__ import annotations

import glob
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path("/work/shared/data")
EXP = Path(__file__).resolve().parents[1] / "data" / "exp"
EXTRA = {"PLUS_MINUS": "plus_minus", "FGM": "fgm", "FG3M": "fg3m", "FG3A": "fg3a", "FTM": "ftm",
         "DREB": "dreb", "REB": "reb", "AST": "ast", "STL": "stl", "BLK": "blk", "PF": "pf"}


def _build():
    from pipeline_assets.featureio import latest_per_game
    from resources.sources.archive import ArchiveSource
    src = ArchiveSource(DATA)
    tabs = {k: src.table(k) for k in ("schedule", "results", "box_scores", "injuries", "odds")}
    sched = latest_per_game(tabs["schedule"])
    res = tabs["results"]
    od = tabs["odds"].sort_values(["game_id", "snapshot_ts"]).drop_duplicates("game_id", keep="last")
    g = sched.merge(res.drop(columns=["season", "game_date", "home_team_id", "away_team_id",
                                      "snapshot_ts"]), on="game_id", how="left")
    g = g.merge(od[["game_id", "home_ml", "away_ml", "home_spread", "total"]], on="game_id",
                how="left")
    g = g.sort_values(["tip_ts", "game_id"], kind="mergesort", ignore_index=True)
    ids = src.nba_game_ids()[["nba_game_id", "game_id"]]
    parts = []
    for f in sorted(glob.glob(str(DATA / "player_logs" / "*.csv.gz"))):
        raw = pd.read_csv(f, dtype={"GAME_ID": str})
        raw["nba_game_id"] = raw["GAME_ID"].str.strip().str.zfill(10)
        parts.append(raw[["nba_game_id", "PLAYER_ID"] + list(EXTRA)].rename(
            columns={"PLAYER_ID": "player_id", **EXTRA}))
    ex = pd.concat(parts, ignore_index=True).drop_duplicates(["nba_game_id", "player_id"])
    ex = ex.merge(ids, on="nba_game_id", how="inner").drop(columns=["nba_game_id"])
    box = tabs["box_scores"].merge(ex, on=["game_id", "player_id"], how="left")
    for c in EXTRA.values():
        box[c] = box[c].astype(float)
    inj = tabs["injuries"]
    return g, box, inj


def load(refresh: bool = False):
    EXP.mkdir(parents=True, exist_ok=True)
    paths = {k: EXP / f"{k}.parquet" for k in ("games", "box", "inj")}
    if refresh or not all(p.exists() for p in paths.values()):
        t = time.time()
        g, box, inj = _build()
        for k, df in zip(paths, (g, box, inj)):
            df.to_parquet(paths[k])
        print(f"built archive frames in {time.time() - t:.1f}s")
    from pipeline_assets.schemas import restore_dtypes
    g = pd.read_parquet(paths["games"])
    box = pd.read_parquet(paths["box"])
    inj = pd.read_parquet(paths["inj"])
    return g, box, inj


if __name__ == "__main__":
    g, box, inj = load(refresh=True)
    print(g.shape, box.shape, inj.shape)
    print(g.head(2).T)
    print(box.head(2).T)
    print(inj.head(3))
    print(box.groupby(box.game_date.str[:7]).size().tail(3))
