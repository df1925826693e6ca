"""Walk-forward backtest of the win-probability and player-minutes models (plain Python, no Dagster).

Public API
----------
  data_fingerprint(data_dir) -> str
  build_archive_features(data_dir, ...) -> (games_df, minutes_df)
  archive_box_scores(data_dir, ...) -> box scores with ``season`` (for the box weights)
  archive_quarter_scores(data_dir) -> final + quarter scores (for the halftime blocks)
  walk_forward(games, minutes, test_seasons, box_scores=None, cadence_days=7, ...) -> dict
  run_backtest_cli(data_dir, seasons, json_out, cadence_days=7, fast=False) -> dict
  format_table(result) -> str

Features
--------
``build_archive_features`` builds GOLD features (``cutoff_ts = tip_ts``) for every game of an
archive directory through the one feature code path (``build_game_features`` /
``build_minutes_features``: every candidate player of every side) from
``ArchiveSource(data_dir).table(kind)`` bulk tables.  A few evaluation-only columns are appended
after the contract's columns (they are never model features):

  games    ``game_type`` (schedule), ``close_home_ml``, ``close_away_ml``, ``close_home_spread``
           (the latest odds row at or before tip, i.e. the closing line), ``overtime_periods``
  minutes  ``game_type``, ``overtime_periods``

Features and box scores are cached as parquet under ``<repo>/data/cache/`` (or
``$TIPOFF_DATA_DIR/cache``) keyed by :func:`data_fingerprint` (the data directory's file names,
sizes and mtimes + ``FEATURE_SCHEMA_VERSION`` + ``CACHE_VERSION``).

Walk-forward protocol (per test season S) -- the production models (``models.lineup``)
-----------------------------------------------------------------------------------------
* Lineup seasons: seasons whose candidate rows have labels (box scores: 2015-16 on in the
  archive).  Win and minutes models train on lineup seasons only (earlier games have no player
  information).  S needs at least one lineup season before it.
* P(plays) of every candidate row is out of sample: season s is scored by an availability
  classifier fit on the labelled rows of the seasons before s (``lineup.oos_p_play``; the first
  lineup season in-sample, it only ever trains).  Box weights (player ratings) are fit on the
  player-season totals of the seasons before S.
* Eligible games: ``game_type`` in {regular, playoff}, a label (``label_home_win``) and a feature row
  with a finite ``elo_prob_home``.  Prediction blocks are ``[start + k * cadence, start + (k + 1) *
  cadence)`` from the season's first game date; block k's models are fit only on eligible games
  dated strictly before the block's first day (the ``win_train_seasons`` previous lineup seasons
  + S so far).  Rows are never shuffled.
* ``market_free``: ``LinearWinModel`` on the expected-lineup features (``lineup.WIN_FEATURES``),
  refit every block with recency weights anchored at the block start.
* ``with_market``: ``MarketStack`` of the market at the cutoff (the features' de-vigged consensus
  moneyline, else the consensus spread through sigma fit on the training seasons) and the
  market-free probability, beta refit every block on earlier rows' out-of-sample market-free
  probabilities (28-day blocks before S, the walk's own predictions within S).
  ``spread_only``: the same stack given only the spread (moneylines withheld everywhere) --
  what a user whose feed has no moneylines gets.
* Minutes: the quantile model on the minutes features + lineup context, refit every
  ``minutes_cadence_days`` (30) on labelled rows of the ``minutes_train_seasons`` (3) previous
  lineup seasons + S so far.  Two evaluations on the rows of players who appeared:
  ``minutes`` -- given the lineup (the players who appeared share 240 + 25 x the real overtime
  periods; comparable with earlier results), then split-conformal p10/p90 shifts (per tail, level
  0.9) from the most recent ``conformal_window_rows`` predictions with known labels;
  ``minutes_expected_lineup`` -- as production predicts before tip: the candidates with
  P(plays) >= 0.5 share 240, no conformal shift.
* Market baseline (``market``): the de-vigged closing moneyline (multiplicative) when both
  moneylines exist (``source = "moneyline"``), else the spread-implied probability with sigma fit
  on the TRAINING seasons only (``"spread"``), else none.
* Evaluation set (``eval_set`` in the JSON): eligible games of the season WITH a market probability.
  The probability blocks (model_market_free, model_with_market, elo, market) and the calibration
  table all cover exactly these ``games``; ``games_labelled`` counts the eligible games before the
  market filter.  ``vs_market``: per-game log-loss difference model - market with a 95% paired
  bootstrap interval (2,000 resamples of games; negative = better than the market).
* ``availability``: Brier and log loss of P(plays) on S's labelled candidate rows against the
  recent-appearance rule (the training rate of playing given consecutive team games missed).
* Kelly: a probability against the closing moneylines (games with both moneylines): the side with
  the larger edge over the de-vigged price is bet when its edge exceeds ``min_edge`` (0.02);
  stake = min(0.25 * Kelly, 0.05) of a FIXED unit bankroll (no compounding), settled at the
  closing American odds; ``roi = profit / staked``.  ``kelly`` bets the market-free probability,
  ``kelly_with_market`` the with-market one.  ``kelly_spread_total``: the production spread and
  total rule (:func:`spread_total_bets`) with the market-free probability against the closing
  spread and total, -110 assumed on every side (the archive has no spread/total prices).
* Halftime (issue 12, ``models.halftime``; needs ``results`` with quarter scores): per test season
  the in-game model and a score-only baseline (logistic on the margin so far) are fit once on the
  training seasons' games (season-blocked: all before S), pregame input = those games'
  out-of-sample market-free probabilities; they predict S's eligible games with quarter scores
  from the walk's market-free probability.  ``halftime`` (after Q2) and ``halftime_by_period``
  ({"1", "2", "3"}): ``{games, log_loss, brier, pregame_log_loss, score_only_log_loss}`` on the
  same games (``pregame_log_loss``: the market-free probability alone).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_assets.featureio import History, gold_from_tables, latest_per_game
from pipeline_assets.features import FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION
from pipeline_assets.features import players as PL
from pipeline_assets.features.asof import latest_odds
from pipeline_assets.models import halftime as HT
from pipeline_assets.models import lineup as L
from pipeline_assets.models import win_linear as WL
from pipeline_assets.models.availability import recent_appearance_rule
from pipeline_assets.models.minutes import train_minutes_model
from pipeline_assets.scoring import LEAGUE_TOTAL, MARGIN_SD, TOTAL_SD, expected_total
from resources import storage
from resources.sources.archive import ArchiveSource
from tipoff_core.domain import betting as B
from tipoff_core.domain import metrics as M
from tipoff_core.domain import montecarlo as MC

CACHE_VERSION = "backtest-cache-v2"
GAME_TYPES = ("regular", "playoff")
TEAM_MINUTES = 240.0
OT_MINUTES = 25.0
WIN_VARIANTS = ("market_free", "with_market")
EVAL_SET = ("eligible games (regular season + playoffs, labelled, with features) of the season that "
            "have a market probability (closing moneyline, else spread-implied); model_market_free, "
            "model_with_market, elo, market and calibration all cover exactly these `games`")
GAME_EXTRA_COLUMNS = ["game_type", "close_home_ml", "close_away_ml", "close_home_spread",
                      "overtime_periods"]
MINUTES_EXTRA_COLUMNS = ["game_type", "overtime_periods"]

Progress = Callable[[str], None]
Hook = Callable[[dict], None]


def _quiet(_msg: str) -> None:
    return None


# ============================================================================ features

def data_fingerprint(data_dir: str | Path) -> str:
    """sha256 (16 hex) of every file's relative path, size and mtime under ``data_dir`` plus the
    feature schema version and this module's cache version."""
    root = Path(data_dir).expanduser().resolve()
    h = hashlib.sha256()
    h.update(f"{FEATURE_SCHEMA_VERSION}|{CACHE_VERSION}\n".encode())
    for p in sorted(root.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _cache_paths(fp: str, cache_dir: Path) -> tuple[Path, Path, Path]:
    return (cache_dir / f"backtest_games_{fp}.parquet", cache_dir / f"backtest_minutes_{fp}.parquet",
            cache_dir / f"backtest_box_{fp}.parquet")


def default_cache_dir() -> Path:
    """``$TIPOFF_DATA_DIR/cache``, else ``<repo>/data/cache`` (shared by every source's runs)."""
    explicit = os.environ.get("TIPOFF_DATA_DIR")
    return (Path(explicit) if explicit else storage.DATA_FOLDER) / "cache"


BOX_COLUMNS = ["game_id", "season", "game_date", "team_id", "player_id", "minutes", "plus_minus",
               *PL.BOX_STATS]


def slim_box(box_scores: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """The box-score columns the box weights need, with each game's ``season``."""
    b = box_scores.merge(results[["game_id", "season"]], on="game_id", how="inner")
    return b[[c for c in BOX_COLUMNS if c in b.columns]].reset_index(drop=True)


def archive_box_scores(data_dir: str | Path, *, cache_dir: str | Path | None = None,
                       progress: Progress = print) -> pd.DataFrame:
    """The archive's box scores (``slim_box`` columns), cached beside the features."""
    fp = data_fingerprint(data_dir)
    path = _cache_paths(fp, Path(cache_dir) if cache_dir is not None else default_cache_dir())[2]
    if path.is_file():
        return pd.read_parquet(path)
    src = ArchiveSource(data_dir)
    box = slim_box(src.table("box_scores"), src.table("results"))
    path.parent.mkdir(parents=True, exist_ok=True)
    storage.atomic_write_bytes(path, storage.parquet_bytes(box))
    progress(f"[backtest] cached {len(box):,} box-score rows at {path}")
    return box


def build_archive_features(data_dir: str | Path, *, cache_dir: str | Path | None = None,
                           use_cache: bool = True, progress: Progress = print
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold game and minutes features for the whole archive at ``data_dir`` (see module docstring).

    Cached under ``cache_dir`` (default :func:`default_cache_dir`), the box scores too
    (:func:`archive_box_scores`); both frames carry ``attrs["data_fingerprint"]``.
    """
    fp = data_fingerprint(data_dir)
    cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    gpath, mpath, bpath = _cache_paths(fp, cdir)
    t0 = time.perf_counter()
    if use_cache and gpath.is_file() and mpath.is_file():
        games, minutes = pd.read_parquet(gpath), pd.read_parquet(mpath)
        progress(f"[backtest] features from cache {gpath.parent} (fingerprint {fp}): "
                 f"{len(games):,} games, {len(minutes):,} player-games in "
                 f"{time.perf_counter() - t0:.1f}s")
    else:
        src = ArchiveSource(data_dir)
        tabs = {k: src.table(k) for k in ("schedule", "results", "box_scores", "injuries", "odds",
                                          "rosters")}
        t1 = time.perf_counter()
        progress(f"[backtest] archive tables read in {t1 - t0:.1f}s "
                 + ", ".join(f"{k}={len(v):,}" for k, v in tabs.items()))
        sched = latest_per_game(tabs["schedule"])
        games, minutes = gold_from_tables(sched, History(tabs["results"], tabs["box_scores"]),
                                          tabs["injuries"], tabs["odds"], tabs["rosters"])
        progress(f"[backtest] features: {len(games):,} games, {len(minutes):,} player-games in "
                 f"{time.perf_counter() - t1:.1f}s")
        games, minutes = add_eval_columns(games, minutes, sched, tabs["results"], tabs["odds"])
        cdir.mkdir(parents=True, exist_ok=True)
        box = slim_box(tabs["box_scores"], tabs["results"])
        for df, path in ((games, gpath), (minutes, mpath), (box, bpath)):
            storage.atomic_write_bytes(path, storage.parquet_bytes(df))
        progress(f"[backtest] cached features at {gpath.parent} (fingerprint {fp}); total "
                 f"{time.perf_counter() - t0:.1f}s")
    games.attrs["data_fingerprint"] = fp
    minutes.attrs["data_fingerprint"] = fp
    return games, minutes


def add_eval_columns(games: pd.DataFrame, minutes: pd.DataFrame, sched: pd.DataFrame,
                      results: pd.DataFrame, odds: pd.DataFrame
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    gt = sched[["game_id", "game_type"]]
    ot = results[["game_id", "overtime_periods"]].copy()
    ot["overtime_periods"] = pd.to_numeric(ot["overtime_periods"]).astype("float64")
    # closing line = the latest odds row at or before tip (the latest book's, one per game)
    o = latest_odds(odds, sched.assign(cutoff_ts=sched["tip_ts"]))
    o = o.sort_values(["game_id", "snapshot_ts"], kind="mergesort").drop_duplicates(
        "game_id", keep="last")
    close = pd.DataFrame({"game_id": o["game_id"].to_numpy(),
                          "close_home_ml": o["home_ml"].to_numpy(float),
                          "close_away_ml": o["away_ml"].to_numpy(float),
                          "close_home_spread": o["home_spread"].to_numpy(float)})
    g = games.merge(gt, on="game_id", how="left").merge(close, on="game_id", how="left")
    g = g.merge(ot, on="game_id", how="left")
    m = minutes.merge(gt, on="game_id", how="left").merge(ot, on="game_id", how="left")
    assert len(g) == len(games) and len(m) == len(minutes)
    return g, m


# ============================================================================ helpers

def _dates(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s.astype(str)).to_numpy(dtype="datetime64[D]")


def _day_str(d) -> str:
    return str(np.datetime64(d, "D"))


def _blocks(dates: np.ndarray, cadence_days: int) -> list[tuple[np.datetime64, np.ndarray]]:
    """(block start, boolean mask) for consecutive ``cadence_days`` windows from the first date;
    windows without rows are skipped."""
    if len(dates) == 0:
        return []
    start, end = dates.min(), dates.max()
    step = np.timedelta64(int(cadence_days), "D")
    idx = ((dates - start) // step).astype(np.int64)
    out = []
    for k in np.unique(idx):
        out.append((start + k * step, idx == k))
    assert end < start + (idx.max() + 1) * step
    return out


def eligible_games(games: pd.DataFrame) -> pd.DataFrame:
    """Regular-season + playoff games with a label and a feature row (finite ``elo_prob_home``),
    sorted by date, with ``_day`` (datetime64[D]) and ``_y`` (0/1 float) helper columns."""
    gt = games["game_type"].astype(str) if "game_type" in games.columns else "regular"
    y = pd.to_numeric(games["label_home_win"].astype("Float64"), errors="coerce")
    ok = (np.isin(np.asarray(gt), GAME_TYPES) & y.notna().to_numpy()
          & np.isfinite(pd.to_numeric(games["elo_prob_home"], errors="coerce").to_numpy(float)))
    g = games.loc[ok].copy()
    g["_day"] = _dates(g["game_date"])
    g["_y"] = y[ok].to_numpy(float)
    return g.sort_values(["_day", "game_id"], kind="mergesort", ignore_index=True)


def eligible_minutes(minutes: pd.DataFrame) -> pd.DataFrame:
    gt = minutes["game_type"].astype(str) if "game_type" in minutes.columns else "regular"
    y = pd.to_numeric(minutes["label_minutes"], errors="coerce").to_numpy(float)
    ok = np.isin(np.asarray(gt), GAME_TYPES) & np.isfinite(y)
    m = minutes.loc[ok].copy()
    m["_day"] = _dates(m["game_date"])
    return m.sort_values(["_day", "game_id", "team_id", "player_id"], kind="mergesort",
                         ignore_index=True)


def market_probability(df: pd.DataFrame, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(P(home) from the closing market, source per row: "moneyline" | "spread" | "")."""
    return WL.market_probability(df["close_home_ml"], df["close_away_ml"],
                                 df["close_home_spread"], sigma)


def kelly_bets(p_home: np.ndarray, y: np.ndarray, home_ml: np.ndarray, away_ml: np.ndarray,
               fraction: float = 0.25, cap: float = 0.05, min_edge: float = 0.02) -> dict:
    """One bet max per game on the side whose model edge over the de-vigged closing price is the
    larger and exceeds ``min_edge``; fractional-Kelly stake of a fixed unit bankroll, settled at
    the closing American odds.  Returns {bets, roi, staked, profit}."""
    p_home, y = np.asarray(p_home, float), np.asarray(y, float)
    hml, aml = np.asarray(home_ml, float), np.asarray(away_ml, float)
    ok = np.isfinite(p_home) & np.isfinite(y) & np.isfinite(hml) & np.isfinite(aml)
    p, y, hml, aml = p_home[ok], y[ok], hml[ok], aml[ok]
    if len(p) == 0:
        return {"bets": 0, "roi": float("nan"), "staked": 0.0, "profit": 0.0}
    fair_h, fair_a = (np.asarray(x, float) for x in B.devig_moneyline(hml, aml))
    e_h, e_a = p - fair_h, (1.0 - p) - fair_a
    home_side = e_h >= e_a
    e = np.where(home_side, e_h, e_a)
    p_side = np.where(home_side, p, 1.0 - p)
    ml = np.where(home_side, hml, aml)
    st = np.where(e > min_edge, np.asarray(B.stake(p_side, ml, fraction=fraction, cap=cap), float), 0.0)
    won = np.where(home_side, y > 0.5, y < 0.5)
    dec = np.asarray(B.american_to_decimal(ml), float)
    profit = np.where(won, st * (dec - 1.0), -st)
    bet = st > 0
    staked, prof = float(st[bet].sum()), float(profit[bet].sum())
    return {"bets": int(bet.sum()), "roi": prof / staked if staked > 0 else float("nan"),
            "staked": staked, "profit": prof}


def spread_total_bets(p_home: np.ndarray, frame: pd.DataFrame, fraction: float = 0.25,
                      cap: float = 0.05, spread_min_edge: float = 0.02,
                      total_min_edge: float = 0.03, n_sims: int = 10_000, seed: int = 0) -> dict:
    """The production spread/total rule (`scoring.market_recommendations`) on the closing lines:
    margin/total from the same Monte Carlo as scoring (mean margin from ``p_home``, mean total
    from the teams' scoring), win and push probabilities at ``mkt_home_spread`` / ``mkt_total``
    (the gold features' market at tip = the close), prices -110 both sides (the archive has none:
    every price is assumed), at most one side per market, push-aware fractional Kelly of a FIXED
    unit bankroll, settled on ``label_margin`` / ``label_total`` (a push returns the stake).
    Returns {"spread": {bets, pushes, staked, profit, roi}, "total": {...}}."""
    p = np.clip(np.asarray(p_home, float), 1e-4, 1 - 1e-4)

    def col(name: str) -> np.ndarray:  # a frame without a market or label: nothing to bet
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(float) \
            if name in frame.columns else np.full(len(frame), np.nan)

    spread, line = col("mkt_home_spread"), col("mkt_total")
    margin, total = col("label_margin"), col("label_total")
    pts = ("home_pts_for_pg", "away_pts_against_pg", "away_pts_for_pg", "home_pts_against_pg")
    mu_total = expected_total(frame) if all(c in frame.columns for c in pts) else \
        np.full(len(frame), LEAGUE_TOTAL)
    sims = MC.simulate_slate(MC.prob_to_margin(p, sd=MARGIN_SD), mu_total, MARGIN_SD,
                             TOTAL_SD, 0.0, n_sims=n_sims, seed=seed, home_spread=spread,
                             total_line=line)
    out = {}
    for market, p_a, push, result, min_edge in (
            ("spread", sims["p_home_cover"], sims["p_push_spread"], margin + spread,
             spread_min_edge),
            ("total", sims["p_over"], sims["p_push_total"], total - line, total_min_edge)):
        nan = np.full(len(p_a), np.nan)
        a = B.two_way_side(p_a, push, nan, nan, fraction, cap)
        b = B.two_way_side(1.0 - p_a - push, push, nan, nan, fraction, cap)
        bet_a = (a["edge"] >= min_edge) & (a["stake"] > 0)
        bet_b = (b["edge"] >= min_edge) & (b["stake"] > 0) & ~bet_a
        st = np.where(bet_a, a["stake"], np.where(bet_b, b["stake"], 0.0))
        ok = np.isfinite(result) & (st > 0)
        win = np.where(bet_a, result > 0, result < 0)
        dec = float(B.american_to_decimal(B.ASSUMED_PRICE))
        profit = np.where(result == 0, 0.0, np.where(win, st * (dec - 1.0), -st))
        staked, prof = float(st[ok].sum()), float(profit[ok].sum())
        out[market] = {"bets": int(ok.sum()), "pushes": int((ok & (result == 0)).sum()),
                       "wins": int((ok & win & (result != 0)).sum()),
                       "staked": staked, "profit": prof,
                       "roi": prof / staked if staked > 0 else float("nan")}
    return out


# ============================================================================ the walk

def _hook(hook: Hook | None, model: str, season: str, start, train_days: np.ndarray,
          n_train: int, pred_days: np.ndarray) -> None:
    if hook is not None:
        hook({"model": model, "season": season, "retrain_date": _day_str(start),
              "train_max_date": _day_str(train_days.max()), "train_rows": int(n_train),
              "pred_dates": [_day_str(d) for d in pred_days]})


def lineup_seasons(minutes: pd.DataFrame) -> list[str]:
    """Seasons whose candidate rows have labels (box scores exist)."""
    known = minutes["label_played"].notna().to_numpy()
    return sorted(minutes.loc[known, "season"].astype(str).unique())


def season_box_weights(box_scores: pd.DataFrame | None, season: str) -> PL.BoxWeights:
    """Box weights fit on the player-seasons before ``season``."""
    if box_scores is None or len(box_scores) == 0:
        return PL.DEFAULT_BOX_WEIGHTS
    b = box_scores[box_scores["season"].astype(str) < season]
    return L.box_weights(PL.season_totals(b.assign(season=b["season"].astype(str))))


def _walk_win(G: pd.DataFrame, P: pd.DataFrame, p_play: np.ndarray, lineup: L.LineupModel,
              season: str, cadence_days: int, hook: Hook | None) -> tuple[dict, dict]:
    """Weekly market-free refits and market stacks over ``season``; ``G`` holds the training
    seasons' and the season's eligible games, ``P``/``p_play`` their candidate rows."""
    t0 = time.perf_counter()
    X = L.win_design(lineup, G, P, p_play)
    y = X["_y"].to_numpy(float)
    days = G["_day"].to_numpy()
    test = (G["season"] == season).to_numpy()
    prior = ~test
    sigma = L.fit_sigma(G[prior])
    m_any = L.market_from_features(G, sigma)
    m_spread = np.asarray(B.spread_to_prob(G["mkt_home_spread"].to_numpy(float), sigma), float)
    q = np.full(len(G), np.nan)  # out-of-sample market-free probabilities (stack inputs)
    q[prior] = L.oos_free_probabilities(X[prior])
    out = {k: np.full(len(G), np.nan) for k in ("market_free", "with_market", "spread_only")}
    betas, fits = [], 0
    for start, mask in _blocks(days[test], cadence_days):
        rows = np.flatnonzero(test)[mask]
        tr = days < start
        free = L.fit_free(X[tr], _day_str(start))
        fits += 1
        p_mf = free.predict_proba(X.iloc[rows])
        stack = WL.fit_market_stack(m_any[tr], q[tr], y[tr])
        stack_sp = WL.fit_market_stack(m_spread[tr], q[tr], y[tr])
        out["market_free"][rows] = p_mf
        for key, st, m in (("with_market", stack, m_any), ("spread_only", stack_sp, m_spread)):
            mm = m[rows]
            out[key][rows] = np.where(np.isfinite(mm),
                                      st.predict_proba(np.nan_to_num(mm, nan=0.5), p_mf), p_mf)
        q[rows] = p_mf
        betas.append((stack.beta, stack_sp.beta))
        for model in ("market_free", "with_market"):
            _hook(hook, model, season, start, days[tr], tr.sum(), days[rows])
    b = np.array(betas)
    info = {"retrains": fits, "seconds": round(time.perf_counter() - t0, 2),
            "feature_sigma": sigma, "beta_with_market": [round(float(x), 3) for x in b[:, 0]],
            "beta_spread_only": [round(float(x), 3) for x in b[:, 1]],
            "coef_last_fit": dict(zip(L.WIN_FEATURES, map(float, free.coef[1:]))),
            # the training seasons' out-of-sample market-free probabilities (the halftime
            # model's pregame input on its training games)
            "oos_free_training": pd.Series(q[prior], index=G.loc[prior, "game_id"].to_numpy())}
    return {k: v[test] for k, v in out.items()}, info


def _conformal_offsets(y: np.ndarray, p10: np.ndarray, p90: np.ndarray,
                       level: float = 0.9) -> tuple[float, float]:
    """Split-conformal shifts (a, b) so that p10 - a and p90 + b each leave ~(1 - level) of the
    calibration rows outside on their side (a, b may be negative = narrowing)."""
    n = len(y)
    if n < 200:
        return 0.0, 0.0
    q = min(1.0, math.ceil((n + 1) * level) / n)
    return float(np.quantile(p10 - y, q)), float(np.quantile(y - p90, q))


def _uncovered_minutes(F: pd.DataFrame, box_scores: pd.DataFrame | None) -> np.ndarray:
    """Per row of ``F``: minutes its team played in the game through players who were not
    candidates (no appearance for the team in its last 20 games, no injury-report or roster
    listing -- in the archive a rookie's or new signing's first games).  They are not predicted,
    so the given-lineup evaluation takes their minutes out of the team's total."""
    if box_scores is None or len(box_scores) == 0:
        return np.zeros(len(F))
    key = ["game_id", "team_id", "player_id"]
    b = box_scores[box_scores["minutes"].notna() & box_scores["game_id"].isin(F["game_id"])]
    b = b[key + ["minutes"]].merge(F[key].assign(_cand=True), on=key, how="left")
    extra = b[b["_cand"].isna()].groupby(["game_id", "team_id"])["minutes"].sum()
    return F[["game_id", "team_id"]].merge(extra.rename("_x").reset_index(),
                                           on=["game_id", "team_id"], how="left")["_x"] \
        .fillna(0.0).to_numpy(float)


def _given_lineup(model: L.LineupMinutesModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Predictions for the rows of players who appeared, sharing each team's real minutes."""
    rec = model.predict_frame(frame, total="_total", plays=np.ones(len(frame), bool))
    rec["label_minutes"] = frame["label_minutes"].to_numpy(float)
    rec["_day"] = frame["_day"].to_numpy()
    return rec


def _walk_minutes(F: pd.DataFrame, lineup: L.LineupModel, season: str, cadence_days: int,
                  fast: bool, seed: int, n_jobs: int, hook: Hook | None, conformal: bool,
                  conformal_rows: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(given-lineup predictions, expected-lineup predictions, info) for the season's played rows.
    ``F``: ``LineupMinutesModel.frame`` rows of the training seasons and the season, with
    ``_day``, ``_total`` and ``_eligible``."""
    t0 = time.perf_counter()
    cols = L.minutes_feature_cols()
    days = F["_day"].to_numpy()
    played = F["label_minutes"].notna().to_numpy() & F["_eligible"].to_numpy(bool)
    test = (F["season"] == season).to_numpy() & F["_eligible"].to_numpy(bool)
    info = {"retrains": 0, "seconds": 0.0, "conformal": []}
    if not (test & played).any():
        return pd.DataFrame(), pd.DataFrame(), info

    def fit(mask: np.ndarray) -> L.LineupMinutesModel:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = train_minutes_model(F[mask], cols, date_col="game_date", seed=seed,
                                    holdout_frac=0.0, n_jobs=n_jobs,
                                    params=None if not fast else L.MINUTES_PARAMS)
        return L.LineupMinutesModel(lineup, m)

    start = days[test].min()
    history = None  # given-lineup predictions with known labels, before the conformal shift
    if conformal:
        base = np.flatnonzero(played & (days < start))
        if len(base) > conformal_rows + 1000:
            cut = days[base[-conformal_rows]]
            cal_train = played & (days < cut)
            cal = played & (days >= cut) & (days < start)
            history = _given_lineup(fit(cal_train), F[cal])
            _hook(hook, "minutes_calibration", season, cut, days[cal_train], cal_train.sum(),
                  np.unique(days[cal]))
    given, expected = [], []
    model, n_used = None, -1
    for r, mask in _blocks(days[test], cadence_days):
        rows = np.flatnonzero(test)[mask]
        train = played & (days < r)
        if model is None or train.sum() > n_used:
            model, n_used = fit(train), int(train.sum())
            info["retrains"] += 1
        block = F.iloc[rows]
        on = block["label_minutes"].notna().to_numpy()
        rec = _given_lineup(model, block[on])
        raw = rec.copy()
        if history is not None and len(history):
            h = history.iloc[-conformal_rows:]
            a, b = _conformal_offsets(h["label_minutes"].to_numpy(float), h["p10"].to_numpy(),
                                      h["p90"].to_numpy())
            rec["p10_before_conformal"], rec["p90_before_conformal"] = rec["p10"], rec["p90"]
            rec["p10"] = np.clip(np.minimum(rec["p10"] - a, rec["p50"]), 0.0, 48.0)
            rec["p90"] = np.clip(np.maximum(rec["p90"] + b, rec["p50"]), 0.0, 48.0)
            off = rec["inj_out"].to_numpy(bool)
            rec.loc[off, ["p10", "p50", "p90"]] = 0.0
            info["conformal"].append({"block": _day_str(r), "lower_shift": round(a, 3),
                                      "upper_shift": round(b, 3)})
        if conformal:
            history = raw if history is None else pd.concat([history, raw], ignore_index=True)
        given.append(rec)
        exp = model.predict_frame(block, total=TEAM_MINUTES)
        exp["label_minutes"] = block["label_minutes"].to_numpy(float)
        expected.append(exp[on])
        _hook(hook, "minutes", season, r, days[train], train.sum(), np.unique(days[rows]))
    info["seconds"] = round(time.perf_counter() - t0, 2)
    return pd.concat(given, ignore_index=True), pd.concat(expected, ignore_index=True), info


def _minutes_diagnostics(rec: pd.DataFrame) -> dict:
    """Where the minutes error comes from: p50 before reconciliation, the interval before the
    conformal shift, and rows of players listed Out at cutoff who nevertheless appeared (the
    model predicts 0 for them; archive injury transactions are sometimes stale)."""
    if rec is None or len(rec) == 0:
        return {}
    y = rec["label_minutes"].to_numpy(float)
    out = rec["inj_out"].to_numpy(bool) if "inj_out" in rec.columns else np.zeros(len(rec), bool)
    d = {"mae_p50_before_reconcile": M.mae(y, rec["p50_raw"]),
         "listed_out_rows": int(out.sum()),
         "mae_excluding_listed_out": M.mae(y[~out], rec["p50"].to_numpy()[~out])}
    if "p10_before_conformal" in rec.columns:
        d["coverage_before_conformal"] = M.interval_coverage(y, rec["p10_before_conformal"],
                                                             rec["p90_before_conformal"])
    return d


def _minutes_metrics(rec: pd.DataFrame | None) -> dict:
    if rec is None or len(rec) == 0:
        return {"rows": 0, "mae": float("nan"), "rmse": float("nan"),
                "coverage_p10_p90": float("nan")}
    return M.minutes_metrics(rec["label_minutes"], rec["p10"], rec["p50"], rec["p90"])


def _expected_metrics(rec: pd.DataFrame | None) -> dict:
    m = _minutes_metrics(rec)
    m["unexpected_rows"] = 0 if rec is None or len(rec) == 0 else int(
        (rec["p_play"].to_numpy(float) < L.PLAYS_THRESHOLD).sum())
    return m


def _availability_metrics(P: pd.DataFrame, p_play: np.ndarray, season: str) -> dict:
    """P(plays) of the season's labelled candidates vs the recent-appearance rule fit on the
    seasons before it."""
    known = P["label_played"].notna().to_numpy()
    cur = known & (P["season"] == season).to_numpy()
    before = known & (P["season"] < season).to_numpy()
    if not cur.any() or not before.any():
        return {"rows": int(cur.sum())}
    rows = L.labelled_availability(P[cur])
    rule = recent_appearance_rule(L.labelled_availability(P[before]), rows)
    y, p = rows["played"].to_numpy(float), p_play[cur]
    return {"rows": int(cur.sum()), "base_rate": float(y.mean()),
            "brier_model": M.brier(y, p), "brier_rule": M.brier(y, rule),
            "log_loss_model": M.log_loss(y, p), "log_loss_rule": M.log_loss(y, rule)}


HALFTIME_PERIOD = 2
QUARTER_COLUMNS = ["game_id", "home_pts", "away_pts",
                   *[f"{side}_{q}" for side in ("home", "away") for q in HT.QUARTERS]]


def archive_quarter_scores(data_dir: str | Path) -> pd.DataFrame:
    """The archive's final and quarter scores (the halftime evaluation's input; ~4 s to read)."""
    return ArchiveSource(data_dir).table("results")[QUARTER_COLUMNS]


def _halftime_season(G: pd.DataFrame, season: str, p_test: np.ndarray, p_train: pd.Series,
                     results: pd.DataFrame | None, hook: Hook | None
                     ) -> tuple[pd.DataFrame, dict]:
    """Season-blocked halftime evaluation: the model and the score-only baseline are fit on the
    training seasons' games of ``G`` (all dated before ``season``), then predict the season's.

    Pregame input: the test games' walk-forward market-free probabilities (``p_test``, aligned
    with ``G``'s season rows); on the training games their out-of-sample market-free probabilities
    from earlier-block fits (``p_train``, from ``_walk_win``) -- the same model predicting unseen
    games, so its sharpness matches the test input, and it is leak-free (no closing line: a spread
    proxy would be sharper than the market-free input and make the fit over-trust it).  Training
    games whose first blocks have no out-of-sample probability are left out.
    Returns (rows: period, y, p_model, p_pregame, p_score_only per test game x checkpoint; info)."""
    empty = pd.DataFrame({c: pd.Series(dtype="float64")
                          for c in ("period", "y", "p_model", "p_pregame", "p_score_only")})
    if results is None or len(results) == 0:
        return empty, {"fit": None, "reason": "no quarter scores given"}
    test = (G["season"] == season).to_numpy()
    day = pd.Series(G["_day"].to_numpy(), index=G["game_id"].to_numpy())
    p_train = p_train[np.isfinite(p_train.to_numpy(float))
                      & (p_train.index.map(day) < G.loc[test, "_day"].min())]
    tr = HT.checkpoint_frame(results[results["game_id"].isin(p_train.index)], p_train)
    te = HT.checkpoint_frame(results[results["game_id"].isin(G.loc[test, "game_id"])],
                             pd.Series(p_test, index=G.loc[test, "game_id"].to_numpy()))
    try:
        model, base = HT.fit_halftime_model(tr), HT.fit_score_only(tr)
    except ValueError as exc:
        return empty, {"fit": None, "reason": str(exc)}
    if len(te) == 0:
        return empty, {"fit": model.to_dict(), "reason": "no test games with quarter scores"}
    train_days = tr["game_id"].map(day).to_numpy()
    _hook(hook, "halftime", season, G.loc[test, "_day"].min(), train_days,
          int(tr["game_id"].nunique()), np.unique(te["game_id"].map(day).to_numpy()))
    period = te["period"].to_numpy(int)
    rows = pd.DataFrame({"period": period, "y": te["label_home_win"].to_numpy(float),
                         "p_model": model.predict(period, te["margin"], te["p_pregame"])
                         ["p_home_win"].to_numpy(),
                         "p_pregame": te["p_pregame"].to_numpy(float),
                         "p_score_only": base.predict_proba(period, te["margin"])})
    info = {"train_games": int(tr["game_id"].nunique()),
            "train_max_date": _day_str(train_days.max()), "fit": model.to_dict(),
            "score_only": {str(t): list(c) for t, c in base.coef.items()}}
    return rows, info


def _halftime_metrics(rows: pd.DataFrame, period: int) -> dict:
    r = rows[rows["period"].to_numpy() == period]
    y = r["y"].to_numpy(float)
    return {"games": len(r), "log_loss": M.log_loss(y, r["p_model"]),
            "brier": M.brier(y, r["p_model"]), "pregame_log_loss": M.log_loss(y, r["p_pregame"]),
            "score_only_log_loss": M.log_loss(y, r["p_score_only"])}


def _halftime_blocks(rows: pd.DataFrame) -> dict:
    """``halftime`` (after the second quarter) and ``halftime_by_period`` (after 1, 2, 3)."""
    return {"halftime": _halftime_metrics(rows, HALFTIME_PERIOD),
            "halftime_by_period": {str(t): _halftime_metrics(rows, t) for t in HT.CHECKPOINTS}}


def _vs(y: np.ndarray, p: np.ndarray, ref: np.ndarray, seed: int) -> dict:
    return M.bootstrap_mean_ci(M.log_losses(y, p) - M.log_losses(y, ref), seed=seed)


def _prob_block(y, p_mf, p_wm, p_sp, p_elo, p_mkt, src, p_spread_mkt, sigma, seed) -> dict:
    ev = np.isfinite(p_mkt)
    counts = {"moneyline": int((src[ev] == "moneyline").sum()),
              "spread": int((src[ev] == "spread").sum())}
    sp = np.isfinite(p_spread_mkt)
    blk = {"games": int(ev.sum()), "games_labelled": len(y), "eval_set": EVAL_SET,
           "model_market_free": M.probability_metrics(y[ev], p_mf[ev]),
           "model_with_market": M.probability_metrics(y[ev], p_wm[ev]),
           "elo": M.probability_metrics(y[ev], p_elo[ev]),
           "market": {**M.probability_metrics(y[ev], p_mkt[ev]), "source": _source_label(counts),
                      "counts": counts},
           "vs_market": {"market_free": _vs(y[ev], p_mf[ev], p_mkt[ev], seed),
                         "with_market": _vs(y[ev], p_wm[ev], p_mkt[ev], seed)},
           "spread_only": {"games": int(sp.sum()),
                           "model_with_market": M.probability_metrics(y[sp], p_sp[sp]),
                           "market_spread": M.probability_metrics(y[sp], p_spread_mkt[sp]),
                           "vs_market": _vs(y[sp], p_sp[sp], p_spread_mkt[sp], seed)},
           "calibration": _calibration(p_mf[ev], y[ev])}
    if sigma is not None:
        blk["market"]["spread_sigma"] = sigma
    return blk


def walk_forward(games: pd.DataFrame, minutes: pd.DataFrame, test_seasons: Sequence[str],
                 box_scores: pd.DataFrame | None = None, cadence_days: int = 7,
                 fast: bool = True, seed: int = 0, progress: Progress | None = print, *,
                 minutes_cadence_days: int = 30, hook: Hook | None = None,
                 win_train_seasons: int | None = 6, minutes_train_seasons: int | None = 3,
                 minutes_conformal: bool = True, conformal_window_rows: int = 20_000,
                 kelly_fraction: float = 0.25, kelly_cap: float = 0.05, min_edge: float = 0.02,
                 n_jobs: int = 2, data_fingerprint: str | None = None,
                 results: pd.DataFrame | None = None) -> dict:
    """Walk-forward backtest over ``test_seasons`` (see the module docstring for the protocol).

    ``games`` / ``minutes``: :func:`build_archive_features` output; ``box_scores``: box rows with
    ``season`` for the box weights (:func:`archive_box_scores`; None = the default weights).
    ``hook(event)`` is called once per prediction block and model with ``{"model", "season",
    "retrain_date", "train_max_date", "train_rows", "pred_dates"}`` -- every ``train_max_date``
    is strictly before every ``pred_dates`` entry.  ``results``: final + quarter scores per
    ``game_id`` (:func:`archive_quarter_scores`) for the ``halftime`` blocks (None = empty
    blocks).  ``fast``: the minutes model's fast settings
    (production's).  Returns the JSON-ready result dict (NaN for undefined metrics)."""
    from threadpoolctl import threadpool_limits

    # BLAS threads (numpy / scikit-learn's lbfgs) busy-wait: on a shared 2-core host a small
    # logistic fit took 1-2 s with 2 threads vs 0.15 s with 1.  Tree models use OpenMP (n_jobs).
    with threadpool_limits(limits=1, user_api="blas"):
        return _walk_forward(games, minutes, box_scores, list(test_seasons), cadence_days, fast,
                             seed, progress or _quiet, minutes_cadence_days, hook,
                             win_train_seasons, minutes_train_seasons, minutes_conformal,
                             conformal_window_rows, kelly_fraction, kelly_cap, min_edge, n_jobs,
                             data_fingerprint, results)


def _last(seasons: list[str], n: int | None) -> list[str]:
    return seasons[-n:] if n else seasons


def _walk_forward(games, minutes, box_scores, test_seasons, cadence_days, fast, seed, progress,
                  minutes_cadence_days, hook, win_train_seasons, minutes_train_seasons,
                  minutes_conformal, conformal_window_rows, kelly_fraction, kelly_cap, min_edge,
                  n_jobs, data_fingerprint, results=None) -> dict:
    t_all = time.perf_counter()
    G_all = eligible_games(games)
    seasons_ok = lineup_seasons(minutes)
    for s in test_seasons:
        if not (G_all["season"] == s).any():
            raise ValueError(f"walk_forward: no eligible games in test season {s!r}")
        if not [x for x in seasons_ok if x < s]:
            raise ValueError(f"walk_forward: test season {s!r} needs a season with box scores "
                             f"before it (seasons with box scores: {seasons_ok})")
    last = max(test_seasons)
    keep = minutes["season"].isin([s for s in seasons_ok if s <= last] + list(test_seasons))
    P = minutes[keep.to_numpy()].sort_values(["game_date", "game_id", "team_id", "player_id"],
                                             kind="mergesort", ignore_index=True)
    P["_day"] = _dates(P["game_date"])
    t0 = time.perf_counter()
    p_all = L.oos_p_play(P, seed=seed, n_jobs=n_jobs)
    t_avail = time.perf_counter() - t0
    progress(f"[backtest] P(plays) of {len(P):,} candidate rows, each season from the seasons "
             f"before it, in {t_avail:.1f}s")
    for s in test_seasons:
        prior = P["season"] < s
        if hook is not None and prior.any():
            _hook(hook, "availability", s, P.loc[P["season"] == s, "_day"].min(),
                  P.loc[prior, "_day"].to_numpy(), int(prior.sum()),
                  np.unique(P.loc[P["season"] == s, "_day"].to_numpy()))

    out: dict = {}
    pooled: dict[str, list] = {k: [] for k in (
        "y", "mf", "wm", "sp", "elo", "mkt", "src", "spread_mkt", "hml", "aml")}
    pooled_min: dict[str, list] = {"given": [], "expected": []}
    pooled_half: list[pd.DataFrame] = []
    pooled_frames: list[pd.DataFrame] = []
    cfg: dict[str, dict] = {k: {} for k in ("n_retrains", "win", "spread_sigma", "halftime",
                                            "minutes_conformal_shifts", "minutes_diagnostics",
                                            "seconds_per_season")}
    for season in test_seasons:
        ts = time.perf_counter()
        prior = [s for s in seasons_ok if s < season]
        lineup = L.LineupModel(season_box_weights(box_scores, season), None)
        # win models
        win_seasons = _last(prior, win_train_seasons) + [season]
        G = G_all[G_all["season"].isin(win_seasons).to_numpy()].reset_index(drop=True)
        pm = P["game_id"].isin(G["game_id"]).to_numpy()
        probs, winfo = _walk_win(G, P[pm], p_all[pm], lineup, season, cadence_days, hook)
        test = (G["season"] == season).to_numpy()
        tframe = G[test]
        y = tframe["_y"].to_numpy(float)
        # the closing-line baseline: sigma from the training seasons only
        tr = G_all[(G_all["season"] < season).to_numpy()]
        try:
            sigma = B.fit_spread_sigma(tr["close_home_spread"].to_numpy(float),
                                       pd.to_numeric(tr["label_margin"], errors="coerce")
                                       .to_numpy(float))
        except ValueError:
            sigma = L.DEFAULT_SIGMA
        p_mkt, src = market_probability(tframe, sigma)
        p_spread_mkt = np.asarray(B.spread_to_prob(tframe["close_home_spread"].to_numpy(float),
                                                   sigma), float)
        p_elo = tframe["elo_prob_home"].to_numpy(float)
        blk = _prob_block(y, probs["market_free"], probs["with_market"], probs["spread_only"],
                          p_elo, p_mkt, src, p_spread_mkt, sigma, seed)
        hml = tframe["close_home_ml"].to_numpy(float)
        aml = tframe["close_away_ml"].to_numpy(float)
        blk["kelly"] = kelly_bets(probs["market_free"], y, hml, aml, kelly_fraction, kelly_cap,
                                  min_edge)
        blk["kelly_with_market"] = kelly_bets(probs["with_market"], y, hml, aml, kelly_fraction,
                                              kelly_cap, min_edge)
        blk["kelly_spread_total"] = spread_total_bets(probs["market_free"], tframe,
                                                      kelly_fraction, kelly_cap, seed=seed)
        pooled_frames.append(tframe)
        # availability and minutes
        blk["availability"] = _availability_metrics(P, p_all, season)
        half_rows, cfg["halftime"][season] = _halftime_season(
            G, season, probs["market_free"], winfo["oos_free_training"], results, hook)
        blk.update(_halftime_blocks(half_rows))
        pooled_half.append(half_rows)
        min_seasons = _last(prior, minutes_train_seasons) + [season]
        mm = P["season"].isin(min_seasons).to_numpy()
        F = L.LineupMinutesModel(lineup, None).frame(P[mm], p_all[mm])
        ot = pd.to_numeric(F["overtime_periods"], errors="coerce").to_numpy(float) \
            if "overtime_periods" in F.columns else np.zeros(len(F))
        gt = F["game_type"].astype(str).to_numpy() if "game_type" in F.columns else "regular"
        F = F.assign(_total=TEAM_MINUTES + OT_MINUTES * np.nan_to_num(ot, nan=0.0)
                     - _uncovered_minutes(F, box_scores), _eligible=np.isin(gt, GAME_TYPES))
        given, expected, minfo = _walk_minutes(F, lineup, season, minutes_cadence_days, fast,
                                               seed, n_jobs, hook, minutes_conformal,
                                               conformal_window_rows)
        blk["minutes"] = _minutes_metrics(given)
        blk["minutes_expected_lineup"] = _expected_metrics(expected)
        out[season] = blk

        for k, v in (("y", y), ("mf", probs["market_free"]), ("wm", probs["with_market"]),
                     ("sp", probs["spread_only"]), ("elo", p_elo), ("mkt", p_mkt), ("src", src),
                     ("spread_mkt", p_spread_mkt), ("hml", hml), ("aml", aml)):
            pooled[k].append(v)
        pooled_min["given"].append(given)
        pooled_min["expected"].append(expected)
        cfg["n_retrains"][season] = {"market_free": winfo["retrains"],
                                     "with_market": winfo["retrains"],
                                     "minutes": minfo["retrains"]}
        cfg["win"][season] = {k: winfo[k] for k in ("feature_sigma", "beta_with_market",
                                                    "beta_spread_only", "coef_last_fit",
                                                    "seconds")}
        cfg["spread_sigma"][season] = sigma
        cfg["minutes_conformal_shifts"][season] = minfo["conformal"]
        cfg["minutes_diagnostics"][season] = _minutes_diagnostics(given)
        cfg["seconds_per_season"][season] = round(time.perf_counter() - ts, 1)
        progress(f"[backtest] {season}: done in {cfg['seconds_per_season'][season]:.1f}s  "
                 + _season_line(blk))

    cat = {k: np.concatenate(v) if v else np.empty(0) for k, v in pooled.items()}
    overall = {"seasons": list(test_seasons),
               **_prob_block(cat["y"], cat["mf"], cat["wm"], cat["sp"], cat["elo"], cat["mkt"],
                             cat["src"], cat["spread_mkt"], None, seed)}
    given_all = pd.concat([g for g in pooled_min["given"] if len(g)], ignore_index=True) \
        if any(len(g) for g in pooled_min["given"]) else None
    exp_all = pd.concat([g for g in pooled_min["expected"] if len(g)], ignore_index=True) \
        if any(len(g) for g in pooled_min["expected"]) else None
    overall["minutes"] = _minutes_metrics(given_all)
    overall.update(_halftime_blocks(pd.concat(pooled_half, ignore_index=True)))
    overall["minutes_expected_lineup"] = _expected_metrics(exp_all)
    overall["kelly"] = kelly_bets(cat["mf"], cat["y"], cat["hml"], cat["aml"], kelly_fraction,
                                  kelly_cap, min_edge)
    overall["kelly_with_market"] = kelly_bets(cat["wm"], cat["y"], cat["hml"], cat["aml"],
                                              kelly_fraction, kelly_cap, min_edge)
    if pooled_frames:
        overall["kelly_spread_total"] = spread_total_bets(
            cat["mf"], pd.concat(pooled_frames, ignore_index=True), kelly_fraction, kelly_cap,
            seed=seed)
    av = [out[s]["availability"] for s in test_seasons if "brier_model" in out[s]["availability"]]
    n_av = sum(a["rows"] for a in av)
    overall["availability"] = {"rows": n_av, **({k: sum(a[k] * a["rows"] for a in av) / n_av
                                                 for k in ("brier_model", "brier_rule",
                                                           "log_loss_model", "log_loss_rule")}
                                                if n_av else {})}
    cfg["minutes_diagnostics"]["overall"] = _minutes_diagnostics(given_all)
    fp = data_fingerprint or games.attrs.get("data_fingerprint")
    config = {"cadence_days": int(cadence_days), "minutes_cadence_days": int(minutes_cadence_days),
              "fast": bool(fast), "seeds": {"win": int(seed), "minutes": int(seed)},
              "feature_schema_version": FEATURE_SCHEMA_VERSION, "data_fingerprint": fp,
              "models": {"market_free": "LinearWinModel on " + ", ".join(L.WIN_FEATURES),
                         "with_market": "MarketStack(market, market_free)",
                         "minutes": "LightGBM quantiles + lineup context, width reconciliation",
                         "availability": "LightGBM classifier (regular / playoff)",
                         "halftime": "Gaussian final margin, least squares per checkpoint on "
                                     "(margin so far, pregame expected margin), season-blocked"},
              "lineup_seasons": seasons_ok, "availability_seconds": round(t_avail, 1),
              "n_retrains_total": int(sum(sum(v.values()) for v in cfg["n_retrains"].values())),
              "win_train_seasons": win_train_seasons, "minutes_train_seasons": minutes_train_seasons,
              "minutes_conformal": bool(minutes_conformal),
              "conformal_window_rows": int(conformal_window_rows),
              "kelly": {"fraction": kelly_fraction, "cap": kelly_cap, "min_edge": min_edge,
                        "bankroll": "fixed 1 unit (no compounding)"},
              **cfg, "seconds_total": round(time.perf_counter() - t_all, 1)}
    return _json_ready({**out, "overall": overall, "config": config})


def _source_label(counts: dict) -> str:
    used = [k for k in ("moneyline", "spread") if counts.get(k)]
    return "+".join(used) if used else "none"


def _calibration(p: np.ndarray, y: np.ndarray) -> list[dict]:
    t = M.calibration_table(p, y, bins=10)
    return [{"bin": int(r.bin), "lo": float(r.lo), "hi": float(r.hi), "count": int(r.count),
             "mean_pred": float(r.mean_pred), "mean_obs": float(r.mean_obs)}
            for r in t.itertuples(index=False)]


def _json_ready(obj):
    """NaN/inf -> None, numpy scalars -> Python (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ============================================================================ reporting / CLI

def _f(x, nd=4) -> str:
    return "   n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"


def _season_line(b: dict) -> str:
    return (f"LL mf={_f(b['model_market_free']['log_loss'])} wm={_f(b['model_with_market']['log_loss'])}"
            f" elo={_f(b['elo']['log_loss'])} mkt={_f(b['market']['log_loss'])}  minutes MAE="
            f"{_f(b['minutes']['mae'], 3)} cov={_f(b['minutes']['coverage_p10_p90'], 3)}"
            f"  halftime LL={_f(b['halftime']['log_loss'])}")


def format_table(result: dict) -> str:
    """A compact text table of a :func:`walk_forward` result."""
    keys = [k for k in result if k not in ("overall", "config")] + ["overall"]
    head = (f"{'season':<9}{'games':>6} {'LL free':>8}{'LL mkt+':>8}{'LL elo':>8}{'LL mkt':>8}"
            f"{'acc free':>9}{'acc mkt':>8} {'min rows':>9}{'MAE':>7}{'cov80':>7}"
            f" {'bets':>5}{'roi':>8}")
    lines = [head, "-" * len(head)]
    for k in keys:
        b = result[k]
        mi, ke = b["minutes"], b["kelly"]
        lines.append(
            f"{k:<9}{b['games']:>6} {_f(b['model_market_free']['log_loss']):>8}"
            f"{_f(b['model_with_market']['log_loss']):>8}{_f(b['elo']['log_loss']):>8}"
            f"{_f(b['market']['log_loss']):>8}{_f(b['model_market_free']['accuracy'], 3):>9}"
            f"{_f(b['market']['accuracy'], 3):>8} {mi['rows']:>9}{_f(mi['mae'], 2):>7}"
            f"{_f(mi['coverage_p10_p90'], 3):>7} {ke['bets']:>5}{_f(ke['roi'], 3):>8}")
    if not (result["overall"].get("halftime") or {}).get("games"):
        return "\n".join(lines)  # no quarter scores given
    lines.append("halftime LL (model / pregame / score-only) after Q1 | Q2 | Q3:")
    for k in keys:
        per = result[k].get("halftime_by_period") or {}
        cells = [f"{_f(m['log_loss'])}/{_f(m['pregame_log_loss'])}/{_f(m['score_only_log_loss'])}"
                 for m in (per.get(str(t)) for t in HT.CHECKPOINTS) if m]
        lines.append(f"  {k:<9}{(per.get('2') or {}).get('games', 0):>6}  " + " | ".join(cells))
    return "\n".join(lines)


def write_json_atomic(path: str | Path, obj: dict) -> Path:
    path = Path(path)
    storage.atomic_write_bytes(path, (json.dumps(_json_ready(obj), indent=2, allow_nan=False) + "\n").encode())
    return path


def run_backtest_cli(data_dir: str | Path, seasons: list[str], json_out: str | Path | None,
                     cadence_days: int = 7, fast: bool = True, progress: Progress | None = print,
                     *, cache_dir: str | Path | None = None, **walk_kwargs) -> dict:
    """Build (or load cached) archive features, run :func:`walk_forward`, write the JSON atomically
    to ``json_out`` (when given) and print a compact table.  ``walk_kwargs`` go to
    :func:`walk_forward` (e.g. ``minutes_cadence_days``, ``seed``)."""
    progress = progress or _quiet
    t0 = time.perf_counter()
    games, minutes = build_archive_features(data_dir, cache_dir=cache_dir, progress=progress)
    known = set(games["season"].astype(str))
    missing = [s for s in seasons if s not in known]
    if missing:
        raise ValueError(f"seasons not in the archive: {missing} (known: {sorted(known)})")
    box = archive_box_scores(data_dir, cache_dir=cache_dir, progress=progress)
    walk_kwargs.setdefault("results", archive_quarter_scores(data_dir))
    res = walk_forward(games, minutes, seasons, box, cadence_days=cadence_days, fast=fast,
                       progress=progress, **walk_kwargs)
    res["config"]["data_dir"] = str(Path(data_dir).expanduser().resolve())
    res["config"]["seconds_with_features"] = round(time.perf_counter() - t0, 1)
    if json_out:
        p = write_json_atomic(json_out, res)
        progress(f"[backtest] wrote {p}")
    progress(format_table(res))
    return res


__all__ = ["CACHE_VERSION", "EVAL_SET", "add_eval_columns", "archive_box_scores",
           "archive_quarter_scores",
           "build_archive_features", "data_fingerprint",
           "eligible_games", "eligible_minutes", "format_table", "kelly_bets", "market_probability", "spread_total_bets",
           "run_backtest_cli", "walk_forward", "write_json_atomic"]
