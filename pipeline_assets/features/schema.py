"""Versioned column contracts of the feature tables (gold and live share them).

Two feature sets:

``game``     one row per target game: ids, model features (FEATURE_COLUMNS), a separate market
             group (MARKET_COLUMNS, prefix ``mkt_``) and labels.
``minutes``  one row per (target game, player): ids, features, ``label_minutes``.

Every builder ends with ``validate_features(df, name)``; a change to any list below must bump
``FEATURE_SCHEMA_VERSION`` (stored with every feature table and model).

Logical dtypes (``DTYPES`` maps them to pandas):

  str   string (object or str dtype)     date  'YYYY-MM-DD' string (America/New_York date)
  ts    tz-aware UTC timestamp           int   int64, non-null
  float float64 (NaN allowed)            bool  numpy bool, non-null
  boolean  nullable boolean (labels)     Int   nullable Int64 (labels)

Defaults when a team has no game yet this season (see ``TEAM_DEFAULTS``): counts 0, win % 0.5,
margins / streak / net rating 0, days of rest 10 (the cap) with ``first_game`` True, levels
(points per game, last-5 points, offensive / defensive rating) NaN -- there is no neutral level.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

# Availability features of a candidate player (computed in features/availability.py).
AVAIL_FEATURES = [
    "missed", "days_since", "played_l3", "played_l5", "played_l10", "played_l20", "min_last",
    "min_l5", "min_ewm", "min_team_l5", "season_share", "new_season", "apps_team", "ramp",
    "inj_out", "inj_q", "inj_prob", "inj_games", "inj_protocol", "inj_long", "b2b",
    "three_in_four", "b2b_x_min", "min_rank", "on_roster", "team_win_pct", "games_left",
    "playoff",
]
# Box-score stats a player rating uses, and the decayed sums stored for it (features/players.py).
BOX_STATS = ("pts", "fgm", "fga", "fg3m", "ftm", "fta", "oreb", "dreb", "ast", "stl", "blk",
             "tov", "pf")
RATING_SUMS = {"D_min": "rt_minutes", "D_pm": "rt_pm", **{f"D_{s}": f"rt_{s}" for s in BOX_STATS}}
RATING_SUM_COLUMNS = list(RATING_SUMS.values())
RATING_APPS_COLUMN = "rt_apps"

# v2: stale injury statuses (played since) dropped; v3: player-game rows are the candidates of each
# side with availability features and rating sums, games carry the home flag (0 at neutral sites)
FEATURE_SCHEMA_VERSION = "features-v3"

# ----------------------------------------------------------------------------- game features

GAME_ID_COLUMNS: list[tuple[str, str]] = [
    ("game_id", "str"), ("season", "str"), ("game_date", "date"), ("tip_ts", "ts"),
    ("cutoff_ts", "ts"), ("home_team_id", "int"), ("away_team_id", "int"),
]

# Per-team features; each appears as home_<name> and away_<name>.
TEAM_FEATURES: list[tuple[str, str]] = [
    # season to date (games final at or before cutoff, this season only)
    ("games", "int"),             # games played this season
    ("win_pct", "float"),         # wins / games (0.5 when none)
    ("pts_for_pg", "float"),      # points scored per game
    ("pts_against_pg", "float"),  # points allowed per game
    # form: last up to 5 games this season
    ("last5_pts_for", "float"),
    ("last5_pts_against", "float"),
    ("last5_margin", "float"),
    ("last5_wins", "int"),
    ("streak", "int"),            # +n = won the last n, -n = lost the last n (this season)
    # schedule
    ("days_rest", "int"),         # days since the last game this season, capped at 10 (10 if none)
    ("first_game", "bool"),       # no game this season yet
    ("b2b", "bool"),              # played the previous calendar day
    # efficiency per 100 possessions (season to date, mean over games)
    ("off_rating", "float"),
    ("def_rating", "float"),
    ("net_rating", "float"),
    ("possession_based", "float"),  # share of those games whose possessions came from box scores
    # strength
    ("elo", "float"),             # FiveThirtyEight Elo before the game
    # availability (injury report as of cutoff)
    ("inj_out_count", "int"),     # players Out or Doubtful
    ("inj_out_min_share", "float"),  # their expected minutes / 240
    ("inj_impact", "float"),      # their expected points / team points per game (value-weighted)
]
TEAM_DEFAULTS: dict[str, float | int | bool] = {
    "games": 0, "win_pct": 0.5, "pts_for_pg": np.nan, "pts_against_pg": np.nan,
    "last5_pts_for": np.nan, "last5_pts_against": np.nan, "last5_margin": 0.0, "last5_wins": 0,
    "streak": 0, "days_rest": 10, "first_game": True, "b2b": False,
    "off_rating": np.nan, "def_rating": np.nan, "net_rating": 0.0, "possession_based": 0.0,
}
REST_CAP_DAYS = 10

# home_<x> - away_<x>
DIFF_FEATURES: list[str] = [
    "win_pct", "pts_for_pg", "pts_against_pg", "last5_pts_for", "last5_pts_against",
    "last5_margin", "last5_wins", "streak", "days_rest", "off_rating", "def_rating", "net_rating",
    "elo", "inj_out_min_share", "inj_impact",
]

MATCHUP_FEATURES: list[tuple[str, str]] = [
    ("h2h_games", "int"),          # meetings this season final at or before cutoff
    ("h2h_home_wins", "int"),      # of which won by today's home team
    ("h2h_home_margin", "float"),  # mean margin from today's home team's side (0 if none)
    ("elo_prob_home", "float"),    # Elo win probability, home advantage included
    ("home_flag", "float"),        # 1, or 0 when the game is at a neutral site
]


def _team_type(name: str) -> str:
    return dict(TEAM_FEATURES)[name]


GAME_FEATURE_COLUMNS: list[tuple[str, str]] = (
    [(f"home_{c}", t) for c, t in TEAM_FEATURES]
    + [(f"away_{c}", t) for c, t in TEAM_FEATURES]
    + [(f"diff_{c}", _team_type(c)) for c in DIFF_FEATURES]
    + MATCHUP_FEATURES
)

# Market group: kept apart so a model can be trained with or without the market's opinion.
GAME_MARKET_COLUMNS: list[tuple[str, str]] = [
    ("mkt_available", "bool"),     # at least one bookmaker row at or before cutoff
    ("mkt_n_books", "int"),
    ("mkt_prob_home", "float"),    # median over books of the de-vigged (multiplicative) P(home)
    ("mkt_home_spread", "float"),  # median home spread (negative = home favoured)
    ("mkt_total", "float"),        # median total
]
# Line movement (open vs latest consensus, `asof.market_movement`) is OFF by default: it brought
# no gain on the simulated league, the only data with moving lines (exp/FINDINGS.md, "Line
# movement").  TIPOFF_LINE_MOVEMENT=1 adds it to the market group for gold and live alike, under
# its own schema version so tables and models of the two never mix.
LINE_MOVEMENT = os.environ.get("TIPOFF_LINE_MOVEMENT", "") == "1"
if LINE_MOVEMENT:
    GAME_MARKET_COLUMNS += [(c, "float") for c in (
        "mkt_open_prob_home", "mkt_open_home_spread", "mkt_open_total",
        "mkt_move_prob_home", "mkt_move_home_spread", "mkt_move_total")]
    FEATURE_SCHEMA_VERSION += "+line-movement"

GAME_LABEL_COLUMNS: list[tuple[str, str]] = [
    ("label_home_win", "boolean"), ("label_margin", "Int"), ("label_total", "Int"),
]

# --------------------------------------------------------------------------- minutes features

MINUTES_ID_COLUMNS: list[tuple[str, str]] = [
    ("game_id", "str"), ("season", "str"), ("game_date", "date"), ("tip_ts", "ts"),
    ("cutoff_ts", "ts"), ("team_id", "int"), ("opp_team_id", "int"), ("player_id", "int"),
    ("player_name", "str"),
]
MINUTES_FEATURE_COLUMNS: list[tuple[str, str]] = [
    ("is_home", "bool"),
    ("min_last1", "float"),        # mean minutes over the last 1/3/5/10 appearances (any season;
    ("min_last3", "float"),        # fewer if fewer exist; NaN if none)
    ("min_last5", "float"),
    ("min_last10", "float"),
    ("min_season_mean", "float"),  # this season (NaN if no appearance yet)
    ("min_ewm", "float"),          # exponentially weighted, half-life 5 appearances
    ("starts_share", "float"),     # starts / appearances with a known starter flag, last 10
    ("games_season", "int"),       # appearances this season
    ("days_since_last", "float"),  # days since the last appearance (NaN if none)
    ("team_b2b", "bool"),          # the player's team played the previous calendar day
    ("role_change", "float"),      # min_last5 - min_season_mean
    ("inj_out", "bool"),           # the player's own latest injury status as of cutoff
    ("inj_doubtful", "bool"),
    ("inj_questionable", "bool"),
    ("inj_probable", "bool"),
    ("teammates_out", "int"),      # teammates Out or Doubtful
    ("teammates_out_min", "float"),  # sum of their last-10 mean minutes (minutes freed)
    ("mkt_abs_spread", "float"),   # |consensus spread| as of cutoff (blowout risk; NaN if none)
    # availability features (see features/availability.py), prefixed av_
    *[(f"av_{f}", "float") for f in AVAIL_FEATURES],
    # decayed sums a player rating is made of (see features/players.py)
    *[(c, "float") for c in RATING_SUM_COLUMNS],
    (RATING_APPS_COLUMN, "int"),
]
MINUTES_LABEL_COLUMNS: list[tuple[str, str]] = [("label_minutes", "float"),
                                                ("label_played", "boolean")]

SCHEMAS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "game": {"id": GAME_ID_COLUMNS, "feature": GAME_FEATURE_COLUMNS,
             "market": GAME_MARKET_COLUMNS, "label": GAME_LABEL_COLUMNS},
    "minutes": {"id": MINUTES_ID_COLUMNS, "feature": MINUTES_FEATURE_COLUMNS,
                "market": [], "label": MINUTES_LABEL_COLUMNS},
}


def _names(cols: list[tuple[str, str]]) -> list[str]:
    return [c for c, _ in cols]


ID_COLUMNS = {k: _names(v["id"]) for k, v in SCHEMAS.items()}
FEATURE_COLUMNS = {k: _names(v["feature"]) for k, v in SCHEMAS.items()}
MARKET_COLUMNS = {k: _names(v["market"]) for k, v in SCHEMAS.items()}
LABEL_COLUMNS = {k: _names(v["label"]) for k, v in SCHEMAS.items()}


def columns(name: str) -> list[tuple[str, str]]:
    """Every (column, logical dtype) of a feature set, in table order."""
    s = _schema(name)
    return s["id"] + s["feature"] + s["market"] + s["label"]


def dtypes(name: str) -> dict[str, str]:
    return dict(columns(name))


def _schema(name: str) -> dict[str, list[tuple[str, str]]]:
    if name not in SCHEMAS:
        raise KeyError(f"unknown feature set {name!r} (known: {sorted(SCHEMAS)})")
    return SCHEMAS[name]


# --------------------------------------------------------------------------------- validation

class FeatureSchemaError(ValueError):
    """A feature table does not match its versioned contract."""


def _dtype_ok(s: pd.Series, typ: str) -> bool:
    d = s.dtype
    if typ in ("str", "date"):
        return d == object or isinstance(d, pd.StringDtype)
    if typ == "ts":
        return isinstance(d, pd.DatetimeTZDtype) and str(d.tz) == "UTC"
    if typ == "int":
        return d == np.int64
    if typ == "float":
        return d == np.float64
    if typ == "bool":
        return d == np.bool_
    if typ == "boolean":
        return isinstance(d, pd.BooleanDtype)
    if typ == "Int":
        return isinstance(d, pd.Int64Dtype)
    raise KeyError(typ)


_NON_NULL = ("str", "date", "ts", "int", "bool")


def validate_features(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Check ``df`` against the ``name`` contract; returns ``df`` unchanged or raises.

    The error names every missing, extra, mistyped, null-in-non-null and out-of-order column.
    """
    expected = columns(name)
    exp_names = [c for c, _ in expected]
    problems = []
    missing = [c for c in exp_names if c not in df.columns]
    extra = [c for c in df.columns if c not in exp_names]
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
        problems.append(f"extra columns {extra}")
    if df.columns.duplicated().any():
        problems.append(f"duplicated columns {sorted(set(df.columns[df.columns.duplicated()]))}")
    mistyped, nulls = [], []
    for col, typ in expected:
        if col not in df.columns or df.columns.duplicated().any():
            continue
        if not _dtype_ok(df[col], typ):
            mistyped.append(f"{col} ({df[col].dtype}, expected {typ})")
        elif typ in _NON_NULL and df[col].isna().any():
            nulls.append(col)
    if mistyped:
        problems.append(f"mistyped columns {mistyped}")
    if nulls:
        problems.append(f"null values in non-null columns {nulls}")
    if not (missing or extra) and list(df.columns) != exp_names:
        problems.append("columns out of order")
    if problems:
        raise FeatureSchemaError(
            f"feature table {name!r} ({FEATURE_SCHEMA_VERSION}) does not match its schema: "
            + "; ".join(problems))
    return df


