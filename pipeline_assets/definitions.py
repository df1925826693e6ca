"""The Tipoff code location: `dagster dev` loads `defs` from here (see [tool.dagster]).

The wiring layer: assets, checks, jobs, schedules, sensors and resources come together here and
nowhere else (nothing imports this module but the tools that load the code location).
"""
from __future__ import annotations

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

from pipeline_assets.asset_catalog import catalog_spec  # noqa: E402
from pipeline_assets.backtest_assets import backtest_report  # noqa: E402
from pipeline_assets.executors import tipoff_executor  # noqa: E402
from pipeline_assets.feature_assets import feature_assets, feature_checks  # noqa: E402
from pipeline_assets.halftime_assets import halftime_assets  # noqa: E402
from pipeline_assets.ingest import label_assets, snapshot_assets  # noqa: E402
from pipeline_assets.jobs import all_jobs  # noqa: E402
from pipeline_assets.model_assets import model_assets, model_checks, score_assets  # noqa: E402
from pipeline_assets.monitoring_assets import monitoring_assets  # noqa: E402
from pipeline_assets.output_checks import output_checks  # noqa: E402
from pipeline_assets.rating_assets import rating_assets  # noqa: E402
from resources import instance_tuning  # noqa: E402
from resources.dagster_resources import resources  # noqa: E402
from sensors import automation_schedules, automation_sensors  # noqa: E402

instance_tuning.install()

defs = dg.Definitions(
    # owners, tags and freshness of every asset: one table (asset_catalog.ASSETS)
    assets=dg.map_asset_specs(catalog_spec, [
        *snapshot_assets, *label_assets, *feature_assets, *model_assets, *score_assets,
        *monitoring_assets, *rating_assets, *halftime_assets, backtest_report]),
    asset_checks=[*feature_checks, *model_checks, *output_checks],
    jobs=all_jobs,
    schedules=automation_schedules,
    sensors=automation_sensors,
    resources=resources(),
    executor=tipoff_executor,  # also for runs of an asset selection (UI Materialize, `dagster asset materialize`)
)
