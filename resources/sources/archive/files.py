"""Reading the archive's CSV files: integrity, columns, numbers, dates and booleans, checked.

Nothing wrong gets in, and one bad cell does not block the rest of the archive:

* A damaged file (gzip stream that does not decompress to the end, undecodable text, a last row
  not ended by a line break -- the archive's files all end with one, so the file was cut short --,
  a row whose field count differs from the header's, a missing required column) is a
  `FileDamage`: the file is not read, and every date it covers is refused (its season when the
  file name carries one, else every date).
* A bad cell (not a number, not a date, out of its declared range, ...) is recorded by `Checks`
  for its row: the row is dropped and the dates that row feeds are refused (see `Problem` and
  `ArchiveSource.fetch`); other dates are answered.
Both name the file, the line (the header is line 1) and the field; the source quarantines the
complete file.  Also the date helpers every builder shares (league-local instants,
'YYYY-MM-DD' labels, season labels).
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tipoff_core.timeutil import LEAGUE_TZ, season_of
from resources.sources.base import SourceError

SOURCE = "archive"
_SEASON_IN_NAME = re.compile(r"(\d{4})-(\d{2})")


class _File:
    """One input file: its path relative to data_dir."""

    def __init__(self, root: Path, path: Path):
        self.path, self.rel = path, path.relative_to(root).as_posix()

    def payload(self) -> bytes:
        """The complete file as stored (what is quarantined when it fails)."""
        return self.path.read_bytes()

    def seasons(self) -> tuple[str, ...]:
        """Seasons the file covers by its name (nba_lines_2021-22.csv); () = every date."""
        m = _SEASON_IN_NAME.search(self.path.name)
        return (f"{m.group(1)}-{m.group(2)}",) if m else ()

    def error(self, message: str, field: str | None = None) -> SourceError:
        return SourceError(SOURCE, self.rel, message, field=field, raw=self.payload())


@dataclass(frozen=True)
class Problem:
    """Something wrong in an input file, and which dates it makes unanswerable."""

    file: str
    line: int | None            # 1-based line of the file (header = 1); None: the whole file
    field: str | None
    message: str
    day: pd.Timestamp | None    # the bad row's league date; None: a damaged file (see seasons)
    seasons: tuple[str, ...] = ()  # a damaged file's seasons; () = every date

    def describe(self) -> str:
        where = f"line {self.line}" if self.line else "whole file"
        return f"{where}: {self.message}"


class FileDamage(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(problem.describe())


def _damage(f: _File, message: str, field: str | None = None) -> FileDamage:
    return FileDamage(Problem(f.rel, None, field, message, None, f.seasons()))


@dataclass
class Checks:
    """Bad rows of one file found while parsing: raw row index -> (field, message)."""

    f: _File
    rows: dict[int, tuple[str, str]] = field(default_factory=dict)

    def flag(self, raw: pd.DataFrame, mask, col: str, what: str, values=None) -> None:
        mask = np.asarray(mask, dtype=bool)
        shown = raw[col] if values is None else values
        for i in np.flatnonzero(mask):
            idx = raw.index[i]
            value = shown.iloc[i]
            value = value.item() if hasattr(value, "item") else value
            self.rows.setdefault(int(idx), (col, f"{value!r} {what}"))

    def in_range(self, raw: pd.DataFrame, values: pd.Series, col: str, lo: float,
                 hi: float) -> None:
        self.flag(raw, values.notna() & ((values < lo) | (values > hi)), col,
                  f"is outside [{lo:g}, {hi:g}]", values)

    def settle(self, raw: pd.DataFrame, days: pd.Series, problems: list[Problem]) -> np.ndarray:
        """Record one Problem per bad row (a row whose date is unknown counts against the whole
        file) and return the mask of the rows to keep."""
        for idx, (col, msg) in sorted(self.rows.items()):
            day = days.get(idx)
            day = None if day is None or pd.isna(day) else pd.Timestamp(day).normalize()
            problems.append(Problem(self.f.rel, idx + 2, col, msg, day,
                                    self.f.seasons() if day is None else ()))
        return ~raw.index.isin(list(self.rows))


def _text(f: _File) -> str:
    """The file's text after the integrity checks (see the module docstring)."""
    data = f.payload()
    if f.path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise _damage(f, f"gzip stream is damaged or cut short ({exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _damage(f, f"is not UTF-8 text ({exc})") from None
    if not text.strip():
        raise _damage(f, "file is empty (no header row)")
    if not text.endswith(("\n", "\r")):
        raise _damage(f, "the last row does not end with a line break: the file was cut short")
    rows = csv.reader(io.StringIO(text))
    width = len(next(rows))
    for line, row in enumerate(rows, start=2):
        if row and len(row) != width:
            raise FileDamage(Problem(f.rel, line, None, f"has {len(row)} fields, the header has "
                                     f"{width}: the row is cut or merged", None, f.seasons()))
    return text


def _read_csv(f: _File, required: list[str], optional: tuple[str, ...] = (),
              text: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read the wanted columns of an intact file; numbers are inferred by the C parser (fast
    path), `text` columns are kept as strings.  A column that fails to infer as numeric is
    parsed (and its bad cells flagged) by `_numeric`.  Raises FileDamage."""
    body = _text(f)
    wanted = set(required) | set(optional)
    try:
        header = pd.read_csv(io.StringIO(body), nrows=0).columns
        dtypes = {c: str for c in header if str(c).strip() in set(text)}
        df = pd.read_csv(io.StringIO(body), dtype=dtypes, keep_default_na=False, na_values=[""],
                         usecols=lambda c: str(c).strip() in wanted)
    except (pd.errors.ParserError, ValueError) as exc:
        raise _damage(f, f"cannot parse file: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    for col in required:
        if col not in df.columns:
            raise _damage(f, f"required column '{col}' is missing", field=col)
    return df


def _per_unique(s: pd.Series, func) -> pd.Series:
    """Apply a vectorized `func` to the unique values of `s` only, then broadcast back."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    res = pd.Series(func(pd.Series(np.asarray(uniq, dtype=object), dtype=object)))
    out = res.reset_index(drop=True).reindex(codes)
    out.index = s.index
    return out


def _numeric(checks: Checks, df: pd.DataFrame, col: str, *, tokens: dict[str, float] | None = None,
             allow_na: bool = True) -> pd.Series:
    """Parse a numeric column; `tokens` maps known non-numeric markers (e.g. 'NL') to values.
    Non-numeric (and, unless `allow_na`, missing) cells are flagged and become NaN."""
    s = df[col]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        out = s.astype("float64")
    else:
        def parse(u: pd.Series) -> pd.Series:
            t = u.astype(str).str.strip()
            num = pd.to_numeric(t, errors="coerce").astype("float64")
            if tokens:
                tok = t.str.upper().map(tokens)
                num = num.where(~t.str.upper().isin(list(tokens)), tok)
            ok = num.notna() | t.str.upper().isin(list(tokens or ())) | (t == "")
            return num.where(ok, -np.inf).where(t != "", np.nan)

        out = _per_unique(s, parse).astype("float64")
        bad = np.isneginf(out)
        if bad.any():
            checks.flag(df, bad, col, "is not a number")
            out = out.where(~bad, np.nan)
    if not allow_na:
        checks.flag(df, out.isna(), col, "is missing")
    return out


def _parse_dates(checks: Checks, df: pd.DataFrame, col: str, fmt: str) -> pd.Series:
    out = _per_unique(df[col], lambda u: pd.to_datetime(u.astype(str).str.strip(), format=fmt,
                                                        errors="coerce"))
    out = pd.to_datetime(out)
    checks.flag(df, out.isna(), col, f"is not a date ({fmt})")
    return out.astype("datetime64[ns]")


_BOOL = {"TRUE": True, "FALSE": False, "T": True, "F": False, "1": True, "0": False,
         "YES": True, "NO": False}


def _bool(checks: Checks, df: pd.DataFrame, col: str) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool)
    out = _per_unique(s, lambda u: u.astype(str).str.strip().str.upper().map(_BOOL))
    checks.flag(df, out.isna(), col, "is not a boolean")
    return out.fillna(False).astype(bool)


def _local(days: pd.Series, at: dt.time) -> pd.Series:
    """UTC instants of a wall-clock time on naive (midnight) league dates, vectorized."""
    t = days + pd.Timedelta(hours=at.hour, minutes=at.minute)
    return t.dt.tz_localize(LEAGUE_TZ).dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def _datestr(days: pd.Series) -> pd.Series:
    """'YYYY-MM-DD' strings (object dtype) of naive datetimes, formatting each unique value once."""
    codes, uniq = pd.factorize(days, sort=False)
    if len(uniq) == 0:
        return pd.Series([], index=days.index, dtype=object)
    labels = np.asarray(pd.DatetimeIndex(uniq).strftime("%Y-%m-%d"), dtype=object)
    return pd.Series(labels[codes], index=days.index, dtype=object)


def _seasons_of(days: pd.Series) -> pd.Series:
    codes, uniq = pd.factorize(days, sort=False)
    labels = np.asarray([season_of(d.date()) for d in pd.DatetimeIndex(uniq)], dtype=object)
    return pd.Series(labels[codes] if len(uniq) else [], index=days.index, dtype=object)
