"""As-of machinery shared by the game and minutes feature builders.

The one rule: a feature of a target game may only depend on input rows that were knowable at
the target's ``cutoff_ts`` (gold: ``tip_ts``; live: ``min(run_as_of_ts, tip_ts)``).

* A result is *available* at ``avail_ts = max(final_ts, snapshot_ts)``: the game is over and the
  row has been published.  Label-derived features therefore only use games with
  ``final_ts <= cutoff_ts`` (and so ended before tip).
* A box-score row is available at ``max(snapshot_ts, final_ts of its game)``; it only feeds
  team possessions once its game's result is available too.
* Snapshot rows (injuries, odds) are visible when ``snapshot_ts <= cutoff_ts``.

Everything is vectorized: history is turned into *streams* -- one row per event, sorted by
availability, carrying running/rolling state *after* the event -- and each target looks up the
last event at or before its cutoff with ``pd.merge_asof(..., allow_exact_matches=True)`` by team,
(team, season), player, (player, season) or team pair.  Adding rows stamped after a cutoff only
appends events after it, so the state a target sees cannot change (tests/test_leakage.py).
All inputs are sorted canonically first, so input row order never matters.

A history is ordered by availability (then final_ts, game_id).  That is game order unless a result
is published after the same team's next game has ended; "last 5" then means the last 5 known.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tipoff_core.domain import betting
from tipoff_core.domain.elo import (
    CARRYOVER_MEAN, CARRYOVER_WEIGHT, INITIAL_RATING, elo_ratings_before_games, elo_win_prob,
)
from pipeline_assets.features.schema import REST_CAP_DAYS, TEAM_DEFAULTS
from tipoff_core.jit import njit
from tipoff_core.schemas import conform, empty_frame
from tipoff_core.timeutil import season_of

TS = "datetime64[us, UTC]"
SOURCE = "features"

# A game's possessions count as box-score derived only when both teams' estimates are positive
# and their mean is at least this (a real NBA game has ~90-105; less means an incomplete box).
MIN_GAME_POSSESSIONS = 60.0
# Regulation team minutes, the denominator of the injured-minutes share.
TEAM_MINUTES = 240.0
# Appearances used for a player's expected minutes and points per minute.
EXPECTED_WINDOW = 10
# Team scoring window (games, any season) used as the denominator of the value-weighted impact,
# and the fallback when a team has no final game yet.
TEAM_PTS_WINDOW = 10
DEFAULT_TEAM_PTS = 110.0
OUT_STATUSES = ("out", "doubtful")
EWM_HALFLIFE = 5


# ------------------------------------------------------------------------------------ inputs

@dataclass
class Inputs:
    targets: pd.DataFrame   # schedule columns + cutoff_ts, in caller order
    results: pd.DataFrame   # + avail_ts
    box: pd.DataFrame       # + avail_ts, season
    injuries: pd.DataFrame  # + status_norm
    odds: pd.DataFrame


def _table(df: pd.DataFrame | None, kind: str, who: str) -> pd.DataFrame:
    if df is None or (len(df) == 0 and len(df.columns) == 0):
        return empty_frame(kind)
    return conform(df, kind, SOURCE, f"{who}.{kind}")


def _unique(df: pd.DataFrame, keys: list[str], what: str) -> pd.DataFrame:
    df = df.drop_duplicates(ignore_index=True)
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        ex = df.loc[dup, keys].iloc[0].to_dict()
        raise ValueError(f"{what}: {int(dup.sum())} rows share a key {keys} with different "
                         f"values (e.g. {ex}); the table contract allows one row per key")
    return df


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.sort_values(by, kind="mergesort", ignore_index=True)


def prepare(targets, results, box_scores, injuries, odds, *, who: str) -> Inputs:
    if targets is None or "cutoff_ts" not in targets.columns:
        raise ValueError(f"{who}: targets need a 'cutoff_ts' column (gold: tip_ts; live: "
                         "min(run_as_of_ts, tip_ts))")
    cutoff = targets["cutoff_ts"].reset_index(drop=True)
    t = _table(targets, "schedule", who)
    if cutoff.isna().any():
        raise ValueError(f"{who}: targets.cutoff_ts has null values")
    cutoff = pd.to_datetime(cutoff, utc=True)  # naive input is taken as UTC
    t["cutoff_ts"] = cutoff.astype(TS).array
    late = t["cutoff_ts"] > t["tip_ts"]
    if late.any():
        gid = t.loc[late, "game_id"].iloc[0]
        raise ValueError(f"{who}: cutoff_ts after tip_ts for game {gid!r} -- a feature may "
                         "never see past the tip")
    if t["game_id"].duplicated().any():
        gid = t.loc[t["game_id"].duplicated(), "game_id"].iloc[0]
        raise ValueError(f"{who}: targets list game {gid!r} more than once")

    res = _unique(_table(results, "results", who), ["game_id"], f"{who}: results")
    res["avail_ts"] = tsmax(res["final_ts"], res["snapshot_ts"])
    res = _sorted(res, ["game_id"])
    own = res.merge(t[["game_id", "cutoff_ts"]], on="game_id")
    bad = own["final_ts"] <= own["cutoff_ts"]
    if bad.any():
        raise ValueError(f"{who}: target game {own.loc[bad, 'game_id'].iloc[0]!r} has a result "
                         "final at or before its cutoff (cutoff must not be after tip)")

    box = _unique(_table(box_scores, "box_scores", who), ["game_id", "player_id"],
                  f"{who}: box_scores")
    box = box.merge(res[["game_id", "final_ts", "season"]], on="game_id", how="left")
    box["avail_ts"] = tsmax(box["snapshot_ts"], box["final_ts"].fillna(box["snapshot_ts"]))
    no_season = box["season"].isna()
    if no_season.any():
        dates = box.loc[no_season, "game_date"]
        seasons = {d: season_of(d) for d in dates.unique()}
        box.loc[no_season, "season"] = dates.map(seasons)
    box["season"] = box["season"].astype(object)
    box = _sorted(box.drop(columns=["final_ts"]), ["game_id", "team_id", "player_id"])

    inj = _table(injuries, "injuries", who).drop_duplicates(ignore_index=True)
    inj["status_norm"] = inj["status"].astype(str).str.strip().str.lower().astype(object)
    inj = _sorted(inj, ["game_date", "team_id", "player_id", "snapshot_ts", "status", "reason",
                        "player_name", "team"])

    od = _table(odds, "odds", who).drop_duplicates(ignore_index=True)
    od = _sorted(od, ["game_id", "bookmaker", "snapshot_ts", "home_ml", "away_ml", "home_spread",
                      "total"])
    return Inputs(t, res, box, inj, od)


# ------------------------------------------------------------------------------------ helpers

def tsmax(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise later of two UTC timestamp series (stays datetime64; no object detour)."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    return a.where(a >= b, b)


def day_number(dates: pd.Series) -> np.ndarray:
    """'YYYY-MM-DD' strings -> int64 days since 1970-01-01 (parsed once per distinct date)."""
    codes, uniq = pd.factorize(dates.astype(object), sort=False)
    days = (pd.to_datetime(pd.Index(uniq, dtype=object), format="%Y-%m-%d")
            .to_numpy().astype("datetime64[D]").astype(np.int64))
    return days[codes] if len(uniq) else np.zeros(len(dates), dtype=np.int64)


def asof(left: pd.DataFrame, right: pd.DataFrame, by: list[str], cols: list[str],
         left_on: str = "cutoff_ts", right_on: str = "ts") -> pd.DataFrame:
    """For each row of ``left``: ``cols`` of the last ``right`` row with the same ``by`` and
    ``right[right_on] <= left[left_on]`` (NaN when none).  Aligned with ``left`` (positional).
    ``right`` must be sorted by ``right_on``; among equal stamps the last row wins, which is the
    state after all events at that instant."""
    lf = left[by + [left_on]].copy()
    lf["_pos"] = np.arange(len(lf))
    lf = lf.sort_values(left_on, kind="mergesort")
    rt = right[by + [right_on] + cols].rename(columns={right_on: "_rts"})
    for c in by:  # merge_asof wants identical key dtypes (object vs str, int widths)
        if lf[c].dtype != rt[c].dtype:
            if pd.api.types.is_string_dtype(lf[c]) or lf[c].dtype == object:
                lf[c] = lf[c].astype(object)
                rt[c] = rt[c].astype(object)
            else:
                lf[c] = lf[c].astype(np.int64)
                rt[c] = rt[c].astype(np.int64)
    if len(lf) == 0:
        return pd.DataFrame({c: right[c].iloc[:0] for c in cols}, index=pd.RangeIndex(0))
    m = pd.merge_asof(lf, rt, left_on=left_on, right_on="_rts", by=by, direction="backward",
                      allow_exact_matches=True)
    m = m.sort_values("_pos", kind="mergesort")
    return m[cols].reset_index(drop=True)


def _rolling_sum(cs: pd.Series, key, k: int) -> pd.Series:
    """Sum of the last ``k`` values given their running sum ``cs`` within groups ``key``."""
    return cs - cs.groupby(key, sort=False).shift(k).fillna(0.0)


# ---------------------------------------------------------------------------- team streams

def team_stream(res: pd.DataFrame, season_codes: dict[str, int] | None = None) -> pd.DataFrame:
    """Two rows per result (one per team), in availability order, with the team's state after
    the game: season-to-date counts, last-5 form, streak, game day and (given ``season_codes``)
    Elo after the game."""
    cols = ["game_id", "season", "game_date", "final_ts", "avail_ts"]
    home = res[cols].assign(team_id=res["home_team_id"], opp_id=res["away_team_id"],
                            pf=res["home_pts"].astype(float), pa=res["away_pts"].astype(float),
                            is_home=1)
    away = res[cols].assign(team_id=res["away_team_id"], opp_id=res["home_team_id"],
                            pf=res["away_pts"].astype(float), pa=res["home_pts"].astype(float),
                            is_home=0)
    long = pd.concat([home, away], ignore_index=True)
    long = _sorted(long, ["avail_ts", "final_ts", "game_id", "is_home"]).rename(
        columns={"avail_ts": "ts"})
    long["win"] = (long["pf"] > long["pa"]).astype(float)
    key = [long["team_id"], long["season"]]
    g = long.groupby(key, sort=False)
    n = g.cumcount().to_numpy() + 1
    long["s_games"] = n
    for c in ("win", "pf", "pa"):
        cs = g[c].cumsum()
        long[f"s_{c}"] = cs
        long[f"l5_{c}"] = _rolling_sum(cs, key, 5)
    long["l5_n"] = np.minimum(n, 5)
    # signed streak within the season
    prev = g["win"].shift(1)
    new_run = (long["win"] != prev).astype(np.int64)
    run_id = new_run.groupby(key, sort=False).cumsum()
    run_len = long.groupby([long["team_id"], long["season"], run_id], sort=False).cumcount() + 1
    long["streak"] = np.where(long["win"] > 0, run_len, -run_len)
    long["day"] = day_number(long["game_date"])
    # team scoring over its last games of any season (injury-impact denominator)
    gt = long.groupby("team_id", sort=False)
    cs_all = gt["pf"].cumsum()
    n_all = gt.cumcount().to_numpy() + 1
    long["pts_recent"] = _rolling_sum(cs_all, long["team_id"], TEAM_PTS_WINDOW) / np.minimum(
        n_all, TEAM_PTS_WINDOW)
    if season_codes is not None:
        long = _attach_elo(long, res, season_codes)
    return long


@njit(cache=True)
def _running_elo(team, season, shift, initial, w, mean):
    """Team rating after each of its games (rows grouped by team, in availability order):
    ``initial`` at a team's first game, 538 carry-over once per season boundary crossed."""
    n = team.shape[0]
    out = np.empty(n)
    max_season = np.empty(n, dtype=np.int64)
    r = initial
    ms = 0
    for i in range(n):
        if i == 0 or team[i] != team[i - 1]:
            r = initial
            ms = season[i]
        elif season[i] > ms:
            r = mean + w ** (season[i] - ms) * (r - mean)
            ms = season[i]
        r += shift[i]
        out[i] = r
        max_season[i] = ms
    return out, max_season


