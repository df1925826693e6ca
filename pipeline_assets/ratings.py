"""Game ratings of a slate (docs/RATING.md): after the game from its flow, before it from the
Monte Carlo margin distribution of `game_scores`; both with the matchup context.

Plain functions shared by the `game_ratings` asset, the step runner and `bench/bench_rating.py`;
the rating itself is `tipoff_core.domain.rating`.  Context of a matchup:

- strength: the two teams' Elo before the game (game features `home_elo` / `away_elo`); when
  either is missing, their standing (mean `win_pct` so far, once both have played); else unknown;
- rivalry: the two teams share a division;
- inter-conference: East vs West (conferences and divisions of the 30 franchises).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from resources.sources.simulated.league import teams_frame
from tipoff_core.domain import rating

ID_COLUMNS = ["game_id", "game_date", "home_team_id", "away_team_id"]
CONTEXT_COLUMNS = ["home_elo", "away_elo", "home_win_pct", "away_win_pct", "home_games",
                   "away_games"]
FLOW_COLUMNS = ["lead_changes", "times_tied", "competitive_seconds", "competitive_share",
                "final_margin", "overtime_periods", "largest_lead"]
POINTS = {c: f"points_{c}" for c in rating.COMPONENTS}
PREDICTED_POINTS = {c: f"predicted_points_{c}" for c in rating.COMPONENTS}
RATING_COLUMNS = (ID_COLUMNS + ["home_team", "away_team", "home_pts", "away_pts", "basis",
                                "rating", *FLOW_COLUMNS, *POINTS.values()])
PREDICTION_COLUMNS = (ID_COLUMNS + ["run_as_of_ts", "predicted_rating", "p_close_finish",
                                    "p_overtime", "expected_abs_margin", "margin_mean",
                                    "margin_sd", *PREDICTED_POINTS.values()])
CONTEXT_OUT_COLUMNS = ["home_elo", "away_elo", "strength", "rivalry", "inter_conference"]


# ----------------------------------------------------------------------------- context

def franchises() -> pd.DataFrame:
    """team_id -> team (tricode), conference, division."""
    return teams_frame()[["team_id", "team", "conference", "division"]]


def _number(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def matchup_context(home_team_id: int, away_team_id: int, features: Mapping | None = None,
                    teams: pd.DataFrame | None = None) -> rating.RatingContext:
    """The rating context of one game from its game-feature row (may be None or partial)."""
    f = features or {}
    home_elo, away_elo = _number(f.get("home_elo")), _number(f.get("away_elo"))
    strength = None
    if home_elo is None or away_elo is None:
        home_elo = away_elo = None
        wp = [_number(f.get(f"{s}_win_pct")) for s in ("home", "away")]
        played = [_number(f.get(f"{s}_games")) or 0 for s in ("home", "away")]
        # standing only means something once both teams have played
        if None not in wp and min(played) > 0:
            strength = float(np.clip(np.mean(wp), 0.0, 1.0))
    t = (teams if teams is not None else franchises()).set_index("team_id")
    known = home_team_id in t.index and away_team_id in t.index
    rivalry = known and t.at[home_team_id, "division"] == t.at[away_team_id, "division"]
    inter = (t.at[home_team_id, "conference"] != t.at[away_team_id, "conference"]) if known else None
    return rating.RatingContext(home_elo=home_elo, away_elo=away_elo, strength=strength,
                                rivalry=bool(rivalry),
                                inter_conference=None if inter is None else bool(inter))


def _feature_rows(features: pd.DataFrame | None) -> dict[str, dict]:
    if features is None or features.empty:
        return {}
    cols = ["game_id", *[c for c in CONTEXT_COLUMNS if c in features]]
    return {str(r["game_id"]): r for r in features[cols].drop_duplicates("game_id").to_dict("records")}


def _context_columns(ctx: rating.RatingContext, comps: dict) -> dict:
    return {"home_elo": ctx.home_elo, "away_elo": ctx.away_elo,
            "strength": comps["strength"]["value"], "rivalry": ctx.rivalry,
            "inter_conference": ctx.inter_conference}


def _tricode(teams: pd.DataFrame) -> dict[int, str]:
    return dict(zip(teams["team_id"].astype(int), teams["team"]))


# ----------------------------------------------------------------------------- after the game

def rate_games(results: pd.DataFrame, features: pd.DataFrame | None = None,
               play_by_play: Mapping[str, Mapping] | None = None,
               teams: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per final game of `results` (RESULTS rows): its rating and flow.  A game whose
    quarter scores are missing or inconsistent (and has no play-by-play) is left out and named,
    with the reason, in ``attrs["unrated"]``.

    `basis` is "play_by_play" when `play_by_play` holds a complete payload for the game (the
    live path), else "quarter_scores".  `features`: game features (Elo, win pct) for the context.
    """
    teams = teams if teams is not None else franchises()
    tri, ctx_rows = _tricode(teams), _feature_rows(features)
    pbp = play_by_play or {}
    rows, unrated = [], {}
    for r in results.to_dict("records"):
        gid = str(r["game_id"])
        flow = None
        if gid in pbp:
            try:
                flow = rating.pbp_flow(pbp[gid])
            except rating.PlayByPlayError:
                flow = None
            flow = flow if flow is not None and flow.complete else None  # fall back to quarters
        if flow is None:
            try:
                flow = rating.quarter_flow(r)
            except ValueError as exc:  # quarters missing or inconsistent: no post-game rating
                unrated[gid] = str(exc)
                continue
        h, a = int(r["home_team_id"]), int(r["away_team_id"])
        ctx = matchup_context(h, a, ctx_rows.get(gid), teams)
        score, comps = rating.game_rating(flow, ctx)
        rows.append({
            "game_id": gid, "game_date": r["game_date"], "home_team_id": h, "away_team_id": a,
            "home_team": tri.get(h), "away_team": tri.get(a), "home_pts": flow.home_pts,
            "away_pts": flow.away_pts, "basis": flow.basis, "rating": score,
            "lead_changes": flow.lead_changes, "times_tied": flow.times_tied,
            "competitive_seconds": flow.competitive_seconds,
            "competitive_share": flow.competitive_share, "final_margin": flow.final_margin,
            "overtime_periods": flow.overtime_periods, "largest_lead": flow.largest_lead,
            **{POINTS[c]: comps[c]["points"] for c in rating.COMPONENTS},
            **_context_columns(ctx, comps)})
    out = pd.DataFrame(rows, columns=RATING_COLUMNS + CONTEXT_OUT_COLUMNS)
    out.attrs["unrated"] = unrated
    return out


