from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from tipoff_core.domain.montecarlo import (
    QUANTILES, SUMMARY_FIELDS, cover_over_probs, margin_to_prob, prob_to_margin, simulate_scores,
    simulate_slate,
)


def _se(p, n):
    return np.sqrt(p * (1 - p) / n)


def test_pick_em_is_a_coin_flip():
    r = simulate_slate(np.zeros(4), 225.0, 12.0, 18.0, 0.0, n_sims=20_000, seed=3)
    np.testing.assert_allclose(r["p_home_win"], 0.5, atol=5 * _se(0.5, 20_000))
    np.testing.assert_allclose(r["margin_mean"], 0.0, atol=0.5)
    assert np.all(r["p_ot"] > 0.01) and np.all(r["p_ot"] < 0.08)  # ~P(|margin| < 1)


def test_twelve_point_favourite_matches_normal_cdf():
    r = simulate_slate([12.0], [220.0], 12.0, 18.0, 0.0, n_sims=20_000, seed=1)
    assert r["p_home_win"][0] == pytest.approx(norm.cdf(1.0), abs=5 * _se(0.84, 20_000))
    assert r["margin_mean"][0] == pytest.approx(12.0, abs=0.5)
    assert r["margin_sd"][0] == pytest.approx(12.0, rel=0.03)
    assert r["total_mean"][0] == pytest.approx(220.0, abs=1.0)
    assert r["margin_p50"][0] == pytest.approx(12.0, abs=1.0)
    assert r["margin_p05"][0] == pytest.approx(12 + 12 * norm.ppf(0.05), abs=1.5)
    assert r["total_p95"][0] == pytest.approx(220 + 18 * norm.ppf(0.95), abs=2.0)


def test_deterministic_for_seed_and_thread_count():
    args = (np.array([3.0, -2.0, 0.5, 7.0, np.nan]), np.array([230.0, 210.0, 220.0, 225.0, 220.0]), 12.0, 18.0, 0.2)
    a = simulate_slate(*args, n_sims=5_000, seed=42, home_spread=-3.5, total_line=220.5)
    b = simulate_slate(*args, n_sims=5_000, seed=42, home_spread=-3.5, total_line=220.5)
    c = simulate_slate(*args, n_sims=5_000, seed=42, home_spread=-3.5, total_line=220.5, n_threads=2)
    d = simulate_slate(*args, n_sims=5_000, seed=43, home_spread=-3.5, total_line=220.5)
    for f in SUMMARY_FIELDS:
        np.testing.assert_array_equal(a[f], b[f])
        np.testing.assert_array_equal(a[f], c[f])
    assert not np.array_equal(a["margin_mean"][:4], d["margin_mean"][:4])
    assert all(np.isnan(a[f][4]) for f in SUMMARY_FIELDS)  # NaN parameter -> NaN row


def test_games_do_not_share_random_streams():
    # changing game 0's parameters leaves game 1's draws untouched
    a = simulate_slate([0.0, 5.0], [220.0, 220.0], seed=7, n_sims=2_000)
    b = simulate_slate([9.0, 5.0], [240.0, 220.0], seed=7, n_sims=2_000)
    for f in SUMMARY_FIELDS:
        np.testing.assert_array_equal(a[f][1], b[f][1])


def test_summary_matches_raw_scores():
    mu_m, mu_t = np.array([4.0, -6.0, 0.0]), np.array([228.0, 215.0, 221.0])
    spread, line = np.array([-4.0, 6.5, np.nan]), np.array([228.0, np.nan, 220.5])
    r = simulate_slate(mu_m, mu_t, 11.5, 17.0, 0.15, n_sims=3_001, seed=9, home_spread=spread, total_line=line)
    home, away = simulate_scores(mu_m, mu_t, 11.5, 17.0, 0.15, n_sims=3_001, seed=9)
    assert home.shape == (3, 3_001) and home.dtype == np.int32
    margin, total = home - away, home + away
    assert np.all(margin != 0)  # overtime resolves every tie
    assert np.all(home >= 0) and np.all(away >= 0)
    np.testing.assert_allclose(r["p_home_win"], (margin > 0).mean(1), rtol=0, atol=1e-15)
    np.testing.assert_allclose(r["margin_mean"], margin.mean(1), rtol=1e-12)
    np.testing.assert_allclose(r["margin_sd"], margin.std(1), rtol=1e-9)
    np.testing.assert_allclose(r["total_sd"], total.std(1), rtol=1e-9)
    np.testing.assert_allclose(r["home_pts_mean"], home.mean(1), rtol=1e-12)
    for q, name in zip(QUANTILES, ("p05", "p25", "p50", "p75", "p95")):
        np.testing.assert_allclose(r[f"margin_{name}"], np.quantile(margin, q, axis=1), rtol=1e-12)
        np.testing.assert_allclose(r[f"total_{name}"], np.quantile(total, q, axis=1), rtol=1e-12)
    pc, po, pps, ppt = cover_over_probs(margin, total, spread, line)
    np.testing.assert_array_equal(pc, r["p_home_cover"])
    np.testing.assert_array_equal(po, r["p_over"])
    np.testing.assert_array_equal(pps, r["p_push_spread"])
    np.testing.assert_array_equal(ppt, r["p_push_total"])
    # explicit counts, NaN lines -> NaN
    np.testing.assert_allclose(pc[:2], ((margin + spread[:, None]) > 0).mean(1)[:2])
    np.testing.assert_allclose(pps[0], ((margin[0] - 4) == 0).mean())
    assert np.isnan(pc[2]) and np.isnan(pps[2]) and np.isnan(po[1]) and np.isnan(ppt[1])
    assert ppt[2] == 0.0  # half-point line never pushes


