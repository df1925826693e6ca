"""The official injury report PDF: names, finding the newest report at an as-of, parsing, the
`tipoff injuries parse` command and the live source's default injury provider.

The real reports are in shared/fixtures (tests that need them skip when it is absent); the
small PDFs some tests need (a report stamped at a given time, a page without a table) are
written here by hand.  No test touches the network.
"""
from __future__ import annotations

import collections
import datetime as dt
import io
import json

import pandas as pd
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_assets import cli
from resources.sources.base import SourceError
from resources.sources.http import HttpClient
from resources.sources.injury_report import (
    BASE_URL_ENV, InjuryReportError, InjuryReportNotFound, candidate_times, find_latest_report,
    http_getter, official_report_provider, parse_report, report_table, report_timestamp,
    report_url,
)
from resources.sources.live import EP_INJURIES, LiveSource, parse_injury_report_rows
from tipoff_core.schemas import NOT_YET_SUBMITTED, STATUSES, TABLES, TEAM_LEVEL_PLAYER_ID
from tipoff_core.timeutil import LEAGUE_TZ

REPORT = "nba_official_injury_report/Injury-Report_2024-01-04_12_30PM.pdf"
DAMAGED = "nba_official_injury_report/DAMAGED_Injury-Report_2025-03-15.pdf"
ROSTER_FILE = "stats_nba_com/commonteamroster_BOS_2025-26.json"
REPORT_TS = pd.Timestamp("2024-01-04 12:30", tz=LEAGUE_TZ).tz_convert("UTC")
SAS, DEN, GSW = 1610612759, 1610612743, 1610612744


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=LEAGUE_TZ)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("test tried to use the network")
    monkeypatch.setattr(requests.Session, "send", refuse)


@pytest.fixture(scope="module")
def report_pdf(fixtures_dir) -> bytes:
    return (fixtures_dir / REPORT).read_bytes()


@pytest.fixture(scope="module")
def parsed(report_pdf):
    return parse_report(report_pdf)


# ------------------------------------------------------------------ hand-made PDFs
def make_pdf(items: list[tuple[float, float, str]], size: float = 10.0) -> bytes:
    """A one-page landscape PDF with Helvetica text at (x, y-from-top) positions."""
    def esc(text):
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    ops = " ".join(f"BT /F1 {size:g} Tf {x:g} {595 - y:g} Td ({esc(t)}) Tj ET" for x, y, t in items)
    content = ops.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % o for o in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


HEADER = [(23, 110, "Game Date"), (120, 110, "Game Time"), (200, 110, "Matchup"),
          (264, 110, "Team"), (425, 110, "Player Name"), (585, 110, "Current Status"),
          (666, 110, "Reason")]


def title(ts: pd.Timestamp) -> tuple[float, float, str]:
    t = ts.tz_convert(LEAGUE_TZ)
    clock = f"{t.hour % 12 or 12:02d}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"
    return (290, 60, f"Injury Report: {t:%m/%d/%y} {clock}")


def stamped_pdf(ts: pd.Timestamp) -> bytes:
    """A minimal report stamped `ts`: one team not yet submitted."""
    d = ts.tz_convert(LEAGUE_TZ)
    return make_pdf([title(ts), *HEADER, (24, 130, f"{d:%m/%d/%Y}"), (120, 130, "07:30 (ET)"),
                     (200, 130, "MIL@SAS"), (265, 130, "Milwaukee Bucks"),
                     (667, 130, "NOT YET SUBMITTED"), (398, 540, "Page 1 of 1")])


# ------------------------------------------------------------------ parsing the real report
def test_fixture_report_timestamp_is_new_york_time(parsed, report_pdf):
    report_ts, _ = parsed
    assert report_ts == REPORT_TS == pd.Timestamp("2024-01-04T17:30:00Z")
    assert report_timestamp(report_pdf) == REPORT_TS


