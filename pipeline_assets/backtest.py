"""Walk-forward backtest of the win-probability and player-minutes models (plain Python, no Dagster).

Public API
----------
  data_fingerprint(data_dir) -> str
  build_archive_features(data_dir, ...) -> (games_df, minutes_df)
  walk_forward(games, minutes, test_seasons, cadence_days=7, fast=False, seed=0, progress=print,
               ...) -> dict
  run_backtest_cli(data_dir, seasons, json_out, cadence_days=7, fast=False) -> dict
  format_table(result) -> str

Features
--------
``build_archive_features`` builds GOLD features (``cutoff_ts = tip_ts``) for every game of an
archive directory through the one feature code path (``build_game_features`` /
``build_minutes_features``) from ``ArchiveSource(data_dir).table(kind)`` bulk tables.  Player targets
are the box-score appearances.  A few evaluation-only columns are appended after the contract's
columns (they are never model features):

  games    ``game_type`` (schedule), ``close_home_ml``, ``close_away_ml``, ``close_home_spread``
           (the latest odds row at or before tip, i.e. the closing line), ``overtime_periods``
  minutes  ``game_type``, ``overtime_periods``

The pair is cached as parquet under ``<data root>/cache/`` keyed by :func:`data_fingerprint` (the
data directory's file names, sizes and mtimes + ``FEATURE_SCHEMA_VERSION`` + ``CACHE_VERSION``).

Walk-forward protocol (per test season S)
----------------------------------------
* Eligible games: ``game_type`` in {regular, playoff}, a label (``label_home_win``) and a feature row
  with a finite ``elo_prob_home`` (every archive game has one).  Games without labels are excluded
  from training and evaluation.  Eligible minutes rows: a finite ``label_minutes`` in a regular or
  playoff game (the archive's player logs are regular season only).
* Prediction blocks are ``[start + k * cadence, start + (k + 1) * cadence)`` with ``start`` = the
  season's first game date.  The model used for block k is trained only on eligible games with
  ``game_date`` strictly before the block's first day: block 0 uses the model tuned on every
  earlier season; later blocks refit (only when new labelled games exist) on every eligible game
  dated before the block.  Rows are never shuffled.
* Win models -- ``market_free`` (FEATURE_COLUMNS["game"]) and ``with_market`` (+ MARKET_COLUMNS
  ["game"]) -- are TUNED ONCE PER TEST SEASON with ``train_win_model`` (season-blocked CV, candidate
  + calibration choice) on the initial training set; each weekly retrain refits the chosen
  candidate with the same hyperparameters on the longer history and keeps the calibration mapping
  chosen at tuning time.
* Minutes: ``train_minutes_model`` refit every ``minutes_cadence_days`` (default 30, "monthly");
  predictions are reconciled per (game, team) to 240 + 25 * overtime periods (the actual periods,
  when the archive knows them, else 240) by ``reconcile_team_minutes``.  With
  ``minutes_conformal`` the p10/p90 of each block are then shifted by split-conformal offsets
  (per tail, level 0.9) computed on the most recent reconciled predictions whose labels are known
  before the block (``conformal_window_rows``); at season start those come from a calibration model
  fit on training rows before the last ``conformal_window_rows`` training rows.
* Market baseline: the de-vigged closing moneyline (multiplicative) when both moneylines exist
  (``source = "moneyline"``), else the spread-implied probability with sigma fit by
  ``fit_spread_sigma`` on the TRAINING seasons only (``"spread"``), else none.
* Evaluation set (``eval_set`` in the JSON): eligible games of the season WITH a market probability.
  The four probability blocks (model_market_free, model_with_market, elo, market) and the
  calibration table all cover exactly these ``games``; ``games_labelled`` counts the eligible games
  before the market filter.
* Kelly: the ``market_free`` probability against the closing moneylines (games with both
  moneylines): the side with the larger edge over the de-vigged price is bet when its edge exceeds
  ``min_edge`` (0.02); stake = min(0.25 * Kelly, 0.05) of a FIXED unit bankroll (no compounding),
  settled at the closing American odds; ``roi = profit / staked``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from tipoff_core.domain import betting as B
from tipoff_core.domain import metrics as M
from pipeline_assets.featureio import History, gold_from_tables, latest_per_game
from pipeline_assets.features import FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION, MARKET_COLUMNS
from pipeline_assets.features.asof import latest_odds
from pipeline_assets.models.minutes import predict_minutes, train_minutes_model
from pipeline_assets.models.win import Candidate, WinModel, default_candidates, train_win_model
from resources import storage
from resources.sources.archive import ArchiveSource

CACHE_VERSION = "backtest-cache-v1"
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


def _cache_paths(fp: str, cache_dir: Path) -> tuple[Path, Path]:
    return (cache_dir / f"backtest_games_{fp}.parquet", cache_dir / f"backtest_minutes_{fp}.parquet")


def build_archive_features(data_dir: str | Path, *, cache_dir: str | Path | None = None,
                           use_cache: bool = True, progress: Progress = print
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold game and minutes features for the whole archive at ``data_dir`` (see module docstring).

    Cached under ``cache_dir`` (default ``<data root>/cache``); both frames carry
    ``attrs["data_fingerprint"]``.
    """
    fp = data_fingerprint(data_dir)
    cdir = Path(cache_dir) if cache_dir is not None else storage.data_root() / "cache"
    gpath, mpath = _cache_paths(fp, cdir)
    t0 = time.perf_counter()
    if use_cache and gpath.is_file() and mpath.is_file():
        games, minutes = pd.read_parquet(gpath), pd.read_parquet(mpath)
        progress(f"[backtest] features from cache {gpath.parent} (fingerprint {fp}): "
                 f"{len(games):,} games, {len(minutes):,} player-games in "
                 f"{time.perf_counter() - t0:.1f}s")
    else:
        src = ArchiveSource(data_dir)
        tabs = {k: src.table(k) for k in ("schedule", "results", "box_scores", "injuries", "odds")}
        t1 = time.perf_counter()
        progress(f"[backtest] archive tables read in {t1 - t0:.1f}s "
                 + ", ".join(f"{k}={len(v):,}" for k, v in tabs.items()))
        sched = latest_per_game(tabs["schedule"])
        games, minutes = gold_from_tables(sched, History(tabs["results"], tabs["box_scores"]),
                                          tabs["injuries"], tabs["odds"])
        progress(f"[backtest] features: {len(games):,} games, {len(minutes):,} player-games in "
                 f"{time.perf_counter() - t1:.1f}s")
        games, minutes = add_eval_columns(games, minutes, sched, tabs["results"], tabs["odds"])
        cdir.mkdir(parents=True, exist_ok=True)
        for df, path in ((games, gpath), (minutes, mpath)):
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
    hml = df["close_home_ml"].to_numpy(float)
    aml = df["close_away_ml"].to_numpy(float)
    spr = df["close_home_spread"].to_numpy(float)
    ml_ok = np.isfinite(hml) & np.isfinite(aml)
    p = np.full(len(df), np.nan)
    if ml_ok.any():
        p[ml_ok] = np.asarray(B.devig_moneyline(hml[ml_ok], aml[ml_ok])[0], float)
    sp_ok = ~ml_ok & np.isfinite(spr)
    if sp_ok.any():
        p[sp_ok] = np.asarray(B.spread_to_prob(spr[sp_ok], sigma), float)
    src = np.where(ml_ok, "moneyline", np.where(sp_ok, "spread", ""))
    return p, src


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


