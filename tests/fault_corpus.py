"""A corpus of corrupt archive inputs, one per validation rule (used by tests/test_faults.py and
bench/fault_suite.py).

`mini_archive(shared, dest)` copies one real season (2021-22) of ../shared/data: its lines file,
the betting rows of that season, its player logs and the injury transactions of those months.
Each `Case` then applies one corruption to a fresh copy and says what must happen: the kinds and
dates refused (with the file, line and field named) and a date that must still be answered.
"""
from __future__ import annotations

import datetime as dt
import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

SEASON = "2021-22"
LINES = f"historical_lines/nba_lines_{SEASON}.csv"
BETTING = "betting_results/nba_betting_2008_2022.csv"
LOGS = f"player_logs/player_logs_{SEASON}.csv.gz"
INJURIES = "injuries/injury_transactions_1951_2022.csv"


def mini_archive(shared: Path, dest: Path) -> Path:
    """One real season of the archive under `dest` (the layout ArchiveSource reads)."""
    for folder in ("historical_lines", "betting_results", "player_logs", "injuries"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(shared / LINES, dest / LINES)
    shutil.copy(shared / LOGS, dest / LOGS)
    with open(shared / BETTING, newline="") as fh:
        rows = fh.read().splitlines(keepends=True)
    _write(dest / BETTING, [rows[0]] + [r for r in rows[1:] if r.startswith("2022,")])
    with open(shared / INJURIES, newline="") as fh:
        rows = fh.read().splitlines(keepends=True)
    keep = [r for r in rows[1:] if r.split(",")[1][-4:] in ("2021", "2022")]
    _write(dest / INJURIES, [rows[0]] + keep)
    return dest


# ----------------------------------------------------------------------------- editing helpers

def _lines_of(path: Path) -> list[str]:
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    with open(path, newline="") as fh:
        return fh.read().splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> None:
    text = "".join(lines)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        with open(path, "w", newline="") as fh:
            fh.write(text)


def _edit_cell(rel: str, line_no: int, column: str, value: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        lines = _lines_of(path)
        header = lines[0].rstrip("\r\n").split(",")
        cells = lines[line_no - 1].rstrip("\r\n").split(",")
        cells[header.index(column)] = value
        end = lines[line_no - 1][len(lines[line_no - 1].rstrip("\r\n")):]
        lines[line_no - 1] = ",".join(cells) + end
        _write(path, lines)
    return apply


def _cut_last_row(rel: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:  # "...,-1500,8\r\n" -> "...,-150": the tail of the row lost
        path = root / rel
        data = path.read_bytes()
        path.write_bytes(data[:len(data) - 6])
    return apply


def _drop_field(rel: str, line_no: int) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        lines = _lines_of(path)
        row = lines[line_no - 1].rstrip("\r\n")
        lines[line_no - 1] = row.rsplit(",", 1)[0] + lines[line_no - 1][len(row):]
        _write(path, lines)
    return apply


def _conflicting_copy(rel: str, line_no: int, column: str, value: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        lines = _lines_of(path)
        header = lines[0].rstrip("\r\n").split(",")
        row = lines[line_no - 1]
        cells = row.rstrip("\r\n").split(",")
        cells[header.index(column)] = value
        lines.insert(line_no, ",".join(cells) + row[len(row.rstrip("\r\n")):])
        _write(path, lines)
    return apply


def _truncate_gzip(rel: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    return apply


def _drop_column(rel: str, column: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        lines = _lines_of(path)
        i = lines[0].rstrip("\r\n").split(",").index(column)
        out = []
        for ln in lines:
            row = ln.rstrip("\r\n")
            cells = row.split(",")
            del cells[i]
            out.append(",".join(cells) + ln[len(row):])
        _write(path, out)
    return apply


def row_date(root: Path, rel: str, line_no: int) -> str:
    """The league date of one row of a corpus file (the rows the cases corrupt)."""
    lines = _lines_of(root / rel)
    header = lines[0].rstrip("\r\n").split(",")
    cells = lines[line_no - 1].rstrip("\r\n").split(",")
    if rel == LINES:
        d = cells[header.index("Date")]  # 2021-22-1019
        month, day = int(d[8:10]), int(d[10:12])
        return dt.date(2021 if month >= 8 else 2022, month, day).isoformat()
    if rel == BETTING:
        return dt.datetime.strptime(cells[header.index("date")], "%m/%d/%y").date().isoformat()
    if rel == LOGS:
        return cells[header.index("GAME_DATE")][:10]
    return dt.datetime.strptime(cells[header.index("Date")], "%d/%m/%Y").date().isoformat()


@dataclass(frozen=True)
class Case:
    name: str
    corrupt: Callable[[Path], None]
    file: str
    field: str | None      # the field the error must name (None: a whole-file problem)
    line: int | None       # the line it must name (None: not a single line)
    kinds: tuple[str, ...]  # kinds refused on the refused date
    refused: str | None    # a date that must be refused (None: the row's own date, `line`)
    answered: str | None   # a date that must still be answered for those kinds
    message: str           # words the error must contain


CASES = [
    Case("lines row cut at the end of the file", _cut_last_row(LINES), LINES, None, None,
         ("odds", "schedule", "results"), "2022-01-15", "2008-01-15",
         "does not end with a line break"),
    Case("lines row missing a field", _drop_field(LINES, 200), LINES, None, 200,
         ("odds",), "2022-01-15", "2008-01-15", "has 10 fields, the header has 11"),
    Case("player log MIN=-33", _edit_cell(LOGS, 500, "MIN", "-33"), LOGS, "MIN", 500,
         ("box_scores",), None, "2022-03-01", "-33.0 is outside [0, 70]"),
    Case("player log PTS=250", _edit_cell(LOGS, 900, "PTS", "250"), LOGS, "PTS", 900,
         ("box_scores",), None, "2022-03-01", "is outside [0, 100]"),
    Case("two rows for one game with different odds",
         _conflicting_copy(LINES, 300, "ML_Home", "-900"), LINES, "home_ml", 300,
         ("odds", "schedule"), None, "2022-03-01", "conflicts with another row"),
    Case("gzip cut in half", _truncate_gzip(LOGS), LOGS, None, None, ("box_scores", "rosters"),
         "2022-01-15", "2008-01-15", "gzip stream is damaged"),
    Case("quarters do not add up", _edit_cell(BETTING, 400, "q1_home", "90"), BETTING,
         "score_home", 400, ("results",), None, "2022-03-01", "does not equal its quarters' sum"),
    Case("a final score of 250", _edit_cell(BETTING, 420, "score_away", "250"), BETTING,
         "score_away", 420, ("results",), None, "2022-03-01", "is outside [0, 200]"),
    Case("a total that is not a number", _edit_cell(LINES, 250, "OU", "abc"), LINES, "OU", 250,
         ("odds",), None, "2022-03-01", "'abc' is not a number"),
    Case("a date that is not a date", _edit_cell(LINES, 260, "Date", "2021-22-1340"), LINES,
         "Date", 260, ("odds",), "2022-01-15", "2008-01-15", "is not a calendar date"),
    Case("a required column missing", _drop_column(LOGS, "TOV"), LOGS, "TOV", None,
         ("box_scores",), "2022-01-15", "2008-01-15", "required column 'TOV' is missing"),
    Case("an injury transaction with a bad date", _edit_cell(INJURIES, 100, "Date", "31/02/2022"),
         INJURIES, "Date", 100, ("injuries",), "2022-01-15", None, "is not a date"),
]
