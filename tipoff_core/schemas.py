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
- odds: American prices (moneylines and the spread/total prices); `home_spread` is the home
  team's line (negative = home favoured), `total` the over/under line; a price is NaN when the
  book does not quote it (the archive has no spread/total prices).
"""
from __future__ import annotations

import pandas as pd

# 2: box scores carry the whole traditional line, schedules neutral_site
# 3: odds carry the spread and total prices (home/away_spread_price, over/under_price); runs
#    stored before read them as NaN (`restore_dtypes`)
SCHEMA_VERSION = 3

SCHEDULE = {
    "game_id": "str", "season": "str", "game_date": "date", "tip_ts": "ts",
    "home_team_id": "int", "away_team_id": "int", "home_team": "str", "away_team": "str",
    "game_type": "str",  # one of GAME_TYPES (archive and simulated: regular | playoff)
    "neutral_site": "bool",  # neither team at home (2020 bubble, NBA Cup knockouts, games abroad)
    # each team's regular-season games after this one in the published season schedule
    # (end-of-season rest); NA when the source does not know the season schedule
    "home_games_left": "Int", "away_games_left": "Int",
    "snapshot_ts": "ts",
}
INJURIES = {
    "game_date": "date", "team_id": "int", "team": "str", "player_id": "int", "player_name": "str",
    "status": "str",  # one of STATUSES; "Not Yet Submitted" rows are team-level (see there)
    "reason": "str", "snapshot_ts": "ts",
}
ODDS = {
    "game_id": "str", "bookmaker": "str", "home_ml": "float", "away_ml": "float",
    "home_spread": "float", "total": "float",
    # American prices of the two sides of the spread (home at home_spread, away at -home_spread)
    # and of the total (over / under `total`)
    "home_spread_price": "float", "away_spread_price": "float", "over_price": "float",
    "under_price": "float",
    "snapshot_ts": "ts",
}
# the odds columns that are prices, in pairs that form one two-way book each
PRICE_PAIRS = {"moneyline": ("home_ml", "away_ml"),
               "spread": ("home_spread_price", "away_spread_price"),
               "total": ("over_price", "under_price")}
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
    "oreb": "Int", "tov": "Int", "starter": "bool",
    # the rest of the traditional box line (player ratings use them); plus_minus = the team's
    # margin while the player was on the floor
    "plus_minus": "float", "fgm": "Int", "fg3m": "Int", "ftm": "Int", "dreb": "Int", "ast": "Int",
    "stl": "Int", "blk": "Int", "pf": "Int",
    "snapshot_ts": "ts",
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


NULLABLE_TYPES = ("float", "Int", "bool")


def restore_dtypes(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Canonical pandas dtypes after a parquet round trip (nullable ints and booleans).

    The one place stored tables meet a newer contract: a nullable column the table was written
    without (a run stored before the column existed, e.g. odds prices before version 3) comes back
    as all-NA; a missing non-nullable column is still an error (KeyError)."""
    schema, _ = TABLES[kind]
    out = {}
    for c, t in schema.items():
        if c not in df.columns and t in NULLABLE_TYPES:
            out[c] = pd.Series(float("nan") if t == "float" else pd.NA, index=df.index,
                               dtype=_PANDAS_DTYPE[t])
        else:
            out[c] = _cast(df[c], t)
    return pd.DataFrame(out, index=df.index)


# ----------------------------------------------------------------------------- value rules
# What a value of each kind may be, checked at the edge (every source, before anything is
# stored).  Ranges are inclusive and apply to non-null values; `RULES` are checks across fields.
# A violation is a RuleViolation naming the rule, the field and the first offending rows.