def empty_features(name: str) -> pd.DataFrame:
    """A zero-row table with the contract's columns and dtypes."""
    out = {}
    for col, typ in columns(name):
        out[col] = pd.Series([], dtype=_PANDAS[typ])
    return pd.DataFrame(out)


_PANDAS = {"str": object, "date": object, "ts": "datetime64[us, UTC]", "int": "int64",
           "float": "float64", "bool": "bool", "boolean": "boolean", "Int": "Int64"}


def conform_features(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Order and cast a builder's frame to the contract (then validate)."""
    out = {}
    for col, typ in columns(name):
        if col not in df.columns:
            raise FeatureSchemaError(f"feature table {name!r}: builder did not produce {col!r}")
        s = df[col]
        if typ in ("str", "date"):
            if s.dtype != object:
                s = s.astype(object)
        elif typ == "ts":
            if s.dtype != "datetime64[us, UTC]":
                s = pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]")
        elif s.dtype != _PANDAS[typ]:
            s = s.astype(_PANDAS[typ])
        out[col] = s.reset_index(drop=True)
    res = pd.DataFrame(out, index=pd.RangeIndex(len(df)))
    return validate_features(res, name)


# ------------------------------------------------------------------------------ parity check

def diff_features(a: pd.DataFrame, b: pd.DataFrame, keys: list[str],
                  atol: float = 1e-9) -> pd.DataFrame:
    """Compare two feature tables row by row on ``keys``.

    Returns one row per column that differs: ``column``, ``n_rows_differing``, ``max_abs_diff``
    (NaN for non-numeric columns), ``example_key`` (a dict of the first differing row's keys);
    plus rows ``column='<only_in_a>'`` / ``'<only_in_b>'`` counting keys present on one side
    only, and ``'<columns_only_in_a>'`` / ``'<columns_only_in_b>'`` for unmatched columns.
    NaN equals NaN; numeric columns compare with absolute tolerance ``atol``.  An empty result
    means the tables agree.
    """
    out_cols = ["column", "n_rows_differing", "max_abs_diff", "example_key"]
    rows: list[dict] = []
    for side, df in (("a", a), ("b", b)):
        dup = df.duplicated(keys)
        if dup.any():
            raise ValueError(f"diff_features: side {side} has duplicated keys, e.g. "
                             f"{df.loc[dup, keys].iloc[0].to_dict()}")
    ka = a[keys].drop_duplicates()
    kb = b[keys].drop_duplicates()
    m = ka.merge(kb, on=keys, how="outer", indicator=True)
    for flag, label in (("left_only", "<only_in_a>"), ("right_only", "<only_in_b>")):
        only = m[m["_merge"] == flag]
        if len(only):
            rows.append({"column": label, "n_rows_differing": len(only), "max_abs_diff": np.nan,
                         "example_key": only[keys].iloc[0].to_dict()})
    cols_a = [c for c in a.columns if c not in keys]
    cols_b = [c for c in b.columns if c not in keys]
    for label, cols in (("<columns_only_in_a>", [c for c in cols_a if c not in cols_b]),
                        ("<columns_only_in_b>", [c for c in cols_b if c not in cols_a])):
        if cols:
            rows.append({"column": label, "n_rows_differing": len(cols), "max_abs_diff": np.nan,
                         "example_key": {"columns": cols}})
    common = [c for c in cols_a if c in cols_b]
    j = a[keys + common].merge(b[keys + common], on=keys, how="inner", suffixes=("__a", "__b"))
    for col in common:
        x, y = j[f"{col}__a"], j[f"{col}__b"]
        xn, yn = x.isna().to_numpy(), y.isna().to_numpy()
        numeric = (_is_numeric(x) and _is_numeric(y))
        if numeric:
            xv, yv = _floats(x), _floats(y)
            both = ~xn & ~yn
            absdiff = np.where(both, np.abs(xv - yv), 0.0)
            differ = (xn != yn) | (both & ~(absdiff <= atol))
            max_abs = float(absdiff[both & differ].max()) if (both & differ).any() else np.nan
        else:
            eq = (x.astype(object).to_numpy() == y.astype(object).to_numpy())
            differ = (xn != yn) | (~xn & ~yn & ~eq)
            max_abs = np.nan
        n = int(differ.sum())
        if n:
            first = int(np.flatnonzero(differ)[0])
            rows.append({"column": col, "n_rows_differing": n, "max_abs_diff": max_abs,
                         "example_key": j[keys].iloc[first].to_dict()})
    return pd.DataFrame(rows, columns=out_cols)


def _floats(s: pd.Series) -> np.ndarray:
    if s.dtype == bool:
        return s.to_numpy(float)
    return s.astype("float64").to_numpy(na_value=np.nan)


def _is_numeric(s: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype))
