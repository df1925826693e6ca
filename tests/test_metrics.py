from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tipoff_core.domain.metrics import (
    accuracy, brier, calibration_table, expected_calibration_error, interval_coverage, log_loss, mae,
    psi, pythagorean_prob, rmse,
)

probs = arrays(np.float64, st.integers(2, 200), elements=st.floats(0.001, 0.999))


def test_known_values():
    y = np.array([1, 0, 1, 1])
    p = np.array([0.9, 0.2, 0.6, 0.4])
    assert log_loss(y, p) == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.6, 0.4])))
    assert brier(y, p) == pytest.approx(np.mean([0.01, 0.04, 0.16, 0.36]))
    assert accuracy(y, p) == 0.75
    assert mae([1, 2, 3], [2, 2, 5]) == 1.0
    assert rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(np.sqrt(5 / 3))
    assert interval_coverage([1, 5, 10], [0, 6, 10], [2, 7, 12]) == pytest.approx(2 / 3)


def test_log_loss_clips_and_drops_nan():
    assert log_loss([1], [0.0]) == pytest.approx(-np.log(1e-15))
    assert log_loss([0], [1.0]) == pytest.approx(-np.log(1e-15), rel=1e-3)  # log1p(-(1-1e-15))
    assert log_loss([1, 0, 1], [0.8, np.nan, 0.8]) == pytest.approx(-np.log(0.8))


@settings(max_examples=100, deadline=None)
@given(probs, st.data())
def test_agrees_with_sklearn(p, data):
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=p.size, max_size=p.size)))
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p, labels=[0, 1]), rel=1e-9)
    assert brier(y, p) == pytest.approx(skm.brier_score_loss(y, p, pos_label=1), rel=1e-9)
    assert accuracy(y, p) == pytest.approx(skm.accuracy_score(y, p > 0.5))
    yhat = p * 10
    assert mae(y, yhat) == pytest.approx(skm.mean_absolute_error(y, yhat))
    assert rmse(y, yhat) == pytest.approx(np.sqrt(skm.mean_squared_error(y, yhat)))


def test_calibration_table():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(float)
    t = calibration_table(p, y, bins=10)
    assert list(t.columns) == ["bin", "lo", "hi", "count", "mean_pred", "mean_obs"]
    assert len(t) == 10 and t["count"].sum() == p.size
    np.testing.assert_allclose(t["mean_pred"], np.arange(10) / 10 + 0.05, atol=0.002)
    np.testing.assert_allclose(t["mean_obs"], t["mean_pred"], atol=0.01)
    assert expected_calibration_error(p, y) < 0.01
    # edges: 1.0 lands in the last bin, 0.1 starts the second; empty bins listed with NaN
    t = calibration_table([0.0, 0.1, 1.0], [0, 1, 1], bins=10)
    assert t["count"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert np.isnan(t.loc[2, "mean_pred"])
    q = calibration_table(p, y, bins=5, strategy="quantile")
    np.testing.assert_allclose(q["count"], p.size / 5, rtol=0.001)


def test_psi():
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 20_000)
    assert psi(ref, ref) == pytest.approx(0.0, abs=1e-12)
    assert psi(ref, rng.normal(0, 1, 20_000)) < 0.01
    assert psi(ref, rng.normal(0.5, 1, 20_000)) > 0.2
    assert psi(ref, rng.normal(0, 1, 20_000) * 2) > 0.2
    # discrete sample with duplicated quantiles, and an actual sample entirely outside: finite, large
    disc = rng.integers(0, 3, 5_000).astype(float)
    assert psi(disc, disc) == pytest.approx(0.0, abs=1e-12)
    big = psi(disc, np.full(100, 10.0))
    assert np.isfinite(big) and big > 1


@given(arrays(np.float64, st.integers(10, 300), elements=st.floats(-100, 100)),
       arrays(np.float64, st.integers(10, 300), elements=st.floats(-100, 100)))
def test_psi_nonnegative(e, a):
    assert psi(e, a) >= 0.0


def test_pythagorean():
    assert pythagorean_prob(110, 110) == 0.5
    assert pythagorean_prob(0, 0) == 0.5
    assert pythagorean_prob(115, 105) == pytest.approx(115 ** 14 / (115 ** 14 + 105 ** 14))
    assert pythagorean_prob(105, 115) == pytest.approx(1 - pythagorean_prob(115, 105))
    np.testing.assert_allclose(pythagorean_prob(np.array([9000.0, 100.0]), np.array([8000.0, 0.0])),
                               [9 ** 14 / (9 ** 14 + 8 ** 14), 1.0])
    assert pythagorean_prob(110, 100, exponent=13.91) < pythagorean_prob(110, 100)
