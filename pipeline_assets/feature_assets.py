"""Gold (historical) and live feature assets: thin wrappers over `featureio` and the builders."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from pipeline_assets.feature_checks import anti_leak_violations, cutoff_violations
from pipeline_assets.featureio import (DEFAULT_ROSTER_FALLBACK_DAYS,
                                       History, LiveInputError, LivePolicy, build_gold, build_live,
                                       latest_per_game, load_history, parity, read_live_inputs,
                                       write_gold, write_live)
from pipeline_assets.metadata import markdown_table
from pipeline_assets.features import FEATURE_SCHEMA_VERSION, FeatureSchemaError, validate_features
from pipeline_assets.partitions import (DAILY, check_evaluation, explicit_as_of,
                                        per_partition_results, run_created_ts)
from resources import storage
from resources.dagster_resources import StorageResource
from tipoff_core import catalog
from tipoff_core.timeutil import resolve_as_of

LABEL_DEPS = [t.asset for t in catalog.of_layer("label")]
GOLD = {t.kind: t.asset for t in catalog.of_layer("gold")}
LIVE = {t.kind: t.asset for t in catalog.of_layer("live")}
KEYS = {t.kind: list(t.keys) for t in catalog.of_layer("live")}


def _specs(layer: str, group: str, desc: str) -> list[dg.AssetSpec]:
    tables = catalog.of_layer(layer)
    deps = catalog.snapshot_assets_read_by(tables) + LABEL_DEPS
    return [dg.AssetSpec(t.asset, deps=deps, partitions_def=DAILY, group_name=group,
                         kinds={"parquet"}, description=desc.format(set=t.kind),
                         metadata={"schema_version": FEATURE_SCHEMA_VERSION})
            for t in tables]


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
    specs=_specs("gold", "gold_features",
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
    seasons = write_gold(games, minutes, dates, root)
    results = history.results
    for fs, df in (("game", games), ("minutes", minutes)):
        md = _table_md(df, fs)
        md["dates"] = len(dates)
        md["seasons"] = ", ".join(seasons)
        yield dg.MaterializeResult(asset_key=GOLD[fs], metadata=md)
        for check in _feature_checks(fs, GOLD[fs], df, results):
            yield check


class LiveFeatureConfig(dg.Config):
    """As-of policy of a live feature run.  Unset limits and feeds come from the environment
    (`TIPOFF_MAX_AGE_HOURS`, `TIPOFF_REQUIRED_FEEDS`; defaults `featureio.DEFAULT_MAX_AGE_HOURS`
    and the schedule only).  A feed that is not required and has no run within its max age is
    left out (its features missing) and the slate is marked degraded."""

    run_as_of_ts: str = ""
    max_age_hours_schedule: float | None = None
    max_age_hours_injuries: float | None = None
    max_age_hours_odds: float | None = None
    max_age_hours_rosters: float | None = None
    roster_fallback_days: int = DEFAULT_ROSTER_FALLBACK_DAYS
    required_feeds: list[str] | None = None

    def policy(self) -> LivePolicy:
        return LivePolicy.for_feeds(self.required_feeds, {
            "schedule": self.max_age_hours_schedule, "injuries": self.max_age_hours_injuries,
            "odds": self.max_age_hours_odds, "rosters": self.max_age_hours_rosters},
            self.roster_fallback_days)


def stored_tips(day: str, root) -> pd.Series:
    """Tip times of a date from its stored schedule snapshots."""
    sched = latest_per_game(storage.read_snapshot_history(catalog.snapshot("schedule"), [day], root))
    return sched["tip_ts"] if len(sched) else pd.Series([], dtype=object)


def live_as_of(context, config, day: str, root) -> pd.Timestamp:
    """The run's as-of for a date: the rule the snapshots of that date used, with the stored
    schedule's tips."""
    return resolve_as_of(day, explicit_as_of(context, config), run_created_ts(context),
                         lambda: stored_tips(day, root))


@dg.multi_asset(
    specs=_specs("live", "live_features",
                 "Live {set} features for a date as of run_as_of_ts (cutoff = min(as-of, tip)), "
                 "one folder per run under live/features_{set}/<date>/run=<ts>/ with LATEST."),
    check_specs=_check_specs(LIVE, extra=("freshness",)), partitions_def=DAILY, can_subset=False,
    backfill_policy=dg.BackfillPolicy.single_run())
