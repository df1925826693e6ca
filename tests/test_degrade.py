"""Degrade, don't die: a slate whose injuries or odds feed fails still scores -- through the real
live_job and through `tipoff run` -- with the failure quarantined and named, nothing written for
that feed, the newest stored run standing in within its max age (else the feed's features
missing), and game_scores, the run registry, the step runner and an alert saying so.  A required
feed that fails still fails the run."""
from __future__ import annotations

import json
import shutil

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_assets import featureio, steps
from pipeline_assets.cli import main
from pipeline_assets.definitions import defs
from pipeline_assets.monitoring.live_runs import read_live_runs
from resources import alerts
from resources.dagster_resources import SourceResource
from resources.predictions_log import PredictionsLog
from resources.sources.base import SourceError
from resources.sources.simulated import SimulatedSource
from tests.helpers import (QUIET, RecordingWebhook, build_trained_store, read_table, run_folder,
                          use_simulated_store)
from tipoff_core.tags import RUN_AS_OF_TAG

HISTORY = ("2025-03-01", "2025-04-10")
DAY = "2025-04-11"  # first tip 23:00Z
T1, T2, T3, T4 = (f"{DAY}T{h}:00:00+00:00" for h in (15, 17, 18, 19))
TOKEN = {t: pd.Timestamp(t).strftime("%Y%m%dT%H%M%SZ") for t in (T1, T2, T3, T4)}


# ----------------------------------------------------------------------------- the policy

def test_required_feeds_and_max_ages_come_from_the_environment(monkeypatch):
    monkeypatch.delenv(featureio.REQUIRED_FEEDS_ENV, raising=False)
    monkeypatch.delenv(featureio.MAX_AGE_HOURS_ENV, raising=False)
    assert featureio.required_feeds() == ("schedule",)
    assert featureio.LivePolicy().allow_missing == ("injuries", "odds", "rosters")
    monkeypatch.setenv(featureio.REQUIRED_FEEDS_ENV, " odds ,injuries")
    assert featureio.required_feeds() == ("schedule", "injuries", "odds")  # schedule always
    assert featureio.LivePolicy().required == ("schedule", "injuries", "odds")
    monkeypatch.setenv(featureio.MAX_AGE_HOURS_ENV, "injuries=6, odds=1.5")
    assert featureio.max_age_hours() == {"schedule": 72.0, "injuries": 6.0, "odds": 1.5,
                                         "rosters": 48.0}
    assert featureio.max_age_hours({"odds": 3, "rosters": None})["odds"] == 3.0
    monkeypatch.setenv(featureio.MAX_AGE_HOURS_ENV, "injury=6")
    with pytest.raises(ValueError, match="TIPOFF_MAX_AGE_HOURS: 'injury=6'"):
        featureio.max_age_hours()
    with pytest.raises(ValueError, match="unknown feed.*weather"):
        featureio.required_feeds("schedule,weather")


@settings(max_examples=60, deadline=None)
@given(age=st.one_of(st.none(), st.floats(0, 100)), limit=st.floats(0.5, 72),
       failed=st.booleans())
def test_a_feed_is_ok_only_when_fresh_and_fetched(age, limit, failed):
    as_of = pd.Timestamp("2026-01-10T18:00:00Z")
    tokens = [] if age is None else [(as_of - pd.Timedelta(hours=age)).strftime("%Y%m%dT%H%M%SZ")]
    f = featureio._feed_status("odds", "2026-01-10", as_of, tokens,
                               "[x] odds: HTTP 500" if failed else None, limit)
    real_age = f["age_hours"]
    fresh = real_age is not None and real_age <= limit
    assert (f["status"] == featureio.FEED_OK) == (fresh and not failed)
    assert (f["status"] == featureio.FEED_FALLBACK) == (fresh and failed)
    assert (f["status"] in (featureio.FEED_STALE, featureio.FEED_MISSING)) == (not fresh)
    assert (f["status"] == featureio.FEED_OK) == (f["reason"] == "")
    if failed:
        assert "HTTP 500" in f["reason"]


# ----------------------------------------------------------------------------- a flaky source

