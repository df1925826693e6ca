"""Post-hoc checks of feature tables, independent of the builders (no Dagster here)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def anti_leak_violations(games: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """Games whose season-to-date game counts disagree with a direct count of results final at or
    before the game's cutoff (a count above it means a feature saw a later result)."""
    if games.empty:
        return games.iloc[:0][["game_id"]]
    res = results[["season", "home_team_id", "away_team_id", "final_ts"]]
    long = pd.concat([res.rename(columns={"home_team_id": "team_id"})[["season", "team_id", "final_ts"]],
                      res.rename(columns={"away_team_id": "team_id"})[["season", "team_id", "final_ts"]]])
    long = long.sort_values("final_ts", kind="mergesort")
    bad = []
    for side in ("home", "away"):
        q = games[["game_id", "season", "cutoff_ts", f"{side}_team_id", f"{side}_games"]].rename(
            columns={f"{side}_team_id": "team_id", f"{side}_games": "reported"})
        merged = q.merge(long, on=["season", "team_id"], how="left")
        merged["seen"] = merged["final_ts"].notna() & (merged["final_ts"] <= merged["cutoff_ts"])
        counted = merged.groupby("game_id", sort=False)["seen"].sum()
        rep = q.set_index("game_id")["reported"]
        diff = rep - counted.reindex(rep.index).fillna(0).astype(int)
        bad.append(pd.DataFrame({"game_id": diff.index[diff != 0], "side": side,
                                 "reported": rep[diff != 0].to_numpy(),
                                 "expected": (rep - diff)[diff != 0].to_numpy()}))
    return pd.concat(bad, ignore_index=True)


def cutoff_violations(df: pd.DataFrame, run_as_of: pd.Timestamp | None = None) -> int:
    """Rows whose cutoff is after tip (or after the run's as-of time)."""
    if df.empty:
        return 0
    bad = df["cutoff_ts"] > df["tip_ts"]
    if run_as_of is not None:
        bad |= df["cutoff_ts"] > run_as_of
    return int(np.asarray(bad).sum())
