"""`simulated` source: a deterministic, seedable NBA league that answers like a live feed.

The offline default of Tipoff (demo, tests, benchmarks).  A season is generated lazily, fully
vectorized, and cached per instance; everything in season ``YYYY-YY`` derives from
``numpy.random.default_rng([seed, YYYY])`` (via ``SeedSequence([seed, YYYY]).spawn``), and player
identities (ids, names, positions) from ``SeedSequence([seed, 0])``, so a season is identical across
processes and call orders.

The league (each module's docstring gives its rules and numbers)
----------
* league     the 30 real franchises (``nba_api.stats.static.teams``), real conferences/divisions,
             home time zones; the season window (3rd Tuesday of October to the first Sunday
             on/after April 9) and season labels.
* schedule   the NBA formula (1230 games, 82 per team, 41 home / 41 away), game dates, tip times in
             the home team's time zone (stored UTC), and when reports, odds and rosters publish.
* players    15 per team with a minutes role, a value (points of team strength lost when he is
             out) and a usage.
* season     the generator, step by step; teams have a latent net rating (sd 4.5) that
             random-walks through the season and a pace rating.
* injuries   1% hazard per player-game, a report in the morning and two game-day updates.
* games      scores, quarters, overtime, final times; box scores that sum to them.
* odds       two books (``simbook_a``, ``simbook_b``), 3 snapshots per game.
* tables     the normalized tables (rosters: one snapshot per date; schedule: released Aug 15).
* source     SimulatedSource: fetch, caches, raw payloads.

Shock (drift tests)
-------------------
``shock={"date": "2026-01-15", "team": "BOS", "kind": "star_out_and_trade"}`` (optional key
``"partner"``: tricode of the team that gains).  From that date on, the team's most valuable player
is Out for the season (on every injury report from 08:00 local on the shock date, reason
"... (season-ending)"), and the team's strength drops by 6 points in total (his value plus a
rating cut making up the rest); the partner (default: the median-rated team of the other
conference on that date) gains +6 rating points from the same date (a trade).

``shock={"date": "2026-01-23", "kind": "league_realignment"}`` (optional ``"fraction"``, default
2/3): a league-wide regime shift (a trade-deadline / injury wave that reshuffles the league).  On
the shock date the ``round(fraction * 30)`` teams farthest from that day's league mean (20 by
default: the strongest and the weakest) have their true rating path from that date on mirrored
around the daily league mean (``rating[x:, t] = 2 * mean[x:] - rating[x:, t]``): contenders turn
into bottom teams and vice versa, the other teams are untouched.  Nothing else changes (no injury
report rows), so the shift is only visible through results.  Scores and the market (odds are
generated from the true ratings) follow the new truth at once; features built from past results
(Elo, recent form) are anti-informative for the mirrored teams until they catch up.  On seed 7 from
2026-01-23 the old and new ratings correlate at -0.92, and a model trained before the shock drops
from log loss ~0.60 / accuracy ~0.66 to ~0.78 / 0.50 on the next 50 games (market ~0.64).

For both kinds every random draw is unchanged, so the league is identical to the unshocked one
before the shock date.
"""
# Implied probability (with vig) of a moneyline: the league's prices go through the same function
# as every consumer's (re-exported for callers of this package).
from tipoff_core.domain.betting import american_to_prob
from resources.sources.simulated.league import season_window, teams_frame
from resources.sources.simulated.shock import SHOCK_KINDS
# _SHARED (the per-process season cache) is here so callers can clear it.
from resources.sources.simulated.source import _SHARED, SimulatedSource  # noqa: F401

__all__ = ["SHOCK_KINDS", "SimulatedSource", "american_to_prob", "season_window", "teams_frame"]