def test_fixture_player_rows_and_statuses(parsed):
    _, rows = parsed
    players = [r for r in rows if r["Player Name"]]
    assert len(players) == 14
    assert collections.Counter(r["Current Status"] for r in players) == {
        "Out": 10, "Questionable": 2, "Doubtful": 1, "Probable": 1}
    by_name = {r["Player Name"]: r for r in players}
    # the reason printed over two lines, around the row's own line, is joined
    assert by_name["McDermott, Doug"]["Reason"] == "Injury/Illness - Right Forearm; Contusion"
    assert by_name["McDermott, Doug"]["Current Status"] == "Out"
    assert by_name["Barlow, Dominick"] == {
        "Game Date": "01/04/2024", "Game Time": "07:30 (ET)", "Matchup": "MIL@SAS",
        "Team": "San Antonio Spurs", "Player Name": "Barlow, Dominick",
        "Current Status": "Questionable", "Reason": "G League - Two-Way"}
    # names as printed ("Last, First", suffixes kept); cells carried down per block
    assert {"Duke Jr., David", "Payton II, Gary", "Green, Draymond"} <= set(by_name)
    assert by_name["Payton II, Gary"]["Team"] == "Golden State Warriors"
    assert by_name["Jackson, Reggie"]["Matchup"] == "DEN@GSW"
    assert by_name["Jackson, Reggie"]["Game Time"] == "10:00 (ET)"
    assert all(r["Reason"] for r in players)


def test_fixture_teams_not_yet_submitted_are_team_rows(parsed):
    _, rows = parsed
    teams = [r for r in rows if not r["Player Name"]]
    assert teams and all(r["Current Status"] == "NOT YET SUBMITTED" and r["Reason"] == ""
                         for r in teams)
    assert len(teams) == 29 and len(rows) == 43
    names = {(r["Game Date"], r["Team"]) for r in teams}
    assert ("01/04/2024", "Milwaukee Bucks") in names
    # carried across page breaks: page 2 starts inside the 01/05 07:00 block, page 3 inside
    # the ORL@DEN block
    utah = next(r for r in teams if r["Team"] == "Utah Jazz")
    assert (utah["Game Date"], utah["Game Time"], utah["Matchup"]) == (
        "01/05/2024", "07:00 (ET)", "UTA@BOS")
    den = [r for r in teams if r["Team"] == "Denver Nuggets"]
    assert [(r["Game Date"], r["Matchup"], r["Game Time"]) for r in den] == [
        ("01/05/2024", "ORL@DEN", "09:00 (ET)")]
    assert all(r["Game Date"] and r["Game Time"] and r["Matchup"] and r["Team"] for r in rows)


def test_parsed_rows_normalize_into_the_injuries_table(parsed):
    report_ts, rows = parsed
    notes: dict = {}
    t = parse_injury_report_rows(rows, report_ts, notes=notes)
    assert list(t.columns) == list(TABLES["injuries"][0])
    assert set(t["status"]) <= set(STATUSES) and (t["snapshot_ts"] == REPORT_TS).all()
    team_rows = t[t["player_id"] == TEAM_LEVEL_PLAYER_ID]
    assert len(team_rows) == 29 and (team_rows["status"] == NOT_YET_SUBMITTED).all()
    assert (team_rows["player_name"] == "").all()
    assert ((t["player_id"] != TEAM_LEVEL_PLAYER_ID).sum()) == 14
    assert notes["rows_without_player"] == 0
    mil = team_rows[team_rows["game_date"] == "2024-01-04"]
    assert list(mil["team"]) == ["MIL"]
    assert "Doug McDermott" in set(t["player_name"])


def test_team_level_status_on_a_player_row_is_refused(parsed):
    report_ts, rows = parsed
    bad = [dict(rows[1], **{"Current Status": "NOT YET SUBMITTED"})]
    with pytest.raises(SourceError, match="team-level"):
        parse_injury_report_rows(bad, report_ts)


# ------------------------------------------------------------------ refusing bad PDFs
def test_damaged_pdf_raises_with_the_complete_bytes(fixtures_dir):
    data = (fixtures_dir / DAMAGED).read_bytes()
    with pytest.raises(InjuryReportError) as err:
        parse_report(data)
    e = err.value
    assert isinstance(e, SourceError)
    assert (e.source, e.endpoint) == ("live", "injury_report")
    assert e.raw == data
    assert "damaged" in str(e) and "decompress" in str(e) and "page 1" in str(e)
    with pytest.raises(InjuryReportError) as err:
        report_timestamp(data)
    assert err.value.raw == data


@pytest.mark.parametrize("cut", [0.2, 0.6, 0.95])
def test_truncated_pdf_is_refused(report_pdf, cut):
    data = report_pdf[:int(len(report_pdf) * cut)]
    with pytest.raises(InjuryReportError) as err:
        parse_report(data)
    assert err.value.raw == data


