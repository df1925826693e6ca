"""All candidate game-level feature groups for games >= 2015-16 (aligned with win_exp.base())."""
from __future__ import annotations

import numpy as np
import pandas as pd

from exp.common import EXP
from exp.win_exp import base, player_feats, side_strength, team_rating_feats
from exp import schedule as SC


def lg(p):
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def build(hl=365.0, k_pm=1500.0, repl=-3.0, k_box=300.0, tr_hl=120.0):
    games, inp, box = base()
    tr = team_rating_feats(hl=tr_hl)
    cc = player_feats(hl=hl, k_pm=k_pm, repl=repl, k_box=k_box)
    ss = side_strength(cc, repl=repl)
    f = pd.DataFrame(index=games.index)
    f["elo"] = lg(games["elo_prob_home"])
    f["trm"] = tr["tr_margin"].to_numpy()
    f["tr_hca"] = tr["tr_hca"].to_numpy()
    f["home_flag"] = 1.0 - tr["tr_neutral"].to_numpy()
    f["avail"] = (ss["h_avail"] - ss["a_avail"]).to_numpy()
    f["full"] = (ss["h_full"] - ss["a_full"]).to_numpy()
    f["h_gap"] = (ss["h_avail"] - ss["h_full"]).to_numpy()
    f["a_gap"] = (ss["a_avail"] - ss["a_full"]).to_numpy()
    f["miss"] = (ss["h_miss_share"] - ss["a_miss_share"]).to_numpy()
    # schedule strain
    t = inp.targets.set_index("game_id").loc[games["game_id"]].reset_index()
    sched = inp.targets
    n = len(t)
    sides = pd.DataFrame({"_side": np.arange(2 * n),
                          "team_id": np.column_stack([t["home_team_id"], t["away_team_id"]]).ravel(),
                          "game_date": np.repeat(t["game_date"].to_numpy(), 2),
                          "cutoff_ts": t["cutoff_ts"].repeat(2).array,
                          "home_team_id": np.repeat(t["home_team_id"].to_numpy(), 2)})
    st = SC.schedule_strain(sides, sched)
    for c in st.columns:
        h, a = st[c].to_numpy()[0::2], st[c].to_numpy()[1::2]
        f[f"h_{c}"] = h
        f[f"a_{c}"] = a
    f["rest_diff"] = f["h_rest_days"].clip(upper=4) - f["a_rest_days"].clip(upper=4)
    f["b2b_diff"] = f["h_b2b"] - f["a_b2b"]
    f["t34_diff"] = f["h_three_in_four"] - f["a_three_in_four"]
    f["playoff"] = (games["game_type"] == "playoff").to_numpy(float)
    f["po_avail"] = f["playoff"] * f["avail"]
    return f


if __name__ == "__main__":
    f = build()
    f.to_parquet(EXP / "groups.parquet")
    print(f.describe().T.round(3).to_string())
