"""Sensors and schedules: new-games cursor semantics, drift decisions and cooldown, the retrain gate,
schedule requests, the live-run registry."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from pipeline_assets.definitions import defs
from tests.helpers import mlflow_sqlite_uri
from resources.dagster_resources import SourceResource
from resources.sources.base import SourceError
from resources.sources.simulated import SimulatedSource
from sensors import drift as drift_mod
from sensors.drift import DriftCursor, DriftThresholds, drift_sensor, evaluate_drift
from sensors.new_games import NewGamesCursor, new_games_sensor, poll_new_games, run_key
from sensors.schedules import (live_afternoon_schedule, live_morning_schedule,
                               monthly_retrain_schedule, overnight_schedule, weekly_drift_schedule)

NY = ZoneInfo("America/New_York")
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def ny(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TIPOFF_SOURCE", "simulated")
    monkeypatch.setenv("TIPOFF_SHOCK", "")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_sqlite_uri(tmp_path))
    for k in [k for k in __import__("os").environ if k.startswith("TIPOFF_DRIFT_")]:
        monkeypatch.delenv(k)
    return tmp_path


# ----------------------------------------------------------------------------- new games

class Flaky:
    """A simulated source that raises on demand (the league API is down)."""

    name = "simulated"
    fail = False
    calls = 0

    def __init__(self):
        self.inner = SimulatedSource(seed=7)

    def fetch(self, kind, game_date, as_of):
        Flaky.calls += 1
        if Flaky.fail:
            raise SourceError("simulated", "results", "503 Service Unavailable")
        return self.inner.fetch(kind, game_date, as_of)


FLAKY = Flaky()


class FlakySourceResource(SourceResource):
    def get(self):
        return FLAKY


def tick(sensor, cursor, when: dt.datetime, monkeypatch, instance, **resources):
    """One daemon-like tick: returns the new cursor (unchanged when the tick raised)."""
    monkeypatch.setenv("TIPOFF_NOW", when.astimezone(dt.timezone.utc).isoformat())
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                  resources={**defs.resources, **resources})
    try:
        data = sensor.evaluate_tick(ctx)
    except Exception as exc:  # noqa: BLE001 - what the daemon does: tick failed, cursor kept
        return cursor, None, exc
    return data.cursor, data, None


def finals(day: str, when: dt.datetime) -> set[str]:
    t = FLAKY.inner.fetch("results", dt.date.fromisoformat(day), pd.Timestamp(when)).table
    return set(t["game_id"])


def test_new_games_cursor_survives_a_failing_tick(data_dir, monkeypatch):
    inst = dg.DagsterInstance.ephemeral()
    src = {"source": FlakySourceResource()}
    Flaky.fail = False
    day = "2026-01-02"
    t1, t2, t3 = ny(2026, 1, 2, 22, 30), ny(2026, 1, 3, 1, 0), ny(2026, 1, 3, 2, 0)
    early, all_games = finals(day, t1), finals(day, t3)
    assert 0 < len(early) < len(all_games)  # the west-coast games end after 22:30

    c1, d1, err = tick(new_games_sensor, None, t1, monkeypatch, inst, **src)
    # a fresh cursor: everything final in the window (yesterday and today) is new
    assert err is None and [r.partition_key for r in d1.run_requests] == ["2026-01-01", day]
    r1 = d1.run_requests[1]
    assert r1.run_key == run_key(day, sorted(early)) and r1.job_name in (None, "labels_job")
    assert r1.tags["tipoff/run_as_of_ts"] == pd.Timestamp(t1).tz_convert("UTC").isoformat()
    assert set(json.loads(c1)["seen"][day]) == early

    Flaky.fail = True  # second tick: the source is down -> the tick raises, cursor unchanged
    c2, d2, err = tick(new_games_sensor, c1, t2, monkeypatch, inst, **src)
    assert isinstance(err, Exception) and "503" in str(err) and c2 == c1

    Flaky.fail = False  # third tick picks up everything that ended since the last good tick
    c3, d3, err = tick(new_games_sensor, c2, t3, monkeypatch, inst, **src)
    assert err is None and [r.partition_key for r in d3.run_requests] == [day]
    late = sorted(all_games - early)
    assert d3.run_requests[0].run_key == run_key(day, late)
    assert set(json.loads(c3)["seen"][day]) == all_games

    # nothing new: a skip, no request; repeating a tick from an old cursor repeats the same run
    # key (Dagster de-duplicates it)
    c4, d4, _ = tick(new_games_sensor, c3, t3, monkeypatch, inst, **src)
    assert not d4.run_requests and "no new final games" in d4.skip_message
    _, d5, _ = tick(new_games_sensor, c1, t3, monkeypatch, inst, **src)
    assert d5.run_requests[0].run_key == d3.run_requests[0].run_key

    # the window moves on: yesterday's ids drop out of the cursor two days later
    c6, d6, _ = tick(new_games_sensor, c4, ny(2026, 1, 5, 2, 0), monkeypatch, inst, **src)
    assert day not in json.loads(c6)["seen"]
    assert {r.partition_key for r in d6.run_requests} == {"2026-01-04"}


def test_a_late_result_behind_the_frontier_is_still_new():
    class Late:
        name = "x"

        def __init__(self, rows):
            self.rows = rows

        def fetch(self, kind, game_date, as_of):
            from resources.sources.base import Extract
            t = pd.DataFrame([r for r in self.rows if r["game_date"] == game_date.isoformat()],
                             columns=["game_id", "game_date", "final_ts"])
            return Extract(kind, t, b"", "results", "x")

    now = pd.Timestamp("2026-01-03T07:00Z")
    a = {"game_id": "A", "game_date": "2026-01-02", "final_ts": pd.Timestamp("2026-01-03T04:00Z")}
    b = {"game_id": "B", "game_date": "2026-01-02", "final_ts": pd.Timestamp("2026-01-03T03:00Z")}
    p1 = poll_new_games(Late([a]), NewGamesCursor(), now)
    p2 = poll_new_games(Late([a, b]), p1.cursor, now)  # B ended earlier but arrived later
    assert p2.new == {"2026-01-02": ["B"]}
    assert p2.cursor.last_final_ts == "2026-01-03T04:00:00+00:00"
    assert NewGamesCursor.parse("not json").seen == {}


# ----------------------------------------------------------------------------- schedules

def sched(schedule, when):
    ctx = dg.build_schedule_context(scheduled_execution_time=when,
                                    repository_def=defs.get_repository_def())
    return schedule.evaluate_tick(ctx).run_requests


def test_live_schedules_request_todays_partition_as_of_the_tick():
    [rr] = sched(live_morning_schedule, ny(2026, 1, 23, 11, 0))
    assert rr.partition_key == "2026-01-23"
    assert rr.tags["tipoff/run_as_of_ts"] == "2026-01-23T16:00:00+00:00"
    [rr] = sched(live_afternoon_schedule, ny(2026, 7, 23, 16, 0))  # summer time: UTC-4
    assert rr.partition_key == "2026-07-23" and rr.tags["tipoff/run_as_of_ts"] == "2026-07-23T20:00:00+00:00"
    assert live_morning_schedule.execution_timezone == "America/New_York"
    assert live_morning_schedule.job_name == "live_job"


def test_overnight_weekly_and_monthly_schedules():
    [rr] = sched(overnight_schedule, ny(2026, 1, 24, 3, 0))
    assert rr.partition_key == "2026-01-23" and overnight_schedule.job_name == "overnight_job"
    weekly = sched(weekly_drift_schedule, ny(2026, 1, 26, 4, 0))
    assert [r.partition_key for r in weekly] == [f"2026-01-{d}" for d in range(19, 26)]
    assert len({r.run_key for r in weekly}) == 7
    [rr] = sched(monthly_retrain_schedule, ny(2026, 2, 1, 5, 0))
    assert rr.partition_key is None and rr.tags["tipoff/retrain_reason"] == "monthly"
    assert rr.run_key == "retrain-monthly-2026-02" and monthly_retrain_schedule.job_name == "train_job"


def test_everything_is_registered_and_stopped_by_default():
    repo = defs.get_repository_def()
    assert {s.name for s in repo.schedule_defs} >= {
        "live_morning_schedule", "live_afternoon_schedule", "overnight_schedule",
        "weekly_drift_schedule", "monthly_retrain_schedule"}
    assert {s.name for s in repo.sensor_defs} >= {"new_games_sensor", "drift_sensor",
                                                  "live_run_registry_sensor"}
    assert all(s.default_status == dg.DefaultScheduleStatus.STOPPED for s in repo.schedule_defs)
    for job in ("labels_job", "overnight_job", "performance_job"):
        assert repo.has_job(job)


# ----------------------------------------------------------------------------- drift decisions

def summary(n=120, acc=0.66, ll=0.62, se=0.025, base_acc=0.66, base_ll=0.62, base_n=100,
            psi=None, psi_rows=150, version="v1", date="2026-01-30"):
    return {"date": date, "production_version": version,
            "baseline": {"accuracy": base_acc, "log_loss": base_ll, "n": base_n},
            "production_window": {"n_evaluated": n, "accuracy": acc, "log_loss": ll,
                                  "log_loss_se": se},
            "psi": psi or {"diff_elo": 0.05}, "psi_n_recent": psi_rows}


T = DriftThresholds()


@pytest.mark.parametrize("kw,fires,why", [
    ({}, False, ""),
    ({"ll": 0.70, "se": 0.02}, True, "log loss"),                  # +0.08, z ~ 2.6
    ({"ll": 0.65, "se": 0.03}, False, ""),                         # +0.03: within noise (z ~ 0.7)
    ({"acc": 0.52, "base_n": 400, "n": 400}, True, "accuracy"),    # -0.14 on 400 games
    ({"ll": 0.80, "n": 40}, False, ""),                            # too few games
    ({"psi": {"diff_elo": 0.31, "elo_prob_home": 0.1}}, True, "PSI"),
    ({"psi": {"diff_elo": 0.31}, "psi_rows": 60}, False, ""),      # PSI needs 100 recent rows
])
def test_evaluate_drift(kw, fires, why):
    d = evaluate_drift(summary(**kw), T)
    assert d.fire is fires, d.checks
    assert why in d.detail


def test_thresholds_come_from_the_environment():
    t = DriftThresholds.from_env({"TIPOFF_DRIFT_MAX_LOG_LOSS_RISE": "0.05", "TIPOFF_DRIFT_MIN_GAMES": "80",
                                  "TIPOFF_DRIFT_MIN_Z": "0"})
    assert (t.max_log_loss_rise, t.min_games, t.min_z, t.max_psi) == (0.05, 80, 0.0, 0.2)
    assert evaluate_drift(summary(ll=0.65, se=0.03, n=100), DriftThresholds(min_z=0)).fire
    assert not evaluate_drift(summary(ll=0.65, se=0.03, n=100), t).fire


def test_drift_tick_cooldown_version_and_staleness():
    now = pd.Timestamp("2026-01-30T11:00Z")
    bad = summary(ll=0.72, se=0.02)
    d, why = drift_mod.drift_tick(bad, "v1", DriftCursor(), now, T)
    assert d.fire and why == ""
    fired = DriftCursor(now.isoformat(), "v1", d.detail, 1)
    _, why = drift_mod.drift_tick(bad, "v1", fired, now + pd.Timedelta(days=2), T)
    assert "cooldown" in why
    _, why = drift_mod.drift_tick(bad, "v1", fired, now + pd.Timedelta(days=8), T)
    assert why == ""
    _, why = drift_mod.drift_tick(bad, "v2", DriftCursor(), now, T)
    assert "waiting for an evaluation of the new version" in why
    _, why = drift_mod.drift_tick(bad, "v1", DriftCursor(), now, T, retrain_in_flight=True)
    assert "already queued" in why
    _, why = drift_mod.drift_tick(None, "v1", DriftCursor(), now, T)
    assert "no model_performance" in why


# ----------------------------------------------------------------------------- drift -> retrain -> gate

@pytest.fixture(scope="module")
def gold_base(tmp_path_factory):
    """The end of the previous simulated season and six weeks of this one (gold features) and a
    first production model."""
    root = tmp_path_factory.mktemp("drift_base")
    mp = pytest.MonkeyPatch()
    mp.setenv("TIPOFF_DATA_DIR", str(root))
    mp.setenv("TIPOFF_SHOCK", "")
    mp.setenv("MLFLOW_TRACKING_URI", mlflow_sqlite_uri(root))
    try:
        inst = dg.DagsterInstance.ephemeral()
        for start, end in (("2025-02-20", "2025-04-13"), ("2025-10-21", "2025-12-05")):
            defs.resolve_job_def("history_job").execute_in_process(
                instance=inst, run_config=QUIET,
                tags={"dagster/asset_partition_range_start": start,
                      "dagster/asset_partition_range_end": end})
        defs.resolve_job_def("train_job").execute_in_process(
            instance=inst, tags={"tipoff/retrain_reason": "initial"},
            run_config={**QUIET, "ops": {"win_model": {"config": {"fast": True, "max_log_loss": 1.0}},
                                         "minutes_model": {"config": {"fast": True}}}})
    finally:
        mp.undo()
    return root


class CoinFlip:
    """A 'production model' that stopped knowing anything (a regime it was not trained for)."""

    def predict_proba(self, df):
        return np.full(len(df), 0.5)


def _write_summary(root: Path, s: dict) -> None:
    from resources import storage
    storage.write_run_folder(root / "artifacts" / "model_performance" / s["date"],
                             "20260130T080000Z",
                             {"summary.json": json.dumps(s).encode(),
                              "table.parquet": storage.parquet_bytes(pd.DataFrame({"x": [1]}))})


def _fire(root, monkeypatch, version, now="2025-12-06T11:00:00Z"):
    monkeypatch.setenv("TIPOFF_NOW", now)
    _write_summary(root, summary(ll=0.72, se=0.02, version=version, date="2025-12-05"))
    ctx = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), cursor=None,
                                  resources=defs.resources, definitions=defs)
    data = drift_sensor.evaluate_tick(ctx)
    assert len(data.run_requests) == 1, data.skip_message
    rr = data.run_requests[0]
    assert rr.tags["tipoff/retrain_reason"] == "drift" and "log loss" in rr.tags["tipoff/drift_detail"]
    cur = json.loads(data.cursor)
    assert cur["fired_for_version"] == version and cur["last_fire_ts"].startswith("2025-12-06")
    return rr


def _run_retrain(rr, max_log_loss=0.70):
    tags = {k: v for k, v in rr.tags.items() if not k.startswith("dagster/")}
    return defs.resolve_job_def("train_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), tags=tags,
        run_config={**QUIET, "ops": {"win_model": {"config": {"fast": True, "max_log_loss": max_log_loss}},
                                     "minutes_model": {"config": {"fast": True}}}})


def test_drift_retrain_that_fails_the_gate_leaves_production_untouched(gold_base, tmp_path, monkeypatch):
    root = tmp_path / "d"
    shutil.copytree(gold_base, root)
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_sqlite_uri(root))
    from resources.registry import ModelRegistry
    reg = ModelRegistry()
    before = {n: reg.production_version(n) for n in ("win_market_free", "win_with_market")}
    rr = _fire(root, monkeypatch, before["win_market_free"])
    assert _run_retrain(rr, max_log_loss=0.30).success  # a floor no candidate can meet
    assert {n: reg.production_version(n) for n in before} == before
    cands = reg.list_versions("win_market_free")
    new = cands[cands["state"] == "candidate"]
    assert len(new) == 1 and new.iloc[0]["reason"].startswith("gate failed")
    meta = reg.load("win_market_free", new.iloc[0]["version"]).metadata
    assert meta["trigger"] == "drift"
    assert reg.verify() == []


def test_drift_retrain_replaces_a_broken_production_model(gold_base, tmp_path, monkeypatch):
    root = tmp_path / "d"
    shutil.copytree(gold_base, root)
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_sqlite_uri(root))
    from resources.registry import ModelRegistry
    reg = ModelRegistry()
    good = reg.load_production("win_market_free")
    broken = reg.register("win_market_free", {"model": CoinFlip(), "baseline": good.model["baseline"]},
                          good.feature_cols, dict(good.metadata, trigger="bad deploy"))
    reg.promote("win_market_free", broken, "test: a model that no longer fits")
    rr = _fire(root, monkeypatch, broken)
    assert _run_retrain(rr).success
    prod = reg.production_version("win_market_free")
    assert prod not in (broken, good.version)
    assert reg.load(("win_market_free"), prod).metadata["trigger"] == "drift"
    assert reg.verify() == []


# ----------------------------------------------------------------------------- live-run registry

def test_failed_live_run_is_recorded_with_its_error(data_dir):
    """No production model yet: live_job fails at game_scores; the failure sensor records it."""
    from pipeline_assets.monitoring.live_runs import read_live_runs
    from sensors.live_runs import live_run_failure_registry_sensor
    inst = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("live_job").execute_in_process(
        instance=inst, partition_key="2025-12-11", raise_on_error=False, run_config=QUIET,
        tags={"tipoff/run_as_of_ts": "2025-12-11T16:00:00Z", "tipoff/trigger": "test"})
    assert not result.success
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    ctx = dg.build_run_status_sensor_context(
        sensor_name="live_run_failure_registry_sensor", dagster_event=event,
        dagster_instance=inst, dagster_run=inst.get_run_by_id(result.run_id)).for_run_failure()
    live_run_failure_registry_sensor(ctx)
    runs = read_live_runs(data_dir)
    assert len(runs) == 1
    r = runs.iloc[0]
    assert (r["status"], r["date"], r["trigger"]) == ("FAILURE", "2025-12-11", "test")
    assert r["run_as_of_ts"] == "2025-12-11T16:00:00+00:00"
    assert "no production version" in r["error"]
    assert set(r["snapshot_age_hours"]) == {"schedule", "injuries", "odds", "rosters"}