# ============================================================================ win models

def _refit(tuned, train: pd.DataFrame, cols: list[str], seed: int, n_jobs: int):
    """The tuned candidate refit (same hyperparameters, same calibration mapping) on ``train``."""
    name = tuned.params["candidate"]
    cand = next((c for c in default_candidates(bool(tuned.params.get("fast")))
                 if c.name == name and c.kind == tuned.kind), None)
    if cand is None:  # not from the default grid: rebuild from the stored hyperparameters
        meta = {"candidate", "kind", "calibration", "seed", "fast"}
        cand = Candidate(name, tuned.kind, {k: v for k, v in tuned.params.items() if k not in meta})
    X = train[cols].to_numpy(dtype=float, na_value=np.nan, copy=True)
    X[~np.isfinite(X)] = np.nan
    est = cand.build(seed, n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, train["_y"].to_numpy(int))
    return WinModel(estimator=est, calibrator=tuned.calibrator, feature_cols=list(cols),
                    kind=tuned.kind, params=dict(tuned.params),
                    metrics={"n_rows": len(train), "train_end": _day_str(train["_day"].max())})


def _walk_win(G: pd.DataFrame, season: str, cols: list[str], cadence_days: int, fast: bool,
              seed: int, n_jobs: int, variant: str, hook: Hook | None, progress: Progress,
              train_seasons: int | None) -> tuple[np.ndarray, dict]:
    test = G["season"].to_numpy() == season
    tdays = G["_day"].to_numpy()[test]
    start = tdays.min()
    seasons_before = sorted(s for s in G["season"].unique() if s < season)
    keep_seasons = set(seasons_before[-train_seasons:] if train_seasons else seasons_before)
    keep_seasons.add(season)
    pool = G[G["season"].isin(keep_seasons).to_numpy()]
    pool_days = pool["_day"].to_numpy()
    base = pool[(pool_days < start) & (pool["season"].to_numpy() != season)]
    t0 = time.perf_counter()
    tuned = train_win_model(base, cols, label_col="_y", date_col="_day", season_col="season",
                            seed=seed, fast=fast, n_jobs=n_jobs, progress=_quiet)
    info = {"candidate": tuned.params.get("candidate"), "calibration": tuned.calibration,
            "tune_seconds": round(time.perf_counter() - t0, 2), "retrains": 1}
    progress(f"[backtest] {season} {variant}: tuned {info['candidate']} (calibration "
             f"{info['calibration']}) on {len(base):,} games in {info['tune_seconds']:.1f}s")
    preds = np.full(int(test.sum()), np.nan)
    tframe = G[test]
    model, used = tuned, base
    for r, mask in _blocks(tdays, cadence_days):
        train = pool[pool_days < r]
        if r > start and len(train) > len(used):
            model, used = _refit(tuned, train, cols, seed, n_jobs), train
            info["retrains"] += 1
        block = tframe[mask]
        preds[mask] = model.predict_proba(block)
        if hook is not None:
            hook({"model": variant, "season": season, "retrain_date": _day_str(r),
                  "train_max_date": _day_str(used["_day"].max()), "train_rows": len(used),
                  "pred_dates": [_day_str(d) for d in block["_day"].to_numpy()]})
    info["seconds"] = round(time.perf_counter() - t0, 2)
    progress(f"[backtest] {season} {variant}: {info['retrains']} fits in {info['seconds']:.1f}s")
    return preds, info