class Flaky:
    """The simulated league, except that the kinds in `fail` raise SourceError (odds with the
    offending payload, injuries without one: a timeout)."""

    name = "flaky"
    fail: set[str] = set()
    inner = None

    def fetch(self, kind, game_date, as_of):
        if kind in Flaky.fail:
            if kind == "odds":
                raise SourceError("flaky", "odds.v4", "expected a number, got 'abc'",
                                  field="bookmakers[0].markets[0].outcomes[0].price",
                                  raw=b'{"price": "abc"}')
            raise SourceError("flaky", "injury_report", "timeout after 10s (ReadTimeout)")
        if Flaky.inner is None:
            Flaky.inner = SimulatedSource(7)
        return Flaky.inner.fetch(kind, game_date, as_of)


class FlakyResource(SourceResource):
    def get(self):
        return Flaky()


def flaky_defs() -> dg.Definitions:
    """The code location's assets, jobs and resources, with the flaky source."""
    return dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs,
                          resources={**defs.resources, "source": FlakyResource()})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("degrade_base")
    build_trained_store(root, HISTORY)
    return root


@pytest.fixture
def root(base, tmp_path, monkeypatch):
    r = tmp_path / "data"
    shutil.copytree(base, r)
    use_simulated_store(monkeypatch, r)
    for k in (featureio.REQUIRED_FEEDS_ENV, featureio.MAX_AGE_HOURS_ENV, alerts.WEBHOOK_ENV):
        monkeypatch.delenv(k, raising=False)
    Flaky.fail = set()
    return r


def live_job(location, inst, as_of):
    return location.resolve_job_def("live_job").execute_in_process(
        instance=inst, partition_key=DAY, raise_on_error=False, tags={RUN_AS_OF_TAG: as_of},
        run_config={**QUIET, "ops": {"game_scores": {"config": {"n_sims": 500}}}})


def scores_summary(root, as_of) -> dict:
    return json.loads((run_folder("game_scores", DAY, TOKEN[as_of], root) / "summary.json")
                      .read_text())


def run_status_context(name, inst, result, failure=False):
    event = next(e for e in result.all_events if e.event_type == (
        dg.DagsterEventType.RUN_FAILURE if failure else dg.DagsterEventType.RUN_SUCCESS))
    ctx = dg.build_run_status_sensor_context(sensor_name=name, dagster_event=event,
                                             dagster_instance=inst,
                                             dagster_run=inst.get_run_by_id(result.run_id))
    return ctx.for_run_failure() if failure else ctx


# ----------------------------------------------------------------------------- live_job

