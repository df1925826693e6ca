"""The `live` source, parsed from recorded responses injected through the HTTP transport hook.

No test touches the network: every LiveSource here gets an HttpClient whose transport is a
router over the recorded files in shared/fixtures (tests skip when that folder is absent).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math

import pandas as pd
import pytest
import requests

from tipoff_core.schemas import TABLES
from resources.sources.base import Extract, Source, SourceError
from resources.sources.http import HttpClient, redact, redact_text
from resources.sources.live import (
    EP_BOX, EP_GAMELOG, EP_INJURIES, EP_ODDS, EP_ROSTER, EP_SCHEDULE, EP_SCOREBOARD, LiveSource,
    normalize_name, parse_injury_report_rows, parse_minutes, report_name_to_first_last,
    surrogate_player_id,
)

SCHEDULE_FILE = "nba_cdn/scheduleLeagueV2_2025-26_TRIMMED_first2dates.json"
SCOREBOARD_FILE = "nba_cdn/todaysScoreboard_00_2023-04-20.json"
BOX_FILE = "stats_nba_com/boxscoretraditionalv3_0022400001.json"
ROSTER_FILE = "stats_nba_com/commonteamroster_BOS_2025-26.json"
GAMELOG_FILE = "stats_nba_com/leaguegamelog_T_2025-26_TRIMMED12rows.json"
ODDS_FILE = "odds_api_v4/basketball_nba_odds_us_h2h_spreads_totals_american_TRIMMED.json"
INJURY_FILE = "nba_official_injury_report/parsed_rows_2026-01-13_0130PM_SAMPLE.json"

KEY = "sekrit0ddsKEY0123456789abcdef"
AS_OF = pd.Timestamp("2026-01-20T12:00:00Z")

BOS, ATL, PHI, BKN, NYK, LAL, PHX, NOP = (1610612738, 1610612737, 1610612755, 1610612751,
                                          1610612752, 1610612747, 1610612756, 1610612740)


# ------------------------------------------------------------------------------------ helpers
@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any real HTTP request from this module is a test bug."""
    def refuse(*args, **kwargs):
        raise AssertionError("test tried to use the network")
    monkeypatch.setattr(requests.Session, "send", refuse)


