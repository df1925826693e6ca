"""Replay (fast-forward) days through Tipoff's schedules and sensors, in process.

What the daemon would do, compressed: for each simulated day every schedule ticks at the times its
cron names (America/New_York) and the sensors tick at fixed times (`SENSOR_TIMES`); run requests are
de-duplicated by run_key and executed one after another with ``execute_in_process``; a sensor's
cursor is kept only when its tick succeeded (a tick that raises leaves it unchanged, as in
Dagster); every finished live_job run goes through the run-registry sensor.  The clock: schedules get
their scheduled time; sensors read ``TIPOFF_NOW`` (see `sensors.clock`), set per tick.  Nothing
here touches wall time, so a replay of past dates is deterministic.

Used by tests/test_season_fastforward.py; also a way to rehearse the automation on the simulated or
archive source before turning it on::

    TIPOFF_DATA_DIR=/tmp/replay python -m sensors.replay --bootstrap 2024-10-22:2025-04-13,2025-10-21:2026-01-18 \\
        --start 2026-01-19 --days 14 --fast-train --n-sims 1000 --output /tmp/replay/events.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._utils.schedules import schedule_execution_time_iterator

from pipeline_assets.definitions import defs
from pipeline_assets.monitoring.report import latest_summary
from resources.storage import data_root
from sensors.clock import CLOCK_ENV
from sensors.drift import DriftThresholds, evaluate_drift
from tipoff_core.tags import RETRAIN_INITIAL, RETRAIN_TAG

NY = ZoneInfo("America/New_York")
# sensor -> times of day (New York) it ticks during a replayed day
SENSOR_TIMES = {"new_games_sensor": (dt.time(2, 0),), "drift_sensor": (dt.time(6, 0),)}
SYSTEM_TAGS = ("dagster/partition", "dagster/partition_set")
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def fast_run_config(n_sims: int | None = None, fast_train: bool = True) -> dict[str, dict]:
    """Per-job run config for quick replays: the fast training grid, fewer Monte Carlo sims."""
    out: dict[str, dict] = {}
    if fast_train:
        out["train_job"] = {"ops": {"win_model": {"config": {"fast": True}},
                                    "minutes_model": {"config": {"fast": True}}}}
    if n_sims:
        out["live_job"] = {"ops": {"game_scores": {"config": {"n_sims": int(n_sims)}}}}
    return out


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class Replay:
    defs: object
    instance: object
    run_config: dict[str, dict] = field(default_factory=dict)
    sensor_times: dict[str, tuple[dt.time, ...]] = field(default_factory=lambda: dict(SENSOR_TIMES))
    log: object = None
    record_only: frozenset = frozenset()   # schedules whose requests are recorded, not executed
    cursors: dict[str, str | None] = field(default_factory=dict)
    run_keys: set = field(default_factory=set)
    events: list[dict] = field(default_factory=list)

    def __post_init__(self):
        repo = self.defs.get_repository_def()
        self.repo = repo
        self.schedules = {s.name: s for s in repo.schedule_defs}
        self.sensors = {s.name: s for s in repo.sensor_defs}

    def _say(self, msg: str) -> None:
        if self.log:
            self.log(msg)

    # -- ticks
    def ticks(self, day: dt.date) -> list[tuple[dt.datetime, str, str]]:
        """(time, kind, name) of every tick of a league day, in time order."""
        start = dt.datetime.combine(day, dt.time(0), tzinfo=NY)
        end = start + dt.timedelta(days=1)
        out = []
        for name, s in self.schedules.items():
            for t in schedule_execution_time_iterator(start.timestamp(), s.cron_schedule,
                                                      s.execution_timezone or "UTC"):
                if t >= end:
                    break
                out.append((t.astimezone(NY), "schedule", name))
        for name, times in self.sensor_times.items():
            out.extend((dt.datetime.combine(day, t, tzinfo=NY), "sensor", name) for t in times)
        return sorted(out, key=lambda x: (x[0], x[1], x[2]))

    def tick_schedule(self, name: str, when: dt.datetime) -> dict:
        ctx = dg.build_schedule_context(instance=self.instance, scheduled_execution_time=when,
                                        repository_def=self.repo)
        ev = {"time": when.isoformat(), "kind": "schedule", "name": name, "runs": []}
        data = self.schedules[name].evaluate_tick(ctx)
        ev["skip"] = data.skip_message
        for rr in data.run_requests or []:
            job = rr.job_name or self.schedules[name].job_name
            if name in self.record_only:
                ev["runs"].append({"job": job, "partition": rr.partition_key, "run_key": rr.run_key,
                                   "tags": {k: v for k, v in rr.tags.items()
                                            if not k.startswith("dagster/")},
                                   "executed": False})
                continue
            ev["runs"].append(self.launch(rr, job))
        self.events.append(ev)
        return ev

    def tick_sensor(self, name: str, when: dt.datetime) -> dict:
        os.environ[CLOCK_ENV] = when.astimezone(dt.timezone.utc).isoformat()
        ev = {"time": when.isoformat(), "kind": "sensor", "name": name, "runs": [],
              "cursor_before": self.cursors.get(name)}
        sensor = self.sensors[name]
        ctx = dg.build_sensor_context(instance=self.instance, cursor=self.cursors.get(name),
                                      resources=self.defs.resources, definitions=self.defs,
                                      sensor_name=name)
        try:
            data = sensor.evaluate_tick(ctx)
        except Exception as exc:  # a failed tick: the cursor stays where it was
            ev["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            self.events.append(ev)
            self._say(f"  {when:%m-%d %H:%M} {name}: tick failed: {ev['error'][:200]}")
            return ev
        finally:
            os.environ.pop(CLOCK_ENV, None)
        self.cursors[name] = data.cursor
        ev["cursor"], ev["skip"] = data.cursor, data.skip_message
        if name == "drift_sensor":
            ev["evaluation"] = drift_evaluation(when)
        if data.skip_message:
            self._say(f"  {when:%m-%d %H:%M} {name}: {data.skip_message[:300]}")
        for rr in data.run_requests or []:
            ev["runs"].append(self.launch(rr, rr.job_name or sensor.job_name))
        self.events.append(ev)
        return ev

    # -- runs
    def launch(self, rr, job_name: str) -> dict:
        out = {"job": job_name, "partition": rr.partition_key, "run_key": rr.run_key,
               "tags": {k: v for k, v in rr.tags.items() if not k.startswith("dagster/")},
               "executed": True}
        if rr.run_key and rr.run_key in self.run_keys:
            out.update(deduplicated=True, executed=False)
            return out
        if rr.run_key:
            self.run_keys.add(rr.run_key)
        tags = {k: v for k, v in rr.tags.items() if k not in SYSTEM_TAGS}
        if rr.run_key:
            tags["dagster/run_key"] = rr.run_key
        config = _merge(_merge(QUIET_LOGS, dict(rr.run_config or {})), self.run_config.get(job_name, {}))
        t0 = time.perf_counter()
        result = self.defs.resolve_job_def(job_name).execute_in_process(
            instance=self.instance, partition_key=rr.partition_key, tags=tags, run_config=config,
            raise_on_error=False)
        out.update(run_id=result.run_id, success=result.success,
                   seconds=round(time.perf_counter() - t0, 2))
        if not result.success:
            out["error"] = " | ".join(e.message or "" for e in result.all_events if e.is_failure)[:1500]
        if job_name == "live_job":
            self._registry(result)
        self._say(f"    -> {job_name} {rr.partition_key or ''} "
                  f"{'ok' if result.success else 'FAILED'} ({out['seconds']}s)")
        return out

    def _registry(self, result) -> None:
        """What the run-status sensors would do when this live run finished."""
        run = self.instance.get_run_by_id(result.run_id)
        wanted = dg.DagsterEventType.RUN_SUCCESS if result.success else dg.DagsterEventType.RUN_FAILURE
        event = next((e for e in result.all_events if e.event_type == wanted), None)
        name = "live_run_registry_sensor" if result.success else "live_run_failure_registry_sensor"
        if event is None or name not in self.sensors:
            return
        ctx = dg.build_run_status_sensor_context(sensor_name=name, dagster_event=event,
                                                 dagster_instance=self.instance, dagster_run=run)
        sensor = self.sensors[name]
        if not result.success:
            ctx = ctx.for_run_failure()
        sensor(ctx)

    # -- the loop
    def run_days(self, start: dt.date, days: int) -> list[dict]:
        for i in range(days):
            day = start + dt.timedelta(days=i)
            t0 = time.perf_counter()
            for when, kind, name in self.ticks(day):
                if kind == "schedule":
                    self.tick_schedule(name, when)
                else:
                    self.tick_sensor(name, when)
            self._say(f"{day} done in {time.perf_counter() - t0:.1f}s")
        return self.events


def drift_evaluation(when: dt.datetime) -> dict | None:
    """The numbers drift_sensor looked at on a tick (for the replay's record)."""
    t = DriftThresholds.from_env()
    not_before = (when.date() - dt.timedelta(days=t.max_report_age_days)).isoformat()
    summary = latest_summary(data_root(), not_before=not_before)
    if summary is None:
        return None
    d = evaluate_drift(summary, t)
    return {"date": summary.get("date"), "production_version": summary.get("production_version"),
            "baseline": summary.get("baseline"), "production_window": summary.get("production_window"),
            "psi": summary.get("psi"), "psi_n_recent": summary.get("psi_n_recent"),
            "checks": d.checks, "would_fire": d.fire, "reasons": d.reasons}


def bootstrap(defs, instance, ranges: list[tuple[str, str]], run_config: dict[str, dict] | None = None,
              log=None) -> dict:
    """Backfill history (history_job, one single-run backfill per range) and train the first
    production models (train_job, retrain_reason=initial)."""
    out = {"history": [], "train": None}
    for start, end in ranges:
        t0 = time.perf_counter()
        r = defs.resolve_job_def("history_job").execute_in_process(
            instance=instance, raise_on_error=True, run_config=QUIET_LOGS,
            tags={"dagster/asset_partition_range_start": start,
                  "dagster/asset_partition_range_end": end})
        out["history"].append({"range": [start, end], "success": r.success,
                               "seconds": round(time.perf_counter() - t0, 1)})
        if log:
            log(f"history {start}..{end}: {out['history'][-1]['seconds']}s")
    t0 = time.perf_counter()
    r = defs.resolve_job_def("train_job").execute_in_process(
        instance=instance, tags={RETRAIN_TAG: RETRAIN_INITIAL},
        run_config=_merge(QUIET_LOGS, (run_config or {}).get("train_job", {})), raise_on_error=True)
    out["train"] = {"success": r.success, "seconds": round(time.perf_counter() - t0, 1)}
    if log:
        log(f"initial training: {out['train']['seconds']}s")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sensors.replay", description=__doc__.split("\n")[0])
    p.add_argument("--bootstrap", default="", help="history ranges START:END[,START:END] to "
                   "backfill and train on first")
    p.add_argument("--start", help="first league date to replay (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=0)
    p.add_argument("--fast-train", action="store_true", help="TrainConfig(fast=True)")
    p.add_argument("--n-sims", type=int, default=0, help="Monte Carlo sims per game (ScoreConfig)")
    p.add_argument("--record-only", default="", help="comma-separated schedules whose run "
                   "requests are recorded but not executed (to shorten a replay)")
    p.add_argument("--output", help="write every tick and run as JSON here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.ERROR)
    log = None if args.quiet else (lambda m: print(m, flush=True))
    instance = dg.DagsterInstance.ephemeral()
    config = fast_run_config(args.n_sims or None, args.fast_train)
    t0 = time.perf_counter()
    result: dict = {"bootstrap": None, "events": []}
    if args.bootstrap:
        ranges = [tuple(r.split(":")) for r in args.bootstrap.split(",") if r]
        result["bootstrap"] = bootstrap(defs, instance, ranges, config, log)
    if args.start and args.days:
        replay = Replay(defs, instance, config, log=log,
                        record_only=frozenset(x for x in args.record_only.split(",") if x))
        result["events"] = replay.run_days(dt.date.fromisoformat(args.start), args.days)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if args.output:
        with open(args.output, "w") as fh:
            json.dump(result, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
