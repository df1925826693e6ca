"""Player strength as of a cutoff from box scores (Dagster-free, vectorised, as-of safe).

Every quantity is a time-decayed sum over a player's appearances (box rows with minutes)
available at the target's cutoff (``avail_ts <= cutoff_ts``, see ``asof``):

    D_x(c) = sum_i x_i * 2 ** (-(c - t_i) / half_life)          t_i = availability of appearance i

computed once per player as a stream (state after each appearance, decayed to its own time) and
read at the cutoff with ``merge_asof`` plus the extra decay factor ``2 ** (-(c - t_last) / h)``.
Appearances after the cutoff never enter, so adding rows after a cutoff cannot change a value.
Decay runs in calendar days across seasons, so an off-season (about 120 days) regresses a
player toward his prior by itself: ratings are carried across seasons, never reset.

Ratings are per-minute on-court margins (points per minute, team minus opponent, while on the
floor), reported per 48 minutes:

* box rate of stat x:  (D_x + k_box * repl_x) / (D_min + k_box)    (shrunk to replacement rates)
* box rating:          b0 + sum_x b_x * rate_x                      (BPM-like; ``BoxWeights``)
* plus-minus rating:   (D_pm + k_pm * prior) / (D_min + k_pm)        prior = box rating (per min)
* ``rating``:          the plus-minus rating (its prior is the box rating), x 48

``BoxWeights`` are fit by :func:`fit_box_weights` on TRAINING seasons only (player-season
plus-minus per minute on the same season's box rates, minutes-weighted ridge); defaults in
``DEFAULT_BOX_WEIGHTS`` were fit on 2015-16..2018-19 and are only a fallback.

Team aggregation (:func:`team_strength`): with expected minutes ``m_p`` (given he plays) and
``P_p`` = P(plays),

    avail = [sum_p P_p m_p r_p + max(0, 240 - sum P m) * r_repl] / max(240, sum P m)
    full  = sum_p m_p r_p / sum_p m_p         (every candidate available, minutes scaled)

i.e. the minutes-weighted mean rating of the expected floor time (x5 = expected margin per 48 of
the lineup) -- unfilled minutes go to a replacement-level player, not to a league-average one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline_assets.features import asof as A
from pipeline_assets.features.schema import BOX_STATS, RATING_APPS_COLUMN, RATING_SUMS
from tipoff_core.jit import njit

DAY_NS = 86_400e9
DEFAULT_HALF_LIFE_DAYS = 365.0
DEFAULT_K_PM = 1500.0    # prior weight of the plus-minus rating, in (decayed) minutes
DEFAULT_K_BOX = 300.0    # prior weight of the box rates, in minutes
REPL_RATING_48 = -3.0    # replacement-level on-court margin per 48 (unknown / unfilled minutes)


@dataclass
class BoxWeights:
    """Box rating per minute = intercept + sum coef[x] * rate_x (rates per minute)."""
    intercept: float
    coef: dict[str, float]
    repl_rates: dict[str, float] = field(default_factory=dict)  # shrinkage targets per minute

    def rating(self, rates: pd.DataFrame) -> np.ndarray:
        out = np.full(len(rates), self.intercept)
        for k, b in self.coef.items():
            out = out + b * rates[k].to_numpy(float)
        return out


# fit_box_weights on the archive's 2015-16..2018-19 player seasons (ridge 1, >= 250 minutes); a
# fallback for a deployment without training seasons of its own -- refit on training data.
DEFAULT_BOX_WEIGHTS = BoxWeights(
    intercept=-0.097324,
    coef={"pts": 0.483436, "fgm": 1.588907, "fga": -1.298477, "fg3m": 1.464168, "ftm": 0.221109,
          "fta": -0.206627, "oreb": 0.002913, "dreb": 0.250853, "ast": 0.790591,
          "stl": 1.348439, "blk": 1.027981, "tov": -1.888896, "pf": -0.436632},
    repl_rates={"pts": 0.34515, "fgm": 0.129743, "fga": 0.303816, "fg3m": 0.030519,
                "ftm": 0.055145, "fta": 0.079024, "oreb": 0.047515, "dreb": 0.134026,
                "ast": 0.074337, "stl": 0.030717, "blk": 0.021333, "tov": 0.051051,
                "pf": 0.104136})


@njit(cache=True)
def _decayed(group, t_days, X, half_life):
    """State after each event of its group (rows grouped, time-ordered within a group):
    S_i = S_{i-1} * 2^(-(t_i - t_{i-1}) / h) + X_i."""
    n, k = X.shape
    out = np.empty((n, k))
    for i in range(n):
        if i == 0 or group[i] != group[i - 1]:
            for j in range(k):
                out[i, j] = X[i, j]
        else:
            f = 2.0 ** (-(t_days[i] - t_days[i - 1]) / half_life)
            for j in range(k):
                out[i, j] = out[i - 1, j] * f + X[i, j]
    return out


_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def _days(ts: pd.Series) -> np.ndarray:
    """UTC timestamps -> float days since 1970-01-01."""
    s = pd.Series(ts).reset_index(drop=True)
    return ((s - _EPOCH) / pd.Timedelta(days=1)).to_numpy(float)


def rating_stream(box: pd.DataFrame, half_life: float = DEFAULT_HALF_LIFE_DAYS,
                  stats: tuple[str, ...] = BOX_STATS) -> pd.DataFrame:
    """One row per appearance (box row with minutes and a plus-minus), in availability order,
    with decayed sums ``D_min``, ``D_pm``, ``D_<stat>`` and the count ``n`` after it.
    ``box`` needs ``avail_ts`` (``asof.prepare``); missing stats count as 0."""
    b = box[box["minutes"].notna()]
    if "plus_minus" in b.columns:
        b = b[b["plus_minus"].notna()]
    cols = {"player_id": b["player_id"].to_numpy(), "team_id": b["team_id"].to_numpy(),
            "game_id": b["game_id"].to_numpy(), "ts": b["avail_ts"].array,
            "min": b["minutes"].to_numpy(float)}
    cols["pm"] = (b["plus_minus"].to_numpy(float) if "plus_minus" in b.columns
                  else np.zeros(len(b)))
    for s in stats:
        cols[s] = (np.nan_to_num(pd.to_numeric(b[s], errors="coerce").to_numpy(float))
                   if s in b.columns else np.zeros(len(b)))
    df = A._sorted(pd.DataFrame(cols), ["player_id", "ts", "game_id"])
    vals = ["min", "pm", *stats]
    X = df[vals].to_numpy(float)
    S = _decayed(df["player_id"].to_numpy(np.int64), _days(df["ts"]), X, float(half_life))
    for j, v in enumerate(vals):
        df[f"D_{v}"] = S[:, j]
    df["n"] = df.groupby("player_id", sort=False).cumcount() + 1
    df = A._sorted(df, ["ts", "player_id", "game_id"])
    df.attrs["half_life"] = float(half_life)
    df.attrs["stats"] = tuple(stats)
    return df


def decayed_asof(rows: pd.DataFrame, stream: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``cols`` (decayed sums) of each row's player as of its ``cutoff_ts``, decayed to the
    cutoff; 0 when the player has no appearance available.  Aligned with ``rows``."""
    h = stream.attrs["half_life"]
    st = stream.assign(t_last=stream["ts"])
    m = A.asof(rows, st, ["player_id"], cols + ["t_last", "n"])
    f = 2.0 ** (-(_days(rows["cutoff_ts"].reset_index(drop=True))
                  - _days(m["t_last"].fillna(rows["cutoff_ts"].reset_index(drop=True)))) / h)
    out = pd.DataFrame({c: m[c].fillna(0.0).to_numpy() * f for c in cols})
    out["n"] = m["n"].fillna(0).to_numpy(np.int64)
    return out


