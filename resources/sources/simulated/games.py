"""What happens on the court: final scores, quarters, overtime and final times, and the box scores
that add up to them.

Scores: margin ~ N(strength_home - strength_away + 2.5, 10.5), total ~ 225 + paces + N(0, 16.5),
quarter splits, overtime (5-minute periods, ~10 pts a side each).  final_ts = tip + ~2h15m.  Box
scores: minutes around the role (blowouts rest starters), summing exactly to 240 + 25 * OT per team
(0.1-minute grid); pts/fga/fta/oreb/tov split from plausible team totals (possessions = fga - oreb
+ tov + 0.44 fta ~ 100).  Arrays are per game, side (0 = home) and slot: (G, 2, 15).
"""
from __future__ import annotations

import numpy as np

from resources.sources.simulated.players import _OREB_W, _ROLE_MIN, _ROLE_PLAY, N_SLOTS

HOME_ADV = 2.5
MARGIN_NOISE_SD = 10.5


def play_games(r_game: np.random.Generator, tidx: np.ndarray, game_day: np.ndarray,
               tip: np.ndarray, rating: np.ndarray, pace: np.ndarray, value: np.ndarray,
               side_out: np.ndarray) -> tuple[dict, np.ndarray]:
    """Scores, quarters, overtimes and final times of the games (home, away = tidx columns), given
    who is out (`side_out`); and mu, the true expected home margin."""
    H, A = tidx[:, 0], tidx[:, 1]
    G = len(H)
    side_val = value[tidx]                             # (G, 2, 15)
    missing = (side_out * side_val).sum(-1)            # (G, 2)
    strength = rating[game_day[:, None], tidx] - missing
    mu = strength[:, 0] - strength[:, 1] + HOME_ADV
    M = np.rint(r_game.normal(mu, MARGIN_NOISE_SD))
    tie_u = r_game.random(G)
    M = np.where((np.abs(M) == 1) & (tie_u < 0.5), 0, M)
    total_reg = 225 + pace[H] + pace[A] + r_game.normal(0, 16.5, G)
    h_reg = np.rint((total_reg + M) / 2)
    a_reg = h_reg - M
    low = np.minimum(h_reg, a_reg)
    bump = np.maximum(0, 78 - low)
    h_reg += bump
    a_reg += bump
    ot = np.zeros(G, int)
    h_ot = np.zeros(G)
    a_ot = np.zeros(G)
    ot_draw = np.rint(r_game.normal(10.5, 3.3, (6, G, 2))).clip(2, 22)
    tied = h_reg == a_reg
    for i in range(6):
        if not tied.any():
            break
        h_ot[tied] += ot_draw[i, tied, 0]
        a_ot[tied] += ot_draw[i, tied, 1]
        ot[tied] += 1
        tied = tied & (h_ot == a_ot)
    if tied.any():  # after 6 OTs, break the tie
        h_ot[tied] += 1
    h_pts = (h_reg + h_ot).astype(np.int64)
    a_pts = (a_reg + a_ot).astype(np.int64)
    qp = r_game.dirichlet([60, 60, 60, 57], size=(G, 2))
    reg = np.stack([h_reg, a_reg], 1).astype(np.int64)
    quarters = _sub(r_game).multinomial(reg, qp)      # (G, 2, 4)
    final_off = r_game.normal(135, 8, G) + 20 * ot
    final_ts = tip + np.rint(final_off * 60).astype("timedelta64[s]").astype("timedelta64[us]")
    return dict(h_pts=h_pts, a_pts=a_pts, quarters=quarters, ot=ot, h_ot=h_ot, a_ot=a_ot,
                final_ts=final_ts), mu