def test_live_job_scores_a_degraded_slate_and_says_why(root, monkeypatch):
    from sensors.alerts import degraded_slate_alert_sensor, run_failure_alert_sensor
    from sensors.live_runs import live_run_registry_sensor
    location, inst = flaky_defs(), dg.DagsterInstance.ephemeral()

    # 1. every feed answers: a normal slate
    r1 = live_job(location, inst, T1)
    assert r1.success
    assert scores_summary(root, T1)["degraded"] is False
    n_games = len(read_table("game_scores", DAY, root=root))

    # 2. injuries and odds fail two hours later: the slate still scores, on the 15:00 runs
    Flaky.fail = {"injuries", "odds"}
    r2 = live_job(location, inst, T2)
    assert r2.success
    for kind, asset in (("injuries", "injury_snapshot"), ("odds", "odds_snapshot")):
        runs = sorted(p.name for p in (root / "live/snapshots" / kind / DAY).glob("run=*"))
        assert runs == [f"run={TOKEN[T1]}"], f"{asset}: something written for the failed run"
        (mat,) = [m for m in r2.asset_materializations_for_node(asset)]
        md = {k: v.value for k, v in mat.metadata.items()}
        assert md["feed_status"] == "failed" and md["new_run_folders"] == 0
        assert md["source"] == "flaky" and md["endpoint"] in ("odds.v4", "injury_report")
        (check,) = [c for c in r2.get_asset_check_evaluations()
                    if c.asset_key == dg.AssetKey(asset) and c.check_name == "feed_fetched"]
        assert not check.passed
    record = json.loads(next((root / "quarantine/odds" / DAY).glob(f"{TOKEN[T2]}-*.json")).read_text())
    assert record["field"] == "bookmakers[0].markets[0].outcomes[0].price"
    assert open(record["payload"], "rb").read() == b'{"price": "abc"}'
    record = json.loads(next((root / "quarantine/injuries" / DAY).glob(f"{TOKEN[T2]}-*.json")).read_text())
    assert "timeout" in record["error"] and record["payload"] is None  # recorded, no payload
    s2 = scores_summary(root, T2)
    assert s2["degraded"] is True and set(s2["degraded_feeds"]) == {"injuries", "odds"}
    assert f"using the run of {TOKEN[T1]}, 2.0 h old" in s2["degraded_feeds"]["odds"]
    assert "outcomes[0].price" in s2["degraded_feeds"]["odds"]
    assert s2["snapshot_age_hours"]["odds"] == 2.0 and s2["snapshot_age_hours"]["schedule"] == 0
    scores2 = read_table("game_scores", DAY, root=root)
    assert len(scores2) == n_games and scores2["p_market_home"].notna().all()  # 15:00 odds stand in
    (gs,) = r2.asset_materializations_for_node("game_scores")
    assert gs.metadata["degraded"].value is True
    assert set(gs.metadata["degraded_feeds"].value) == {"injuries", "odds"}

    # the run registry and the alert say so
    live_run_registry_sensor(run_status_context("live_run_registry_sensor", inst, r2))
    entry = read_live_runs(root).iloc[-1]
    assert entry["status"] == "SUCCESS" and bool(entry["degraded"])
    assert set(entry["degraded_feeds"]) == {"injuries", "odds"}
    with RecordingWebhook() as hook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
        degraded_slate_alert_sensor(run_status_context("degraded_slate_alert_sensor", inst, r1))
        assert hook.bodies == []  # a clean slate sends nothing
        degraded_slate_alert_sensor(run_status_context("degraded_slate_alert_sensor", inst, r2))
        (body,) = hook.bodies
    assert DAY in body["text"] and r2.run_id in body["text"] and "DEGRADED" in body["text"]
    assert "injuries: fetch failed" in body["text"] and f"/runs/{r2.run_id}" in body["text"]

    # 3. older than the odds' max age: market features missing, and no price to bet against
    monkeypatch.setenv(featureio.MAX_AGE_HOURS_ENV, "odds=2.5")
    r3 = live_job(location, inst, T3)
    assert r3.success
    s3 = scores_summary(root, T3)
    assert s3["degraded_feeds"]["odds"].startswith("features missing: the newest odds snapshot")
    assert "3.0 h old, limit 2.5 h" in s3["degraded_feeds"]["odds"]
    feats = read_table("live_game_features", DAY, root=root)
    assert not feats["mkt_available"].any() and feats["mkt_prob_home"].isna().all()
    scores3 = read_table("game_scores", DAY, root=root)
    assert scores3["p_market_home"].isna().all() and (scores3["recommendation"] == "none").all()
    assert np.isfinite(scores3["p_home_win"]).all()

    # 4. a required feed that fails still fails the run, with the named error
    monkeypatch.setenv(featureio.REQUIRED_FEEDS_ENV, "schedule,odds")
    r4 = live_job(location, inst, T4)
    assert not r4.success
    failure = r4.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "odds.v4" in failure.description and "outcomes[0].price" in failure.description
    assert not (run_folder("game_scores", DAY, "latest", root).name.endswith(TOKEN[T4]))
    with RecordingWebhook() as hook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
        run_failure_alert_sensor(run_status_context("run_failure_alert_sensor", inst, r4, True))
        (body,) = hook.bodies
    assert "live_job run failed" in body["text"] and "odds.v4" in body["text"]


# ----------------------------------------------------------------------------- tipoff run