def _attach_elo(long: pd.DataFrame, res: pd.DataFrame,
                season_codes: dict[str, int]) -> pd.DataFrame:
    """Per team-game: the Elo shift of that game (from ``domain.elo``) and the team's running
    rating after it.  ``domain.elo`` is fed each result at its availability: a game's pre-game
    ratings use the results available before the game ended (``tip_ts`` := ``final_ts``; results
    carry no tip time and a team plays one game at a time) and it is applied at ``avail_ts``."""
    if len(res):
        games = pd.DataFrame({
            "game_id": res["game_id"], "season": res["season"], "tip_ts": res["final_ts"],
            "final_ts": res["avail_ts"], "home_team_id": res["home_team_id"],
            "away_team_id": res["away_team_id"], "home_pts": res["home_pts"],
            "away_pts": res["away_pts"]})
        elo = elo_ratings_before_games(games)
        sh = pd.DataFrame({"game_id": elo["game_id"].to_numpy(),
                           "sh_home": (elo["home_elo_post"] - elo["home_elo_pre"]).to_numpy(),
                           "sh_away": (elo["away_elo_post"] - elo["away_elo_pre"]).to_numpy()})
        long = long.merge(sh, on="game_id", how="left")
        long["elo_shift"] = np.where(long["is_home"] == 1, long["sh_home"], long["sh_away"])
        long = long.drop(columns=["sh_home", "sh_away"])
    else:
        long["elo_shift"] = np.array([], dtype=float)
    order = np.lexsort((np.arange(len(long)), long["team_id"].to_numpy()))
    sc = long["season"].map(season_codes).to_numpy(np.int64)
    r, ms = _running_elo(long["team_id"].to_numpy(np.int64)[order], sc[order],
                         long["elo_shift"].to_numpy(float)[order], INITIAL_RATING,
                         CARRYOVER_WEIGHT, CARRYOVER_MEAN)
    after = np.empty(len(long))
    season = np.empty(len(long), dtype=np.int64)
    after[order] = r
    season[order] = ms
    long["elo_after"] = after
    long["elo_season"] = season
    return long


