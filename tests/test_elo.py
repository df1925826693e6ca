from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipoff_core.domain.elo import elo_ratings_before_games, elo_win_prob, mov_multiplier

T0 = pd.Timestamp("2023-10-24 23:30", tz="UTC")


# ---------------------------------------------------------------------------------------------
# tiny pure-Python reference (538 NBA Elo), written independently of the kernel
# ---------------------------------------------------------------------------------------------
def reference_elo(rows):
    """rows: dicts with game_id, season, tip (int), avail (int), home, away, hp, ap (None = unplayed),
    already sorted by tip (stable).  Returns {game_id: (home_pre, away_pre, prob, home_post, away_post)}."""
    ratings: dict = {}
    seen_seasons: set = set()
    pending = sorted(rows, key=lambda r: r["avail"])  # stable: ties keep tip order
    out = {}
    for g in rows:
        while pending and pending[0]["avail"] < g["tip"]:
            r = pending.pop(0)
            if r["hp"] is None:
                continue
            hpre, apre, p = out[r["game_id"]][:3]
            if r["hp"] > r["ap"]:
                actual, mov, diff = 1.0, r["hp"] - r["ap"], hpre + 100 - apre
            elif r["ap"] > r["hp"]:
                actual, mov, diff = 0.0, r["ap"] - r["hp"], apre - (hpre + 100)
            else:
                actual, mov, diff = 0.5, 0.0, hpre + 100 - apre
            shift = 20 * ((mov + 3) ** 0.8 / (7.5 + 0.006 * diff)) * (actual - p)
            ratings[r["home"]] += shift
            ratings[r["away"]] -= shift
            out[r["game_id"]] = (hpre, apre, p, hpre + shift, apre - shift)
        if g["season"] not in seen_seasons:
            if seen_seasons:
                for t in ratings:
                    ratings[t] = 0.75 * ratings[t] + 0.25 * 1505
            seen_seasons.add(g["season"])
        ratings.setdefault(g["home"], 1500.0)
        ratings.setdefault(g["away"], 1500.0)
        h, a = ratings[g["home"]], ratings[g["away"]]
        out[g["game_id"]] = (h, a, 1 / (1 + 10 ** (-(h + 100 - a) / 400)), math.nan, math.nan)
    for r in pending:  # results known after the last tip still get post ratings
        if r["hp"] is None:
            continue
        hpre, apre, p = out[r["game_id"]][:3]
        if r["hp"] > r["ap"]:
            actual, mov, diff = 1.0, r["hp"] - r["ap"], hpre + 100 - apre
        elif r["ap"] > r["hp"]:
            actual, mov, diff = 0.0, r["ap"] - r["hp"], apre - (hpre + 100)
        else:
            actual, mov, diff = 0.5, 0.0, hpre + 100 - apre
        shift = 20 * ((mov + 3) ** 0.8 / (7.5 + 0.006 * diff)) * (actual - p)
        out[r["game_id"]] = (hpre, apre, p, hpre + shift, apre - shift)
    return out


def frame(games):
    df = pd.DataFrame(games)
    df["tip_ts"] = T0 + pd.to_timedelta(df["tip"], unit="h")
    if "avail" in df:
        df["final_ts"] = T0 + pd.to_timedelta(df["avail"], unit="h")
    df["home_team_id"] = df["home"]
    df["away_team_id"] = df["away"]
    df["home_pts"] = df["hp"].astype(float)
    df["away_pts"] = df["ap"].astype(float)
    return df


@st.composite
def schedules(draw):
    n = draw(st.integers(1, 60))
    n_teams = draw(st.integers(2, 6))
    games = []
    for i in range(n):
        home = draw(st.integers(0, n_teams - 1))
        away = draw(st.integers(0, n_teams - 2))
        away = away + 1 if away >= home else away
        played = draw(st.sampled_from([True, True, True, False]))
        hp = draw(st.integers(70, 150)) if played else None
        ap = draw(st.integers(70, 150)) if played else None
        games.append({"game_id": f"g{i}", "tip": draw(st.integers(0, 40)), "home": 1610612737 + home,
                      "away": 1610612737 + away, "hp": hp, "ap": ap})
    games.sort(key=lambda g: g["tip"])
    # seasons in tip order: a few contiguous blocks
    cuts = sorted(draw(st.lists(st.integers(0, 40), max_size=3)))
    for g in games:
        g["season"] = f"{2000 + sum(g['tip'] >= c for c in cuts)}-xx"
    return games


