"""Post-hoc checks of the output tables (scores, model performance, backtest), independent of the
code that wrote them.  Plain pandas, no Dagster: `output_checks` wraps them as asset checks.

Each function returns a list of problems (human-readable, one line each); empty means it passed.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Probabilities every scored game must carry (the others -- market, cover, over -- are NaN when
# there is no line).
REQUIRED_GAME_PROBABILITIES = ("p_home_win", "p_home_win_with_market")
PERFORMANCE_WINDOWS = ("day", "last_50_games", "last_14_days", "production")


def probability_problems(table: pd.DataFrame, required: tuple[str, ...] = (),
                         prefix: str = "p_") -> list[str]:
    """Every column named `p_*` within [0, 1] where present; `required` ones never missing."""
    out = []
    for col in [c for c in table.columns if c.startswith(prefix)]:
        v = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
        bad = int(((v < 0) | (v > 1)).sum())
        if bad:
            out.append(f"{col}: {bad} value(s) outside [0, 1]")
        if col in required and np.isnan(v).any():
            out.append(f"{col}: {int(np.isnan(v).sum())} missing")
    out += [f"{col}: column missing" for col in required if col not in table.columns]
    return out


def duplicate_problems(table: pd.DataFrame, keys: list[str]) -> list[str]:
    """One row per key."""
    if table.empty:
        return []
    dup = table[table.duplicated(keys, keep=False)]
    if dup.empty:
        return []
    sample = ", ".join(map(str, dup[keys].drop_duplicates().head(5).itertuples(index=False)))
    return [f"{len(dup)} rows share a {'/'.join(keys)} (e.g. {sample})"]


def stake_problems(table: pd.DataFrame, cap: float) -> list[str]:
    """Stakes within [0, cap]; a recommended side has a stake, the other side none; no stake
    without a recommendation."""
    out = []
    for col in [c for c in table.columns if c.startswith("stake_")]:
        v = pd.to_numeric(table[col], errors="coerce").fillna(0.0).to_numpy(float)
        bad = int(((v < 0) | (v > cap + 1e-12)).sum())
        if bad:
            out.append(f"{col}: {bad} stake(s) outside [0, {cap}] (max {v.max():.4f})")
    if {"recommendation", "stake_home", "stake_away"} <= set(table.columns):
        rec, h, a = table["recommendation"], table["stake_home"], table["stake_away"]
        wrong = ((rec == "home") & ~((h > 0) & (a == 0))) | ((rec == "away") & ~((a > 0) & (h == 0))) \
            | ((rec == "none") & ((h > 0) | (a > 0)))
        if wrong.any():
            out.append(f"{int(wrong.sum())} game(s) whose stakes do not match the recommendation "
                       f"(e.g. {table.loc[wrong, 'game_id'].iloc[0]})")
    return out


def unscored_games(schedule: pd.DataFrame, scores: pd.DataFrame,
                   reasons: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """(scheduled games neither scored nor given a reason, games excused with their reason)."""
    reasons = {str(k): str(v) for k, v in (reasons or {}).items()}
    scheduled = set(schedule["game_id"].astype(str)) if len(schedule) else set()
    scored = set(scores["game_id"].astype(str)) if len(scores) else set()
    missing = sorted(scheduled - scored)
    return [g for g in missing if g not in reasons], {g: reasons[g] for g in missing if g in reasons}


def minutes_problems(table: pd.DataFrame) -> list[str]:
    """Minutes quantiles ordered and within a game's length; expected minutes = P(plays) x p50."""
    if table.empty:
        return []
    out = []
    q = table[["p10", "p50", "p90"]].astype(float)
    unordered = int(((q["p10"] > q["p50"] + 1e-9) | (q["p50"] > q["p90"] + 1e-9)).sum())
    if unordered:
        out.append(f"{unordered} player(s) with p10 > p50 or p50 > p90")
    # 48 regulation minutes plus overtimes: 70 is beyond any real game
    outside = int(((q < 0) | (q > 70)).any(axis=1).sum())
    if outside:
        out.append(f"{outside} player(s) with minutes outside [0, 70]")
    if "expected_minutes" in table and "p_play" in table:
        diff = (table["expected_minutes"].astype(float)
                - table["p_play"].astype(float) * q["p50"]).abs()
        if (diff > 1e-6).any():
            out.append(f"{int((diff > 1e-6).sum())} row(s) where expected_minutes != p_play x p50")
    return out


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def performance_problems(table: pd.DataFrame) -> list[str]:
    """A `model_performance` table: every window present once, counts non-negative, metrics in
    range where there were games to evaluate (NaN only when there were none)."""
    out = []
    windows = list(table["window"]) if "window" in table else []
    for w in PERFORMANCE_WINDOWS:
        if windows.count(w) != 1:
            out.append(f"window {w}: {windows.count(w)} rows (expected 1)")
    ranges = {"accuracy": (0, 1), "brier": (0, 1), "log_loss": (0, math.inf), "coverage": (0, 1)}
    for r in table.to_dict("records"):
        n = r.get("n_evaluated", 0)
        if not _finite(n) or n < 0:
            out.append(f"window {r.get('window')}: n_evaluated {n}")
            continue
        for k, (lo, hi) in ranges.items():
            v = r.get(k)
            if k == "coverage" and not _finite(v):
                continue  # no final games in the window's dates
            if n > 0 and not _finite(v):
                out.append(f"window {r['window']}: {k} missing with {int(n)} games evaluated")
            elif _finite(v) and not lo <= float(v) <= hi:
                out.append(f"window {r['window']}: {k} {float(v):.4f} outside [{lo}, {hi}]")
    return out


def backtest_problems(block: dict, max_log_loss: float = 0.75) -> list[str]:
    """One season of a backtest report: games evaluated, every model's log loss, Brier and
    accuracy in range, and the models no worse than a coin flip by a margin (`max_log_loss`;
    a coin flip scores 0.693)."""
    out = []
    if not block.get("games"):
        return ["no games evaluated"]
    for model in ("model_market_free", "model_with_market", "elo"):
        m = block.get(model) or {}
        ll, brier, acc = m.get("log_loss"), m.get("brier"), m.get("accuracy")
        if not (_finite(ll) and 0 < float(ll) <= max_log_loss):
            out.append(f"{model}: log loss {ll} not in (0, {max_log_loss}]")
        if not (_finite(brier) and 0 <= float(brier) <= 0.25 + 0.05):
            out.append(f"{model}: Brier {brier} not in [0, 0.30]")
        if not (_finite(acc) and 0 <= float(acc) <= 1):
            out.append(f"{model}: accuracy {acc} not in [0, 1]")
    return out