def rating_stream(res: pd.DataFrame, box: pd.DataFrame) -> pd.DataFrame:
    """Events changing a team's season-to-date offensive/defensive rating sums.

    A game contributes, per team, ORtg = 100 * pts / possessions and DRtg = 100 * opp_pts /
    possessions, where possessions = mean of both teams' FGA - OREB + TOV + 0.44 * FTA summed
    over the box-score rows *visible so far*; without a usable box (see MIN_GAME_POSSESSIONS) a
    game falls back to 100 possessions (ORtg = points, DRtg = points allowed).  The result's
    availability opens the contribution; each later-stamped box row emits the change it causes.
    Season ratings are means over games (sums / games), by (team, season).
    """
    r = res[["game_id", "season", "home_team_id", "away_team_id", "home_pts", "away_pts",
             "avail_ts"]]
    b = box.merge(r[["game_id", "home_team_id", "away_team_id", "avail_ts"]].rename(
        columns={"avail_ts": "r_ts"}), on="game_id", how="inner")
    b = b[(b["team_id"] == b["home_team_id"]) | (b["team_id"] == b["away_team_id"])]
    comp = (_num(b["fga"]) - _num(b["oreb"]) + _num(b["tov"]) + 0.44 * _num(b["fta"]))
    is_h = (b["team_id"] == b["home_team_id"]).to_numpy()
    bev = pd.DataFrame({"game_id": b["game_id"].to_numpy(),
                        "ts": tsmax(b["snapshot_ts"], b["r_ts"]).array,
                        "dh": np.where(is_h, comp, 0.0), "da": np.where(is_h, 0.0, comp),
                        "first": 0})
    rev = pd.DataFrame({"game_id": r["game_id"].to_numpy(), "ts": r["avail_ts"].array,
                        "dh": 0.0, "da": 0.0, "first": 1})
    ev = pd.concat([rev, bev], ignore_index=True)
    ev = ev.groupby(["game_id", "ts"], sort=True, as_index=False).agg(
        dh=("dh", "sum"), da=("da", "sum"), first=("first", "max"))
    gg = ev.groupby("game_id", sort=False)
    ph, pa = gg["dh"].cumsum().to_numpy(), gg["da"].cumsum().to_numpy()
    ev = ev.merge(r.drop(columns=["avail_ts"]), on="game_id", how="left")
    poss = (ph + pa) / 2.0
    ok = (ph > 0) & (pa > 0) & (poss >= MIN_GAME_POSSESSIONS)
    hp, ap = ev["home_pts"].to_numpy(float), ev["away_pts"].to_numpy(float)
    safe = np.where(ok, poss, 100.0)
    h_ortg, h_drtg = 100.0 * hp / safe, 100.0 * ap / safe
    pb = ok.astype(float)
    vals = pd.DataFrame({"h_o": h_ortg, "h_d": h_drtg, "pb": pb})
    prev = vals.groupby(ev["game_id"].to_numpy(), sort=False).shift(1).fillna(0.0)
    d = vals - prev
    base = {"game_id": ev["game_id"].to_numpy(), "season": ev["season"].to_numpy(),
            "ts": ev["ts"].array, "d_games": ev["first"].to_numpy(np.int64),
            "d_pb": d["pb"].to_numpy()}
    home = pd.DataFrame({**base, "team_id": ev["home_team_id"].to_numpy(),
                         "d_ortg": d["h_o"].to_numpy(), "d_drtg": d["h_d"].to_numpy()})
    away = pd.DataFrame({**base, "team_id": ev["away_team_id"].to_numpy(),
                         "d_ortg": d["h_d"].to_numpy(), "d_drtg": d["h_o"].to_numpy()})
    te = _sorted(pd.concat([home, away], ignore_index=True), ["ts", "game_id", "team_id"])
    g = te.groupby([te["team_id"], te["season"]], sort=False)
    for c in ("games", "ortg", "drtg", "pb"):
        te[f"r_{c}"] = g[f"d_{c}"].cumsum()
    return te


