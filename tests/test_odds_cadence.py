"""`odds_cadence_sensor` and `odds_job`: a snapshot every 15 minutes from the books' opening to the
last tip plus the closing line, run keys and as-ofs of on-time and late ticks, the daily credit
budget (Dagster's sensor testing APIs on an ephemeral instance)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from pipeline_assets import collect
from pipeline_assets.definitions import defs
from resources import storage
from resources.dagster_resources import SourceResource
from resources.sources.http import HttpClient
from resources.sources.live import LiveSource
from resources.sources.odds_api import PIPELINE, CreditLedger
from resources.sources.simulated import SimulatedSource
from sensors.odds_cadence import odds_cadence_sensor
from tests.helpers import read_table, use_simulated_store
from tipoff_core import catalog
from tipoff_core.tags import RUN_AS_OF_TAG, SOURCE_API_TAG
from tipoff_core.timeutil import ts_token

NY = ZoneInfo("America/New_York")
DAY = "2026-01-23"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def ny(h, m, day=DAY) -> pd.Timestamp:
    d = dt.date.fromisoformat(day)
    return pd.Timestamp(dt.datetime(d.year, d.month, d.day, h, m, tzinfo=NY)).tz_convert("UTC")


@pytest.fixture
def store(tmp_path, monkeypatch):
    use_simulated_store(monkeypatch, tmp_path)
    for k in ("TIPOFF_ODDS_OPEN_TIME", "TIPOFF_ODDS_INTERVAL_MINUTES",
              "TIPOFF_ODDS_DAILY_CREDIT_BUDGET"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path


@pytest.fixture
def tips(store) -> pd.Series:
    """Today's schedule snapshot, stored the way the 11:00 live_job stores it."""
    src = SimulatedSource(seed=7)
    as_of = ny(9, 0)
    ex = collect.fetch(src, "schedule", DAY, as_of, store)
    collect.write_snapshot(ex, DAY, as_of, store)
    return ex.table["tip_ts"].sort_values(ignore_index=True)


def tick(when: pd.Timestamp, cursor: str | None, monkeypatch, **resources):
    monkeypatch.setenv("TIPOFF_NOW", when.isoformat())
    ctx = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), cursor=cursor,
                                  definitions=defs, resources={**defs.resources, **resources})
    return odds_cadence_sensor.evaluate_tick(ctx)


def requested(data) -> list[tuple[str, str, str]]:
    return [(r.partition_key, r.run_key, r.tags[RUN_AS_OF_TAG]) for r in data.run_requests]


def test_a_game_day_from_the_opening_to_the_last_tip(tips, monkeypatch):
    assert len(tips) >= 3 and tips.iloc[0] > ny(18, 0)
    data = tick(ny(9, 59), None, monkeypatch)
    assert not data.run_requests and "before the books open (10:00" in data.skip_message

    data = tick(ny(10, 0) + pd.Timedelta(seconds=40), None, monkeypatch)
    slot = ny(10, 0)
    assert requested(data) == [(DAY, f"odds-{DAY}-{ts_token(slot)}", slot.isoformat())]
    assert data.run_requests[0].tags["tipoff/trigger"] == "odds_cadence_sensor"
    assert data.cursor == ts_token(slot)

    data = tick(ny(10, 7), data.cursor, monkeypatch)   # between two slots: nothing
    assert not data.run_requests and "already requested; next at 10:15" in data.skip_message

    data = tick(ny(10, 15), data.cursor, monkeypatch)
    assert [r[2] for r in requested(data)] == [ny(10, 15).isoformat()]

    # the closing line: 5 minutes before each tip, whatever the 15-minute grid says
    first_tip = tips.iloc[0]
    close = first_tip - pd.Timedelta(minutes=5)
    data = tick(close + pd.Timedelta(seconds=20), ts_token(close - pd.Timedelta(minutes=10)),
                monkeypatch)
    assert [r[2] for r in requested(data)] == [close.isoformat()]

    last_tip = tips.iloc[-1]
    data = tick(last_tip, ts_token(last_tip - pd.Timedelta(minutes=5)), monkeypatch)
    assert not data.run_requests and "after the last tip" in data.skip_message
    data = tick(ny(23, 30), None, monkeypatch)        # even with a cursor that never got there
    assert not data.run_requests and "after the last tip" in data.skip_message


