"""Expected-lineup models: who plays, how good they are, and what that makes of a game.

The feature tables are model-free: a game row (``features/game.py``) and one row per candidate
player (``features/minutes.py``: availability features ``av_*``, rating sums ``rt_*``).  The fitted
parts live here and are stored with the models that use them:

``LineupModel``     box weights (player ratings from the ``rt_*`` sums, ``players.fit_box_weights``
                    on training seasons) + the availability classifier (``models.availability``):
                    per candidate P(plays), rating and expected minutes; per game the expected-
                    lineup strength of each side (``features.strength.game_strength``).
``LineupWinModel``  market-free P(home win): ``LinearWinModel`` on ``WIN_FEATURES`` -- the
                    strength difference, the difference in the share of usual minutes expected to
                    be missing, each side's back-to-back and the home flag (0 at neutral sites).
``MarketWinModel``  with-market P(home win): ``MarketStack`` of the market probability (the
                    de-vigged moneyline when posted, else the spread through the sigma fit on
                    training seasons) and the market-free probability.
``LineupMinutesModel``  minutes quantiles given he plays, from the minutes features plus the
                    lineup context (``features.strength.minutes_context``), reconciled by interval
                    width among the players expected to play.

Out-of-sample inputs: a model trained on P(plays) it has already seen would trust it too much,
so training uses ``oos_p_play`` -- each season's P(plays) from a classifier fit on the seasons
before it (the first season in-sample).  Every model here predicts through
``predict_proba(games, players)`` / ``predict(players)``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline_assets.features import FEATURE_COLUMNS
from pipeline_assets.features import players as PL
from pipeline_assets.features import strength as S
from pipeline_assets.features.schema import (AVAIL_FEATURES, RATING_APPS_COLUMN,
                                              RATING_SUM_COLUMNS)
from pipeline_assets.models.availability import AvailabilityModel, fit_availability
from pipeline_assets.models.minutes import MinutesModel, train_minutes_model
from pipeline_assets.models.minutes_reconcile import reconcile_by_width
from pipeline_assets.models.win_linear import (
    LinearWinModel,
    MarketStack,
    fit_linear_win,
    fit_market_stack,
)
from tipoff_core.domain import betting

AV_PREFIX = "av_"
WIN_FEATURES = ["diff_strength_avail", "diff_miss_share", "home_b2b", "away_b2b", "home_flag"]
MINUTES_CONTEXT = [f"x_{c}" for c in S.MINUTES_CONTEXT_COLUMNS]
MARKET_INPUTS = ["mkt_prob_home", "mkt_home_spread"]  # what the with-market stack reads
# a candidate this likely to play shares the team's minutes in the reconciliation
PLAYS_THRESHOLD = 0.5
# the minutes model's settings (the fast grid: as good on 2016-19, half the time)
MINUTES_PARAMS = {"n_estimators": 120, "learning_rate": 0.05, "num_leaves": 15}
DEFAULT_SIGMA = 12.0


def _frame(players: pd.DataFrame) -> pd.DataFrame:
    """Candidate rows with the availability features under their own names (where a minutes
    feature has the same name -- min_ewm, inj_out -- the availability one is meant here)."""
    clash = [f for f in AVAIL_FEATURES if f in players.columns]
    return players.drop(columns=clash).rename(
        columns={f"{AV_PREFIX}{f}": f for f in AVAIL_FEATURES})


def side_index(games: pd.DataFrame, players: pd.DataFrame) -> np.ndarray:
    """Each player row's side in ``games``' layout (2 i home, 2 i + 1 away); -1 when its game
    is not among ``games``."""
    pos = pd.Series(np.arange(len(games)), index=games["game_id"].to_numpy())
    g = pos.reindex(players["game_id"].to_numpy()).to_numpy()
    home = players["is_home"].to_numpy(bool)
    return np.where(np.isfinite(g), 2 * np.nan_to_num(g, nan=0).astype(np.int64)
                    + np.where(home, 0, 1), -1)


@dataclass
class LineupModel:
    box_weights: PL.BoxWeights
    availability: AvailabilityModel
    params: S.StrengthParams = field(default_factory=S.StrengthParams)
    metrics: dict = field(default_factory=dict)

    def p_play(self, players: pd.DataFrame) -> np.ndarray:
        return self.availability.predict(_frame(players))

    def rated(self, players: pd.DataFrame, p_play: np.ndarray | None = None) -> pd.DataFrame:
        """Candidate rows with ``rating``, ``exp_min`` and ``p_play``."""
        rows = _frame(players)
        r = PL.ratings_from_sums(rows, self.box_weights, self.params.k_pm, self.params.k_box,
                                 self.params.repl_48)
        rows = rows.assign(rating=r["rating"].to_numpy(), exp_min=S.expected_minutes(rows))
        return rows.assign(p_play=self.p_play(players) if p_play is None else p_play)

    def game_strength(self, games: pd.DataFrame, players: pd.DataFrame,
                      p_play: np.ndarray | None = None) -> pd.DataFrame:
        """``strength.STRENGTH_COLUMNS`` aligned with ``games``."""
        rows = self.rated(players, p_play).assign(_side=side_index(games, players))
        rows = rows[rows["_side"] >= 0]
        return S.game_strength(rows, rows["p_play"].to_numpy(), len(games),
                               self.params.repl_48).set_index(games.index)

    def minutes_context(self, players: pd.DataFrame, p_play: np.ndarray | None = None
                        ) -> pd.DataFrame:
        """``MINUTES_CONTEXT`` columns aligned with ``players``."""
        rows = self.rated(players, p_play)
        rows["_side"] = rows.groupby(["game_id", "team_id"], sort=False).ngroup().to_numpy()
        ctx = S.minutes_context(rows, rows["p_play"].to_numpy())
        return ctx.rename(columns=dict(zip(S.MINUTES_CONTEXT_COLUMNS, MINUTES_CONTEXT)))


def labelled_availability(players: pd.DataFrame) -> pd.DataFrame:
    """Candidate rows whose team-game has a box score, with the 0/1 label ``played``."""
    known = players["label_played"].notna().to_numpy()
    rows = _frame(players[known])
    return rows.assign(played=players.loc[known, "label_played"].astype(float).to_numpy())


def box_weights(totals: pd.DataFrame) -> PL.BoxWeights:
    """Box weights fit on player-season totals (``players.season_totals``); the defaults with
    fewer than 50 player-seasons."""
    return PL.fit_box_weights(totals) if len(totals) >= 50 else PL.DEFAULT_BOX_WEIGHTS


def fit_lineup(players: pd.DataFrame, box_scores: pd.DataFrame, *, seed: int = 0,
               n_jobs: int = 2) -> LineupModel:
    """Box weights on the training box scores' player-seasons and the availability classifier
    on every labelled candidate row."""
    weights = box_weights(PL.season_totals(box_scores.assign(
        season=box_scores["season"].astype(str))))
    train = labelled_availability(players)
    model = fit_availability(train, label="played", seed=seed, n_jobs=n_jobs, known_col=None)
    return LineupModel(weights, model, S.StrengthParams(),
                       {"availability_rows": len(train),
                        "availability_base_rate": float(train["played"].mean())})


def oos_p_play(players: pd.DataFrame, *, seed: int = 0, n_jobs: int = 2) -> np.ndarray:
    """P(plays) of every row from a classifier fit on the seasons before its own (the first
    season: in-sample); aligned with ``players``."""
    p = np.full(len(players), np.nan)
    seasons = sorted(players["season"].unique())
    for i, s in enumerate(seasons):
        mask = (players["season"] == s).to_numpy()
        prior = players[(players["season"] < s).to_numpy()] if i else players[mask]
        train = labelled_availability(prior)
        if len(train) == 0 or train["played"].nunique() < 2:
            train = labelled_availability(players[mask])
        if len(train) == 0 or train["played"].nunique() < 2:
            continue
        model = fit_availability(train, label="played", seed=seed, n_jobs=n_jobs, known_col=None)
        p[mask] = model.predict(_frame(players[mask]))
    return p


def season_box(box_scores: pd.DataFrame, seasons) -> pd.DataFrame:
    return box_scores[box_scores["season"].isin(list(seasons))]


# ----------------------------------------------------------------------------- win models

@dataclass
class LineupWinModel:
    """Market-free P(home win) from the expected lineups (see the module docstring)."""

    lineup: LineupModel
    model: LinearWinModel
    uses_players = True

    @property
    def feature_cols(self) -> list[str]:
        return list(self.model.feature_cols)

    def features(self, games: pd.DataFrame, players: pd.DataFrame,
                 p_play: np.ndarray | None = None) -> pd.DataFrame:
        st = self.lineup.game_strength(games, players, p_play)
        return pd.concat([games.drop(columns=[c for c in st.columns if c in games]), st], axis=1)

    def predict_proba(self, games: pd.DataFrame, players: pd.DataFrame,
                      p_play: np.ndarray | None = None) -> np.ndarray:
        if len(games) == 0:
            return np.empty(0)
        return self.model.predict_proba(self.features(games, players, p_play))


@dataclass
class MarketWinModel:
    """With-market P(home win): the market's probability moved toward the market-free model's
    by the fitted weight ``stack.beta``."""

    free: LineupWinModel
    stack: MarketStack
    sigma: float
    uses_players = True

    @property
    def feature_cols(self) -> list[str]:
        return self.free.feature_cols + MARKET_INPUTS

    def market(self, games: pd.DataFrame) -> np.ndarray:
        return market_from_features(games, self.sigma)

    def predict_proba(self, games: pd.DataFrame, players: pd.DataFrame,
                      p_play: np.ndarray | None = None) -> np.ndarray:
        if len(games) == 0:
            return np.empty(0)
        return self.predict_from_free(games, self.free.predict_proba(games, players, p_play))

    def predict_from_free(self, games: pd.DataFrame, q: np.ndarray) -> np.ndarray:
        """``predict_proba`` given ``q``, the own market-free model's P(home win) of ``games``
        (it does not depend on the prices: the API computes it once per matchup)."""
        m = self.market(games)
        # no line at all: the market-free probability is all there is
        return np.where(np.isfinite(m), self.stack.predict_proba(np.nan_to_num(m, nan=0.5), q), q)


def market_from_features(games: pd.DataFrame, sigma: float) -> np.ndarray:
    """The market's P(home) at the cutoff: the de-vigged consensus moneyline when posted, else
    the consensus spread through ``sigma``."""
    p = games["mkt_prob_home"].to_numpy(float)
    spread = games["mkt_home_spread"].to_numpy(float)
    return np.where(np.isfinite(p), p, np.asarray(betting.spread_to_prob(spread, sigma), float))


def fit_sigma(games: pd.DataFrame) -> float:
    """Margin sd around the spread on labelled training games with a spread (DEFAULT_SIGMA when
    there are too few)."""
    spread = games["mkt_home_spread"].to_numpy(float)
    margin = pd.to_numeric(games["label_margin"], errors="coerce").to_numpy(float)
    try:
        return float(betting.fit_spread_sigma(spread, margin))
    except ValueError:
        return DEFAULT_SIGMA


def oos_blocks(dates: pd.Series, block_days: int = 28) -> np.ndarray:
    """Block number of each row: consecutive ``block_days`` windows from the first date."""
    d = pd.to_datetime(dates.astype(str)).to_numpy("datetime64[D]")
    return ((d - d.min()) // np.timedelta64(block_days, "D")).astype(np.int64)


def win_design(lineup: LineupModel, games: pd.DataFrame, players: pd.DataFrame,
               p_play: np.ndarray | None = None) -> pd.DataFrame:
    """The game rows with the lineup strength columns and ``_y`` (home win as 0/1, NaN when
    unknown): the market-free model's design matrix."""
    X = LineupWinModel(lineup, None).features(games, players, p_play)
    y = pd.to_numeric(games["label_home_win"].astype("Float64"), errors="coerce")
    return X.assign(_y=y.to_numpy(float, na_value=np.nan))