def _compare(games, result):
    ref = reference_elo(games)
    for g, (_, row) in zip(games, result.iterrows()):
        exp = ref[g["game_id"]]
        got = (row.home_elo_pre, row.away_elo_pre, row.elo_prob_home, row.home_elo_post, row.away_elo_post)
        np.testing.assert_allclose(got, exp, rtol=0, atol=0, equal_nan=True, err_msg=g["game_id"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_matches_reference_on_random_schedules(games):
    for g in games:
        g["avail"] = g["tip"]
    df = frame(games).drop(columns=["final_ts"])
    res = elo_ratings_before_games(df)
    assert list(res["game_id"]) == [g["game_id"] for g in games]
    _compare(games, res)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.data())
def test_matches_reference_with_final_ts(games, data):
    for g in games:
        g["avail"] = g["tip"] + data.draw(st.integers(0, 5))
    res = elo_ratings_before_games(frame(games))
    _compare(games, res)


def test_hand_computed_two_1500_teams_home_wins_by_10():
    games = frame([{"game_id": "g1", "season": "2023-24", "tip": 0, "home": 1, "away": 2, "hp": 110, "ap": 100},
                   {"game_id": "g2", "season": "2023-24", "tip": 24, "home": 2, "away": 1, "hp": None, "ap": None}])
    res = elo_ratings_before_games(games).set_index("game_id")
    expected = 1 / (1 + 10 ** (-100 / 400))  # 0.6400649998
    mult = 13 ** 0.8 / (7.5 + 0.006 * 100)  # 7.783137 / 8.1
    shift = 20 * mult * (1 - expected)
    assert expected == pytest.approx(0.6400649998, abs=1e-10)
    assert mult == pytest.approx(0.960881, abs=1e-6)
    assert shift == pytest.approx(6.917095, abs=1e-6)
    g1 = res.loc["g1"]
    assert (g1.home_elo_pre, g1.away_elo_pre) == (1500.0, 1500.0)
    assert g1.elo_prob_home == pytest.approx(expected, rel=1e-15)
    assert g1.home_elo_post == pytest.approx(1506.917095, abs=1e-6)
    assert g1.away_elo_post == pytest.approx(1493.082905, abs=1e-6)
    g2 = res.loc["g2"]  # unplayed: gets pre-game ratings, no post
    assert g2.home_elo_pre == pytest.approx(1500 - shift, rel=1e-15)
    assert g2.away_elo_pre == pytest.approx(1500 + shift, rel=1e-15)
    assert np.isnan(g2.home_elo_post) and np.isnan(g2.away_elo_post)
    assert g2.elo_prob_home == pytest.approx(elo_win_prob(1500 - shift, 1500 + shift), rel=1e-15)


def test_away_win_uses_winner_perspective_elo_diff():
    games = frame([{"game_id": "g1", "season": "s", "tip": 0, "home": 1, "away": 2, "hp": 95, "ap": 100}])
    r = elo_ratings_before_games(games).iloc[0]
    p = elo_win_prob(1500, 1500)
    shift = 20 * mov_multiplier(5, 1500 - (1500 + 100)) * (0 - p)
    assert r.home_elo_post == pytest.approx(1500 + shift, rel=1e-15)
    assert r.away_elo_post == pytest.approx(1500 - shift, rel=1e-15)
    assert (8 ** 0.8) / (7.5 - 0.6) == pytest.approx(mov_multiplier(5, -100))


def test_season_carryover():
    games = frame([{"game_id": "a", "season": "2022-23", "tip": 0, "home": 1, "away": 2, "hp": 120, "ap": 100},
                   {"game_id": "b", "season": "2023-24", "tip": 5000, "home": 1, "away": 3, "hp": None, "ap": None}])
    res = elo_ratings_before_games(games).set_index("game_id")
    post = res.loc["a", "home_elo_post"]
    assert res.loc["b", "home_elo_pre"] == pytest.approx(0.75 * post + 0.25 * 1505, rel=1e-15)
    assert res.loc["b", "away_elo_pre"] == 1500.0  # new team: no carry-over


def test_equal_tip_games_do_not_see_each_other_and_no_leak():
    base = [{"game_id": "a", "season": "s", "tip": 0, "home": 1, "away": 2, "hp": 120, "ap": 90},
            {"game_id": "b", "season": "s", "tip": 0, "home": 3, "away": 1, "hp": 100, "ap": 99},
            {"game_id": "c", "season": "s", "tip": 1, "home": 1, "away": 3, "hp": None, "ap": None}]
    res = elo_ratings_before_games(frame(base)).set_index("game_id")
    assert res.loc["b", "away_elo_pre"] == 1500.0  # team 1 played "a" at the same tip
    # changing a result never changes pre-game ratings of games at or before its tip
    changed = [dict(g) for g in base]
    changed[0]["hp"], changed[0]["ap"] = 80, 130
    res2 = elo_ratings_before_games(frame(changed)).set_index("game_id")
    pd.testing.assert_series_equal(res.loc[["a", "b"], "home_elo_pre"], res2.loc[["a", "b"], "home_elo_pre"])
    assert res.loc["c", "home_elo_pre"] != res2.loc["c", "home_elo_pre"]


def test_final_ts_delays_results():
    g = [{"game_id": "a", "season": "s", "tip": 0, "avail": 3, "home": 1, "away": 2, "hp": 120, "ap": 90},
         {"game_id": "b", "season": "s", "tip": 2, "avail": 5, "home": 1, "away": 3, "hp": None, "ap": None},
         {"game_id": "c", "season": "s", "tip": 3, "avail": 6, "home": 1, "away": 3, "hp": None, "ap": None},
         {"game_id": "d", "season": "s", "tip": 4, "avail": 6, "home": 1, "away": 3, "hp": None, "ap": None}]
    res = elo_ratings_before_games(frame(g)).set_index("game_id")
    assert res.loc["b", "home_elo_pre"] == 1500.0  # "a" not final yet
    assert res.loc["c", "home_elo_pre"] == 1500.0  # final exactly at tip: not "before"
    assert res.loc["d", "home_elo_pre"] == res.loc["a", "home_elo_post"]


def test_unsorted_input_keeps_row_order_and_index():
    games = frame([{"game_id": "late", "season": "s", "tip": 10, "home": 1, "away": 2, "hp": None, "ap": None},
                   {"game_id": "early", "season": "s", "tip": 0, "home": 2, "away": 1, "hp": 100, "ap": 90}])
    games.index = [7, 3]
    res = elo_ratings_before_games(games)
    assert list(res.index) == [7, 3] and list(res["game_id"]) == ["late", "early"]
    assert res.loc[7, "away_elo_pre"] == res.loc[3, "home_elo_post"]


def test_missing_columns_fail_loudly():
    with pytest.raises(ValueError, match="missing columns"):
        elo_ratings_before_games(pd.DataFrame({"game_id": ["a"]}))


def test_elo_win_prob_vectorized():
    p = elo_win_prob(np.array([1500.0, 1600.0]), np.array([1600.0, 1500.0]), home_adv=0)
    np.testing.assert_allclose(p, [1 / (1 + 10 ** 0.25), 1 / (1 + 10 ** -0.25)])
    assert elo_win_prob(1500, 1500, home_adv=0) == 0.5


def test_20k_games_all_rated():
    """Every game of a long history gets a pre-game rating (speed: bench/bench_sources.py)."""
    rng = np.random.default_rng(0)
    n = 20_000
    games = pd.DataFrame({
        "game_id": np.arange(n).astype(str), "season": (np.arange(n) // 1230).astype(str),
        "tip_ts": T0 + pd.to_timedelta(np.arange(n) // 5, unit="h"),
        "home_team_id": rng.integers(0, 30, n), "away_team_id": rng.integers(30, 60, n),
        "home_pts": rng.integers(80, 130, n).astype(float), "away_pts": rng.integers(80, 130, n).astype(float)})
    res = elo_ratings_before_games(games)
    assert res["home_elo_pre"].notna().all()