# ============================================================================ minutes

def _conformal_offsets(y: np.ndarray, p10: np.ndarray, p90: np.ndarray,
                       level: float = 0.9) -> tuple[float, float]:
    """Split-conformal shifts (a, b) so that p10 - a and p90 + b each leave ~(1 - level) of the
    calibration rows outside on their side (a, b may be negative = narrowing)."""
    n = len(y)
    if n < 200:
        return 0.0, 0.0
    q = min(1.0, math.ceil((n + 1) * level) / n)
    return float(np.quantile(p10 - y, q)), float(np.quantile(y - p90, q))


def _predict_minutes(model, frame: pd.DataFrame) -> pd.DataFrame:
    """Reconciled predictions of a block, each team's p50 summing to the game's real minutes
    (240 + 25 per overtime period, when the archive knows them)."""
    ot = pd.to_numeric(frame["overtime_periods"], errors="coerce").to_numpy(float) \
        if "overtime_periods" in frame.columns else np.full(len(frame), np.nan)
    frame = frame.assign(_total=TEAM_MINUTES + OT_MINUTES * np.nan_to_num(ot, nan=0.0))
    rec, _flags = predict_minutes(model, frame, total="_total")
    for c in ("_day", "label_minutes"):
        rec[c] = frame[c].to_numpy()
    return rec


