"""The league's official injury report (a PDF): where it is published, finding the newest one at an
as-of, and parsing it into rows.  Plain Python (pdfplumber, no Java, no Dagster).

Publication and names.  The league publishes the report several times a day on game days at
`<base>/Injury-Report_<YYYY-MM-DD>_<HH><AM|PM>.pdf` (hour only) until 2025-12-22 and at
`<base>/Injury-Report_<YYYY-MM-DD>_<HH>_<MM><AM|PM>.pdf` since 2025-12-23 (old-style names answer
403 since then); times are New York wall-clock time, `<base>` is
https://ak-static.cms.nba.com/referee/injury unless `TIPOFF_INJURY_REPORT_URL` names another.

Finding the newest report (`candidate_times`, `find_latest_report`).  Candidates are probed newest
first: every 15 minutes (:00/:15/:30/:45) for new-style names, every hour for old-style names,
back to `lookback_hours` (36 by default) before the as-of, and never after it.  That is at most
144 requests (36 for a window entirely before 2025-12-23) and, on a game day, usually 1-4: the
league republishes every 15-60 minutes.  An old-style hourly name holds that hour's report,
whose own stamp may be later than the as-of (the 12PM file holds the 12:30 report): the stamp
printed in the PDF decides, and a report stamped after the as-of is skipped for an older one.

Parsing (`parse_report`).  Columns Game Date, Game Time, Matchup, Team, Player Name, Current
Status, Reason; the first four are printed once per block (merged cells, also across page
breaks) and are carried down; the column header is found on the first page (later pages may or
may not repeat it); a cell wrapped over several lines (typically Reason) is joined with spaces
into its row (wrapped lines are vertically centred around the row's line, so each goes to the
nearest row).  Words are joined with one space: "Injury/Illness - Left Acl; Tear".  Each row is
a dict with the report's column names, carried cells filled in:

  {"Game Date": "01/04/2024", "Game Time": "07:30 (ET)", "Matchup": "MIL@SAS",
   "Team": "San Antonio Spurs", "Player Name": "Barlow, Dominick",
   "Current Status": "Questionable", "Reason": "G League - Two-Way"}

which is the shape `live.parse_injury_report_rows` normalizes into the INJURIES table.  The
report's first line (`Injury Report: 01/04/24 12:30 PM`, New York time) is `report_ts` (UTC),
the rows' snapshot_ts.

Teams not yet submitted.  A team whose report is not in yet is printed as `NOT YET SUBMITTED`
with no player.  That is NOT "nobody is injured": it is unknown availability.  It is kept as one
team-level row ("Player Name" "", "Current Status" "NOT YET SUBMITTED", "Reason" ""), which the
INJURIES table stores as player_id = schemas.TEAM_LEVEL_PLAYER_ID (0), player_name "", status
schemas.NOT_YET_SUBMITTED ("Not Yet Submitted").  Consumers (the features layer) must read such
a team as "availability unknown at this snapshot", never as a healthy roster; a later snapshot
with player rows for the team supersedes it.

Failures.  Bytes that are not a readable PDF, a damaged PDF (e.g. content streams that do not
decompress: a truncated download), a PDF with no report timestamp, no column header or no rows,
and rows that do not make sense (a status without a player, an unknown status) raise
`InjuryReportError` (a SourceError: source "live", endpoint "injury_report", `raw` = the complete
PDF bytes, so the caller quarantines them).  An empty report is never returned.  No report in
the window raises `InjuryReportNotFound`.
"""
from __future__ import annotations

import collections
import datetime as dt
import io
import os
import re
import zlib
from collections.abc import Callable

import pandas as pd
import pdfplumber

from tipoff_core.schemas import NOT_YET_SUBMITTED, STATUSES
from tipoff_core.timeutil import LEAGUE_TZ, local_ts, utc
from resources.sources.base import SourceError
from resources.sources.http import HttpClient

