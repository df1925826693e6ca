"""Odds arithmetic: implied probabilities, de-vigging, spread <-> probability, Kelly staking.

Conventions: American moneylines (``-150`` favourite, ``+130`` underdog); ``home_spread`` is the home
team's line (negative = home favoured), so the market's expected home margin is ``-home_spread``.
Every function is vectorized over numpy arrays (scalars in -> scalars out) and propagates NaN.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

def _out(x: np.ndarray):
    return x.item() if np.ndim(x) == 0 else x


def _check_american(a: np.ndarray) -> None:
    bad = np.isfinite(a) & (np.abs(a) < 100)
    if bad.any():
        raise ValueError(f"american odds must be <= -100 or >= +100, got {a[bad][:5].tolist()}")


def american_to_prob(american):
    """Implied probability of an American price, vig included (the two sides sum to > 1)."""
    a = np.asarray(american, dtype=float)
    _check_american(np.atleast_1d(a))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(a < 0, -a / (-a + 100.0), 100.0 / (a + 100.0))
    return _out(p)


def american_to_decimal(american):
    """Decimal odds (total return per unit staked, stake included)."""
    a = np.asarray(american, dtype=float)
    _check_american(np.atleast_1d(a))
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(a < 0, 1.0 + 100.0 / -a, 1.0 + a / 100.0)
    return _out(d)


def decimal_to_american(decimal):
    d = np.asarray(decimal, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(d >= 2.0, (d - 1.0) * 100.0, -100.0 / (d - 1.0))
    return _out(a)


def overround(p_home_implied, p_away_implied):
    """Book margin: sum of implied probabilities minus 1."""
    return _out(np.asarray(p_home_implied, float) + np.asarray(p_away_implied, float) - 1.0)


def devig_two_way(p_home_implied, p_away_implied, method: str = "multiplicative"):
    """Fair (vig-free) probabilities of a two-way market from the two implied probabilities.

    ``multiplicative`` (a.k.a. normalized): p_i / (p_1 + p_2).
    ``power``: p_i ** k with k solved so that p_1 ** k + p_2 ** k = 1 (shades longshots more,
    matching the favourite-longshot bias).  Both return (fair_home, fair_away) summing to 1.
    """
    p1 = np.asarray(p_home_implied, dtype=float)
    p2 = np.asarray(p_away_implied, dtype=float)
    p1, p2 = np.broadcast_arrays(p1, p2)
    if method in ("multiplicative", "normalized", "normalize"):
        s = p1 + p2
        with np.errstate(invalid="ignore", divide="ignore"):
            return _out(p1 / s), _out(p2 / s)
    if method != "power":
        raise ValueError(f"unknown devig method {method!r} (multiplicative | power)")
    ok = np.isfinite(p1) & np.isfinite(p2) & (p1 > 0) & (p1 < 1) & (p2 > 0) & (p2 < 1)
    k = np.ones(p1.shape)
    l1 = np.log(np.where(ok, p1, 0.5))
    l2 = np.log(np.where(ok, p2, 0.5))
    # Newton on f(k) = p1^k + p2^k - 1 (convex, decreasing): start at k=1, monotone convergence
    for _ in range(50):
        a, b = np.exp(k * l1), np.exp(k * l2)
        f = a + b - 1.0
        step = f / (a * l1 + b * l2)
        k = k - step
        if np.all(np.abs(step) < 1e-15):
            break
    f1 = np.where(ok, np.exp(k * l1), np.nan)
    f2 = np.where(ok, np.exp(k * l2), np.nan)
    # renormalize away the last ulp so the pair sums to 1 up to rounding
    s = f1 + f2
    return _out(f1 / s), _out(f2 / s)


def devig_moneyline(home_ml, away_ml, method: str = "multiplicative"):
    """Fair (home, away) win probabilities from a pair of American moneylines."""
    return devig_two_way(american_to_prob(home_ml), american_to_prob(away_ml), method=method)


def spread_to_prob(home_spread, sigma=12.0):
    """P(home wins) implied by a point spread: margin ~ N(-home_spread, sigma)."""
    s = np.asarray(home_spread, dtype=float)
    return _out(ndtr(-s / np.asarray(sigma, dtype=float)))


def cover_prob(mu_margin, home_spread, sigma=12.0):
    """P(home covers) = P(margin + home_spread > 0) for margin ~ N(mu_margin, sigma) (continuous)."""
    mu = np.asarray(mu_margin, dtype=float)
    s = np.asarray(home_spread, dtype=float)
    return _out(ndtr((mu + s) / np.asarray(sigma, dtype=float)))


def fit_spread_sigma(home_spreads, margins) -> float:
    """Maximum-likelihood sigma for margin ~ N(-home_spread, sigma) (mean fixed by the line).

    sigma_hat = sqrt(mean((margin + home_spread) ** 2)) over pairs where both are finite.
    """
    s = np.asarray(home_spreads, dtype=float).ravel()
    m = np.asarray(margins, dtype=float).ravel()
    if s.shape != m.shape:
        raise ValueError(f"fit_spread_sigma: shapes differ {s.shape} vs {m.shape}")
    ok = np.isfinite(s) & np.isfinite(m)
    if not ok.any():
        raise ValueError("fit_spread_sigma: no finite (spread, margin) pairs")
    r = m[ok] + s[ok]
    return float(np.sqrt(np.mean(r * r)))


def edge(p_model, p_market_devigged):
    """Model probability minus the vig-free market probability."""
    return _out(np.asarray(p_model, dtype=float) - np.asarray(p_market_devigged, dtype=float))


def kelly_fraction(p, decimal_odds):
    """Full-Kelly bankroll fraction (p*d - 1) / (d - 1), floored at 0 (no bet without an edge)."""
    p = np.asarray(p, dtype=float)
    d = np.asarray(decimal_odds, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (p * d - 1.0) / (d - 1.0)
    f = np.where(np.isnan(f), np.nan, np.clip(f, 0.0, 1.0))
    f = np.where((d > 1.0) | np.isnan(d), f, 0.0)
    return _out(f)


def stake(p, american, fraction: float = 0.25, cap: float = 0.05):
    """Fractional-Kelly stake as a fraction of bankroll: min(fraction * kelly, cap); 0 with no edge.

    NaN inputs give a 0 stake (never bet on missing information).
    """
    if not (0 <= fraction <= 1) or not (0 <= cap <= 1):
        raise ValueError("fraction and cap must be in [0, 1]")
    f = np.asarray(kelly_fraction(p, american_to_decimal(american)), dtype=float)
    s = np.minimum(fraction * np.nan_to_num(f, nan=0.0), cap)
    return _out(s)


def expected_value(p, american):
    """Expected profit per unit staked: p * (d - 1) - (1 - p)."""
    p = np.asarray(p, dtype=float)
    d = np.asarray(american_to_decimal(american), dtype=float)
    return _out(p * d - 1.0)


# ------------------------------------------------------------------------------------------
# spreads and totals: markets that can push
# ------------------------------------------------------------------------------------------
# The price assumed for a side whose book quotes a line but no price (the archive, some feeds):
# the standard -110 of both sides of a spread or total.
ASSUMED_PRICE = -110.0


def push_kelly_fraction(p_win, p_push, decimal_odds):
    """Full-Kelly fraction of a bet that can push (stake returned): maximizes
    ``p_win * log(1 + f b) + p_lose * log(1 - f)`` with ``b = d - 1`` and
    ``p_lose = 1 - p_win - p_push``, giving ``f = (p_win b - p_lose) / (b (p_win + p_lose))``,
    floored at 0.  With ``p_push = 0`` it is :func:`kelly_fraction`."""
    pw = np.asarray(p_win, dtype=float)
    pp = np.asarray(p_push, dtype=float)
    d = np.asarray(decimal_odds, dtype=float)
    pl = np.clip(1.0 - pw - pp, 0.0, 1.0)
    b = d - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (pw * b - pl) / (b * (pw + pl))
    f = np.where(np.isnan(f), np.nan, np.clip(f, 0.0, 1.0))
    # a sure push (nothing at risk) or a non-positive payout is never a bet
    f = np.where(((b > 0) & (pw + pl > 0)) | np.isnan(d) | np.isnan(pw), f, 0.0)
    return _out(f)


def push_stake(p_win, p_push, american, fraction: float = 0.25, cap: float = 0.05):
    """Fractional push-aware Kelly stake: ``min(fraction * push_kelly_fraction, cap)``; NaN -> 0."""
    if not (0 <= fraction <= 1) or not (0 <= cap <= 1):
        raise ValueError("fraction and cap must be in [0, 1]")
    f = np.asarray(push_kelly_fraction(p_win, p_push, american_to_decimal(american)), dtype=float)
    return _out(np.minimum(fraction * np.nan_to_num(f, nan=0.0), cap))


def two_way_side(p_win, p_push, price, other_price, fraction: float = 0.25, cap: float = 0.05):
    """One side of a two-way market that can push (a spread or total side at a book's line).

    ``p_win`` / ``p_push``: the model's probabilities that the side wins / pushes at the line;
    ``price`` / ``other_price``: the American prices of this side and the opposite one (NaN: not
    quoted -> :data:`ASSUMED_PRICE`).  Books price the no-push outcome, so the market's fair
    probability is the multiplicative de-vig of the two prices, and the model's comparable
    probability is the win probability given no push.  Returns a dict of arrays:

    ``price`` (as taken, assumed filled in), ``assumed`` (either price was assumed),
    ``p_fair`` (de-vigged market), ``edge`` (``p_win / (1 - p_push) - p_fair``; the two sides'
    edges are opposite), ``ev`` (expected profit per unit staked, pushes returning the stake),
    ``stake`` (:func:`push_stake`).
    """
    pw = np.asarray(p_win, dtype=float)
    pp = np.asarray(p_push, dtype=float)
    a = np.asarray(price, dtype=float)
    o = np.asarray(other_price, dtype=float)
    assumed = np.isnan(a) | np.isnan(o)
    a = np.where(np.isnan(a), ASSUMED_PRICE, a)
    o = np.where(np.isnan(o), ASSUMED_PRICE, o)
    fair, _ = devig_two_way(american_to_prob(a), american_to_prob(o))
    pl = np.clip(1.0 - pw - pp, 0.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = pw / (pw + pl)
    d = np.asarray(american_to_decimal(a), dtype=float)
    return {"price": _out(a), "assumed": _out(assumed), "p_fair": _out(np.asarray(fair, float)),
            "edge": _out(cond - fair), "ev": _out(pw * (d - 1.0) - pl),
            "stake": push_stake(pw, pp, a, fraction, cap)}