def _walk_minutes(Mn: pd.DataFrame, season: str, cadence_days: int, fast: bool, seed: int,
                  n_jobs: int, hook: Hook | None, progress: Progress, train_seasons: int | None,
                  conformal: bool, conformal_rows: int) -> tuple[pd.DataFrame, dict]:
    cols = FEATURE_COLUMNS["minutes"]
    test = Mn["season"].to_numpy() == season
    info = {"retrains": 0, "seconds": 0.0, "conformal": []}
    if not test.any():
        return pd.DataFrame(), info
    t0 = time.perf_counter()
    seasons_before = sorted(s for s in Mn["season"].unique() if s < season)
    keep = set(seasons_before[-train_seasons:] if train_seasons else seasons_before) | {season}
    pool = Mn[Mn["season"].isin(keep).to_numpy()]
    pool_days = pool["_day"].to_numpy()
    tframe = Mn[test]
    tdays = tframe["_day"].to_numpy()
    start = tdays.min()

    def fit(train: pd.DataFrame):
        return train_minutes_model(train, cols, date_col="game_date", seed=seed, fast=fast,
                                   holdout_frac=0.0, n_jobs=n_jobs)

    history = None  # reconciled walk-forward predictions with known labels (for conformal)
    if conformal:
        base = pool[pool_days < start]
        if len(base) > conformal_rows + 1000:
            cut_day = base["_day"].to_numpy()[-conformal_rows]
            cal_train, cal = base[base["_day"].to_numpy() < cut_day], \
                base[base["_day"].to_numpy() >= cut_day]
            history = _predict_minutes(fit(cal_train), cal)
            if hook is not None:
                hook({"model": "minutes_calibration", "season": season,
                      "retrain_date": _day_str(cut_day),
                      "train_max_date": _day_str(cal_train["_day"].max()),
                      "train_rows": len(cal_train),
                      "pred_dates": sorted({_day_str(d) for d in cal["_day"].to_numpy()})})
    parts = []
    model, used = None, None
    for r, mask in _blocks(tdays, cadence_days):
        train = pool[pool_days < r]
        if model is None or len(train) > len(used):
            model, used = fit(train), train
            info["retrains"] += 1
        rec = _predict_minutes(model, tframe[mask])
        if conformal and history is not None and len(history):
            h = history.iloc[-conformal_rows:]
            a, b = _conformal_offsets(h["label_minutes"].to_numpy(float), h["p10"].to_numpy(),
                                      h["p90"].to_numpy())
            rec["p10_raw"], rec["p90_raw"] = rec["p10"], rec["p90"]
            rec["p10"] = np.clip(np.minimum(rec["p10"] - a, rec["p50"]), 0.0, 48.0)
            rec["p90"] = np.clip(np.maximum(rec["p90"] + b, rec["p50"]), 0.0, 48.0)
            out = rec.get("inj_out")
            if out is not None:
                off = out.to_numpy(bool)
                rec.loc[off, ["p10", "p50", "p90"]] = 0.0
            info["conformal"].append({"block": _day_str(r), "lower_shift": round(a, 3),
                                      "upper_shift": round(b, 3)})
        if conformal:
            raw = rec.copy()
            if "p10_raw" in raw.columns:
                raw["p10"], raw["p90"] = raw["p10_raw"], raw["p90_raw"]
            history = raw if history is None else pd.concat([history, raw], ignore_index=True)
        parts.append(rec)
        if hook is not None:
            hook({"model": "minutes", "season": season, "retrain_date": _day_str(r),
                  "train_max_date": _day_str(used["_day"].max()), "train_rows": len(used),
                  "pred_dates": sorted({_day_str(d) for d in tframe.loc[mask, "_day"].to_numpy()})})
    info["seconds"] = round(time.perf_counter() - t0, 2)
    progress(f"[backtest] {season} minutes: {info['retrains']} fits, {int(test.sum()):,} rows in "
             f"{info['seconds']:.1f}s")
    return pd.concat(parts, ignore_index=True), info