def _num(s: pd.Series) -> np.ndarray:
    """Nullable counting stat -> float array, missing as 0."""
    return np.nan_to_num(s.astype("Float64").to_numpy(dtype=float, na_value=np.nan), nan=0.0)


def h2h_stream(res: pd.DataFrame) -> pd.DataFrame:
    """Meetings of a team pair this season: count, wins of the lower id, margin of the lower id."""
    h, a = res["home_team_id"].to_numpy(), res["away_team_id"].to_numpy()
    hp, ap = res["home_pts"].to_numpy(float), res["away_pts"].to_numpy(float)
    home_lo = h < a
    df = pd.DataFrame({
        "lo": np.minimum(h, a), "hi": np.maximum(h, a), "season": res["season"].to_numpy(),
        "ts": res["avail_ts"].array, "final_ts": res["final_ts"].array,
        "game_id": res["game_id"].to_numpy(),
        "lo_win": np.where(home_lo, hp > ap, ap > hp).astype(np.int64),
        "lo_margin": np.where(home_lo, hp - ap, ap - hp)})
    df = _sorted(df, ["ts", "final_ts", "game_id"])
    g = df.groupby(["lo", "hi", "season"], sort=False)
    df["h_games"] = g.cumcount() + 1
    df["h_lo_wins"] = g["lo_win"].cumsum()
    df["h_lo_margin"] = g["lo_margin"].cumsum()
    return df