SOURCE = "live"
ENDPOINT = "injury_report"
BASE_URL = "https://ak-static.cms.nba.com/referee/injury"
BASE_URL_ENV = "TIPOFF_INJURY_REPORT_URL"
# First New York date whose report names carry minutes (..._01_30PM.pdf).
MINUTE_NAMES_SINCE = dt.date(2025, 12, 23)
STEP_MINUTE_NAMES = pd.Timedelta(minutes=15)
STEP_HOUR_NAMES = pd.Timedelta(hours=1)
DEFAULT_LOOKBACK_HOURS = 36

COLUMNS = ("Game Date", "Game Time", "Matchup", "Team", "Player Name", "Current Status", "Reason")
CARRIED = ("Game Date", "Game Time", "Matchup", "Team")
NOT_SUBMITTED_TEXT = "NOT YET SUBMITTED"  # as printed; stored as schemas.NOT_YET_SUBMITTED
PLAYER_STATUSES = tuple(s for s in STATUSES if s != NOT_YET_SUBMITTED)
# Columns of `report_table` (what `tipoff injuries parse` prints).
TABLE_COLUMNS = ("report_ts", "game_date", "game_time", "matchup", "team", "player_name",
                 "status", "reason")

HttpGet = Callable[[str], "bytes | None"]

_TITLE = re.compile(r"Injury\s*Report:\s*(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\s*(\d{1,2}):(\d{2})"
                    r"\s*([AP])\.?M\.?", re.IGNORECASE)
_FOOTER = re.compile(r"^Page\s*(\d+)\s*of\s*(\d+)$", re.IGNORECASE)
_LINE_TOLERANCE = 2.0  # words whose tops differ by less (pt) are on one line
_COLUMN_SLACK = 3.0    # cells start a little right of their header


class InjuryReportError(SourceError):
    """The injury report PDF could not be read; `raw` is the complete PDF."""

    def __init__(self, message: str, *, field: str | None = None, raw: bytes | None = None):
        super().__init__(SOURCE, ENDPOINT, message, field=field, raw=raw)


class InjuryReportNotFound(SourceError):
    """No report was published in the window probed (at or before the as-of)."""

    def __init__(self, message: str):
        super().__init__(SOURCE, ENDPOINT, message)


# ---------------------------------------------------------------------------------- names
def _league_time(ts) -> pd.Timestamp:
    """`ts` as New York wall-clock time (naive input is already New York time)."""
    t = pd.Timestamp(ts)
    return t.tz_localize(LEAGUE_TZ) if t.tzinfo is None else t.tz_convert(LEAGUE_TZ)


def base_url() -> str:
    return (os.environ.get(BASE_URL_ENV) or BASE_URL).rstrip("/")


def report_url(ts) -> str:
    """URL of the report published at `ts` (New York time; naive is New York time).

    Before 2025-12-23 the name carries the hour only (`..._01PM.pdf`), since then hour and
    minutes (`..._01_30PM.pdf`)."""
    t = _league_time(ts)
    hour12 = t.hour % 12 or 12
    ampm = "AM" if t.hour < 12 else "PM"
    clock = (f"{hour12:02d}_{t.minute:02d}{ampm}" if t.date() >= MINUTE_NAMES_SINCE
             else f"{hour12:02d}{ampm}")
    return f"{base_url()}/Injury-Report_{t.date().isoformat()}_{clock}.pdf"


def candidate_times(as_of, lookback_hours: float = DEFAULT_LOOKBACK_HOURS) -> list[pd.Timestamp]:
    """Publication times to probe, newest first (New York time): every 15 minutes where names
    carry minutes, every hour before, none after `as_of`, none more than `lookback_hours`
    before it.  Distinct URLs only (the repeated hour when clocks fall back is probed once)."""
    end = utc(as_of)
    start = end - pd.Timedelta(hours=lookback_hours)
    out, seen = [], set()
    t = end.floor(STEP_MINUTE_NAMES)
    while t >= start:
        local = t.tz_convert(LEAGUE_TZ)
        if local.date() < MINUTE_NAMES_SINCE:
            t = t.floor(STEP_HOUR_NAMES)  # hour names: whole hours (New York offsets are whole)
            if t < start:
                break
            local = t.tz_convert(LEAGUE_TZ)
            step = STEP_HOUR_NAMES
        else:
            step = STEP_MINUTE_NAMES
        url = report_url(local)
        if url not in seen:
            seen.add(url)
            out.append(local)
        t -= step
    return out