GAME_TYPES = ("preseason", "regular", "allstar", "playoff", "playin", "cup_final", "other")
AMERICAN_MIN, AMERICAN_MAX = 100.0, 100_000.0   # |American price|; -100 < x < 100 is not a price
MIN_OVERROUND, MAX_OVERROUND = 0.95, 1.30        # implied probabilities of a book's two sides
# A team whose official injury report is not in yet ("NOT YET SUBMITTED" in the PDF) is one
# team-level INJURIES row: player_id TEAM_LEVEL_PLAYER_ID, player_name "", status
# NOT_YET_SUBMITTED.  It means the team's availability is unknown at that snapshot -- never that
# nobody is injured; a later snapshot with the team's player rows supersedes it.
NOT_YET_SUBMITTED = "Not Yet Submitted"
TEAM_LEVEL_PLAYER_ID = 0
STATUSES = ("Out", "Doubtful", "Questionable", "Probable", "Available", NOT_YET_SUBMITTED)

RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "box_scores": {"minutes": (0, 70), "pts": (0, 100), "fga": (0, 60), "fta": (0, 40),
                   "oreb": (0, 30), "tov": (0, 20), "plus_minus": (-80, 80), "fgm": (0, 40),
                   "fg3m": (0, 20), "ftm": (0, 40), "dreb": (0, 40), "ast": (0, 40),
                   "stl": (0, 20), "blk": (0, 20), "pf": (0, 6)},
    "results": {"home_pts": (0, 200), "away_pts": (0, 200), "overtime_periods": (0, 10),
                **{f"{s}_{q}": (0, 90) for s in ("home", "away") for q in ("q1", "q2", "q3", "q4")},
                "home_ot": (0, 120), "away_ot": (0, 120)},
    "odds": {"home_spread": (-40, 40), "total": (150, 300)},
}


def _quarter_sum_mismatch(df: pd.DataFrame) -> pd.Series:
    bad = pd.Series(False, index=df.index)
    for side in ("home", "away"):
        parts = df[[f"{side}_{q}" for q in ("q1", "q2", "q3", "q4", "ot")]]
        known = parts[[f"{side}_{q}" for q in ("q1", "q2", "q3", "q4")]].notna().all(axis=1)
        total = parts.fillna(0).sum(axis=1)
        bad |= known & (total != df[f"{side}_pts"])
    return bad


def _not_american(s: pd.Series) -> pd.Series:
    v = s.astype("float64")
    return v.notna() & ~((v.abs() >= AMERICAN_MIN) & (v.abs() <= AMERICAN_MAX))


def _impossible_book(first: str, second: str):
    """Rule: where both sides are quoted, their implied probabilities add to a bookmaker's
    overround (a one-sided quote is allowed; a non-price is reported by its own rule)."""
    def implied(s):
        v = s.astype("float64")
        return pd.Series(pd.NA, index=s.index, dtype="Float64").where(
            v.isna(), (100 / (v + 100)).where(v > 0, -v / (-v + 100)))

    def check(df: pd.DataFrame) -> pd.Series:
        both = implied(df[first]) + implied(df[second])
        return (both.notna() & ((both < MIN_OVERROUND) | (both > MAX_OVERROUND))).fillna(False) \
            .astype(bool)
    return check


def _price_without_line(price: str, line: str):
    """Rule: a spread / total price is the price of a line, so the line must be quoted too."""
    return lambda df: df[price].notna() & df[line].isna()


def _same_teams(df: pd.DataFrame) -> pd.Series:
    return df["home_team_id"] == df["away_team_id"]


# kind -> [(rule name, field it is reported on, function frame -> bad-row mask)]
RULES: dict[str, list[tuple[str, str, object]]] = {
    "results": [("quarters sum to the final score", "home_pts", _quarter_sum_mismatch),
                ("home and away are different teams", "home_team_id", _same_teams)],
    "schedule": [("home and away are different teams", "home_team_id", _same_teams),
                 ("game_type is one of " + "/".join(GAME_TYPES), "game_type",
                  lambda df: ~df["game_type"].isin(GAME_TYPES))],
    "odds": [*((f"{c} is an American price", c, lambda df, c=c: _not_american(df[c]))
               for pair in PRICE_PAIRS.values() for c in pair),
             *((f"the two {market} prices form a real book (implied sum "
                f"{MIN_OVERROUND}-{MAX_OVERROUND})", first, _impossible_book(first, second))
               for market, (first, second) in PRICE_PAIRS.items()),
             *((f"{price} has its line ({line})", price, _price_without_line(price, line))
               for price, line in (("home_spread_price", "home_spread"),
                                   ("away_spread_price", "home_spread"),
                                   ("over_price", "total"), ("under_price", "total")))],
    "injuries": [("status is one of " + "/".join(STATUSES), "status",
                  lambda df: ~df["status"].isin(STATUSES))],
}


