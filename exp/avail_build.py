"""Build the availability candidate frame for every game since 2015-16 (+ label)."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from exp.common import cached, prepared, sides_of
from pipeline_assets.features import availability as AV


def build():
    g, inp, box = prepared()
    t = inp.targets
    t = t[t["season"] >= "2015-16"].reset_index(drop=True)
    s = sides_of(t)
    t0 = time.time()
    c = AV.candidate_frame(s, inp.results, inp.box, inp.injuries, schedule=inp.targets)
    print(f"candidate_frame: {len(s):,} sides -> {len(c):,} rows in {time.time() - t0:.1f}s")
    c = c.merge(s[["_side", "game_id", "is_home", "opp_id"]], on="_side", how="left")
    lab = inp.box[inp.box["minutes"].notna()][["game_id", "team_id", "player_id", "minutes"]]
    c = c.merge(lab.rename(columns={"minutes": "label_min"}), on=["game_id", "team_id", "player_id"],
                how="left")
    c["played"] = c["label_min"].notna().astype(float)
    known = lab[["game_id", "team_id"]].drop_duplicates().assign(box_known=1.0)
    c = c.merge(known, on=["game_id", "team_id"], how="left")
    c["box_known"] = c["box_known"].fillna(0.0)
    c["cutoff_ts"] = c["cutoff_ts"].astype("datetime64[us, UTC]")
    return c


if __name__ == "__main__":
    c = cached("cand", build, refresh=True)
    print(c.describe().T.to_string())
    print(c.groupby("season")["played"].agg(["mean", "size"]))