@dataclass
class TeamStreams:
    games: pd.DataFrame
    ratings: pd.DataFrame
    h2h: pd.DataFrame
    season_codes: dict[str, int]


def build_team_streams(inp: Inputs) -> TeamStreams:
    seasons = sorted(set(inp.results["season"]) | set(inp.targets["season"]))
    codes = {s: i for i, s in enumerate(seasons)}
    return TeamStreams(team_stream(inp.results, codes), rating_stream(inp.results, inp.box),
                       h2h_stream(inp.results), codes)


def team_state(sides: pd.DataFrame, ts: TeamStreams) -> pd.DataFrame:
    """Team features (TEAM_FEATURES except injuries) for rows (team_id, season, game_date,
    cutoff_ts); aligned with ``sides``."""
    gs = ts.games
    cur = asof(sides, gs, ["team_id", "season"],
               ["s_games", "s_win", "s_pf", "s_pa", "l5_win", "l5_pf", "l5_pa", "l5_n", "streak",
                "day"])
    anyseason = asof(sides, gs, ["team_id"], ["elo_after", "elo_season", "pts_recent"])
    rat = asof(sides, ts.ratings, ["team_id", "season"], ["r_games", "r_ortg", "r_drtg", "r_pb"])

    n = cur["s_games"].fillna(0).to_numpy(np.int64)
    has = n > 0
    nn = np.where(has, n, 1)
    out = pd.DataFrame(index=pd.RangeIndex(len(sides)))
    out["games"] = n
    out["win_pct"] = np.where(has, cur["s_win"] / nn, TEAM_DEFAULTS["win_pct"])
    out["pts_for_pg"] = np.where(has, cur["s_pf"] / nn, np.nan)
    out["pts_against_pg"] = np.where(has, cur["s_pa"] / nn, np.nan)
    l5n = cur["l5_n"].fillna(1).to_numpy()
    out["last5_pts_for"] = np.where(has, cur["l5_pf"] / l5n, np.nan)
    out["last5_pts_against"] = np.where(has, cur["l5_pa"] / l5n, np.nan)
    out["last5_margin"] = np.where(has, (cur["l5_pf"] - cur["l5_pa"]) / l5n, 0.0)
    out["last5_wins"] = cur["l5_win"].fillna(0).to_numpy().astype(np.int64)
    out["streak"] = cur["streak"].fillna(0).to_numpy().astype(np.int64)
    target_day = day_number(sides["game_date"])
    gap = target_day - cur["day"].fillna(0).to_numpy(np.int64)
    out["days_rest"] = np.where(has, np.minimum(gap, REST_CAP_DAYS), TEAM_DEFAULTS["days_rest"])
    out["days_rest"] = out["days_rest"].astype(np.int64)
    out["first_game"] = ~has
    out["b2b"] = has & (gap == 1)
    rg = rat["r_games"].fillna(0).to_numpy(np.int64)
    rhas = rg > 0
    rgn = np.where(rhas, rg, 1)
    out["off_rating"] = np.where(rhas, rat["r_ortg"] / rgn, np.nan)
    out["def_rating"] = np.where(rhas, rat["r_drtg"] / rgn, np.nan)
    out["net_rating"] = np.where(rhas, (rat["r_ortg"] - rat["r_drtg"]) / rgn, 0.0)
    out["possession_based"] = np.where(rhas, rat["r_pb"] / rgn, 0.0)
    # Elo: rating after the latest available game of any season, regressed toward the mean
    # once per season boundary between that game and the target.
    tcode = sides["season"].map(ts.season_codes).to_numpy(np.int64)
    seen = anyseason["elo_after"].notna().to_numpy()
    k = np.where(seen, tcode - anyseason["elo_season"].fillna(0).to_numpy(np.int64), 0)
    k = np.maximum(k, 0)
    r = anyseason["elo_after"].to_numpy(float)
    out["elo"] = np.where(seen, CARRYOVER_MEAN + CARRYOVER_WEIGHT ** k * (r - CARRYOVER_MEAN),
                          INITIAL_RATING)
    out["pts_recent"] = anyseason["pts_recent"].fillna(DEFAULT_TEAM_PTS).to_numpy()
    return out