def fit_free(X: pd.DataFrame, as_of) -> LinearWinModel:
    """The market-free linear model on ``win_design`` rows; ``as_of`` anchors the recency
    weights (the first day it predicts)."""
    return fit_linear_win(X, WIN_FEATURES, label_col="_y", as_of=pd.Timestamp(as_of))


def oos_free_probabilities(X: pd.DataFrame, block_days: int = 28, min_rows: int = 100
                           ) -> np.ndarray:
    """Out-of-sample market-free P(home win) of ``win_design`` rows: each ``block_days`` block
    predicted by a fit on every earlier block (NaN for the first blocks, until ``min_rows``
    labelled games precede them)."""
    y = X["_y"].to_numpy(float)
    blocks = oos_blocks(X["game_date"])
    q = np.full(len(X), np.nan)
    for b in np.unique(blocks)[1:]:
        tr, te = blocks < b, blocks == b
        if np.isfinite(y[tr]).sum() < min_rows:
            continue
        q[te] = fit_free(X[tr], str(X.loc[te, "game_date"].min())).predict_proba(X[te])
    return q


def fit_win_models(games: pd.DataFrame, players: pd.DataFrame, box_scores: pd.DataFrame, *,
                   as_of: str, seed: int = 0, n_jobs: int = 2
                   ) -> tuple[LineupWinModel, MarketWinModel, dict]:
    """Fit the market-free and with-market models on labelled training ``games`` and their
    candidate ``players`` (the box scores feed the box weights).  ``as_of`` anchors the
    recency weights (the first day after training)."""
    lineup = fit_lineup(players, box_scores, seed=seed, n_jobs=n_jobs)
    X = win_design(lineup, games, players, oos_p_play(players, seed=seed, n_jobs=n_jobs))
    linear = fit_free(X, as_of)
    q = oos_free_probabilities(X)
    sigma = fit_sigma(games)
    stack = fit_market_stack(market_from_features(games, sigma), q, X["_y"].to_numpy(float))
    info = {"beta": stack.beta, "sigma": sigma, "oos_rows": int(np.isfinite(q).sum()),
            **lineup.metrics, "coef": dict(zip(WIN_FEATURES, map(float, linear.coef[1:])))}
    free = LineupWinModel(lineup, linear)
    return free, MarketWinModel(free, stack, sigma), info