def test_a_late_tick_produces_the_run_it_would_have_produced_on_time_once(tips, monkeypatch):
    on_time = tick(ny(11, 0) + pd.Timedelta(seconds=5), ts_token(ny(10, 45)), monkeypatch)
    late = tick(ny(11, 9), ts_token(ny(10, 45)), monkeypatch)
    assert requested(late) == requested(on_time)       # same run key, same as-of (11:00)
    assert requested(late)[0][2] == ny(11, 0).isoformat()
    # the daemon was down for an hour: only the newest due slot is requested, not the missed ones
    back = tick(ny(12, 8), ts_token(ny(11, 0)), monkeypatch)
    assert [r[2] for r in requested(back)] == [ny(12, 0).isoformat()]
    # a replayed tick with the new cursor requests nothing more
    assert not tick(ny(12, 9), back.cursor, monkeypatch).run_requests


def test_interval_and_opening_come_from_the_environment(tips, monkeypatch):
    monkeypatch.setenv("TIPOFF_ODDS_OPEN_TIME", "12:30")
    monkeypatch.setenv("TIPOFF_ODDS_INTERVAL_MINUTES", "60")
    assert "before the books open (12:30" in tick(ny(12, 0), None, monkeypatch).skip_message
    data = tick(ny(14, 45), ts_token(ny(13, 30)), monkeypatch)
    assert [r[2] for r in requested(data)] == [ny(14, 30).isoformat()]
    monkeypatch.setenv("TIPOFF_ODDS_INTERVAL_MINUTES", "0")
    with pytest.raises(Exception, match="TIPOFF_ODDS_INTERVAL_MINUTES"):
        tick(ny(14, 45), None, monkeypatch)


def test_a_day_without_games_requests_nothing(store, monkeypatch):
    data = tick(ny(15, 0, "2026-07-15"), None, monkeypatch)   # summer: no games, no stored schedule
    assert not data.run_requests and "no games today" in data.skip_message


class _NoNetwork:
    def __call__(self, url, params):
        raise AssertionError(f"the sensor made a request: {url}")


class LiveSourceResource(SourceResource):
    """A live source that may not call anything (tips come from the stored schedule)."""

    def get(self):
        return LIVE


LIVE = LiveSource(http=HttpClient(transport=_NoNetwork(), min_interval=0), odds_api_key="k")


def test_the_daily_credit_budget_stops_the_cadence(tips, store, monkeypatch):
    ledger = CreditLedger.for_root(store)
    at = ny(13, 0)
    ledger.append({"kind": "call", "ts": (at - pd.Timedelta(hours=2)).isoformat(),
                   "purpose": PIPELINE, "credits": 498})
    ledger.append({"kind": "call", "ts": (at - pd.Timedelta(days=1)).isoformat(),
                   "purpose": PIPELINE, "credits": 400})              # yesterday's: not counted
    monkeypatch.setenv("TIPOFF_ODDS_DAILY_CREDIT_BUDGET", "500")
    live = {"source": LiveSourceResource()}
    data = tick(at, ts_token(ny(12, 45)), monkeypatch, **live)
    assert not data.run_requests
    assert "costs ~3 credit(s)" in data.skip_message and "spent 498 of its daily budget of 500" \
        in data.skip_message
    monkeypatch.setenv("TIPOFF_ODDS_DAILY_CREDIT_BUDGET", "501")    # room for one more pull
    assert [r[2] for r in requested(tick(at, ts_token(ny(12, 45)), monkeypatch, **live))] == \
        [at.isoformat()]
    # the simulated source costs nothing: no budget applies
    monkeypatch.setenv("TIPOFF_ODDS_DAILY_CREDIT_BUDGET", "0")
    assert tick(at, ts_token(ny(12, 45)), monkeypatch).run_requests


def test_odds_job_writes_the_requested_snapshot(tips, store, monkeypatch):
    job = defs.resolve_job_def("odds_job")
    assert job.tags[SOURCE_API_TAG] == "true"
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {"odds_snapshot"}
    [req] = tick(ny(14, 0), None, monkeypatch).run_requests
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), run_config=QUIET,
                                    partition_key=req.partition_key, tags=req.tags)
    assert result.success
    token = ts_token(ny(14, 0))
    base = storage.partition_dir(catalog.snapshot("odds"), DAY, store)
    assert storage.list_runs(base) == [token]
    t = read_table("odds_snapshot", DAY, token, store)
    assert len(t) and (t["snapshot_ts"] <= ny(14, 0)).all()


def test_registered_and_stopped_unless_automation_is_on():
    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def("odds_cadence_sensor")
    assert sensor.job_name == "odds_job" and repo.has_job("odds_job")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