def h2h_state(games: pd.DataFrame, h2h: pd.DataFrame) -> pd.DataFrame:
    """Head-to-head this season from the home team's side, for rows (home_team_id,
    away_team_id, season, cutoff_ts)."""
    h, a = games["home_team_id"].to_numpy(), games["away_team_id"].to_numpy()
    left = pd.DataFrame({"lo": np.minimum(h, a), "hi": np.maximum(h, a),
                         "season": games["season"].to_numpy(),
                         "cutoff_ts": games["cutoff_ts"].array})
    m = asof(left, h2h, ["lo", "hi", "season"], ["h_games", "h_lo_wins", "h_lo_margin"])
    n = m["h_games"].fillna(0).to_numpy(np.int64)
    lo_w = m["h_lo_wins"].fillna(0).to_numpy(np.int64)
    lo_m = m["h_lo_margin"].fillna(0).to_numpy(float)
    home_lo = h < a
    return pd.DataFrame({
        "h2h_games": n,
        "h2h_home_wins": np.where(home_lo, lo_w, n - lo_w).astype(np.int64),
        "h2h_home_margin": np.where(n > 0, np.where(home_lo, lo_m, -lo_m) / np.maximum(n, 1), 0.0),
    })


def elo_prob(home_elo, away_elo) -> np.ndarray:
    return np.asarray(elo_win_prob(home_elo, away_elo), dtype=float)


# -------------------------------------------------------------------------- player stream