def find_latest_report(http_get: HttpGet, as_of, *,
                       lookback_hours: float = DEFAULT_LOOKBACK_HOURS
                       ) -> tuple[pd.Timestamp, str, bytes]:
    """(report_ts UTC, url, pdf bytes) of the newest report stamped at or before `as_of`.

    `http_get(url)` returns the body, or None when there is no such file (HTTP 403/404); any
    other failure should raise.  Candidates come from `candidate_times`; a report whose own stamp
    is after `as_of` is skipped.  A damaged report raises InjuryReportError (no silent fallback
    to an older one); nothing in the window raises InjuryReportNotFound."""
    as_of = utc(as_of)
    candidates = candidate_times(as_of, lookback_hours)
    later = 0
    misses = getattr(http_get, "misses", None)  # status -> count, when the getter keeps them
    if misses is not None:
        misses.clear()
    for ts in candidates:
        url = report_url(ts)
        body = http_get(url)
        if body is None:
            continue
        stamp = report_timestamp(body)
        if stamp > as_of:
            later += 1
            continue
        return stamp, url, body
    span = (f"{report_url(candidates[-1]).rsplit('/', 1)[-1]} .. "
            f"{report_url(candidates[0]).rsplit('/', 1)[-1]}" if candidates else "none")
    raise InjuryReportNotFound(
        f"no injury report at or before {as_of.isoformat()} in the last {lookback_hours:g} h "
        f"({len(candidates)} URL(s) tried: {span} under {base_url()}"
        + (f"; {later} found stamped after the as-of" if later else "")
        + (f"; answers: {', '.join(f'{n} x HTTP {c}' for c, n in sorted(misses.items()))}"
           if misses else "") + ")")


def http_getter(http: HttpClient) -> HttpGet:
    """`http_get` over the project's HttpClient: the body, or None on HTTP 403/404 (how the CDN
    answers a report that was not published)."""
    def get(url: str) -> bytes | None:
        try:
            return http.get(url, endpoint=ENDPOINT)
        except SourceError as exc:
            # HttpClient names the status as "HTTP <code> from <url>" and does not retry 4xx.
            missing = re.search(r"\bHTTP (403|404) from ", str(exc))
            if missing:
                # counted, so "not found" can say whether the CDN answered 404s or 403s (a
                # blocked client, or names in the wrong format, answer 403 to everything)
                get.misses[int(missing.group(1))] += 1
                return None
            raise
    get.misses = collections.Counter()
    return get


def official_report_provider(http: HttpClient, *,
                             lookback_hours: float = DEFAULT_LOOKBACK_HOURS):
    """An `injury_rows_provider(game_date, as_of) -> (rows, report_ts)` for LiveSource: the
    newest official report at or before as_of, parsed.  The rows cover every game the report
    lists; LiveSource keeps the requested date's."""
    get = http_getter(http)

    def provider(game_date: dt.date, as_of: pd.Timestamp) -> tuple[list[dict], pd.Timestamp]:
        _, _, pdf = find_latest_report(get, as_of, lookback_hours=lookback_hours)
        report_ts, rows = parse_report(pdf)
        return rows, report_ts

    return provider


# -------------------------------------------------------------------------------- parsing
def _open(pdf_bytes: bytes):
    if not isinstance(pdf_bytes, (bytes, bytearray)):
        raise InjuryReportError(f"expected PDF bytes, got {type(pdf_bytes).__name__}", field="pdf")
    raw = bytes(pdf_bytes)
    if not raw.lstrip()[:5] == b"%PDF-":
        raise InjuryReportError(f"not a PDF (starts with {raw[:16]!r})", field="pdf", raw=raw)
    try:
        return pdfplumber.open(io.BytesIO(raw))
    except Exception as exc:  # the PDF library's many exception types: all mean "unreadable"
        raise InjuryReportError(f"unreadable PDF ({type(exc).__name__}: {exc})", field="pdf",
                                raw=raw) from None