def box_scores(r_box: np.random.Generator, tidx: np.ndarray, games: dict, roles: dict,
               positions: np.ndarray, side_out: np.ndarray, in_game: np.ndarray,
               partial: np.ndarray) -> dict:
    """Minutes, starters and stat lines (G, 2, 15) adding up to the `games` scores; `in_game`
    marks players hurt during the game, who play the `partial` share of their minutes."""
    h_pts, a_pts, ot = games["h_pts"], games["a_pts"], games["ot"]
    rank_s = roles["rank"][tidx]
    blow = np.clip((np.abs(h_pts - a_pts) - 14) / 20, 0, 1)[:, None, None]
    minutes, plays = _minutes(r_box, rank_s, roles["role_min"][tidx], side_out, blow, in_game,
                              partial, ot)
    # starters: the five best-ranked players who play
    srank = np.where(plays, rank_s, 99)
    starter = np.zeros_like(plays)
    first5 = np.argsort(srank, axis=-1, kind="stable")[..., :5]
    np.put_along_axis(starter, first5, True, axis=-1)
    starter &= plays
    pts_t = np.stack([h_pts, a_pts], 1)
    oreb_t, tov_t, fta_t, fga_t = _team_totals(r_box, pts_t)
    use = roles["usage"][tidx]
    posw = np.vectorize(_OREB_W.get, otypes=[float])(positions)[tidx]
    gam = lambda a: r_box.gamma(a, 1 / a, side_out.shape)  # noqa: E731
    fta = _split(r_box, plays, fta_t, minutes * use ** 1.5 * gam(3), 0.45)
    fga = _split(r_box, plays, fga_t, minutes * use * gam(6), 0.32)
    pts = _split(r_box, plays, pts_t, (1.1 * fga + 0.78 * fta + 1e-9) * gam(10), 0.37)
    # a player cannot score more than 3 * fga + fta: move any excess to teammates with room
    for _ in range(4):
        room = 3 * fga + fta - pts
        excess = np.maximum(-room, 0)
        if not excess.any():
            break
        pts = pts - excess
        room = np.maximum(3 * fga + fta - pts, 0)
        best = np.argmax(room, axis=-1)[..., None]
        np.put_along_axis(pts, best, np.take_along_axis(pts, best, -1)
                          + excess.sum(-1, keepdims=True), axis=-1)
    oreb = _split(r_box, plays, oreb_t, minutes * posw * gam(3), 0.5)
    tov = _split(r_box, plays, tov_t, minutes * use * gam(3), 0.45)
    # the rest of the line from a child stream drawn last, so everything above stays identical
    line = _box_line(_sub(r_box), minutes, plays, pts, fga, fta, oreb, posw, use,
                     roles["value"][tidx], np.stack([h_pts - a_pts, a_pts - h_pts], 1))
    return dict(minutes=minutes, starter=starter, pts=pts, fga=fga, fta=fta, oreb=oreb, tov=tov,
                **line)


