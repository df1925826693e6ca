"""Model monitoring: how the production models did on finished games, and whether inputs drifted.

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

Everything is written under ``artifacts/model_performance/<D>/run=<as-of>/`` (``table.parquet``,
``games.parquet``, ``calibration.parquet``, ``psi.parquet``, ``summary.json``); ``summary.json`` is
what `drift_sensor` reads.  Domain logic lives in plain functions; the asset is a thin wrapper.
"""
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from pipeline_assets.domain import metrics
from pipeline_assets.model_assets import RegistryResource
from pipeline_assets.partitions import DAILY, AsOfConfig, explicit_as_of, run_created_ts
from pipeline_assets.timeutil import parse_ts_token, to_date, ts_token
from resources import storage
from resources.dagster_resources import StorageResource

WIN_MODEL = "win_market_free"
MINUTES_MODEL = "minutes"
ROLLING_GAMES = 50
ROLLING_DAYS = 14
DRIFT_DAYS = 28          # the "production" window
PSI_DAYS = 28            # recent live features compared with the training window
MAX_LOOKBACK_DAYS = 60   # how far back the last-50-games window may reach
TOP_FEATURES = 6
DEFAULT_TOP_FEATURES = ["diff_elo", "elo_prob_home", "diff_net_rating", "diff_win_pct",
                        "diff_last5_margin", "diff_inj_impact"]
PSI_EXTRA_FEATURES = ("elo_prob_home",)
CALIBRATION_BINS = 10
WINDOWS = ("day", "last_50_games", "last_14_days", "production")


# ----------------------------------------------------------------------------- reading the store

def _runs_until(base: Path, as_of: pd.Timestamp | None) -> list[str]:
    tokens = storage.list_runs(base)
    return [t for t in tokens if as_of is None or parse_ts_token(t) <= as_of]


