"""Keeps the HTTP API's Redis cache (`resources/cache.py`) in step with the stores.

`serving_cache_sensor` (a run-status sensor on success) reacts to the runs that change what the
API answers:

* `live_job` for a date (new snapshots -- odds among them --, live features, a scored slate): the
  date's slate, on-demand predictions, team states and odds entries and every game entry are
  invalidated, and the date's slate is warmed (read from the store into Redis);
* `train_job` (a promotion may have switched production): model metadata and on-demand
  predictions are invalidated.  Prediction keys also carry the production versions, so a
  promotion made any other way (`tipoff models promote`) is never served stale either.

With Redis down the sensor does nothing (the API reads the stores).
"""
from __future__ import annotations

import dagster as dg

from pipeline_assets.serving import Service
from resources.storage import data_root
from sensors.common import alert_on_exception, sensor_status

LIVE_JOB, TRAIN_JOB = "live_job", "train_job"


def on_run_success(job_name: str, partition: str | None, service: Service | None = None) -> dict:
    """What the sensor does for one successful run (plain function: tests call it)."""
    if job_name not in (LIVE_JOB, TRAIN_JOB):
        return {}
    service = service or Service(root=data_root())
    if job_name == LIVE_JOB and partition:
        return service.on_live_run(partition)
    if job_name == TRAIN_JOB:
        return {"deleted": service.on_promotion()}
    return {}


@dg.run_status_sensor(name="serving_cache_sensor", run_status=dg.DagsterRunStatus.SUCCESS,
                      default_status=sensor_status(),
                      description="Invalidates and warms the HTTP API's Redis cache when a "
                                  "live_job run (slate, odds) or a train_job run (promotion) "
                                  "succeeds.")
@alert_on_exception
def serving_cache_sensor(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    out = on_run_success(run.job_name, run.tags.get("dagster/partition"))
    if out:
        context.log.info(f"serving cache: {out}")
