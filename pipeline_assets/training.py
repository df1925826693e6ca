"""Train, register and gate models on the gold feature history (plain Python; assets wrap it).

What is trained (``models.lineup``): the expected-lineup market-free model (``win_market_free``),
the market stack on top of it (``win_with_market``) and the minutes model (``minutes``), each
with the lineup model (box weights + availability classifier) it was trained with.  A logistic
regression on the game table's team features is stored beside the market-free model as a
baseline (``p_logistic`` in the scores).

Honest gate: the newest games (at least `GATE_MIN_GAMES`, at least `GATE_DAYS` days) are held out;
the candidate is trained only on games before that window and both it and the current production
version are scored on the window.  The candidate is promoted only if it is no worse (and floors
hold); otherwise production is untouched.

Shadow record: given the predictions log, the gate of ``win_market_free`` also reports the live
record of the current shadow version (the previous candidate that passed training, scored beside
production on every slate) against production on the same final games, once it covers at least
`SHADOW_MIN_GAMES` games.  It is written into the gate's reasons only -- it does not change the
decision (the shadow is an earlier candidate, not the one being gated).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

import numpy as np

from pipeline_assets.features import FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION, strength
from pipeline_assets.features.schema import SCHEMAS
from pipeline_assets.models.lineup import (MARKET_INPUTS, MINUTES_CONTEXT, WIN_FEATURES,
                                           fit_minutes_model, fit_win_models,
                                           minutes_feature_cols, season_box)
from pipeline_assets.models.minutes import predict_minutes
from pipeline_assets.models.win import baseline_logistic
from pipeline_assets.monitoring.shadow import compare_shadow, shadow_note
from resources.registry import (FEATURES_FILE, METADATA_FILE, ModelRegistry,
                                NoProductionModelError, training_metadata)
from tipoff_core.domain import metrics
from tipoff_core.tags import RETRAIN_MANUAL

log = logging.getLogger(__name__)

GATE_DAYS = 14
GATE_MIN_GAMES = 50
WIN_FREE, WIN_MARKET, MINUTES_NAME = "win_market_free", "win_with_market", "minutes"
DEFAULT_WIN_FLOORS = {"max_log_loss": 0.70}
DEFAULT_MINUTES_FLOORS = {"max_mae": 8.0}
SHADOW_MIN_GAMES = 50


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


def players_of(gold_minutes: pd.DataFrame, games: pd.DataFrame) -> pd.DataFrame:
    """The candidate rows of `games` (sorted by game, team, player)."""
    return gold_minutes[gold_minutes["game_id"].isin(games["game_id"])].reset_index(drop=True)


def win_probability(model, games: pd.DataFrame, players: pd.DataFrame) -> np.ndarray:
    """P(home win) of any stored win model: expected-lineup models read the candidate rows,
    models of earlier feature sets only the game rows."""
    if getattr(model, "uses_players", False):
        return model.predict_proba(games, players)
    return model.predict_proba(games)


def train_win(gold_games: pd.DataFrame, gold_minutes: pd.DataFrame, box_scores: pd.DataFrame,
              registry: ModelRegistry, *, until: str | None = None, fast: bool = False,
              floors: dict | None = None, seed: int = 0,
              log_run: Callable[..., str | None] | None = None,
              on_registry_change: Callable[[list[str]], object] | None = None,
              reason: str = RETRAIN_MANUAL, predictions_log=None,
              shadow_min_games: int = SHADOW_MIN_GAMES) -> list[TrainReport]:
    """Train both win variants; register, gate and maybe promote each.  With `predictions_log`
    the market-free gate's reasons carry the current shadow version's live record (see module
    docstring; information only).

    `log_run(run_name=, params=, metrics=, feature_cols=, tags=, family=, model=, games=,
    players=)` logs each trained model before it is registered and returns the MLflow run id
    (or None): `model` is the object the registry stores, `games` / `players` the held-out
    window (an input example).  `on_registry_change(names)` runs after the gates (the MLflow
    mirror; see `mlflow_models.TrainingHooks`)."""
    t0 = time.perf_counter()
    df = labelled_games(gold_games, until)
    notes = {WIN_FREE: shadow_gate_notes(registry, WIN_FREE, predictions_log, df,
                                         shadow_min_games)}
    start = gate_window(df["game_date"])
    train, window = df[df["game_date"] < start], df[df["game_date"] >= start]
    if len(train) < 100:
        raise ValueError(f"only {len(train)} labelled games before the gate window {start}: "
                         "backfill more history (gold_game_features) before training")
    train_players = players_of(gold_minutes, train)
    window_players = players_of(gold_minutes, window)
    box = season_box(box_scores, train["season"].unique())
    box = box[box["game_date"] < start]
    free, market, info = fit_win_models(train, train_players, box, as_of=start, seed=seed)
    baseline = baseline_logistic(train, FEATURE_COLUMNS["game"], seed=seed)
    y_win = window["label_home_win"].astype(bool).to_numpy()
    reports = []
    for name, model in ((WIN_FREE, free), (WIN_MARKET, market)):
        p_window = model.predict_proba(window, window_players)
        cand = metrics.probability_metrics(y_win, p_window)
        prod_metrics, prod_version = _production_win_metrics(registry, name, window,
                                                             window_players, y_win)
        params = {"kind": type(model).__name__, "features": ",".join(model.feature_cols),
                  "beta": info["beta"], "sigma": info["sigma"], "fast": fast,
                  **{f"coef_{k}": v for k, v in info["coef"].items()}}
        meta = training_metadata(
            train, ["game_id"], "label_home_win", metrics=cand, params=params,
            gate_window=[start, window["game_date"].iloc[-1]], lineup=info,
            feature_schema_version=FEATURE_SCHEMA_VERSION, trigger=reason)
        stored = {"model": model, "baseline": baseline}
        if log_run is not None:
            meta["mlflow_run_id"] = log_run(run_name=name, params=params, metrics=cand,
                                            feature_cols=list(model.feature_cols),
                                            tags={"model_name": name, "trigger": reason},
                                            family=name, model=stored, games=window,
                                            players=window_players)
        version = registry.register(name, stored, model.feature_cols, meta)
        decision = registry.promote_if_passes(name, version, cand, prod_metrics,
                                              floors if floors is not None else DEFAULT_WIN_FLOORS,
                                              notes=notes.get(name, []))
        reports.append(TrainReport(name, version, decision.promote, decision.reasons, cand,
                                   prod_metrics, prod_version, len(train),
                                   (start, window["game_date"].iloc[-1]),
                                   time.perf_counter() - t0,
                                   {"lineup": info, "mlflow_run_id": meta["mlflow_run_id"],
                                    "y_window": y_win, "p_window": np.asarray(p_window, float)}))
    if on_registry_change is not None:
        on_registry_change([WIN_FREE, WIN_MARKET])
    return reports


def shadow_gate_notes(registry: ModelRegistry, name: str, predictions_log, labelled: pd.DataFrame,
                      min_games: int = SHADOW_MIN_GAMES) -> list[str]:
    """The gate's line about the current shadow version's live record (empty: no log, no
    shadow, or no shadow prediction on a labelled game)."""
    version = registry.shadow_version(name)
    if predictions_log is None or version is None:
        return []
    try:
        rows = predictions_log.read(kind="pregame")
    except Exception as exc:  # noqa: BLE001 - the record is information; training goes on
        log.warning("predictions log unreadable for the shadow record: %s", exc)
        return []
    results = pd.DataFrame({"game_id": labelled["game_id"].astype(str),
                            "home_win": labelled["label_home_win"].astype(float)})
    tips = labelled[["game_id", "tip_ts"]] if "tip_ts" in labelled else None
    note = shadow_note(compare_shadow(rows, results, tips), version, min_games)
    return [note] if note else []


def _production_win_metrics(registry, name, window, players, y):
    try:
        loaded = registry.load_production(name)
    except NoProductionModelError:
        return None, None
    try:
        p = win_probability(loaded.model["model"], window, players)
    except (KeyError, ValueError) as exc:  # a model of an older feature set
        log.warning("%s %s cannot score the gate window (%s): floors only", name,
                    loaded.version, exc)
        return None, loaded.version
    return metrics.probability_metrics(y, p), loaded.version


def train_minutes(gold_minutes: pd.DataFrame, box_scores: pd.DataFrame, registry: ModelRegistry,
                  *, until: str | None = None, fast: bool = False, floors: dict | None = None,
                  seed: int = 0, log_run: Callable[..., str | None] | None = None,
                  on_registry_change: Callable[[list[str]], object] | None = None,
                  reason: str = RETRAIN_MANUAL) -> TrainReport:
    """Train, register and gate the minutes model (`log_run`, `on_registry_change`: as in
    `train_win`)."""
    df = gold_minutes if not until else gold_minutes[gold_minutes["game_date"] < until]
    df = df.sort_values(["game_date", "game_id"], kind="mergesort", ignore_index=True)
    labelled = df[df["label_minutes"].notna()]
    if labelled.empty:
        raise ValueError("no labelled player-games: backfill history (gold_minutes_features)")
    start = gate_window(labelled["game_date"], min_rows=GATE_MIN_GAMES * 20)
    train, window = df[df["game_date"] < start], df[df["game_date"] >= start]
    if train["label_minutes"].notna().sum() < 1000:
        raise ValueError(f"only {train['label_minutes'].notna().sum()} labelled player-games "
                         f"before {start}: backfill more history (gold_minutes_features)")
    t0 = time.perf_counter()
    box = season_box(box_scores, train["season"].unique())
    model = fit_minutes_model(train, box[box["game_date"] < start],
                              seed=seed, fast=True)
    cand = gate_minutes_metrics(model, window)
    prod_metrics, prod_version = None, None
    try:
        loaded = registry.load_production(MINUTES_NAME)
        prod_metrics, prod_version = gate_minutes_metrics(loaded.model, window), loaded.version
    except NoProductionModelError:
        pass
    except (KeyError, ValueError) as exc:  # a model of an older feature set
        log.warning("minutes production cannot score the gate window (%s): floors only", exc)
    params = {**model.model.params, "fast": fast, "features": len(model.feature_cols)}
    meta = training_metadata(train[train["label_minutes"].notna()], ["game_id", "player_id"],
                             "label_minutes", metrics=cand, params=params,
                             gate_window=[start, window["game_date"].iloc[-1]],
                             lineup=model.lineup.metrics,
                             feature_schema_version=FEATURE_SCHEMA_VERSION, trigger=reason)
    if log_run is not None:
        meta["mlflow_run_id"] = log_run(run_name=MINUTES_NAME, params=params, metrics=cand,
                                        feature_cols=list(model.feature_cols),
                                        tags={"model_name": MINUTES_NAME, "trigger": reason},
                                        family=MINUTES_NAME, model=model, games=window,
                                        players=window)
    version = registry.register(MINUTES_NAME, model, model.feature_cols, meta)
    decision = registry.promote_if_passes(MINUTES_NAME, version, cand, prod_metrics,
                                          floors if floors is not None else DEFAULT_MINUTES_FLOORS,
                                          metric="mae")
    if on_registry_change is not None:
        on_registry_change([MINUTES_NAME])
    return TrainReport(MINUTES_NAME, version, decision.promote, decision.reasons, cand, prod_metrics,
                       prod_version, int(train["label_minutes"].notna().sum()),
                       (start, window["game_date"].iloc[-1]), time.perf_counter() - t0,
                       {"mlflow_run_id": meta["mlflow_run_id"]})


def minutes_prediction(model, players: pd.DataFrame, total: float | str = 240.0, *,
                       plays: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-player p10/p50/p90 (+ p_play for lineup models), reconciliation flags) of any stored
    minutes model; ``plays`` restricts the reconciliation to those rows (the gate: the players
    who did play)."""
    if getattr(model, "uses_players", False):
        return model.predict(players, total, plays=plays), pd.DataFrame(columns=["game_id",
                                                                                 "team_id"])
    return predict_minutes(model, players, total)