def _minutes_diagnostics(rec: pd.DataFrame) -> dict:
    """Where the minutes error comes from: p50 before reconciliation, the interval before the
    conformal shift, and rows of players listed Out at cutoff who nevertheless appeared (the
    model predicts 0 for them; archive injury transactions are sometimes stale)."""
    if rec is None or len(rec) == 0:
        return {}
    y = rec["label_minutes"].to_numpy(float)
    out = rec["inj_out"].to_numpy(bool) if "inj_out" in rec.columns else np.zeros(len(rec), bool)
    d = {"mae_p50_before_reconcile": M.mae(y, rec["p50_raw"]) if "p50_raw" in rec else None,
         "listed_out_rows": int(out.sum()),
         "mae_excluding_listed_out": M.mae(y[~out], rec["p50"].to_numpy()[~out])}
    if "p10_raw" in rec.columns:
        d["coverage_before_conformal"] = M.interval_coverage(y, rec["p10_raw"], rec["p90_raw"])
    return d


def _minutes_metrics(rec: pd.DataFrame) -> dict:
    if rec is None or len(rec) == 0:
        return {"rows": 0, "mae": float("nan"), "rmse": float("nan"),
                "coverage_p10_p90": float("nan")}
    return M.minutes_metrics(rec["label_minutes"], rec["p10"], rec["p50"], rec["p90"])


# ============================================================================ walk-forward

def walk_forward(games: pd.DataFrame, minutes: pd.DataFrame | None, test_seasons: Sequence[str],
                 cadence_days: int = 7, fast: bool = False, seed: int = 0,
                 progress: Progress | None = print, *, minutes_cadence_days: int = 30,
                 hook: Hook | None = None, win_train_seasons: int | None = 6,
                 minutes_train_seasons: int | None = 3, minutes_conformal: bool = True,
                 conformal_window_rows: int = 20_000, kelly_fraction: float = 0.25,
                 kelly_cap: float = 0.05, min_edge: float = 0.02, n_jobs: int = 2,
                 data_fingerprint: str | None = None) -> dict:
    """Walk-forward backtest over ``test_seasons`` (see the module docstring for the protocol).

    ``games`` / ``minutes``: :func:`build_archive_features` output (``minutes`` may be None or empty:
    the minutes block then has 0 rows).  ``hook(event)`` is called once per prediction block with
    ``{"model", "season", "retrain_date", "train_max_date", "train_rows", "pred_dates"}`` -- every
    ``train_max_date`` is strictly before every ``pred_dates`` entry.  ``win_train_seasons`` /
    ``minutes_train_seasons`` limit training to that many seasons before the test season (None =
    all).  Returns the JSON-ready result dict (NaN for undefined metrics).
    """
    from threadpoolctl import threadpool_limits

    # BLAS threads (numpy / scikit-learn's lbfgs) busy-wait: on a shared 2-core host a 17k x 59
    # logistic fit took 1-2 s with 2 threads vs 0.15 s with 1.  Tree models use OpenMP (n_jobs).
    mlog = logging.getLogger("pipeline_assets.models.minutes")
    level = mlog.level
    mlog.setLevel(logging.ERROR)  # one "team-games flagged" warning per block is noise here
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return _walk_forward(games, minutes, test_seasons, cadence_days, fast, seed,
                             progress or _quiet, minutes_cadence_days, hook, win_train_seasons,
                             minutes_train_seasons, minutes_conformal, conformal_window_rows,
                             kelly_fraction, kelly_cap, min_edge, n_jobs, data_fingerprint)
    finally:
        mlog.setLevel(level)