def _check_streams(pdf, raw: bytes, pages=None) -> None:
    """Refuse a PDF whose page content streams do not inflate completely.

    pdfminer quietly turns a stream it cannot inflate into no (or partial) content, so a
    truncated or corrupted download would read as an empty or shortened report.  A stream that
    inflates to its end but fails only the final checksum is accepted."""
    for number, page in enumerate(pdf.pages if pages is None else pages, start=1):
        try:
            streams = list(page.page_obj.contents)
        except Exception:
            continue  # nothing to check; the text checks below still apply
        for i, stream in enumerate(streams):
            data = getattr(stream, "rawdata", None)
            if not data:
                continue
            names = [getattr(f, "name", str(f)) for f, _ in stream.get_filters()]
            if names != ["FlateDecode"]:
                continue
            inflater = zlib.decompressobj()
            problem = None
            try:
                inflater.decompress(data)
                if not inflater.eof:
                    problem = "ends before the end of its compressed data"
            except zlib.error as exc:
                if "incorrect data check" not in str(exc):
                    problem = f"does not decompress ({str(exc).split(': ')[-1]})"
            if problem:
                declared = stream.attrs.get("Length")
                size = (f"{len(data)} of {declared} declared bytes"
                        if isinstance(declared, int) and declared != len(data)
                        else f"{len(data)} bytes")
                raise InjuryReportError(
                    f"damaged PDF: page {number} content stream {i} ({size}, FlateDecode) "
                    f"{problem}; the download is truncated or corrupt",
                    field=f"pdf.page[{number}]", raw=raw)


def _words(page) -> list[dict]:
    return page.extract_words(x_tolerance_ratio=0.15, y_tolerance=1.5, keep_blank_chars=False)


def _lines(words: list[dict]) -> list[list[dict]]:
    """Words grouped into lines by their top, each line sorted left to right, top to bottom."""
    lines: list[list[dict]] = []
    for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
        if lines and abs(w["top"] - lines[-1][0]["top"]) < _LINE_TOLERANCE:
            lines[-1].append(w)
        else:
            lines.append([w])
    return [sorted(line, key=lambda w: w["x0"]) for line in lines]


def _text(line: list[dict]) -> str:
    return " ".join(w["text"] for w in line)


def _stamp(text: str) -> pd.Timestamp | None:
    m = _TITLE.search(text)
    if not m:
        return None
    month, day, year, hour, minute, ap = m.groups()
    year = int(year) + (2000 if len(year) == 2 else 0)
    hour = int(hour) % 12 + (12 if ap.upper() == "P" else 0)
    try:
        return local_ts(dt.date(year, int(month), int(day)), dt.time(hour, int(minute)))
    except ValueError:
        return None


def _header_starts(line: list[dict]) -> list[float] | None:
    """x0 of each column's header label when `line` is the column header, else None."""
    texts = [w["text"].lower() for w in line]
    starts, j = [], 0
    for col in COLUMNS:
        parts = col.lower().split()
        while j < len(texts):
            if texts[j:j + len(parts)] == parts or texts[j] == "".join(parts):
                starts.append(line[j]["x0"])
                j += len(parts) if texts[j:j + len(parts)] == parts else 1
                break
            j += 1
        else:
            return None
    return starts


def _cells(line: list[dict], starts: list[float]) -> dict[str, list[dict]]:
    cells: dict[str, list[dict]] = {c: [] for c in COLUMNS}
    for w in line:
        col = 0
        for k, x in enumerate(starts):
            if w["x0"] >= x - _COLUMN_SLACK:
                col = k
        cells[COLUMNS[col]].append(w)
    return cells


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def _is_anchor(cells: dict[str, list[dict]]) -> bool:
    """A row's own line: it has a status, or says NOT YET SUBMITTED."""
    status = _text(cells["Current Status"])
    tail = _squash(status + _text(cells["Reason"]))
    return bool(status) or tail == _squash(NOT_SUBMITTED_TEXT)