def gate_minutes_metrics(model, window: pd.DataFrame) -> dict:
    """Minutes metrics on the gate window's players who played, reconciled among them (the
    lineup context still sees every candidate)."""
    window = window.reset_index(drop=True)
    played = window["label_minutes"].notna().to_numpy()
    if getattr(model, "uses_players", False):
        rec, flags = minutes_prediction(model, window, plays=played)
        rec = rec[played]
    else:
        rec, flags = minutes_prediction(model, window[played].reset_index(drop=True))
    y = window.loc[played, "label_minutes"].astype(float).to_numpy()
    return {**metrics.minutes_metrics(y, rec["p10"].to_numpy(), rec["p50"].to_numpy(),
                                      rec["p90"].to_numpy()), "flagged_teams": int(len(flags))}


# ----------------------------------------------------------------------------- model checks

def expected_features(name: str) -> list[str]:
    """The feature list a version of ``name`` trained by this code has (the current schema's)."""
    if name == WIN_FREE:
        return list(WIN_FEATURES)
    if name == WIN_MARKET:
        return list(WIN_FEATURES) + list(MARKET_INPUTS)
    if name == MINUTES_NAME:
        return minutes_feature_cols()
    raise KeyError(f"unknown model name {name!r}")


def _schema_columns() -> set[str]:
    return {c for s in SCHEMAS.values() for cols in s.values() for c, _ in cols}


