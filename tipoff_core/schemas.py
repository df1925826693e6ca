"""Table contracts shared by sources, assets, features and the `tipoff show` CLI.

Every normalized table a source returns is validated against one of these schemas before it is
written.  A schema maps column -> logical type.  Logical types:

  str      non-null string              int      non-null int64
  float    float64 (NaN allowed)        Int      nullable Int64
  bool     nullable boolean             ts       tz-aware UTC timestamp (non-null)
  date     'YYYY-MM-DD' string (America/New_York calendar date)

Conventions (the contract other modules rely on):
- ids: `team_id` is the NBA franchise id (1610612737..); `player_id` the NBA person id when known,
  else a stable negative surrogate; `game_id` is a string, stable across runs of the same source.
- `snapshot_ts` is when the row became knowable.  A source never returns a row with
  `snapshot_ts > as_of`.
- `tip_ts` / `final_ts` are UTC.  `game_date` is the local (America/New_York) date of the tip.
- odds: American moneylines; `home_spread` is the home team's line (negative = home favoured).
"""
from __future__ import annotations

import pandas as pd

SCHEMA_VERSION = 1

SCHEDULE = {
    "game_id": "str", "season": "str", "game_date": "date", "tip_ts": "ts",
    "home_team_id": "int", "away_team_id": "int", "home_team": "str", "away_team": "str",
    "game_type": "str",  # regular | playoff
    "snapshot_ts": "ts",
}
INJURIES = {
    "game_date": "date", "team_id": "int", "team": "str", "player_id": "int", "player_name": "str",
    "status": "str",  # Out | Doubtful | Questionable | Probable | Available
    "reason": "str", "snapshot_ts": "ts",
}
ODDS = {
    "game_id": "str", "bookmaker": "str", "home_ml": "float", "away_ml": "float",
    "home_spread": "float", "total": "float", "snapshot_ts": "ts",
}
ROSTERS = {
    "team_id": "int", "team": "str", "player_id": "int", "player_name": "str", "position": "str",
    "snapshot_ts": "ts",
}
RESULTS = {
    "game_id": "str", "season": "str", "game_date": "date", "home_team_id": "int",
    "away_team_id": "int", "home_pts": "int", "away_pts": "int",
    "home_q1": "Int", "home_q2": "Int", "home_q3": "Int", "home_q4": "Int", "home_ot": "Int",
    "away_q1": "Int", "away_q2": "Int", "away_q3": "Int", "away_q4": "Int", "away_ot": "Int",
    "overtime_periods": "Int", "final_ts": "ts", "snapshot_ts": "ts",
}
BOX_SCORES = {
    "game_id": "str", "game_date": "date", "team_id": "int", "player_id": "int",
    "player_name": "str", "minutes": "float", "pts": "Int", "fga": "Int", "fta": "Int",
    "oreb": "Int", "tov": "Int", "starter": "bool", "snapshot_ts": "ts",
}

# kind -> (schema, primary key).  Snapshot kinds may hold several snapshot_ts per key.
TABLES: dict[str, tuple[dict[str, str], list[str]]] = {
    "schedule": (SCHEDULE, ["game_id", "snapshot_ts"]),
    "injuries": (INJURIES, ["team_id", "player_id", "game_date", "snapshot_ts"]),
    "odds": (ODDS, ["game_id", "bookmaker", "snapshot_ts"]),
    "rosters": (ROSTERS, ["team_id", "player_id", "snapshot_ts"]),
    "results": (RESULTS, ["game_id"]),
    "box_scores": (BOX_SCORES, ["game_id", "player_id"]),
}
SNAPSHOT_KINDS = ("schedule", "injuries", "odds", "rosters")
LABEL_KINDS = ("results", "box_scores")

_PANDAS_DTYPE = {
    "str": "object", "float": "float64", "int": "int64", "Int": "Int64", "bool": "boolean",
    "date": "object",
}


class SchemaError(ValueError):
    """A table does not match its contract.  The message names source, endpoint and field."""

    def __init__(self, source: str, endpoint: str, field: str, problem: str):
        self.source, self.endpoint, self.field = source, endpoint, field
        super().__init__(f"[{source}] {endpoint}: field '{field}' {problem}")