# The decayed sums a rating is made of are stored in the minutes feature table (model-free: the
# box weights that turn them into a rating are fit at training time on training seasons).
SUM_COLUMNS, APPS_COLUMN = RATING_SUMS, RATING_APPS_COLUMN


def rating_sums(rows: pd.DataFrame, stream: pd.DataFrame) -> pd.DataFrame:
    """The decayed sums (``SUM_COLUMNS``) and appearance count of each row's player as of its
    ``cutoff_ts`` (rows: ``player_id``, ``cutoff_ts``); aligned with ``rows``."""
    cols = ["D_min", "D_pm", *(f"D_{s}" for s in stream.attrs["stats"])]
    d = decayed_asof(rows, stream, cols)
    return d.rename(columns={**SUM_COLUMNS, "n": APPS_COLUMN})


def ratings_from_sums(sums: pd.DataFrame, weights: BoxWeights, k_pm: float = DEFAULT_K_PM,
                      k_box: float = DEFAULT_K_BOX, repl_48: float = REPL_RATING_48
                      ) -> pd.DataFrame:
    """Ratings per 48 minutes from ``rating_sums`` columns: ``exposure`` (decayed minutes),
    ``r_box``, ``r_pm_raw`` (prior = replacement), ``rating`` (plus-minus shrunk to the box
    rating).  Aligned with ``sums``."""
    mins = sums["rt_minutes"].to_numpy(float)
    pm = sums["rt_pm"].to_numpy(float)
    rates = pd.DataFrame({s: (sums[f"rt_{s}"].to_numpy(float)
                              + k_box * weights.repl_rates.get(s, 0.0)) / (mins + k_box)
                          for s in BOX_STATS if f"rt_{s}" in sums})
    repl = repl_48 / 48.0
    r_box = np.where(mins > 0, weights.rating(rates), repl)  # per minute
    return pd.DataFrame({
        "exposure": mins,
        "r_box": 48.0 * r_box,
        "r_pm_raw": 48.0 * (pm + k_pm * repl) / (mins + k_pm),
        "rating": 48.0 * (pm + k_pm * r_box) / (mins + k_pm),
        "n_apps": sums[APPS_COLUMN].to_numpy(),
    }, index=sums.index)


