"""Gold (historical) and live feature assets: thin wrappers over `featureio` and the builders."""
import datetime as dt
import json

import dagster as dg
import pandas as pd

from pipeline_assets.feature_checks import anti_leak_violations, cutoff_violations
from pipeline_assets.featureio import (DEFAULT_MAX_AGE_HOURS, LiveInputError, LivePolicy,
                                       build_gold, build_live, latest_per_game, load_history,
                                       parity, write_live)
from pipeline_assets.features import FEATURE_SCHEMA_VERSION, FeatureSchemaError, validate_features
from pipeline_assets.partitions import DAILY, explicit_as_of, run_created_ts, default_as_of
from pipeline_assets.timeutil import season_of
from resources import storage
from resources.dagster_resources import StorageResource

SNAPSHOT_DEPS = ["schedule_snapshot", "injury_snapshot", "odds_snapshot", "roster_snapshot"]
LABEL_DEPS = ["game_results", "player_box_scores"]
KEYS = {"game": ["game_id"], "minutes": ["game_id", "player_id"]}
GOLD = {"game": "gold_game_features", "minutes": "gold_minutes_features"}
LIVE = {"game": "live_game_features", "minutes": "live_minutes_features"}


def _specs(names: dict[str, str], group: str, deps: list[str], desc: str) -> list[dg.AssetSpec]:
    return [dg.AssetSpec(asset, deps=deps, partitions_def=DAILY, group_name=group,
                         kinds={"parquet"}, description=desc.format(set=fs),
                         metadata={"schema_version": FEATURE_SCHEMA_VERSION})
            for fs, asset in names.items()]


def _check_specs(names: dict[str, str], extra: tuple[str, ...] = ()) -> list[dg.AssetCheckSpec]:
    out = []
    for fs, asset in names.items():
        for check in ("schema", "unique_key", "anti_leak", *extra):
            if check == "anti_leak" and fs != "game":
                continue
            out.append(dg.AssetCheckSpec(check, asset=asset, partitions_def=DAILY))
    return out


def _feature_checks(fs: str, asset: str, df: pd.DataFrame, results: pd.DataFrame,
                    run_as_of: pd.Timestamp | None = None) -> list[dg.AssetCheckResult]:
    try:
        validate_features(df, fs)
        schema_ok, schema_msg = True, "ok"
    except FeatureSchemaError as exc:
        schema_ok, schema_msg = False, str(exc)[:1000]
    dupes = int(df.duplicated(KEYS[fs]).sum())
    checks = [
        dg.AssetCheckResult(asset_key=asset, check_name="schema", passed=schema_ok,
                            metadata={"version": FEATURE_SCHEMA_VERSION, "detail": schema_msg}),
        dg.AssetCheckResult(asset_key=asset, check_name="unique_key", passed=dupes == 0,
                            metadata={"duplicates": dupes, "key": ", ".join(KEYS[fs])}),
    ]
    if fs == "game":
        leaks = anti_leak_violations(df, results)
        late = cutoff_violations(df, run_as_of)
        checks.append(dg.AssetCheckResult(
            asset_key=asset, check_name="anti_leak", passed=leaks.empty and late == 0,
            metadata={"games_with_unexpected_history": len(leaks), "cutoff_after_tip_or_as_of": late,
                      "example": leaks.head(3).to_json(orient="records")}))
    return checks


def _table_md(df: pd.DataFrame, fs: str) -> dict:
    md = {"rows": dg.MetadataValue.int(len(df)), "dagster/row_count": len(df),
          "columns": len(df.columns), "schema_version": FEATURE_SCHEMA_VERSION}
    if len(df) and fs == "game":
        md["mean_elo_prob_home"] = float(df["elo_prob_home"].mean())
        md["market_coverage"] = float(df["mkt_available"].mean())
    if len(df):
        numeric = df.select_dtypes("number")
        md["null_share_top"] = dg.MetadataValue.md(
            "| column | null share |\n|---|---|\n" + "\n".join(
                f"| {c} | {v:.3f} |" for c, v in numeric.isna().mean().sort_values(ascending=False)
                .head(8).items()))
    return md


@dg.multi_asset(
    specs=_specs(GOLD, "gold_features", SNAPSHOT_DEPS + LABEL_DEPS,
                 "Historical {set} features (cutoff = tip) from every stored snapshot run and "
                 "label; one parquet per season under gold/{set}/."),
    check_specs=_check_specs(GOLD), backfill_policy=dg.BackfillPolicy.single_run(),
    partitions_def=DAILY, can_subset=False)
def gold_features(context: dg.AssetExecutionContext, store: StorageResource):
    root = store.path()
    dates = context.partition_keys
    context.log.info(f"gold features for {len(dates)} date(s) {dates[0]}..{dates[-1]}")
    history = load_history(root, dates[-1])
    games, minutes = build_gold(dates, root, history)
    results = history.results
    for fs, df in (("game", games), ("minutes", minutes)):
        by_season = {}
        for day in dates:
            by_season.setdefault(season_of(day), []).append(day)
        for season, days in by_season.items():
            storage.write_season_rows(fs, season, days, df[df["game_date"].isin(days)], root)
        md = _table_md(df, fs)
        md["dates"] = len(dates)
        md["seasons"] = ", ".join(sorted(by_season))
        yield dg.MaterializeResult(asset_key=GOLD[fs], metadata=md)
        for check in _feature_checks(fs, GOLD[fs], df, results):
            yield check


