"""Game rating: how worth watching a game was (after it) or is likely to be (before it), 0..100.

A game's *flow* is its home-minus-away margin as a function of game seconds.  It comes from the
NBA CDN play-by-play (``pbp_flow``, ``basis = "play_by_play"``: exact) or, when only the
RESULTS row is at hand, from the quarter scores (``quarter_flow``, ``basis = "quarter_scores"``:
approximate, see that function).  From the flow:

- ``lead_changes``: the sign of the margin flips between two non-zero values (ties in between are
  skipped: +2, 0, -1 is one lead change);
- ``times_tied``: the margin returns to 0 after the first score (the 0-0 start is not a tie);
- ``competitive_seconds``: seconds played with ``|margin| <= COMPETITIVE_MARGIN``;
- ``final_margin``, ``overtime_periods``, ``largest_lead`` (and per side).

Game clock: periods 1-4 last ``REGULATION_PERIOD_SECONDS`` (12 min), every overtime
``OVERTIME_PERIOD_SECONDS`` (5 min); an action at period ``p`` with ``clock`` ``PT{m}M{s}S``
(time *remaining*) happens at ``start(p) + length(p) - clock`` seconds.

``game_rating(flow, context)`` is a transparent weighted score.  Every component is normalised to
0..1 (caps below), ``rating = 100 * sum(weight * value) / sum(weights)``:

=================  ======  ====================================================================
component          weight  value (0..1)
=================  ======  ====================================================================
closeness            25    ``1 - min(|final_margin|, CLOSENESS_MARGIN_CAP) / CLOSENESS_MARGIN_CAP``
competitive_share    20    ``competitive_seconds / game_seconds``
lead_changes         15    ``min(lead_changes, LEAD_CHANGES_CAP) / LEAD_CHANGES_CAP``
times_tied           10    ``min(times_tied, TIMES_TIED_CAP) / TIMES_TIED_CAP``
overtime             10    ``min(overtime_periods, OVERTIME_CAP) / OVERTIME_CAP`` (any OT = 1)
strength             10    mean Elo mapped linearly ``ELO_FLOOR`` -> 0 .. ``ELO_CEILING`` -> 1
                           (clipped), or a given strength in 0..1; unknown -> ``NEUTRAL``
rivalry               6    1 for a rivalry game, else 0
same_conference       4    1 intra-conference, 0 inter-conference; unknown -> ``NEUTRAL``
=================  ======  ====================================================================

Caps: ``CLOSENESS_MARGIN_CAP = 20`` points (a 20+ point finish scores 0), ``LEAD_CHANGES_CAP =
15``, ``TIMES_TIED_CAP = 10``, ``OVERTIME_CAP = 1`` period (further overtimes count through the
lead changes, ties and competitive seconds they add), ``ELO_FLOOR = 1350``, ``ELO_CEILING = 1650``
(league average 1500 -> 0.5).  Every component is symmetric in home and away, so swapping the
sides leaves the rating unchanged.

``predicted_rating`` scores a game *before* tip on the same scale from its Monte Carlo margin
distribution (samples, or mean / sd / P(OT)): the pre-game components replace the in-game ones,

- closeness         <- ``1 - min(E|margin|, cap) / cap`` (the closeness of the expected finish);
- competitive_share <- ``P(close finish) = P(|margin| <= CLOSE_FINISH_MARGIN)``;
- lead_changes      <- ``P(close finish)``;
- times_tied        <- ``P(close finish)`` (lead changes and ties are predicted from closeness: a
  close finish counts as a full-value flow, any other finish as none);
- overtime          <- ``P(overtime)`` (the expected value of the 0/1 overtime component);
- strength, rivalry, same_conference: the same context as after the game.

The lead-change / tie / competitive-share mapping is a documented proxy, not a calibrated model:
the margin distribution says nothing about the path of a game.  Pure numpy/pandas; deterministic.
"""
from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------------------------
# definitions
# --------------------------------------------------------------------------------------------
COMPETITIVE_MARGIN = 5
"""A game is competitive while ``|home - away| <= COMPETITIVE_MARGIN`` points."""
CLOSE_FINISH_MARGIN = COMPETITIVE_MARGIN
"""A close finish (pre-game ``P(close finish)``): ``|final margin| <= CLOSE_FINISH_MARGIN``."""

