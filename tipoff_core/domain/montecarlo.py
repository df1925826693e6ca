"""Monte Carlo of NBA game outcomes (numba).

Model, per game and simulation:

- regulation (margin, total) ~ bivariate normal(mu_margin, mu_total, sd_margin, sd_total, rho),
  margin = home - away;
- integer scores ``home = round((total + margin) / 2)``, ``away = round((total - margin) / 2)``
  (floored at 0);
- a tied regulation score goes to overtime: each 5-minute OT is drawn from the same bivariate model
  scaled to 5/48 of a game (means x 5/48, standard deviations x sqrt(5/48), same rho) and rounded to
  points per team; OTs repeat until the score is not tied.  A real OT loop (rather than a coin flip)
  keeps the small home edge of the favourite in OT and adds the OT points to the total, which
  matters for totals/over-under.  After ``MAX_OT`` tied OTs (probability ~1e-15) a coin flip adds one
  point to a side, so the loop always terminates.

Randomness: game i of a slate draws from its own PCG64 stream spawned from
``SeedSequence(seed)`` (child i), so results are deterministic for a seed and a game's draws do not
depend on the other games' parameters.

Line conventions: ``home_spread`` is the home line (negative = home favoured); the home side covers
when ``margin + home_spread > 0`` and pushes when it equals 0; ``over`` wins when ``total >
total_line``.  NaN line -> NaN probabilities.
"""
from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from scipy.special import ndtr, ndtri

OT_FRACTION = 5.0 / 48.0
MAX_OT = 12
QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
_QNAMES = ("p05", "p25", "p50", "p75", "p95")

SUMMARY_FIELDS = (
    ("p_home_win", "margin_mean", "margin_sd")
    + tuple(f"margin_{q}" for q in _QNAMES)
    + ("total_mean", "total_sd")
    + tuple(f"total_{q}" for q in _QNAMES)
    + ("home_pts_mean", "away_pts_mean", "p_ot",
       "p_home_cover", "p_push_spread", "p_over", "p_push_total")
)
_Q = np.array(QUANTILES)


# --------------------------------------------------------------------------------------------
# link between win probability and mean margin (normal model)
# --------------------------------------------------------------------------------------------
def margin_to_prob(mu, sd=12.0):
    """P(home win) for margin ~ N(mu, sd): Phi(mu / sd)."""
    p = ndtr(np.asarray(mu, dtype=float) / np.asarray(sd, dtype=float))
    return p.item() if np.ndim(p) == 0 else p


def prob_to_margin(p, sd=12.0, eps: float = 1e-9):
    """Mean margin consistent with a win probability: sd * Phi^-1(p) (p clipped to [eps, 1-eps])."""
    p = np.clip(np.asarray(p, dtype=float), eps, 1.0 - eps)
    mu = np.asarray(sd, dtype=float) * ndtri(p)
    return mu.item() if np.ndim(mu) == 0 else mu


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _sim_game(rng, mu_m, mu_t, sd_m, sd_t, rho, home, away):
    """Fill ``home``/``away`` (int32, length n_sims) with simulated final scores; returns #OT games."""
    c = math.sqrt(max(0.0, 1.0 - rho * rho))
    f = OT_FRACTION
    sf = math.sqrt(f)
    ot_mu_m = mu_m * f
    ot_mu_t = mu_t * f
    ot_sd_m = sd_m * sf
    ot_sd_t = sd_t * sf
    n_ot_games = 0
    for j in range(home.shape[0]):
        z1 = rng.standard_normal()
        z2 = rng.standard_normal()
        m = mu_m + sd_m * z1
        t = mu_t + sd_t * (rho * z1 + c * z2)
        h = max(math.floor((t + m) * 0.5 + 0.5), 0.0)
        a = max(math.floor((t - m) * 0.5 + 0.5), 0.0)
        if h == a:
            n_ot_games += 1
            n_ot = 0
            while h == a:
                if n_ot >= MAX_OT:
                    if rng.random() < 0.5:
                        h += 1.0
                    else:
                        a += 1.0
                    break
                z1 = rng.standard_normal()
                z2 = rng.standard_normal()
                dm = ot_mu_m + ot_sd_m * z1
                dt = ot_mu_t + ot_sd_t * (rho * z1 + c * z2)
                h += max(math.floor((dt + dm) * 0.5 + 0.5), 0.0)
                a += max(math.floor((dt - dm) * 0.5 + 0.5), 0.0)
                n_ot += 1
        home[j] = np.int32(h)
        away[j] = np.int32(a)
    return n_ot_games


