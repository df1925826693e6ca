"""Feature layer: hand-computed expectations on a tiny league (4 teams, two seasons)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipeline_assets.features import (
    FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION, ID_COLUMNS, LABEL_COLUMNS, MARKET_COLUMNS,
    FeatureSchemaError, build_game_features, build_minutes_features, columns, diff_features,
    validate_features,
)
from pipeline_assets.features.schema import TEAM_DEFAULTS
from tipoff_core.schemas import ODDS, conform
from tipoff_core.timeutil import local_ts

A, B, C, D = 1, 2, 3, 4
S1, S2 = "2020-21", "2021-22"
T = dt.time


# ------------------------------------------------------------------------- table builders

def et(day: str, hh: int, mm: int = 0) -> pd.Timestamp:
    return local_ts(day, T(hh, mm))


def game_row(gid, season, day, home, away, tip=(19, 30)):
    tip_ts = et(day, *tip)
    return {"game_id": gid, "season": season, "game_date": day, "tip_ts": tip_ts,
            "home_team_id": home, "away_team_id": away, "home_team": f"T{home}",
            "away_team": f"T{away}", "game_type": "regular", "neutral_site": False,
            "home_games_left": pd.NA, "away_games_left": pd.NA,
            "snapshot_ts": tip_ts - pd.Timedelta(days=20)}


def schedule(rows) -> pd.DataFrame:
    return conform(pd.DataFrame(rows), "schedule", "test", "schedule")


def results_of(games: list[dict], scores: dict[str, tuple[int, int]],
               final_after=pd.Timedelta(hours=2, minutes=30)) -> pd.DataFrame:
    rows = []
    for g in games:
        if g["game_id"] not in scores:
            continue
        hp, ap = scores[g["game_id"]]
        final = g["tip_ts"] + final_after
        row = {k: g[k] for k in ("game_id", "season", "game_date", "home_team_id", "away_team_id")}
        row.update(home_pts=hp, away_pts=ap, final_ts=final, snapshot_ts=final)
        for side in ("home", "away"):
            for q in ("q1", "q2", "q3", "q4", "ot"):
                row[f"{side}_{q}"] = pd.NA
        row["overtime_periods"] = 0
        rows.append(row)
    return conform(pd.DataFrame(rows), "results", "test", "results")


def box_rows(rows: list[dict]) -> pd.DataFrame:
    base = {"player_name": "x", "pts": pd.NA, "fga": pd.NA, "fta": pd.NA, "oreb": pd.NA,
            "tov": pd.NA, "starter": pd.NA, "plus_minus": np.nan,
            **{s: pd.NA for s in ("fgm", "fg3m", "ftm", "dreb", "ast", "stl", "blk", "pf")}}
    return conform(pd.DataFrame([{**base, **r} for r in rows]), "box_scores", "test", "box")


def injury_rows(rows: list[dict]) -> pd.DataFrame:
    base = {"team": "t", "player_name": "x", "reason": "Injury"}
    return conform(pd.DataFrame([{**base, **r} for r in rows]), "injuries", "test", "inj")


def odds_rows(rows: list[dict]) -> pd.DataFrame:
    """Odds rows; a column a row leaves out (the spread / total prices) is NaN: not quoted."""
    return conform(pd.DataFrame(rows).reindex(columns=list(ODDS)), "odds", "test", "odds")


def targets_of(sched: pd.DataFrame, cutoff=None) -> pd.DataFrame:
    t = sched.copy()
    t["cutoff_ts"] = t["tip_ts"] if cutoff is None else cutoff
    return t


def live_targets(sched: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    t = sched.copy()
    t["cutoff_ts"] = t["tip_ts"].where(t["tip_ts"] <= as_of, as_of)  # min(as_of, tip)
    return t


# ----------------------------------------------------------------------------- the league
#
# Season 1 (2020-21): A's games g1..g7, then target T1 = A vs B on 2020-12-31.
#   g1 12-22 A-B 100-90   g2 12-23 B-C 95-105   g3 12-24 C-A 110-100   g4 12-26 A-C 120-100
#   g5 12-27 A-B  99-101  g6 12-28 B-A 90-110   g7 12-30 A-C 105-100
# Season 2 (2021-22): g8 2021-10-19 A-C 19:30 ET; targets T2 = A-D that same evening (23:00 ET,
#   a contrived double-header to test same-day visibility) and T3 = B-D on 10-20.

G = [
    game_row("g1", S1, "2020-12-22", A, B), game_row("g2", S1, "2020-12-23", B, C),
    game_row("g3", S1, "2020-12-24", C, A), game_row("g4", S1, "2020-12-26", A, C),
    game_row("g5", S1, "2020-12-27", A, B), game_row("g6", S1, "2020-12-28", B, A),
    game_row("g7", S1, "2020-12-30", A, C),
    game_row("T1", S1, "2020-12-31", A, B),
    game_row("g8", S2, "2021-10-19", A, C),
    game_row("T2", S2, "2021-10-19", A, D, tip=(23, 0)),
    game_row("T3", S2, "2021-10-20", B, D),
]
SCORES = {"g1": (100, 90), "g2": (95, 105), "g3": (110, 100), "g4": (120, 100),
          "g5": (99, 101), "g6": (90, 110), "g7": (105, 100), "g8": (112, 104),
          "T1": (108, 101)}  # T1's own result: a label only
GAMES = {g["game_id"]: g for g in G}
SCHED = schedule(G)
RESULTS = results_of(G, SCORES)

# Player 11 (A's starter) played g3..g7; player 12 (A's bench) g6, g7; player 21 (B) g5, g6.
P11_MIN = {"g3": 28, "g4": 32, "g5": 30, "g6": 34, "g7": 38}
P11_PTS = {"g3": 20, "g4": 18, "g5": 22, "g6": 25, "g7": 30}
P11_START = {"g3": True, "g4": False, "g5": True, "g6": pd.NA, "g7": True}


def _box():
    rows = []
    for gid, m in P11_MIN.items():
        rows.append({"game_id": gid, "game_date": GAMES[gid]["game_date"], "team_id": A,
                     "player_id": 11, "minutes": m, "pts": P11_PTS[gid],
                     "starter": P11_START[gid], "snapshot_ts": RESULTS.set_index("game_id")
                     .loc[gid, "final_ts"] + pd.Timedelta(minutes=10)})
    for gid, m, p in (("g6", 10, 6), ("g7", 20, 4)):
        rows.append({"game_id": gid, "game_date": GAMES[gid]["game_date"], "team_id": A,
                     "player_id": 12, "minutes": m, "pts": p, "starter": False,
                     "snapshot_ts": GAMES[gid]["tip_ts"] + pd.Timedelta(hours=3)})
    for gid, m in (("g5", 36), ("g6", 30)):
        rows.append({"game_id": gid, "game_date": GAMES[gid]["game_date"], "team_id": B,
                     "player_id": 21, "minutes": m, "pts": 20, "starter": True,
                     "snapshot_ts": GAMES[gid]["tip_ts"] + pd.Timedelta(hours=3)})
    # T1's own box score (label source for minutes; never a feature)
    rows.append({"game_id": "T1", "game_date": "2020-12-31", "team_id": A, "player_id": 12,
                 "minutes": 25, "pts": 9, "starter": True,
                 "snapshot_ts": GAMES["T1"]["tip_ts"] + pd.Timedelta(hours=3)})
    return box_rows(rows)


BOX = _box()
INJ = injury_rows([
    {"game_date": "2020-12-31", "team_id": A, "player_id": 11, "status": "Questionable",
     "snapshot_ts": et("2020-12-31", 10)},
    {"game_date": "2020-12-31", "team_id": A, "player_id": 11, "status": "Out",
     "snapshot_ts": et("2020-12-31", 17)},
    {"game_date": "2020-12-31", "team_id": A, "player_id": 11, "status": "Available",
     "snapshot_ts": et("2020-12-31", 19, 45)},  # after tip: never seen by T1
    {"game_date": "2020-12-31", "team_id": A, "player_id": 12, "status": "Probable",
     "snapshot_ts": et("2020-12-31", 17)},
    {"game_date": "2020-12-30", "team_id": B, "player_id": 21, "status": "Out",
     "snapshot_ts": et("2020-12-30", 17)},  # other date: ignored
])
ODDS = odds_rows([
    {"game_id": "T1", "bookmaker": "b1", "home_ml": -150.0, "away_ml": 130.0,
     "home_spread": -3.5, "total": 220.0, "snapshot_ts": et("2020-12-31", 10)},
    {"game_id": "T1", "bookmaker": "b1", "home_ml": -200.0, "away_ml": 170.0,
     "home_spread": -5.0, "total": 221.0, "snapshot_ts": et("2020-12-31", 18)},
    {"game_id": "T1", "bookmaker": "b2", "home_ml": -180.0, "away_ml": 160.0,
     "home_spread": -4.5, "total": 219.5, "snapshot_ts": et("2020-12-31", 12)},
    {"game_id": "T1", "bookmaker": "b3", "home_ml": -300.0, "away_ml": 250.0,
     "home_spread": -7.0, "total": 215.0, "snapshot_ts": et("2020-12-31", 20)},  # live price
])
TABLES = (RESULTS, BOX, INJ, ODDS)


def gold(ids=("T1", "T2", "T3"), tables=TABLES):
    sched = SCHED[SCHED["game_id"].isin(ids)].reset_index(drop=True)
    return build_game_features(targets_of(sched), *tables)


def row(df, gid):
    r = df[df["game_id"] == gid]
    assert len(r) == 1
    return r.iloc[0]


# ------------------------------------------------------------------------------ game features

def test_output_contract_and_order():
    sched = SCHED[SCHED["game_id"].isin(["T3", "T1", "T2"])]
    sched = sched.set_index("game_id").loc[["T3", "T1", "T2"]].reset_index()
    out = build_game_features(targets_of(sched), *TABLES)
    assert list(out["game_id"]) == ["T3", "T1", "T2"]
    assert list(out.columns) == [c for c, _ in columns("game")]
    assert list(out.columns) == (ID_COLUMNS["game"] + FEATURE_COLUMNS["game"]
                                 + MARKET_COLUMNS["game"] + LABEL_COLUMNS["game"])
    assert all(c.startswith("mkt_") for c in MARKET_COLUMNS["game"])
    assert not any(c.startswith("mkt_") for c in FEATURE_COLUMNS["game"])
    assert FEATURE_SCHEMA_VERSION
    validate_features(out, "game")


def test_form_rest_winpct_h2h_hand_computed():
    r = row(gold(), "T1")
    # A: W 100-90, L 100-110, W 120-100, L 99-101, W 110-90, W 105-100
    assert r["home_games"] == 6
    assert r["home_win_pct"] == pytest.approx(4 / 6)
    assert r["home_pts_for_pg"] == pytest.approx(634 / 6)
    assert r["home_pts_against_pg"] == pytest.approx(591 / 6)
    assert r["home_last5_pts_for"] == pytest.approx(534 / 5)
    assert r["home_last5_pts_against"] == pytest.approx(501 / 5)
    assert r["home_last5_margin"] == pytest.approx(33 / 5)
    assert r["home_last5_wins"] == 3
    assert r["home_streak"] == 2
    assert r["home_days_rest"] == 1 and r["home_b2b"] and not r["home_first_game"]
    # B: L 90-100, L 95-105, W 101-99, L 90-110
    assert r["away_games"] == 4 and r["away_win_pct"] == pytest.approx(0.25)
    assert r["away_pts_for_pg"] == pytest.approx(94.0)
    assert r["away_last5_margin"] == pytest.approx(-9.5)
    assert r["away_last5_wins"] == 1 and r["away_streak"] == -1
    assert r["away_days_rest"] == 3 and not r["away_b2b"]
    assert r["diff_days_rest"] == -2
    assert r["diff_win_pct"] == pytest.approx(4 / 6 - 0.25)
    # head to head this season, from A's side: +10 (g1), -2 (g5), +20 (g6, A away)
    assert r["h2h_games"] == 3 and r["h2h_home_wins"] == 2
    assert r["h2h_home_margin"] == pytest.approx(28 / 3)
    # no box score with both teams -> point-based ratings (100 possessions assumed)
    assert r["home_possession_based"] == 0.0
    assert r["home_off_rating"] == pytest.approx(634 / 6)
    assert r["home_net_rating"] == pytest.approx(43 / 6)
    # labels come from T1's own result
    assert r["label_home_win"] == True  # noqa: E712
    assert r["label_margin"] == 7 and r["label_total"] == 209


def test_first_game_of_season_defaults_and_same_day_visibility():
    out = gold()
    t3 = row(out, "T3")  # B and D: no game yet in 2021-22
    for side in ("home", "away"):
        for name, default in TEAM_DEFAULTS.items():
            v = t3[f"{side}_{name}"]
            assert (np.isnan(default) and np.isnan(v)) or v == default, (side, name, v)
    assert t3["h2h_games"] == 0 and t3["h2h_home_margin"] == 0.0

    # T2 (A-D, 23:00 ET) and g8 (A-C, 19:30 ET, final 22:00 ET) on the same day
    sched = SCHED[SCHED["game_id"] == "T2"].reset_index(drop=True)
    final_g8 = RESULTS.set_index("game_id").loc["g8", "final_ts"]
    seen = build_game_features(targets_of(sched), *TABLES).iloc[0]  # gold: cutoff 23:00
    assert seen["home_games"] == 1 and seen["home_win_pct"] == 1.0
    assert seen["home_days_rest"] == 0 and not seen["home_first_game"]
    exact = build_game_features(targets_of(sched, final_g8), *TABLES).iloc[0]
    assert exact["home_games"] == 1  # final_ts == cutoff is visible
    in_progress = build_game_features(
        targets_of(sched, final_g8 - pd.Timedelta(seconds=1)), *TABLES).iloc[0]
    assert in_progress["home_games"] == 0 and in_progress["home_first_game"]
    assert in_progress["home_days_rest"] == TEAM_DEFAULTS["days_rest"]
    assert np.isnan(in_progress["home_pts_for_pg"])


# ----------------------------------------------------------------------------------- Elo

def reference_elo(games, target_season):
    """A tiny independent FiveThirtyEight Elo (K=20, home 100, MOV multiplier, 0.75 -> 1505)."""
    ratings: dict[int, float] = {}
    season = None
    for s, h, a, hp, ap in games:
        if season is not None and s != season:
            ratings = {t: 0.75 * r + 0.25 * 1505 for t, r in ratings.items()}
        season = s
        rh, ra = ratings.get(h, 1500.0), ratings.get(a, 1500.0)
        exp = 1 / (1 + 10 ** (-(rh + 100 - ra) / 400))
        if hp > ap:
            mov, diff, act = hp - ap, rh + 100 - ra, 1.0
        else:
            mov, diff, act = ap - hp, ra - (rh + 100), 0.0
        shift = 20 * (mov + 3) ** 0.8 / (7.5 + 0.006 * diff) * (act - exp)
        ratings[h], ratings[a] = rh + shift, ra - shift
    if season is not None and target_season != season:
        ratings = {t: 0.75 * r + 0.25 * 1505 for t, r in ratings.items()}
    return ratings


def test_elo_matches_independent_implementation():
    out = gold()

    def hist(*ids):
        return [(GAMES[i]["season"], GAMES[i]["home_team_id"], GAMES[i]["away_team_id"],
                 *SCORES[i]) for i in ids]

    s1 = ["g1", "g2", "g3", "g4", "g5", "g6", "g7"]
    ref1 = reference_elo(hist(*s1), S1)  # what T1 sees (its own result is not final at tip)
    t1 = row(out, "T1")
    assert t1["home_elo"] == pytest.approx(ref1[A], abs=1e-9)
    assert t1["away_elo"] == pytest.approx(ref1[B], abs=1e-9)
    assert t1["diff_elo"] == pytest.approx(ref1[A] - ref1[B], abs=1e-9)
    p = 1 / (1 + 10 ** (-(ref1[A] + 100 - ref1[B]) / 400))
    assert t1["elo_prob_home"] == pytest.approx(p, abs=1e-12)

    # new season: B regressed 0.75 toward 1505; D never seen -> 1500
    ref1t = reference_elo(hist(*s1, "T1"), S1)  # end of season 1, T1 included
    ref2 = reference_elo(hist(*s1, "T1", "g8"), S2)
    t3 = row(out, "T3")
    assert t3["home_elo"] == pytest.approx(0.75 * ref1t[B] + 0.25 * 1505, abs=1e-9)
    assert t3["home_elo"] == pytest.approx(ref2[B], abs=1e-9)
    assert t3["away_elo"] == 1500.0
    # T2 (gold) sees g8: A's rating includes the season-2 opener
    t2 = row(out, "T2")
    assert t2["home_elo"] == pytest.approx(ref2[A], abs=1e-9)
    # ... while during g8, A's rating is last season's regressed
    sched = SCHED[SCHED["game_id"] == "T2"].reset_index(drop=True)
    early = build_game_features(targets_of(sched, et("2021-10-19", 21)), *TABLES).iloc[0]
    assert early["home_elo"] == pytest.approx(0.75 * ref1t[A] + 0.25 * 1505, abs=1e-9)


# ------------------------------------------------------------------------- injuries, market

def test_injury_impact_uses_latest_status_before_cutoff():
    t1 = row(gold(), "T1")
    # player 11 is Out at 17:00 (the 19:45 'Available' is after tip); player 12 only Probable
    exp_min = np.mean(list(P11_MIN.values()))             # 32.4, last 10 appearances
    ppm = sum(P11_PTS.values()) / sum(P11_MIN.values())   # minutes-weighted points per minute
    team_ppg = 634 / 6                                    # A's last (up to) 10 games
    assert t1["home_inj_out_count"] == 1
    assert t1["home_inj_out_min_share"] == pytest.approx(exp_min / 240)
    assert t1["home_inj_impact"] == pytest.approx(exp_min * ppm / team_ppg)
    assert t1["away_inj_out_count"] == 0 and t1["away_inj_impact"] == 0.0  # other date ignored
    assert t1["diff_inj_impact"] == pytest.approx(t1["home_inj_impact"])

    sched = SCHED[SCHED["game_id"] == "T1"].reset_index(drop=True)
    noon = build_game_features(live_targets(sched, et("2020-12-31", 12)), *TABLES).iloc[0]
    assert noon["home_inj_out_count"] == 0  # still Questionable at noon


def test_market_consensus_devig():
    t1 = row(gold(), "T1")

    def devig(h, a):
        ph = -h / (-h + 100) if h < 0 else 100 / (h + 100)
        pa = -a / (-a + 100) if a < 0 else 100 / (a + 100)
        return ph / (ph + pa)

    # latest per book at tip: b1 @ 18:00, b2 @ 12:00; b3 (20:00) is after tip
    assert t1["mkt_available"] and t1["mkt_n_books"] == 2
    assert t1["mkt_prob_home"] == pytest.approx(np.median([devig(-200, 170), devig(-180, 160)]))
    assert t1["mkt_home_spread"] == pytest.approx(-4.75)
    assert t1["mkt_total"] == pytest.approx(220.25)
    t3 = row(gold(), "T3")
    assert not t3["mkt_available"] and t3["mkt_n_books"] == 0 and np.isnan(t3["mkt_prob_home"])

    sched = SCHED[SCHED["game_id"] == "T1"].reset_index(drop=True)
    at11 = build_game_features(live_targets(sched, et("2020-12-31", 11)), *TABLES).iloc[0]
    assert at11["mkt_n_books"] == 1
    assert at11["mkt_prob_home"] == pytest.approx(devig(-150, 130))


def test_possession_based_ratings_and_late_box_rows():
    # two games with full team box rows; target the day after
    g = [game_row("x1", S1, "2021-01-05", A, B), game_row("x2", S1, "2021-01-06", C, A),
         game_row("X", S1, "2021-01-07", A, D)]
    res = results_of(g, {"x1": (110, 100), "x2": (95, 105)})
    fin = res.set_index("game_id")["final_ts"]
    box = box_rows([
        # team-level rows are enough: possessions = FGA - OREB + TOV + 0.44 FTA
        {"game_id": "x1", "game_date": "2021-01-05", "team_id": A, "player_id": 11,
         "minutes": 240, "fga": 88, "oreb": 10, "tov": 14, "fta": 25, "snapshot_ts": fin["x1"]},
        {"game_id": "x1", "game_date": "2021-01-05", "team_id": B, "player_id": 21,
         "minutes": 240, "fga": 90, "oreb": 12, "tov": 12, "fta": 20, "snapshot_ts": fin["x1"]},
        {"game_id": "x2", "game_date": "2021-01-06", "team_id": C, "player_id": 31,
         "minutes": 240, "fga": 85, "oreb": 9, "tov": 15, "fta": 22,
         "snapshot_ts": fin["x2"] + pd.Timedelta(days=5)},  # published long after X's tip
        {"game_id": "x2", "game_date": "2021-01-06", "team_id": A, "player_id": 11,
         "minutes": 240, "fga": 86, "oreb": 11, "tov": 13, "fta": 18, "snapshot_ts": fin["x2"]},
    ])
    sched = schedule([g[2]])
    out = build_game_features(targets_of(sched), res, box, None, None).iloc[0]
    poss1 = ((88 - 10 + 14 + 0.44 * 25) + (90 - 12 + 12 + 0.44 * 20)) / 2
    # x1 is possession based; x2 is not yet (C's rows stamped after cutoff) -> 100 possessions
    assert out["home_possession_based"] == pytest.approx(0.5)
    assert out["home_off_rating"] == pytest.approx((100 * 110 / poss1 + 105) / 2)
    assert out["home_def_rating"] == pytest.approx((100 * 100 / poss1 + 95) / 2)
    assert out["home_net_rating"] == pytest.approx(out["home_off_rating"] - out["home_def_rating"])
    # once C's rows are in, both games count
    late = targets_of(sched, None)
    box2 = box.copy()
    box2["snapshot_ts"] = box2["snapshot_ts"].clip(upper=fin["x2"])
    out2 = build_game_features(late, res, box2, None, None).iloc[0]
    poss2 = ((85 - 9 + 15 + 0.44 * 22) + (86 - 11 + 13 + 0.44 * 18)) / 2
    assert out2["home_possession_based"] == 1.0
    assert out2["home_off_rating"] == pytest.approx((100 * 110 / poss1 + 100 * 105 / poss2) / 2)


# ---------------------------------------------------------------------------- minutes features

ROSTERS = conform(pd.DataFrame([
    {"team_id": A, "team": "TA", "player_id": 13, "player_name": "rookie", "position": "G",
     "snapshot_ts": et("2020-12-30", 9)}]), "rosters", "test", "rosters")


def minutes(ids, cutoff=None, tables=TABLES, rosters=ROSTERS):
    sched = SCHED[SCHED["game_id"].isin(ids)].reset_index(drop=True)
    return build_minutes_features(targets_of(sched, cutoff), *tables, rosters=rosters)


def test_minutes_rolling_means_and_context():
    out = minutes(["T1", "T2"])
    validate_features(out, "minutes")
    # candidates: A's recent players (11, 12), its roster's rookie (13), B's recent player (21)
    assert list(zip(out["game_id"], out["player_id"])) == [
        ("T1", 11), ("T1", 12), ("T1", 13), ("T1", 21), ("T2", 11), ("T2", 12), ("T2", 13)]
    p11 = out.iloc[0]
    m = list(P11_MIN.values())  # 28, 32, 30, 34, 38
    assert p11["min_last1"] == 38
    assert p11["min_last3"] == pytest.approx(np.mean(m[-3:]))
    assert p11["min_last5"] == pytest.approx(np.mean(m))
    assert p11["min_last10"] == pytest.approx(np.mean(m))
    assert p11["min_season_mean"] == pytest.approx(np.mean(m))
    w = 0.5 ** (1 / 5)
    weights = w ** np.arange(len(m))[::-1]
    assert p11["min_ewm"] == pytest.approx(np.dot(weights, m) / weights.sum())
    assert p11["starts_share"] == pytest.approx(3 / 4)  # g6 unknown
    assert p11["games_season"] == 5 and p11["days_since_last"] == 1
    assert p11["team_b2b"] and p11["is_home"] and p11["opp_team_id"] == B
    assert p11["role_change"] == pytest.approx(0.0)
    assert p11["inj_out"] and not p11["inj_probable"] and p11["av_inj_out"] == 1.0
    assert p11["teammates_out"] == 0 and p11["teammates_out_min"] == 0.0
    assert p11["mkt_abs_spread"] == pytest.approx(4.75)
    # A has box rows for g3..g7 only (g1 is not a game he missed): 5 of 5 played
    assert p11["av_missed"] == 0 and p11["av_played_l5"] == 1.0
    assert p11["rt_apps"] == 0  # rating sums need a plus-minus, which this box lacks
    # T1's box score knows A's players: 11 did not appear, 12 did
    assert np.isnan(p11["label_minutes"]) and not p11["label_played"]

    p12 = out.iloc[1]
    assert p12["min_last1"] == 20 and p12["min_last3"] == pytest.approx(15)
    assert p12["role_change"] == pytest.approx(0.0)
    assert p12["starts_share"] == 0.0
    assert p12["inj_probable"] and not p12["inj_out"]
    assert p12["teammates_out"] == 1 and p12["teammates_out_min"] == pytest.approx(np.mean(m))
    assert p12["label_minutes"] == 25.0 and p12["label_played"]  # label, not a feature

    rookie = out.iloc[2]
    assert rookie["player_name"] == "rookie"  # from the roster: he has no box or injury row
    assert np.isnan(rookie["min_last1"]) and np.isnan(rookie["min_ewm"])
    assert rookie["games_season"] == 0 and np.isnan(rookie["days_since_last"])
    assert np.isnan(rookie["starts_share"]) and rookie["rt_apps"] == 0
    assert rookie["teammates_out"] == 1 and rookie["av_on_roster"] == 1.0
    assert p11["av_on_roster"] == 0.0  # a roster snapshot exists for A and he is not on it

    p21 = out.iloc[3]
    assert not p21["is_home"] and not p21["team_b2b"] and not p21["inj_out"]  # other date
    assert p21["min_last3"] == pytest.approx(33.0)
    assert np.isnan(p21["av_on_roster"])  # no roster snapshot for B
    assert pd.isna(p21["label_played"])  # no box rows for B in T1: unknown, not "did not play"

    # T2: new season -- last-k carries over, season figures reset
    t2 = out.iloc[4]
    assert t2["min_last1"] == 38 and t2["games_season"] == 0
    assert np.isnan(t2["min_season_mean"]) and np.isnan(t2["role_change"])
    assert np.isnan(t2["mkt_abs_spread"]) and t2["av_new_season"] == 1.0


def test_minutes_rating_sums_decay_to_the_cutoff():
    box = BOX.copy()
    box["plus_minus"] = np.where(box["player_id"] == 11, 4.0, np.nan)
    out = minutes(["T1"], tables=(RESULTS, box, INJ, ODDS))
    p11 = out[out["player_id"] == 11].iloc[0]
    assert p11["rt_apps"] == 5
    # each appearance decays with a half-life in days from its availability to T1's tip
    avail = box[box["player_id"] == 11]["snapshot_ts"]
    from pipeline_assets.features.players import DEFAULT_HALF_LIFE_DAYS as H
    days = (p11["cutoff_ts"] - avail).dt.total_seconds() / 86400
    wts = 2.0 ** (-days / H)
    assert p11["rt_pm"] == pytest.approx(4.0 * wts.sum())
    assert p11["rt_minutes"] == pytest.approx((wts * box[box["player_id"] == 11]["minutes"]).sum())
    assert out[out["player_id"] == 12].iloc[0]["rt_apps"] == 0


def test_minutes_candidates():
    no_roster = minutes(["T1"], rosters=None)
    assert list(no_roster["player_id"]) == [11, 12, 21]
    assert no_roster["av_on_roster"].isna().all()
    # a player on A's injury report for the date is a candidate without any appearance
    inj = pd.concat([INJ, injury_rows([{"game_date": "2020-12-31", "team_id": A, "player_id": 14,
                                        "player_name": "new guy", "status": "Out",
                                        "snapshot_ts": et("2020-12-31", 12)}])],
                    ignore_index=True)
    listed = minutes(["T1"], tables=(RESULTS, BOX, inj, ODDS), rosters=None)
    assert list(listed["player_id"]) == [11, 12, 14, 21]
    assert row(listed[listed["player_id"] == 14], "T1")["player_name"] == "new guy"
    # a player whose latest appearance was for another team has moved on: B no longer lists 21
    moved = box_rows([{"game_id": "g7", "game_date": "2020-12-30", "team_id": C, "player_id": 21,
                       "minutes": 12.0, "snapshot_ts": GAMES["g7"]["tip_ts"]
                       + pd.Timedelta(hours=3)}])
    traded = minutes(["T1"], tables=(RESULTS, pd.concat([BOX, moved], ignore_index=True), INJ,
                                     ODDS), rosters=None)
    assert list(traded["player_id"]) == [11, 12]
    # a roster snapshot taken after the cutoff is not seen
    late = ROSTERS.assign(snapshot_ts=et("2020-12-31", 20))
    assert 13 not in set(minutes(["T1"], rosters=late)["player_id"])


# ---------------------------------------------------------------------- gold vs live parity

def test_gold_equals_live_when_run_after_tip():
    sched = SCHED[SCHED["game_id"].isin(["T1", "T2", "T3"])].reset_index(drop=True)
    g = build_game_features(targets_of(sched), *TABLES)
    live = build_game_features(live_targets(sched, et("2021-12-01", 12)), *TABLES)
    pd.testing.assert_frame_equal(g, live)
    assert diff_features(g, live, ["game_id"]).empty
    gm = build_minutes_features(targets_of(sched), *TABLES, rosters=ROSTERS)
    lm = build_minutes_features(live_targets(sched, et("2021-12-01", 12)), *TABLES,
                                rosters=ROSTERS)
    pd.testing.assert_frame_equal(gm, lm)

    # an earlier run differs exactly where information arrived later (injuries, odds)
    t1 = sched[sched["game_id"] == "T1"].reset_index(drop=True)
    early = build_game_features(live_targets(t1, et("2020-12-31", 11)), *TABLES)
    d = diff_features(g[g["game_id"] == "T1"], early, ["game_id"])
    assert {"cutoff_ts", "home_inj_out_count", "mkt_prob_home", "mkt_n_books"} <= set(d["column"])
    assert "home_win_pct" not in set(d["column"])


# ------------------------------------------------------------------------------ guard rails

def test_cutoff_after_tip_and_duplicate_keys_rejected():
    sched = SCHED[SCHED["game_id"] == "T1"].reset_index(drop=True)
    with pytest.raises(ValueError, match="after tip"):
        build_game_features(targets_of(sched, sched["tip_ts"] + pd.Timedelta(minutes=1)), *TABLES)
    with pytest.raises(ValueError, match="cutoff_ts"):
        build_game_features(sched, *TABLES)
    dup = pd.concat([RESULTS, RESULTS.head(1).assign(home_pts=1)], ignore_index=True)
    with pytest.raises(ValueError, match="results"):
        build_game_features(targets_of(sched), dup, BOX, INJ, ODDS)
    # exact duplicates (the same row stored by two runs) are harmless
    same = pd.concat([RESULTS, RESULTS.head(2)], ignore_index=True)
    pd.testing.assert_frame_equal(build_game_features(targets_of(sched), same, BOX, INJ, ODDS),
                                  build_game_features(targets_of(sched), *TABLES))


def test_empty_inputs_and_no_targets():
    sched = SCHED[SCHED["game_id"] == "T1"].reset_index(drop=True)
    out = build_game_features(targets_of(sched), pd.DataFrame(), pd.DataFrame(),
                              pd.DataFrame(), pd.DataFrame())
    assert out["home_games"].iloc[0] == 0 and out["home_elo"].iloc[0] == 1500.0
    assert not out["mkt_available"].iloc[0] and out["label_home_win"].isna().all()
    none = build_game_features(targets_of(sched.iloc[:0]), *TABLES)
    assert len(none) == 0 and list(none.columns) == [c for c, _ in columns("game")]
    nm = build_minutes_features(targets_of(sched.iloc[:0]), *TABLES)
    assert len(nm) == 0
    validate_features(nm, "minutes")


# ----------------------------------------------------------------------- schema and parity

def test_validate_features_names_problems():
    out = gold(["T1"])
    with pytest.raises(FeatureSchemaError, match=r"missing columns \['home_elo'\]"):
        validate_features(out.drop(columns=["home_elo"]), "game")
    with pytest.raises(FeatureSchemaError, match=r"extra columns \['surprise'\]"):
        validate_features(out.assign(surprise=1.0), "game")
    with pytest.raises(FeatureSchemaError, match=r"mistyped columns \['home_games \(float64"):
        validate_features(out.assign(home_games=out["home_games"].astype(float)), "game")
    with pytest.raises(FeatureSchemaError, match="null values"):
        validate_features(out.assign(game_id=None), "game")
    with pytest.raises(FeatureSchemaError, match="out of order"):
        validate_features(out[list(out.columns[::-1])], "game")
    with pytest.raises(KeyError, match="unknown feature set"):
        validate_features(out, "nope")


def test_diff_features_reports_columns_and_one_sided_rows():
    a = gold(["T1", "T3"])
    b = a.copy()
    b.loc[b["game_id"] == "T1", "home_elo"] += 0.5
    b.loc[b["game_id"] == "T3", "home_pts_for_pg"] = 100.0  # NaN vs number
    b = pd.concat([b, b.iloc[[0]].assign(game_id="EXTRA")], ignore_index=True)
    d = diff_features(a, b, ["game_id"]).set_index("column")
    assert d.loc["home_elo", "n_rows_differing"] == 1
    assert d.loc["home_elo", "max_abs_diff"] == pytest.approx(0.5)
    assert d.loc["home_elo", "example_key"] == {"game_id": "T1"}
    assert d.loc["home_pts_for_pg", "n_rows_differing"] == 1
    assert d.loc["<only_in_b>", "n_rows_differing"] == 1
    assert "<only_in_a>" not in d.index
    assert diff_features(a, a.iloc[::-1], ["game_id"]).empty
    assert diff_features(a, a.assign(home_elo=a["home_elo"] + 1e-12), ["game_id"]).empty
    assert len(diff_features(a, a.assign(home_elo=a["home_elo"] + 1e-6), ["game_id"])) == 1


def test_status_stamped_before_a_later_appearance_is_stale():
    # A carried-over 'Out' for player 11 stamped 2020-12-25 noon (after g3); he then played
    # g4..g7, all final before T1's tip, so at T1 the status is stale and he is not counted out.
    stale = injury_rows([{"game_date": "2020-12-31", "team_id": A, "player_id": 11, "status": "Out",
                          "snapshot_ts": et("2020-12-25", 12)}])
    t1 = row(gold(tables=(RESULTS, BOX, stale, ODDS)), "T1")
    assert t1["home_inj_out_count"] == 0 and t1["home_inj_impact"] == 0.0
    # Without those later appearances the same row still rules him out.
    early_box = BOX[~BOX["game_id"].isin(["g4", "g5", "g6", "g7"])].reset_index(drop=True)
    t1b = row(gold(tables=(RESULTS, early_box, stale, ODDS)), "T1")
    assert t1b["home_inj_out_count"] == 1
    # An appearance that only becomes available after the cutoff cannot make the status stale.
    sched = SCHED[SCHED["game_id"] == "T1"].reset_index(drop=True)
    before_g4 = build_game_features(live_targets(sched, et("2020-12-26", 18)), RESULTS, BOX,
                                    stale, ODDS).iloc[0]
    assert before_g4["home_inj_out_count"] == 1
