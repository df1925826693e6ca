"""Paired comparison with TODAY's market-free model (pipeline_assets.backtest's tuned candidate,
6 training seasons, weekly refits) on the same games."""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from exp.common import DEV, EVAL, EXP, boot_ci, ll
from pipeline_assets import backtest as BT
from pipeline_assets.features import FEATURE_COLUMNS


def current_preds(seasons):
    games, _ = BT.build_archive_features("/work/shared/data", progress=lambda m: None)
    G = BT.eligible_games(games)
    out = []
    for s in seasons:
        p, info = BT._walk_win(G, s, list(FEATURE_COLUMNS["game"]), 7, False, 0, 2, "market_free",
                               None, lambda m: None, 6)
        sel = (G["season"] == s).to_numpy()
        out.append(pd.DataFrame({"game_id": G.loc[sel, "game_id"].to_numpy(), "p_current": p}))
    return pd.concat(out, ignore_index=True)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "dev"
    seasons = DEV if which == "dev" else EVAL
    cur = current_preds(seasons)
    cur.to_parquet(EXP / "design" / f"current_{which}.parquet")
    F = pd.read_parquet(EXP / "design" / f"games_{which}.parquet")
    F = F[F["season"].isin(seasons) & F["game_type"].isin(["regular", "playoff"])
          & np.isfinite(F["y"]) & np.isfinite(F["p_mkt"])].merge(cur, on="game_id", how="inner")
    for s in list(seasons) + ["pooled"]:
        e = F if s == "pooled" else F[F["season"] == s]
        y = e["y"].to_numpy()
        d_new = ll(y, e["p_mf"].to_numpy()) - ll(y, e["p_current"].to_numpy())
        d_cur = ll(y, e["p_current"].to_numpy()) - ll(y, e["p_mkt"].to_numpy())
        m, lo, hi = boot_ci(d_new)
        print(f"{s:8s} n={len(e)} current={ll(y, e['p_current'].to_numpy()).mean():.4f} "
              f"(gap {d_cur.mean():+.4f}) new={ll(y, e['p_mf'].to_numpy()).mean():.4f} "
              f"new-current={m:+.4f} [{lo:+.4f},{hi:+.4f}]")
