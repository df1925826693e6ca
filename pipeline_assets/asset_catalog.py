"""Owners, tags and freshness of every asset, in one table (applied in definitions.py with
`dg.map_asset_specs`).  A new asset needs a row here: tests/test_definitions_ui.py fails otherwise.

Tags (filterable in the UI's asset catalog):
  tipoff/layer       snapshot | label | feature | model | score | monitoring | rating | in_game
  tipoff/domain      what it is about: schedule, injuries, odds, rosters, results, box_scores,
                     games, minutes, ratings, performance
  tipoff/source_api  the external API behind it on TIPOFF_SOURCE=live (nba_cdn, nba_stats,
                     odds_api, injury_report), or none for assets computed from stored tables
"""
from __future__ import annotations

import datetime as dt

import dagster as dg

from tipoff_core.tags import DOMAIN_TAG, LAYER_TAG, SOURCE_API_TAG
from tipoff_core.timeutil import LEAGUE_TZ

# Owners by layer: who is paged about an asset (Dagster accepts emails or `team:<name>`).
OWNERS = {
    "snapshot": ["team:ingest"], "label": ["team:ingest"], "feature": ["team:features"],
    "model": ["team:models"], "score": ["team:models"], "monitoring": ["team:models"],
    "rating": ["team:product"], "in_game": ["team:product"],
}

#                        asset: (layer, domain, source_api)
ASSETS: dict[str, tuple[str, str, str]] = {
    "schedule_snapshot": ("snapshot", "schedule", "nba_cdn"),
    "injury_snapshot": ("snapshot", "injuries", "injury_report"),
    "odds_snapshot": ("snapshot", "odds", "odds_api"),
    "roster_snapshot": ("snapshot", "rosters", "nba_stats"),
    "game_results": ("label", "results", "nba_stats"),
    "player_box_scores": ("label", "box_scores", "nba_stats"),
    "gold_game_features": ("feature", "games", "none"),
    "gold_minutes_features": ("feature", "minutes", "none"),
    "live_game_features": ("feature", "games", "none"),
    "live_minutes_features": ("feature", "minutes", "none"),
    "win_model": ("model", "games", "none"),
    "minutes_model": ("model", "minutes", "none"),
    "game_scores": ("score", "games", "none"),
    "minutes_scores": ("score", "minutes", "none"),
    "model_performance": ("monitoring", "performance", "none"),
    "backtest_report": ("monitoring", "performance", "none"),
    "game_ratings": ("rating", "ratings", "nba_cdn"),
    "halftime_scores": ("in_game", "games", "nba_cdn"),
}

# Freshness expectations (Dagster's FreshnessPolicy, evaluated by the daemon): the live slate is
# due by 11:30 New York time (the 11:00 schedule, with half an hour to run), materialized no
# earlier than 10:00; labels by 04:00 (the 03:00 overnight job), from results that went final
# the evening before (new_games_sensor) or overnight.
LIVE_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="30 11 * * *",
                                         lower_bound_delta=dt.timedelta(minutes=90),
                                         timezone=LEAGUE_TZ.key)
LABEL_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 4 * * *",
                                          lower_bound_delta=dt.timedelta(hours=6),
                                          timezone=LEAGUE_TZ.key)
LIVE_ASSETS = ("schedule_snapshot", "injury_snapshot", "odds_snapshot", "roster_snapshot",
               "live_game_features", "live_minutes_features", "game_scores", "minutes_scores")
LABEL_ASSETS = ("game_results", "player_box_scores")
FRESHNESS = {**{a: LIVE_FRESHNESS for a in LIVE_ASSETS}, **{a: LABEL_FRESHNESS for a in LABEL_ASSETS}}


def catalog_spec(spec: dg.AssetSpec) -> dg.AssetSpec:
    """`spec` with its row's owners, tags and freshness (unchanged when it has no row: the test
    names it)."""
    row = ASSETS.get(spec.key.to_user_string())
    if row is None:
        return spec
    layer, domain, api = row
    out = spec.replace_attributes(owners=OWNERS[layer], tags={
        **spec.tags, LAYER_TAG: layer, DOMAIN_TAG: domain, SOURCE_API_TAG: api})
    policy = FRESHNESS.get(spec.key.to_user_string())
    return dg.apply_freshness_policy(out, policy) if policy else out
