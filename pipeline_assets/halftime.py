"""In-game scoring steps (plain functions; the `halftime_scores` asset and the halftime sensor call
them): which checkpoint each game has reached, the halftime model fit on stored history, the
scored table, the run folder and the predictions-log rows.

A game in progress is scored at the last checkpoint it completed (after Q1, at halftime, after
Q3); a game already final when it is first seen is scored at halftime (its halftime record, e.g.
after the sensor was down).  The pregame input is the game's market-free P(home win) from the
`game_scores` run a reader at the as-of uses (`PINNED` honoured); a game without one is not
scored and the summary says why.

The model (``models.halftime``) is fit at scoring time on the stored results of the
`HISTORY_DAYS` before the date.  Its pregame input on those games is what the scorer really
predicted before them -- the latest logged pregame market-free P(home win) (predictions log,
`kind=pregame`), the same sharpness as the input it will be given -- and, for games the pipeline
never scored (history backfilled from a source), Elo's pregame probability from the gold game
features, which is out of sample by construction (Elo only sees earlier games).  The backtest fits
on out-of-sample market-free probabilities only (`backtest._halftime_season`).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_assets.models import halftime as HT
from resources import storage
from resources.predictions_log import HALFTIME, PREGAME, PRODUCTION, PredictionsLog
from resources.sources import in_game
from tipoff_core import catalog
from tipoff_core.timeutil import ts_token

ASSET = "halftime_scores"
HISTORY_DAYS = 3 * 365
HALFTIME_PERIOD = 2
SCORE_COLUMNS = ["game_id", "game_date", "home_team_id", "away_team_id", "status", "period",
                 "home_score", "away_score", "margin", "p_pregame", "p_home_win", "margin_mean",
                 "margin_sd", "margin_p10", "margin_p50", "margin_p90", "pregame_run",
                 "model_version"]


class HalftimeInputError(LookupError):
    """A halftime run cannot be scored (no history to fit on); the message says what to run."""


def checkpoints(states: pd.DataFrame) -> pd.Series:
    """The checkpoint (1, 2 or 3) each game is scored at, 0 for none (not started, or in the
    first quarter)."""
    done = states["periods_completed"].fillna(0).astype(int).to_numpy()
    status = states["status"].to_numpy(object)
    cp = np.where(status == in_game.IN_PROGRESS, np.minimum(done, HT.CHECKPOINTS[-1]), 0)
    cp = np.where(status == in_game.FINAL, HALFTIME_PERIOD, cp)
    return pd.Series(cp, index=states.index, name="checkpoint")


def margin_after(states: pd.DataFrame, period: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Home and away points after `period` quarters (NaN where a needed quarter is missing)."""
    out = []
    for side in ("home", "away"):
        q = states[[f"{side}_{c}" for c in in_game.QUARTERS]].astype("Float64").to_numpy(
            float, na_value=np.nan)
        keep = np.arange(4)[None, :] < period.to_numpy()[:, None]
        pts = np.where(keep, q, 0.0).sum(axis=1)
        pts[np.isnan(np.where(keep, q, 0.0)).any(axis=1)] = np.nan
        out.append(pts)
    return out[0], out[1]


def logged_pregame(log: PredictionsLog | None) -> pd.Series:
    """game_id -> the latest logged pregame P(home win) of production (empty without a log)."""
    if log is None:
        return pd.Series(dtype=float)
    rows = log.read(kind=PREGAME, role=PRODUCTION)  # not the shadow model's
    if rows.empty:
        return pd.Series(dtype=float)
    rows = rows.sort_values(["run_as_of_ts", "logged_at"], kind="mergesort")
    return rows.drop_duplicates("game_id", keep="last").set_index("game_id")["p_home_win"]


def training_frame(root: Path, day: str, log: PredictionsLog | None = None,
                   days: int = HISTORY_DAYS) -> pd.DataFrame:
    """`models.halftime.checkpoint_frame` rows of the stored results of the `days` before `day`;
    pregame input: the logged pregame prediction, else Elo's (see the module docstring)."""
    end = dt.date.fromisoformat(day)
    dates = [(end - dt.timedelta(days=i)).isoformat() for i in range(days, 0, -1)]
    results = storage.read_label_range(catalog.label("results"), dates, root)
    if results.empty:
        results = pd.DataFrame(columns=["game_id", "home_pts", "away_pts",
                                        *[f"{s}_{q}" for s in ("home", "away")
                                          for q in in_game.QUARTERS]])
    gold = storage.read_season_tables(catalog.feature("gold", "game"), root)
    elo = (gold.drop_duplicates("game_id", keep="last").set_index("game_id")["elo_prob_home"]
           if "elo_prob_home" in gold else pd.Series(dtype=float)).astype(float)
    logged = logged_pregame(log)
    pregame = pd.concat([elo[~elo.index.isin(logged.index)], logged.astype(float)])
    return HT.checkpoint_frame(results, pregame)