def player_ratings(rows: pd.DataFrame, stream: pd.DataFrame, weights: BoxWeights,
                   k_pm: float = DEFAULT_K_PM, k_box: float = DEFAULT_K_BOX,
                   repl_48: float = REPL_RATING_48) -> pd.DataFrame:
    """Ratings per 48 minutes as of each row's cutoff (rows: ``player_id``, ``cutoff_ts``),
    see ``ratings_from_sums``.  Aligned with ``rows``."""
    return ratings_from_sums(rating_sums(rows, stream), weights, k_pm, k_box, repl_48)


def season_totals(box: pd.DataFrame, stats: tuple[str, ...] = BOX_STATS) -> pd.DataFrame:
    """Per (player, season): minutes, plus-minus and box totals (for :func:`fit_box_weights`)."""
    b = box[box["minutes"].notna() & box["plus_minus"].notna()]
    cols = ["minutes", "plus_minus", *stats]
    agg = b.groupby(["player_id", "season"])[cols].sum().reset_index()
    return agg


def fit_box_weights(totals: pd.DataFrame, min_minutes: float = 250.0, ridge: float = 1.0,
                    stats: tuple[str, ...] = BOX_STATS, repl_quantile_minutes: float = 500.0
                    ) -> BoxWeights:
    """Minutes-weighted ridge of player-season plus-minus per minute on per-minute box rates
    (player-seasons with >= ``min_minutes``); ``ridge`` on standardised rates.  Replacement rates
    are the minutes-weighted rates of player-seasons under ``repl_quantile_minutes`` minutes."""
    t = totals[totals["minutes"] >= min_minutes]
    mins = t["minutes"].to_numpy(float)
    R = np.column_stack([t[s].to_numpy(float) / mins for s in stats])
    y = t["plus_minus"].to_numpy(float) / mins
    w = mins / mins.mean()
    mu = np.average(R, axis=0, weights=w)
    sd = np.sqrt(np.average((R - mu) ** 2, axis=0, weights=w)) + 1e-12
    Z = (R - mu) / sd
    ym = np.average(y, weights=w)
    A_ = (Z * w[:, None]).T @ Z + ridge * np.eye(len(stats))
    beta_z = np.linalg.solve(A_, (Z * w[:, None]).T @ (y - ym))
    beta = beta_z / sd
    b0 = ym - float(mu @ beta)
    low = totals[(totals["minutes"] > 0) & (totals["minutes"] < repl_quantile_minutes)]
    lm = low["minutes"].sum()
    repl = {s: float(low[s].sum() / lm) if lm > 0 else float(mu[i])
            for i, s in enumerate(stats)}
    return BoxWeights(float(b0), {s: float(b) for s, b in zip(stats, beta)}, repl)


def team_strength(cand: pd.DataFrame, p_col: str = "p_play", m_col: str = "exp_min",
                  r_col: str = "rating", repl_48: float = REPL_RATING_48,
                  team_minutes: float = 240.0) -> pd.DataFrame:
    """Per ``_side``: ``avail`` and ``full`` strength (minutes-weighted mean rating per 48 of the
    expected floor time, see the module docstring), ``exp_minutes`` (sum P m before scaling) and
    ``miss_share`` (expected minutes lost to absences / usual minutes)."""
    p = cand[p_col].to_numpy(float)
    m = np.nan_to_num(cand[m_col].to_numpy(float))
    r = cand[r_col].to_numpy(float)
    side = cand["_side"].to_numpy()
    df = pd.DataFrame({"_side": side, "pm": p * m, "pmr": p * m * r, "m": m, "mr": m * r})
    g = df.groupby("_side", sort=True).sum()
    M = g["pm"].to_numpy()
    avail = (g["pmr"].to_numpy() + np.maximum(team_minutes - M, 0.0) * repl_48) / np.maximum(
        team_minutes, M)
    full = (g["mr"].to_numpy() + np.maximum(team_minutes - g["m"].to_numpy(), 0.0) * repl_48) / \
        np.maximum(team_minutes, g["m"].to_numpy())
    miss = 1.0 - M / np.maximum(g["m"].to_numpy(), 1e-9)
    return pd.DataFrame({"avail": avail, "full": full, "exp_minutes": M, "miss_share": miss},
                        index=g.index)
