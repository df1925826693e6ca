"""Does line movement (open vs latest consensus) help the with-market model?

    PYTHONPATH=. python -m exp.line_movement [--seed 7] [--seasons 2021-22,2022-23,2023-24,2024-25]

What is measurable: the archive (../shared/data) has ONE odds row per game (the close), so open ==
latest and every move is 0 there -- nothing to learn.  The simulated league has two books and
three snapshots per game (open 10:00, 14:00, 30 min before tip) whose lines move with the injury
report; it is the only place movement exists offline.  So this runs on simulated seasons.

Features come from `features.asof.market_movement` -- the same function the feature builder
calls -- with cutoff = tip (gold).  Models (walk-forward by season: fit on every earlier season,
score the next; no shuffling): logistic regression of the home win on

  base:  logit(latest de-vigged P(home))                     (what the with-market stack uses)
  move:  base + logit(latest) - logit(open) + spread move

Reported: log loss of both on each held-out season, and the pooled paired difference (move -
base) with a 95% bootstrap interval over games (2,000 resamples).  Negative = movement helps.
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from pipeline_assets.features.asof import market_consensus, market_movement
from resources.sources.simulated.source import SimulatedSource
from tipoff_core.schemas import conform


def _logit(p):
    p = np.clip(np.asarray(p, float), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def season_frame(src: SimulatedSource, season: str) -> pd.DataFrame:
    sched = src.table("schedule", season)
    res = src.table("results", season)
    odds = conform(src.table("odds", season), "odds", "exp", "line_movement")
    g = sched[["game_id", "tip_ts"]].assign(cutoff_ts=sched["tip_ts"])
    g = g.merge(res[["game_id", "home_pts", "away_pts"]], on="game_id", how="inner")
    latest = market_consensus(g, odds)
    move = market_movement(g, odds)
    out = pd.concat([g.reset_index(drop=True), latest[["mkt_prob_home", "mkt_home_spread"]],
                     move], axis=1)
    out["y"] = (out["home_pts"] > out["away_pts"]).astype(float)
    out["season"] = season
    return out[np.isfinite(out["mkt_prob_home"]) & np.isfinite(out["mkt_open_prob_home"])]


def design(f: pd.DataFrame, move: bool) -> np.ndarray:
    cols = [_logit(f["mkt_prob_home"])]
    if move:
        cols += [_logit(f["mkt_prob_home"]) - _logit(f["mkt_open_prob_home"]),
                 f["mkt_move_home_spread"].to_numpy(float)]
    return np.column_stack(cols)


def log_loss_rows(y, p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--seasons", default="2021-22,2022-23,2023-24,2024-25")
    a = ap.parse_args()
    seasons = a.seasons.split(",")
    src = SimulatedSource(seed=a.seed)
    frames = {s: season_frame(src, s) for s in seasons}
    for s, f in frames.items():
        moved = (f["mkt_move_prob_home"].abs() > 1e-9).mean()
        print(f"{s}: {len(f)} games, {moved:.0%} with a moneyline move, "
              f"|move P(home)| mean {f['mkt_move_prob_home'].abs().mean():.4f}, "
              f"|spread move| mean {f['mkt_move_home_spread'].abs().mean():.2f}")
    diffs, rows = [], []
    for i, s in enumerate(seasons[1:], start=1):
        train = pd.concat([frames[t] for t in seasons[:i]], ignore_index=True)
        test = frames[s]
        y_tr, y_te = train["y"].to_numpy(), test["y"].to_numpy()
        ll = {}
        for name, mv in (("base", False), ("move", True)):
            m = LogisticRegression(C=1e6, max_iter=1000).fit(design(train, mv), y_tr)
            ll[name] = log_loss_rows(y_te, m.predict_proba(design(test, mv))[:, 1])
            if mv:
                coef = m.coef_[0]
        diffs.append(ll["move"] - ll["base"])
        rows.append((s, len(test), ll["base"].mean(), ll["move"].mean(), coef))
    for s, n, b, m, coef in rows:
        print(f"held out {s}: n={n} LL base={b:.4f} move={m:.4f} (move - base {m - b:+.4f}); "
              f"coefs latest/move/spread-move {np.round(coef, 3).tolist()}")
    d = np.concatenate(diffs)
    rng = np.random.default_rng(0)
    boot = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(2000)])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    print(f"pooled n={len(d)}: move - base = {d.mean():+.5f} [{lo:+.5f}, {hi:+.5f}] per game")


if __name__ == "__main__":
    main()
