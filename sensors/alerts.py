"""Alert sensors: tell someone when the daily slate failed or went degraded, a sensor broke, the
gate kept production, or drift started a retrain.  Each posts through `resources.alerts.send_alert`
(`TIPOFF_ALERT_WEBHOOK`, Slack-compatible JSON; without it the alert is only logged) a message with
the date, the run id, the reason and the run's link in the UI (`TIPOFF_UI_URL`).

| sensor | fires on | reason |
|---|---|---|
| `run_failure_alert_sensor` | any run of the code location that failed | the failed steps' errors |
| `degraded_slate_alert_sensor` | a `live_job` run that succeeded with a degraded slate | each feed gone without: why, how stale |
| `gate_rejection_alert_sensor` | a `train_job` run in which a candidate was not promoted | the gate's reasons |
| `drift_retrain_alert_sensor` | a `train_job` run started with `tipoff/retrain_reason=drift` | `tipoff/drift_detail` |

A failed sensor: every sensor of the code location is wrapped by `sensors.common.alert_on_exception`,
which posts the exception (sensor name, error) before re-raising it, so the tick still fails in the UI.
The same failure is posted at most once per `TIPOFF_ALERT_REPEAT_MINUTES` (default 60) per
process: a source that is down does not post every two minutes.
"""
from __future__ import annotations

import re

import dagster as dg

from resources.alerts import (DRIFT_RETRAIN, GATE_REJECTED, RUN_FAILED, SLATE_DEGRADED, Alert,
                              send_alert)
from sensors import clock
from sensors.common import alert_on_exception, sensor_status
from sensors.live_runs import LIVE_JOB, live_run_entry, run_error
from tipoff_core.tags import DRIFT_DETAIL_TAG, RETRAIN_DRIFT, RETRAIN_TAG
from tipoff_core.timeutil import league_date, utc

TRAIN_JOB = "train_job"


# ----------------------------------------------------------------------------- run alerts

def run_date(run: dg.DagsterRun, instance: dg.DagsterInstance) -> str:
    """The date a run is about: its partition (or range), else the league date it was created."""
    tags = run.tags
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start, end = (tags.get(f"dagster/asset_partition_range_{k}") for k in ("start", "end"))
    if start:
        return start if start == end else f"{start}..{end}"
    record = instance.get_run_record_by_id(run.run_id)
    created = record.create_timestamp if record is not None else None
    return league_date(utc(created) if created is not None else clock.now()).isoformat()


def failed_run_alert(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Alert:
    return Alert(RUN_FAILED, f"{run.job_name} run failed", run_error(instance, run.run_id),
                 date=run_date(run, instance), run_id=run.run_id, job=run.job_name)


def degraded_slate_alert(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Alert | None:
    """A live_job run whose game_scores say the slate was degraded (None otherwise)."""
    if run.job_name != LIVE_JOB:
        return None
    entry = live_run_entry(instance, run.run_id)
    if not entry.get("degraded"):
        return None
    feeds = entry.get("degraded_feeds") or {}
    reason = "; ".join(f"{k}: {why}" for k, why in feeds.items()) or "degraded"
    return Alert(SLATE_DEGRADED, f"live_job slate {entry['date']} DEGRADED "
                                 f"({', '.join(feeds) or '?'}): scored without fresh data",
                 reason, date=entry["date"], run_id=run.run_id, job=run.job_name)


def _materialization_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict]:
    out = {}
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=100).records
    for rec in records:
        mat = rec.event_log_entry.asset_materialization
        if mat is not None:
            out[mat.asset_key.to_user_string()] = {
                k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return out


def _gate_reasons(md: dict) -> dict[str, str]:
    """`gate_reasons` markdown ("- **name**: reason; reason") -> {name: reasons}."""
    text = str(getattr(md.get("gate_reasons"), "md_str", md.get("gate_reasons")) or "")
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r"^- \*\*(.+?)\*\*: (.*)$", text, re.MULTILINE)}