# ----------------------------------------------------------------------------- before the game

def predicted_rating_of(score_row: Mapping, features: Mapping | None = None,
                        teams: pd.DataFrame | None = None) -> tuple[float, dict, rating.RatingContext]:
    """(predicted rating, components, context) of one `game_scores` row: the normal margin
    (`margin_mean`, `margin_sd`) with the Monte Carlo `p_overtime`."""
    ctx = matchup_context(int(score_row["home_team_id"]), int(score_row["away_team_id"]),
                          features, teams)
    p_ot = _number(score_row.get("p_overtime"))
    score, comps = rating.predicted_rating(None, ctx, margin_mean=float(score_row["margin_mean"]),
                                           margin_sd=float(score_row["margin_sd"]),
                                           p_overtime=p_ot)
    return score, comps, ctx


def predict_ratings(scores: pd.DataFrame, features: pd.DataFrame | None = None,
                    teams: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per game of a scored slate (`game_scores`): predicted rating, P(close finish),
    P(overtime), E|margin| and the components' points."""
    teams = teams if teams is not None else franchises()
    ctx_rows = _feature_rows(features)
    rows = []
    for s in scores.to_dict("records"):
        gid = str(s["game_id"])
        score, comps, ctx = predicted_rating_of(s, ctx_rows.get(gid), teams)
        f = rating.margin_forecast(margin_mean=float(s["margin_mean"]),
                                   margin_sd=float(s["margin_sd"]),
                                   p_overtime=_number(s.get("p_overtime")))
        rows.append({
            "game_id": gid, "game_date": s["game_date"], "home_team_id": int(s["home_team_id"]),
            "away_team_id": int(s["away_team_id"]), "run_as_of_ts": s.get("run_as_of_ts"),
            "predicted_rating": score, "p_close_finish": f.p_close, "p_overtime": f.p_overtime,
            "expected_abs_margin": f.expected_abs_margin, "margin_mean": float(s["margin_mean"]),
            "margin_sd": float(s["margin_sd"]),
            **{PREDICTED_POINTS[c]: comps[c]["points"] for c in rating.COMPONENTS},
            **_context_columns(ctx, comps)})
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS + CONTEXT_OUT_COLUMNS)


