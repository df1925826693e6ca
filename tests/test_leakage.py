"""Property tests of the as-of invariant of the feature layer.

A random small league (two seasons, results published with lags, box scores, injury reports
and odds with many snapshot times) is featurized for a few target games at random cutoffs.  Then
every row stamped after a threshold T (one of the cutoffs) is perturbed, deleted or added --
later results with random scores (including the target games' own results), late box-score rows
even for old games, later injury updates, odds and roster snapshots -- and every non-label column of every target
with cutoff <= T must be unchanged (NaN-equal, exactly).  Shuffling input rows changes nothing.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_assets.features import (
    FEATURE_COLUMNS, ID_COLUMNS, LABEL_COLUMNS, MARKET_COLUMNS, build_game_features,
    build_minutes_features,
)
from tipoff_core.schemas import conform
from tipoff_core.timeutil import GAME_DURATION, local_ts, season_of

H = pd.Timedelta(hours=1)
STATUSES = ["Out", "Doubtful", "Questionable", "Probable", "Available"]
SEASON_STARTS = [dt.date(2021, 1, 4), dt.date(2021, 11, 1)]  # 2020-21 and 2021-22
QCOLS = [f"{s}_{q}" for s in ("home", "away") for q in ("q1", "q2", "q3", "q4", "ot")]
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------- generation

def _result_row(gid, day, season, h, a, hp, ap, final, snap):
    row = {"game_id": gid, "season": season, "game_date": day, "home_team_id": h,
           "away_team_id": a, "home_pts": hp, "away_pts": ap, "overtime_periods": 0,
           "final_ts": final, "snapshot_ts": snap}
    row.update({c: pd.NA for c in QCOLS})
    return row


def _box_row(rng, gid, day, team, pid, snap):
    m = float(rng.integers(0, 45))
    return {"game_id": gid, "game_date": day, "team_id": team, "player_id": pid,
            "player_name": f"p{pid}", "minutes": m if rng.random() > 0.05 else np.nan,
            "pts": int(rng.integers(0, 40)) if rng.random() > 0.1 else pd.NA,
            "fga": int(rng.integers(20, 60)), "fta": int(rng.integers(0, 15)),
            "oreb": int(rng.integers(0, 8)), "tov": int(rng.integers(0, 10)),
            "starter": [True, False, pd.NA][int(rng.integers(0, 3))],
            "plus_minus": float(rng.integers(-20, 21)) if rng.random() > 0.05 else np.nan,
            **{s: int(rng.integers(0, 8)) for s in ("fgm", "fg3m", "ftm", "dreb", "ast", "stl",
                                                   "blk", "pf")},
            "snapshot_ts": snap}


def _odds_row(rng, gid, book, snap):
    def ml():
        v = float(rng.integers(100, 400))
        return v if rng.random() < 0.5 else -v
    row = {"game_id": gid, "bookmaker": book, "home_ml": ml(), "away_ml": ml(),
           "home_spread": float(rng.integers(-24, 25)) / 2, "total": float(rng.integers(400, 480)) / 2,
           "snapshot_ts": snap}
    juice = rng.integers(-125, -99, 4).astype(float)  # spread and total prices, -125..-100
    return {**row, **dict(zip(("home_spread_price", "away_spread_price", "over_price",
                               "under_price"), juice))}


def make_league(seed: int, n_teams: int, n_games: int):
    rng = np.random.default_rng(seed)
    teams = list(range(1, n_teams + 1))
    sched, res, box, inj, odds = [], [], [], [], []
    played_until = int(rng.integers(n_games // 2, n_games + 1))
    for i in range(n_games):
        season_idx = 0 if i < n_games // 2 else 1
        day = SEASON_STARTS[season_idx] + dt.timedelta(days=int(rng.integers(0, 12)))
        d = day.isoformat()
        h, a = (int(x) for x in rng.choice(teams, 2, replace=False))
        tip = local_ts(d, dt.time(19, 30)) + pd.Timedelta(minutes=30 * int(rng.integers(-6, 6)))
        gid = f"g{i:03d}"
        sched.append({"game_id": gid, "season": season_of(d), "game_date": d, "tip_ts": tip,
                      "home_team_id": h, "away_team_id": a, "home_team": f"T{h}",
                      "away_team": f"T{a}", "game_type": "regular",
                      "neutral_site": bool(rng.random() < 0.05), "home_games_left": pd.NA,
                      "away_games_left": pd.NA, "snapshot_ts": tip - pd.Timedelta(days=30)})
        for team in (h, a):
            for pid in rng.choice([team * 10 + j for j in range(4)], 2, replace=False):
                inj.append({"game_date": d, "team_id": team, "team": f"T{team}",
                            "player_id": int(pid), "player_name": f"p{pid}",
                            "status": STATUSES[int(rng.integers(0, 5))], "reason": "x",
                            "snapshot_ts": tip + H * float(rng.uniform(-30, 3))})
        for book in ("b1", "b2", "b3")[: int(rng.integers(0, 4))]:
            for _ in range(int(rng.integers(1, 4))):
                odds.append(_odds_row(rng, gid, book, tip + H * float(rng.uniform(-40, 2))))
        if i >= played_until:
            continue
        final = tip + GAME_DURATION + pd.Timedelta(minutes=int(rng.integers(-20, 40)))
        lag = [pd.Timedelta(0), pd.Timedelta(minutes=10), 20 * H][int(rng.integers(0, 3))]
        hp, ap = int(rng.integers(80, 131)), int(rng.integers(80, 131))
        hp += hp == ap
        res.append(_result_row(gid, d, season_of(d), h, a, hp, ap, final, final + lag))
        for team in (h, a):
            if rng.random() < 0.15:
                continue
            for pid in rng.choice([team * 10 + j for j in range(4)], 3, replace=False):
                blag = [pd.Timedelta(0), pd.Timedelta(minutes=5), 30 * H][int(rng.integers(0, 3))]
                box.append(_box_row(rng, gid, d, team, int(pid), final + blag))
    # conform() makes the frames exactly what sources hand over
    sch = conform(pd.DataFrame(sched), "schedule", "t", "s")
    tables = {"results": conform(pd.DataFrame(res), "results", "t", "r") if res else None,
              "box_scores": conform(pd.DataFrame(box), "box_scores", "t", "b") if box else None,
              "injuries": conform(pd.DataFrame(inj), "injuries", "t", "i"),
              "odds": conform(pd.DataFrame(odds), "odds", "t", "o") if odds else None}
    lo, hi = sch["tip_ts"].min() - 48 * H, sch["tip_ts"].max()
    ros = _roster_rows(rng, teams, lo, hi, int(rng.integers(0, 2 * n_teams)))
    tables["rosters"] = (conform(pd.DataFrame(ros), "rosters", "t", "ro").drop_duplicates(
        ["team_id", "player_id", "snapshot_ts"]) if ros else None)
    return sch, tables


def pick_targets(rng, sch: pd.DataFrame, results: pd.DataFrame | None):
    k = int(rng.integers(1, min(4, len(sch)) + 1))
    t = sch.iloc[rng.choice(len(sch), k, replace=False)].reset_index(drop=True)
    lo, hi = sch["tip_ts"].min() - 24 * H, sch["tip_ts"].max()
    cut = []
    for tip in t["tip_ts"]:
        if rng.random() < 0.4:
            cut.append(tip)  # gold
        else:
            as_of = lo + (hi - lo) * float(rng.random())
            cut.append(min(tip, as_of))  # live
    t["cutoff_ts"] = pd.Series(cut, dtype="datetime64[us, UTC]")
    return t


def _roster_rows(rng, teams, lo, hi, n):
    """``n`` roster snapshots at random times in [lo, hi]: 4 regulars, one who never plays
    (j = 4) and sometimes a player of another team (a trade the box scores have not seen)."""
    rows = []
    for _ in range(n):
        team = int(teams[int(rng.integers(0, len(teams)))])
        snap = lo + (hi - lo) * float(rng.random())
        pids = [team * 10 + j for j in range(5)]
        if rng.random() < 0.3:
            other = int(teams[int(rng.integers(0, len(teams)))])
            pids.append(other * 10 + int(rng.integers(0, 4)))
        rows += [{"team_id": team, "team": f"T{team}", "player_id": p, "player_name": f"p{p}",
                  "position": "F", "snapshot_ts": snap} for p in pids]
    return rows


def build(t, tables):
    args = (tables["results"], tables["box_scores"], tables["injuries"], tables["odds"])
    return (build_game_features(t, *args),
            build_minutes_features(t, *args, rosters=tables.get("rosters")))


# ------------------------------------------------------------------------------ perturbation

def perturb_after(rng, T: pd.Timestamp, sch: pd.DataFrame, tables: dict) -> dict:
    """Change, drop and add rows stamped after T (nothing at or before T is touched)."""
    out = {}
    res = tables["results"]
    finals = {} if res is None else dict(zip(res["game_id"], res["final_ts"]))
    if res is not None:
        late = ((res["final_ts"] > T) | (res["snapshot_ts"] > T)).to_numpy()
        res = res.copy()
        n = int(late.sum())
        res.loc[late, "home_pts"] = rng.integers(60, 160, n)
        res.loc[late, "away_pts"] = rng.integers(60, 160, n)
        drop = late & (rng.random(len(res)) < 0.3)
        res = res[~drop]
    new = []
    have = set() if res is None else set(res["game_id"])
    for _, g in sch.iterrows():  # results for unplayed games (target games included)
        if g["game_id"] in have or g["game_id"] in finals or rng.random() < 0.3:
            continue
        final = max(g["tip_ts"] + GAME_DURATION, T + pd.Timedelta(minutes=int(rng.integers(1, 300))))
        new.append(_result_row(g["game_id"], g["game_date"], g["season"], g["home_team_id"],
                               g["away_team_id"], int(rng.integers(70, 150)),
                               int(rng.integers(70, 150)) + 151, final, final))
    for i in range(int(rng.integers(0, 4))):  # brand-new games, some final before T but published after
        day = SEASON_STARTS[int(rng.integers(0, 2))] + dt.timedelta(days=int(rng.integers(0, 12)))
        d = day.isoformat()
        h, a = (int(x) for x in rng.choice(sorted(set(sch["home_team_id"]) | set(sch["away_team_id"])),
                                          2, replace=False))
        tip = local_ts(d, dt.time(19, 30))
        final = tip + GAME_DURATION
        snap = max(final, T) + pd.Timedelta(minutes=int(rng.integers(1, 600)))
        new.append(_result_row(f"new{i}", d, season_of(d), h, a, int(rng.integers(70, 150)),
                               int(rng.integers(70, 150)) + 151, final, snap))
        finals[f"new{i}"] = final
    if new:
        add = conform(pd.DataFrame(new), "results", "t", "r")
        res = add if res is None else pd.concat([res, add], ignore_index=True)
    out["results"] = res
    for _, r in (pd.DataFrame(new).iterrows() if new else []):
        finals.setdefault(r["game_id"], r["final_ts"])

    box = tables["box_scores"]
    if box is not None:
        gfin = box["game_id"].map(finals)
        late = ((box["snapshot_ts"] > T) | gfin.isna() | (gfin > T)).to_numpy()
        box = box.copy()
        n = int(late.sum())
        box.loc[late, "minutes"] = rng.integers(0, 48, n).astype(float)
        box.loc[late, "fga"] = rng.integers(0, 120, n)
        box.loc[late, "pts"] = rng.integers(0, 60, n)
        box = box[~(late & (rng.random(len(box)) < 0.3))]
    add = []
    keys = set() if box is None else set(zip(box["game_id"], box["player_id"]))
    all_games = list(sch["game_id"]) + [g for g in finals if g.startswith("new")]
    teams_of = {**{g: (h, a) for g, h, a in zip(sch["game_id"], sch["home_team_id"],
                                                sch["away_team_id"])},
                **{r["game_id"]: (r["home_team_id"], r["away_team_id"]) for r in new}}
    dates = {**dict(zip(sch["game_id"], sch["game_date"])),
             **{r["game_id"]: r["game_date"] for r in new}}
    for _ in range(int(rng.integers(0, 12))):  # late rows, also for old (visible) games
        gid = all_games[int(rng.integers(0, len(all_games)))]
        team = teams_of[gid][int(rng.integers(0, 2))]
        pid = team * 10 + int(rng.integers(0, 6))
        if (gid, pid) in keys:
            continue
        keys.add((gid, pid))
        add.append(_box_row(rng, gid, dates[gid], team, pid, T + H * float(rng.uniform(0.01, 50))))
    if add:
        a = conform(pd.DataFrame(add), "box_scores", "t", "b")
        box = a if box is None else pd.concat([box, a], ignore_index=True)
    out["box_scores"] = box

    inj = tables["injuries"].copy()
    late = (inj["snapshot_ts"] > T).to_numpy()
    inj.loc[late, "status"] = rng.choice(STATUSES, int(late.sum()))
    inj = inj[~(late & (rng.random(len(inj)) < 0.3))]
    add = []
    for _, g in sch.sample(frac=1.0, random_state=int(rng.integers(0, 1000))).head(6).iterrows():
        for team in (g["home_team_id"], g["away_team_id"]):
            pid = team * 10 + int(rng.integers(0, 5))
            add.append({"game_date": g["game_date"], "team_id": team, "team": f"T{team}",
                        "player_id": pid, "player_name": f"p{pid}",
                        "status": STATUSES[int(rng.integers(0, 5))], "reason": "late",
                        "snapshot_ts": T + H * float(rng.uniform(0.001, 30))})
    out["injuries"] = pd.concat([inj, conform(pd.DataFrame(add), "injuries", "t", "i")],
                                ignore_index=True) if add else inj

    od = tables["odds"]
    if od is not None:
        od = od.copy()
        late = (od["snapshot_ts"] > T).to_numpy()
        od.loc[late, "home_ml"] = -999.0
        od.loc[late, "home_spread"] = 30.0
        od.loc[late, ["home_spread_price", "over_price"]] = 900.0
        od = od[~(late & (rng.random(len(od)) < 0.3))]
    add = [_odds_row(rng, gid, f"b{int(rng.integers(1, 6))}", T + H * float(rng.uniform(0.001, 10)))
           for gid in sch["game_id"].sample(frac=1.0, random_state=int(rng.integers(0, 1000))).head(5)]
    a = conform(pd.DataFrame(add), "odds", "t", "o").drop_duplicates(
        ["game_id", "bookmaker", "snapshot_ts"])
    out["odds"] = a if od is None else pd.concat([od, a], ignore_index=True)

    ros = tables.get("rosters")
    if ros is not None:
        ros = ros[~((ros["snapshot_ts"] > T).to_numpy() & (rng.random(len(ros)) < 0.5))]
    teams = sorted(set(sch["home_team_id"]) | set(sch["away_team_id"]))
    add = _roster_rows(rng, teams, T + H * 0.001, T + 30 * H, int(rng.integers(0, 4)))
    if add:
        a = conform(pd.DataFrame(add), "rosters", "t", "ro")
        ros = a if ros is None else pd.concat([ros, a], ignore_index=True)
        ros = ros.drop_duplicates(["team_id", "player_id", "snapshot_ts"])
    out["rosters"] = ros
    return out


def assert_same(a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> None:
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True),
                                  check_exact=True)


GAME_COLS = ID_COLUMNS["game"] + FEATURE_COLUMNS["game"] + MARKET_COLUMNS["game"]
MIN_COLS = ID_COLUMNS["minutes"] + FEATURE_COLUMNS["minutes"] + MARKET_COLUMNS["minutes"]
league = st.tuples(st.integers(0, 2**32 - 1), st.integers(3, 4), st.integers(6, 24))


# ------------------------------------------------------------------------------------ tests

@SETTINGS
@given(league=league, seed2=st.integers(0, 2**32 - 1))
def test_rows_after_cutoff_never_change_features(league, seed2):
    sch, tables = make_league(*league)
    rng = np.random.default_rng(seed2)
    targets = pick_targets(rng, sch, tables["results"])
    g0, m0 = build(targets, tables)
    T = targets["cutoff_ts"].iloc[int(rng.integers(0, len(targets)))]
    changed = perturb_after(rng, T, sch, tables)
    g1, m1 = build(targets, changed)

    keep = (targets["cutoff_ts"] <= T).to_numpy()
    assert keep.any()
    assert_same(g0[keep], g1[keep], GAME_COLS)
    # the candidate players of those targets, and all their columns, are the same too
    assert_same(m0[m0["cutoff_ts"].le(T).to_numpy()], m1[m1["cutoff_ts"].le(T).to_numpy()],
                MIN_COLS)
    # labels are the only columns allowed to see the future
    assert set(LABEL_COLUMNS["game"]).isdisjoint(GAME_COLS)


@settings(SETTINGS, max_examples=8)
@given(league=league, seed2=st.integers(0, 2**32 - 1))
def test_input_row_order_never_changes_features(league, seed2):
    sch, tables = make_league(*league)
    rng = np.random.default_rng(seed2)
    targets = pick_targets(rng, sch, tables["results"])
    g0, m0 = build(targets, tables)
    shuffled = {k: (None if v is None else v.sample(frac=1.0, random_state=int(rng.integers(0, 10**6)))
                    .reset_index(drop=True)) for k, v in tables.items()}
    # permuting targets permutes the game rows; player rows come sorted by game, team, player
    perm = rng.permutation(len(targets))
    g1, m1 = build(targets.iloc[perm].reset_index(drop=True), shuffled)
    pd.testing.assert_frame_equal(g0.iloc[perm].reset_index(drop=True), g1, check_exact=True)
    pd.testing.assert_frame_equal(m0, m1, check_exact=True)


def test_gold_cutoff_never_sees_own_or_in_progress_games():
    """Deterministic spot check: a target's features equal those computed from only the rows
    an observer at the cutoff could have had (rows filtered by hand)."""
    sch, tables = make_league(7, 4, 24)
    rng = np.random.default_rng(3)
    targets = pick_targets(rng, sch, tables["results"])
    # an early snapshot of every roster, so roster-only candidates (j = 4) take part
    early = _roster_rows(rng, [1, 2, 3, 4], sch["tip_ts"].min() - 72 * H,
                         sch["tip_ts"].min() - 71 * H, 12)
    tables["rosters"] = pd.concat([tables["rosters"], conform(pd.DataFrame(early), "rosters", "t",
                                                             "ro")], ignore_index=True
                                  ).drop_duplicates(["team_id", "player_id", "snapshot_ts"])
    full_m = build(targets, tables)[1]
    assert (full_m["player_id"] % 10 == 4).any() and full_m["av_on_roster"].notna().all()
    for i in range(len(targets)):
        t = targets.iloc[[i]].reset_index(drop=True)
        c = t["cutoff_ts"].iloc[0]
        full_g, full_m = build(t, tables)
        res = tables["results"]
        vis = res[(res["final_ts"] <= c) & (res["snapshot_ts"] <= c)]
        # a published box row of a game that is over is knowable even if the result row is not
        over = set(res.loc[res["final_ts"] <= c, "game_id"])
        box = tables["box_scores"]
        box = box[(box["snapshot_ts"] <= c) & box["game_id"].isin(over)]
        inj = tables["injuries"][tables["injuries"]["snapshot_ts"] <= c]
        od = tables["odds"]
        od = None if od is None else od[od["snapshot_ts"] <= c]
        ros = tables["rosters"][tables["rosters"]["snapshot_ts"] <= c]
        seen = {"results": vis, "box_scores": box, "injuries": inj, "odds": od, "rosters": ros}
        g, m = build(t, seen)
        assert_same(full_g, g, GAME_COLS)
        assert_same(full_m, m, MIN_COLS)


@SETTINGS
@given(league=league, seed2=st.integers(0, 2**32 - 1))
def test_line_movement_sees_only_rows_at_or_before_the_cutoff(league, seed2):
    # open = each book's first row <= cutoff, latest = its newest <= cutoff: rows stamped after
    # a cutoff never change the movement of that target (the switch-off feature, asof)
    from pipeline_assets.features.asof import MOVEMENT_COLUMNS, market_movement
    sch, tables = make_league(*league)
    rng = np.random.default_rng(seed2)
    targets = pick_targets(rng, sch, tables["results"])
    T = targets["cutoff_ts"].iloc[int(rng.integers(0, len(targets)))]
    changed = perturb_after(rng, T, sch, tables)
    keep = (targets["cutoff_ts"] <= T).to_numpy()
    a = market_movement(targets, tables["odds"])[keep]
    b = market_movement(targets, changed["odds"])[keep]
    assert_same(a, b, MOVEMENT_COLUMNS)
    one = market_movement(targets, tables["odds"].drop_duplicates(["game_id", "bookmaker"]))
    assert (one["mkt_move_prob_home"].dropna() == 0).all()  # one snapshot per book: no move