# ----------------------------------------------------------------------------- minutes

@dataclass
class LineupMinutesModel:
    """Minutes p10/p50/p90 if he plays, with P(plays), per candidate."""

    lineup: LineupModel
    model: MinutesModel
    uses_players = True

    @property
    def feature_cols(self) -> list[str]:
        return list(self.model.feature_cols)

    def frame(self, players: pd.DataFrame, p_play: np.ndarray | None = None) -> pd.DataFrame:
        p = self.lineup.p_play(players) if p_play is None else p_play
        ctx = self.lineup.minutes_context(players, p)
        return pd.concat([players.reset_index(drop=True), ctx.reset_index(drop=True)],
                         axis=1).assign(p_play=p)

    def predict(self, players: pd.DataFrame, total: float | str = 240.0,
                p_play: np.ndarray | None = None, plays: np.ndarray | None = None
                ) -> pd.DataFrame:
        """game_id, team_id, player_id, p_play, p10/p50/p90 (minutes if he plays) and p50_raw.
        The quantiles of the players who play (``plays``; default P(plays) >= PLAYS_THRESHOLD)
        are reconciled to each team's ``total`` by interval width; the others keep their
        unreconciled quantiles."""
        return self.predict_frame(self.frame(players, p_play), total, plays)

    def predict_frame(self, f: pd.DataFrame, total: float | str = 240.0,
                      plays: np.ndarray | None = None) -> pd.DataFrame:
        """``predict`` on a prepared ``frame`` (``total`` may name a column of it)."""
        pred = self.model.predict(f)
        out = f[["game_id", "team_id", "player_id", "p_play"]].copy()
        out[["p10", "p50", "p90"]] = pred[["p10", "p50", "p90"]].to_numpy()
        if isinstance(total, str):
            out[total] = f[total].to_numpy()
        out["inj_out"] = f["inj_out"].to_numpy() if "inj_out" in f else False
        keep = (f["p_play"].to_numpy(float) >= PLAYS_THRESHOLD) if plays is None else plays
        rec = reconcile_by_width(out[keep], total=total)
        res = out.assign(p50_raw=out["p50"])
        res.loc[keep, ["p10", "p50", "p90", "p50_raw"]] = rec[["p10", "p50", "p90",
                                                              "p50_raw"]].to_numpy()
        return res