class FakeClock:
    """Monotonic clock that only moves when the code under test sleeps (or the test says so)."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Router:
    """Transport hook: (url, params) -> (status, bytes), chosen by URL substring."""

    def __init__(self, routes: dict[str, object] | None = None):
        self.routes = dict(routes or {})
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, url: str, params: dict) -> tuple[int, bytes]:
        self.calls.append((url, dict(params)))
        for fragment, answer in self.routes.items():
            if fragment in url:
                if callable(answer):
                    answer = answer(url, params)
                if isinstance(answer, BaseException):
                    raise answer
                if isinstance(answer, bytes):
                    return 200, answer
                return answer
        raise AssertionError(f"unexpected request {url}")

    def urls(self, fragment: str) -> list[dict]:
        return [p for u, p in self.calls if fragment in u]


# The source's wall clock in these tests unless one is given: every as-of is later, so odds come
# from the current-odds endpoint (the historical route has its own tests, test_odds_history.py).
BEFORE_EVERY_AS_OF = pd.Timestamp("2000-01-01T00:00:00Z")


def make_source(routes, *, key: str | None = KEY, provider=None, clock=None,
                now=lambda: BEFORE_EVERY_AS_OF, source_kw: dict | None = None, **http_kw):
    router = routes if isinstance(routes, Router) else Router(routes)
    clock = clock or FakeClock()
    http = HttpClient(transport=router, sleep=clock.sleep, clock=clock,
                      min_interval=http_kw.pop("min_interval", 0.0), **http_kw)
    source = LiveSource(http=http, odds_api_key=key, injury_rows_provider=provider, now=now,
                        **(source_kw or {}))
    return source, router, clock


def dumps(obj) -> bytes:
    return json.dumps(obj).encode()


@pytest.fixture(scope="module")
def fx(fixtures_dir):
    """Recorded responses: name -> exact bytes."""
    names = dict(schedule=SCHEDULE_FILE, scoreboard=SCOREBOARD_FILE, box=BOX_FILE,
                 roster=ROSTER_FILE, gamelog=GAMELOG_FILE, odds=ODDS_FILE, injuries=INJURY_FILE)
    return {k: (fixtures_dir / v).read_bytes() for k, v in names.items()}


def load(fx, name):
    return json.loads(fx[name])


def schedule_with_game(fx, *, game_id, date, tip_utc, home, away, home_tri="PHI", away_tri="BKN"):
    """The recorded schedule with its first game moved to another date/teams."""
    s = load(fx, "schedule")
    g = s["leagueSchedule"]["gameDates"][0]["games"][0]
    g.update(gameId=game_id, gameDateEst=f"{date}T00:00:00Z", gameDateTimeUTC=tip_utc)
    g["homeTeam"].update(teamId=home, teamTricode=home_tri)
    g["awayTeam"].update(teamId=away, teamTricode=away_tri)
    return dumps(s)


def empty_gamelog(fx) -> bytes:
    g = load(fx, "gamelog")
    g["resultSets"][0]["rowSet"] = []
    return dumps(g)


def gamelog_router(fx) -> Router:
    def answer(url, params):
        return 200, fx["gamelog"] if params["SeasonType"] == "Regular Season" else empty_gamelog(fx)
    return Router({"todaysScoreboard": fx["scoreboard"], "leaguegamelog": answer})


def assert_schema(ex: Extract, kind: str):
    schema, _ = TABLES[kind]
    assert list(ex.table.columns) == list(schema)
    assert ex.kind == kind and ex.source == "live"
    assert isinstance(ex.raw, bytes)


# ------------------------------------------------------------------------------- schedule
def test_live_source_satisfies_protocol():
    src = LiveSource(http=HttpClient(transport=Router()))
    assert isinstance(src, Source) and src.name == "live"


def test_schedule_from_recorded_cdn(fx):
    src, router, _ = make_source({"scheduleLeagueV2": fx["schedule"]})
    as_of = pd.Timestamp("2025-10-01T15:00:00Z")
    ex = src.fetch("schedule", dt.date(2025, 10, 3), as_of)
    assert_schema(ex, "schedule")
    assert ex.endpoint == EP_SCHEDULE and ex.raw == fx["schedule"]  # exact bytes
    t = ex.table.set_index("game_id")
    assert sorted(t.index) == ["0012500001", "0012500009"]
    lal = t.loc["0012500001"]
    assert (lal.home_team_id, lal.away_team_id) == (LAL, PHX)
    assert (lal.home_team, lal.away_team) == ("LAL", "PHX")
    assert lal.tip_ts == pd.Timestamp("2025-10-04T02:00:00Z")  # 22:00 ET on Oct 3
    assert lal.game_date == "2025-10-03" and lal.season == "2025-26"
    assert lal.game_type == "preseason" and lal.snapshot_ts == as_of
    mel = t.loc["0012500009"]  # Melbourne United: a non-NBA preseason opponent
    assert (mel.home_team_id, mel.away_team_id, mel.away_team) == (NOP, 15016, "MEL")
    assert mel.tip_ts == pd.Timestamp("2025-10-03T09:30:00Z")
    assert router.calls[0][0] == "https://cdn.nba.com/static/json/staticData/scheduleLeagueV2.json"

    one = src.fetch("schedule", dt.date(2025, 10, 2), as_of).table
    assert list(one.game_id) == ["0012500008"]
    assert (one.home_team_id[0], one.away_team_id[0]) == (NYK, PHI)


def test_schedule_empty_slate(fx):
    src, _, _ = make_source({"scheduleLeagueV2": fx["schedule"]})
    ex = src.fetch("schedule", dt.date(2025, 10, 5), AS_OF)
    assert_schema(ex, "schedule")
    assert ex.table.empty and ex.notes["games"] == 0


def test_game_type_from_id_prefix(fx):
    src, _, _ = make_source({"scheduleLeagueV2": schedule_with_game(
        fx, game_id="0042400101", date="2025-04-19", tip_utc="2025-04-19T17:00:00Z",
        home=PHI, away=BKN)})
    t = src.fetch("schedule", dt.date(2025, 4, 19), AS_OF).table
    assert list(t.game_type) == ["playoff"]


# -------------------------------------------------------------------------------- results
def test_results_from_scoreboard_only_final_games(fx):
    src, _, _ = make_source({"todaysScoreboard": fx["scoreboard"]})
    as_of = pd.Timestamp("2023-04-21T03:00:00Z")
    ex = src.fetch("results", dt.date(2023, 4, 20), as_of)
    assert_schema(ex, "results")
    assert ex.endpoint == EP_SCOREBOARD and ex.raw == fx["scoreboard"]
    assert ex.notes["games_not_final"] == 2  # SAC@GSW and PHX@LAC were live (gameStatus 2)
    assert len(ex.table) == 1
    r = ex.table.iloc[0]
    assert r.game_id == "0042200123" and r.season == "2022-23" and r.game_date == "2023-04-20"
    assert (r.home_team_id, r.away_team_id, r.home_pts, r.away_pts) == (BKN, PHI, 97, 102)
    assert [r.home_q1, r.home_q2, r.home_q3, r.home_q4] == [28, 19, 35, 15]
    assert [r.away_q1, r.away_q2, r.away_q3, r.away_q4] == [32, 26, 18, 26]
    assert (r.home_ot, r.away_ot, r.overtime_periods) == (0, 0, 0)
    assert r.final_ts == as_of and r.snapshot_ts == as_of  # the CDN publishes no end time


def test_results_scoreboard_overtime_periods(fx):
    sb = load(fx, "scoreboard")
    g = sb["scoreboard"]["games"][2]
    g["homeTeam"]["periods"].append({"period": 5, "periodType": "OVERTIME", "score": 9})
    g["awayTeam"]["periods"].append({"period": 5, "periodType": "OVERTIME", "score": 4})
    g["homeTeam"]["score"], g["awayTeam"]["score"] = 106, 106
    src, _, _ = make_source({"todaysScoreboard": dumps(sb)})
    r = src.fetch("results", dt.date(2023, 4, 20), AS_OF).table.iloc[0]
    assert (r.home_ot, r.away_ot, r.overtime_periods) == (9, 4, 1)


def test_results_fall_back_to_league_game_log_for_past_dates(fx):
    router = gamelog_router(fx)
    src, _, _ = make_source(router)
    ex = src.fetch("results", dt.date(2025, 10, 21), AS_OF)
    assert_schema(ex, "results")
    assert ex.endpoint == EP_GAMELOG and ex.notes["results_endpoint"] == EP_GAMELOG
    t = ex.table.set_index("game_id")
    assert sorted(t.index) == ["0022500001", "0022500002"]
    okc = t.loc["0022500001"]  # OKC vs. HOU: 290 team minutes = double overtime
    assert (okc.home_team_id, okc.away_team_id, okc.home_pts, okc.away_pts) == (
        1610612760, 1610612745, 125, 124)
    assert okc.overtime_periods == 2 and pd.isna(okc.home_q1) and pd.isna(okc.away_ot)
    lal = t.loc["0022500002"]  # LAL vs. GSW: 240 minutes
    assert (lal.home_team_id, lal.away_team_id, lal.home_pts, lal.away_pts) == (LAL, 1610612744,
                                                                                109, 119)
    assert lal.overtime_periods == 0 and lal.season == "2025-26"
    calls = router.urls("leaguegamelog")
    assert [c["SeasonType"] for c in calls] == ["Regular Season", "PlayIn", "Playoffs"]
    assert calls[0]["DateFrom"] == calls[0]["DateTo"] == "10/21/2025"
    assert calls[0]["PlayerOrTeam"] == "T" and calls[0]["Season"] == "2025-26"
    raw = json.loads(ex.raw)
    assert set(raw) == {f"{EP_GAMELOG}[{s}]" for s in ("Regular Season", "PlayIn", "Playoffs")}
    assert ex.raw == json.dumps(raw, sort_keys=True, ensure_ascii=False,
                                separators=(",", ":")).encode()  # deterministic


def test_league_game_log_unpaired_rows_are_dropped(fx):
    src, _, _ = make_source(gamelog_router(fx))
    ex = src.fetch("results", dt.date(2025, 10, 22), AS_OF)
    # the trimmed log holds both rows only for MIA @ ORL on Oct 22
    assert list(ex.table.game_id) == ["0022500081"]
    r = ex.table.iloc[0]
    assert (r.home_team_id, r.away_team_id, r.home_pts, r.away_pts) == (1610612753, 1610612748,
                                                                        125, 121)
    assert ex.notes["unpaired_game_log_games"] == 6


# ----------------------------------------------------------------------------- box scores
def scoreboard_for_box(fx) -> bytes:
    sb = load(fx, "scoreboard")
    sb["scoreboard"]["gameDate"] = "2024-11-12"
    sb["scoreboard"]["games"][2]["gameId"] = "0022400001"
    return dumps(sb)


def test_box_scores_from_recorded_boxscore(fx):
    router = Router({"todaysScoreboard": scoreboard_for_box(fx),
                     "boxscoretraditionalv3": fx["box"]})
    src, _, _ = make_source(router)
    ex = src.fetch("box_scores", dt.date(2024, 11, 12), AS_OF)
    assert_schema(ex, "box_scores")
    assert ex.endpoint == EP_BOX
    assert router.urls("boxscoretraditionalv3")[0]["GameID"] == "0022400001"
    t = ex.table
    assert len(t) == 19 and ex.notes["dnp_rows_dropped"] == 6  # DNP/DND rows are not kept
    assert set(t.team_id) == {BOS, ATL} and set(t.game_date) == {"2024-11-12"}
    brown = t[t.player_id == 1627759].iloc[0]
    assert brown.player_name == "Jaylen Brown" and brown.team_id == BOS
    assert brown.minutes == pytest.approx(35 + 56 / 60)
    assert (brown.pts, brown.fga, brown.fta, brown.oreb, brown.tov) == (37, 22, 10, 2, 6)
    assert bool(brown.starter) is True
    queta = t[t.player_id == 1629674].iloc[0]
    assert bool(queta.starter) is False and queta.minutes == pytest.approx(21 + 1 / 60)
    assert 1641809 not in set(t.player_id)  # Drew Peterson, DNP - Coach's Decision
    assert 1630249 not in set(t.player_id)  # Vit Krejci, DND - Injury/Illness
    assert t[t.team_id == BOS].pts.sum() == 116 and t[t.team_id == ATL].pts.sum() == 117
    assert t[t.starter].groupby("team_id").size().tolist() == [5, 5]
    raw = json.loads(ex.raw)
    assert set(raw) == {EP_SCOREBOARD, f"{EP_BOX}[0022400001]"}
    assert raw[f"{EP_BOX}[0022400001]"] == load(fx, "box")


def test_box_scores_no_final_games_is_empty(fx):
    sb = load(fx, "scoreboard")
    for g in sb["scoreboard"]["games"]:
        g["gameStatus"] = 2
    src, router, _ = make_source({"todaysScoreboard": dumps(sb)})
    ex = src.fetch("box_scores", dt.date(2023, 4, 20), AS_OF)
    assert_schema(ex, "box_scores")
    assert ex.table.empty and not router.urls("boxscoretraditionalv3")


@pytest.mark.parametrize("text, minutes", [
    ("PT34M12.00S", 34.2), ("34:12", 34.2), ("", 0.0), ("PT00M00.00S", 0.0), ("PT05M30S", 5.5),
    ("12", 12.0),
])
def test_parse_minutes(text, minutes):
    assert parse_minutes(text) == pytest.approx(minutes)


# -------------------------------------------------------------------------------- rosters
def test_rosters_for_teams_in_schedule(fx):
    sched = schedule_with_game(fx, game_id="0012500008", date="2025-10-02",
                               tip_utc="2025-10-02T16:00:00Z", home=BOS, away=15016,
                               home_tri="BOS", away_tri="MEL")
    router = Router({"scheduleLeagueV2": sched, "commonteamroster": fx["roster"]})
    src, _, _ = make_source(router)
    as_of = pd.Timestamp("2025-10-02T12:00:00Z")
    ex = src.fetch("rosters", dt.date(2025, 10, 2), as_of)
    assert_schema(ex, "rosters")
    assert ex.endpoint == EP_ROSTER
    assert router.urls("commonteamroster") == [{"LeagueID": "00", "Season": "2025-26",
                                                "TeamID": BOS}]
    assert ex.notes["non_nba_teams_skipped"] == 1  # Melbourne United has no stats roster
    t = ex.table
    assert len(t) == 16 and set(t.team) == {"BOS"} and set(t.team_id) == {BOS}
    tatum = t[t.player_id == 1628369].iloc[0]
    assert (tatum.player_name, tatum.position) == ("Jayson Tatum", "F-G")
    assert t[t.player_id == 202696].player_name.iloc[0] == "Nikola Vučević"
    assert (t.snapshot_ts == as_of).all()
    raw = json.loads(ex.raw)
    assert raw[f"{EP_ROSTER}[{BOS}]"] == load(fx, "roster")
    assert len(raw[f"{EP_SCHEDULE}[2025-10-02]"]["leagueSchedule"]["gameDates"]) == 1


def test_rosters_empty_slate_makes_no_roster_requests(fx):
    src, router, _ = make_source({"scheduleLeagueV2": fx["schedule"]})
    ex = src.fetch("rosters", dt.date(2025, 10, 5), AS_OF)
    assert_schema(ex, "rosters")
    assert ex.table.empty and not router.urls("commonteamroster")


def test_stats_requests_carry_browser_headers():
    h = HttpClient.headers_for("https://stats.nba.com/stats/commonteamroster")
    assert h["Referer"] == "https://www.nba.com/" and h["Origin"] == "https://www.nba.com"
    assert "Mozilla" in h["User-Agent"] and h["x-nba-stats-origin"] == "stats"
    assert "Mozilla" in HttpClient.headers_for("https://api.the-odds-api.com/v4")["User-Agent"]


# ----------------------------------------------------------------------------------- odds
ODDS_DATE = dt.date(2022, 11, 22)  # commence 2022-11-23T00:32Z = 19:32 in New York on Nov 22


def odds_routes(fx, odds=None, *, schedule: bytes | None = None):
    sched = schedule or schedule_with_game(
        fx, game_id="0022200258", date="2022-11-22", tip_utc="2022-11-23T00:30:00Z",
        home=PHI, away=BKN)
    return Router({"scheduleLeagueV2": sched, "the-odds-api.com": odds or fx["odds"]})


def test_odds_from_recorded_odds_api(fx):
    router = odds_routes(fx)
    src, _, _ = make_source(router)
    ex = src.fetch("odds", ODDS_DATE, pd.Timestamp("2022-11-23T02:00:00Z"))
    assert_schema(ex, "odds")
    assert ex.endpoint == EP_ODDS
    t = ex.table.set_index("bookmaker")
    assert len(t) == 9 and set(t.game_id) == {"0022200258"}
    fd = t.loc["fanduel"]
    assert (fd.home_ml, fd.away_ml, fd.home_spread, fd.total) == (110, -140, 2.5, 219.5)
    # spread prices: Philadelphia (home) -118 at +2.5, Brooklyn -110 at -2.5; total -115 / -113
    assert (fd.home_spread_price, fd.away_spread_price) == (-118, -110)
    assert (fd.over_price, fd.under_price) == (-115, -113)
    assert fd.snapshot_ts == pd.Timestamp("2022-11-23T01:05:10Z")  # bookmaker last_update
    dk = t.loc["draftkings"]
    assert (dk.home_ml, dk.away_ml, dk.home_spread, dk.total) == (105, -135, 1.5, 220.5)
    bf = t.loc["betfair"]  # h2h plus an exchange lay market, which is ignored
    assert (bf.home_ml, bf.away_ml) == (126, -147)
    assert math.isnan(bf.home_spread) and math.isnan(bf.total)
    assert bf[["home_spread_price", "away_spread_price", "over_price", "under_price"]].isna().all()
    assert ex.notes["odds_endpoint"] == "current" and ex.notes["credits"] == 3
    assert ex.notes["ignored_markets"] == ["h2h_lay"] and ex.notes["unmatched_events"] == 0
    (url, params), = [c for c in router.calls if "the-odds-api.com" in c[0]]
    assert url == "https://api.the-odds-api.com/v4/sports/basketball_nba/odds"
    assert params["apiKey"] == KEY and params["regions"] == "us"
    assert params["markets"] == "h2h,spreads,totals" and params["oddsFormat"] == "american"
    assert params["commenceTimeFrom"] == "2022-11-22T05:00:00Z"
    assert params["commenceTimeTo"] == "2022-11-23T05:00:00Z"
    raw = json.loads(ex.raw)
    assert raw[EP_ODDS] == load(fx, "odds")
    day = raw[f"{EP_SCHEDULE}[2022-11-22]"]["leagueSchedule"]["gameDates"]
    assert [g["gameId"] for d in day for g in d["games"]] == ["0022200258"]


def test_odds_as_of_excludes_later_bookmaker_updates(fx):
    src, _, _ = make_source(odds_routes(fx))
    as_of = pd.Timestamp("2022-11-23T01:05:10Z")
    ex = src.fetch("odds", ODDS_DATE, as_of)
    assert sorted(ex.table.bookmaker) == ["fanduel", "sugarhouse", "twinspires", "unibet_us"]
    assert (ex.table.snapshot_ts <= as_of).all()
    assert ex.notes["rows_after_as_of"] == 5


def test_odds_unmatched_events_are_dropped_and_counted(fx):
    other = schedule_with_game(fx, game_id="0022200259", date="2022-11-22",
                               tip_utc="2022-11-23T00:30:00Z", home=BKN, away=PHI)
    src, _, _ = make_source(odds_routes(fx, schedule=other))
    ex = src.fetch("odds", ODDS_DATE, AS_OF)
    assert ex.table.empty and ex.notes["unmatched_events"] == 1


def test_odds_empty_slate(fx):
    src, _, _ = make_source(odds_routes(fx, b"[]"))
    ex = src.fetch("odds", ODDS_DATE, AS_OF)
    assert_schema(ex, "odds")
    assert ex.table.empty and ex.notes["events"] == 0


def test_odds_key_from_environment(fx, monkeypatch):
    monkeypatch.setenv("ODDS_API_KEY", KEY)
    router = odds_routes(fx)
    src, _, _ = make_source(router, key=None)
    assert len(src.fetch("odds", ODDS_DATE, AS_OF).table) == 9
    assert router.urls("the-odds-api.com")[0]["apiKey"] == KEY


def test_odds_missing_key_names_env_var_and_makes_no_request(fx, monkeypatch):
    monkeypatch.delenv("ODDS_API_KEY", raising=False)
    router = odds_routes(fx)
    src, _, _ = make_source(router, key=None)
    with pytest.raises(SourceError, match="ODDS_API_KEY") as err:
        src.fetch("odds", ODDS_DATE, AS_OF)
    assert err.value.source == "live" and err.value.endpoint == EP_ODDS
    assert router.calls == []


def test_odds_key_never_leaks(fx, caplog):
    caplog.set_level(logging.DEBUG)
    # a successful fetch: key not in raw, notes or the source's repr
    src, _, _ = make_source(odds_routes(fx))
    ex = src.fetch("odds", ODDS_DATE, AS_OF)
    assert KEY.encode() not in ex.raw and KEY not in json.dumps(ex.notes) and KEY not in repr(src)
    # an HTTP error whose body echoes the key
    body = json.dumps({"message": f"quota exceeded for key {KEY}"}).encode()
    src, _, _ = make_source(odds_routes(fx, (401, body)))
    with pytest.raises(SourceError) as err:
        src.fetch("odds", ODDS_DATE, AS_OF)
    e = err.value
    assert "HTTP 401" in str(e) and "apiKey=REDACTED" in str(e)
    assert KEY not in str(e) and KEY not in e.endpoint and KEY.encode() not in e.raw
    # a connection error whose message embeds the full URL, key included (as urllib3's do)
    def refuse(url, params):
        return requests.ConnectionError(
            f"HTTPSConnectionPool(host='api.the-odds-api.com', port=443): Max retries exceeded "
            f"with url: /v4/sports/basketball_nba/odds?apiKey={params['apiKey']}&regions=us")
    src, _, _ = make_source(Router({"scheduleLeagueV2": fx["schedule"],
                                    "the-odds-api.com": refuse}))
    with pytest.raises(SourceError) as err:
        src.fetch("odds", ODDS_DATE, AS_OF)
    assert "connection error" in str(err.value) and KEY not in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert KEY not in caplog.text


def test_redact():
    url = redact("https://x.test/v4/odds?apiKey=abc123&regions=us",
                 {"api_key": "zz9", "access_token": "tok", "markets": "h2h,spreads"})
    assert "abc123" not in url and "zz9" not in url and "tok" not in url.replace("token", "")
    assert "apiKey=REDACTED" in url and "api_key=REDACTED" in url and "regions=us" in url
    assert "markets=h2h,spreads" in url
    assert redact_text("GET /odds?apiKey=abc&x=1 failed") == "GET /odds?apiKey=REDACTED&x=1 failed"
    assert redact_text("echo s3cr3t", {"s3cr3t"}) == "echo REDACTED"


# ------------------------------------------------------------------------------- injuries
INJURY_TS = pd.Timestamp("2026-01-13T18:30:00Z")  # the 01:30 PM ET report


def phx_roster(fx) -> bytes:
    r = load(fx, "roster")
    rs = r["resultSets"][0]
    hdr = rs["headers"]
    for row in rs["rowSet"]:
        row[hdr.index("TeamID")] = PHX
    goodwin = list(rs["rowSet"][0])
    goodwin[hdr.index("PLAYER")], goodwin[hdr.index("PLAYER_ID")] = "Jordan Goodwin", 1630692
    rs["rowSet"].append(goodwin)
    return dumps(r)


def test_injuries_from_parsed_report_rows(fx):
    rows = load(fx, "injuries")
    seen = []

    def provider(day, as_of):
        seen.append((day, as_of))
        return rows, INJURY_TS

    router = Router({"commonteamroster": phx_roster(fx)})
    src, _, _ = make_source(router, provider=provider)
    as_of = pd.Timestamp("2026-01-13T19:00:00Z")
    ex = src.fetch("injuries", dt.date(2026, 1, 13), as_of)
    assert_schema(ex, "injuries")
    assert ex.endpoint == EP_INJURIES and seen == [(dt.date(2026, 1, 13), as_of)]
    assert router.urls("commonteamroster") == [{"LeagueID": "00", "Season": "2025-26",
                                                "TeamID": PHX}]
    t = ex.table.set_index("player_name")
    assert sorted(t.index) == ["Jamaree Bouyea", "Jordan Goodwin"]
    goodwin = t.loc["Jordan Goodwin"]
    assert goodwin.player_id == 1630692  # from the roster
    assert (goodwin.status, goodwin.reason) == ("Available", "Injury/Illness - Jaw; Sprain (Mask)")
    bouyea = t.loc["Jamaree Bouyea"]  # not on the roster: stable negative surrogate
    assert bouyea.player_id == surrogate_player_id("Jamaree Bouyea") < 0
    assert (bouyea.status, bouyea.reason) == ("Out", "Concussion Protocol")
    assert set(t.team_id) == {PHX} and set(t.team) == {"PHX"}
    assert set(t.game_date) == {"2026-01-13"} and (t.snapshot_ts == INJURY_TS).all()
    assert ex.notes["surrogate_player_ids"] == 1
    raw = json.loads(ex.raw)
    assert raw[EP_INJURIES]["rows"] == rows and f"{EP_ROSTER}[{PHX}]" in raw

    # a report published after as_of is not knowable yet
    early = src.fetch("injuries", dt.date(2026, 1, 13), pd.Timestamp("2026-01-13T18:00:00Z"))
    assert early.table.empty
    # another date: nothing, and no roster requests
    router.calls.clear()
    assert src.fetch("injuries", dt.date(2026, 1, 14), as_of).table.empty
    assert router.calls == []


def test_injuries_default_to_the_official_report_and_fail_clearly_without_it():
    src = LiveSource(http=HttpClient(transport=Router()))  # the router knows no report URL
    with pytest.raises(SourceError, match="Injury-Report_") as err:
        src.fetch("injuries", dt.date(2026, 1, 13), AS_OF)
    assert err.value.source == "live" and err.value.endpoint == EP_INJURIES


def test_parse_injury_rows_normalizes_names_and_carries_cells_down(fx):
    rows = load(fx, "injuries")
    rows[1].update({"Game Date": "", "Game Time": "", "Matchup": "", "Team": ""})
    rows.append({**rows[0], "Player Name": "", "Current Status": "",
                 "Reason": "NOT YET SUBMITTED"})
    roster = pd.DataFrame({"team_id": [PHX], "player_id": [1630692],
                           "player_name": ["Jordan Goodwin"]})
    notes: dict = {}
    t = parse_injury_report_rows(rows, INJURY_TS, roster=roster, notes=notes)
    assert list(t.player_name) == ["Jamaree Bouyea", "Jordan Goodwin"]
    assert list(t.team_id) == [PHX, PHX] and list(t.player_id)[1] == 1630692
    assert notes["rows_without_player"] == 1


def test_name_helpers():
    assert report_name_to_first_last("Jackson Jr., Jaren") == "Jaren Jackson Jr."
    assert report_name_to_first_last("Bouyea, Jamaree") == "Jamaree Bouyea"
    assert normalize_name("Nikola Vučević") == normalize_name("Nikola Vucevic") == "nikola vucevic"
    assert normalize_name("P.J. Washington Jr.") == "pj washington"
    sid = surrogate_player_id("Jamaree Bouyea")
    assert sid == surrogate_player_id("jamaree  BOUYEA") and -(10**9) <= sid <= -1


@pytest.mark.parametrize("field, value, match", [
    ("Current Status", None, "rows\\[0\\].Current Status"),
    ("Game Date", "2026-01-13", "Game Date"),
    ("Team", "Phoenix Sunz", "not an NBA team"),
    ("Current Status", "Maybe", "not one of"),
    ("Player Name", 7, "expected str"),
])
def test_parse_injury_rows_bad_input(fx, field, value, match):
    rows = load(fx, "injuries")
    if value is None:
        del rows[0][field]
    else:
        rows[0][field] = value
    with pytest.raises(SourceError, match=match) as err:
        parse_injury_report_rows(rows, INJURY_TS)
    assert err.value.source == "live" and err.value.endpoint == EP_INJURIES
    assert err.value.field == f"rows[0].{field}" and err.value.raw


# ---------------------------------------------------------------------- HTTP: retries, limits
def test_retries_with_exponential_backoff_then_success():
    answers = iter([(500, b"oops"), (429, b"slow down"), (200, b'{"ok": true}')])
    clock = FakeClock()
    http = HttpClient(transport=lambda u, p: next(answers), sleep=clock.sleep, clock=clock,
                      min_interval=0)
    assert http.get_json("https://cdn.nba.com/x.json")[0] == {"ok": True}
    assert clock.sleeps == [1.0, 2.0]


def test_http_500_after_retries_raises_with_status_and_body():
    calls = []

    def transport(url, params):
        calls.append(url)
        return 500, b"<html>Internal Server Error</html>"

    clock = FakeClock()
    http = HttpClient(transport=transport, sleep=clock.sleep, clock=clock, min_interval=0,
                      backoff=0.5)
    with pytest.raises(SourceError, match="HTTP 500 after 3 attempt") as err:
        http.get("https://stats.nba.com/stats/x", endpoint="stats.x")
    assert len(calls) == 3 and clock.sleeps == [0.5, 1.0]
    assert err.value.endpoint == "stats.x"
    assert err.value.raw == b"<html>Internal Server Error</html>"


def test_client_errors_are_not_retried():
    calls = []
    http = HttpClient(transport=lambda u, p: calls.append(u) or (404, b"nope"), min_interval=0,
                      sleep=lambda s: pytest.fail("must not sleep"))
    with pytest.raises(SourceError, match="HTTP 404"):
        http.get("https://cdn.nba.com/missing.json")
    assert len(calls) == 1


@pytest.mark.parametrize("exc", [requests.Timeout("read timed out"), TimeoutError("timed out")])
def test_timeouts_are_retried_then_raised(exc):
    def transport(url, params):
        raise exc

    clock = FakeClock()
    http = HttpClient(transport=transport, sleep=clock.sleep, clock=clock, min_interval=0,
                      timeout=2.5)
    with pytest.raises(SourceError, match="timeout after 2.5s") as err:
        http.get("https://cdn.nba.com/x.json", endpoint="cdn.x")
    assert clock.sleeps == [1.0, 2.0] and err.value.source == "live"


def test_connection_error_is_retried():
    answers = iter([requests.ConnectionError("reset"), (200, b"[]")])

    def transport(url, params):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    clock = FakeClock()
    http = HttpClient(transport=transport, sleep=clock.sleep, clock=clock, min_interval=0)
    assert http.get("https://cdn.nba.com/x.json") == b"[]" and clock.sleeps == [1.0]


def test_rate_limit_per_host():
    clock = FakeClock()
    http = HttpClient(transport=lambda u, p: (200, b"{}"), sleep=clock.sleep, clock=clock)
    assert http.min_interval == 1.0 and http.timeout == 10.0 and http.max_attempts == 3
    http.get("https://stats.nba.com/stats/a")
    assert clock.sleeps == []
    http.get("https://stats.nba.com/stats/b")  # same host, no time passed: wait a full second
    assert clock.sleeps == [1.0]
    http.get("https://cdn.nba.com/c.json")  # another host: no wait
    assert clock.sleeps == [1.0]
    clock.now += 0.4
    http.get("https://stats.nba.com/stats/d")
    assert clock.sleeps == [1.0, pytest.approx(0.6)]
    clock.now += 5
    http.get("https://stats.nba.com/stats/e")
    assert len(clock.sleeps) == 2


# ---------------------------------------------------------------------------- bad payloads
def test_schedule_missing_field_names_path(fx):
    s = load(fx, "schedule")
    del s["leagueSchedule"]["gameDates"][1]["games"][1]["homeTeam"]["teamId"]
    body = dumps(s)
    src, _, _ = make_source({"scheduleLeagueV2": body})
    with pytest.raises(SourceError, match="is missing") as err:
        src.fetch("schedule", dt.date(2025, 10, 3), AS_OF)
    e = err.value
    assert (e.source, e.endpoint) == ("live", EP_SCHEDULE)
    assert e.field == "leagueSchedule.gameDates[1].games[1].homeTeam.teamId"
    assert e.field in str(e) and e.raw == body


def test_schedule_mistyped_field_names_path(fx):
    s = load(fx, "schedule")
    s["leagueSchedule"]["gameDates"][1]["games"][0]["homeTeam"]["teamId"] = "LAL"
    src, _, _ = make_source({"scheduleLeagueV2": dumps(s)})
    with pytest.raises(SourceError, match="expected int") as err:
        src.fetch("schedule", dt.date(2025, 10, 3), AS_OF)
    assert err.value.field == "leagueSchedule.gameDates[1].games[0].homeTeam.teamId"


def test_schedule_bad_timestamp(fx):
    s = load(fx, "schedule")
    s["leagueSchedule"]["gameDates"][0]["games"][0]["gameDateTimeUTC"] = "soon"
    src, _, _ = make_source({"scheduleLeagueV2": dumps(s)})
    with pytest.raises(SourceError, match="not a timestamp") as err:
        src.fetch("schedule", dt.date(2025, 10, 2), AS_OF)
    assert err.value.field == "leagueSchedule.gameDates[0].games[0].gameDateTimeUTC"


def test_scoreboard_mistyped_score(fx):
    sb = load(fx, "scoreboard")
    sb["scoreboard"]["games"][2]["awayTeam"]["score"] = "102"
    src, _, _ = make_source({"todaysScoreboard": dumps(sb)})
    with pytest.raises(SourceError) as err:
        src.fetch("results", dt.date(2023, 4, 20), AS_OF)
    assert err.value.endpoint == EP_SCOREBOARD
    assert err.value.field == "scoreboard.games[2].awayTeam.score"


def test_box_score_mistyped_and_missing_fields(fx):
    b = load(fx, "box")
    b["boxScoreTraditional"]["homeTeam"]["players"][0]["statistics"]["minutes"] = 35
    src, _, _ = make_source({"todaysScoreboard": scoreboard_for_box(fx),
                             "boxscoretraditionalv3": dumps(b)})
    with pytest.raises(SourceError, match="expected str") as err:
        src.fetch("box_scores", dt.date(2024, 11, 12), AS_OF)
    assert err.value.endpoint == EP_BOX
    assert err.value.field == "boxScoreTraditional.homeTeam.players[0].statistics.minutes"

    b = load(fx, "box")
    del b["boxScoreTraditional"]["awayTeam"]["players"][3]["statistics"]["turnovers"]
    src, _, _ = make_source({"todaysScoreboard": scoreboard_for_box(fx),
                             "boxscoretraditionalv3": dumps(b)})
    with pytest.raises(SourceError, match="is missing") as err:
        src.fetch("box_scores", dt.date(2024, 11, 12), AS_OF)
    assert err.value.field == "boxScoreTraditional.awayTeam.players[3].statistics.turnovers"


def test_game_log_missing_column_and_mistyped_cell(fx):
    g = load(fx, "gamelog")
    rs = g["resultSets"][0]
    i = rs["headers"].index("PTS")
    rs["rowSet"][3][i] = "125"
    src, _, _ = make_source({"todaysScoreboard": fx["scoreboard"], "leaguegamelog": dumps(g)})
    with pytest.raises(SourceError, match="expected int") as err:
        src.fetch("results", dt.date(2025, 10, 21), AS_OF)
    assert err.value.endpoint == EP_GAMELOG and err.value.field == "resultSets[0].rowSet[3].PTS"

    del rs["headers"][i]
    for row in rs["rowSet"]:
        del row[i]
    src, _, _ = make_source({"todaysScoreboard": fx["scoreboard"], "leaguegamelog": dumps(g)})
    with pytest.raises(SourceError, match="lacks column 'PTS'"):
        src.fetch("results", dt.date(2025, 10, 21), AS_OF)


def test_roster_for_wrong_team_is_rejected(fx):
    sched = schedule_with_game(fx, game_id="0012500008", date="2025-10-02",
                               tip_utc="2025-10-02T16:00:00Z", home=NYK, away=15016)
    src, _, _ = make_source({"scheduleLeagueV2": sched, "commonteamroster": fx["roster"]})
    with pytest.raises(SourceError, match="requested team") as err:
        src.fetch("rosters", dt.date(2025, 10, 2), AS_OF)
    assert err.value.endpoint == EP_ROSTER and err.value.field == "resultSets[0].rowSet[0].TeamID"


def test_odds_mistyped_price(fx):
    o = load(fx, "odds")
    o[0]["bookmakers"][0]["markets"][0]["outcomes"][0]["price"] = "-140"
    src, _, _ = make_source(odds_routes(fx, dumps(o)))
    with pytest.raises(SourceError, match="expected num") as err:
        src.fetch("odds", ODDS_DATE, AS_OF)
    assert err.value.endpoint == EP_ODDS
    assert err.value.field == "[0].bookmakers[0].markets[0].outcomes[0].price"
    assert KEY.encode() not in err.value.raw


def test_invalid_json_is_a_source_error(fx):
    src, _, _ = make_source({"scheduleLeagueV2": b"<html>Access Denied</html>"})
    with pytest.raises(SourceError, match="invalid JSON") as err:
        src.fetch("schedule", dt.date(2025, 10, 3), AS_OF)
    assert err.value.endpoint == EP_SCHEDULE and err.value.raw == b"<html>Access Denied</html>"


def test_http_500_and_timeout_through_the_source(fx):
    src, router, clock = make_source({"todaysScoreboard": (500, b"down")})
    with pytest.raises(SourceError, match="HTTP 500") as err:
        src.fetch("results", dt.date(2023, 4, 20), AS_OF)
    assert err.value.endpoint == EP_SCOREBOARD and len(router.calls) == 3
    assert clock.sleeps == [1.0, 2.0]

    src, router, _ = make_source({"commonteamroster": requests.ReadTimeout("read timed out"),
                                  "scheduleLeagueV2": fx["schedule"]})
    with pytest.raises(SourceError, match="timeout") as err:
        src.fetch("rosters", dt.date(2025, 10, 2), AS_OF)
    assert err.value.endpoint == EP_ROSTER and len(router.urls("commonteamroster")) == 3


def test_empty_scoreboard_is_an_empty_table(fx):
    sb = load(fx, "scoreboard")
    sb["scoreboard"]["games"] = []
    src, _, _ = make_source({"todaysScoreboard": dumps(sb)})
    ex = src.fetch("results", dt.date(2023, 4, 20), AS_OF)
    assert_schema(ex, "results")
    assert ex.table.empty


def test_rate_limit_applies_across_a_multi_request_fetch(fx):
    """With the default 1 s interval, the three game-log calls to stats.nba.com are spaced."""
    clock = FakeClock()
    src, _, _ = make_source(gamelog_router(fx), clock=clock, min_interval=1.0)
    src.fetch("results", dt.date(2025, 10, 21), AS_OF)
    assert clock.sleeps == [1.0, 1.0]  # cdn once, then stats three times


def test_unknown_kind():
    with pytest.raises(ValueError):
        LiveSource(http=HttpClient(transport=Router())).fetch("weather", dt.date.today(), AS_OF)



def test_schedule_payload_is_reused_within_ttl(fx):
    src, router, clock = make_source({"scheduleLeagueV2": fx["schedule"]})
    src.fetch("schedule", dt.date(2025, 10, 3), AS_OF)
    src.fetch("schedule", dt.date(2025, 10, 2), AS_OF)
    assert len(router.urls("scheduleLeagueV2")) == 1
    clock.now += src.schedule_ttl
    src.fetch("schedule", dt.date(2025, 10, 2), AS_OF)
    assert len(router.urls("scheduleLeagueV2")) == 2


def test_final_ts_estimate_policy_is_stable_and_bounded_by_as_of(fx):
    src, _, _ = make_source({"todaysScoreboard": fx["scoreboard"]})
    src.final_ts_policy = "estimate"
    late = pd.Timestamp("2023-04-22T12:00:00Z")
    r = src.fetch("results", dt.date(2023, 4, 20), late).table.iloc[0]
    # tip 23:30Z + 2h30 (timeutil.GAME_DURATION), no overtime
    assert r.final_ts == r.snapshot_ts == pd.Timestamp("2023-04-21T02:00:00Z")
    early = pd.Timestamp("2023-04-21T01:45:00Z")  # seen final before the estimate: clamp
    assert src.fetch("results", dt.date(2023, 4, 20), early).table.final_ts[0] == early

    src, _, _ = make_source(gamelog_router(fx))
    src.final_ts_policy = "estimate"
    t = src.fetch("results", dt.date(2025, 10, 21), AS_OF).table
    assert set(t.final_ts) == {pd.Timestamp("2025-10-22T07:00:00Z")}  # 03:00 ET next day
    with pytest.raises(ValueError):
        LiveSource(http=HttpClient(transport=Router()), final_ts_policy="later")


@pytest.mark.parametrize("env, kind, fragment", [
    ("TIPOFF_NBA_CDN_URL", "schedule", "/static/json/staticData/scheduleLeagueV2.json"),
    ("TIPOFF_ODDS_API_URL", "odds", "/v4/sports/basketball_nba/odds"),
])
def test_base_urls_follow_the_environment(fx, monkeypatch, env, kind, fragment):
    """Every request goes to the overriding base URL (a mirror, or recorded responses served
    locally), with the endpoint's own path kept."""
    monkeypatch.setenv(env, "http://mirror.local:8123/")
    base = odds_routes(fx)
    router = Router({"scheduleLeagueV2": base.routes["scheduleLeagueV2"],
                     "basketball_nba/odds": fx["odds"]})
    src, _, _ = make_source(router)
    src.fetch(kind, ODDS_DATE, AS_OF)
    urls = [u for u, _ in router.calls]
    assert f"http://mirror.local:8123{fragment}" in urls
    if env == "TIPOFF_ODDS_API_URL":
        assert not any("the-odds-api.com" in u for u in urls)


def test_stats_base_url_follows_the_environment(monkeypatch):
    from resources.sources.live import stats_url
    monkeypatch.delenv("TIPOFF_NBA_STATS_URL", raising=False)
    assert stats_url("commonteamroster") == "https://stats.nba.com/stats/commonteamroster"
    monkeypatch.setenv("TIPOFF_NBA_STATS_URL", "http://127.0.0.1:9/")
    assert stats_url("commonteamroster") == "http://127.0.0.1:9/stats/commonteamroster"
