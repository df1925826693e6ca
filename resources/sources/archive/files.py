"""Reading the archive's CSV files: columns, numbers, dates and booleans, checked and vectorized.

Malformed input (missing column, non-numeric number, unparseable date) raises
SourceError(source="archive", endpoint=<file path relative to data_dir>, field=<column>,
raw=<first KB of the file, decompressed for .gz>).  Also the date helpers every builder shares
(league-local instants, 'YYYY-MM-DD' labels, season labels).
"""
from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from tipoff_core.timeutil import LEAGUE_TZ, season_of
from resources.sources.base import SourceError

SOURCE = "archive"


class _File:
    """One input file: its path relative to data_dir and lazily its first KB (for errors)."""

    def __init__(self, root: Path, path: Path):
        self.path, self.rel = path, path.relative_to(root).as_posix()

    def head(self) -> bytes:
        opener = gzip.open if self.path.name.endswith(".gz") else open
        try:
            with opener(self.path, "rb") as fh:
                return fh.read(1024)
        except OSError:
            with open(self.path, "rb") as fh:
                return fh.read(1024)

    def error(self, message: str, field: str | None = None) -> SourceError:
        return SourceError(SOURCE, self.rel, message, field=field, raw=self.head())


def _read_csv(f: _File, required: list[str], optional: tuple[str, ...] = (),
              text: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read the wanted columns; numbers are inferred by the C parser (fast path), `text`
    columns are kept as strings.  A column that fails to infer as numeric is parsed (and
    reported) by `_numeric`."""
    wanted = set(required) | set(optional)
    try:
        header = pd.read_csv(f.path, nrows=0).columns
        dtypes = {c: str for c in header if str(c).strip() in set(text)}
        df = pd.read_csv(f.path, dtype=dtypes, keep_default_na=False, na_values=[""],
                         usecols=lambda c: str(c).strip() in wanted)
    except pd.errors.EmptyDataError:
        raise f.error("file is empty (no header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as exc:
        raise f.error(f"cannot parse file: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    for col in required:
        if col not in df.columns:
            raise f.error(f"required column '{col}' is missing", field=col)
    return df


def _per_unique(s: pd.Series, func) -> pd.Series:
    """Apply a vectorized `func` to the unique values of `s` only, then broadcast back."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    res = pd.Series(func(pd.Series(np.asarray(uniq, dtype=object), dtype=object)))
    out = res.reset_index(drop=True).reindex(codes)
    out.index = s.index
    return out


def _first_bad(f: _File, df: pd.DataFrame, col: str, bad: pd.Series, what: str) -> SourceError:
    i = int(np.flatnonzero(bad.to_numpy())[0])
    return f.error(f"{what} {df[col].iloc[i]!r} on data row {df.index[i] + 1}", field=col)


def _numeric(f: _File, df: pd.DataFrame, col: str, *, tokens: dict[str, float] | None = None,
             allow_na: bool = True) -> pd.Series:
    """Parse a numeric column; `tokens` maps known non-numeric markers (e.g. 'NL') to values."""
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
            raise _first_bad(f, df, col, bad, "non-numeric value")
    if not allow_na and out.isna().any():
        raise _first_bad(f, df, col, out.isna(), "missing value")
    return out


def _parse_dates(f: _File, df: pd.DataFrame, col: str, fmt: str) -> pd.Series:
    out = _per_unique(df[col], lambda u: pd.to_datetime(u.astype(str).str.strip(), format=fmt,
                                                        errors="coerce"))
    out = pd.to_datetime(out)
    bad = out.isna()
    if bad.any():
        raise _first_bad(f, df, col, bad, f"unparseable date (expected {fmt})")
    return out.astype("datetime64[ns]")


_BOOL = {"TRUE": True, "FALSE": False, "T": True, "F": False, "1": True, "0": False,
         "YES": True, "NO": False}


def _bool(f: _File, df: pd.DataFrame, col: str) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool)
    out = _per_unique(s, lambda u: u.astype(str).str.strip().str.upper().map(_BOOL))
    bad = out.isna()
    if bad.any():
        raise _first_bad(f, df, col, bad, "not a boolean:")
    return out.astype(bool)


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