def _box_line(rx, minutes, plays, pts, fga, fta, oreb, posw, use, value, margin):
    """Makes, defensive rebounds, assists, steals, blocks, fouls and plus-minus (G, 2, 15).

    Free throws made ~ Binomial(fta, 0.77); threes and twos are set so that
    2 * fgm + fg3m + ftm = pts where the attempts allow it; plus-minus is the team's margin times
    the player's share of the floor time plus his value relative to his minutes share (so better
    players carry better on-court margins), with noise, summing to ~5 x the team margin."""
    # every draw whose consumption depends on its parameters gets its own child stream (_sub):
    # a shock that changes later games must not shift the draws of earlier ones
    ftm = np.minimum(_sub(rx).binomial(fta, 0.77), pts)
    field = pts - ftm
    fg3m = np.minimum(_sub(rx).binomial(np.maximum(fga, 0), 0.13), field // 3)
    fg3m = fg3m - ((field - fg3m) % 2)          # 2 * twos = field - 3 * threes must be even
    fg3m = np.maximum(fg3m, 0)
    fgm = np.minimum(fg3m + (field - 3 * fg3m) // 2, fga)
    w = np.where(plays, minutes, 0.0)
    share = w / np.maximum(w.sum(-1, keepdims=True), 1e-9)
    opp_miss = (fga - fgm).sum(-1)[:, ::-1]      # the other side's misses
    dreb_t = _sub(rx).binomial(np.maximum(opp_miss - oreb.sum(-1)[:, ::-1], 0), 0.9)
    dreb = _split(rx, plays, dreb_t, minutes * posw, 0.45)
    ast = _split(rx, plays, _sub(rx).binomial(fgm.sum(-1), 0.6), minutes * use, 0.45)
    stl = _split(rx, plays, _sub(rx).poisson(7.5, margin.shape), minutes, 0.5)
    blk = _split(rx, plays, _sub(rx).poisson(5.0, margin.shape), minutes * posw, 0.5)
    pf = np.minimum(_split(rx, plays, _sub(rx).poisson(19.5, margin.shape), minutes, 0.3), 6)
    floor = 5.0 * w / np.maximum(w.sum(-1, keepdims=True), 1e-9)   # of the 5 floor spots
    dev = value - share * value.sum(-1, keepdims=True)
    noise = rx.normal(0, 1, w.shape) * 4.0 * np.sqrt(floor)
    noise = noise - floor * noise.sum(-1, keepdims=True) / 5.0
    pm = floor * margin[..., None] + 1.5 * dev + noise
    pm = np.where(plays, np.rint(pm), 0.0)
    return dict(fgm=fgm, fg3m=fg3m, ftm=ftm, dreb=dreb, ast=ast, stl=stl, blk=blk, pf=pf,
                plus_minus=pm)


def _minutes(r_box, rank_s, role_s, side_out, blow, in_game, partial, ot):
    """Minutes on the 0.1 grid, summing to 240 + 25 * OT per side, and who plays."""
    G = len(ot)
    avail = ~side_out
    # rank among available players: injuries promote the next men up the rotation
    key = np.where(avail, rank_s, N_SLOTS + rank_s)
    arank = np.argsort(np.argsort(key, axis=-1, kind="stable"), axis=-1, kind="stable")
    plays = avail & (r_box.random(side_out.shape) < np.minimum(1, _ROLE_PLAY[arank]
                                                               + 0.5 * blow * (arank >= 9)))
    plays |= avail & (arank < 8)  # a team dresses and plays at least eight
    m = (0.6 * role_s + 0.4 * _ROLE_MIN[arank]) * np.exp(r_box.normal(0, 0.13, side_out.shape))
    m = np.where(arank < 5, m * (1 - 0.22 * blow), m)
    m = np.where(arank >= 12, r_box.uniform(1, 8, side_out.shape) * (0.5 + blow), m)
    m = np.where(in_game, m * partial, m)
    m = np.where(plays, np.maximum(m, 0.5), 0.0)
    tot_min = (240 + 25 * ot)[:, None].astype(float)
    cap = (46 + 5 * ot)[:, None, None].astype(float)
    for _ in range(3):
        m = m * (tot_min / m.sum(-1))[..., None]
        m = np.minimum(m, cap)
    m = m * (tot_min / m.sum(-1))[..., None]
    tenths = _largest_remainder((m * 10).reshape(G * 2, N_SLOTS),
                                (tot_min * 10).repeat(2, 1).reshape(-1)).reshape(G, 2, N_SLOTS)
    minutes = tenths / 10.0
    plays = tenths > 0
    return minutes, plays


def _team_totals(r_box, pts_t):
    """Team oreb, tov, fta and fga (G, 2) consistent with the points and ~100 possessions."""
    G = len(pts_t)
    poss = pts_t.sum(1, keepdims=True) / 2 / 1.13 + r_box.normal(0, 1.0, (G, 2))
    oreb_t = _sub(r_box).poisson(0.105 * poss)
    tov_t = _sub(r_box).poisson(0.13 * poss)
    fta_t = _sub(r_box).poisson(0.215 * poss * np.clip(pts_t / poss / 1.13, 0.7, 1.4))
    fga_t = np.maximum(np.rint(poss + oreb_t - tov_t - 0.44 * fta_t
                               + r_box.normal(0, 1.5, (G, 2))), 55).astype(np.int64)
    return oreb_t, tov_t, fta_t, fga_t


def _split(r_box, plays, n, w, cap):
    """Multinomial split of team totals n (G, 2) by weights w, no share above cap."""
    G = len(plays)
    w = np.where(plays, w, 0.0).reshape(G * 2, N_SLOTS)
    w = w / w.sum(-1, keepdims=True)
    for _ in range(6):  # water-filling: capped shares fixed, the rest rescaled
        over = w >= cap
        free = np.where(over, 0.0, w)
        left = np.maximum(1 - cap * over.sum(-1, keepdims=True), 0)
        w = np.where(over, cap, free * left / np.maximum(free.sum(-1, keepdims=True), 1e-12))
    w = w / w.sum(-1, keepdims=True)
    return _sub(r_box).multinomial(np.asarray(n).reshape(-1), w).reshape(G, 2, N_SLOTS)


def _sub(rng: np.random.Generator) -> np.random.Generator:
    """A child generator for a draw whose consumption depends on its parameters (poisson,
    multinomial): the parent advances by a fixed amount, so later draws never shift when a shock
    changes earlier parameters, and games before a shock stay identical."""
    return np.random.default_rng(rng.integers(2**63))


def _largest_remainder(x: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round rows of non-negative x to integers summing to `totals` (zeros stay zero)."""
    fl = np.floor(x)
    deficit = (totals - fl.sum(axis=1)).astype(int)
    frac = np.where(x > 0, x - fl, -1.0)
    order = np.argsort(-frac, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(x.shape[1])[None, :].repeat(len(x), 0), axis=1)
    return (fl + (ranks < deficit[:, None])).astype(np.int64)