def fit_model(root: Path, day: str, log: PredictionsLog | None = None) -> HT.HalftimeModel:
    frame = training_frame(root, day, log)
    try:
        return HT.fit_halftime_model(frame)
    except ValueError as exc:
        raise HalftimeInputError(
            f"halftime model for {day}: {exc} -- there are {frame['game_id'].nunique()} stored "
            f"games with quarter scores in the {HISTORY_DAYS} days before it; backfill history "
            "first (history_job)") from None


def pregame_scores(day: str, as_of: pd.Timestamp, root: Path) -> pd.DataFrame:
    """game_id, p_pregame, pregame_run: the market-free pregame P(home win) of the `game_scores`
    run a reader at `as_of` uses (empty when there is none)."""
    base = storage.partition_dir(catalog.table("game_scores"), day, root)
    token = storage.select_run(base, as_of) if base.is_dir() else None
    if token is None:
        return pd.DataFrame({"game_id": pd.Series(dtype=str), "p_pregame": pd.Series(dtype=float),
                             "pregame_run": pd.Series(dtype=str)})
    t = storage.read_parquet(base / f"run={token}" / catalog.table("game_scores").file)
    return pd.DataFrame({"game_id": t["game_id"].astype(str),
                         "p_pregame": t["p_home_win"].astype(float), "pregame_run": token})


def score_states(states: pd.DataFrame, pregame: pd.DataFrame, model: HT.HalftimeModel,
                 model_version: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """(scored table in `SCORE_COLUMNS`, {game_id: why it was not scored}) of the games that
    reached a checkpoint."""
    cp = checkpoints(states)
    reached = states[cp.to_numpy() > 0].assign(period=cp[cp > 0].to_numpy())
    skipped: dict[str, str] = {}
    if reached.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SCORE_COLUMNS}), skipped
    home, away = margin_after(reached, reached["period"])
    t = reached.assign(home_score=pd.array(np.where(np.isnan(home), None, home), dtype="Int64"),
                       away_score=pd.array(np.where(np.isnan(away), None, away), dtype="Int64"),
                       margin=home - away).merge(pregame, on="game_id", how="left")
    for gid in t.loc[t["p_pregame"].isna(), "game_id"]:
        skipped[gid] = "no pregame game_scores run at or before the as-of"
    for gid in t.loc[t["margin"].isna() & t["p_pregame"].notna(), "game_id"]:
        skipped[gid] = "quarter scores missing on the scoreboard"
    t = t[t["p_pregame"].notna() & t["margin"].notna()].reset_index(drop=True)
    pred = model.predict(t["period"].to_numpy(int), t["margin"].to_numpy(float),
                         t["p_pregame"].to_numpy(float))
    t = pd.concat([t, pred], axis=1).assign(model_version=model_version)
    return t[SCORE_COLUMNS].sort_values("game_id", kind="mergesort", ignore_index=True), skipped


def summary(table: pd.DataFrame, skipped: dict[str, str], day: str, as_of: pd.Timestamp,
            model: HT.HalftimeModel, source: str, via: str) -> dict:
    return {"date": day, "run_as_of_ts": as_of.isoformat(), "games": len(table),
            "by_period": {str(k): int(v) for k, v in table["period"].value_counts().items()},
            "skipped": skipped, "source": source, "via": via, "model": model.to_dict()}


def write_run(day: str, as_of: pd.Timestamp, table: pd.DataFrame, summ: dict, root: Path) -> Path:
    """`artifacts/halftime_scores/<date>/run=<as-of>/{table.parquet,summary.json}` (idempotent)."""
    files = {"table.parquet": storage.parquet_bytes(table),
             "summary.json": json.dumps(summ, indent=2, sort_keys=True, default=str).encode()}
    base = storage.partition_dir(catalog.table(ASSET), day, root)
    return storage.write_run_folder(base, ts_token(as_of), files).path


def prediction_log_rows(table: pd.DataFrame, as_of: pd.Timestamp, source: str) -> pd.DataFrame:
    """Predictions-log rows (`kind=halftime`; the model version names the checkpoint)."""
    return pd.DataFrame({
        "game_id": table["game_id"], "run_as_of_ts": as_of.isoformat(),
        "model_version": table["model_version"] + "_q" + table["period"].astype(str),
        "game_date": table["game_date"], "mode": "live", "source": source,
        "home_team_id": table["home_team_id"].astype("int64"),
        "away_team_id": table["away_team_id"].astype("int64"),
        "p_home_win": table["p_home_win"], "p_market_home": np.nan, "edge_home": np.nan,
        "margin_mean": table["margin_mean"], "total_mean": np.nan, "recommendation": None,
        "stake": np.nan, "p_elo": np.nan, "logged_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "kind": HALFTIME})
