"""P(play) for every candidate row: per season S a model fit on seasons < S (2015-16: in-sample,
it is only ever training data for the win models)."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from exp.avail_model import FEATS, FEATS_PO, fit
from exp.common import cached

SMALL = dict(n_estimators=150, learning_rate=0.1, num_leaves=15, min_child_samples=200,
             subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0)


def build(feats=FEATS, params=SMALL, po_feats=FEATS_PO):
    c = pd.read_parquet("data/exp/cand.parquet")
    p = np.full(len(c), np.nan)
    seasons = sorted(c["season"].unique())
    for s in seasons:
        te = (c["season"] == s).to_numpy()
        tr = (c["season"] < s).to_numpy() if s != seasons[0] else te.copy()
        tr = tr & (c["box_known"] > 0).to_numpy()
        m = fit(c.loc[tr, feats].to_numpy(float), c.loc[tr, "played"].to_numpy(), "lgbm", params)
        p[te] = m.predict_proba(c.loc[te, feats].to_numpy(float))[:, 1]
        po = te & (c["playoff"] > 0).to_numpy()
        if po_feats is not None and po.any():
            m2 = fit(c.loc[tr, po_feats].to_numpy(float), c.loc[tr, "played"].to_numpy(), "lgbm",
                     params)
            p[po] = m2.predict_proba(c.loc[po, po_feats].to_numpy(float))[:, 1]
    return pd.DataFrame({"p_play": p})


if __name__ == "__main__":
    df = cached("pplay", build, refresh=True)
    print(df.describe())