@numba.njit(cache=True, nogil=True)
def _line_probs(margin, total, spread, line):
    """(p_home_cover, p_over, p_push_spread, p_push_total) for one game's simulated outcomes."""
    n = margin.shape[0]
    nan = np.nan
    pc = nan
    pps = nan
    po = nan
    ppt = nan
    if not np.isnan(spread):
        cover = 0
        push = 0
        for j in range(n):
            v = margin[j] + spread
            if v > 0:
                cover += 1
            elif v == 0:
                push += 1
        pc = cover / n
        pps = push / n
    if not np.isnan(line):
        over = 0
        push = 0
        for j in range(n):
            v = total[j] - line
            if v > 0:
                over += 1
            elif v == 0:
                push += 1
        po = over / n
        ppt = push / n
    return pc, po, pps, ppt


@numba.njit(cache=True, nogil=True)
def _quantiles_int(x, qs, out, o):
    """Write np.quantile(x, qs) (linear method) of an int array to out[o:o+len(qs)].

    Counting sort over the value range (O(n)); falls back to np.sort for a huge range."""
    n = x.shape[0]
    lo = x[0]
    hi = x[0]
    for j in range(n):
        if x[j] < lo:
            lo = x[j]
        if x[j] > hi:
            hi = x[j]
    width = hi - lo + 1
    if width <= 4 * n + 1024:
        cum = np.zeros(width, dtype=np.int64)
        for j in range(n):
            cum[x[j] - lo] += 1
        for v in range(1, width):
            cum[v] += cum[v - 1]
        for i in range(qs.shape[0]):
            pos = qs[i] * (n - 1)
            k = int(math.floor(pos))
            t = pos - k
            a = lo + np.searchsorted(cum, k, side="right")
            b = a if k + 1 >= n else lo + np.searchsorted(cum, k + 1, side="right")
            out[o + i] = _lerp(float(a), float(b), t)
    else:
        s = np.sort(x)
        for i in range(qs.shape[0]):
            pos = qs[i] * (n - 1)
            k = int(math.floor(pos))
            t = pos - k
            b = s[k] if k + 1 >= n else s[k + 1]
            out[o + i] = _lerp(float(s[k]), float(b), t)


@numba.njit(cache=True, nogil=True)
def _lerp(a, b, t):
    # numpy's quantile interpolation (exact at both ends)
    d = b - a
    if t >= 0.5:
        return b - d * (1.0 - t)
    return a + d * t


@numba.njit(cache=True, nogil=True)
def _summarize(home, away, n_ot_games, spread, line, qs, out):
    n = home.shape[0]
    margin = home - away
    total = home + away
    wins = 0
    sm = 0.0
    sm2 = 0.0
    st = 0.0
    st2 = 0.0
    sh = 0.0
    for j in range(n):
        m = margin[j]
        t = total[j]
        if m > 0:
            wins += 1
        sm += m
        sm2 += m * m
        st += t
        st2 += t * t
        sh += home[j]
    mm = sm / n
    mt = st / n
    out[0] = wins / n
    out[1] = mm
    out[2] = math.sqrt(max(sm2 / n - mm * mm, 0.0))
    _quantiles_int(margin, qs, out, 3)
    out[8] = mt
    out[9] = math.sqrt(max(st2 / n - mt * mt, 0.0))
    _quantiles_int(total, qs, out, 10)
    out[15] = sh / n
    out[16] = (st - sh) / n
    out[17] = n_ot_games / n
    pc, po, pps, ppt = _line_probs(margin, total, spread, line)
    out[18] = pc
    out[19] = pps
    out[20] = po
    out[21] = ppt


@numba.njit(cache=True, nogil=True)
def _sim_summarize_game(rng, mu_m, mu_t, sd_m, sd_t, rho, spread, line, qs, home, away, out):
    n_ot = _sim_game(rng, mu_m, mu_t, sd_m, sd_t, rho, home, away)
    _summarize(home, away, n_ot, spread, line, qs, out)