def _walk_forward(games, minutes, test_seasons, cadence_days, fast, seed, progress,
                  minutes_cadence_days, hook, win_train_seasons, minutes_train_seasons,
                  minutes_conformal, conformal_window_rows, kelly_fraction, kelly_cap, min_edge,
                  n_jobs, data_fingerprint) -> dict:
    t_all = time.perf_counter()
    G = eligible_games(games)
    Mn = eligible_minutes(minutes) if minutes is not None and len(minutes) else None
    cols = {"market_free": list(FEATURE_COLUMNS["game"]),
            "with_market": list(FEATURE_COLUMNS["game"]) + list(MARKET_COLUMNS["game"])}
    out: dict = {}
    pooled: dict[str, list] = {k: [] for k in ("y", "market_free", "with_market", "elo", "market",
                                                "src", "hml", "aml", "pmf_all", "y_all")}
    pooled_min: list[pd.DataFrame] = []
    cfg_retrains, cfg_seconds, cfg_models, cfg_sigma, cfg_diag = {}, {}, {}, {}, {}

    for season in test_seasons:
        ts = time.perf_counter()
        test = G["season"].to_numpy() == season
        if not test.any():
            raise ValueError(f"walk_forward: no eligible games in test season {season!r}")
        tframe = G[test]
        y = tframe["_y"].to_numpy(float)
        probs: dict[str, np.ndarray] = {}
        infos: dict[str, dict] = {}
        for variant in WIN_VARIANTS:
            probs[variant], infos[variant] = _walk_win(
                G, season, cols[variant], cadence_days, fast, seed, n_jobs, variant, hook, progress,
                win_train_seasons)
        # market baseline: sigma from the training seasons only
        tr = G[(G["season"].to_numpy() < season)]
        margin = pd.to_numeric(tr["label_margin"], errors="coerce").to_numpy(float)
        try:
            sigma = B.fit_spread_sigma(tr["close_home_spread"].to_numpy(float), margin)
        except ValueError:
            sigma = 12.0
        p_mkt, src = market_probability(tframe, sigma)
        p_elo = tframe["elo_prob_home"].to_numpy(float)
        ev = np.isfinite(p_mkt)
        blk = {"games": int(ev.sum()), "games_labelled": int(len(tframe)), "eval_set": EVAL_SET}
        blk["model_market_free"] = M.probability_metrics(y[ev], probs["market_free"][ev])
        blk["model_with_market"] = M.probability_metrics(y[ev], probs["with_market"][ev])
        blk["elo"] = M.probability_metrics(y[ev], p_elo[ev])
        counts = {"moneyline": int((src == "moneyline").sum()), "spread": int((src == "spread").sum())}
        blk["market"] = {**M.probability_metrics(y[ev], p_mkt[ev]), "source": _source_label(counts),
                         "counts": counts, "spread_sigma": sigma}
        # minutes
        if Mn is not None:
            rec, minfo = _walk_minutes(Mn, season, minutes_cadence_days, fast, seed, n_jobs, hook,
                                       progress, minutes_train_seasons, minutes_conformal,
                                       conformal_window_rows)
        else:
            rec, minfo = pd.DataFrame(), {"retrains": 0, "seconds": 0.0}
        blk["minutes"] = _minutes_metrics(rec)
        hml = tframe["close_home_ml"].to_numpy(float)
        aml = tframe["close_away_ml"].to_numpy(float)
        blk["kelly"] = kelly_bets(probs["market_free"], y, hml, aml, kelly_fraction, kelly_cap,
                                  min_edge)
        blk["calibration"] = _calibration(probs["market_free"][ev], y[ev])
        out[season] = blk

        for k, v in (("y", y[ev]), ("market_free", probs["market_free"][ev]),
                     ("with_market", probs["with_market"][ev]), ("elo", p_elo[ev]),
                     ("market", p_mkt[ev]), ("src", src[ev]), ("hml", hml), ("aml", aml),
                     ("pmf_all", probs["market_free"]), ("y_all", y)):
            pooled[k].append(v)
        if len(rec):
            pooled_min.append(rec)
        cfg_retrains[season] = {v: infos[v]["retrains"] for v in WIN_VARIANTS}
        cfg_retrains[season]["minutes"] = minfo["retrains"]
        cfg_models[season] = {v: {"candidate": infos[v]["candidate"],
                                  "calibration": infos[v]["calibration"],
                                  "tune_seconds": infos[v]["tune_seconds"]} for v in WIN_VARIANTS}
        if minfo.get("conformal"):
            cfg_models[season]["minutes_conformal_shifts"] = minfo["conformal"]
        cfg_sigma[season] = sigma
        cfg_diag[season] = _minutes_diagnostics(rec)
        cfg_seconds[season] = round(time.perf_counter() - ts, 1)
        progress(f"[backtest] {season}: done in {cfg_seconds[season]:.1f}s  "
                 + _season_line(blk))

    cat = {k: np.concatenate(v) if v else np.empty(0) for k, v in pooled.items()}
    src_counts = {"moneyline": int((cat["src"] == "moneyline").sum()),
                  "spread": int((cat["src"] == "spread").sum())}
    all_min = pd.concat(pooled_min, ignore_index=True) if pooled_min else None
    cfg_diag["overall"] = _minutes_diagnostics(all_min)
    overall = {"seasons": list(test_seasons), "games": int(len(cat["y"])),
               "games_labelled": int(len(cat["y_all"])), "eval_set": EVAL_SET,
               "model_market_free": M.probability_metrics(cat["y"], cat["market_free"]),
               "model_with_market": M.probability_metrics(cat["y"], cat["with_market"]),
               "elo": M.probability_metrics(cat["y"], cat["elo"]),
               "market": {**M.probability_metrics(cat["y"], cat["market"]),
                          "source": _source_label(src_counts), "counts": src_counts},
               "minutes": _minutes_metrics(all_min),
               "kelly": kelly_bets(cat["pmf_all"], cat["y_all"], cat["hml"], cat["aml"],
                                   kelly_fraction, kelly_cap, min_edge),
               "calibration": _calibration(cat["market_free"], cat["y"])}
    fp = data_fingerprint or games.attrs.get("data_fingerprint")
    config = {"cadence_days": int(cadence_days), "minutes_cadence_days": int(minutes_cadence_days),
              "fast": bool(fast), "seeds": {"win": int(seed), "minutes": int(seed)},
              "feature_schema_version": FEATURE_SCHEMA_VERSION, "data_fingerprint": fp,
              "n_retrains": cfg_retrains,
              "n_retrains_total": int(sum(sum(v.values()) for v in cfg_retrains.values())),
              "win_train_seasons": win_train_seasons, "minutes_train_seasons": minutes_train_seasons,
              "minutes_conformal": bool(minutes_conformal),
              "conformal_window_rows": int(conformal_window_rows),
              "kelly": {"fraction": kelly_fraction, "cap": kelly_cap, "min_edge": min_edge,
                        "bankroll": "fixed 1 unit (no compounding)", "model": "market_free"},
              "models": cfg_models, "spread_sigma": cfg_sigma, "minutes_diagnostics": cfg_diag,
              "seconds_per_season": cfg_seconds,
              "seconds_total": round(time.perf_counter() - t_all, 1)}
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
            f"{_f(b['minutes']['mae'], 3)} cov={_f(b['minutes']['coverage_p10_p90'], 3)}")


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
    return "\n".join(lines)


def write_json_atomic(path: str | Path, obj: dict) -> Path:
    path = Path(path)
    storage.atomic_write_bytes(path, (json.dumps(_json_ready(obj), indent=2, allow_nan=False) + "\n").encode())
    return path


def run_backtest_cli(data_dir: str | Path, seasons: list[str], json_out: str | Path | None,
                     cadence_days: int = 7, fast: bool = False, progress: Progress | None = print,
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
    res = walk_forward(games, minutes, seasons, cadence_days=cadence_days, fast=fast,
                       progress=progress, **walk_kwargs)
    res["config"]["data_dir"] = str(Path(data_dir).expanduser().resolve())
    res["config"]["seconds_with_features"] = round(time.perf_counter() - t0, 1)
    if json_out:
        p = write_json_atomic(json_out, res)
        progress(f"[backtest] wrote {p}")
    progress(format_table(res))
    return res


__all__ = ["CACHE_VERSION", "EVAL_SET", "add_eval_columns", "build_archive_features", "data_fingerprint",
           "eligible_games", "eligible_minutes", "format_table", "kelly_bets", "market_probability",
           "run_backtest_cli", "walk_forward", "write_json_atomic"]