def _plain(v):
    return v.item() if hasattr(v, "item") else v


class RuleViolation(ValueError):
    """Values that break a declared rule; `rows` are the offending positions of the table."""

    def __init__(self, kind: str, field: str, rule: str, rows: list[int], examples: list[str]):
        self.kind, self.field, self.rule, self.rows = kind, field, rule, rows
        shown = "; ".join(examples[:3])
        super().__init__(f"'{rule}' broken in {len(rows)} row(s): {shown}")


def violations(df: pd.DataFrame, kind: str) -> list[RuleViolation]:
    """Every declared rule of `kind` that `df` (conformed) breaks, in declaration order."""
    out = []
    keys = TABLES[kind][1]
    def examples(mask, field):
        sub = df.loc[mask]
        return [f"row {i} ({', '.join(f'{k}={_plain(sub.at[i, k])}' for k in keys if k != 'snapshot_ts')}) "
                f"{field}={_plain(sub.at[i, field])}" for i in sub.index[:3]]
    for field, (lo, hi) in RANGES.get(kind, {}).items():
        v = pd.to_numeric(df[field], errors="coerce").astype("float64")
        mask = (v.notna() & ((v < lo) | (v > hi))).to_numpy()
        if mask.any():
            out.append(RuleViolation(kind, field, f"{field} in [{lo:g}, {hi:g}]",
                                     list(map(int, df.index[mask])), examples(mask, field)))
    for rule, field, check in RULES.get(kind, []):
        mask = (len(df) and check(df).fillna(False).to_numpy(bool)) if len(df) else None
        if mask is not None and mask.any():
            out.append(RuleViolation(kind, field, rule, list(map(int, df.index[mask])),
                                     examples(mask, field)))
    dup = df.duplicated(keys, keep=False).to_numpy()
    if dup.any():
        out.append(RuleViolation(kind, keys[0], f"one row per key ({', '.join(keys)})",
                                 list(map(int, df.index[dup])), examples(dup, keys[0])))
    return out


def games_left(games: pd.DataFrame, date: str, season: str, home: str, away: str,
               game_type: str) -> dict[str, pd.Series]:
    """`home_games_left` / `away_games_left` of a season schedule (every game of the seasons in
    `games`): each team's regular-season games dated after each game's date."""
    reg = games[games[game_type] == "regular"]
    long = pd.concat([reg[[season, date, home]].set_axis([season, date, "team"], axis=1),
                      reg[[season, date, away]].set_axis([season, date, "team"], axis=1)])
    long = long.sort_values([season, "team", date], kind="mergesort")
    counts = long.groupby([season, "team", date]).size().rename("n").reset_index()
    by_team = counts.groupby([season, "team"])["n"]  # dates ascending within a team-season
    counts["after"] = by_team.transform("sum") - by_team.cumsum()
    out = {}
    for side, col in (("home", home), ("away", away)):
        m = games[[season, date, col]].merge(
            counts.rename(columns={"team": col}), on=[season, date, col], how="left")
        # a team without a regular-season game that day (a playoff date): games after the date
        left = m["after"]
        if left.isna().any():
            later = long.merge(games.loc[left.isna().to_numpy(), [season, date, col]]
                               .rename(columns={col: "team", date: "d"}), on=[season, "team"])
            n = (later[date] > later["d"]).groupby([later[season], later["team"], later["d"]]).sum()
            n = n.rename("k").reset_index().rename(columns={"team": col, "d": date})
            fill = m[[season, col, date]].merge(n, on=[season, col, date], how="left")["k"]
            left = left.fillna(pd.Series(fill.fillna(0).to_numpy(), index=m.index))
        out[f"{side}_games_left"] = pd.Series(left.to_numpy(), index=games.index).astype("Int64")
    return out