def report_timestamp(pdf_bytes: bytes) -> pd.Timestamp:
    """The report's own stamp (first line of page 1) as UTC; InjuryReportError if absent."""
    raw = bytes(pdf_bytes) if isinstance(pdf_bytes, (bytes, bytearray)) else pdf_bytes
    with _open(pdf_bytes) as pdf:
        try:
            if not pdf.pages:
                raise InjuryReportError("the PDF has no pages", field="pdf", raw=raw)
            page = pdf.pages[0]
            _check_streams(pdf, raw, [page])
            words = _words(page)
        except InjuryReportError:
            raise
        except Exception as exc:
            raise InjuryReportError(f"unreadable PDF page 1 ({type(exc).__name__}: {exc})",
                                    field="pdf.page[1]", raw=raw) from None
        return _page_stamp(page, words, 1, raw)


def _page_stamp(page, words, number: int, raw: bytes) -> pd.Timestamp:
    lines = _lines(words)
    stamp = _stamp(_text(lines[0])) if lines else None
    if stamp is not None:
        return stamp
    if not words:
        raise InjuryReportError(f"page {number} has no text (not an injury report, or damaged)",
                                field=f"pdf.page[{number}]", raw=raw)
    raise InjuryReportError(f"page {number} does not start with 'Injury Report: MM/DD/YY HH:MM "
                            f"AM|PM' (it starts {_text(lines[0])[:60]!r})",
                            field="report_ts", raw=raw)


def parse_report(pdf_bytes: bytes) -> tuple[pd.Timestamp, list[dict]]:
    """(report_ts UTC, rows) of an official injury report PDF; see the module docstring.

    Raises InjuryReportError (raw = the complete PDF) rather than return an empty or partial
    report."""
    raw = bytes(pdf_bytes) if isinstance(pdf_bytes, (bytes, bytearray)) else pdf_bytes
    with _open(pdf_bytes) as pdf:
        try:
            _check_streams(pdf, raw)
            pages = [(page, _words(page)) for page in pdf.pages]
        except InjuryReportError:
            raise
        except Exception as exc:
            raise InjuryReportError(f"unreadable PDF ({type(exc).__name__}: {exc})", field="pdf",
                                    raw=raw) from None
        if not pages:
            raise InjuryReportError("the PDF has no pages", field="pdf", raw=raw)
        report_ts, starts = None, None
        rows: list[dict] = []
        carried = dict.fromkeys(CARRIED, "")
        for number, (page, words) in enumerate(pages, start=1):
            stamp = _page_stamp(page, words, number, raw)
            if report_ts is None:
                report_ts = stamp
            elif stamp != report_ts:
                raise InjuryReportError(f"page {number} is stamped {stamp.isoformat()}, page 1 "
                                        f"{report_ts.isoformat()}", field="report_ts", raw=raw)
            body = _page_body(_lines(words)[1:], number, len(pages), raw)
            found = None
            for i, line in enumerate(body):
                found = _header_starts(line)
                if found:
                    starts, body = found, body[i + 1:]
                    break
            if starts is None:
                raise InjuryReportError("no column header (Game Date ... Reason) on page 1: "
                                        "not a readable injury report table", field="table",
                                        raw=raw)
            for cells in _page_rows(body, starts, number, raw):
                rows.append(_row(cells, carried, len(rows), raw))
    if not rows:
        raise InjuryReportError("the report table has no rows", field="table", raw=raw)
    return report_ts, rows


def _page_body(lines, number: int, n_pages: int, raw: bytes) -> list[list[dict]]:
    """Lines of a page between its title and its footer; checks 'Page N of M'."""
    for i, line in enumerate(lines):
        m = _FOOTER.match(_text(line).strip())
        if m:
            if (int(m.group(1)), int(m.group(2))) != (number, n_pages):
                raise InjuryReportError(f"page {number} of {n_pages} says "
                                        f"'{_text(line)}': pages are missing or out of order",
                                        field=f"pdf.page[{number}]", raw=raw)
            return lines[:i]
    return lines