def test_cover_prob_consistent_with_normal_cdf():
    n = 40_000
    r = simulate_slate([5.0], [224.0], 12.0, 18.0, 0.0, n_sims=n, seed=11, home_spread=[-2.5], total_line=[230.5])
    # home covers -2.5 iff margin >= 3 (integers): P(N(5,12) > 2.5), continuity-corrected
    assert r["p_home_cover"][0] == pytest.approx(norm.cdf((5 - 2.5) / 12), abs=0.012)
    # totals include overtime: with rho=0 a regulation tie is independent of the total, and an OT
    # adds N(224 * 5/48, 18 * sqrt(5/48)) points
    f, p_ot = 5 / 48, r["p_ot"][0]
    p_over_reg = norm.sf(230.5, 224, 18)
    p_over_ot = norm.sf(230.5, 224 * (1 + f), 18 * np.sqrt(1 + f))
    assert r["p_over"][0] == pytest.approx((1 - p_ot) * p_over_reg + p_ot * p_over_ot, abs=0.012)
    assert r["total_mean"][0] == pytest.approx(224 + p_ot * 224 * f, abs=0.5)
    assert r["p_push_spread"][0] == 0.0 and r["p_push_total"][0] == 0.0
    r = simulate_slate([0.0], [224.0], 12.0, 18.0, 0.0, n_sims=n, seed=11, home_spread=[-3.0], total_line=[224.0])
    assert r["p_push_spread"][0] == pytest.approx(norm.pdf(3 / 12) / 12, abs=0.006)  # ~ density * 1 point
    assert r["p_home_cover"][0] + r["p_push_spread"][0] == pytest.approx(norm.cdf(-2.5 / 12), abs=0.012)


def test_correlation_between_margin_and_total():
    home, away = simulate_scores([0.0], [220.0], 12.0, 18.0, 0.6, n_sims=20_000, seed=2)
    m, t = (home - away)[0], (home + away)[0]
    assert np.corrcoef(m, t)[0, 1] == pytest.approx(0.6, abs=0.03)


def test_cover_over_probs_single_game_and_validation():
    pc, po, pps, ppt = cover_over_probs(np.array([3, -2, 5, 1]), np.array([200, 210, 220, 230]), -1.0, 215.0)
    assert (pc, po, pps, ppt) == (0.5, 0.5, 0.25, 0.0)
    with pytest.raises(ValueError):
        simulate_slate([0.0], [220.0], -1.0, 18.0, 0.0)
    with pytest.raises(ValueError):
        simulate_slate([0.0], [220.0], 12.0, 18.0, 1.5)
    with pytest.raises(ValueError):
        simulate_slate([0.0, 1.0], [220.0, 221.0, 222.0], 12.0, 18.0, 0.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.001, 0.999), st.floats(5.0, 20.0))
def test_prob_margin_link_roundtrip(p, sd):
    assert margin_to_prob(prob_to_margin(p, sd), sd) == pytest.approx(p, abs=1e-12)
    assert prob_to_margin(0.5, sd) == 0.0
    assert margin_to_prob(12.0) == pytest.approx(norm.cdf(1))
    assert np.isfinite(prob_to_margin(1.0))


def test_classifier_probability_survives_simulation():
    p = np.array([0.3, 0.5, 0.75])
    mu = prob_to_margin(p, 12.0)
    r = simulate_slate(mu, 220.0, 12.0, 18.0, 0.0, n_sims=20_000, seed=5)
    np.testing.assert_allclose(r["p_home_win"], p, atol=0.02)