@pytest.mark.parametrize("data, match", [
    (b"", "not a PDF"),
    (b"<html><body>403 Forbidden</body></html>", "not a PDF"),
    (b"%PDF-1.4\ngarbage", "unreadable PDF"),
    (make_pdf([(100, 100, "Hello world")]), "does not start with 'Injury Report"),
    (make_pdf([]), "no text"),
    (make_pdf([title(REPORT_TS), (100, 200, "Some other document")]), "no column header"),
    (make_pdf([title(REPORT_TS), *HEADER, (398, 540, "Page 1 of 1")]), "no rows"),
    (make_pdf([title(REPORT_TS), *HEADER, (398, 540, "Page 1 of 2")]), "pages are missing"),
    (make_pdf([title(REPORT_TS), *HEADER, (24, 130, "01/04/2024"), (120, 130, "07:30 (ET)"),
               (200, 130, "MIL@SAS"), (265, 130, "Milwaukee Bucks"), (587, 130, "Out")]),
     "no player"),
    (make_pdf([title(REPORT_TS), *HEADER, (24, 130, "01/04/2024"), (120, 130, "07:30 (ET)"),
               (200, 130, "MIL@SAS"), (265, 130, "Milwaukee Bucks"), (426, 130, "Doe, John"),
               (587, 130, "Maybe")]), "not one of"),
    (make_pdf([title(REPORT_TS), *HEADER, (426, 130, "Doe, John"), (587, 130, "Out")]),
     "no row above"),
])
def test_unusable_pdfs_are_refused_never_empty(data, match):
    with pytest.raises(InjuryReportError, match=match) as err:
        parse_report(data)
    assert err.value.raw == data and err.value.endpoint == "injury_report"


def test_hand_made_report_parses():
    ts = ny("2026-01-13 13:30")
    report_ts, rows = parse_report(stamped_pdf(ts))
    assert report_ts == ts.tz_convert("UTC")
    assert rows == [{"Game Date": "01/13/2026", "Game Time": "07:30 (ET)", "Matchup": "MIL@SAS",
                     "Team": "Milwaukee Bucks", "Player Name": "",
                     "Current Status": "NOT YET SUBMITTED", "Reason": ""}]


# ------------------------------------------------------------------ names and candidates
def test_report_url_both_formats(monkeypatch):
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    base = "https://ak-static.cms.nba.com/referee/injury"
    assert report_url(ny("2026-01-13 13:30")) == f"{base}/Injury-Report_2026-01-13_01_30PM.pdf"
    assert report_url(ny("2025-12-23 00:15")) == f"{base}/Injury-Report_2025-12-23_12_15AM.pdf"
    assert report_url(ny("2024-01-04 12:30")) == f"{base}/Injury-Report_2024-01-04_12PM.pdf"
    assert report_url(ny("2025-12-22 23:45")) == f"{base}/Injury-Report_2025-12-22_11PM.pdf"
    assert report_url(ny("2024-01-04 00:00")) == f"{base}/Injury-Report_2024-01-04_12AM.pdf"
    # aware timestamps are converted to New York time; naive ones are New York time
    assert report_url(pd.Timestamp("2026-01-13T18:30:00Z")) == report_url(ny("2026-01-13 13:30"))
    assert report_url(pd.Timestamp("2026-01-13 13:30")) == report_url(ny("2026-01-13 13:30"))
    monkeypatch.setenv(BASE_URL_ENV, "http://mirror.local/injury/")
    assert report_url(ny("2026-01-13 13:30")) == \
        "http://mirror.local/injury/Injury-Report_2026-01-13_01_30PM.pdf"


def test_candidate_times_schedule_and_bounds():
    as_of = ny("2026-01-13 13:40").tz_convert("UTC")
    c = candidate_times(as_of)
    assert c[0] == ny("2026-01-13 13:30") and c[1] == ny("2026-01-13 13:15")
    assert len(c) == 144 and c[-1] == ny("2026-01-12 01:45")
    assert all(a > b for a, b in zip(c, c[1:])) and all(t <= as_of for t in c)
    # before the 2025-12-23 switch: hourly names
    old = candidate_times(ny("2024-01-04 12:40"))
    assert old[:2] == [ny("2024-01-04 12:00"), ny("2024-01-04 11:00")] and len(old) == 36
    # a window straddling the switch: quarter-hours after it, hours before it
    mixed = candidate_times(ny("2025-12-23 01:00"), lookback_hours=3)
    assert [t.strftime("%d %H:%M") for t in mixed] == [
        "23 01:00", "23 00:45", "23 00:30", "23 00:15", "23 00:00", "22 23:00", "22 22:00"]
    assert len({report_url(t) for t in mixed}) == len(mixed)


