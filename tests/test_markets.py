"""Spread and total recommendations (Monte Carlo against each book's line and price, push-aware
Kelly, one pick per market) and closing-line value of the logged recommendations."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_assets import scoring
from pipeline_assets.monitoring.clv import closing_line_value, closing_lines, clv_summary
from resources.predictions_log import CLV_COLUMNS, COLUMNS, PredictionsLog
from tipoff_core.domain import betting, montecarlo
from tipoff_core.schemas import restore_dtypes

american = st.one_of(st.integers(-400, -100), st.integers(100, 400)).map(float)
TIP = pd.Timestamp("2026-01-11T00:30Z")


# ----------------------------------------------------------------------------- domain maths

@settings(max_examples=40, deadline=None)
@given(st.floats(-15, 15), st.floats(200, 240), st.integers(-30, 30), st.integers(400, 480),
       st.integers(0, 2**31 - 1))
def test_cover_push_and_miss_partition_the_draws_at_any_line(mu, mu_t, half_spread, half_total, seed):
    summary, home, away = montecarlo.simulate_slate_scores(
        [mu], [mu_t], 12.0, 18.0, 0.0, n_sims=2000, seed=seed, home_spread=[half_spread / 2],
        total_line=[half_total / 2])
    # the kept draws are exactly what the summary was computed from
    same = montecarlo.simulate_slate([mu], [mu_t], 12.0, 18.0, 0.0, n_sims=2000, seed=seed,
                                     home_spread=[half_spread / 2], total_line=[half_total / 2])
    assert all(np.array_equal(summary[k], same[k], equal_nan=True) for k in same)
    lines = np.array([half_spread / 2, half_spread / 2 + 0.5, -3.0])
    totals = np.array([half_total / 2, 221.0, 220.5])
    pc, po, pps, ppt = montecarlo.line_probs_at(home, away, np.zeros(3, int), lines, totals)
    margin = (home[0] - away[0]).astype(float)
    total = (home[0] + away[0]).astype(float)
    for k in range(3):
        cover, push = np.mean(margin + lines[k] > 0), np.mean(margin + lines[k] == 0)
        miss = np.mean(margin + lines[k] < 0)
        assert pc[k] == cover and pps[k] == push and cover + push + miss == pytest.approx(1.0)
        over, tpush = np.mean(total > totals[k]), np.mean(total == totals[k])
        assert po[k] == over and ppt[k] == tpush and over + tpush + np.mean(total < totals[k]) == \
            pytest.approx(1.0)
        if lines[k] % 1:  # a half-point line never pushes
            assert pps[k] == 0.0
    # at the slate's own line the indexed probabilities are the in-kernel ones
    assert pc[0] == summary["p_home_cover"][0] and pps[0] == summary["p_push_spread"][0]
    assert po[0] == summary["p_over"][0] and ppt[0] == summary["p_push_total"][0]


@settings(max_examples=200, deadline=None)
@given(st.floats(0.01, 0.98), st.floats(0.0, 0.2), american)
def test_push_kelly_is_zero_without_edge_and_maximizes_log_growth(p_win, p_push, price):
    p_push = min(p_push, 0.99 - p_win)
    d = betting.american_to_decimal(price)
    p_lose = 1 - p_win - p_push
    f = betting.push_kelly_fraction(p_win, p_push, d)
    ev = p_win * (d - 1) - p_lose
    if ev <= 0:
        assert f == 0.0
    else:
        assert 0 < f <= 1

        def growth(x):
            return p_win * math.log1p(x * (d - 1)) + p_lose * math.log1p(-x)
        for g in (f * 0.9, min(f * 1.1, 0.999)):
            assert growth(f) >= growth(g) - 1e-12
    # no push: the plain Kelly fraction
    assert betting.push_kelly_fraction(p_win, 0.0, d) == pytest.approx(
        betting.kelly_fraction(p_win, d), abs=1e-12)


def test_kelly_stake_is_zero_at_exactly_zero_edge():
    # +100 pays even money: p_win == p_lose is zero expected value, whatever the push chance
    for push in (0.0, 0.05, 0.3):
        p = (1 - push) / 2
        assert betting.push_kelly_fraction(p, push, 2.0) == 0.0
        assert betting.push_stake(p, push, 100.0) == 0.0
        assert betting.two_way_side(p, push, 100.0, 100.0)["edge"] == pytest.approx(0.0)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.02, 0.96), st.floats(0.0, 0.06), american, american)
def test_the_two_sides_of_a_line_are_symmetric(p_win, p_push, price_a, price_b):
    p_push = min(p_push, 0.98 - p_win)
    a = betting.two_way_side(p_win, p_push, price_a, price_b)
    b = betting.two_way_side(1 - p_win - p_push, p_push, price_b, price_a)
    assert a["edge"] == pytest.approx(-b["edge"], abs=1e-12)
    assert a["p_fair"] + b["p_fair"] == pytest.approx(1.0)
    assert a["stake"] <= 0.05 and b["stake"] <= 0.05
    if betting.american_to_prob(price_a) + betting.american_to_prob(price_b) >= 1:
        assert a["stake"] == 0.0 or b["stake"] == 0.0  # a book with vig: never both sides


def test_a_missing_price_is_assumed_minus_110_and_flagged():
    q = betting.two_way_side(np.array([0.55, 0.55]), 0.0, np.array([np.nan, -105.0]),
                             np.array([np.nan, -115.0]))
    assert list(q["price"]) == [-110.0, -105.0] and list(q["assumed"]) == [True, False]
    assert q["p_fair"][0] == pytest.approx(0.5)


# ----------------------------------------------------------------------------- the scored slate

def _slate(spreads=(-3.0, 2.5, np.nan), totals=(221.0, 220.5, np.nan)):
    return pd.DataFrame({
        "game_id": ["g1", "g2", "g3"], "game_date": ["2026-01-10"] * 3, "tip_ts": [TIP] * 3,
        "cutoff_ts": [TIP - pd.Timedelta(hours=2)] * 3, "home_team_id": [1, 2, 3],
        "away_team_id": [4, 5, 6], "home_pts_for_pg": [118.0, 110, 112],
        "home_pts_against_pg": [108.0, 110, 112], "away_pts_for_pg": [112.0, 110, 112],
        "away_pts_against_pg": [114.0, 110, 112], "mkt_home_spread": list(spreads),
        "mkt_total": list(totals), "mkt_prob_home": [0.6, 0.45, np.nan],
        "elo_prob_home": [0.6, 0.5, 0.5]})


def _odds(rows):
    base = {"home_ml": -150.0, "away_ml": 130.0, "snapshot_ts": TIP - pd.Timedelta(hours=3)}
    return restore_dtypes(pd.DataFrame([{**base, **r} for r in rows]), "odds")


ODDS = [
    {"game_id": "g1", "bookmaker": "a", "home_spread": -3.0, "total": 221.0,
     "home_spread_price": -110.0, "away_spread_price": -110.0, "over_price": -105.0,
     "under_price": -115.0},
    {"game_id": "g1", "bookmaker": "b", "home_spread": -2.5, "total": 222.0},  # no prices
    {"game_id": "g2", "bookmaker": "a", "home_ml": 120.0, "away_ml": -140.0, "home_spread": 2.5,
     "total": 220.5, "home_spread_price": -110.0, "away_spread_price": -110.0,
     "over_price": -110.0, "under_price": -110.0},
    # stamped after the cutoff: never priced against
    {"game_id": "g2", "bookmaker": "late", "home_spread": 9.5, "total": 200.5,
     "snapshot_ts": TIP - pd.Timedelta(minutes=5)},
]


def _score(policy=None, odds=ODDS, p=(0.7, 0.4, 0.5)):
    return scoring.score_games(_slate(), np.array(p), np.array(p), np.array(p), _odds(odds),
                               n_sims=4000, seed=3, policy=policy)


def test_one_recommendation_per_market_at_a_book_line_with_its_price():
    t = _score().set_index("game_id")
    for m in ("spread", "total"):
        assert set(scoring.MARKET_COLUMNS[m]) <= set(t.columns)
    g1 = t.loc["g1"]
    # home is strongly favoured by the model: the home side, at the book with the better line
    assert g1["spread_side"] == "home" and g1["spread_book"] == "b" and g1["spread_line"] == -2.5
    assert g1["spread_price"] == -110.0 and bool(g1["spread_price_assumed"])
    assert g1["spread_edge"] >= 0.02 and 0 < g1["spread_stake"] <= 0.05
    assert g1["spread_pick"] == "home -2.5"
    assert g1["total_side"] in ("over", "under", "none") and g1["p_push_total"] > 0  # line 221
    assert g1["p_push_spread"] > 0 and t.loc["g2", "p_push_spread"] == 0.0  # -3 vs +2.5
    # the late row (line 9.5) is never a candidate
    assert t.loc["g2", "spread_book"] != "late" and t.loc["g2", "total_book"] != "late"
    # no line at all: no recommendation, nothing staked
    g3 = t.loc["g3"]
    assert g3["spread_side"] == g3["total_side"] == "none" and g3["spread_stake"] == 0.0
    assert g3["spread_pick"] == "-" and pd.isna(g3["spread_line"])


def test_the_minimum_edges_decide_whether_a_side_is_a_bet():
    t = _score(scoring.StakePolicy(spread_min_edge=0.99, total_min_edge=0.99)).set_index("game_id")
    assert (t["spread_side"] == "none").all() and (t["total_side"] == "none").all()
    assert (t["spread_stake"] == 0).all() and (t["total_stake"] == 0).all()
    # the best candidate is still described (how close it came)
    assert t.loc["g1", "spread_edge"] > 0.02 and t.loc["g1", "spread_book"] == "b"
    loose = _score(scoring.StakePolicy(spread_min_edge=0.0, total_min_edge=0.0))
    bets = loose[loose["spread_side"] != "none"]
    assert (bets["spread_edge"] >= 0).all() and (bets["spread_stake"] > 0).all()


def test_slate_view_and_markets_block_show_the_picks():
    t = _score()
    v = scoring.slate_view(t, {1: "BOS", 4: "NYK"})
    assert v.loc[0, "spread"] == "BOS -2.5 @-110*" and v.loc[2, "spread"] == "-"
    assert v.loc[0, "sp_stake"] == round(t.loc[0, "spread_stake"], 4)
    block = scoring.markets_block(t.iloc[0].to_dict())
    assert set(block) == {"moneyline", "spread", "total"}
    assert block["spread"]["side"] == "home" and block["spread"]["line"] == -2.5
    assert block["spread"]["price_assumed"] is True and block["spread"]["book"] == "b"
    assert block["moneyline"]["side"] == t.loc[0, "recommendation"]
    old = t.drop(columns=scoring.MARKET_COLUMNS["spread"] + scoring.MARKET_COLUMNS["total"])
    assert set(scoring.markets_block(old.iloc[0].to_dict())) == {"moneyline"}
    assert list(scoring.slate_view(old, {})["spread"]) == ["-"] * 3


def test_log_rows_carry_what_each_recommendation_took():
    t = _score()
    rows = scoring.prediction_log_rows(t, TIP - pd.Timedelta(hours=2), "v1", "simulated")
    rec = rows["recommendation"].to_numpy(object)
    want = np.where(rec == "home", t["best_home_ml"], np.where(rec == "away", t["best_away_ml"],
                                                               np.nan))
    np.testing.assert_array_equal(rows["ml_price"].to_numpy(float), want.astype(float))
    assert {"spread_side", "spread_line", "spread_price", "total_side", "total_line"} <= set(rows)
    # a market without a bet took no line or price (the table still describes its best candidate)
    none = (t["total_side"] == "none") & t["total_line"].notna()
    assert none.any() and rows.loc[none, ["total_line", "total_price"]].isna().all().all()
    bet = t["spread_side"] != "none"
    assert (rows.loc[bet, "spread_line"] == t.loc[bet, "spread_line"]).all()


# ----------------------------------------------------------------------------- closing-line value

def _snap(minutes_before_tip, **kw):
    return {"home_ml": -150.0, "away_ml": 130.0, "home_spread": -3.0, "total": 221.0,
            "snapshot_ts": TIP - pd.Timedelta(minutes=minutes_before_tip), **kw}


def _history():
    return _odds([
        {"game_id": "g1", "bookmaker": "a", **_snap(600, home_spread=-2.5, total=219.0)},
        {"game_id": "g1", "bookmaker": "a", **_snap(10, home_ml=-200.0, away_ml=170.0,
                                                      home_spread=-4.5, total=224.0)},
        {"game_id": "g1", "bookmaker": "b", **_snap(20, home_ml=-190.0, away_ml=160.0,
                                                      home_spread=-4.0, total=223.0)},
    ])


TIPS = pd.DataFrame({"game_id": ["g1"], "tip_ts": [TIP]})


def test_the_close_is_the_last_snapshot_strictly_before_tip():
    c = closing_lines(_history(), TIPS).iloc[0]
    fa, _ = betting.devig_moneyline(-200.0, 170.0)
    fb, _ = betting.devig_moneyline(-190.0, 160.0)
    assert c["close_p_home"] == pytest.approx((fa + fb) / 2)
    assert c["close_home_spread"] == -4.25 and c["close_total"] == 223.5
    assert c["close_ts"] == TIP - pd.Timedelta(minutes=10)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 600), st.sampled_from(["a", "b", "c"]),
                          st.floats(-12, 12), st.floats(190, 250)), max_size=5))
def test_snapshots_at_or_after_the_tip_never_change_the_close(late):
    base = _history()
    if not late:
        return
    extra = _odds([{"game_id": "g1", "bookmaker": b, **_snap(-m, home_spread=s, total=t)}
                   for m, b, s, t in late])  # stamped at or after the tip
    with_late = pd.concat([base, extra], ignore_index=True)
    pd.testing.assert_frame_equal(closing_lines(base, TIPS), closing_lines(with_late, TIPS))


def _logged(**kw):
    row = {"game_id": "g1", "run_as_of_ts": (TIP - pd.Timedelta(hours=8)).isoformat(),
           "model_version": "v1", "game_date": "2026-01-10", "mode": "live",
           "source": "simulated", "home_team_id": 1, "away_team_id": 4, "p_home_win": 0.7,
           "recommendation": "home", "ml_price": -150.0, "spread_side": "home",
           "spread_line": -2.5, "total_side": "over", "total_line": 219.0,
           "logged_at": TIP.isoformat(), "kind": "pregame", "role": "production"}
    return pd.DataFrame([{**row, **kw}])


def test_clv_of_each_market_against_the_no_vig_close():
    close = closing_lines(_history(), TIPS)
    after = TIP + pd.Timedelta(hours=3)
    v = closing_line_value(_logged(), close, TIPS, after).iloc[0]
    assert v["ml_clv"] == pytest.approx(close["close_p_home"].iloc[0] - betting.american_to_prob(-150.0))
    assert v["ml_clv"] > 0  # took -150; the market closed near -195
    assert v["spread_clv_points"] == pytest.approx(-2.5 - (-4.25))  # 1.75 points better
    assert v["total_clv_points"] == pytest.approx(223.5 - 219.0)
    assert v["clv_close_ts"] == (TIP - pd.Timedelta(minutes=10)).isoformat()
    away = closing_line_value(_logged(recommendation="away", ml_price=170.0, spread_side="away",
                                      spread_line=4.5, total_side="under", total_line=224.0),
                              close, TIPS, after).iloc[0]
    assert away["ml_clv"] == pytest.approx(1 - close["close_p_home"].iloc[0] - 100 / 270)
    assert away["spread_clv_points"] == pytest.approx(4.5 - 4.25)
    assert away["total_clv_points"] == pytest.approx(224.0 - 223.5)
    # not yet tipped: the close is not final, no CLV; a pick made after the tip: none either
    assert closing_line_value(_logged(), close, TIPS, TIP - pd.Timedelta(minutes=1)).empty
    assert closing_line_value(_logged(run_as_of_ts=TIP.isoformat()), close, TIPS, after).empty
    # no bet in any market: no row
    none = _logged(recommendation="none", spread_side="none", total_side="none")
    assert closing_line_value(none, close, TIPS, after).empty
    s = clv_summary(_logged().assign(**v[CLV_COLUMNS].to_dict()), TIPS)
    assert s["spread"] == {"n": 1, "mean_clv": pytest.approx(1.75), "beat_close_pct": 100.0}


def _old_log(url):
    eng = sa.create_engine(url)
    with eng.begin() as con:  # the log as it was before the market columns
        con.execute(sa.text(
            "CREATE TABLE predictions_log (game_id VARCHAR(32), run_as_of_ts VARCHAR(32), "
            "model_version VARCHAR(32), game_date VARCHAR(10) NOT NULL, mode VARCHAR(16) NOT NULL, "
            "source VARCHAR(16) NOT NULL, home_team_id BIGINT NOT NULL, away_team_id BIGINT NOT NULL,"
            " p_home_win FLOAT NOT NULL, p_market_home FLOAT, edge_home FLOAT, margin_mean FLOAT, "
            "total_mean FLOAT, recommendation VARCHAR(8), stake FLOAT, p_elo FLOAT, "
            "logged_at VARCHAR(32) NOT NULL, kind VARCHAR(16) NOT NULL DEFAULT 'pregame', "
            "role VARCHAR(16) NOT NULL DEFAULT 'production', "
            "PRIMARY KEY (game_id, run_as_of_ts, model_version))"))
        con.execute(sa.text("INSERT INTO predictions_log (game_id, run_as_of_ts, model_version, "
                            "game_date, mode, source, home_team_id, away_team_id, p_home_win, "
                            "logged_at) VALUES ('g0', 'r', 'v1', '2026-01-10', 'live', 'simulated',"
                            " 1, 2, 0.6, 'r')"))
    eng.dispose()


def _upgrade_and_fill(url):
    _old_log(url)
    log = PredictionsLog(url)
    old = log.read()
    assert list(old.columns) == COLUMNS and pd.isna(old.iloc[0]["spread_line"])
    close = closing_lines(_history(), TIPS)
    assert log.append(_logged()) == 1
    clv = closing_line_value(log.read(), close, TIPS, TIP + pd.Timedelta(hours=3))
    assert log.update_clv(clv) == 1
    got = log.read().set_index("game_id")
    assert got.loc["g1", "spread_clv_points"] == pytest.approx(1.75)
    assert got.loc["g1", "clv_close_ts"] == (TIP - pd.Timedelta(minutes=10)).isoformat()
    assert pd.isna(got.loc["g0", "ml_clv"])
    PredictionsLog(url)  # re-opening migrates nothing twice


def test_a_stored_sqlite_log_gains_the_market_and_clv_columns(tmp_path):
    _upgrade_and_fill(f"sqlite:///{tmp_path / 'old.db'}")


def test_a_stored_postgres_log_gains_the_market_and_clv_columns(pg_database):
    from tests.conftest import PG_HOST, PG_USER
    _upgrade_and_fill(f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:5432/{pg_database}")


def test_the_backtest_settles_spread_and_total_bets_with_pushes():
    from pipeline_assets.backtest import spread_total_bets
    f = _slate(spreads=(-3.0, 2.5, -1.0), totals=(221.0, 220.5, 230.0)).assign(
        label_margin=[3, 10, -5], label_total=[221, 240, 200])
    r = spread_total_bets(np.array([0.75, 0.30, 0.5]), f, spread_min_edge=0.0, total_min_edge=0.0,
                          n_sims=4000)
    s = r["spread"]
    # g1: home -3 wins by exactly 3 -> a push, stake returned; g2: the away side (+... ) loses
    assert s["bets"] >= 2 and s["pushes"] >= 1
    assert s["roi"] == pytest.approx(s["profit"] / s["staked"])
    strict = spread_total_bets(np.array([0.75, 0.30, 0.5]), f, spread_min_edge=0.99,
                               total_min_edge=0.99, n_sims=4000)
    assert strict["spread"]["bets"] == strict["total"]["bets"] == 0
    assert math.isnan(strict["spread"]["roi"])


# ----------------------------------------------------------------------------- end to end

def test_a_scored_slate_logs_its_picks_shows_them_and_gets_clv_after_the_tip(tmp_path,
                                                                            monkeypatch):
    """Simulated league (books quote spread/total prices): `tipoff run`'s steps score a slate in
    the morning; the stored table, the predictions log and the API's `markets` block carry the
    picks; after the games, `monitoring.report.clv_record` fills the log's CLV from the odds
    snapshot stored before each tip (the 30-minutes-before-tip one), never from a later one."""
    import uuid

    from fastapi.testclient import TestClient

    from pipeline_assets import steps
    from pipeline_assets.api import create_app
    from pipeline_assets.monitoring.evaluation import scored_games
    from pipeline_assets.monitoring.report import clv_record
    from pipeline_assets.serving import Service
    from resources.cache import Cache
    from tests.helpers import build_trained_store, read_table, use_simulated_store

    root = tmp_path / "data"
    build_trained_store(root, ("2025-10-21", "2025-11-20"))
    use_simulated_store(monkeypatch, root)
    day = "2025-11-21"
    loose = scoring.StakePolicy(spread_min_edge=0.0, total_min_edge=0.0, min_edge=0.0)
    steps.run(date=day, as_of=f"{day}T16:00:00+00:00", root=root, n_sims=2000, stake_policy=loose)
    t = read_table("game_scores", day, root=root)
    assert len(t) and (t["spread_side"] != "none").any() and (t["total_side"] != "none").any()
    assert not t.loc[t["spread_side"] != "none", "spread_price_assumed"].any()  # quoted prices

    log = PredictionsLog(f"sqlite:///{root / 'predictions.db'}")
    logged = log.read(day).set_index("game_id").loc[t["game_id"]]
    np.testing.assert_array_equal(logged["spread_line"].to_numpy(float),
                                  t["spread_line"].where(t["spread_side"] != "none").to_numpy(float))
    assert logged["ml_clv"].isna().all()  # before the tip: no close yet

    down = Cache("redis://127.0.0.1:1/0", prefix=f"tipoff:down-{uuid.uuid4().hex[:8]}:")
    client = TestClient(create_app(Service(root=root, cache=down,
                                           clock=lambda: pd.Timestamp(f"{day}T17:00:00Z"),
                                           n_sims=2000)))
    g = client.get(f"/v1/slates/{day}").json()["games"][0]
    row = t.set_index("game_id").loc[g["game_id"]]
    assert g["markets"]["spread"]["side"] == row["spread_side"]
    assert g["markets"]["total"]["line"] == pytest.approx(row["total_line"], nan_ok=True)
    one = client.get(f"/v1/games/{g['game_id']}").json()
    assert one["prediction"]["markets"] == g["markets"]

    # the evening: a run just before the last tip stores the books' closing snapshots (and
    # re-scores; its rows of games already under way get no CLV), then the evaluation
    tips = pd.to_datetime(t["tip_ts"], utc=True)
    steps.run(date=day, as_of=(tips.max() - pd.Timedelta(minutes=5)).isoformat(), root=root,
              n_sims=500, stake_policy=loose)
    after = tips.max() + pd.Timedelta(hours=4)
    games = scored_games(day, root, after)
    rows, summary = clv_record(log, [day], games, after, root)
    morning = rows[rows["run_as_of_ts"] == f"{day}T16:00:00+00:00"].set_index("game_id")
    assert len(morning) == len(t)
    close = pd.to_datetime(morning["clv_close_ts"], utc=True)
    assert (close < tips.set_axis(t["game_id"]).loc[morning.index]).all()
    assert (morning["spread_clv_points"].notna() == (t.set_index("game_id").loc[
        morning.index, "spread_side"] != "none")).all()
    stored = log.read(day).set_index(["game_id", "run_as_of_ts"])
    assert stored["clv_close_ts"].notna().any()
    assert summary["spread"]["n"] > 0 and summary["spread"]["mean_clv"] is not None