def pick_run(base: Path, as_of: pd.Timestamp | None = None) -> str | None:
    """The run an evaluation should read: the operator's PINNED run if any (and not after as-of),
    else the newest run at or before `as_of`."""
    tokens = _runs_until(base, as_of)
    if not tokens:
        return None
    pinned = base / "PINNED"
    if pinned.exists():
        token = pinned.read_text().strip()
        if token in tokens:
            return token
    return tokens[-1]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def scored_games(day: str, root: Path, as_of: pd.Timestamp | None = None,
                 results: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per scored game of `day`: prediction (newest/pinned game_scores run <= as_of) joined to the
    result when final by `as_of` (`results`: `final_results` of the day, read when None).  Empty
    when the date was never scored."""
    base = storage.run_artifact_dir("artifacts", "game_scores", day, root)
    token = pick_run(base, as_of)
    if token is None:
        return pd.DataFrame()
    folder = base / f"run={token}"
    scores = storage.read_parquet(folder / "table.parquet")
    summary = _read_json(folder / "summary.json")
    keep = [c for c in ("game_id", "game_date", "home_team_id", "away_team_id", "p_home_win",
                        "p_market_home", "p_elo", "margin_mean", "market_home_spread")
            if c in scores.columns]
    out = scores[keep].copy()
    out["score_run"] = token
    out["model_version"] = summary.get("model_version", "")
    out["feature_source"] = summary.get("feature_source", "")
    res = final_results(day, root, as_of) if results is None else results
    out = out.merge(res, on="game_id", how="left")
    out["final"] = out["home_win"].notna()
    return out


def final_results(day: str, root: Path, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """game_id, home_win (float 0/1), margin of the games of `day` final by `as_of`."""
    path = storage.label_dir("results", day, root) / "table.parquet"
    cols = ["game_id", "home_win", "margin"]
    if not path.exists():
        return pd.DataFrame(columns=cols)
    r = storage.read_parquet(path)
    if as_of is not None and len(r):
        r = r[r["final_ts"] <= as_of]
    margin = r["home_pts"].astype(float) - r["away_pts"].astype(float)
    return pd.DataFrame({"game_id": r["game_id"].astype(str), "home_win": (margin > 0).astype(float),
                         "margin": margin})


def scored_minutes(day: str, root: Path, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per player who played on `day`: p10/p50/p90 (newest/pinned minutes_scores run) and minutes."""
    base = storage.run_artifact_dir("artifacts", "minutes_scores", day, root)
    token = pick_run(base, as_of)
    box_path = storage.label_dir("box_scores", day, root) / "table.parquet"
    if token is None or not box_path.exists():
        return pd.DataFrame()
    pred = storage.read_parquet(base / f"run={token}" / "table.parquet")
    box = storage.read_parquet(box_path)
    if as_of is not None and len(box):
        box = box[box["snapshot_ts"] <= as_of]
    box = box[["game_id", "player_id", "minutes"]]
    return pred[["game_id", "player_id", "p10", "p50", "p90"]].merge(box, on=["game_id", "player_id"])


def _days_back(day: str, n: int) -> list[str]:
    d = to_date(day)
    return [(d - dt.timedelta(days=i)).isoformat() for i in range(n - 1, -1, -1)]


# ----------------------------------------------------------------------------- metrics

def per_game_log_loss(y, p) -> np.ndarray:
    p = np.clip(np.asarray(p, float), metrics.LOG_LOSS_EPS, 1 - metrics.LOG_LOSS_EPS)
    y = np.asarray(y, float)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def win_metrics(games: pd.DataFrame) -> dict:
    """Metrics of the final games of an evaluation frame (see `scored_games`)."""
    g = games.loc[games["final"].astype(bool)] if len(games) else games
    n = int(len(g))
    out = {"n_scored": int(len(games)), "n_evaluated": n}
    if n == 0:
        return {**out, "accuracy": math.nan, "log_loss": math.nan, "brier": math.nan,
                "ece": math.nan, "log_loss_se": math.nan, "market_n": 0,
                "market_log_loss": math.nan, "model_log_loss_on_market_games": math.nan,
                "elo_log_loss": math.nan}
    y, p = g["home_win"].to_numpy(float), g["p_home_win"].to_numpy(float)
    ll = per_game_log_loss(y, p)
    mk = g[g["p_market_home"].notna()] if "p_market_home" in g else g.iloc[:0]
    out.update({
        "accuracy": metrics.accuracy(y, p), "log_loss": float(ll.mean()), "brier": metrics.brier(y, p),
        "ece": metrics.expected_calibration_error(p, y, bins=CALIBRATION_BINS),
        "log_loss_se": float(ll.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        "market_n": int(len(mk)),
        "market_log_loss": metrics.log_loss(mk["home_win"], mk["p_market_home"]) if len(mk) else math.nan,
        "model_log_loss_on_market_games": metrics.log_loss(mk["home_win"], mk["p_home_win"])
        if len(mk) else math.nan,
        "elo_log_loss": metrics.log_loss(y, g["p_elo"]) if "p_elo" in g else math.nan,
    })
    return out


def minutes_metrics(rows: pd.DataFrame) -> dict:
    if rows is None or rows.empty:
        return {"minutes_n": 0, "minutes_mae": math.nan, "minutes_coverage_p10_p90": math.nan}
    y = rows["minutes"].to_numpy(float)
    return {"minutes_n": int(len(rows)), "minutes_mae": metrics.mae(y, rows["p50"]),
            "minutes_coverage_p10_p90": metrics.interval_coverage(y, rows["p10"], rows["p90"])}


# ----------------------------------------------------------------------------- feature drift

def feature_importance(win_model, feature_cols: list[str]) -> pd.Series:
    """Importance per feature of a pickled WinModel: tree importances, or |standardized coef| of
    the logistic baseline.  Empty when the estimator exposes neither."""
    est = getattr(win_model, "estimator", None)
    values = None
    if est is not None and hasattr(est, "feature_importances_"):
        values = np.asarray(est.feature_importances_, float)
    elif est is not None and hasattr(est, "named_steps") and "lr" in est.named_steps:
        values = np.abs(np.asarray(est.named_steps["lr"].coef_, float)).ravel()
    cols = list(getattr(win_model, "feature_cols", feature_cols) or feature_cols)
    if values is None or len(values) != len(cols):
        return pd.Series(dtype=float)
    return pd.Series(values, index=cols).sort_values(ascending=False, kind="mergesort")


def psi_eligible(name: str) -> bool:
    """Features whose distribution is comparable across the season: home-minus-away differences and
    the Elo probability.  Team levels (home_elo, away_off_rating, streaks, games played) drift with
    the stage of the season by construction, so a PSI on them flags the calendar, not a regime."""
    return name.startswith("diff_") or name in PSI_EXTRA_FEATURES


def top_features(importance: pd.Series, frame: pd.DataFrame, n: int = TOP_FEATURES) -> list[str]:
    """The `n` most important PSI-eligible numeric features, else the default list."""
    def numeric(c):
        return c in frame.columns and psi_eligible(c) and pd.api.types.is_numeric_dtype(frame[c]) \
            and not pd.api.types.is_bool_dtype(frame[c])
    ranked = [c for c in importance.index if numeric(c) and importance[c] > 0]
    if not ranked:
        ranked = [c for c in DEFAULT_TOP_FEATURES if numeric(c)]
    return ranked[:n]


def feature_psi(reference: pd.DataFrame, recent: pd.DataFrame, features: list[str],
                importance: pd.Series | None = None) -> pd.DataFrame:
    """PSI per feature of `recent` against `reference` (quantile bins of the reference)."""
    rows = []
    for f in features:
        ref = reference[f].astype(float) if f in reference else pd.Series(dtype=float)
        cur = recent[f].astype(float) if f in recent else pd.Series(dtype=float)
        rows.append({"feature": f,
                     "importance": float(importance.get(f, math.nan)) if importance is not None else math.nan,
                     "psi": metrics.psi(ref, cur), "n_reference": int(ref.notna().sum()),
                     "n_recent": int(cur.notna().sum()), "reference_mean": float(ref.mean()),
                     "recent_mean": float(cur.mean())})
    return pd.DataFrame(rows, columns=["feature", "importance", "psi", "n_reference", "n_recent",
                                       "reference_mean", "recent_mean"])


def recent_live_features(days: list[str], root: Path, as_of: pd.Timestamp | None,
                         sources: dict[str, str] | None = None) -> pd.DataFrame:
    """Live game features that were scored on `days` (the feature run named by the score run's
    summary when known, else the newest run at or before as-of)."""
    frames = []
    for day in days:
        base = storage.run_artifact_dir("features", "game", day, root)
        token = None
        src = (sources or {}).get(day, "")
        if "run=" in src:
            token = src.rsplit("run=", 1)[-1]
            if not (base / f"run={token}").is_dir():
                token = None
        token = token or pick_run(base, as_of)
        if token is not None:
            frames.append(storage.read_parquet(base / f"run={token}" / "features.parquet"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def training_reference(meta: dict, root: Path) -> pd.DataFrame:
    """Gold game features of a model's training window (metadata train_start..train_end)."""
    gold = storage.read_season_tables("game", root)
    start, end = meta.get("train_start"), meta.get("train_end")
    if gold.empty or not start or not end:
        return pd.DataFrame()
    return gold[(gold["game_date"] >= str(start)) & (gold["game_date"] <= str(end))]


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


def _production(registry, name: str):
    from resources.registry import NoProductionModelError
    if registry is None:
        return None
    try:
        return registry.load_production(name)
    except NoProductionModelError:
        return None


def performance_report(day: str, root: Path, registry=None, as_of: pd.Timestamp | None = None, *,
                       drift_days: int = DRIFT_DAYS, psi_days: int = PSI_DAYS,
                       rolling_games: int = ROLLING_GAMES, rolling_days: int = ROLLING_DAYS,
                       lookback_days: int = MAX_LOOKBACK_DAYS) -> PerformanceReport:
    """Evaluate predictions up to league date `day` with what the store held at `as_of`."""
    span_days = max(drift_days, rolling_days, psi_days)
    results: dict[str, pd.DataFrame] = {}
    per_day: dict[str, pd.DataFrame] = {}
    days: list[str] = []
    # read back day by day: at least the longest window, further (up to lookback_days) until the
    # last-N-games window is full
    for i, d in enumerate(reversed(_days_back(day, max(lookback_days, span_days)))):
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
    recent_days = _days_back(day, rolling_days)
    scopes["last_14_days"] = (games[games["game_date"].isin(recent_days)], recent_days)
    drift = _days_back(day, drift_days)
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
        mm = minutes_metrics(mins[mins["game_id"].isin(g["game_id"])] if len(mins) and len(g) else None)
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
    psi_window = _days_back(day, psi_days)
    if loaded is not None:
        reference = training_reference(loaded.metadata, root)
        sources = {d: str(g["feature_source"].iloc[0]) for d, g in per_day.items()
                   if d in psi_window and len(g) and "feature_source" in g}
        recent = recent_live_features(psi_window, root, as_of, sources)
        if len(reference) and len(recent):
            imp = feature_importance(loaded.model.get("model") if isinstance(loaded.model, dict)
                                     else loaded.model, loaded.feature_cols)
            psi = feature_psi(reference, recent, top_features(imp, reference), imp)

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
    }
    return PerformanceReport(day, as_of if as_of is not None else pd.Timestamp.now(tz="UTC"),
                             table, games, calibration, psi, summary)


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
        "summary.json": json.dumps(report.summary, indent=2, sort_keys=True, default=str).encode(),
    }
    return storage.write_run_folder(storage.run_artifact_dir("artifacts", "model_performance",
                                                             report.day, root),
                                    ts_token(report.as_of), files)


def latest_summary(root: Path, not_before: str | None = None) -> dict | None:
    """summary.json of the newest evaluated date (its latest/pinned run), or None.  Dates before
    `not_before` are ignored (stale evaluations)."""
    base = root / "artifacts" / "model_performance"
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


# ----------------------------------------------------------------------------- the asset

class PerformanceConfig(AsOfConfig):
    """`run_as_of_ts` (or the run tag; default: the run's start) bounds what is evaluated: score
    runs and results known by then.  Window lengths are configurable."""

    drift_days: int = DRIFT_DAYS
    psi_days: int = PSI_DAYS
    rolling_games: int = ROLLING_GAMES
    rolling_days: int = ROLLING_DAYS


@dg.asset(deps=["game_scores", "minutes_scores", "game_results", "player_box_scores",
                "live_game_features", "gold_game_features"],
          partitions_def=DAILY, group_name="monitoring", kinds={"parquet"},
          backfill_policy=dg.BackfillPolicy.single_run(), tags={"tipoff/layer": "monitoring"},
          description="Next-day validation of the production models: accuracy, log loss, Brier, "
                      "calibration, coverage, minutes MAE/interval coverage for the date, the last "
                      "50 games, the last 14 days and the production version's recent games; PSI of "
                      "the top features vs the training window.  Read by drift_sensor.")
def model_performance(context: dg.AssetExecutionContext, config: PerformanceConfig,
                      store: StorageResource, registry: RegistryResource) -> dg.MaterializeResult:
    root = store.path()
    as_of = explicit_as_of(context, config) or run_created_ts(context)
    reg = registry.get()
    report = None
    folders = []
    for day in context.partition_keys:
        report = performance_report(day, root, reg, as_of, drift_days=config.drift_days,
                                    psi_days=config.psi_days, rolling_games=config.rolling_games,
                                    rolling_days=config.rolling_days)
        folders.append(write_report(report, root).path)
        d = report.table.set_index("window")
        context.log.info(f"model_performance {day}: day n={int(d.loc['day', 'n_evaluated'])} "
                         f"ll={d.loc['day', 'log_loss']:.4f}; last 14 days "
                         f"n={int(d.loc['last_14_days', 'n_evaluated'])} "
                         f"ll={d.loc['last_14_days', 'log_loss']:.4f} "
                         f"acc={d.loc['last_14_days', 'accuracy']:.3f}")
    s = report.summary
    d = report.table.set_index("window")

    def num(v):
        return float(v) if v is not None and np.isfinite(float(v)) else float("nan")

    md = {f"{w}_{k}": num(d.loc[w, k]) for w in WINDOWS
          for k in ("accuracy", "log_loss", "brier", "coverage")}
    md.update({f"{w}_games": int(d.loc[w, "n_evaluated"]) for w in WINDOWS})
    md.update({
        "minutes_mae_14d": num(d.loc["last_14_days", "minutes_mae"]),
        "minutes_coverage_p10_p90_14d": num(d.loc["last_14_days", "minutes_coverage_p10_p90"]),
        "production_version": s["production_version"] or "none",
        "baseline_log_loss": num(s["baseline"].get("log_loss")),
        "baseline_accuracy": num(s["baseline"].get("accuracy")),
        "max_psi": max([v for v in s["psi"].values() if v is not None], default=float("nan")),
        "psi": dg.MetadataValue.json(s["psi"]),
        "windows": dg.MetadataValue.md(windows_markdown(report.table)),
        "calibration_last_14_days": dg.MetadataValue.md(calibration_markdown(report.calibration)),
        "run_as_of_ts": as_of.isoformat(), "dates": len(context.partition_keys),
        "path": dg.MetadataValue.path(str(folders[-1])),
        "dagster/row_count": len(report.table),
    })
    return dg.MaterializeResult(metadata=md)


monitoring_assets = [model_performance]


# ----------------------------------------------------------------------------- live run registry
# One JSON line per live run (Dagster live_job runs via sensors.live_runs, `tipoff run` via
# pipeline_assets.steps): date, run_as_of_ts, status, snapshot ages, warnings, model version...

def live_runs_path(root: Path) -> Path:
    return root / "ops" / "live_runs.jsonl"


def append_live_run(entry: dict, root: Path) -> Path:
    """Append one entry (a single write of one line, flushed and fsynced)."""
    import os
    path = live_runs_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def read_live_runs(root: Path, date: str | None = None) -> pd.DataFrame:
    """Every recorded live run (the last entry per run_id), oldest first."""
    path = live_runs_path(root)
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a torn last line after a crash
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.drop_duplicates("run_id", keep="last") if "run_id" in df else df
    if date is not None and "date" in df:
        df = df[df["date"] == date]
    return df.reset_index(drop=True)