def test_candidate_times_probe_the_repeated_hour_once():
    # clocks fall back on 2025-11-02 (01:00-02:00 happens twice): one URL per name
    c = candidate_times(ny("2025-11-02 03:10"), lookback_hours=4)
    urls = [report_url(t) for t in c]
    assert len(urls) == len(set(urls)) and any("_01AM" in u for u in urls)


# ------------------------------------------------------------------ finding the newest report
class FakeCdn:
    """http_get over published reports {url: stamp}; records every URL asked."""

    def __init__(self, published: dict[str, pd.Timestamp], damaged: set[str] = frozenset()):
        self.published, self.damaged, self.asked = published, damaged, []

    def __call__(self, url: str) -> bytes | None:
        self.asked.append(url)
        if url in self.damaged:
            return b"%PDF-1.4\ngarbage"
        ts = self.published.get(url)
        return None if ts is None else _stamped(ts)


_PDFS: dict[pd.Timestamp, bytes] = {}


def _stamped(ts: pd.Timestamp) -> bytes:
    if ts not in _PDFS:
        _PDFS[ts] = stamped_pdf(ts)
    return _PDFS[ts]


def test_find_latest_report_picks_the_newest_at_or_before_as_of():
    times = [ny("2026-01-13 11:00"), ny("2026-01-13 12:15"), ny("2026-01-13 13:30")]
    cdn = FakeCdn({report_url(t): t for t in times})
    stamp, url, body = find_latest_report(cdn, ny("2026-01-13 13:29"))
    assert stamp == ny("2026-01-13 12:15") and url.endswith("_12_15PM.pdf")
    assert report_timestamp(body) == stamp
    assert cdn.asked[0].endswith("_01_15PM.pdf") and not any("_01_30PM" in u for u in cdn.asked)
    assert find_latest_report(cdn, ny("2026-01-13 13:30"))[0] == ny("2026-01-13 13:30")


def test_hourly_name_holding_a_later_report_is_skipped():
    # before 2025-12-23 the 12PM file holds the 12:30 report: not knowable at 12:10
    pub = {report_url(ny("2024-01-04 11:30")): ny("2024-01-04 11:30"),
           report_url(ny("2024-01-04 12:30")): ny("2024-01-04 12:30")}
    assert find_latest_report(FakeCdn(pub), ny("2024-01-04 12:10"))[0] == ny("2024-01-04 11:30")
    assert find_latest_report(FakeCdn(pub), ny("2024-01-04 12:45"))[0] == ny("2024-01-04 12:30")


def test_nothing_published_is_a_named_error_and_the_budget_is_bounded():
    cdn = FakeCdn({})
    with pytest.raises(InjuryReportNotFound, match="no injury report at or before") as err:
        find_latest_report(cdn, ny("2026-01-13 13:40"))
    assert isinstance(err.value, SourceError) and err.value.endpoint == "injury_report"
    assert len(cdn.asked) == len(set(cdn.asked)) == 144


def test_a_damaged_newest_report_fails_instead_of_falling_back():
    newest, older = ny("2026-01-13 13:30"), ny("2026-01-13 13:00")
    cdn = FakeCdn({report_url(older): older}, damaged={report_url(newest)})
    with pytest.raises(InjuryReportError) as err:
        find_latest_report(cdn, ny("2026-01-13 14:00"))
    assert err.value.raw == b"%PDF-1.4\ngarbage"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                             HealthCheck.function_scoped_fixture])
@given(new_names=st.booleans(),
       slots=st.sets(st.integers(0, 4 * 60), max_size=8),
       offset=st.integers(0, 60 * 60))