REGULATION_PERIODS = 4
REGULATION_PERIOD_SECONDS = 12 * 60
OVERTIME_PERIOD_SECONDS = 5 * 60

BASIS_PLAY_BY_PLAY = "play_by_play"
BASIS_QUARTER_SCORES = "quarter_scores"

# --------------------------------------------------------------------------------------------
# weights and caps (see the module docstring's table; docs/RATING.md)
# --------------------------------------------------------------------------------------------
WEIGHTS: dict[str, float] = {
    "closeness": 25.0,          # how close the finish was (final margin)
    "competitive_share": 20.0,  # share of the game played within COMPETITIVE_MARGIN
    "lead_changes": 15.0,
    "times_tied": 10.0,
    "overtime": 10.0,           # bonus for going to overtime
    "strength": 10.0,           # how good the two teams are (mean Elo / given strength)
    "rivalry": 6.0,
    "same_conference": 4.0,     # inter-conference games are less interesting (0)
}
"""Component -> weight.  ``rating = 100 * sum(weight * value) / sum(WEIGHTS.values())``."""
COMPONENTS = tuple(WEIGHTS)

CLOSENESS_MARGIN_CAP = 20.0
"""|final margin| at (and beyond) which closeness is 0; closeness is linear from 1 at a tie."""
LEAD_CHANGES_CAP = 15
"""Lead changes at which the lead-change component saturates at 1."""
TIMES_TIED_CAP = 10
"""Times tied at which the tie component saturates at 1."""
OVERTIME_CAP = 1
"""Overtime periods at which the overtime component saturates (1: any overtime scores 1)."""
ELO_FLOOR = 1350.0
"""Mean Elo mapped to strength 0 (clipped below)."""
ELO_CEILING = 1650.0
"""Mean Elo mapped to strength 1 (clipped above); the league average 1500 maps to 0.5."""
NEUTRAL = 0.5
"""Value of a context component that is not known (strength, same_conference)."""


class PlayByPlayError(ValueError):
    """A play-by-play payload that cannot be read: names the field and the action."""