# columns a model computes itself from the schema's (the lineup strength and minutes context)
DERIVED_FEATURES = frozenset(strength.STRENGTH_COLUMNS) | frozenset(MINUTES_CONTEXT)


def feature_problems(registry: ModelRegistry, name: str, versions: list[str]) -> list[str]:
    """Why the stored versions of ``name`` do not match the current feature schema (empty: they
    do): the feature list must equal ``expected_features(name)``, be made of schema columns or
    columns the model derives from them, and the version must record the current
    ``FEATURE_SCHEMA_VERSION``.  Reads ``features.txt`` / ``metadata.json`` only."""
    want = expected_features(name)
    out = [f"{name}: {c} is neither a feature-schema column nor derived by the model"
           for c in want if c not in _schema_columns() and c not in DERIVED_FEATURES]
    for v in versions:
        folder = registry.root / name / v
        try:
            have = (folder / FEATURES_FILE).read_text().splitlines()
            meta = json.loads((folder / METADATA_FILE).read_text())
        except (OSError, ValueError) as exc:
            out.append(f"{name} {v}: cannot read its feature list ({exc})")
            continue
        if have != want:
            missing = [c for c in want if c not in have]
            extra = [c for c in have if c not in want]
            out.append(f"{name} {v}: feature list differs from the schema's "
                       f"(missing {missing or 'none'}, extra {extra or 'none'}"
                       + (", same columns in another order" if not missing and not extra else "")
                       + ")")
        if meta.get("feature_schema_version") != FEATURE_SCHEMA_VERSION:
            out.append(f"{name} {v}: trained on {meta.get('feature_schema_version')}, the schema "
                       f"is {FEATURE_SCHEMA_VERSION}")
    return out


def versions_to_check(registry: ModelRegistry, name: str) -> list[str]:
    """The newest version of ``name`` and the production one (what scores slates)."""
    df = registry.list_versions(name)
    out = [df["version"].iloc[-1]] if len(df) else []
    prod = registry.production_version(name)
    return out + ([prod] if prod and prod not in out else [])


def gate_outcome(registry: ModelRegistry, name: str) -> dict:
    """The newest version of ``name``: ``version``, ``state``, ``passed`` (promoted, or gated
    and passed; False when the gate refused it; None if never gated), ``reason``,
    ``production``."""
    df = registry.list_versions(name)
    if df.empty:
        return {"version": None, "state": None, "passed": None, "reason": "no version yet",
                "production": None}
    row = df.iloc[-1]
    reason = row["reason"] or ""
    passed = (True if row["state"] == "production" or reason.startswith("gate passed")
              else False if reason.startswith("gate failed") else None)
    return {"version": row["version"], "state": row["state"], "passed": passed,
            "reason": reason, "production": registry.production_version(name)}
