"""Run registry of live runs: one entry per finished `live_job` run (success or failure).

`live_run_registry_sensor` (a run-status sensor) appends, for every live_job run that succeeded or
failed, a JSON line to ``<data root>/ops/live_runs.jsonl``: date, run_as_of_ts, status, trigger,
snapshot ages and warnings (from the live features' metadata), games scored, model version, the
error of a failed run, and whether the slate was degraded (`degraded`, `degraded_feeds`: which
feeds it went without and why).  `tipoff run` writes the same kind of entry for CLI runs
(``mode=cli``).  Read it with `pipeline_assets.monitoring.live_runs.read_live_runs` or
`tipoff live-runs`.
"""
from __future__ import annotations

import dagster as dg

from pipeline_assets.monitoring.live_runs import append_live_run
from resources.storage import data_root
from sensors.common import alert_on_exception, sensor_status
from tipoff_core.tags import RUN_AS_OF_TAG, TRIGGER_TAG

LIVE_JOB = "live_job"


def _metadata_value(v):
    value = getattr(v, "value", v)
    if hasattr(value, "data"):        # JsonMetadataValue
        return value.data
    return value


def live_run_entry(instance: dg.DagsterInstance, run_id: str) -> dict:
    """The registry entry of one live_job run, from its tags and event log."""
    run = instance.get_run_by_id(run_id)
    entry = {"run_id": run_id, "mode": "dagster", "job": run.job_name,
             "status": run.status.value, "date": run.tags.get("dagster/partition"),
             "run_as_of_ts": run.tags.get(RUN_AS_OF_TAG),
             "trigger": run.tags.get(TRIGGER_TAG) or run.tags.get("dagster/schedule_name")
             or run.tags.get("dagster/sensor_name") or "manual",
             "snapshot_age_hours": None, "warnings": [], "games": None, "model_version": None,
             "error": None, "degraded": None, "degraded_feeds": {}}
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1000).records
    for rec in records:
        mat = rec.event_log_entry.asset_materialization
        if mat is None:
            continue
        md = {k: _metadata_value(v) for k, v in mat.metadata.items()}
        key = mat.asset_key.to_user_string()
        if key == "live_game_features":
            entry["run_as_of_ts"] = md.get("run_as_of_ts", entry["run_as_of_ts"])
            entry["snapshot_age_hours"] = md.get("snapshot_age_hours")
            entry["warnings"] = md.get("warnings") or []
        elif key == "game_scores":
            entry["games"] = md.get("games")
            entry["model_version"] = md.get("model_version")
            entry["bets"] = md.get("bets")
            entry["degraded"] = md.get("degraded")
            entry["degraded_feeds"] = md.get("degraded_feeds") or {}
    if run.status == dg.DagsterRunStatus.FAILURE:
        entry["error"] = run_error(instance, run_id)
    return entry


def run_error(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a run failed: its step and run failure messages, de-duplicated."""
    fails = instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE},
        limit=20).records
    msgs = [_failure_message(r.event_log_entry.dagster_event) for r in fails
            if r.event_log_entry.dagster_event is not None]
    return " | ".join(dict.fromkeys(m for m in msgs if m))[:2000] or "failed"


def _failure_message(event) -> str:
    """The user-facing reason of a step/run failure (a Failure's description, else the error)."""
    data = event.event_specific_data
    user = getattr(data, "user_failure_data", None)
    if user is not None and getattr(user, "description", None):
        return f"{event.step_key}: {user.description}"
    err = getattr(data, "error", None)
    if err is not None and getattr(err, "message", None):
        return f"{event.step_key or 'run'}: {err.message.strip()}"
    return event.message or ""


def record_live_run(instance: dg.DagsterInstance, run_id: str, root=None) -> dict:
    entry = live_run_entry(instance, run_id)
    append_live_run(entry, root or data_root())
    return entry


# No monitored_jobs: these watch the jobs of their own code location and keep live_job's runs.
@dg.run_status_sensor(name="live_run_registry_sensor", run_status=dg.DagsterRunStatus.SUCCESS,
                      default_status=sensor_status(),
                      description="Appends a run-registry entry (ops/live_runs.jsonl) for every "
                                  "successful live_job run.")
@alert_on_exception
def live_run_registry_sensor(context: dg.RunStatusSensorContext):
    if context.dagster_run.job_name == LIVE_JOB:
        record_live_run(context.instance, context.dagster_run.run_id)


@dg.run_failure_sensor(name="live_run_failure_registry_sensor", default_status=sensor_status(),
                       description="Appends a run-registry entry (with the error) for every failed "
                                   "live_job run.")
@alert_on_exception
def live_run_failure_registry_sensor(context: dg.RunFailureSensorContext):
    if context.dagster_run.job_name == LIVE_JOB:
        record_live_run(context.instance, context.dagster_run.run_id)


registry_sensors = [live_run_registry_sensor, live_run_failure_registry_sensor]