def rating_features(components: dict) -> dict:
    """The components of a rating as plain JSON values (for the step document)."""
    return json.loads(json.dumps(components, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


# ----------------------------------------------------------------------------- the table

def ratings_table(rated: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """Post-game and predicted ratings side by side, one row per game (games without a result
    carry only the predicted part; games never scored only the post-game part).
    `rating_vs_predicted` = rating - predicted_rating (a better game than expected when > 0)."""
    ids = ["game_date", "home_team_id", "away_team_id"]
    pred = predicted.drop(columns=ids).rename(columns={c: f"pre_{c}" for c in CONTEXT_OUT_COLUMNS})
    out = rated.merge(pred, on="game_id", how="outer")
    by_game = predicted.set_index("game_id")
    for c in ids:  # games not played yet: their ids from the scores
        out[c] = out[c].astype(object).where(out[c].notna(), out["game_id"].map(by_game[c]))
    teams = _tricode(franchises())
    for side in ("home", "away"):
        ids = pd.to_numeric(out[f"{side}_team_id"], errors="coerce")
        out[f"{side}_team"] = out[f"{side}_team"].where(out[f"{side}_team"].notna(),
                                                        ids.map(teams))
        out[f"{side}_team_id"] = ids.astype("Int64")
    # the context is the same before and after; keep the post-game one, else the pre-game one
    for c in CONTEXT_OUT_COLUMNS:
        out[c] = out[c].where(out[c].notna(), out[f"pre_{c}"])
    out = out.drop(columns=[f"pre_{c}" for c in CONTEXT_OUT_COLUMNS])
    out["rating_vs_predicted"] = out["rating"] - out["predicted_rating"]
    first = ID_COLUMNS + ["home_team", "away_team", "rating", "basis", "predicted_rating",
                          "rating_vs_predicted"]
    out = out[first + [c for c in out.columns if c not in first]]
    for c in ("rivalry", "inter_conference"):
        out[c] = out[c].astype("boolean")
    return out.sort_values(["game_date", "game_id"], kind="mergesort", ignore_index=True)


def top_games(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The n best games (by rating, games not yet played by predicted rating) for the UI."""
    if table.empty:
        return pd.DataFrame(columns=["date", "game", "score", "rating", "basis", "predicted"])
    key = table["rating"].where(table["rating"].notna(), table["predicted_rating"])
    t = table.assign(_key=key).sort_values(["_key", "game_id"], ascending=[False, True],
                                           kind="mergesort").head(n)

    def score(r):
        if pd.isna(r["home_pts"]):
            return ""
        ot = f" ({int(r['overtime_periods'])}OT)" if r["overtime_periods"] else ""
        return f"{int(r['away_pts'])}-{int(r['home_pts'])}{ot}"

    return pd.DataFrame({
        "date": t["game_date"].to_numpy(),
        "game": [f"{a} at {h}" for a, h in zip(t["away_team"].fillna("?"), t["home_team"].fillna("?"))],
        "score": [score(r) for r in t.to_dict("records")],
        "rating": [_shown(v) for v in t["rating"]],
        "basis": t["basis"].fillna("not played").to_numpy(),
        "predicted": [_shown(v) for v in t["predicted_rating"]]})


def _shown(v) -> str:
    """A rating for the UI table: one decimal, a dash when there is none (not scored / played)."""
    return "–" if pd.isna(v) else f"{float(v):.1f}"


def check_ratings(table: pd.DataFrame) -> list[str]:
    """What is wrong with a ratings table (empty: nothing): ratings in 0..100, one row per game."""
    problems = []
    for c in ("rating", "predicted_rating"):
        v = table[c].dropna()
        if ((v < 0) | (v > 100)).any():
            problems.append(f"{c} outside 0..100 for {int(((v < 0) | (v > 100)).sum())} game(s)")
    dup = table["game_id"].duplicated()
    if dup.any():
        problems.append(f"{int(dup.sum())} duplicate game_id(s), e.g. {table.loc[dup, 'game_id'].iloc[0]}")
    both = table["rating"].isna() & table["predicted_rating"].isna()
    if both.any():
        problems.append(f"{int(both.sum())} row(s) with neither a rating nor a predicted rating")
    return problems