def test_tipoff_run_goes_on_without_a_failed_feed(root, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(steps, "source_from_env", lambda: Flaky())
    assert main(["run", "--date", DAY, "--as-of", T1, "--n-sims", "500", "--quiet"]) == 0
    assert "DEGRADED" not in capsys.readouterr().out

    Flaky.fail = {"injuries", "odds"}
    c = tmp_path / "c.json"
    assert main(["run", "--date", DAY, "--as-of", T2, "--until-step", "collection",
                 "--output", str(c), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "FAILED FEEDS: injuries, odds" in out
    doc = json.loads(c.read_text())
    assert set(doc["collection"]["snapshots"]) == {"schedule", "rosters"}
    assert doc["collection"]["failed"]["odds"]["field"] == "bookmakers[0].markets[0].outcomes[0].price"
    assert main(["run", "--from-step", "features", "--input", str(c), "--n-sims", "500",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "DEGRADED: injuries: fetch failed" in out and f"using the run of {TOKEN[T1]}" in out
    s2 = scores_summary(root, T2)
    assert s2["degraded"] is True and s2["via"] == "tipoff run"
    assert set(s2["degraded_feeds"]) == {"injuries", "odds"}
    entry = read_live_runs(root).iloc[-1]
    assert entry["mode"] == "cli" and bool(entry["degraded"])
    assert set(entry["degraded_feeds"]) == {"injuries", "odds"}
    assert not (root / "live/snapshots/odds" / DAY / f"run={TOKEN[T2]}").exists()
    assert len(PredictionsLog().read(DAY)) == 2 * len(read_table("game_scores", DAY, root=root))

    # a required feed: the collection step fails with the named error (exit status 1)
    monkeypatch.setenv(featureio.REQUIRED_FEEDS_ENV, "injuries")
    assert main(["run", "--date", DAY, "--as-of", T3, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "collection: [flaky] injury_report: timeout" in err
    assert not (root / "artifacts/game_scores" / DAY / f"run={TOKEN[T3]}").exists()


# ----------------------------------------------------------------------------- live, offline

LIVE_DAY = "2025-10-02"  # the recorded schedule's first date: NYK v PHI (preseason, Abu Dhabi)
LIVE_GAME = "0012500008"
SCHEDULE_FIXTURE = "scheduleLeagueV2_2025-26_TRIMMED_first2dates.json"
ODDS_KEY = "dummy-odds-key-7f3a91c2"


class RecordedServices:
    """The four live services from the recorded responses in ../shared/fixtures, served unmodified
    from one local HTTP server (the services' paths do not overlap; the injury reports' folder is
    /injury).  A request with no recording gets what the service answers for something it does
    not have: the injury CDN 404 for a report that was not published (403 to everything in
    `injury_mode="forbidden"`), stats.nba.com 404, The Odds API an empty list for a window without
    recorded events (401 without a key)."""

    ODDS_EVENTS = "odds_api_v4/basketball_nba_odds_us_h2h_spreads_totals_american_TRIMMED.json"
    # the report's own URL (hour names before 2025-12-23: the 12PM file holds the 12:30 report)
    REPORTS = {"Injury-Report_2024-01-04_12PM.pdf":
               "nba_official_injury_report/Injury-Report_2024-01-04_12_30PM.pdf"}

    def __init__(self, fixtures):
        import http.server
        import threading
        from urllib.parse import parse_qs, urlsplit

        self.fixtures, self.injury_mode, self.requests = fixtures, "missing", []
        events = json.loads((fixtures / self.ODDS_EVENTS).read_text())
        commence = [pd.Timestamp(e["commence_time"]) for e in events]
        svc = self

        def answer(path: str, q: dict) -> tuple[int, bytes]:
            if path == "/static/json/staticData/scheduleLeagueV2.json":
                return 200, (fixtures / "nba_cdn" / SCHEDULE_FIXTURE).read_bytes()
            if path == "/static/json/liveData/scoreboard/todaysScoreboard_00.json":
                return 200, (fixtures / "nba_cdn/todaysScoreboard_00_2023-04-20.json").read_bytes()
            if path == "/stats/commonteamroster" and q.get("TeamID") == "1610612738":
                return 200, (fixtures / "stats_nba_com/commonteamroster_BOS_2025-26.json").read_bytes()
            if path == "/v4/sports/basketball_nba/odds":
                if not q.get("apiKey"):
                    return 401, b'{"message": "API key is missing"}'
                lo, hi = pd.Timestamp(q["commenceTimeFrom"]), pd.Timestamp(q["commenceTimeTo"])
                return 200, ((fixtures / self.ODDS_EVENTS).read_bytes()
                             if any(lo <= c <= hi for c in commence) else b"[]")
            if path.startswith("/injury/"):
                if svc.injury_mode == "forbidden":
                    return 403, b"<Error><Code>AccessDenied</Code></Error>"
                name = path.rsplit("/", 1)[-1]
                if name in self.REPORTS:
                    return 200, (fixtures / self.REPORTS[name]).read_bytes()
            return 404, b"not found"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                status, body = answer(parts.path, q)
                svc.requests.append((parts.path, status))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # request lines carry the API key: never print them
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def env(self) -> dict[str, str]:
        return {"TIPOFF_NBA_CDN_URL": self.url, "TIPOFF_NBA_STATS_URL": self.url,
                "TIPOFF_ODDS_API_URL": self.url, "TIPOFF_INJURY_REPORT_URL": f"{self.url}/injury"}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_live_job_offline_on_recorded_responses(root, fixtures_dir, monkeypatch, caplog,
                                                 request):
    """TIPOFF_SOURCE=live against the recorded responses: a scored slate, then the injury feed
    answering 403 (a degraded slate, an alert).  What the recordings cannot give, the pipeline
    honestly goes without: no injury report was recorded for this preseason date (404s), only
    BOS's roster was recorded (this game's rosters: 404), and the recorded odds event is of
    2022-11-22 (no odds for the date: the slate scores without market columns and says so)."""
    from resources.sources import make_source
    from sensors.alerts import degraded_slate_alert_sensor
    from sensors.live_runs import live_run_registry_sensor
    with RecordedServices(fixtures_dir) as services:
        # The clock stands at the slate's default as-of (5 minutes before the recorded tip), as
        # on the day: odds then come from the current-odds endpoint, not the historical one.
        schedule = json.loads((fixtures_dir / "nba_cdn" / SCHEDULE_FIXTURE).read_text())
        tip = min(pd.Timestamp(g["gameDateTimeUTC"])
                  for d in schedule["leagueSchedule"]["gameDates"] for g in d["games"]
                  if g["gameId"] == LIVE_GAME)
        for k, v in {**services.env(), "TIPOFF_SOURCE": "live", "ODDS_API_KEY": ODDS_KEY,
                     "TIPOFF_HTTP_MIN_INTERVAL": "0",
                     "TIPOFF_NOW": (tip - pd.Timedelta(minutes=5)).isoformat()}.items():
            monkeypatch.setenv(k, v)
        make_source.cache_clear()  # a LiveSource built with this environment
        request.addfinalizer(make_source.cache_clear)
        inst = dg.DagsterInstance.ephemeral()
        run = defs.resolve_job_def("live_job").execute_in_process
        r1 = run(instance=inst, partition_key=LIVE_DAY, raise_on_error=False,
                 run_config={**QUIET, "ops": {"game_scores": {"config": {"n_sims": 500}}}})
        assert r1.success

        scores = read_table("game_scores", LIVE_DAY, root=root)
        assert list(scores["game_id"]) == ["0012500008"]
        assert scores[["home_team_id", "away_team_id"]].values.tolist() == [[1610612752, 1610612755]]
        assert np.isfinite(scores["p_home_win"]).all() and scores["p_market_home"].isna().all()
        logged = PredictionsLog().read(LIVE_DAY)
        assert list(logged["game_id"]) == ["0012500008"] and set(logged["source"]) == {"live"}
        sched = read_table("schedule_snapshot", LIVE_DAY, root=root)
        as_of = sched["tip_ts"].min() - pd.Timedelta(minutes=5)  # the past-date as-of rule
        token = as_of.strftime("%Y%m%dT%H%M%SZ")
        assert len(read_table("odds_snapshot", LIVE_DAY, root=root)) == 0  # no events: not a failure
        s1 = json.loads((run_folder("game_scores", LIVE_DAY, token, root) / "summary.json").read_text())
        assert s1["source"] == "live" and s1["games_without_odds"] == 1
        assert set(s1["degraded_feeds"]) == {"injuries", "rosters"}
        assert "no injury report" in s1["degraded_feeds"]["injuries"]
        assert "x HTTP 404" in s1["degraded_feeds"]["injuries"]
        assert "HTTP 404" in s1["degraded_feeds"]["rosters"]
        assert "odds" not in s1["degraded_feeds"]

        # the injury feed now answers 403 to everything, a few minutes later
        services.injury_mode = "forbidden"
        later = (as_of + pd.Timedelta(minutes=3)).isoformat()
        r2 = run(instance=inst, partition_key=LIVE_DAY, raise_on_error=False,
                 tags={RUN_AS_OF_TAG: later},
                 run_config={**QUIET, "ops": {"game_scores": {"config": {"n_sims": 500}}}})
        assert r2.success
        (mat,) = r2.asset_materializations_for_node("injury_snapshot")
        assert mat.metadata["feed_status"].value == "failed"
        assert "x HTTP 403" in mat.metadata["error"].value
        with RecordingWebhook() as hook:
            monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
            degraded_slate_alert_sensor(run_status_context("degraded_slate_alert_sensor", inst, r2))
            live_run_registry_sensor(run_status_context("live_run_registry_sensor", inst, r2))
        (body,) = hook.bodies
        assert LIVE_DAY in body["text"] and f"/runs/{r2.run_id}" in body["text"]
        assert "injuries:" in body["text"] and "x HTTP 403" in body["text"]
        entry = read_live_runs(root).iloc[-1]
        assert bool(entry["degraded"]) and entry["run_id"] == r2.run_id

    # the dummy key reached the server but nothing we keep or log
    assert ("/v4/sports/basketball_nba/odds", 200) in services.requests
    assert ("/stats/commonteamroster", 404) in services.requests
    leaks = [str(p) for p in root.rglob("*") if p.is_file() and ODDS_KEY.encode() in p.read_bytes()]
    assert leaks == []
    logs = " ".join(str(e.message) for r in (r1, r2) for e in inst.all_logs(r.run_id))
    assert ODDS_KEY not in logs + caplog.text + json.dumps(hook.bodies)


# ----------------------------------------------------------------------------- train_job alerts

def test_a_drift_retrain_and_its_gate_rejection_are_posted(root, monkeypatch):
    from sensors.alerts import drift_retrain_alert_sensor, gate_rejection_alert_sensor
    from resources.registry import ModelRegistry
    before = ModelRegistry().production_version("win_market_free")
    inst = dg.DagsterInstance.ephemeral()
    detail = "2025-04-10: log loss 0.7200 vs baseline 0.6200 (+0.1000, z=3.4) over 120 games"
    result = defs.resolve_job_def("train_job").execute_in_process(
        instance=inst, tags={"tipoff/retrain_reason": "drift", "tipoff/drift_detail": detail},
        run_config={**QUIET, "ops": {  # a floor no candidate can meet: the gate keeps production
            "win_model": {"config": {"fast": True, "max_log_loss": 0.30}},
            "minutes_model": {"config": {"fast": True}}}})
    assert result.success and ModelRegistry().production_version("win_market_free") == before
    started = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_START)
    with RecordingWebhook() as hook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
        drift_retrain_alert_sensor(dg.build_run_status_sensor_context(
            sensor_name="drift_retrain_alert_sensor", dagster_event=started,
            dagster_instance=inst, dagster_run=inst.get_run_by_id(result.run_id)))
        gate_rejection_alert_sensor(run_status_context("gate_rejection_alert_sensor", inst, result))
    drift, gate = hook.bodies
    assert "drift detected: retraining" in drift["text"] and detail in drift["text"]
    assert f"/runs/{result.run_id}" in drift["text"] and f"/runs/{result.run_id}" in gate["text"]
    assert "gate kept production (win_market_free" in gate["text"] and "drift retrain" in gate["text"]
    assert f"production stays {before}" in gate["text"] and "0.3" in gate["text"]