@numba.njit(cache=True, nogil=True)
def _cover_over_kernel(sim_margin, sim_total, home_spread, total_line, out):
    for i in range(sim_margin.shape[0]):
        pc, po, pps, ppt = _line_probs(sim_margin[i], sim_total[i], home_spread[i], total_line[i])
        out[i, 0] = pc
        out[i, 1] = po
        out[i, 2] = pps
        out[i, 3] = ppt


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def _params(mu_margin, mu_total, sd_margin, sd_total, rho, home_spread=None, total_line=None):
    mu_m = np.atleast_1d(np.asarray(mu_margin, dtype=float))
    n = mu_m.shape[0]
    if mu_m.ndim != 1:
        raise ValueError("mu_margin must be 1-d (one entry per game)")

    def arr(x, name, fill=np.nan):
        a = np.full(n, fill) if x is None else np.asarray(x, dtype=float)
        try:
            return np.ascontiguousarray(np.broadcast_to(a, (n,)), dtype=float)
        except ValueError:
            raise ValueError(f"{name} has shape {a.shape}, expected scalar or ({n},)") from None

    p = [mu_m, arr(mu_total, "mu_total"), arr(sd_margin, "sd_margin"), arr(sd_total, "sd_total"),
         arr(rho, "rho"), arr(home_spread, "home_spread"), arr(total_line, "total_line")]
    if np.any(p[2] < 0) or np.any(p[3] < 0):
        raise ValueError("standard deviations must be >= 0")
    if np.any(np.abs(p[4]) > 1):
        raise ValueError("rho must be in [-1, 1]")
    return n, p


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(n_threads: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        if n_threads not in _POOLS:
            _POOLS[n_threads] = ThreadPoolExecutor(n_threads, thread_name_prefix="tipoff-mc")
        return _POOLS[n_threads]


def _rngs(seed: int, n: int):
    return [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(n)]


def simulate_scores(mu_margin, mu_total, sd_margin, sd_total, rho, n_sims: int = 10_000,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw simulated final scores: (home_pts, away_pts), int32 arrays of shape (n_games, n_sims).

    Exactly the draws :func:`simulate_slate` summarizes for the same arguments and seed.
    Games with a NaN parameter get -1 scores."""
    n, (mm, mt, sdm, sdt, r, _, _) = _params(mu_margin, mu_total, sd_margin, sd_total, rho)
    home = np.full((n, n_sims), -1, dtype=np.int32)
    away = np.full((n, n_sims), -1, dtype=np.int32)
    for i, rng in enumerate(_rngs(seed, n)):
        if np.isnan(mm[i] + mt[i] + sdm[i] + sdt[i] + r[i]):
            continue
        _sim_game(rng, mm[i], mt[i], sdm[i], sdt[i], r[i], home[i], away[i])
    return home, away


def simulate_slate(mu_margin, mu_total, sd_margin=12.0, sd_total=18.0, rho=0.0,
                   n_sims: int = 10_000, seed: int = 0, home_spread=None,
                   total_line=None, n_threads: int = 1) -> dict[str, np.ndarray]:
    """Simulate every game of a slate ``n_sims`` times and summarize.

    Parameters are arrays over games (scalars broadcast).  ``home_spread`` / ``total_line``
    (optional, NaN allowed) add cover / over / push probabilities computed in the same kernel.

    Returns ``{field: float array (n_games,)}`` for every name in ``SUMMARY_FIELDS``:
    p_home_win, margin_mean, margin_sd, margin_p05..p95, total_mean, total_sd, total_p05..p95,
    home_pts_mean, away_pts_mean, p_ot, p_home_cover, p_push_spread, p_over, p_push_total.
    A game with any NaN model parameter gets an all-NaN row.

    ``n_threads > 1`` spreads games over a thread pool (the kernels release the GIL); results are
    identical for any thread count.  Sequential is the default: it already meets the budget
    (see bench/bench_montecarlo.py) and leaves cores to the rest of the pipeline.
    """
    summary, _, _ = _simulate(mu_margin, mu_total, sd_margin, sd_total, rho, n_sims, seed,
                              home_spread, total_line, n_threads, keep_scores=False)
    return summary


def simulate_slate_scores(mu_margin, mu_total, sd_margin=12.0, sd_total=18.0, rho=0.0,
                          n_sims: int = 10_000, seed: int = 0, home_spread=None,
                          total_line=None, n_threads: int = 1
                          ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """:func:`simulate_slate` that also keeps the draws it summarized: (summary, home_pts,
    away_pts), the scores int32 (n_games, n_sims) as :func:`simulate_scores` gives them (-1 for a
    game with a NaN parameter).  One simulation serves every other line a book posts
    (:func:`line_probs_at`)."""
    return _simulate(mu_margin, mu_total, sd_margin, sd_total, rho, n_sims, seed, home_spread,
                     total_line, n_threads, keep_scores=True)


def _simulate(mu_margin, mu_total, sd_margin, sd_total, rho, n_sims, seed, home_spread,
              total_line, n_threads, keep_scores):
    """The summary of :func:`simulate_slate`, and the draws when ``keep_scores``."""
    if n_sims < 1:
        raise ValueError("n_sims must be >= 1")
    n, (mm, mt, sdm, sdt, r, sp, tl) = _params(mu_margin, mu_total, sd_margin, sd_total, rho,
                                               home_spread, total_line)
    out = np.full((n, len(SUMMARY_FIELDS)), np.nan)
    rngs = _rngs(seed, n)
    kept_h = np.full((n, n_sims), -1, dtype=np.int32) if keep_scores else None
    kept_a = np.full((n, n_sims), -1, dtype=np.int32) if keep_scores else None

    def work(games) -> None:
        home = np.empty(n_sims, dtype=np.int32)
        away = np.empty(n_sims, dtype=np.int32)
        for i in games:
            if np.isnan(mm[i] + mt[i] + sdm[i] + sdt[i] + r[i]):
                continue
            h, a = (kept_h[i], kept_a[i]) if keep_scores else (home, away)
            _sim_summarize_game(rngs[i], mm[i], mt[i], sdm[i], sdt[i], r[i], sp[i], tl[i], _Q,
                                h, a, out[i])

    n_threads = max(1, min(int(n_threads), n))
    if n_threads == 1:
        work(range(n))
    else:  # kernels release the GIL; per-game streams make the result thread-count independent
        list(_pool(n_threads).map(work, [range(k, n, n_threads) for k in range(n_threads)]))
    return {name: out[:, j].copy() for j, name in enumerate(SUMMARY_FIELDS)}, kept_h, kept_a


def cover_over_probs(sim_margin, sim_total, home_spread, total_line):
    """(p_home_cover, p_over, p_push_spread, p_push_total) per game from simulated outcomes.

    ``sim_margin`` / ``sim_total``: (n_games, n_sims) arrays (1-d = one game); lines: (n_games,)
    or scalars, NaN -> NaN probabilities."""
    m = np.asarray(sim_margin, dtype=float)
    t = np.asarray(sim_total, dtype=float)
    single = m.ndim == 1
    m = np.ascontiguousarray(np.atleast_2d(m))
    t = np.ascontiguousarray(np.atleast_2d(t))
    if m.shape != t.shape:
        raise ValueError(f"sim_margin {m.shape} and sim_total {t.shape} differ")
    g = m.shape[0]
    sp = np.ascontiguousarray(np.broadcast_to(np.asarray(home_spread, dtype=float), (g,)))
    tl = np.ascontiguousarray(np.broadcast_to(np.asarray(total_line, dtype=float), (g,)))
    out = np.empty((g, 4))
    _cover_over_kernel(m, t, sp, tl, out)
    cols = tuple(out[:, j].copy() for j in range(4))
    return tuple(c.item() for c in cols) if single else cols


@numba.njit(cache=True, nogil=True)
def _indexed_line_kernel(home, away, game, home_spread, total_line, out):
    n_sims = home.shape[1]
    margin = np.empty(n_sims, dtype=np.int32)
    total = np.empty(n_sims, dtype=np.int32)
    for k in range(game.shape[0]):
        g = game[k]
        if home[g, 0] < 0:  # a game the simulation skipped (NaN parameter)
            for j in range(4):
                out[k, j] = np.nan
            continue
        for j in range(n_sims):
            margin[j] = home[g, j] - away[g, j]
            total[j] = home[g, j] + away[g, j]
        pc, po, pps, ppt = _line_probs(margin, total, home_spread[k], total_line[k])
        out[k, 0] = pc
        out[k, 1] = po
        out[k, 2] = pps
        out[k, 3] = ppt


def line_probs_at(home_pts, away_pts, game_index, home_spread, total_line):
    """(p_home_cover, p_over, p_push_spread, p_push_total) for any number of (game, line) rows
    against already simulated scores (:func:`simulate_slate_scores`): row k uses game
    ``game_index[k]``'s draws with its own ``home_spread[k]`` / ``total_line[k]`` (NaN -> NaN).
    The same conventions as the in-kernel line probabilities (push on an exact integer line)."""
    h = np.ascontiguousarray(home_pts, dtype=np.int32)
    a = np.ascontiguousarray(away_pts, dtype=np.int32)
    g = np.ascontiguousarray(game_index, dtype=np.int64)
    k = g.shape[0]
    sp = np.ascontiguousarray(np.broadcast_to(np.asarray(home_spread, dtype=float), (k,)))
    tl = np.ascontiguousarray(np.broadcast_to(np.asarray(total_line, dtype=float), (k,)))
    if k and (g.min() < 0 or g.max() >= h.shape[0]):
        raise ValueError(f"game_index out of range for {h.shape[0]} simulated games")
    out = np.empty((k, 4))
    if k:
        _indexed_line_kernel(h, a, g, sp, tl, out)
    return tuple(out[:, j].copy() for j in range(4))