def empty_frame(kind: str) -> pd.DataFrame:
    schema, _ = TABLES[kind]
    cols = {}
    for col, typ in schema.items():
        cols[col] = pd.Series([], dtype="datetime64[us, UTC]" if typ == "ts" else _PANDAS_DTYPE[typ])
    return pd.DataFrame(cols)


def conform(df: pd.DataFrame, kind: str, source: str, endpoint: str) -> pd.DataFrame:
    """Return `df` with exactly the schema's columns, in order, with canonical dtypes.

    Raises SchemaError naming the first missing or mistyped field.  Extra columns are dropped.
    """
    schema, _ = TABLES[kind]
    out = {}
    for col, typ in schema.items():
        if col not in df.columns:
            raise SchemaError(source, endpoint, col, "is missing")
        s = df[col]
        try:
            out[col] = _cast(s, typ)
        except (ValueError, TypeError) as exc:
            raise SchemaError(source, endpoint, col, f"has a value that is not {typ}: {exc}") from None
        if typ in ("str", "int", "ts", "date") and out[col].isna().any():
            raise SchemaError(source, endpoint, col, "has null values")
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


_DATE_RE = r"\d{4}-\d{2}-\d{2}"


def _cast(s: pd.Series, typ: str) -> pd.Series:
    # Fast paths first: sources usually hand over frames already in canonical dtypes, and this
    # runs once per fetch on every table.
    s = s.reset_index(drop=True)
    if typ == "ts":
        if str(s.dtype) == "datetime64[us, UTC]":
            return s
        if not pd.api.types.is_datetime64_any_dtype(s):
            s = pd.to_datetime(s, utc=True, format="ISO8601")
        elif s.dt.tz is None:
            s = s.dt.tz_localize("UTC")
        return s.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if typ == "date":
        if pd.api.types.is_datetime64_any_dtype(s):
            return s.dt.strftime("%Y-%m-%d").astype(object)
        uniq = pd.Series(pd.unique(s.dropna())).astype(str)  # few distinct dates: check those
        bad = ~uniq.str.fullmatch(_DATE_RE)
        if bad.any():
            raise ValueError(f"{uniq[bad].iloc[0]!r} is not YYYY-MM-DD")
        return s.astype(object) if s.isna().any() or s.dtype == object else s.astype(str).astype(object)
    if typ == "str":
        if s.dtype == object or s.isna().any():
            return s.astype(object)
        return s.astype(str).astype(object)
    if typ == "int":
        if s.dtype == "int64":
            return s
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            s = pd.to_numeric(s, errors="raise")
        if pd.api.types.is_float_dtype(s):
            if s.isna().any():
                return s  # reported as null by the caller
            if not (s == s.round()).all():
                raise ValueError("non-integral number")
        return s.astype("int64")
    if typ == "Int":
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            s = pd.to_numeric(s, errors="raise")
        return s.astype("Int64")
    if typ == "float":
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            s = pd.to_numeric(s, errors="raise")
        return s.astype("float64")
    if typ == "bool":
        return s.astype("boolean")
    raise KeyError(typ)


def schema_markdown(kind: str) -> dict[str, str]:
    """Column -> logical type, for asset metadata."""
    return dict(TABLES[kind][0])


def arrow_schema(kind: str):
    """Explicit Arrow schema so empty and all-null partitions still read back as one dataset."""
    import pyarrow as pa
    arrow = {"str": pa.string(), "date": pa.string(), "int": pa.int64(), "Int": pa.int64(),
             "float": pa.float64(), "bool": pa.bool_(), "ts": pa.timestamp("us", tz="UTC")}
    return pa.schema([(c, arrow[t]) for c, t in TABLES[kind][0].items()])


def restore_dtypes(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Canonical pandas dtypes after a parquet round trip (nullable ints and booleans)."""
    schema, _ = TABLES[kind]
    return pd.DataFrame({c: _cast(df[c], t) for c, t in schema.items()}, index=df.index)
