"""Benchmark the feature builders on an archive-sized synthetic history.

    python bench/bench_features.py [--games 19000] [--seasons 15] [--box-seasons 7] [--seed 0]

Generates a random but realistically shaped league (30 teams, ~1,270 games a season, box scores
of ~10 players a team for the last ``--box-seasons`` seasons = ~170,000 player-games, injury
report rows and several odds snapshots per game), then builds gold features for every game
(``cutoff_ts = tip_ts``) and minutes features for every box-score appearance, timing each and
printing rows/s and the process's peak RSS.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline_assets.features import build_game_features, build_minutes_features  # noqa: E402

TEAMS = np.arange(1610612737, 1610612767)
BOOKS = ["fanduel", "draftkings", "betmgm", "caesars"]
STATUSES = np.array(["Out", "Doubtful", "Questionable", "Probable", "Available"])


def synth_history(n_games: int = 19_000, n_seasons: int = 15, box_seasons: int = 7,
                  seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    per_season = n_games // n_seasons
    games = []
    for s in range(n_seasons):
        start = pd.Timestamp(f"{2007 + s}-10-25")
        left, day = per_season + (n_games % n_seasons if s == n_seasons - 1 else 0), 0
        while left > 0:
            k = min(left, int(rng.integers(4, 12)))
            perm = rng.permutation(TEAMS)[: 2 * k]
            for i in range(k):
                games.append((s, start + pd.Timedelta(days=day), perm[2 * i], perm[2 * i + 1]))
            left -= k
            day += 1
    g = pd.DataFrame(games, columns=["s", "date", "home_team_id", "away_team_id"])
    n = len(g)
    g["season"] = [f"{2007 + s}-{(2008 + s) % 100:02d}" for s in g["s"]]
    g["game_id"] = [f"G{i:06d}" for i in range(n)]
    g["game_date"] = g["date"].dt.strftime("%Y-%m-%d")
    tip = (g["date"] + pd.Timedelta(hours=23, minutes=30)
           + pd.to_timedelta(rng.integers(-3, 2, n) * 30, unit="min")).dt.tz_localize("UTC")
    g["tip_ts"] = tip
    hp = np.round(rng.normal(112, 12, n)).astype(int)
    ap = np.round(rng.normal(109, 12, n)).astype(int)
    hp = np.where(hp == ap, hp + 1, hp)

    schedule = pd.DataFrame({
        "game_id": g["game_id"], "season": g["season"], "game_date": g["game_date"],
        "tip_ts": tip, "home_team_id": g["home_team_id"], "away_team_id": g["away_team_id"],
        "home_team": g["home_team_id"].astype(str), "away_team": g["away_team_id"].astype(str),
        "game_type": "regular", "neutral_site": False,
        "home_games_left": pd.array([pd.NA] * n, dtype="Int64"),
        "away_games_left": pd.array([pd.NA] * n, dtype="Int64"),
        "snapshot_ts": tip - pd.Timedelta(days=30)})
    final = tip + pd.Timedelta(hours=2, minutes=30)
    qna = pd.array([pd.NA] * n, dtype="Int64")
    results = pd.DataFrame({
        "game_id": g["game_id"], "season": g["season"], "game_date": g["game_date"],
        "home_team_id": g["home_team_id"], "away_team_id": g["away_team_id"],
        "home_pts": hp, "away_pts": ap,
        **{f"{side}_{q}": qna for side in ("home", "away") for q in ("q1", "q2", "q3", "q4", "ot")},
        "overtime_periods": pd.array([0] * n, dtype="Int64"),
        "final_ts": final, "snapshot_ts": final + pd.Timedelta(minutes=5)})

    # players: 15 per team, each with a base role; ~10 appear per game
    roster = {t: np.arange(15) + 1000 * (i + 1) for i, t in enumerate(TEAMS)}
    base = {p: m for t in TEAMS for p, m in zip(roster[t], np.linspace(36, 4, 15))}
    box_games = g.index[g["s"] >= n_seasons - box_seasons]
    rows = []
    for side in ("home_team_id", "away_team_id"):
        teams = g.loc[box_games, side].to_numpy()
        for j in range(15):
            pid = np.array([roster[t][j] for t in teams])
            play = rng.random(len(teams)) < (0.90 if j < 9 else 0.40 - 0.06 * (j - 9))
            mins = np.clip(np.array([base[p] for p in pid]) + rng.normal(0, 5, len(pid)), 1, 48)
            rows.append(pd.DataFrame({
                "gi": box_games[play], "team_id": teams[play], "player_id": pid[play],
                "minutes": np.round(mins[play])}))
    box = pd.concat(rows, ignore_index=True)
    m = len(box)
    box["game_id"] = g["game_id"].to_numpy()[box["gi"]]
    box["game_date"] = g["game_date"].to_numpy()[box["gi"]]
    box["player_name"] = "P" + box["player_id"].astype(str)
    rate = box["minutes"].to_numpy() / 48
    for c, lam in (("pts", 24), ("fga", 19), ("fta", 6), ("oreb", 2.5), ("tov", 3), ("fgm", 9),
                   ("fg3m", 2), ("ftm", 4.5), ("dreb", 6), ("ast", 5), ("stl", 1.2), ("blk", 0.8),
                   ("pf", 3)):
        box[c] = pd.array(rng.poisson(lam * rate), dtype="Int64")
    box["plus_minus"] = np.round(rng.normal(0, 10, m) * np.sqrt(rate))
    box["starter"] = pd.array(box.groupby(["game_id", "team_id"]).cumcount().to_numpy() < 5,
                              dtype="boolean")
    box["snapshot_ts"] = final.to_numpy()[box["gi"]] + pd.Timedelta(minutes=20)
    box = box.drop(columns=["gi"])

    # injury report: ~3 players per team per game, two snapshots on game day
    inj = []
    for side in ("home_team_id", "away_team_id"):
        for j in range(3):
            pid = np.array([roster[t][rng.integers(0, 15)] for t in g[side]])
            for hours in (-20, -2):
                inj.append(pd.DataFrame({
                    "game_date": g["game_date"], "team_id": g[side], "team": g[side].astype(str),
                    "player_id": pid, "player_name": "P" + pd.Series(pid).astype(str),
                    "status": STATUSES[rng.integers(0, 5, n)], "reason": "Injury/Illness",
                    "snapshot_ts": tip + pd.Timedelta(hours=hours)}))
    injuries = pd.concat(inj, ignore_index=True).drop_duplicates(
        ["team_id", "player_id", "game_date", "snapshot_ts"])

    odds = []
    fair = 1 / (1 + 10 ** (-(hp - ap) / 40))
    for b in BOOKS:
        for hours in (-30, -6, 1):  # the last one is after tip (live prices)
            p = np.clip(fair + rng.normal(0, 0.03, n), 0.03, 0.97) * 1.045
            q = np.clip(1 - fair + rng.normal(0, 0.03, n), 0.03, 0.97) * 1.045
            odds.append(pd.DataFrame({
                "game_id": g["game_id"], "bookmaker": b, "home_ml": _american(p),
                "away_ml": _american(q), "home_spread": np.round(-(hp - ap) * 0.6 * 2) / 2,
                "total": np.round((hp + ap) * 2) / 2, "snapshot_ts": tip + pd.Timedelta(hours=hours)}))
    odds = pd.concat(odds, ignore_index=True)
    return {"schedule": schedule, "results": results, "box_scores": box, "injuries": injuries,
            "odds": odds}


def _american(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.01, 0.99)
    return np.round(np.where(p >= 0.5, -100 * p / (1 - p), 100 * (1 - p) / p))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=19_000)
    ap.add_argument("--seasons", type=int, default=15)
    ap.add_argument("--box-seasons", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    h = synth_history(args.games, args.seasons, args.box_seasons, args.seed)
    print(f"synthetic history: {len(h['results']):,} games, {len(h['box_scores']):,} player-games, "
          f"{len(h['injuries']):,} injury rows, {len(h['odds']):,} odds rows "
          f"({time.perf_counter() - t0:.1f}s to generate); peak RSS {_peak_rss_mb():.0f} MB")
    targets = h["schedule"].assign(cutoff_ts=h["schedule"]["tip_ts"])
    tables = (h["results"], h["box_scores"], h["injuries"], h["odds"])

    build_game_features(targets.head(50), *tables)  # warm-up: numba cache / imports
    t0 = time.perf_counter()
    gf = build_game_features(targets, *tables)
    dt_g = time.perf_counter() - t0
    print(f"game features:    {len(gf):>8,} rows x {gf.shape[1]} cols in {dt_g:6.2f}s "
          f"= {len(gf) / dt_g:>9,.0f} rows/s; peak RSS {_peak_rss_mb():.0f} MB")

    box_games = set(h["box_scores"]["game_id"])
    mt = targets[targets["game_id"].isin(box_games)]
    t0 = time.perf_counter()
    mf = build_minutes_features(mt, *tables)
    dt_m = time.perf_counter() - t0
    print(f"minutes features: {len(mf):>8,} rows x {mf.shape[1]} cols in {dt_m:6.2f}s "
          f"= {len(mf) / dt_m:>9,.0f} rows/s; peak RSS {_peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