def _page_rows(body, starts, number: int, raw: bytes) -> list[dict[str, list[str]]]:
    """Each row's cell texts (one entry per printed line) on one page."""
    split = [(line, _cells(line, starts)) for line in body]
    anchors = [k for k, (_, cells) in enumerate(split) if _is_anchor(cells)]
    if split and not anchors:
        raise InjuryReportError(f"page {number} has text but no row with a status or "
                                f"'{NOT_SUBMITTED_TEXT}' (first line {_text(split[0][0])[:60]!r})",
                                field=f"pdf.page[{number}]", raw=raw)
    groups: dict[int, list[int]] = {a: [] for a in anchors}
    for k, (line, _) in enumerate(split):
        mid = (line[0]["top"] + line[0]["bottom"]) / 2
        def distance(a):
            first = split[a][0][0]
            return abs((first["top"] + first["bottom"]) / 2 - mid)
        groups[min(anchors, key=distance)].append(k)
    out = []
    for a in anchors:
        cells: dict[str, list[str]] = {c: [] for c in COLUMNS}
        for k in groups[a]:  # top to bottom
            for col, ws in split[k][1].items():
                if ws:
                    cells[col].append(_text(ws))
        out.append(cells)
    return out


def _row(cells: dict[str, list[str]], carried: dict, index: int, raw: bytes) -> dict:
    vals = {c: " ".join(cells[c]).strip() for c in COLUMNS}
    if vals["Matchup"] and not vals["Team"]:
        raise InjuryReportError(f"row {index} starts matchup {vals['Matchup']!r} without a team",
                                field=f"rows[{index}].Team", raw=raw)
    for c in CARRIED:
        if vals[c]:
            carried[c] = vals[c]
        elif not carried[c]:
            raise InjuryReportError(f"row {index} has no {c} and no row above to carry it from",
                                    field=f"rows[{index}].{c}", raw=raw)
        else:
            vals[c] = carried[c]
    if _squash(vals["Current Status"] + vals["Reason"]) == _squash(NOT_SUBMITTED_TEXT):
        if vals["Player Name"]:
            raise InjuryReportError(f"row {index} ({vals['Player Name']}) says "
                                    f"{NOT_SUBMITTED_TEXT}, a team-level status",
                                    field=f"rows[{index}].Current Status", raw=raw)
        vals.update({"Current Status": NOT_SUBMITTED_TEXT, "Reason": ""})
        return vals
    if not vals["Player Name"]:
        raise InjuryReportError(f"row {index} ({vals['Team']}) has status "
                                f"{vals['Current Status']!r} but no player",
                                field=f"rows[{index}].Player Name", raw=raw)
    status = vals["Current Status"].title()
    if status not in PLAYER_STATUSES:
        raise InjuryReportError(f"row {index} ({vals['Player Name']}) has status "
                                f"{vals['Current Status']!r}, not one of "
                                f"{', '.join(PLAYER_STATUSES)}",
                                field=f"rows[{index}].Current Status", raw=raw)
    vals["Current Status"] = status
    return vals


def report_table(report_ts: pd.Timestamp, rows: list[dict]) -> pd.DataFrame:
    """The rows as a flat table (TABLE_COLUMNS): game_date ISO, report_ts UTC ISO."""
    def iso(d: str) -> str:
        try:
            return dt.datetime.strptime(d, "%m/%d/%Y").date().isoformat()
        except ValueError:
            return d
    stamp = utc(report_ts).isoformat()
    return pd.DataFrame(
        [{"report_ts": stamp, "game_date": iso(r["Game Date"]), "game_time": r["Game Time"],
          "matchup": r["Matchup"], "team": r["Team"], "player_name": r["Player Name"],
          "status": r["Current Status"], "reason": r["Reason"]} for r in rows],
        columns=list(TABLE_COLUMNS))