def test_find_latest_report_never_returns_a_report_after_as_of(new_names, slots, offset):
    """Published reports on a 60-hour span; the answer is the newest stamped at or before as_of
    (in the window), and no URL after as_of is ever asked."""
    start = ny("2026-01-12 00:00") if new_names else ny("2024-01-03 00:00")
    if new_names:  # quarter-hour names, stamped as named
        stamps = [start + pd.Timedelta(minutes=15 * s) for s in slots]
        nominal = {t: t for t in stamps}
    else:  # hourly names holding the hh:30 report
        stamps = sorted({start + pd.Timedelta(hours=s // 4, minutes=30) for s in slots})
        nominal = {t: t.floor("h") for t in stamps}
    cdn = FakeCdn({report_url(nominal[t]): t for t in stamps})
    as_of = (start + pd.Timedelta(minutes=offset)).tz_convert("UTC")
    window_start = as_of - pd.Timedelta(hours=36)
    expected = [t for t in stamps if t <= as_of and nominal[t] >= window_start]
    if expected:
        stamp, url, _ = find_latest_report(cdn, as_of)
        assert stamp == max(expected) and url == report_url(nominal[stamp])
    else:
        with pytest.raises(InjuryReportNotFound):
            find_latest_report(cdn, as_of)
    asked = set(cdn.asked)
    assert all(t <= as_of for t in candidate_times(as_of) if report_url(t) in asked)
    assert asked <= {report_url(t) for t in candidate_times(as_of)}


# ------------------------------------------------------------------ HTTP and the live source
def cdn_transport(files: dict[str, bytes], log: list[str], extra=None):
    def transport(url, params):
        log.append(url)
        if extra:
            answer = extra(url, params)
            if answer is not None:
                return answer
        for name, body in files.items():
            if url.endswith("/" + name):
                return 200, body
        if "/referee/injury/" in url:
            return 403, b"<Error>AccessDenied</Error>"
        raise AssertionError(f"unexpected request {url}")
    return transport


def client(transport) -> HttpClient:
    return HttpClient(transport=transport, sleep=lambda s: None, min_interval=0.0,
                      max_attempts=1)


def test_http_getter_maps_403_and_404_to_none():
    answers = {"a.pdf": (200, b"%PDF-1.4 x"), "b.pdf": (404, b""), "c.pdf": (403, b"denied"),
               "d.pdf": (500, b"oops")}
    get = http_getter(client(lambda url, params: answers[url.rsplit("/", 1)[-1]]))
    assert get("https://x/a.pdf") == b"%PDF-1.4 x"
    assert get("https://x/b.pdf") is None and get("https://x/c.pdf") is None
    with pytest.raises(SourceError, match="HTTP 500"):
        get("https://x/d.pdf")


def roster_payload(fixtures_dir, team_id: int, players: list[tuple[str, int]]) -> bytes:
    payload = json.loads((fixtures_dir / ROSTER_FILE).read_text())
    rs = payload["resultSets"][0]
    template = rs["rowSet"][0]
    h = rs["headers"]
    rows = []
    for name, pid in players:
        row = list(template)
        row[h.index("TeamID")], row[h.index("PLAYER")], row[h.index("PLAYER_ID")] = \
            team_id, name, pid
        rows.append(row)
    rs["rowSet"] = rows
    payload["parameters"]["TeamID"] = team_id
    return json.dumps(payload).encode()


def test_live_source_reads_the_official_pdf_by_default(fixtures_dir, report_pdf, monkeypatch):
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    rosters = {SAS: [("Doug McDermott", 203926)], DEN: [("Reggie Jackson", 202704)],
               GSW: [("Draymond Green", 203110)]}

    def stats(url, params):
        if "commonteamroster" in url:
            tid = params["TeamID"]
            return 200, roster_payload(fixtures_dir, tid, rosters[tid])
        return None

    log: list[str] = []
    http = client(cdn_transport({"Injury-Report_2024-01-04_12PM.pdf": report_pdf}, log, stats))
    src = LiveSource(http=http)  # no injury_rows_provider: the official report
    as_of = ny("2024-01-04 12:40").tz_convert("UTC")
    ex = src.fetch("injuries", dt.date(2024, 1, 4), as_of)
    assert ex.endpoint == EP_INJURIES and list(ex.table.columns) == list(TABLES["injuries"][0])
    t = ex.table
    assert log[0].endswith("/Injury-Report_2024-01-04_12PM.pdf")
    players = t[t["player_id"] != TEAM_LEVEL_PLAYER_ID]
    assert len(players) == 14 and (t["snapshot_ts"] == REPORT_TS).all()
    assert collections.Counter(players["status"]) == {"Out": 10, "Questionable": 2,
                                                      "Doubtful": 1, "Probable": 1}
    ids = dict(zip(players["player_name"], players["player_id"]))
    assert ids["Draymond Green"] == 203110 and ids["Doug McDermott"] == 203926
    assert ids["Gary Payton II"] < 0  # not on the (made-up) roster: surrogate
    team_rows = t[t["player_id"] == TEAM_LEVEL_PLAYER_ID]
    assert list(team_rows["team"]) == ["MIL"] and list(team_rows["status"]) == [NOT_YET_SUBMITTED]
    # only teams with player rows need a roster
    assert sum("commonteamroster" in u for u in log) == 3

    # the next day: only teams not yet submitted, no roster request
    log.clear()
    nxt = src.fetch("injuries", dt.date(2024, 1, 5), as_of).table
    assert len(nxt) == 28 and (nxt["player_id"] == TEAM_LEVEL_PLAYER_ID).all()
    assert (nxt["status"] == NOT_YET_SUBMITTED).all()
    assert not any("commonteamroster" in u for u in log)


def test_live_source_before_the_report_was_published(report_pdf):
    log: list[str] = []
    src = LiveSource(http=client(cdn_transport({"Injury-Report_2024-01-04_12PM.pdf": report_pdf},
                                               log)))
    # at 12:20 the 12PM file holds a report stamped 12:30: not knowable; nothing older exists
    with pytest.raises(SourceError, match="no injury report at or before"):
        src.fetch("injuries", dt.date(2024, 1, 4), ny("2024-01-04 12:20"))
    assert len(log) == 36


def test_live_source_damaged_report_fails_with_the_pdf_as_raw(fixtures_dir):
    data = (fixtures_dir / DAMAGED).read_bytes()
    log: list[str] = []
    src = LiveSource(http=client(cdn_transport({"Injury-Report_2025-03-15_01AM.pdf": data}, log)))
    with pytest.raises(SourceError) as err:
        src.fetch("injuries", dt.date(2025, 3, 15), ny("2025-03-15 01:45"))
    assert err.value.raw == data and err.value.endpoint == "injury_report"


def test_official_provider_returns_rows_and_report_ts(report_pdf):
    log: list[str] = []
    provider = official_report_provider(client(cdn_transport(
        {"Injury-Report_2024-01-04_12PM.pdf": report_pdf}, log)))
    rows, report_ts = provider(dt.date(2024, 1, 4), ny("2024-01-04 13:05"))
    assert report_ts == REPORT_TS and len(rows) == 43
    assert log[0].endswith("_01PM.pdf") and log[1].endswith("_12PM.pdf")


# ------------------------------------------------------------------ the CLI
def test_cli_parse_prints_csv(fixtures_dir, capsys):
    assert cli.main(["injuries", "parse", str(fixtures_dir / REPORT)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    df = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(df.columns) == ["report_ts", "game_date", "game_time", "matchup", "team",
                                "player_name", "status", "reason"]
    assert len(df) == 43 and (df["player_name"] != "").sum() == 14
    assert set(df["report_ts"]) == {"2024-01-04T17:30:00+00:00"}
    assert set(df["game_date"]) == {"2024-01-04", "2024-01-05"}
    doug = df[df["player_name"] == "McDermott, Doug"].iloc[0]
    assert (doug.status, doug.reason) == ("Out", "Injury/Illness - Right Forearm; Contusion")
    nys = df[df["player_name"] == ""]
    assert len(nys) == 29 and set(nys["status"]) == {"NOT YET SUBMITTED"}


@pytest.mark.parametrize("name, match", [
    (DAMAGED, "damaged PDF"), ("nba_official_injury_report/nope.pdf", "cannot read"),
    ("nba_official_injury_report", "cannot read"),
    ("nba_official_injury_report/parsed_rows_2026-01-13_0130PM_SAMPLE.json", "not a PDF")])
def test_cli_parse_bad_file_exits_2_with_one_line(fixtures_dir, capsys, name, match):
    path = fixtures_dir / name
    assert cli.main(["injuries", "parse", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and match in err
    assert err.startswith("tipoff injuries: ") and "Traceback" not in err


def test_report_table_shape(parsed):
    t = report_table(*parsed)
    assert list(t.columns) == ["report_ts", "game_date", "game_time", "matchup", "team",
                               "player_name", "status", "reason"]
    assert len(t) == 43
