"""The market: two books' moneylines, spreads and totals at three snapshots per game.

Two books (``simbook_a``, ``simbook_b``), 3 snapshots per game (open 10:00 local, 14:00, 30 min
before tip).  The market sees true ratings with noise (~1.5 pts on the closing spread), plus the
injury report visible at snapshot time (late news moves the line); spread and total rounded to
0.5, American moneylines from P(home) = Phi(margin / 12) with ~4.5% overround.

Spread and total prices (-105..-115, -110/-110 at a fair line): the book's number is rounded to a
half point, and the juice carries what the rounding left over -- P(home covers) =
Phi((expected margin + spread) / 12), P(over) = Phi((expected total - total) / 18), plus a little
book noise, with a 4.76% margin split in proportion -- so the prices move through the day with
the lines.  Their noise is drawn last, from a child stream, so every earlier value stays identical.
"""
from __future__ import annotations

import numpy as np

from resources.sources.simulated.games import HOME_ADV, _sub
from resources.sources.simulated.injuries import _P_OUT_GIVEN_STATUS
from resources.sources.simulated.league import N_TEAMS

BOOKS = ("simbook_a", "simbook_b")
BOOK_OVERROUND = (0.045, 0.0475)
MARKET_MARGIN_SD = 12.0
MARKET_TOTAL_SD = 18.0
LINE_OVERROUND = 2 * 110 / 210 - 1     # -110 / -110
PRICE_NOISE_SD = 0.004                 # book-to-book noise of P(cover) / P(over)
# P(side) kept where both sides' prices stay within -105..-115
_P_SIDE_MAX = (115 / 215) / (1 + LINE_OVERROUND)


def market_lines(r_mkt: np.random.Generator, tidx: np.ndarray, game_day: np.ndarray,
                 rating: np.ndarray, pace: np.ndarray, value: np.ndarray, statuses: tuple,
                 k_of: np.ndarray) -> list[tuple]:
    """Per book: (book, home_ml, away_ml, home_spread, total, home_spread_price,
    away_spread_price, over_price, under_price), each (G, 3) over the snapshots; `statuses` are
    the report statuses (morning, update 1, update 2) the snapshots see."""
    from scipy.special import ndtr

    H, A = tidx[:, 0], tidx[:, 1]
    G = len(H)
    st_m, st_1, st_2 = statuses
    bias = r_mkt.normal(0, 0.6, (len(BOOKS), N_TEAMS))
    e_open = r_mkt.normal(0, 1.7, G)
    e_mid = 0.75 * e_open + r_mkt.normal(0, 0.6, G)
    e_close = 0.6 * e_open + r_mkt.normal(0, 0.6, G)
    eps = np.stack([e_open, e_mid, e_close], 1)      # (G, 3)
    book_eps = r_mkt.normal(0, 0.35, (len(BOOKS), G, 3))
    tot_eps = r_mkt.normal(0, 2.5, (G, 3)) * np.array([1.0, 0.85, 0.75])
    book_tot_eps = r_mkt.normal(0, 0.8, (len(BOOKS), G, 3))
    pst = _P_OUT_GIVEN_STATUS
    vals_side = value[tidx]
    exp_miss = np.stack([
        (pst[st_m[tidx, k_of]] * vals_side).sum(-1),
        (pst[st_1[tidx, k_of]] * vals_side).sum(-1),
        (pst[st_2[tidx, k_of]] * vals_side).sum(-1),
    ], -1)                                             # (G, 2, 3)
    r_g = rating[game_day[:, None], tidx]              # (G, 2)
    exp_total = 225 + pace[H] + pace[A]
    # drawn after every draw above (from a child stream), so adding prices changed nothing else
    r_px = _sub(r_mkt)
    px_noise = r_px.normal(0, PRICE_NOISE_SD, (len(BOOKS), 2, G, 3))

    odds_rows = []
    for b, book in enumerate(BOOKS):
        mu_b = (r_g[:, 0:1] + bias[b, H][:, None] - exp_miss[:, 0]) \
            - (r_g[:, 1:2] + bias[b, A][:, None] - exp_miss[:, 1]) + HOME_ADV + eps \
            + book_eps[b]                              # (G, 3) expected home margin
        spread = -np.round(mu_b * 2) / 2
        spread = np.where(spread == 0, 0.0, spread)
        t_b = exp_total[:, None] + tot_eps + book_tot_eps[b]
        total = np.round(t_b * 2) / 2
        p = np.clip(ndtr(mu_b / MARKET_MARGIN_SD), 0.005, 0.995)
        qh, qa = _vig(p, BOOK_OVERROUND[b])
        p_cover = ndtr((mu_b + spread) / MARKET_MARGIN_SD) + px_noise[b, 0]
        p_over = ndtr((t_b - total) / MARKET_TOTAL_SD) + px_noise[b, 1]
        odds_rows.append((book, _american(qh), _american(qa), spread, total,
                          *_line_prices(p_cover), *_line_prices(p_over)))
    return odds_rows


def _line_prices(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """American prices of the two sides of a spread or total whose first side wins with
    probability `p`: the -110/-110 margin split in proportion, each side within -105..-115."""
    p = np.clip(p, 1 - _P_SIDE_MAX, _P_SIDE_MAX)
    return (_american_line(p * (1 + LINE_OVERROUND)),
            _american_line((1 - p) * (1 + LINE_OVERROUND)))


def _american_line(q: np.ndarray) -> np.ndarray:
    """American price of implied probability `q` >= 0.5 (a favourite's price), whole cents."""
    return np.round(-100 * q / (1 - q)).astype(float)


def _vig(p: np.ndarray, overround: float) -> tuple[np.ndarray, np.ndarray]:
    """Power-method margin: q_i = p_i ** lam with q_h + q_a = 1 + overround."""
    lam = np.full_like(p, 0.95)
    lp, lq = np.log(p), np.log1p(-p)
    for _ in range(30):
        a, b = np.exp(lam * lp), np.exp(lam * lq)
        f = a + b - (1 + overround)
        lam = lam - f / (a * lp + b * lq)
    return np.exp(lam * lp), np.exp(lam * lq)


def _american(q: np.ndarray) -> np.ndarray:
    ml = np.where(q >= 0.5, -100 * q / (1 - q), 100 * (1 - q) / q)
    big = np.abs(ml) >= 200
    ml = np.where(big, np.round(ml / 5) * 5, np.round(ml))
    return np.where(np.abs(ml) < 100, np.where(ml < 0, -100.0, 100.0), ml).astype(float)