def live_features(context: dg.AssetExecutionContext, config: LiveFeatureConfig,
                  store: StorageResource):
    root = store.path()
    policy = config.policy()
    history = load_history(root, context.partition_keys[-1])  # shared by every date of the run
    results, as_ofs, folders = {}, {}, {}
    for day in context.partition_keys:
        as_of = as_ofs[day] = live_as_of(context, config, day, root)
        try:
            result = build_live(day, as_of, read_live_inputs(day, as_of, root, policy),
                                _history_until(history, day), policy)
        except LiveInputError as exc:
            raise dg.Failure(description=f"live features {day} as of {as_of.isoformat()}: {exc}") \
                from exc
        context.log.info(f"live features {day} as of {as_of.isoformat()}: {len(result.games)} "
                         f"games, {len(result.minutes)} player rows; warnings: "
                         f"{result.summary['warnings']}")
        if result.summary["degraded"]:
            context.log.warning(f"live features {day}: DEGRADED -- " + "; ".join(
                f"{k}: {why}" for k, why in result.summary["degraded_feeds"].items()))
        results[day] = result
        folders[day] = {fs: write_live(result, fs, day, as_of, root) for fs in ("game", "minutes")}
    last = context.partition_keys[-1]
    limits = policy.max_age_hours
    ages = {d: r.summary["snapshot_age_hours"] for d, r in results.items()}
    stale = {d: {k: v for k, v in a.items() if v is not None and v > limits[k]}
             for d, a in ages.items()}
    stale = {d: v for d, v in stale.items() if v}
    degraded = {d: r.summary["degraded_feeds"] for d, r in results.items() if r.summary["degraded"]}
    for fs in ("game", "minutes"):
        frames = [r.games if fs == "game" else r.minutes for r in results.values()]
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        md = _table_md(df, fs)
        md.update({"run_as_of_ts": ", ".join(sorted({t.isoformat() for t in as_ofs.values()}))[:500],
                   "dates": len(results), "path": dg.MetadataValue.path(str(folders[last][fs])),
                   "snapshot_age_hours": dg.MetadataValue.json(ages[last]),
                   "warnings": dg.MetadataValue.json(results[last].summary["warnings"]),
                   "degraded": bool(degraded),
                   "degraded_feeds": dg.MetadataValue.json(results[last].summary["degraded_feeds"])})
        yield dg.MaterializeResult(asset_key=LIVE[fs], metadata=md)
        cutoff_bound = as_ofs[last] if len(results) == 1 else None
        for check in _feature_checks(fs, LIVE[fs], df, history.results, cutoff_bound):
            yield check
        yield dg.AssetCheckResult(asset_key=LIVE[fs], check_name="freshness",
                                  passed=not stale and not degraded,
                                  severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"ages_hours": dg.MetadataValue.json(ages[last]),
                                            "stale": dg.MetadataValue.json(stale),
                                            "degraded_feeds": dg.MetadataValue.json(degraded),
                                            "limits_hours": dg.MetadataValue.json(limits)})


def _history_until(history, day: str):
    """The label history as a run for `day` alone would read it (dates up to `day`)."""
    r, b = history.results, history.box_scores
    if len(r) and r["game_date"].max() <= day and (b.empty or b["game_date"].max() <= day):
        return history
    return History(r[r["game_date"] <= day].reset_index(drop=True),
                   b[b["game_date"] <= day].reset_index(drop=True))


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec("gold_live_parity", asset="gold_game_features", partitions_def=DAILY,
                             blocking=False,
                             description="Rebuild the run's last dates (at most PARITY_MAX_DATES) "
                                         "through the live path (as of after the last tip) and "
                                         "diff every column against gold.")],
    can_subset=True)
def gold_live_parity(context: dg.AssetCheckExecutionContext, store: StorageResource):
    yield from per_partition_results(context, _parity_evaluations(
        context.partition_keys[-PARITY_MAX_DATES:], store.path()))


def _parity_evaluations(days: list[str], root) -> Iterator[dg.AssetCheckEvaluation]:
    for day in days:
        diffs = {fs: d for fs, d in parity(day, root).items() if len(d)}
        yield check_evaluation("gold_game_features", "gold_live_parity", day,
                               [f"{fs}: {len(d)} rows differ from the live path"
                                for fs, d in diffs.items()],
                               {fs: dg.MetadataValue.md(markdown_table(d)) for fs, d in diffs.items()})


PARITY_MAX_DATES = 7


feature_assets = [gold_features, live_features]
feature_checks = [gold_live_parity]
