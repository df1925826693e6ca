"""Odds history: the historical endpoints of The Odds API (recorded responses in
../shared/fixtures/odds_api_v4), prices and their rules, credits and budgets, the backfill and
`tipoff odds backfill`, runs stored before the prices existed."""
from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import logging
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import requests
from hypothesis import given, settings, strategies as st

from pipeline_assets import cli, collect, odds_history
from resources import storage
from resources.sources.base import SourceError
from resources.sources.live import EP_SCHEDULE
from resources.sources.odds_api import (BACKFILL, EP_HISTORICAL_EVENT_ODDS, EP_HISTORICAL_EVENTS,
                                        PIPELINE, CreditBudgetExceeded, CreditLedger,
                                        CreditMeter, decimal_to_american)
from resources.sources.simulated import SimulatedSource
from tests.helpers import read_table
from tests.test_live_source import ATL, KEY, Router, load, make_source, schedule_with_game
from tipoff_core import catalog
from tipoff_core.schemas import ODDS, PRICE_PAIRS, arrow_schema, conform, violations
from tipoff_core.timeutil import ts_token

ODDS_DIR = "odds_api_v4"
SNAP = pd.Timestamp("2024-01-25T03:55:40Z")          # the recorded snapshot
DAY = dt.date(2024, 1, 24)                            # GSW-ATL tipped 22:20 New York time
EVENT = "cd0bc7d0c238f4446ce1c03d0cea7ec4"            # Atlanta at Golden State
GAME = "0022300634"
GSW = 1610612744
LATER = pd.Timestamp("2026-12-01T00:00:00Z")           # the sources' clock: 2024 is history
PRICES = [c for m in ("spread", "total") for c in PRICE_PAIRS[m]]   # the columns contract v3 added
HEADERS = {"x-requests-remaining": "19000", "x-requests-used": "1000"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any real HTTP request that is not to the local test server is a test bug."""
    real_send = requests.Session.send

    def send(self, request, **kw):
        if not urlsplit(request.url).hostname == "127.0.0.1":
            raise AssertionError(f"test tried to use the network: {request.url}")
        return real_send(self, request, **kw)
    monkeypatch.setattr(requests.Session, "send", send)


@pytest.fixture(scope="module")
def hx(fixtures_dir):
    """The recorded historical responses: name -> exact bytes."""
    d = fixtures_dir / ODDS_DIR
    out = {p.name: p.read_bytes() for p in d.glob("historical_*.json")}
    assert {"historical_events_2024-01-25T035540Z.json", "historical_events_2025-03-09T235538Z.json",
            "historical_event_odds_h2h_2024-01-25T035540Z.json",
            "historical_event_odds_spreads_totals_2024-01-25T035540Z.json"} <= set(out)
    out["schedule"] = (fixtures_dir / "nba_cdn/scheduleLeagueV2_2025-26_TRIMMED_first2dates.json"
                       ).read_bytes()
    out["gamelog"] = (fixtures_dir / "stats_nba_com/leaguegamelog_T_2025-26_TRIMMED12rows.json"
                      ).read_bytes()
    return out


def gsw_schedule(hx) -> bytes:
    """The recorded CDN schedule with Atlanta at Golden State on 2024-01-24, 22:00 New York."""
    return schedule_with_game({"schedule": hx["schedule"]}, game_id=GAME, date="2024-01-24",
                              tip_utc="2024-01-25T03:00:00Z", home=GSW, away=ATL,
                              home_tri="GSW", away_tri="ATL")


def answer(body: bytes, cost: int):
    """A 200 answer with The Odds API's credit headers."""
    used = 1000 + cost
    return 200, body, {"x-requests-last": str(cost), "x-requests-used": str(used),
                       "x-requests-remaining": str(20000 - used)}


def historical_routes(hx, events: bytes | None = None, event_odds=None) -> Router:
    def event_odds_answer(url, params):
        assert EVENT in url, f"no recorded odds for {url}"
        group = params["markets"]
        name = {"h2h": "h2h", "spreads,totals": "spreads_totals"}[group]
        return answer(hx[f"historical_event_odds_{name}_2024-01-25T035540Z.json"],
                      10 * len(group.split(",")))
    return Router({
        "scheduleLeagueV2": gsw_schedule(hx),
        "/odds": event_odds or event_odds_answer,
        "/v4/historical/sports/basketball_nba/events":
            answer(events or hx["historical_events_2024-01-25T035540Z.json"], 1),
    })


def historical_source(router, *, meter=None, in_play=True, **kw):
    return make_source(router, now=lambda: LATER,
                       source_kw={"odds_meter": meter, "odds_in_play": in_play, **kw})[0]


# ------------------------------------------------------------------------------- parsing
def test_decimal_prices_become_american():
    assert [decimal_to_american(d) for d in (1.91, 1.83, 1.87, 1.88, 3.3, 3.8, 1.26, 2.0)] == \
        [-110, -120, -115, -114, 230, 280, -385, 100]
    for bad in (1.0, 0.5, float("nan"), "1.9"):
        with pytest.raises(ValueError, match="above 1"):
            decimal_to_american(bad)


@pytest.mark.parametrize("name,per_date", [
    ("historical_events_2024-01-25T035540Z.json", {"2024-01-24": 3, "2024-01-25": 7}),
    # 2025-03-09 is the first day of summer time: 00:10Z on the 10th is 20:10 on the 9th
    ("historical_events_2025-03-09T235538Z.json", {"2025-03-09": 6, "2025-03-10": 10}),
])
def test_every_recorded_events_snapshot_parses(hx, name, per_date):
    from resources.sources.live import LiveSource
    payload = json.loads(hx[name])
    snap = pd.Timestamp(payload["timestamp"])
    for day, n in per_date.items():
        notes = {}
        got_snap, events = LiveSource.parse_historical_events(
            payload, hx[name], dt.date.fromisoformat(day), snap, notes)
        assert got_snap == snap and len(events) == n
        assert notes["events_other_dates"] == len(payload["data"]) - n
        assert all(e["commence_time"].tzinfo is not None and e["id"] for e in events)


def test_recorded_event_odds_become_rows_with_american_prices(hx):
    router = historical_routes(hx)
    meter = CreditMeter()
    src = historical_source(router, meter=meter)
    ex = src.fetch("odds", DAY, SNAP)
    assert ex.endpoint == EP_HISTORICAL_EVENT_ODDS and list(ex.table.columns) == list(ODDS)
    t = ex.table.set_index("bookmaker")
    assert sorted(t.index) == ["draftkings", "fanduel"] and set(t.game_id) == {GAME}
    dk, fd = t.loc["draftkings"], t.loc["fanduel"]
    # DraftKings: GSW 1.32 / ATL 3.3; GSW -6.5 at 1.83, ATL +6.5 at 1.91; 248.5 at 1.87 / 1.87
    assert (dk.away_ml, dk.home_spread, dk.total) == (230, -6.5, 248.5)
    assert abs(dk.home_ml - (-100 / 0.32)) <= 0.5
    assert (dk.home_spread_price, dk.away_spread_price, dk.over_price, dk.under_price) == \
        (-120, -110, -115, -115)
    # FanDuel: GSW 1.26 / ATL 3.8; -7.5 at 1.88 both; 247.5 at 1.87 / 1.88
    assert (fd.home_ml, fd.away_ml, fd.home_spread, fd.total) == (-385, 280, -7.5, 247.5)
    assert (fd.home_spread_price, fd.away_spread_price, fd.over_price, fd.under_price) == \
        (-114, -114, -115, -114)
    # the row is knowable when the book's later answer was: its last_update
    assert dk.snapshot_ts == pd.Timestamp("2024-01-25T03:55:22Z")
    assert fd.snapshot_ts == pd.Timestamp("2024-01-25T03:55:01Z")
    assert not violations(ex.table, "odds")
    n = ex.notes
    assert n["odds_endpoint"] == "historical" and n["snapshot_timestamp"] == SNAP.isoformat()
    # three of the date's events: two not on this schedule (counted, never paid for)
    assert (n["events"], n["unmatched_events"], n["events_started"], n["events_priced"]) == \
        (3, 2, 0, 1)
    assert n["credits"] == meter.spent == 1 + 10 + 20
    calls = [(u, p) for u, p in router.calls if "the-odds-api.com" in u]
    (eu, ep), (hu, hp), (su, sp) = calls
    assert eu.endswith("/v4/historical/sports/basketball_nba/events")
    assert ep["date"] == "2024-01-25T03:55:40Z" and ep["apiKey"] == KEY
    assert (ep["commenceTimeFrom"], ep["commenceTimeTo"]) == ("2024-01-24T05:00:00Z",
                                                              "2024-01-25T05:00:00Z")
    assert hu.endswith(f"/v4/historical/sports/basketball_nba/events/{EVENT}/odds")
    assert (hp["markets"], sp["markets"]) == ("h2h", "spreads,totals")
    assert hp["oddsFormat"] == "decimal" and hp["regions"] == "us"
    raw = json.loads(ex.raw)
    assert raw[f"{EP_HISTORICAL_EVENT_ODDS}[{EVENT}|h2h]"] == load(
        hx, "historical_event_odds_h2h_2024-01-25T035540Z.json")
    assert f"{EP_SCHEDULE}[2024-01-24]" in raw and KEY.encode() not in ex.raw


def test_started_games_are_not_paid_for_unless_in_play(hx):
    router = historical_routes(hx)
    meter = CreditMeter()
    ex = historical_source(router, meter=meter, in_play=False).fetch("odds", DAY, SNAP)
    assert ex.table.empty and list(ex.table.columns) == list(ODDS)
    assert (ex.notes["events_started"], ex.notes["events_priced"]) == (1, 0)
    assert meter.spent == 1 and not router.urls("/odds")


def test_recent_as_of_uses_the_current_endpoint_and_the_clock_decides(hx):
    router = historical_routes(hx)
    src = historical_source(router)
    assert src.odds_are_historical(SNAP)
    src.now = lambda: SNAP + pd.Timedelta(minutes=5)
    assert not src.odds_are_historical(SNAP)
    src.now = lambda: SNAP + pd.Timedelta(minutes=11)
    assert src.odds_are_historical(SNAP)


def test_a_date_of_another_season_is_matched_through_the_game_log(hx):
    sched = load(hx, "schedule")
    sched["leagueSchedule"]["seasonYear"] = "2026-27"   # the CDN has moved on to a new season
    sched["leagueSchedule"]["gameDates"] = []
    gamelog = load(hx, "gamelog")
    day = dt.date.fromisoformat(gamelog["resultSets"][0]["rowSet"][0][
        gamelog["resultSets"][0]["headers"].index("GAME_DATE")][:10])
    router = Router({"scheduleLeagueV2": json.dumps(sched).encode(),
                     "todaysScoreboard": json.dumps({"scoreboard": {"gameDate": "2026-12-01",
                                                                    "games": []}}).encode(),
                     "leaguegamelog": hx["gamelog"],
                     "/v4/historical/sports/basketball_nba/events":
                         answer(hx["historical_events_2025-03-09T235538Z.json"], 1)})
    ex = historical_source(router).fetch("odds", day, pd.Timestamp(f"{day}T23:59:00Z"))
    assert ex.notes["games_lookup"] == "stats.leaguegamelog"
    assert router.urls("leaguegamelog") and router.urls("/historical/")
    assert ex.table.empty and ex.notes["events_other_dates"] == 16


def test_a_date_without_games_costs_nothing(hx):
    router = historical_routes(hx)
    meter = CreditMeter()
    # a date of the season the CDN publishes (2025-26) without games: nothing to price
    ex = historical_source(router, meter=meter).fetch("odds", dt.date(2026, 2, 1),
                                                      pd.Timestamp("2026-02-01T12:00Z"))
    assert ex.table.empty and meter.spent == 0 and not router.urls("the-odds-api.com")
    assert ex.notes["games_lookup"] == EP_SCHEDULE


@given(shifts=st.lists(st.integers(-1200, 1200), min_size=2, max_size=2),
       as_of_shift=st.integers(-600, 3600))
@settings(max_examples=60, deadline=None)
def test_no_row_after_the_as_of_for_any_as_of(hx, shifts, as_of_shift):
    """Whatever the books' update times and the as-of: a row is never stamped after the as-of,
    and an answer stamped after it is refused (never silently used)."""
    from resources.sources.live import LiveSource
    payload = load(hx, "historical_event_odds_spreads_totals_2024-01-25T035540Z.json")
    for bk, s in zip(payload["data"]["bookmakers"], shifts):
        bk["last_update"] = (SNAP + pd.Timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    as_of = SNAP + pd.Timedelta(seconds=as_of_shift)
    raw = json.dumps(payload).encode()
    notes: dict = {}
    if as_of < SNAP:
        with pytest.raises(SourceError, match="after the requested date") as err:
            LiveSource.parse_historical_event_odds(payload, raw, EVENT, GAME, as_of, notes)
        assert err.value.field == "timestamp"
        return
    rows = LiveSource.parse_historical_event_odds(payload, raw, EVENT, GAME, as_of, notes)
    assert all(r["snapshot_ts"] <= as_of for r in rows)
    assert len(rows) + notes.get("rows_after_as_of", 0) == 2


# ------------------------------------------------------------------------- malformed payloads
@pytest.mark.parametrize("target,mutate,endpoint,field", [
    ("events", lambda p: p["data"][1].update(commence_time=123), EP_HISTORICAL_EVENTS,
     "data[1].commence_time"),
    ("events", lambda p: p.pop("data"), EP_HISTORICAL_EVENTS, "data"),
    ("h2h", lambda p: p["data"]["bookmakers"][0]["markets"][0]["outcomes"][0].update(price=0.9),
     EP_HISTORICAL_EVENT_ODDS, "data.bookmakers[0].markets[0].outcomes[0].price"),
    ("h2h", lambda p: p["data"].update(id="another-event"), EP_HISTORICAL_EVENT_ODDS, "data.id"),
    ("spreads_totals", lambda p: p["data"]["bookmakers"][1]["markets"][1]["outcomes"][0]
     .pop("point"), EP_HISTORICAL_EVENT_ODDS, "data.bookmakers[1].markets[1].outcomes[0].point"),
])
def test_malformed_historical_payload_names_endpoint_and_field_and_is_quarantined(
        hx, tmp_path, target, mutate, endpoint, field):
    name = {"events": "historical_events_2024-01-25T035540Z.json",
            "h2h": "historical_event_odds_h2h_2024-01-25T035540Z.json",
            "spreads_totals": "historical_event_odds_spreads_totals_2024-01-25T035540Z.json"}[target]
    bad = load(hx, name)
    mutate(bad)
    body = json.dumps(bad).encode()
    events = body if target == "events" else None

    def event_odds(url, params):
        group = {"h2h": "h2h", "spreads,totals": "spreads_totals"}[params["markets"]]
        mine = body if group == target else hx[f"historical_event_odds_{group}_2024-01-25T035540Z.json"]
        return answer(mine, 10)
    src = historical_source(historical_routes(hx, events=events, event_odds=event_odds))
    with pytest.raises(collect.CollectError) as err:
        collect.fetch(src, "odds", DAY.isoformat(), SNAP, tmp_path)
    e = err.value.error
    assert (e.source, e.endpoint, e.field) == ("live", endpoint, field)
    assert f"[live] {endpoint}: field '{field}'" in str(err.value)
    record = json.loads(err.value.kept.read_text())
    assert Path(record["payload"]).read_bytes() == body and record["field"] == field
    assert not (tmp_path / "live").exists()  # nothing written


# --------------------------------------------------------------------------- credits, budgets
def test_budget_refuses_the_call_it_cannot_pay_before_making_it(hx):
    router = historical_routes(hx)
    meter = CreditMeter(budget=20, purpose=BACKFILL)
    with pytest.raises(CreditBudgetExceeded, match="budget of 20") as err:
        historical_source(router, meter=meter).fetch("odds", DAY, SNAP)
    assert err.value.endpoint == EP_HISTORICAL_EVENT_ODDS and err.value.raw is None
    # events (1) and h2h (10) were paid; spreads + totals (20) were never requested
    assert meter.spent == 11 and [p["markets"] for p in router.urls("/odds")] == ["h2h"]


def test_daily_budget_counts_the_ledger_across_processes(hx, tmp_path):
    ledger = CreditLedger(tmp_path / "ops")
    today = pd.Timestamp("2026-12-01T15:00:00Z")
    ledger.append({"kind": "call", "ts": today.isoformat(), "purpose": PIPELINE, "credits": 500})
    ledger.append({"kind": "call", "ts": today.isoformat(), "purpose": BACKFILL, "credits": 5000})
    ledger.append({"kind": "call", "ts": "2026-11-30T15:00:00+00:00", "purpose": PIPELINE,
                   "credits": 400})
    assert ledger.spent(purpose=PIPELINE, day=dt.date(2026, 12, 1)) == 500
    router = historical_routes(hx)
    meter = CreditMeter(ledger, daily_budget=500, clock=lambda: today)
    with pytest.raises(CreditBudgetExceeded, match="spent 500 of 500 today"):
        historical_source(router, meter=meter).fetch("odds", DAY, SNAP)
    assert not router.urls("the-odds-api.com")   # refused before the first request


def test_account_remaining_credits_stop_the_next_call(hx):
    def events(url, params):
        return 200, hx["historical_events_2024-01-25T035540Z.json"], {
            "x-requests-last": "1", "x-requests-remaining": "5", "x-requests-used": "19995"}
    router = historical_routes(hx)
    router.routes["/v4/historical/sports/basketball_nba/events"] = events
    meter = CreditMeter()
    with pytest.raises(CreditBudgetExceeded, match="5 credit"):
        historical_source(router, meter=meter).fetch("odds", DAY, SNAP)
    assert meter.remaining == 5 and not router.urls("/odds")


def test_ledger_and_cache_book_every_call_and_never_pay_twice(hx, tmp_path):
    ledger = CreditLedger(tmp_path / "ops")
    router = historical_routes(hx)
    src = historical_source(router, meter=CreditMeter(ledger, purpose=BACKFILL))
    first = src.fetch("odds", DAY, SNAP)
    calls = [r for r in ledger.records() if r["kind"] == "call"]
    assert [r["credits"] for r in calls] == [1, 10, 20] and not any(r["estimated"] for r in calls)
    assert calls[-1]["remaining"] == 20000 - 1020 and calls[0]["date"] == "2024-01-24"
    n = len(router.calls)
    again = historical_source(router, meter=CreditMeter(ledger)).fetch("odds", DAY, SNAP)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.raw == again.raw and again.notes["cache_hits"] == 3
    assert not router.urls("the-odds-api.com")[n:] and again.notes["credits"] == 0
    files = list((tmp_path / "ops").rglob("*"))
    assert files and all(KEY.encode() not in f.read_bytes() for f in files if f.is_file())


# ------------------------------------------------------------------------------- the backfill
def test_snapshot_slots_of_a_game_day():
    day = dt.date(2026, 1, 23)
    tips = pd.Series(pd.to_datetime(["2026-01-24T00:00Z", "2026-01-24T00:30Z",
                                     "2026-01-24T03:00Z"], utc=True))   # 19:00, 19:30, 22:00 NY
    slots = odds_history.snapshot_slots(day, tips, opening=dt.time(10, 0), interval=15)
    ny = [s.tz_convert("America/New_York").strftime("%H:%M") for s in slots]
    assert ny[:3] == ["10:00", "10:15", "10:30"] and ny[-2:] == ["21:45", "21:55"]
    assert {"18:55", "19:25", "21:55"} <= set(ny) and "22:00" not in ny
    assert all(b - a <= pd.Timedelta(minutes=15) for a, b in zip(slots, slots[1:]))
    # the last snapshot before every tip is 5 minutes before it: its closing line
    for tip in tips:
        assert max(s for s in slots if s < tip) == tip - pd.Timedelta(minutes=5)
    assert odds_history.snapshot_slots(day, pd.Series([], dtype="datetime64[us, UTC]")) == []
    plan = odds_history.SlotPlan.parse("open,close,23:00", None, dt.time(9, 30))
    got = [s.tz_convert("America/New_York").strftime("%H:%M") for s in plan.slots(day, tips)]
    assert got == ["09:30", "18:55", "19:25", "21:55", "23:00"]
    for times, every, why in (("open", 15, "not both"), ("noon", None, "HH:MM"),
                              (None, 0, "1..1440"), (" , ", None, "empty")):
        with pytest.raises(ValueError, match=why):
            odds_history.SlotPlan.parse(times, every, dt.time(10))


def _cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue() + err.getvalue()


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TIPOFF_SOURCE", "live")
    monkeypatch.setenv("ODDS_API_KEY", KEY)
    monkeypatch.delenv("TIPOFF_ODDS_CREDIT_BUDGET", raising=False)
    monkeypatch.delenv("TIPOFF_NOW", raising=False)
    return tmp_path / "data"


def test_backfill_stops_at_the_budget_and_resumes_without_writing_or_paying_twice(hx, store):
    router = historical_routes(hx)
    ledger = CreditLedger.for_root(store)
    plan = odds_history.SlotPlan.parse("22:56,22:57", None, dt.time(10))
    tokens = ["20240125T035600Z", "20240125T035700Z"]

    def run(budget):
        src = historical_source(router, meter=CreditMeter(ledger, budget=budget, purpose=BACKFILL))
        return odds_history.backfill(src, DAY, DAY, plan, store, now=LATER, ledger=ledger,
                                     log=lambda _: None)
    first = run(40)   # 31 credits for the first snapshot; the second stops before h2h
    assert first.written == [(DAY.isoformat(), tokens[0])] and first.out_of_credits
    assert first.left == 1 and first.credits == 32
    base = storage.partition_dir(catalog.snapshot("odds"), DAY.isoformat(), store)
    assert storage.list_runs(base) == tokens[:1]
    kept = {p.name: p.read_bytes() for p in (base / f"run={tokens[0]}").iterdir()}
    second = run(100)
    assert second.stored == [(DAY.isoformat(), tokens[0])]
    assert second.written == [(DAY.isoformat(), tokens[1])] and second.complete
    assert second.credits == 30    # the second snapshot's events answer came from the cache
    assert kept == {p.name: p.read_bytes() for p in (base / f"run={tokens[0]}").iterdir()}
    requests_made = [(u, p.get("date"), p.get("markets")) for u, p in router.calls
                     if "the-odds-api.com" in u]
    assert len(requests_made) == len(set(requests_made)) == 6   # 2 x (events, h2h, lines)
    third = run(100)
    assert third.stored == [(DAY.isoformat(), t) for t in tokens] and third.credits == 0
    snaps = [r for r in ledger.records() if r["kind"] == "snapshot"]
    assert [r["run"] for r in snaps] == tokens and [r["credits"] for r in snaps] == [31, 30]
    assert ledger.spent() == 31 + 1 + 30   # the refused h2h call cost nothing


def test_backfill_writes_the_good_snapshots_and_names_a_refused_one(hx, store):
    calls = {"n": 0}

    def events(url, params):
        calls["n"] += 1
        body = load(hx, "historical_events_2024-01-25T035540Z.json")
        if params["date"] == "2024-01-25T03:57:00Z":
            body["data"][0]["home_team"] = None
        return answer(json.dumps(body).encode(), 1)
    router = historical_routes(hx)
    router.routes["/v4/historical/sports/basketball_nba/events"] = events
    plan = odds_history.SlotPlan.parse("22:56,22:57,22:58", None, dt.time(10))
    report = odds_history.backfill(historical_source(router), DAY, DAY, plan, store, now=LATER,
                                   log=lambda _: None)
    assert [t for _, t in report.written] == ["20240125T035600Z", "20240125T035800Z"]
    [(key, why)] = report.refused.items()
    assert key == ("2024-01-24", "20240125T035700Z") and "data[0].home_team" in why
    assert "quarantine" in why and not report.complete


def test_backfill_on_the_simulated_league_writes_what_the_live_path_would(tmp_path):
    """The same collect/write functions as the asset: a simulated backfill's run is the run
    the odds_snapshot asset writes at that as-of (a source with no meter spends nothing)."""
    src = SimulatedSource(seed=7)
    day = dt.date(2026, 1, 23)
    plan = odds_history.SlotPlan.parse(None, 60, dt.time(10))
    report = odds_history.backfill(src, day, day, plan, tmp_path, now=LATER, log=lambda _: None)
    assert len(report.written) >= 10 and report.credits == 0 and report.complete
    token = report.written[-1][1]
    as_of = pd.Timestamp(dt.datetime.strptime(token, "%Y%m%dT%H%M%SZ"), tz="UTC")
    expected = collect.snapshot_files(collect.fetch(src, "odds", day.isoformat(), as_of,
                                                    tmp_path), day.isoformat(), as_of)
    folder = storage.run_folder(catalog.snapshot("odds"), day.isoformat(), token, tmp_path)
    assert {n: (folder / n).read_bytes() for n in expected} == expected
    t = read_table("odds_snapshot", day.isoformat(), token, tmp_path)
    assert t[PRICES].notna().all().all() and (t["snapshot_ts"] <= as_of).all()


# ----------------------------------------------------------------- the command, over HTTP
class _OddsApiHandler(http.server.BaseHTTPRequestHandler):
    """The recorded responses over HTTP: the CDN schedule and the historical endpoints."""

    files: dict[str, bytes] = {}
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        type(self).seen.append(self.path)
        cost = 0
        if url.path.endswith("scheduleLeagueV2.json"):
            body = self.files["schedule"]
        elif url.path == "/v4/historical/sports/basketball_nba/events":
            body, cost = self.files["events"], 1
        elif url.path == f"/v4/historical/sports/basketball_nba/events/{EVENT}/odds":
            group = {"h2h": "h2h", "spreads,totals": "spreads_totals"}[q["markets"]]
            body = self.files[group]
            cost = 10 * len(q["markets"].split(","))
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in answer(body, cost)[2].items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def odds_server(hx, monkeypatch):
    _OddsApiHandler.files = {
        "schedule": gsw_schedule(hx), "events": hx["historical_events_2024-01-25T035540Z.json"],
        "h2h": hx["historical_event_odds_h2h_2024-01-25T035540Z.json"],
        "spreads_totals": hx["historical_event_odds_spreads_totals_2024-01-25T035540Z.json"]}
    _OddsApiHandler.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OddsApiHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("TIPOFF_ODDS_API_URL", url)
    monkeypatch.setenv("TIPOFF_NBA_CDN_URL", url)
    yield _OddsApiHandler
    httpd.shutdown()


def test_tipoff_odds_backfill_over_http_writes_runs_tipoff_show_reads(odds_server, store, caplog):
    caplog.set_level(logging.DEBUG)
    code, out = _cli(["odds", "backfill", "--start", "2024-01-24", "--end", "2024-01-24",
                      "--times", "22:56", "--budget", "100", "--in-play"])
    assert code == 0, out
    assert "1 snapshot(s) written (2 rows)" in out and "31 credit(s) spent" in out
    assert "18980 left on the account" in out   # the last answer's x-requests-remaining
    token = "20240125T035600Z"
    code, csv = _cli(["show", "odds_snapshot", "--partition", "2024-01-24", "--run", token])
    assert code == 0, csv
    shown = pd.read_csv(io.StringIO(csv))
    assert list(shown.columns) == list(ODDS)
    shown = shown.set_index("bookmaker")
    assert shown.loc["fanduel", ["home_ml", "away_ml", "home_spread_price", "under_price"]] \
        .tolist() == [-385, 280, -114, -114]
    meta = json.loads((storage.run_folder(catalog.snapshot("odds"), "2024-01-24", token, store)
                       / "meta.json").read_text())
    assert meta["run_as_of_ts"] == "2024-01-25T03:56:00+00:00" and meta["notes"]["credits"] == 31
    # the key went out in every Odds API request, and nowhere else
    assert all(f"apiKey={KEY}" in p for p in odds_server.seen if "/v4/" in p)
    written = [p for p in store.rglob("*") if p.is_file()]
    assert all(KEY.encode() not in p.read_bytes() for p in written)
    assert KEY not in out and KEY not in caplog.text
    # resumable: the same command again skips the stored run, requests nothing from the API
    n = len(odds_server.seen)
    code, out = _cli(["odds", "backfill", "--start", "2024-01-24", "--end", "2024-01-24",
                      "--times", "22:56", "--budget", "100", "--in-play"])
    assert code == 0 and "0 snapshot(s) written" in out and "1 already stored" in out
    assert not [p for p in odds_server.seen[n:] if "/v4/" in p]


def test_tipoff_odds_backfill_stops_at_its_budget_with_status_3(odds_server, store):
    code, out = _cli(["odds", "backfill", "--start", "2024-01-24", "--end", "2024-01-24",
                      "--times", "22:56", "--budget", "15", "--in-play"])
    assert code == 3 and "stopped before 1 snapshot(s)" in out and "budget of 15" in out
    assert not (store / "live" / "snapshots" / "odds").exists()


@pytest.mark.parametrize("argv,env,message", [
    (["--start", "2024-01-24", "--end", "2024-01-25"], {}, "no credit budget"),
    (["--start", "2024-01-25", "--end", "2024-01-24", "--budget", "5"], {}, "is after"),
    (["--start", "2024-01-24", "--end", "2999-01-01", "--budget", "5"], {}, "in the future"),
    (["--start", "2024-1-24", "--end", "2024-01-24", "--budget", "5"], {}, "YYYY-MM-DD"),
    (["--start", "2024-01-24", "--end", "2024-01-24", "--budget", "5", "--times", "open",
      "--every", "15"], {}, "not both"),
    (["--start", "2024-01-24", "--end", "2024-01-24", "--budget", "5", "--times", "7pm"], {},
     "HH:MM"),
    (["--start", "2024-01-24", "--end", "2024-01-24", "--budget", "-1"], {}, "negative"),
    (["--start", "2024-01-24", "--end", "2024-01-24"], {"TIPOFF_ODDS_CREDIT_BUDGET": "lots"},
     "not a whole number"),
    (["--start", "2024-01-24", "--end", "2024-01-24", "--budget", "5"], {"ODDS_API_KEY": ""},
     "ODDS_API_KEY"),
    (["--start", "2024-01-24", "--end", "2024-01-24", "--budget", "5"],
     {"TIPOFF_SOURCE": "simulated"}, "TIPOFF_SOURCE=simulated"),
    (["--start", "2024-01-24", "--end", "2024-01-24", "--budget", "5", "--markets", "props"], {},
     "--markets props"),
])
def test_tipoff_odds_backfill_refuses_bad_arguments_in_one_line(store, monkeypatch, argv, env,
                                                                message):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code, out = _cli(["odds", "backfill", *argv])
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out


# ------------------------------------------------------------------ contract and old runs
def test_price_rules():
    base = {"game_id": "g", "bookmaker": "b", "home_ml": -150.0, "away_ml": 130.0,
            "home_spread": -3.5, "total": 220.5, "home_spread_price": -110.0,
            "away_spread_price": -110.0, "over_price": -105.0, "under_price": -115.0,
            "snapshot_ts": pd.Timestamp("2026-01-01T12:00Z")}
    ok = conform(pd.DataFrame([base]), "odds", "t", "o")
    assert not violations(ok, "odds")

    def broken(**change):
        return [v.rule for v in violations(conform(pd.DataFrame([{**base, **change}]), "odds",
                                                   "t", "o"), "odds")]
    assert "over_price is an American price" in broken(over_price=-50.0)
    assert broken(away_spread_price=150.0) == [
        "the two spread prices form a real book (implied sum 0.95-1.3)"]
    assert broken(under_price=-400.0)[0].startswith("the two total prices form a real book")
    assert broken(total=np.nan) == ["over_price has its line (total)",
                                    "under_price has its line (total)"]
    assert not broken(away_spread_price=np.nan, over_price=np.nan)   # one side quoted is fine


def _old_run(base: Path, token: str, table: pd.DataFrame) -> None:
    """A run as stored before the prices existed (contract v2: seven columns)."""
    old = table.drop(columns=PRICES)
    schema = pa.schema([f for f in arrow_schema("odds") if f.name not in PRICES])
    folder = base / f"run={token}"
    folder.mkdir(parents=True)
    (folder / "table.parquet").write_bytes(storage.parquet_bytes(old, schema))
    (folder / "raw.json").write_bytes(b"[]")
    (folder / "meta.json").write_bytes(b"{}")
    (base / "LATEST").write_text(token)


def test_runs_stored_before_the_prices_read_with_nan_and_rerun_as_a_no_op(tmp_path):
    src = SimulatedSource(seed=7)
    day, as_of = "2026-01-23", pd.Timestamp("2026-01-23T23:00:00Z")
    ex = collect.fetch(src, "odds", day, as_of, tmp_path)
    assert len(ex.table) and ex.table[PRICES].notna().all().all()
    base = storage.partition_dir(catalog.snapshot("odds"), day, tmp_path)
    token = ts_token(as_of)
    _old_run(base, token, ex.table)
    for table in (read_table("odds_snapshot", day, token, tmp_path),
                  storage.read_runs(catalog.snapshot("odds"), day, [token], tmp_path),
                  storage.read_snapshot_history(catalog.snapshot("odds"), [day], tmp_path)):
        assert list(table.columns) == list(ODDS) and table[PRICES].isna().all().all()
        assert table["home_ml"].tolist() == ex.table["home_ml"].tolist()
    # the same snapshot again under the new contract: the stored run stays, nothing refused
    folder = collect.write_snapshot(ex, day, as_of, tmp_path)
    assert not folder.created and (base / f"run={token}" / "raw.json").read_bytes() == b"[]"
    # a really different snapshot under that token is still refused
    changed = ex.table.assign(home_ml=ex.table["home_ml"] - 5)
    with pytest.raises(storage.RunExistsError):
        collect.write_snapshot(type(ex)(ex.kind, changed, ex.raw, ex.endpoint, ex.source),
                               day, as_of, tmp_path)


def test_simulated_prices_are_real_juice_that_moves_with_the_line():
    odds = SimulatedSource(seed=7).table("odds", "2025-26")
    prices = odds[PRICES]
    assert prices.notna().all().all()
    assert prices.min().min() >= -115 and prices.max().max() <= -105
    assert not violations(odds.reset_index(drop=True), "odds")
    # -110/-110 is the centre; both sides of a line split one margin
    from tipoff_core.domain.betting import american_to_prob
    both = american_to_prob(odds["home_spread_price"]) + american_to_prob(odds["away_spread_price"])
    assert abs(float(np.median(both)) - 2 * 110 / 210) < 0.002
    # they move through the day: most games' prices differ between the open and the close
    first = odds.groupby(["game_id", "bookmaker"]).first()
    last = odds.groupby(["game_id", "bookmaker"]).last()
    assert (first["home_spread_price"] != last["home_spread_price"]).mean() > 0.5


def test_historical_errors_never_carry_the_key(hx, caplog):
    caplog.set_level(logging.DEBUG)
    body = json.dumps({"message": f"usage quota has been reached for key {KEY}"}).encode()
    router = historical_routes(hx)
    router.routes["/v4/historical/sports/basketball_nba/events"] = (401, body)
    with pytest.raises(SourceError) as err:
        historical_source(router).fetch("odds", DAY, SNAP)
    e = err.value
    assert e.endpoint == EP_HISTORICAL_EVENTS and "HTTP 401" in str(e)
    assert "apiKey=REDACTED" in str(e) and KEY not in str(e) and KEY.encode() not in e.raw
    assert KEY not in caplog.text


def test_the_pipeline_source_books_credits_under_its_data_root(tmp_path, monkeypatch):
    from resources.sources import make_source as make_pipeline_source
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TIPOFF_ODDS_DAILY_CREDIT_BUDGET", "42")
    src = make_pipeline_source("live")
    meter = src.odds_meter
    assert meter.purpose == PIPELINE and meter.daily_budget == 42
    assert meter.ledger.path == tmp_path.resolve() / "ops" / "odds_credits.jsonl"
    monkeypatch.setenv("TIPOFF_DATA_DIR", str(tmp_path / "other"))   # read at each call
    assert meter.ledger.path.parent.parent == (tmp_path / "other").resolve()