def minutes_feature_cols() -> list[str]:
    """The minutes model's inputs: the minutes-history features and the lineup context (the
    availability and rating columns reach it through the context, not raw)."""
    raw = {*RATING_SUM_COLUMNS, RATING_APPS_COLUMN}
    return [c for c in FEATURE_COLUMNS["minutes"]
            if not c.startswith(AV_PREFIX) and c not in raw] + MINUTES_CONTEXT


def fit_minutes_model(players: pd.DataFrame, box_scores: pd.DataFrame, *, seed: int = 0,
                      n_jobs: int = 2, fast: bool = True) -> LineupMinutesModel:
    """The lineup model and the quantile model on the candidates who played (labelled), with
    out-of-sample P(plays) in their context features."""
    lineup = fit_lineup(players, box_scores, seed=seed, n_jobs=n_jobs)
    oos = oos_p_play(players, seed=seed, n_jobs=n_jobs)
    tmp = LineupMinutesModel(lineup, None)
    f = tmp.frame(players, oos)
    train = f[f["label_minutes"].notna().to_numpy()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train_minutes_model(train, minutes_feature_cols(), date_col="game_date",
                                    seed=seed, holdout_frac=0.0, n_jobs=n_jobs,
                                    params=MINUTES_PARAMS if fast else None)
    return LineupMinutesModel(lineup, model)