def gate_rejections(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    """Every model a train_job run trained but did not promote: name, version, production, why."""
    mds = _materialization_metadata(instance, run_id)
    out = []
    win = mds.get("win_model", {})
    reasons = _gate_reasons(win)
    for name in ("win_market_free", "win_with_market"):
        if f"{name}_version" in win and win[f"{name}_version"] != win.get(f"{name}_production"):
            out.append({"model": name, "version": win[f"{name}_version"],
                        "production": win.get(f"{name}_production"),
                        "reasons": reasons.get(name, "")})
    mins = mds.get("minutes_model", {})
    if "version" in mins and mins["version"] != mins.get("production"):
        out.append({"model": "minutes", "version": mins["version"],
                    "production": mins.get("production"),
                    "reasons": _gate_reasons(mins).get("minutes", "")})
    return out


def gate_rejection_alert(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Alert | None:
    if run.job_name != TRAIN_JOB:
        return None
    kept = gate_rejections(instance, run.run_id)
    if not kept:
        return None
    reason = "; ".join(f"{r['model']} {r['version']} not promoted, production stays "
                       f"{r['production']}: {r['reasons'] or 'see the run'}" for r in kept)
    trigger = run.tags.get(RETRAIN_TAG)
    return Alert(GATE_REJECTED, f"gate kept production ({', '.join(r['model'] for r in kept)})"
                                + (f" on a {trigger} retrain" if trigger else ""),
                 reason, date=run_date(run, instance), run_id=run.run_id, job=run.job_name)


def drift_retrain_alert(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Alert | None:
    if run.job_name != TRAIN_JOB or run.tags.get(RETRAIN_TAG) != RETRAIN_DRIFT:
        return None
    return Alert(DRIFT_RETRAIN, "drift detected: retraining (train_job, through the gate)",
                 run.tags.get(DRIFT_DETAIL_TAG) or "drift_sensor fired",
                 date=run_date(run, instance), run_id=run.run_id, job=run.job_name)


def _post(context, alert: Alert | None) -> None:
    if alert is None:
        return
    result = send_alert(alert)
    context.log.info(f"alert {alert.kind} for run {alert.run_id}: {result.detail}")


# No monitored_jobs: these watch every job of their own code location.
@dg.run_failure_sensor(name="run_failure_alert_sensor", default_status=sensor_status(),
                       description="Posts an alert (TIPOFF_ALERT_WEBHOOK) for every failed run: "
                                   "job, date, run id, the failed steps' errors, the run's link.")
@alert_on_exception
def run_failure_alert_sensor(context: dg.RunFailureSensorContext):
    _post(context, failed_run_alert(context.instance, context.dagster_run))


@dg.run_status_sensor(name="degraded_slate_alert_sensor", run_status=dg.DagsterRunStatus.SUCCESS,
                      default_status=sensor_status(),
                      description="Posts an alert when a live_job run scored a degraded slate "
                                  "(a feed failed, missing or stale): which feeds, why, how old.")
@alert_on_exception
def degraded_slate_alert_sensor(context: dg.RunStatusSensorContext):
    _post(context, degraded_slate_alert(context.instance, context.dagster_run))


@dg.run_status_sensor(name="gate_rejection_alert_sensor", run_status=dg.DagsterRunStatus.SUCCESS,
                      default_status=sensor_status(),
                      description="Posts an alert when a train_job run kept production because a "
                                  "candidate failed the promotion gate, with the gate's reasons.")
@alert_on_exception
def gate_rejection_alert_sensor(context: dg.RunStatusSensorContext):
    _post(context, gate_rejection_alert(context.instance, context.dagster_run))


@dg.run_status_sensor(name="drift_retrain_alert_sensor", run_status=dg.DagsterRunStatus.STARTED,
                      default_status=sensor_status(),
                      description="Posts an alert when a drift-triggered train_job run starts "
                                  "(drift_sensor fired), with the drift check's numbers.")
@alert_on_exception
def drift_retrain_alert_sensor(context: dg.RunStatusSensorContext):
    _post(context, drift_retrain_alert(context.instance, context.dagster_run))


alert_sensors = [run_failure_alert_sensor, degraded_slate_alert_sensor,
                 gate_rejection_alert_sensor, drift_retrain_alert_sensor]
