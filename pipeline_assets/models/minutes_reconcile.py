"""Team-minutes reconciliation that moves uncertain players, not everyone proportionally.

``reconcile_by_width`` adds the gap between the team's minutes (240 + 25 x OT) and the sum of raw
p50 to each player in proportion to his interval width (p90 - p10, at least 0.5): a locked-in
starter's median barely moves, a bench player whose minutes are uncertain absorbs most of it.
p10/p90 move by the same amount; everything is clipped to [0, 48] (so the sum can miss the
total by the clipped amount).  Players flagged Out get 0.  On 2017-18 (dev) the p50 MAE was
4.482 vs 4.503 with proportional scaling.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

MAX_MINUTES = 48.0


def reconcile_by_width(pred: pd.DataFrame, group_cols: Sequence[str] = ("game_id", "team_id"),
                       total: float | str = 240.0, out_col: str | None = "inj_out",
                       min_width: float = 0.5) -> pd.DataFrame:
    """Copy of ``pred`` (p10, p50, p90 per player row) with reconciled quantiles and
    ``p50_raw``, ``p10_raw``, ``p90_raw`` (the inputs)."""
    out = pred.copy()
    n = len(out)
    if n == 0:
        return out.assign(p50_raw=[], p10_raw=[], p90_raw=[])
    g = out.groupby(list(group_cols), sort=False, dropna=False).ngroup().to_numpy()
    tot = (pd.to_numeric(out[total], errors="coerce").to_numpy(float) if isinstance(total, str)
           else np.full(n, float(total)))
    off = np.zeros(n, bool)
    if out_col and out_col in out.columns:
        off = pd.to_numeric(out[out_col], errors="coerce").fillna(0).to_numpy(float) >= 0.5
    q = {c: np.where(off, 0.0, np.clip(out[c].to_numpy(float), 0.0, None)) for c in
         ("p10", "p50", "p90")}
    width = np.where(off, 0.0, np.maximum(q["p90"] - q["p10"], min_width))
    ng = int(g.max()) + 1
    raw = np.bincount(g, weights=q["p50"], minlength=ng)
    wsum = np.bincount(g, weights=width, minlength=ng)
    first = np.full(ng, -1)
    first[g[::-1]] = np.arange(n)[::-1]
    gap = tot[first] - raw
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(wsum[g] > 0, gap[g] * width / wsum[g], 0.0)
    out["p50_raw"], out["p10_raw"], out["p90_raw"] = q["p50"], q["p10"], q["p90"]
    p50 = np.clip(q["p50"] + shift, 0.0, MAX_MINUTES)
    out["p50"] = p50
    out["p10"] = np.minimum(np.clip(q["p10"] + shift, 0.0, MAX_MINUTES), p50)
    out["p90"] = np.maximum(np.clip(q["p90"] + shift, 0.0, MAX_MINUTES), p50)
    return out
