"""`drift_sensor`: request a retrain when the production model's recent performance or inputs drift.

It reads the newest stored `model_performance` evaluation (``summary.json``; the overnight and
weekly schedules write them) and compares, for the current production version of
``win_market_free``:

* performance on the games *that version scored* in the last 28 days (the ``production`` window)
  with its registry baseline (metadata ``metrics``: log loss / accuracy on its gate window):
  fires when accuracy dropped by more than ``max_accuracy_drop`` (0.05) or log loss rose by more
  than ``max_log_loss_rise`` (0.02) over at least ``min_games`` (50) games **and** the change is
  statistically distinguishable from noise (one-sided z >= ``min_z``, 1.645; 0 disables) -- over
  50-100 games the standard error of a log loss is ~0.03-0.04, so without this guard a 0.02 rise
  fires on noise alone;
* feature drift: the largest PSI of the model's top features (recent live features vs the training
  window) above ``max_psi`` (0.2), once at least ``min_psi_rows`` (100) recent rows exist.

When it fires it requests `train_job` with tags ``tipoff/retrain_reason=drift`` and
``tipoff/drift_detail`` (which check, the numbers).  Promotion still goes through the gate: a
candidate that is not better leaves production untouched.  Cooldown: after a fire nothing fires for
``cooldown_days`` (7) -- the cursor stores the last fire time and the production version it fired
for -- and never while a train_job run is queued or running.  Evaluations older than
``max_report_age_days`` (3) or made for another production version are ignored.

Thresholds come from the environment (``TIPOFF_DRIFT_MAX_ACCURACY_DROP``, ``..._MAX_LOG_LOSS_RISE``,
``..._MIN_GAMES``, ``..._MAX_PSI``, ``..._MIN_PSI_ROWS``, ``..._MIN_Z``, ``..._COOLDOWN_DAYS``,
``..._MAX_REPORT_AGE_DAYS``).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from pipeline_assets.monitoring.report import WIN_MODEL, latest_summary
from resources.dagster_resources import RegistryResource, StorageResource
from sensors import clock
from sensors.common import alert_on_exception, sensor_status
from tipoff_core.tags import (DRIFT_DETAIL_TAG, DRIFT_EVALUATION_TAG, DRIFT_PRODUCTION_VERSION_TAG,
                              RETRAIN_DRIFT, RETRAIN_TAG, TRIGGER_TAG)
from tipoff_core.timeutil import league_date, ts_token, utc

ENV_PREFIX = "TIPOFF_DRIFT_"


@dataclass(frozen=True)
class DriftThresholds:
    max_accuracy_drop: float = 0.05
    max_log_loss_rise: float = 0.02
    min_games: int = 50
    max_psi: float = 0.2
    min_psi_rows: int = 100
    min_z: float = 1.645
    cooldown_days: float = 7.0
    max_report_age_days: int = 3

    @classmethod
    def from_env(cls, env=None) -> "DriftThresholds":
        env = os.environ if env is None else env
        kw = {}
        for f in dataclasses.fields(cls):
            raw = str(env.get(ENV_PREFIX + f.name.upper(), "")).strip()
            if raw:
                kw[f.name] = type(f.default)(float(raw))
        return cls(**kw)


@dataclass
class DriftDecision:
    fire: bool
    reasons: list[str]                     # the checks that fired
    checks: dict = field(default_factory=dict)  # every number looked at

    @property
    def detail(self) -> str:
        return "; ".join(self.reasons)


def _f(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v


def evaluate_drift(summary: dict, t: DriftThresholds) -> DriftDecision:
    """Compare one model_performance summary with its production baseline (pure function)."""
    pw, base = summary.get("production_window") or {}, summary.get("baseline") or {}
    n = int(pw.get("n_evaluated") or 0)
    n_base = int(_f(base.get("n"))) if math.isfinite(_f(base.get("n"))) else 0
    acc, acc0 = _f(pw.get("accuracy")), _f(base.get("accuracy"))
    ll, ll0 = _f(pw.get("log_loss")), _f(base.get("log_loss"))
    checks = {"games": n, "baseline_games": n_base, "accuracy": acc, "baseline_accuracy": acc0,
              "log_loss": ll, "baseline_log_loss": ll0}
    reasons = []
    if n >= t.min_games:
        nb = max(n_base, 1)
        if math.isfinite(acc) and math.isfinite(acc0):
            drop = acc0 - acc
            se = math.sqrt(max(acc * (1 - acc), 1e-6) / n + max(acc0 * (1 - acc0), 1e-6) / nb)
            z = drop / se
            checks.update(accuracy_drop=drop, accuracy_z=z)
            if drop > t.max_accuracy_drop and z >= t.min_z:
                reasons.append(f"accuracy {acc:.3f} vs baseline {acc0:.3f} (-{drop:.3f}, z={z:.1f}) "
                               f"over {n} games")
        if math.isfinite(ll) and math.isfinite(ll0):
            rise = ll - ll0
            sd = _f(pw.get("log_loss_se")) * math.sqrt(n)
            se = sd * math.sqrt(1 / n + 1 / nb) if math.isfinite(sd) and sd > 0 else math.nan
            z = rise / se if math.isfinite(se) else math.inf
            checks.update(log_loss_rise=rise, log_loss_z=z)
            if rise > t.max_log_loss_rise and z >= t.min_z:
                reasons.append(f"log loss {ll:.4f} vs baseline {ll0:.4f} (+{rise:.4f}, z={z:.1f}) "
                               f"over {n} games")
    psi = {k: v for k, v in (summary.get("psi") or {}).items() if v is not None}
    n_recent = int(summary.get("psi_n_recent") or 0)
    if psi:
        feat, worst = max(psi.items(), key=lambda kv: kv[1])
        checks.update(max_psi=worst, max_psi_feature=feat, psi_rows=n_recent)
        if n_recent >= t.min_psi_rows and worst > t.max_psi:
            over = ", ".join(f"{k}={v:.2f}" for k, v in sorted(psi.items(), key=lambda kv: -kv[1])
                             if v > t.max_psi)
            reasons.append(f"PSI > {t.max_psi:g}: {over} ({n_recent} recent rows)")
    return DriftDecision(bool(reasons), reasons, checks)


@dataclass
class DriftCursor:
    last_fire_ts: str | None = None
    fired_for_version: str | None = None
    detail: str = ""
    fires: int = 0

    @classmethod
    def parse(cls, raw: str | None) -> "DriftCursor":
        try:
            obj = json.loads(raw) if raw else {}
            return cls(obj.get("last_fire_ts"), obj.get("fired_for_version"),
                       obj.get("detail", ""), int(obj.get("fires", 0)))
        except (ValueError, TypeError, AttributeError):
            return cls()

    def dump(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]


def _retrain_in_flight(context) -> bool:
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # evaluated without an instance (unit tests)
        return False
    return bool(instance.get_run_records(dg.RunsFilter(job_name="train_job", statuses=ACTIVE), limit=1))


def drift_tick(summary: dict | None, production_version: str | None, cursor: DriftCursor,
               now: pd.Timestamp, t: DriftThresholds, retrain_in_flight: bool = False
               ) -> tuple[DriftDecision | None, str]:
    """(decision, why-not) for one tick; the caller fires when decision.fire and why-not is ''."""
    if production_version is None:
        return None, f"no production {WIN_MODEL} model"
    if summary is None:
        return None, "no model_performance evaluation yet (overnight_schedule writes them)"
    if summary.get("production_version") != production_version:
        return None, (f"newest evaluation ({summary.get('date')}) is for "
                      f"{summary.get('production_version')}, production is now {production_version}:"
                      " waiting for an evaluation of the new version")
    decision = evaluate_drift(summary, t)
    if not decision.fire:
        return decision, "no drift: " + ", ".join(
            f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in decision.checks.items())
    if cursor.last_fire_ts:
        since = now - utc(cursor.last_fire_ts)
        if since < pd.Timedelta(days=t.cooldown_days):
            return decision, (f"drift ({decision.detail}) but in cooldown: fired {since} ago for "
                              f"{cursor.fired_for_version} (cooldown {t.cooldown_days:g} days)")
    if retrain_in_flight:
        return decision, f"drift ({decision.detail}) but a train_job run is already queued/running"
    return decision, ""


@dg.sensor(name="drift_sensor", job_name="train_job", minimum_interval_seconds=3600,
           default_status=sensor_status(),
           description="Compares the production model's recent games (model_performance) with its "
                       "registry baseline and the training window's feature distribution; requests "
                       "train_job (retrain_reason=drift) past the thresholds, with a cooldown.")
@alert_on_exception
def drift_sensor(context: dg.SensorEvaluationContext, store: StorageResource,
                 registry: RegistryResource) -> dg.SensorResult:
    now = clock.now()
    t = DriftThresholds.from_env()
    cursor = DriftCursor.parse(context.cursor)
    version = registry.get().production_version(WIN_MODEL)
    not_before = (league_date(now) - dt.timedelta(days=t.max_report_age_days)).isoformat()
    summary = latest_summary(store.path(), not_before=not_before)
    decision, why_not = drift_tick(summary, version, cursor, now, t, _retrain_in_flight(context))
    if why_not:
        return dg.SensorResult(skip_reason=why_not[:1000], cursor=cursor.dump())
    detail = f"{summary['date']}: {decision.detail}"
    context.log.info(f"drift detected for {version}: {detail}")
    new_cursor = DriftCursor(now.isoformat(), version, detail, cursor.fires + 1)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(
            run_key=f"drift-{version}-{ts_token(now)}",
            tags={RETRAIN_TAG: RETRAIN_DRIFT, DRIFT_DETAIL_TAG: detail[:250],
                  TRIGGER_TAG: "drift_sensor", DRIFT_PRODUCTION_VERSION_TAG: version,
                  DRIFT_EVALUATION_TAG: str(summary.get("run_folder", ""))[-250:]})],
        cursor=new_cursor.dump())
