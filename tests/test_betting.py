from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from tipoff_core.domain.betting import (
    american_to_decimal, american_to_prob, cover_prob, decimal_to_american, devig_moneyline,
    devig_two_way, edge, expected_value, fit_spread_sigma, kelly_fraction, overround,
    spread_to_prob, stake,
)

american = st.one_of(st.integers(-5000, -100), st.integers(100, 5000)).map(float)
prob = st.floats(0.01, 0.99)


def test_american_known_values():
    assert american_to_prob(-110) == pytest.approx(110 / 210)
    assert american_to_prob(150) == pytest.approx(0.4)
    assert american_to_prob(-200) == pytest.approx(2 / 3)
    assert american_to_prob(100) == american_to_prob(-100) == 0.5
    assert american_to_decimal(-110) == pytest.approx(1 + 100 / 110)
    assert american_to_decimal(150) == pytest.approx(2.5)
    assert american_to_decimal(-200) == pytest.approx(1.5)
    np.testing.assert_allclose(american_to_prob(np.array([-110, 150, np.nan])), [110 / 210, 0.4, np.nan])
    np.testing.assert_allclose(decimal_to_american(np.array([2.5, 1.5])), [150, -200])


def test_invalid_american_rejected():
    with pytest.raises(ValueError):
        american_to_prob(50)


@given(american)
def test_decimal_and_prob_are_consistent(a):
    # with no vig the implied probability is the reciprocal of decimal odds
    assert american_to_prob(a) == pytest.approx(1 / american_to_decimal(a), rel=1e-12)
    assert decimal_to_american(american_to_decimal(a)) == pytest.approx(a if abs(a) != 100 else 100.0)


def test_devig_standard_line():
    ph, pa = devig_moneyline(-110, -110)
    assert (ph, pa) == (0.5, 0.5)
    ph, pa = devig_two_way(american_to_prob(-150), american_to_prob(130))
    assert ph == pytest.approx(0.6 / (0.6 + 100 / 230))
    assert overround(american_to_prob(-110), american_to_prob(-110)) == pytest.approx(220 / 210 - 1)


@settings(max_examples=200)
@given(american, american, st.sampled_from(["multiplicative", "power"]))
def test_devig_sums_to_one_and_preserves_order(a1, a2, method):
    p1, p2 = american_to_prob(a1), american_to_prob(a2)
    f1, f2 = devig_two_way(p1, p2, method=method)
    assert f1 + f2 == pytest.approx(1.0, abs=1e-12)
    assert 0 < f1 < 1 and 0 < f2 < 1
    if p1 > p2:
        assert f1 >= f2


def test_power_devig_shades_longshot_more():
    p1, p2 = american_to_prob(-400), american_to_prob(300)
    m1, m2 = devig_two_way(p1, p2)
    w1, w2 = devig_two_way(p1, p2, method="power")
    assert w2 < m2 and w1 > m1
    # the solved exponent k satisfies p1^k + p2^k = 1 exactly
    k = np.log(w1) / np.log(p1)
    assert p1 ** k + p2 ** k == pytest.approx(1.0, abs=1e-12)
    v1, v2 = devig_two_way(np.array([p1, 0.5, np.nan]), np.array([p2, 0.5, 0.5]), method="power")
    np.testing.assert_allclose(v1, [w1, 0.5, np.nan])


def test_spread_to_prob():
    assert spread_to_prob(0.0, 12.0) == 0.5
    assert spread_to_prob(-12.0, 12.0) == pytest.approx(norm.cdf(1))
    np.testing.assert_allclose(spread_to_prob(np.array([-5.5, 3.0]), 13.0), norm.cdf([5.5 / 13, -3 / 13]))
    assert cover_prob(5.0, -5.0, 12.0) == 0.5
    assert cover_prob(3.0, -5.0, 10.0) == pytest.approx(norm.cdf(-0.2))


def test_fit_spread_sigma_recovers_sigma():
    rng = np.random.default_rng(1)
    spreads = rng.uniform(-12, 12, 50_000)
    margins = -spreads + rng.normal(0, 12.5, spreads.size)
    margins[:10] = np.nan
    assert fit_spread_sigma(spreads, margins) == pytest.approx(12.5, rel=0.01)
    assert fit_spread_sigma([-3.0, 2.0], [5.0, -4.0]) == pytest.approx(np.sqrt((4 + 4) / 2))


def test_kelly_known_values():
    # p=0.55 at even money: f = 2*0.55 - 1 = 0.10
    assert kelly_fraction(0.55, 2.0) == pytest.approx(0.10)
    assert kelly_fraction(0.5, 2.0) == 0.0
    assert kelly_fraction(0.4, 2.0) == 0.0
    assert kelly_fraction(0.6, 1.0 + 100 / 110) == pytest.approx((0.6 * (1 + 100 / 110) - 1) / (100 / 110))
    assert stake(0.55, 100) == pytest.approx(0.025)  # quarter Kelly of 0.10
    assert stake(0.9, 100) == 0.05  # capped
    assert stake(0.5, -110) == 0.0
    assert stake(np.nan, -110) == 0.0
    assert edge(0.55, 0.5) == pytest.approx(0.05)
    assert expected_value(0.55, 100) == pytest.approx(0.10)


@settings(max_examples=300)
@given(prob, american, st.floats(0, 1), st.floats(0, 1))
def test_kelly_and_stake_properties(p, a, fraction, cap):
    d = american_to_decimal(a)
    f = kelly_fraction(p, d)
    if p * d <= 1:
        assert f == 0.0
        assert stake(p, a, fraction, cap) == 0.0
    else:
        assert 0 < f <= 1
    s = stake(p, a, fraction, cap)
    assert 0.0 <= s <= cap
    assert s <= fraction * f + 1e-15


@given(st.lists(st.tuples(prob, american), min_size=1, max_size=20))
def test_vectorized_matches_scalar(pairs):
    p = np.array([x[0] for x in pairs])
    a = np.array([x[1] for x in pairs])
    vec = stake(p, a)
    assert vec.shape == p.shape
    np.testing.assert_allclose(vec, [stake(pi, ai) for pi, ai in pairs])
