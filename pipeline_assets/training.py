"""Train, register and gate models on the gold feature history (plain Python; assets wrap it).

Honest gate: the newest games (at least `GATE_MIN_GAMES`, at least `GATE_DAYS` days) are held out;
the candidate is trained only on games before that window and both it and the current production
version are scored on the window.  The candidate is promoted only if it is no worse (and floors
hold); otherwise production is untouched.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from tipoff_core.domain import metrics
from pipeline_assets.features import FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION, MARKET_COLUMNS
from pipeline_assets.models.minutes import predict_minutes, train_minutes_model
from pipeline_assets.models.win import baseline_logistic, train_win_model
from resources.registry import ModelRegistry, NoProductionModelError, training_metadata
from tipoff_core.tags import RETRAIN_MANUAL

log = logging.getLogger(__name__)

GATE_DAYS = 14
GATE_MIN_GAMES = 50
WIN_VARIANTS = {
    "win_market_free": FEATURE_COLUMNS["game"],
    "win_with_market": FEATURE_COLUMNS["game"] + [c for c in MARKET_COLUMNS["game"] if c != "mkt_available"],
}
MINUTES_NAME = "minutes"
DEFAULT_WIN_FLOORS = {"max_log_loss": 0.70}
DEFAULT_MINUTES_FLOORS = {"max_mae": 8.0}


@dataclass
class TrainReport:
    name: str
    version: str
    promoted: bool
    reasons: list[str]
    candidate_metrics: dict
    production_metrics: dict | None
    production_version: str | None
    train_rows: int
    window: tuple[str, str]
    seconds: float
    extra: dict = field(default_factory=dict)


def gate_window(dates: pd.Series, days: int = GATE_DAYS, min_rows: int = GATE_MIN_GAMES) -> str:
    """First date of the held-out window: the last `days` days, widened to `min_rows` rows."""
    d = pd.Series(sorted(dates.dropna().unique()))
    if d.empty:
        raise ValueError("no labelled rows to train on")
    end = dt.date.fromisoformat(d.iloc[-1])
    start = (end - dt.timedelta(days=days - 1)).isoformat()
    counts = dates.value_counts().sort_index(ascending=False).cumsum()
    enough = counts[counts >= min_rows]
    if len(enough):
        start = min(start, enough.index[0])
    return start


def labelled_games(gold_games: pd.DataFrame, until: str | None) -> pd.DataFrame:
    df = gold_games[gold_games["label_home_win"].notna()]
    if until:
        df = df[df["game_date"] < until]
    return df.sort_values(["game_date", "game_id"], kind="mergesort", ignore_index=True)


def train_win(gold_games: pd.DataFrame, registry: ModelRegistry, *, until: str | None = None,
              fast: bool = False, floors: dict | None = None, seed: int = 0,
              log_run: Callable[..., str] | None = None, reason: str = RETRAIN_MANUAL) -> list[TrainReport]:
    """Train both win variants; register, gate and maybe promote each."""
    df = labelled_games(gold_games, until)
    start = gate_window(df["game_date"])
    train, window = df[df["game_date"] < start], df[df["game_date"] >= start]
    if len(train) < 100:
        raise ValueError(f"only {len(train)} labelled games before the gate window {start}: "
                         "backfill more history (gold_game_features) before training")
    y_win = window["label_home_win"].astype(bool).to_numpy()
    reports = []
    for name, cols in WIN_VARIANTS.items():
        t0 = time.perf_counter()
        model = train_win_model(train, cols, seed=seed, fast=fast)
        baseline = baseline_logistic(train, FEATURE_COLUMNS["game"], seed=seed)
        cand = metrics.probability_metrics(y_win, model.predict_proba(window))
        prod_metrics, prod_version = _production_win_metrics(registry, name, window, y_win)
        meta = training_metadata(
            train, ["game_id"], "label_home_win", metrics=cand,
            params={"kind": model.kind, **model.params, "calibration": model.calibration,
                    "fast": fast},
            gate_window=[start, window["game_date"].iloc[-1]],
            feature_schema_version=FEATURE_SCHEMA_VERSION, trigger=reason)
        if log_run is not None:
            meta["mlflow_run_id"] = log_run(run_name=name, params=meta["params"], metrics=cand,
                                            feature_cols=list(cols),
                                            tags={"model_name": name, "trigger": reason})
        version = registry.register(name, {"model": model, "baseline": baseline}, cols, meta)
        decision = registry.promote_if_passes(name, version, cand, prod_metrics,
                                              floors if floors is not None else DEFAULT_WIN_FLOORS)
        reports.append(TrainReport(name, version, decision.promote, decision.reasons, cand,
                                   prod_metrics, prod_version, len(train),
                                   (start, window["game_date"].iloc[-1]),
                                   time.perf_counter() - t0,
                                   {"cv": model.cv_report.to_dict("records")
                                    if hasattr(model.cv_report, "to_dict") else model.cv_report}))
    return reports


def _production_win_metrics(registry, name, window, y):
    try:
        loaded = registry.load_production(name)
    except NoProductionModelError:
        return None, None
    p = loaded.model["model"].predict_proba(window)
    return metrics.probability_metrics(y, p), loaded.version


def train_minutes(gold_minutes: pd.DataFrame, registry: ModelRegistry, *, until: str | None = None,
                  fast: bool = False, floors: dict | None = None, seed: int = 0,
                  log_run: Callable[..., str] | None = None, reason: str = RETRAIN_MANUAL) -> TrainReport:
    df = gold_minutes[gold_minutes["label_minutes"].notna()]
    if until:
        df = df[df["game_date"] < until]
    df = df.sort_values(["game_date", "game_id"], kind="mergesort", ignore_index=True)
    start = gate_window(df["game_date"], min_rows=GATE_MIN_GAMES * 20)
    train, window = df[df["game_date"] < start], df[df["game_date"] >= start]
    if len(train) < 1000:
        raise ValueError(f"only {len(train)} labelled player-games before {start}: backfill more "
                         "history (gold_minutes_features) before training")
    t0 = time.perf_counter()
    cols = FEATURE_COLUMNS["minutes"]
    model = train_minutes_model(train, cols, seed=seed, fast=fast)
    cand = gate_minutes_metrics(model, window)
    prod_metrics, prod_version = None, None
    try:
        loaded = registry.load_production(MINUTES_NAME)
        prod_metrics, prod_version = gate_minutes_metrics(loaded.model, window), loaded.version
    except NoProductionModelError:
        pass
    meta = training_metadata(train, ["game_id", "player_id"], "label_minutes", metrics=cand,
                             params={**model.params, "fast": fast},
                             gate_window=[start, window["game_date"].iloc[-1]],
                             feature_schema_version=FEATURE_SCHEMA_VERSION, trigger=reason)
    if log_run is not None:
        meta["mlflow_run_id"] = log_run(run_name=MINUTES_NAME, params=meta["params"], metrics=cand,
                                        feature_cols=list(cols), tags={"model_name": MINUTES_NAME})
    version = registry.register(MINUTES_NAME, model, cols, meta)
    decision = registry.promote_if_passes(MINUTES_NAME, version, cand, prod_metrics,
                                          floors if floors is not None else DEFAULT_MINUTES_FLOORS,
                                          metric="mae")
    return TrainReport(MINUTES_NAME, version, decision.promote, decision.reasons, cand, prod_metrics,
                       prod_version, len(train), (start, window["game_date"].iloc[-1]),
                       time.perf_counter() - t0)


def gate_minutes_metrics(model, window: pd.DataFrame) -> dict:
    """Minutes metrics of a model on the gate window (reconciled to 240 per team, as scored)."""
    rec, flags = predict_minutes(model, window)
    y = window["label_minutes"].astype(float).to_numpy()
    return {**metrics.minutes_metrics(y, rec["p10"].to_numpy(), rec["p50"].to_numpy(),
                                      rec["p90"].to_numpy()), "flagged_teams": int(len(flags))}