def player_stream(box: pd.DataFrame) -> pd.DataFrame:
    """One row per appearance (box row with minutes), in availability order, with the player's
    state after it: rolling minutes, EWM, starts, points per minute, season counts."""
    b = box[box["minutes"].notna()]
    b = pd.DataFrame({
        "player_id": b["player_id"].to_numpy(), "team_id": b["team_id"].to_numpy(),
        "game_id": b["game_id"].to_numpy(), "season": b["season"].to_numpy(),
        "game_date": b["game_date"].to_numpy(), "ts": b["avail_ts"].array,
        "minutes": b["minutes"].to_numpy(float),
        "pts": b["pts"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        "starter": b["starter"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)})
    b = _sorted(b, ["ts", "game_date", "game_id", "player_id"])
    key = b["player_id"]
    g = b.groupby(key, sort=False)
    n = g.cumcount().to_numpy() + 1
    cs = g["minutes"].cumsum()
    for k in (1, 3, 5, 10):
        b[f"m{k}"] = _rolling_sum(cs, key, k) / np.minimum(n, k)
    ewm = g["minutes"].ewm(halflife=EWM_HALFLIFE).mean()
    b["ewm"] = ewm.droplevel(0).reindex(b.index)
    pk = b["pts"].notna()
    cs_pts = b["pts"].fillna(0.0).groupby(key, sort=False).cumsum()
    cs_pmin = b["minutes"].where(pk, 0.0).groupby(key, sort=False).cumsum()
    pts_w = _rolling_sum(cs_pts, key, EXPECTED_WINDOW)
    pmin_w = _rolling_sum(cs_pmin, key, EXPECTED_WINDOW)
    b["ppm"] = np.where(pmin_w > 0, pts_w / pmin_w.where(pmin_w > 0, 1.0), np.nan)
    sk = b["starter"].notna().astype(float)
    st = (b["starter"] == 1.0).astype(float)
    sk_w = _rolling_sum(sk.groupby(key, sort=False).cumsum(), key, EXPECTED_WINDOW)
    st_w = _rolling_sum(st.groupby(key, sort=False).cumsum(), key, EXPECTED_WINDOW)
    b["starts_share"] = np.where(sk_w > 0, st_w / sk_w.where(sk_w > 0, 1.0), np.nan)
    b["day"] = day_number(b["game_date"])
    gs = b.groupby([key, b["season"]], sort=False)
    b["s_n"] = gs.cumcount() + 1
    b["s_min"] = gs["minutes"].cumsum()
    return b


def player_state(rows: pd.DataFrame, ps: pd.DataFrame) -> pd.DataFrame:
    """Player history for rows (player_id, season, cutoff_ts); aligned with ``rows``."""
    a = asof(rows, ps, ["player_id"], ["m1", "m3", "m5", "m10", "ewm", "ppm", "starts_share",
                                       "day"])
    s = asof(rows, ps, ["player_id", "season"], ["s_n", "s_min"])
    a["s_n"] = s["s_n"].fillna(0).to_numpy(np.int64)
    a["s_mean"] = np.where(a["s_n"] > 0, s["s_min"] / np.maximum(a["s_n"], 1), np.nan)
    return a


# -------------------------------------------------------------------------------- snapshots

def latest_injuries(sides: pd.DataFrame, inj: pd.DataFrame, ps: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """Latest injury row per player for rows (_side, team_id, game_date, cutoff_ts): rows of
    that team and game date with snapshot_ts <= cutoff_ts; the last one per player wins.

    With ``ps`` (the player stream), a status stamped before the player's latest appearance that
    is available at cutoff is stale -- he has played since -- and is dropped.  Only carried-over
    statuses can be stale (a transaction list such as the archive's, where returns are often not
    recorded); a report made for the game date is never older than an appearance."""
    m = sides[["_side", "team_id", "game_date", "cutoff_ts"]].merge(
        inj[["team_id", "game_date", "player_id", "status_norm", "snapshot_ts"]],
        on=["team_id", "game_date"], how="inner")
    m = m[m["snapshot_ts"] <= m["cutoff_ts"]]
    # inj is canonically sorted, so a stable sort by snapshot keeps ties deterministic
    m = m.sort_values(["_side", "player_id", "snapshot_ts"], kind="mergesort")
    m = m.drop_duplicates(["_side", "player_id"], keep="last").reset_index(drop=True)
    if ps is not None and len(m):
        seen = asof(m, ps[["player_id", "ts"]].assign(last_played=ps["ts"]), ["player_id"],
                    ["last_played"])["last_played"]
        # datetime comparison (NaT: False); not object arrays of Timestamps (1 s for 15 seasons)
        stale = (seen > m["snapshot_ts"]).to_numpy(bool)
        m = m[~stale].reset_index(drop=True)
    return m


def american_to_prob(ml: np.ndarray) -> np.ndarray:
    """Implied probability of American odds (with vig); NaN for missing or invalid (|ml| < 100)."""
    ml = np.asarray(ml, dtype=float)
    valid = np.isfinite(ml) & (np.abs(ml) >= 100.0)
    p = np.full(ml.shape, np.nan)
    p[valid] = betting.american_to_prob(ml[valid])
    return p


def latest_odds(odds: pd.DataFrame, cutoffs: pd.DataFrame) -> pd.DataFrame:
    """The latest odds row per (game, bookmaker) with snapshot_ts <= the game's cutoff_ts
    (``cutoffs``: rows game_id, cutoff_ts).  The one as-of rule for prices: features, stakes and
    the backtest's closing line all start here."""
    if odds is None:
        odds = empty_frame("odds")
    m = cutoffs[["game_id", "cutoff_ts"]].merge(odds, on="game_id", how="inner")
    m = m[m["snapshot_ts"] <= m["cutoff_ts"]]
    if len(m) > 1:  # (one row -- an API caller's prices -- is its own latest: skip the work)
        m = m.sort_values(["game_id", "bookmaker", "snapshot_ts"], kind="mergesort")
        m = m.drop_duplicates(["game_id", "bookmaker"], keep="last")
    return m.reset_index(drop=True)


def market_consensus(games: pd.DataFrame, odds: pd.DataFrame) -> pd.DataFrame:
    """Consensus of the latest row per bookmaker with snapshot_ts <= cutoff_ts, for rows
    (game_id, cutoff_ts); aligned with ``games``.  P(home) is de-vigged multiplicatively per book
    (p_home / (p_home + p_away)); the consensus is the median over books (NaN-skipping)."""
    m = latest_odds(odds, games)
    m = m.assign(p=devigged_home_prob(m["home_ml"].to_numpy(), m["away_ml"].to_numpy()))
    agg = m.groupby("game_id", sort=False).agg(
        mkt_n_books=("bookmaker", "size"), mkt_prob_home=("p", "median"),
        mkt_home_spread=("home_spread", "median"), mkt_total=("total", "median"))
    out = games[["game_id"]].merge(agg, left_on="game_id", right_index=True, how="left")
    out = out.reset_index(drop=True)
    out["mkt_n_books"] = out["mkt_n_books"].fillna(0).astype(np.int64)
    out["mkt_available"] = out["mkt_n_books"] > 0
    return out


def devigged_home_prob(home_ml, away_ml) -> np.ndarray:
    """P(home) of one book's two American prices, de-vigged multiplicatively (NaN when either
    is missing or invalid)."""
    ph, pa = american_to_prob(home_ml), american_to_prob(away_ml)
    return ph / (ph + pa)


def one_book_consensus(home_ml: float | None, away_ml: float | None,
                       home_spread: float | None, total: float | None) -> dict:
    """`market_consensus` of a game whose only odds are one bookmaker's row at or before its
    cutoff (the median over one book is that book's row), as scalars: what the API makes of a
    caller's prices without building frames (None = not given)."""
    def num(v):
        return np.nan if v is None else float(v)
    p = devigged_home_prob(np.array([num(home_ml)]), np.array([num(away_ml)]))[0]
    return {"mkt_n_books": 1, "mkt_prob_home": float(p), "mkt_home_spread": num(home_spread),
            "mkt_total": num(total), "mkt_available": True}


MOVEMENT_COLUMNS = ["mkt_open_prob_home", "mkt_open_home_spread", "mkt_open_total",
                    "mkt_move_prob_home", "mkt_move_home_spread", "mkt_move_total"]


def market_movement(games: pd.DataFrame, odds: pd.DataFrame) -> pd.DataFrame:
    """Line movement as of each game's cutoff, aligned with ``games`` (rows game_id, cutoff_ts):
    the opening consensus (each book's FIRST row with snapshot_ts <= cutoff_ts, median over books
    as in `market_consensus`) and the move to the latest consensus (each book's newest row <=
    cutoff_ts): ``mkt_move_* = latest - open``.  Only rows at or before the cutoff count, so
    rows stamped later never change it; one snapshot gives a zero move; no odds -> NaN."""
    if odds is None:
        odds = empty_frame("odds")
    m = games[["game_id", "cutoff_ts"]].merge(odds, on="game_id", how="inner")
    m = m[m["snapshot_ts"] <= m["cutoff_ts"]]
    m = m.sort_values(["game_id", "bookmaker", "snapshot_ts"], kind="mergesort")
    m = m.assign(p=devigged_home_prob(m["home_ml"].to_numpy(), m["away_ml"].to_numpy()))
    out = games[["game_id"]].reset_index(drop=True)
    ends = {}
    for end, keep in (("open", "first"), ("latest", "last")):
        e = m.drop_duplicates(["game_id", "bookmaker"], keep=keep).groupby("game_id").agg(
            p=("p", "median"), s=("home_spread", "median"), t=("total", "median"))
        ends[end] = e.reindex(out["game_id"])
    o, lt = ends["open"], ends["latest"]
    out["mkt_open_prob_home"] = o["p"].to_numpy(float)
    out["mkt_open_home_spread"] = o["s"].to_numpy(float)
    out["mkt_open_total"] = o["t"].to_numpy(float)
    out["mkt_move_prob_home"] = lt["p"].to_numpy(float) - o["p"].to_numpy(float)
    out["mkt_move_home_spread"] = lt["s"].to_numpy(float) - o["s"].to_numpy(float)
    out["mkt_move_total"] = lt["t"].to_numpy(float) - o["t"].to_numpy(float)
    return out[MOVEMENT_COLUMNS]


def injured_players(sides: pd.DataFrame, inj: pd.DataFrame, ps: pd.DataFrame,
                    team_pts: np.ndarray | None = None) -> pd.DataFrame:
    """Players ruled out (latest status Out or Doubtful) for rows (_side, team_id, game_date,
    cutoff_ts), with their expected minutes (mean over the last EXPECTED_WINDOW appearances
    available at cutoff; 0 without any) and expected points (expected minutes x points per minute
    over the same appearances, i.e. the minutes-weighted points per minute; when unknown the
    team's average 1/240 of its points per game).  ``team_pts`` (aligned with ``sides``) is the
    team's recent points per game."""
    lat = latest_injuries(sides, inj, ps)
    out = lat[lat["status_norm"].isin(OUT_STATUSES)].reset_index(drop=True)
    h = asof(out, ps, ["player_id"], ["m10", "ppm"])
    out["exp_min"] = h["m10"].fillna(0.0).to_numpy()
    if team_pts is not None:
        side_pts = pd.Series(team_pts, index=sides["_side"].to_numpy())
        fallback = side_pts.reindex(out["_side"].to_numpy()).to_numpy() / TEAM_MINUTES
        ppm = np.where(h["ppm"].isna(), fallback, h["ppm"].to_numpy(float))
        out["exp_pts"] = out["exp_min"].to_numpy() * ppm
    return out