# --------------------------------------------------------------------------------------------
# the flow of a game
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GameFlow:
    """The margin path of one game and its summary.

    ``t`` / ``margin`` (same length, ``t[0] == 0``, ``margin[0] == 0``): for ``play_by_play`` a
    step function -- ``margin[i]`` holds from ``t[i]`` until ``t[i + 1]`` (or ``game_seconds``),
    one point per change of the margin; for ``quarter_scores`` the margins at the start and at
    each period end (the path in between is unknown).
    """

    basis: str
    t: np.ndarray
    margin: np.ndarray
    game_seconds: float
    home_pts: int
    away_pts: int
    periods: int
    lead_changes: int
    times_tied: int
    competitive_seconds: float
    largest_home_lead: int
    largest_away_lead: int
    complete: bool = True
    game_id: str | None = None
    home_team: str | None = None
    away_team: str | None = None

    @property
    def final_margin(self) -> int:
        return self.home_pts - self.away_pts

    @property
    def overtime_periods(self) -> int:
        return max(self.periods - REGULATION_PERIODS, 0)

    @property
    def largest_lead(self) -> int:
        return max(self.largest_home_lead, self.largest_away_lead)

    @property
    def competitive_share(self) -> float:
        return self.competitive_seconds / self.game_seconds if self.game_seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Plain JSON-able summary (no arrays)."""
        return {
            "game_id": self.game_id, "basis": self.basis, "complete": self.complete,
            "home_team": self.home_team, "away_team": self.away_team,
            "home_pts": self.home_pts, "away_pts": self.away_pts,
            "final_margin": self.final_margin, "periods": self.periods,
            "overtime_periods": self.overtime_periods, "game_seconds": float(self.game_seconds),
            "lead_changes": self.lead_changes, "times_tied": self.times_tied,
            "competitive_margin": COMPETITIVE_MARGIN,
            "competitive_seconds": round(float(self.competitive_seconds), 2),
            "competitive_share": round(self.competitive_share, 4),
            "largest_lead": self.largest_lead, "largest_home_lead": self.largest_home_lead,
            "largest_away_lead": self.largest_away_lead,
        }


def period_start(period: int) -> int:
    """Game seconds at the start of ``period`` (1-based; periods 5+ are overtimes)."""
    reg = min(period - 1, REGULATION_PERIODS)
    return reg * REGULATION_PERIOD_SECONDS + max(period - 1 - REGULATION_PERIODS, 0) * OVERTIME_PERIOD_SECONDS


def period_length(period: int) -> int:
    return REGULATION_PERIOD_SECONDS if period <= REGULATION_PERIODS else OVERTIME_PERIOD_SECONDS


_CLOCK = re.compile(r"PT(?:(\d+)M)?(?:(\d+(?:\.\d*)?)S)?")


def parse_clock(clock: str) -> float:
    """Seconds remaining from an ISO 8601 duration like ``PT11M32.00S`` (``PT45.2S``, ``PT5M``)."""
    m = _CLOCK.fullmatch(clock) if isinstance(clock, str) else None
    if m is None or (m.group(1) is None and m.group(2) is None):
        raise ValueError(f"{clock!r} is not an ISO duration like PT11M32.00S")
    return int(m.group(1) or 0) * 60 + float(m.group(2) or 0.0)


def _sign_changes(values: np.ndarray) -> int:
    s = np.sign(values[values != 0])
    return int(np.count_nonzero(s[1:] != s[:-1]))


def _flow_from_steps(t: np.ndarray, margin: np.ndarray, game_seconds: float) -> dict[str, Any]:
    """Summary of a step function (t ascending, consecutive margins distinct, t[0]=0, margin[0]=0)."""
    dur = np.diff(np.append(t, game_seconds))
    return {
        "lead_changes": _sign_changes(margin),
        "times_tied": int(np.count_nonzero(margin[1:] == 0)),
        # min: float durations of fractional clocks can sum a hair past the game's length
        "competitive_seconds": min(float(dur[np.abs(margin) <= COMPETITIVE_MARGIN].sum()),
                                   float(game_seconds)),
        "largest_home_lead": int(max(margin.max(), 0)),
        "largest_away_lead": int(max(-margin.min(), 0)),
    }


def margin_steps(times, margins) -> tuple[np.ndarray, np.ndarray]:
    """Step function from (time, margin) observations in play order: starts at (0, 0), keeps one
    point per change of the margin (equal consecutive margins merged).  Times are made
    non-decreasing (a clock that runs backwards gets a zero-length step, never a negative one)."""
    t = np.maximum.accumulate(np.concatenate([[0.0], np.asarray(times, dtype=float)]))
    m = np.concatenate([[0], np.asarray(margins, dtype=np.int64)])
    keep = np.concatenate([[True], m[1:] != m[:-1]])
    return t[keep], m[keep]


def decode_payload(raw: bytes) -> dict:
    """Bytes of a play-by-play file (JSON, gzipped or not: told by the gzip magic) -> dict."""
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        doc = json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, zlib.error) as exc:
        raise PlayByPlayError(f"not a readable gzip file ({exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlayByPlayError(f"not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise PlayByPlayError(f"expected a JSON object with 'game', got {type(doc).__name__}")
    return doc


def _int_score(action: Mapping, key: str, where: str) -> int:
    v = action.get(key)
    try:
        out = int(str(v).strip())
    except (TypeError, ValueError):
        raise PlayByPlayError(f"{where}: field '{key}' = {v!r} is not a score") from None
    if out < 0:
        raise PlayByPlayError(f"{where}: field '{key}' = {v!r} is negative")
    return out


def pbp_flow(payload: Mapping) -> GameFlow:
    """The flow of a game from an NBA CDN play-by-play document (``{"game": {"gameId",
    "actions": [...]}}``; every action carries ``period``, ``clock``, ``scoreHome``, ``scoreAway``).

    Actions are taken in ``orderNumber`` order when every action has one (``actionNumber`` is not
    monotonic in real files), else in file order.  The game is ``complete`` when a ``game``/``end``
    action is present; then it lasts to the end of its last period, otherwise to its last action.
    Home / away tricodes are inferred from which side's score a team's scoring actions raise.
    Raises ``PlayByPlayError`` naming the field and action for anything it cannot read.
    """
    game = payload.get("game") if isinstance(payload, Mapping) else None
    if not isinstance(game, Mapping):
        raise PlayByPlayError("field 'game' is missing (not an NBA CDN play-by-play document)")
    actions = game.get("actions")
    if not isinstance(actions, list) or not actions:
        raise PlayByPlayError("field 'game.actions' is missing or empty")
    if not all(isinstance(a, Mapping) for a in actions):
        raise PlayByPlayError("field 'game.actions' holds a non-object")
    if all(isinstance(a.get("orderNumber"), int) for a in actions):
        actions = sorted(actions, key=lambda a: a["orderNumber"])

    n = len(actions)
    times = np.empty(n)
    home = np.empty(n, dtype=np.int64)
    away = np.empty(n, dtype=np.int64)
    periods, complete = 0, False
    credit: dict[str, list[int]] = {}
    prev_h = prev_a = 0
    for i, a in enumerate(actions):
        where = f"game.actions[{i}] (actionNumber {a.get('actionNumber')})"
        p = a.get("period")
        if not isinstance(p, int) or isinstance(p, bool) or p < 1:
            raise PlayByPlayError(f"{where}: field 'period' = {p!r} is not a period number")
        try:
            clock = parse_clock(a.get("clock"))
        except ValueError as exc:
            raise PlayByPlayError(f"{where}: field 'clock': {exc}") from None
        if clock > period_length(p):
            raise PlayByPlayError(f"{where}: field 'clock' = {a.get('clock')!r} is longer than "
                                  f"period {p} ({period_length(p)} s)")
        times[i] = period_start(p) + period_length(p) - clock
        home[i] = h = _int_score(a, "scoreHome", where)
        away[i] = w = _int_score(a, "scoreAway", where)
        periods = max(periods, p)
        complete |= a.get("actionType") == "game" and a.get("subType") == "end"
        tri = a.get("teamTricode")
        if isinstance(tri, str) and tri and (h > prev_h or w > prev_a):
            c = credit.setdefault(tri, [0, 0])
            c[0] += h > prev_h
            c[1] += w > prev_a
        prev_h, prev_a = h, w

    game_seconds = float(period_start(periods) + period_length(periods)) if complete \
        else float(np.max(times))
    t, m = margin_steps(times, home - away)
    home_team = max(credit, key=lambda k: (credit[k][0] - credit[k][1], k)) if credit else None
    away_team = max(credit, key=lambda k: (credit[k][1] - credit[k][0], k)) if credit else None
    if home_team == away_team:
        home_team = away_team = None
    gid = game.get("gameId")
    return GameFlow(
        basis=BASIS_PLAY_BY_PLAY, t=t, margin=m, game_seconds=game_seconds,
        home_pts=int(home[-1]), away_pts=int(away[-1]), periods=periods, complete=complete,
        game_id=str(gid) if gid is not None else None, home_team=home_team, away_team=away_team,
        **_flow_from_steps(t, m, game_seconds))


# --------------------------------------------------------------------------------------------
# quarter scores (RESULTS row)
# --------------------------------------------------------------------------------------------
def _competitive_seconds_linear(a: float, b: float, length: float, c: float) -> float:
    """Seconds of [0, length] with |m(x)| <= c for the margin moving linearly from a to b."""
    if a == b:
        return length if abs(a) <= c else 0.0
    # m(x) = a + (b - a) x / length; the x where m is in [-c, c] form one interval
    x1 = (-c - a) / (b - a) * length
    x2 = (c - a) / (b - a) * length
    lo, hi = sorted((x1, x2))
    return max(0.0, min(hi, length) - max(lo, 0.0))


def quarter_flow(results_row: Mapping) -> GameFlow:
    """The flow of a game from its RESULTS row (``home_q1..home_q4``, ``home_ot``,
    ``away_q1..away_q4``, ``away_ot``, optional ``overtime_periods``, ``home_pts``/``away_pts``,
    ``game_id``).

    What is known exactly: the margin at the end of each quarter, and at the end of each overtime
    (every overtime but the last ends tied, so ``home_ot`` / ``away_ot`` totals suffice).  Derived:

    - lead changes / times tied are counted on the period-end margins only (a lower bound: swings
      inside a period are invisible); a period that ends tied counts as one tie;
    - competitive seconds assume the margin moves *linearly* between period ends (from 0 at tip);
      runs inside a period are lost, so a quarter that starts and ends close but swung to +12 in
      between counts as fully competitive;
    - largest lead: the largest period-end margin (a lower bound).
    """
    def val(key: str, required: bool = True) -> int | None:
        v = row.get(key)
        if v is None or (np.ndim(v) == 0 and pd.isna(v)):
            if required:
                raise ValueError(f"results row {row.get('game_id')!r}: '{key}' is missing")
            return None
        try:
            out = int(v)
        except (TypeError, ValueError):
            raise ValueError(f"results row {row.get('game_id')!r}: '{key}' = {v!r} is not a number") from None
        if out < 0:
            raise ValueError(f"results row {row.get('game_id')!r}: '{key}' = {v!r} is negative")
        return out

    row = results_row
    hq = [val(f"home_q{q}") for q in range(1, REGULATION_PERIODS + 1)]
    aq = [val(f"away_q{q}") for q in range(1, REGULATION_PERIODS + 1)]
    h_ot, a_ot = val("home_ot", False) or 0, val("away_ot", False) or 0
    home_pts, away_pts = sum(hq) + h_ot, sum(aq) + a_ot
    for side, total in (("home_pts", home_pts), ("away_pts", away_pts)):
        given = val(side, False)
        if given is not None and given != total:
            raise ValueError(f"results row {row.get('game_id')!r}: '{side}' = {given} but the "
                             f"quarters add up to {total}")
    reg_margin = sum(hq) - sum(aq)
    n_ot = val("overtime_periods", False)
    if n_ot is None:
        n_ot = 1 if (h_ot or a_ot) else 0
    if n_ot > 0 and reg_margin != 0:
        raise ValueError(f"results row {row.get('game_id')!r}: {n_ot} overtime(s) but regulation "
                         f"ended {sum(hq)}-{sum(aq)}")
    if n_ot == 0 and (h_ot or a_ot):
        raise ValueError(f"results row {row.get('game_id')!r}: overtime points without overtime")
    if n_ot == 0 and reg_margin == 0:
        raise ValueError(f"results row {row.get('game_id')!r}: regulation tied but no overtime")
    if home_pts == away_pts:
        raise ValueError(f"results row {row.get('game_id')!r}: the game ended tied "
                         f"{home_pts}-{away_pts}")

    periods = REGULATION_PERIODS + n_ot
    margins = [0] + list(np.cumsum(np.array(hq) - np.array(aq))) + [0] * max(n_ot - 1, 0)
    if n_ot:
        margins.append(home_pts - away_pts)
    t = np.array([period_start(p) for p in range(1, periods + 2)], dtype=float)
    m = np.array(margins, dtype=np.int64)
    comp = sum(_competitive_seconds_linear(float(m[i]), float(m[i + 1]), t[i + 1] - t[i],
                                           COMPETITIVE_MARGIN) for i in range(periods))
    gid = row.get("game_id")
    return GameFlow(
        basis=BASIS_QUARTER_SCORES, t=t, margin=m, game_seconds=float(t[-1]),
        home_pts=home_pts, away_pts=away_pts, periods=periods,
        lead_changes=_sign_changes(m), times_tied=int(np.count_nonzero(m[1:] == 0)),
        competitive_seconds=min(float(comp), float(t[-1])), largest_home_lead=int(max(m.max(), 0)),
        largest_away_lead=int(max(-m.min(), 0)), game_id=str(gid) if gid is not None else None)


# --------------------------------------------------------------------------------------------
# the rating
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RatingContext:
    """What makes a matchup interesting beyond its flow.  ``strength`` (0..1, e.g. the teams' mean
    win percentage) or ``home_elo`` + ``away_elo`` (mean mapped ELO_FLOOR..ELO_CEILING -> 0..1);
    ``inter_conference`` None = unknown.  Unknown strength / conference score ``NEUTRAL``."""

    home_elo: float | None = None
    away_elo: float | None = None
    strength: float | None = None
    rivalry: bool = False
    inter_conference: bool | None = None

    def __post_init__(self):
        if (self.home_elo is None) != (self.away_elo is None):
            raise ValueError("give both home_elo and away_elo, or neither")
        if self.strength is not None and self.home_elo is not None:
            raise ValueError("give strength or the two Elo ratings, not both")
        if self.strength is not None and not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"strength must be in 0..1, got {self.strength}")
        for v in (self.home_elo, self.away_elo, self.strength):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"context values must be finite, got {v}")


def _context(context: RatingContext | Mapping | None) -> RatingContext:
    if context is None:
        return RatingContext()
    if isinstance(context, RatingContext):
        return context
    return RatingContext(**dict(context))


def _clip01(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))


def closeness(abs_margin: float) -> float:
    """1 at a tie, linear down to 0 at ``CLOSENESS_MARGIN_CAP`` points and beyond."""
    return 1.0 - min(abs(float(abs_margin)), CLOSENESS_MARGIN_CAP) / CLOSENESS_MARGIN_CAP


def _context_components(ctx: RatingContext) -> dict[str, tuple[Any, float]]:
    if ctx.strength is not None:
        strength = (ctx.strength, _clip01(ctx.strength))
    elif ctx.home_elo is not None:
        mean = (ctx.home_elo + ctx.away_elo) / 2.0
        strength = (mean, _clip01((mean - ELO_FLOOR) / (ELO_CEILING - ELO_FLOOR)))
    else:
        strength = (None, NEUTRAL)
    conf = NEUTRAL if ctx.inter_conference is None else (0.0 if ctx.inter_conference else 1.0)
    return {
        "strength": strength,
        "rivalry": (bool(ctx.rivalry), 1.0 if ctx.rivalry else 0.0),
        "same_conference": (None if ctx.inter_conference is None else not ctx.inter_conference, conf),
    }


def _score(parts: dict[str, tuple[Any, float]]) -> tuple[float, dict[str, dict[str, Any]]]:
    total_w = sum(WEIGHTS.values())
    comps = {}
    for name in COMPONENTS:
        inp, value = parts[name]
        w = WEIGHTS[name]
        comps[name] = {"input": inp, "value": value, "weight": w, "points": 100.0 * w * value / total_w}
    rating = 100.0 * sum(WEIGHTS[k] * comps[k]["value"] for k in COMPONENTS) / total_w
    return float(min(max(rating, 0.0), 100.0)), comps


def game_rating(flow: GameFlow, context: RatingContext | Mapping | None = None
                ) -> tuple[float, dict[str, dict[str, Any]]]:
    """Post-game rating 0..100 and its components ``{name: {input, value (0..1), weight,
    points}}`` (``points`` sum to the rating)."""
    ctx = _context(context)
    parts = {
        "closeness": (abs(flow.final_margin), closeness(flow.final_margin)),
        "competitive_share": (round(flow.competitive_share, 4), _clip01(flow.competitive_share)),
        "lead_changes": (flow.lead_changes, min(flow.lead_changes, LEAD_CHANGES_CAP) / LEAD_CHANGES_CAP),
        "times_tied": (flow.times_tied, min(flow.times_tied, TIMES_TIED_CAP) / TIMES_TIED_CAP),
        "overtime": (flow.overtime_periods, min(flow.overtime_periods, OVERTIME_CAP) / OVERTIME_CAP),
        **_context_components(ctx),
    }
    return _score(parts)


def _ncdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


@dataclass(frozen=True)
class MarginForecast:
    """What the pre-game rating uses of a margin distribution."""

    p_close: float
    p_overtime: float
    expected_abs_margin: float


def margin_forecast(margin_samples=None, *, margin_mean: float | None = None,
                    margin_sd: float | None = None, p_overtime: float | None = None) -> MarginForecast:
    """P(|margin| <= CLOSE_FINISH_MARGIN), P(overtime), E|margin| from Monte Carlo margin samples
    (home - away, final) or from a normal ``(margin_mean, margin_sd)``.

    - samples: the empirical frequencies / mean; P(OT), when not given, from the normal with the
      samples' mean and sd (final-score samples cannot show a tie);
    - normal: ``P(close) = Phi((c + 0.5 - mu) / sd) - Phi((-c - 0.5 - mu) / sd)`` (integer margins,
      continuity correction), ``P(OT) = P(|regulation margin| < 0.5)`` the same way when not
      given, ``E|margin|`` the folded-normal mean.
    """
    if margin_samples is not None:
        if margin_mean is not None or margin_sd is not None:
            raise ValueError("give margin samples or (margin_mean, margin_sd), not both")
        x = np.asarray(margin_samples, dtype=float).ravel()
        if x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError("margin samples must be a non-empty array of finite numbers")
        p_close = float(np.mean(np.abs(x) <= CLOSE_FINISH_MARGIN))
        e_abs = float(np.mean(np.abs(x)))
        mu, sd = float(x.mean()), float(x.std())
    else:
        if margin_mean is None or margin_sd is None:
            raise ValueError("give margin samples or both margin_mean and margin_sd")
        mu, sd = float(margin_mean), float(margin_sd)
        if not (math.isfinite(mu) and math.isfinite(sd) and sd > 0):
            raise ValueError(f"margin_mean must be finite and margin_sd > 0, got {mu}, {sd}")
        c = CLOSE_FINISH_MARGIN + 0.5
        p_close = _ncdf((c - mu) / sd) - _ncdf((-c - mu) / sd)
        e_abs = sd * math.sqrt(2.0 / math.pi) * math.exp(-mu * mu / (2 * sd * sd)) \
            + mu * (1.0 - 2.0 * _ncdf(-mu / sd))
    if p_overtime is None:
        p_overtime = (_ncdf((0.5 - mu) / sd) - _ncdf((-0.5 - mu) / sd)) if sd > 0 \
            else float(abs(mu) < 0.5)
    p_overtime = float(p_overtime)
    if not 0.0 <= p_overtime <= 1.0:
        raise ValueError(f"p_overtime must be in 0..1, got {p_overtime}")
    return MarginForecast(p_close=_clip01(p_close), p_overtime=p_overtime, expected_abs_margin=e_abs)


def predicted_rating(margin_samples=None, context: RatingContext | Mapping | None = None, *,
                     margin_mean: float | None = None, margin_sd: float | None = None,
                     p_overtime: float | None = None) -> tuple[float, dict[str, dict[str, Any]]]:
    """Pre-game rating 0..100 on the scale of ``game_rating``, from the Monte Carlo margin
    distribution (samples, or ``margin_mean`` / ``margin_sd`` [/ ``p_overtime``]) and the matchup
    context.  The mapping of components is in the module docstring."""
    f = margin_forecast(margin_samples, margin_mean=margin_mean, margin_sd=margin_sd,
                        p_overtime=p_overtime)
    ctx = _context(context)
    pc = round(f.p_close, 6)
    parts = {
        "closeness": (round(f.expected_abs_margin, 4), closeness(f.expected_abs_margin)),
        "competitive_share": (pc, f.p_close),
        "lead_changes": (pc, f.p_close),
        "times_tied": (pc, f.p_close),
        "overtime": (round(f.p_overtime, 6), f.p_overtime),
        **_context_components(ctx),
    }
    return _score(parts)
