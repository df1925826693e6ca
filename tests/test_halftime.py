"""The in-game (halftime) model: properties on simulated games, round trip, and the season-blocked
training of the backtest's halftime evaluation."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_assets.backtest import _halftime_season
from pipeline_assets.models import halftime as HT
from tipoff_core.domain import metrics as M

QUARTER_SD = 6.0  # sd of one quarter's margin in the simulation


def simulate_results(n: int, seed: int = 0, quarter_sd: float = QUARTER_SD
                     ) -> tuple[pd.DataFrame, pd.Series]:
    """Games whose quarter margins are N(strength / 4, quarter_sd^2); the pregame probability is
    the true P(home win) of the strength (so the model's mu is the true expected margin)."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(2.0, 6.0, n)  # expected full-game home margin
    q_margin = rng.normal(strength[:, None] / 4, quarter_sd, (n, 4))
    away = rng.integers(20, 30, (n, 4)).astype(float)
    home = away + q_margin  # fractional points are fine for the model
    final = home.sum(axis=1) - away.sum(axis=1)
    df = pd.DataFrame({"game_id": [f"G{i:05d}" for i in range(n)],
                       "home_pts": home.sum(axis=1), "away_pts": away.sum(axis=1)})
    for k, q in enumerate(HT.QUARTERS):
        df[f"home_{q}"], df[f"away_{q}"] = home[:, k], away[:, k]
    sd_game = 2 * quarter_sd
    from scipy.special import ndtr
    p = pd.Series(ndtr(strength / sd_game), index=df["game_id"])
    assert np.isfinite(final).all()
    return df, p


@pytest.fixture(scope="module")
def fitted() -> tuple[HT.HalftimeModel, pd.DataFrame]:
    res, p = simulate_results(6000, seed=1)
    frame = HT.checkpoint_frame(res, p)
    return HT.fit_halftime_model(frame), frame


def test_fit_recovers_the_remaining_noise_sd(fitted):
    model, _ = fitted
    for t in HT.CHECKPOINTS:
        # the remaining (4 - t) quarters carry sd quarter_sd * sqrt(4 - t)
        assert model.checkpoints[t].sd == pytest.approx(QUARTER_SD * np.sqrt(4 - t), rel=0.05)
        a, b, c = model.checkpoints[t].coef
        assert b == pytest.approx(1.0, abs=0.05)  # the lead is kept
    # mu = PREGAME_SIGMA * probit(p) = strength * PREGAME_SIGMA / (2 quarter_sd): c_t ~ the
    # remaining share of the game, rescaled
    scale = 2 * QUARTER_SD / HT.PREGAME_SIGMA
    for t in HT.CHECKPOINTS:
        assert model.checkpoints[t].coef[2] == pytest.approx((4 - t) / 4 * scale, abs=0.06)


def test_the_model_beats_both_baselines_on_held_out_simulated_games(fitted):
    model, frame = fitted
    res, p = simulate_results(3000, seed=2)
    te = HT.checkpoint_frame(res, p)
    base = HT.fit_score_only(frame)
    for t in HT.CHECKPOINTS:
        r = te[te["period"] == t]
        y = r["label_home_win"].to_numpy()
        ll = M.log_loss(y, model.predict(t, r["margin"], r["p_pregame"])["p_home_win"])
        assert ll < M.log_loss(y, r["p_pregame"]) - 0.02
        assert ll < M.log_loss(y, base.predict_proba(t, r["margin"])) - 0.005


def test_the_pregame_input_matters_less_later(fitted):
    model, _ = fitted
    swing = [float(np.diff(model.predict(t, [0.0, 0.0], [0.3, 0.7])["p_home_win"])[0])
             for t in HT.CHECKPOINTS]
    assert swing[0] > swing[1] > swing[2] > 0


@settings(max_examples=60, deadline=None)
@given(period=st.sampled_from(HT.CHECKPOINTS),
       margin=st.floats(-40, 40, allow_nan=False),
       lead=st.floats(0.5, 30, allow_nan=False),
       p=st.floats(0.0, 1.0, allow_nan=False))
def test_probabilities_and_quantiles_are_well_formed(fitted, period, margin, lead, p):
    model, _ = fitted
    out = model.predict(period, [margin, margin + lead], [p, p])
    assert list(out.columns) == ["p_home_win", "margin_mean", "margin_sd", "margin_p10",
                                 "margin_p50", "margin_p90"]
    assert ((out["p_home_win"] >= 0) & (out["p_home_win"] <= 1)).all()
    # a larger home lead never lowers P(home win) or the expected margin
    assert out["p_home_win"].iloc[1] >= out["p_home_win"].iloc[0]
    assert out["margin_mean"].iloc[1] > out["margin_mean"].iloc[0]
    assert (out["margin_p10"] < out["margin_p50"]).all()
    assert (out["margin_p50"] < out["margin_p90"]).all()
    assert (out["margin_sd"] > 0).all()


def test_round_trip_through_json_gives_identical_predictions(fitted):
    model, frame = fitted
    back = HT.HalftimeModel.from_dict(json.loads(json.dumps(model.to_dict())))
    a = model.predict(frame["period"], frame["margin"], frame["p_pregame"])
    b = back.predict(frame["period"], frame["margin"], frame["p_pregame"])
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    with pytest.raises(ValueError, match="not a halftime model"):
        HT.HalftimeModel.from_dict({**model.to_dict(), "version": 99})


def test_predict_rejects_an_unknown_period(fitted):
    model, _ = fitted
    with pytest.raises(ValueError, match="period must be one of"):
        model.predict(4, 0.0, 0.5)


def test_checkpoint_frame_drops_games_without_quarter_scores_or_pregame_probability():
    res, p = simulate_results(5, seed=3)
    res["home_q3"] = res["home_q3"].astype("Float64")
    res.loc[1, "home_q3"] = pd.NA        # a partial line
    p = p.drop(res.loc[2, "game_id"])    # no pregame probability
    f = HT.checkpoint_frame(res, p)
    kept = {"G00000", "G00003", "G00004"}
    assert set(f["game_id"]) == kept and len(f) == 3 * len(kept)
    g = f[f["game_id"] == "G00000"].set_index("period")
    r = res.iloc[0]
    assert g.loc[2, "margin"] == pytest.approx(r["home_q1"] + r["home_q2"] - r["away_q1"]
                                               - r["away_q2"])
    assert g.loc[3, "final_margin"] == pytest.approx(r["home_pts"] - r["away_pts"])
    assert set(f["label_home_win"]) <= {0.0, 1.0}
    empty = HT.checkpoint_frame(res.iloc[[1]], p)
    assert len(empty) == 0 and list(empty.columns) == HT.FRAME_COLUMNS


def test_fit_refuses_too_few_rows():
    res, p = simulate_results(10, seed=4)
    with pytest.raises(ValueError, match="training rows at period"):
        HT.fit_halftime_model(HT.checkpoint_frame(res, p))


def test_backtest_halftime_trains_only_on_games_before_the_test_season():
    """Even when handed probabilities of test-season games as training input, the season block
    trains on games dated before the season's first game only."""
    res, p = simulate_results(900, seed=5)
    days = np.sort(np.datetime64("2018-10-16") + np.arange(900) // 5).astype("datetime64[D]")
    season = np.where(days < np.datetime64("2019-02-01"), "2018-19", "2019-20")
    G = pd.DataFrame({"game_id": res["game_id"], "season": season, "_day": days})
    test = season == "2019-20"
    events: list[dict] = []
    rows, info = _halftime_season(G, "2019-20", p[test].to_numpy(), p, res, events.append)
    assert len(events) == 1
    e = events[0]
    assert e["model"] == "halftime" and e["train_max_date"] < min(e["pred_dates"])
    assert info["train_games"] == int((~test).sum())
    assert len(rows) == 3 * int(test.sum())
    assert rows["p_model"].between(0, 1).all()