class LiveFeatureConfig(dg.Config):
    """As-of policy of a live feature run."""

    run_as_of_ts: str = ""
    max_age_hours_schedule: float = DEFAULT_MAX_AGE_HOURS["schedule"]
    max_age_hours_injuries: float = DEFAULT_MAX_AGE_HOURS["injuries"]
    max_age_hours_odds: float = DEFAULT_MAX_AGE_HOURS["odds"]
    max_age_hours_rosters: float = DEFAULT_MAX_AGE_HOURS["rosters"]
    roster_fallback_days: int = 3
    allow_missing: list[str] = []

    def policy(self) -> LivePolicy:
        return LivePolicy({"schedule": self.max_age_hours_schedule,
                           "injuries": self.max_age_hours_injuries,
                           "odds": self.max_age_hours_odds, "rosters": self.max_age_hours_rosters},
                          self.roster_fallback_days, tuple(self.allow_missing))


def live_as_of(context, config, day: str, root) -> pd.Timestamp:
    """Explicit config/tag, else the same default as the snapshots of that date."""
    explicit = explicit_as_of(context, config)
    if explicit is not None:
        return explicit
    now = run_created_ts(context)
    sched = latest_per_game(storage.read_snapshot_history("schedule", [day], root))
    return default_as_of(day, now, sched["tip_ts"] if len(sched) else pd.Series([], dtype=object))


@dg.multi_asset(
    specs=_specs(LIVE, "live_features", SNAPSHOT_DEPS + LABEL_DEPS,
                 "Live {set} features for a date as of run_as_of_ts (cutoff = min(as-of, tip)), "
                 "one folder per run under live/features_{set}/<date>/run=<ts>/ with LATEST."),
    check_specs=_check_specs(LIVE, extra=("freshness",)), partitions_def=DAILY, can_subset=False)
def live_features(context: dg.AssetExecutionContext, config: LiveFeatureConfig,
                  store: StorageResource):
    root = store.path()
    day = context.partition_key
    as_of = live_as_of(context, config, day, root)
    history = load_history(root, day)  # read once: the builders and the anti-leak check share it
    try:
        result = build_live(day, as_of, root, config.policy(), history=history)
    except LiveInputError as exc:
        raise dg.Failure(description=f"live features {day} as of {as_of.isoformat()}: {exc}") from exc
    context.log.info(f"live features {day} as of {as_of.isoformat()}: {len(result.games)} games, "
                     f"{len(result.minutes)} player rows; warnings: {result.summary['warnings']}")
    for fs, df in (("game", result.games), ("minutes", result.minutes)):
        folder = write_live(result, fs, day, as_of, root)
        md = _table_md(df, fs)
        md.update({"run_as_of_ts": as_of.isoformat(), "path": dg.MetadataValue.path(str(folder)),
                   "snapshot_age_hours": dg.MetadataValue.json(result.summary["snapshot_age_hours"]),
                   "warnings": dg.MetadataValue.json(result.summary["warnings"])})
        yield dg.MaterializeResult(asset_key=LIVE[fs], metadata=md)
        for check in _feature_checks(fs, LIVE[fs], df, history.results, as_of):
            yield check
        ages = result.summary["snapshot_age_hours"]
        limits = config.policy().max_age_hours
        stale = {k: v for k, v in ages.items() if v is not None and v > limits[k]}
        yield dg.AssetCheckResult(asset_key=LIVE[fs], check_name="freshness", passed=not stale,
                                  severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"ages_hours": dg.MetadataValue.json(ages),
                                            "limits_hours": dg.MetadataValue.json(limits)})


@dg.asset_check(asset="gold_game_features", partitions_def=DAILY, blocking=False,
                description="Rebuild this date through the live path (as of after its last tip) "
                            "and diff every column against gold.")
def gold_live_parity(context: dg.AssetCheckExecutionContext, store: StorageResource):
    days = context.partition_keys[-PARITY_MAX_DATES:]
    md, passed = {}, True
    for day in days:
        diffs = parity(day, store.path())
        gaps = diffs.pop("minutes_roster_gaps")
        if len(gaps):
            md[f"{day} roster gaps (not compared)"] = len(gaps)
        for fs, d in diffs.items():
            passed &= d.empty
            if len(d):
                md[f"{day} {fs}"] = dg.MetadataValue.md(markdown_table(d))
    md["dates_checked"] = ", ".join(days)
    return dg.AssetCheckResult(passed=passed, metadata=md)


PARITY_MAX_DATES = 7


def markdown_table(df: pd.DataFrame, limit: int = 30) -> str:
    head = "| " + " | ".join(map(str, df.columns)) + " |\n|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(str(v) for v in r) + " |" for r in df.head(limit).itertuples(index=False)]
    return "\n".join([head, *rows])


feature_assets = [gold_features, live_features]
feature_checks = [gold_live_parity]
