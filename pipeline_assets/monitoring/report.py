"""Model performance reports: how the production models did on finished games, and whether inputs drifted.

`model_performance` (daily partitions) joins, for a league date D, the scored slate (`game_scores`,
the newest run at or before the evaluation's as-of, or the run an operator pinned) with the results
(`game_results`), and the minutes predictions (`minutes_scores`) with the box scores
(`player_box_scores`).  It reports one row per window:

``day``             the games of D
``last_50_games``   the last 50 final, scored games up to D
``last_14_days``    D-13 .. D
``production``      games of the last ``drift_days`` (28) scored by the *current* production
                    version of ``win_market_free`` -- what the drift sensor compares against that
                    version's registry baseline (its gate-window metrics)

with accuracy, log loss (and its standard error), Brier, expected calibration error, coverage
(share of final games that were scored), the market's and Elo's log loss on the same games, minutes
MAE and p10-p90 coverage; a calibration table by probability decile; and the PSI of the model's top
features (recent live features vs the production model's training window in the gold table).

With a predictions log it also compares every shadow version with production on the same final
games of the production window (`monitoring.shadow.compare_shadow`: the latest prediction of each
model logged before tip; log loss, Brier, accuracy, n), in ``summary.json`` under ``shadow``.

Everything is written under ``artifacts/model_performance/<D>/run=<as-of>/`` (``table.parquet``,
``games.parquet``, ``calibration.parquet``, ``psi.parquet``, ``clv.parquet``: the closing-line
value of the logged recommendations of the last 14 days (`monitoring.clv`), ``summary.json``); ``summary.json`` is
what `drift_sensor` reads.  Domain logic lives in plain functions; the asset is a thin wrapper.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_assets.monitoring.drift import (feature_importance, feature_psi,
                                              recent_live_features, top_features,
                                              training_reference)
from pipeline_assets.featureio import odds_at
from pipeline_assets.monitoring.clv import closing_line_value, closing_lines, clv_summary
from pipeline_assets.monitoring.shadow import SHADOW_COLUMNS, compare_shadow
from pipeline_assets.monitoring.evaluation import (CALIBRATION_BINS, days_back, final_results,
                                                   minutes_window_metrics, scored_games,
                                                   scored_minutes, win_metrics, _read_json)
from resources import storage
from resources.registry import NoProductionModelError
from tipoff_core import catalog
from tipoff_core.domain import metrics
from tipoff_core.timeutil import ts_token

WIN_MODEL = "win_market_free"
ROLLING_GAMES = 50
ROLLING_DAYS = 14
DRIFT_DAYS = 28          # the "production" window
PSI_DAYS = 28            # recent live features compared with the training window
MAX_LOOKBACK_DAYS = 60   # how far back the last-50-games window may reach
WINDOWS = ("day", "last_50_games", "last_14_days", "production")


# ----------------------------------------------------------------------------- the report

@dataclass
class PerformanceReport:
    day: str
    as_of: pd.Timestamp
    table: pd.DataFrame          # one row per window
    games: pd.DataFrame          # per-game evaluation rows of the lookback
    calibration: pd.DataFrame    # decile table per window
    psi: pd.DataFrame            # per top feature
    summary: dict = field(default_factory=dict)
    shadow: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SHADOW_COLUMNS))
    clv: pd.DataFrame = field(default_factory=pd.DataFrame)  # per logged recommendation


def _production(registry, name: str):
    if registry is None:
        return None
    try:
        return registry.load_production(name)
    except NoProductionModelError:
        return None


def performance_report(day: str, root: Path, registry=None, as_of: pd.Timestamp | None = None, *,
                       drift_days: int = DRIFT_DAYS, psi_days: int = PSI_DAYS,
                       rolling_games: int = ROLLING_GAMES, rolling_days: int = ROLLING_DAYS,
                       lookback_days: int = MAX_LOOKBACK_DAYS, predictions_log=None
                       ) -> PerformanceReport:
    """Evaluate predictions up to league date `day` with what the store held at `as_of`
    (`predictions_log`: a `PredictionsLog` for the shadow-vs-production comparison)."""
    span_days = max(drift_days, rolling_days, psi_days)
    results: dict[str, pd.DataFrame] = {}
    per_day: dict[str, pd.DataFrame] = {}
    days: list[str] = []
    # read back day by day: at least the longest window, further (up to lookback_days) until the
    # last-N-games window is full
    for i, d in enumerate(reversed(days_back(day, max(lookback_days, span_days)))):
        n_final = sum(int(g["final"].sum()) for g in per_day.values() if len(g))
        if i >= span_days and n_final >= rolling_games:
            break
        results[d] = final_results(d, root, as_of)
        per_day[d] = scored_games(d, root, as_of, results[d])
        days.insert(0, d)
    games = pd.concat([g for g in per_day.values() if len(g)], ignore_index=True) \
        if any(len(g) for g in per_day.values()) else pd.DataFrame(
            columns=["game_id", "game_date", "p_home_win", "home_win", "final", "model_version",
                     "feature_source"])
    finals = {d: len(r) for d, r in results.items()}
    win = loaded = _production(registry, WIN_MODEL)
    prod_version = win.version if win is not None else None
    baseline = dict(win.metadata.get("metrics", {})) if win is not None else {}

    scopes: dict[str, tuple[pd.DataFrame, list[str]]] = {}
    scopes["day"] = (games[games["game_date"] == day], [day])
    games["final"] = games["final"].astype(bool)
    final_games = games.loc[games["final"]].sort_values(["game_date", "game_id"], kind="mergesort")
    last_n = final_games.tail(rolling_games)
    span = sorted(last_n["game_date"].unique()) if len(last_n) else [day]
    scopes["last_50_games"] = (last_n, [d for d in days if span[0] <= d <= day])
    recent_days = days_back(day, rolling_days)
    scopes["last_14_days"] = (games[games["game_date"].isin(recent_days)], recent_days)
    drift = days_back(day, drift_days)
    prod_games = games[games["game_date"].isin(drift)]
    prod_games = prod_games[prod_games["model_version"] == prod_version] if prod_version else prod_games.iloc[:0]
    scopes["production"] = (prod_games, drift)

    minute_days = sorted({d for _, ds in scopes.values() for d in ds})
    mins = [scored_minutes(d, root, as_of) for d in minute_days]
    mins = pd.concat([m for m in mins if len(m)], ignore_index=True) if any(len(m) for m in mins) \
        else pd.DataFrame()

    rows, calib = [], []
    for name, (g, window_days) in scopes.items():
        m = win_metrics(g)
        n_final = sum(finals.get(d, 0) for d in window_days) if name != "last_50_games" else \
            int(len(g))
        scored_final = int(g["final"].sum()) if len(g) else 0
        mm = minutes_window_metrics(mins[mins["game_id"].isin(g["game_id"])] if len(mins) and len(g) else None)
        rows.append({
            "date": day, "window": name, "start_date": min(window_days), "end_date": max(window_days),
            "model_versions": ",".join(sorted(set(g["model_version"]))) if len(g) else "",
            "n_final": int(n_final), **m,
            "coverage": scored_final / n_final if n_final else math.nan, **mm,
        })
        if len(g) and g["final"].any():
            f = g.loc[g["final"]]
            t = metrics.calibration_table(f["p_home_win"], f["home_win"], bins=CALIBRATION_BINS)
            calib.append(t.assign(window=name))
    table = pd.DataFrame(rows)
    for k in ("log_loss", "accuracy", "brier", "n"):
        table[f"baseline_{k}"] = baseline.get(k, math.nan)
    calibration = pd.concat(calib, ignore_index=True) if calib else pd.DataFrame(
        columns=["bin", "lo", "hi", "count", "mean_pred", "mean_obs", "window"])

    # feature drift: recent live features vs the production model's training window
    psi = pd.DataFrame(columns=["feature", "importance", "psi", "n_reference", "n_recent",
                                "reference_mean", "recent_mean"])
    psi_window = days_back(day, psi_days)
    if loaded is not None:
        reference = training_reference(loaded.metadata, root)
        sources = {d: str(g["feature_source"].iloc[0]) for d, g in per_day.items()
                   if d in psi_window and len(g) and "feature_source" in g}
        recent = recent_live_features(psi_window, root, as_of, sources)
        if len(reference) and len(recent):
            imp = feature_importance(loaded.model.get("model") if isinstance(loaded.model, dict)
                                     else loaded.model, loaded.feature_cols)
            psi = feature_psi(reference, recent, top_features(imp, reference), imp)

    shadow = shadow_record(predictions_log, drift, results, games, as_of)
    clv_rows, clv = clv_record(predictions_log, recent_days, games, as_of, root)
    current_shadow = registry.shadow_version(WIN_MODEL) if registry is not None else None

    prod_row = table[table["window"] == "production"].iloc[0].to_dict()
    summary = {
        "date": day, "as_of": as_of.isoformat() if as_of is not None else None,
        "production_version": prod_version,
        "baseline": {k: baseline.get(k) for k in ("log_loss", "accuracy", "brier", "n")},
        "baseline_window": win.metadata.get("gate_window") if win is not None else None,
        "train_window": [win.metadata.get("train_start"), win.metadata.get("train_end")]
        if win is not None else None,
        "production_window": {k: _clean(prod_row.get(k)) for k in (
            "start_date", "end_date", "n_evaluated", "accuracy", "log_loss", "log_loss_se", "brier",
            "ece", "coverage", "market_log_loss", "model_log_loss_on_market_games", "market_n")},
        "windows": {r["window"]: {k: _clean(v) for k, v in r.items() if k not in ("date", "window")}
                    for r in rows},
        "psi": {r.feature: _clean(r.psi) for r in psi.itertuples()},
        "psi_window": [min(psi_window), max(psi_window)],
        "psi_n_recent": int(psi["n_recent"].max()) if len(psi) else 0,
        "psi_n_reference": int(psi["n_reference"].max()) if len(psi) else 0,
        "shadow": {"window": [min(drift), max(drift)], "current_version": current_shadow,
                   "versions": {r["shadow_version"]: {k: _clean(v) for k, v in r.items()
                                                      if k != "shadow_version"}
                                for r in shadow.to_dict("records")}},
        "clv": {"window": [min(recent_days), max(recent_days)], **clv},
    }
    return PerformanceReport(day, as_of if as_of is not None else pd.Timestamp.now(tz="UTC"),
                             table, games, calibration, psi, summary, shadow, clv_rows)


def clv_record(predictions_log, days: list[str], games: pd.DataFrame,
               as_of: pd.Timestamp | None, root: Path) -> tuple[pd.DataFrame, dict]:
    """Closing-line value of the pregame recommendations logged for `days` (`monitoring.clv`):
    the closes come from each day's stored odds snapshots (those at or before `as_of`, and
    strictly before each tip); the CLV is written back into the log, and summarized per market
    over production's slate of record.  Tips are the scored slates' (read for the report)."""
    if predictions_log is None or "tip_ts" not in games or games.empty:
        return pd.DataFrame(), clv_summary(None)
    now = as_of if as_of is not None else pd.Timestamp.now(tz="UTC")
    log = predictions_log.read(dates=list(days), kind="pregame")
    tips = games[["game_id", "tip_ts"]]
    rows = []
    for d in sorted(set(log["game_date"])):
        close = closing_lines(odds_at(d, now, root), tips)
        rows.append(closing_line_value(log[log["game_date"] == d], close, tips, now))
    rows = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(
        len(r) for r in rows) else pd.DataFrame()
    if len(rows):
        predictions_log.update_clv(rows)
        log = predictions_log.read(dates=list(days), kind="pregame")
    return rows, clv_summary(log, tips)


def shadow_record(predictions_log, days: list[str], results: dict[str, pd.DataFrame],
                  games: pd.DataFrame, as_of: pd.Timestamp | None) -> pd.DataFrame:
    """Shadow vs production on the final games of `days` (see `monitoring.shadow`); tips come
    from the scored slates read for the report."""
    if predictions_log is None:
        return pd.DataFrame(columns=SHADOW_COLUMNS)
    log = predictions_log.read(dates=list(days), kind="pregame")
    res = [r for d, r in results.items() if d in days and len(r)]
    res = pd.concat(res, ignore_index=True) if res else pd.DataFrame(columns=["game_id", "home_win"])
    tips = games[["game_id", "tip_ts"]] if "tip_ts" in games else None
    return compare_shadow(log, res, tips, as_of)


def _clean(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    return v


def write_report(report: PerformanceReport, root: Path) -> storage.RunFolder:
    files = {
        "table.parquet": storage.parquet_bytes(report.table),
        "games.parquet": storage.parquet_bytes(report.games.reset_index(drop=True)),
        "calibration.parquet": storage.parquet_bytes(report.calibration),
        "psi.parquet": storage.parquet_bytes(report.psi),
        "clv.parquet": storage.parquet_bytes(report.clv.reset_index(drop=True)),
        "summary.json": json.dumps(report.summary, indent=2, sort_keys=True, default=str).encode(),
    }
    base = storage.partition_dir(catalog.table("model_performance"), report.day, root)
    return storage.write_run_folder(base, ts_token(report.as_of), files)


def latest_summary(root: Path, not_before: str | None = None) -> dict | None:
    """summary.json of the newest evaluated date (its latest/pinned run), or None.  Dates before
    `not_before` are ignored (stale evaluations)."""
    base = storage.table_folder(catalog.table("model_performance"), root)
    if not base.is_dir():
        return None
    for d in sorted((p.name for p in base.iterdir() if p.is_dir()), reverse=True):
        if not_before and d < not_before:
            return None
        try:
            folder = storage.resolve_run(base / d)
        except FileNotFoundError:
            continue
        s = _read_json(folder / "summary.json")
        if s:
            s["run_folder"] = str(folder)
            return s
    return None


# ----------------------------------------------------------------------------- markdown helpers

def calibration_markdown(calibration: pd.DataFrame, window: str = "last_14_days") -> str:
    t = calibration[(calibration["window"] == window) & (calibration["count"] > 0)]
    if t.empty:
        return "no final games in the window"
    lines = ["| p bin | games | mean predicted | observed | |", "|---|---|---|---|---|"]
    for r in t.itertuples():
        bar = "█" * int(round(r.mean_obs * 20))
        lines.append(f"| {r.lo:.1f}-{r.hi:.1f} | {r.count} | {r.mean_pred:.3f} | {r.mean_obs:.3f} | {bar} |")
    return "\n".join(lines)


def windows_markdown(table: pd.DataFrame) -> str:
    cols = ["window", "n_evaluated", "coverage", "accuracy", "log_loss", "brier", "market_log_loss",
            "minutes_mae", "minutes_coverage_p10_p90"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in table[cols].itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(lines)

