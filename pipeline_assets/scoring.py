"""Score a slate: win probability, Monte Carlo margin/total distributions, edge and Kelly stake.

Plain Python shared by the `game_scores` / `minutes_scores` assets and the step runner: load the
production models (`load_production_models`), score (`score_game_table`, `score_minutes_table`),
store (`write_score_run`, `prediction_log_rows`).  `load_shadow_model` / `shadow_log_rows` score the
same slate with the shadow market-free model (the newest candidate that passed training) for the
predictions log only (`role=shadow`); the stored `game_scores` table is production's alone.  The edge is measured with the market-free model
(a model that has seen the market cannot claim an edge against it); the with-market probability
and the Elo, Pythagorean and logistic baselines are reported beside it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline_assets.features.asof import latest_odds
from pipeline_assets.training import minutes_prediction, win_probability
from resources import storage
from resources.predictions_log import PREGAME, PRODUCTION, SHADOW
from resources.registry import LoadedModel, ModelRegistry, RegistryError
from tipoff_core import catalog
from tipoff_core.domain import betting, metrics, montecarlo
from tipoff_core.timeutil import ts_token

MARGIN_SD = 12.0      # NBA final-margin sd around expectation
TOTAL_SD = 18.0
LEAGUE_TOTAL = 225.0  # fallback expected total when a team has no scoring history
DEFAULT_N_SIMS = 10_000
WIN_FREE, WIN_MARKET, MINUTES = "win_market_free", "win_with_market", "minutes"
MINUTES_ID_COLUMNS = ["game_id", "game_date", "team_id", "opp_team_id", "player_id", "player_name"]
MINUTES_SCORE_COLUMNS = ["p_play", "p10", "p50", "p90", "p50_raw", "expected_minutes"]


@dataclass(frozen=True)
class StakePolicy:
    """How stakes are sized; the `game_scores` config and `tipoff run` flags default to these."""

    kelly_fraction: float = 0.25
    cap: float = 0.05        # never more than 5% of bankroll on one game
    min_edge: float = 0.02   # below this the recommendation is none
    spread_min_edge: float = 0.02  # the same for the spread and the total (edge given no push)
    total_min_edge: float = 0.03


@dataclass(frozen=True)
class ProductionModels:
    free: LoadedModel
    market: LoadedModel
    minutes: LoadedModel

    def versions(self) -> dict[str, str]:
        return {WIN_FREE: self.free.version, WIN_MARKET: self.market.version,
                MINUTES: self.minutes.version}

    def fallbacks(self) -> dict[str, str]:
        """Models scored with an earlier version because production's files failed to load."""
        return fallbacks({WIN_FREE: self.free, WIN_MARKET: self.market, MINUTES: self.minutes})


def fallbacks(models: dict[str, LoadedModel]) -> dict[str, str]:
    return {name: f"production {m.fallback_from} failed its integrity check; scored with {m.version}"
            for name, m in models.items() if m.fallback_from}


def load_production_models(registry: ModelRegistry) -> ProductionModels:
    """The three production models (raises NoProductionModelError naming the missing one)."""
    return ProductionModels(registry.load_production(WIN_FREE), registry.load_production(WIN_MARKET),
                            registry.load_production(MINUTES))


def mc_seed(as_of: pd.Timestamp) -> int:
    """The Monte Carlo seed of a run: its as-of in seconds (re-scoring a run is reproducible)."""
    return int(as_of.value // 10**9) % (2**31)


def best_moneylines(o: pd.DataFrame, game_pos: np.ndarray, n_games: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per game: the best available home and away American prices among bookmakers' latest rows
    at or before its cutoff (`o`: `latest_odds`, `game_pos`: each row's game; a bettor takes the
    best price); NaN for a game without a price."""
    best = np.full((2, n_games), np.nan)
    for k, col in enumerate(("home_ml", "away_ml")):
        dec = np.asarray(betting.american_to_decimal(o[col].to_numpy(float)), float)
        np.fmax.at(best[k], game_pos, dec)  # fmax: a book without this price does not count
    return (np.asarray(betting.decimal_to_american(best[0]), float),
            np.asarray(betting.decimal_to_american(best[1]), float))


SIDES = {"spread": ("home", "away"), "total": ("over", "under")}
MARKET_COLUMNS = {m: [f"{m}_{c}" for c in ("side", "pick", "line", "price", "price_assumed",
                                            "book", "prob", "push", "edge", "stake")]
                  for m in SIDES}


def _market_candidates(o: pd.DataFrame, game_pos: np.ndarray, home: np.ndarray, away: np.ndarray,
                       market: str, fraction: float, cap: float) -> dict[str, np.ndarray] | None:
    """Both sides of every book's line of one market (`o`: latest row per game and book,
    `game_pos`: each row's game), as arrays: side a's rows, then side b's; None without a line."""
    line_col, (a, b) = ("home_spread", SIDES["spread"]) if market == "spread" else \
        ("total", SIDES["total"])
    ok = np.isfinite(o[line_col].to_numpy(float))
    if not ok.any():
        return None
    line = o[line_col].to_numpy(float)[ok]
    gi = game_pos[ok]
    nan = np.full(len(line), np.nan)
    pc, po, pps, ppt = montecarlo.line_probs_at(home, away, gi, line if market == "spread" else nan,
                                                line if market == "total" else nan)
    p_a, push = (pc, pps) if market == "spread" else (po, ppt)
    p_b = 1.0 - p_a - push
    price_a, price_b = (("home_spread_price", "away_spread_price") if market == "spread"
                        else ("over_price", "under_price"))
    price_a, price_b = o[price_a].to_numpy(float)[ok], o[price_b].to_numpy(float)[ok]
    book = o["bookmaker"].to_numpy(object)[ok]
    rows = []
    for side, p_win, mine, other, side_line in ((a, p_a, price_a, price_b, line),
                                                (b, p_b, price_b, price_a,
                                                 -line if market == "spread" else line)):
        q = betting.two_way_side(p_win, push, mine, other, fraction, cap)
        rows.append({"game": gi, "side": np.full(len(gi), side, dtype=object), "line": side_line,
                     "price": q["price"], "price_assumed": q["assumed"], "book": book,
                     "prob": p_win, "push": push, "edge": q["edge"], "ev": q["ev"],
                     "stake": q["stake"]})
    return {k: np.concatenate([np.atleast_1d(r[k]) for r in rows]) for k in rows[0]}


def _best_candidate(c: dict[str, np.ndarray], n_games: int) -> np.ndarray:
    """Per game, the row of `c` that is its recommendation (-1: none with a finite EV): bets
    first, then the highest expected value; book and side make ties deterministic."""
    best = np.full(n_games, -1)
    keep = np.flatnonzero(np.isfinite(c["ev"]))
    if len(keep):
        book = np.unique(c["book"][keep], return_inverse=True)[1]
        side = np.unique(c["side"][keep], return_inverse=True)[1]
        order = keep[np.lexsort((side, book, -c["ev"][keep], ~c["bet"][keep], c["game"][keep]))]
        g = c["game"][order]
        first = order[np.r_[True, g[1:] != g[:-1]]]
        best[c["game"][first]] = first
    return best


def market_recommendations(games: pd.DataFrame, odds: pd.DataFrame | None, home: np.ndarray,
                           away: np.ndarray, policy: StakePolicy,
                           latest: pd.DataFrame | None = None) -> pd.DataFrame:
    """The spread and total recommendation of each game of `games` (rows game_id, cutoff_ts;
    `home`/`away`: its simulated scores, `montecarlo.simulate_slate_scores`), aligned with `games`
    (`latest`: `latest_odds(odds, games)` when the caller has it already).

    Every book's latest line at or before the cutoff is a candidate, both sides of it: the
    Monte Carlo gives the side's win and push probabilities at that exact line, the book's two
    prices (-110 assumed when missing, flagged) its de-vigged fair probability and the payout.
    A side is a bet when its edge (win probability given no push minus the fair probability)
    reaches the market's minimum edge and its push-aware Kelly stake is positive; the bet with
    the highest expected value is the game's one recommendation (line shopping).  Without a bet
    the columns describe the best candidate with side `none`, pick `-` and stake 0."""
    out = {"game_id": games["game_id"].reset_index(drop=True)}
    n = len(games)
    o = latest_odds(odds, games) if latest is None else latest
    gi = _game_positions(games, o)
    for market in SIDES:
        min_edge = policy.spread_min_edge if market == "spread" else policy.total_min_edge
        c = _market_candidates(o, gi, home, away, market, policy.kelly_fraction, policy.cap)
        if c is None:
            c = {k: np.empty(0, dtype=t) for k, t in (
                ("game", np.int64), ("side", object), ("line", float), ("price", float),
                ("price_assumed", bool), ("book", object), ("prob", float), ("push", float),
                ("edge", float), ("ev", float), ("stake", float))}
        c["bet"] = (c["edge"] >= min_edge) & (c["stake"] > 0)
        best = _best_candidate(c, n)
        has = best >= 0

        def chosen(name: str, fill, dtype) -> np.ndarray:
            v = np.full(n, fill, dtype=dtype)
            v[has] = c[name][best[has]]
            return v
        bet = chosen("bet", False, bool)
        side = np.where(bet, chosen("side", None, object), "none")
        line = chosen("line", np.nan, float)
        out[f"{market}_side"] = side
        out[f"{market}_pick"] = ["-" if sd == "none" else
                                 f"{sd} {ln:+g}" if market == "spread" else f"{sd} {ln:g}"
                                 for sd, ln in zip(side, line)]
        out[f"{market}_line"] = line
        out[f"{market}_price"] = chosen("price", np.nan, float)
        out[f"{market}_price_assumed"] = chosen("price_assumed", False, bool)
        out[f"{market}_book"] = chosen("book", None, object)
        for k in ("prob", "push", "edge"):
            out[f"{market}_{k}"] = chosen(k, np.nan, float)
        out[f"{market}_stake"] = np.where(bet, chosen("stake", np.nan, float), 0.0)
    return pd.DataFrame(out)


def _game_positions(games: pd.DataFrame, o: pd.DataFrame) -> np.ndarray:
    """Each row of `o` (odds of `games`' games) as its game's position in `games`."""
    pos = pd.Series(np.arange(len(games)), index=games["game_id"].to_numpy())
    return pos.reindex(o["game_id"].to_numpy()).to_numpy().astype(np.int64)


def expected_total(f: pd.DataFrame) -> np.ndarray:
    """Team-based total: each side's scoring blended with the opponent's allowance."""
    home = (f["home_pts_for_pg"] + f["away_pts_against_pg"]) / 2
    away = (f["away_pts_for_pg"] + f["home_pts_against_pg"]) / 2
    return (home + away).fillna(LEAGUE_TOTAL).to_numpy(float)


def score_games(features: pd.DataFrame, p_market_free: np.ndarray, p_with_market: np.ndarray,
                p_logistic: np.ndarray, odds: pd.DataFrame | None, *, n_sims: int = DEFAULT_N_SIMS,
                seed: int = 0, policy: StakePolicy | None = None,
                latest: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per game of `features` (live game features), given the models' probabilities
    (`latest`: `latest_odds(odds, features)` when the caller has it already)."""
    policy = policy or StakePolicy()
    f = features.reset_index(drop=True)
    p = np.clip(np.asarray(p_market_free, float), 1e-4, 1 - 1e-4)
    mu_margin = montecarlo.prob_to_margin(p, sd=MARGIN_SD)
    mu_total = expected_total(f)
    spread = f["mkt_home_spread"].to_numpy(float)
    line = f["mkt_total"].to_numpy(float)
    sims, sim_home, sim_away = montecarlo.simulate_slate_scores(
        mu_margin, mu_total, MARGIN_SD, TOTAL_SD, 0.0, n_sims=n_sims, seed=seed,
        home_spread=spread, total_line=line)
    latest = latest_odds(odds, f) if latest is None else latest
    markets = market_recommendations(f, odds, sim_home, sim_away, policy, latest=latest)
    home_ml, away_ml = best_moneylines(latest, _game_positions(f, latest), len(f))
    p_mkt = f["mkt_prob_home"].to_numpy(float)
    edge_home = betting.edge(p, p_mkt)
    stake_home = np.where(np.isnan(home_ml), 0.0,
                          betting.stake(p, np.nan_to_num(home_ml, nan=100.0),
                                        policy.kelly_fraction, policy.cap))
    stake_away = np.where(np.isnan(away_ml), 0.0,
                          betting.stake(1 - p, np.nan_to_num(away_ml, nan=100.0),
                                        policy.kelly_fraction, policy.cap))
    bet_home = (edge_home >= policy.min_edge) & (stake_home > 0)
    bet_away = (-edge_home >= policy.min_edge) & (stake_away > 0)
    rec = np.where(bet_home, "home", np.where(bet_away, "away", "none"))
    pyth_h = metrics.pythagorean_prob(f["home_pts_for_pg"].to_numpy(float), f["home_pts_against_pg"].to_numpy(float))
    pyth_a = metrics.pythagorean_prob(f["away_pts_for_pg"].to_numpy(float), f["away_pts_against_pg"].to_numpy(float))
    # log5 combination of the two teams' Pythagorean expectations (no home advantage)
    pyth = (pyth_h - pyth_h * pyth_a) / (pyth_h + pyth_a - 2 * pyth_h * pyth_a)
    return pd.DataFrame({
        "game_id": f["game_id"], "game_date": f["game_date"], "tip_ts": f["tip_ts"],
        "cutoff_ts": f["cutoff_ts"], "home_team_id": f["home_team_id"],
        "away_team_id": f["away_team_id"],
        "p_home_win": p, "p_home_win_with_market": np.asarray(p_with_market, float),
        "p_home_win_mc": sims["p_home_win"],
        "margin_mean": sims["margin_mean"], "margin_sd": sims["margin_sd"],
        **{f"margin_{q}": sims[f"margin_{q}"] for q in ("p05", "p25", "p50", "p75", "p95")},
        "total_mean": sims["total_mean"], "total_sd": sims["total_sd"],
        **{f"total_{q}": sims[f"total_{q}"] for q in ("p05", "p25", "p50", "p75", "p95")},
        "p_overtime": sims["p_ot"],
        "market_home_spread": spread, "market_total": line,
        "p_home_cover": sims["p_home_cover"], "p_over": sims["p_over"],
        "p_push_spread": sims["p_push_spread"], "p_push_total": sims["p_push_total"],
        "p_market_home": p_mkt, "edge_home": edge_home,
        "best_home_ml": home_ml, "best_away_ml": away_ml,
        "stake_home": np.where(bet_home, stake_home, 0.0),
        "stake_away": np.where(bet_away, stake_away, 0.0),
        "recommendation": rec,
        "p_elo": f["elo_prob_home"].to_numpy(float),
        "p_pythagorean": pyth, "p_logistic": np.asarray(p_logistic, float),
        **{c: markets[c].to_numpy() for c in MARKET_COLUMNS["spread"] + MARKET_COLUMNS["total"]},
    })


def reads_market(model) -> bool:
    """Whether a model's inputs include the market columns (`mkt_*`), which a caller's prices
    replace."""
    return any(str(c).startswith("mkt_") for c in getattr(model, "feature_cols", ()))


@dataclass(frozen=True)
class PriceFree:
    """What scoring games needs that the market's prices do not change, per game of the features
    it was computed on: the market-free P(home win), the with-market model's own market-free
    input and the logistic baseline.  A part is None when its model reads the market columns
    (it is then run on the priced features).  The API computes it once per matchup of a date
    (`price_free`), so an on-demand request with prices runs only `score_priced`."""

    p_market_free: np.ndarray | None
    p_with_market_free: np.ndarray | None
    p_logistic: np.ndarray | None

    def take(self, i: int) -> "PriceFree":
        """The parts of game `i` alone."""
        return PriceFree(*(None if v is None else v[i:i + 1] for v in
                           (self.p_market_free, self.p_with_market_free, self.p_logistic)))


def price_free(features: pd.DataFrame, players: pd.DataFrame, free: LoadedModel,
               market: LoadedModel) -> PriceFree:
    """The `PriceFree` parts of `features` (live game features) and their candidate players."""
    fm, mm, base = free.model["model"], market.model["model"], free.model["baseline"]
    inner = getattr(mm, "free", None) if hasattr(mm, "predict_from_free") else None
    return PriceFree(
        None if reads_market(fm) else win_probability(fm, features, players),
        None if inner is None or reads_market(inner) else win_probability(inner, features, players),
        None if reads_market(base) else base.predict_proba(features))


def score_priced(features: pd.DataFrame, players: pd.DataFrame, parts: PriceFree,
                 free: LoadedModel, market: LoadedModel, odds: pd.DataFrame | None,
                 as_of: pd.Timestamp, policy: StakePolicy, n_sims: int = DEFAULT_N_SIMS,
                 latest: pd.DataFrame | None = None) -> pd.DataFrame:
    """`score_slate` given the games' `PriceFree` parts: only what the prices change is computed
    (the with-market model's last step, parts a model reads the market for, Monte Carlo, stakes;
    `latest` as in `score_games`)."""
    fm, mm = free.model["model"], market.model["model"]
    p_free = parts.p_market_free if parts.p_market_free is not None else \
        win_probability(fm, features, players)
    p_with = mm.predict_from_free(features, parts.p_with_market_free) \
        if parts.p_with_market_free is not None else win_probability(mm, features, players)
    p_logistic = parts.p_logistic if parts.p_logistic is not None else \
        free.model["baseline"].predict_proba(features)
    table = score_games(features, p_free, p_with, p_logistic, odds, n_sims=n_sims,
                        seed=mc_seed(as_of), policy=policy, latest=latest)
    table.insert(0, "run_as_of_ts", as_of)
    return table


def score_slate(features: pd.DataFrame, players: pd.DataFrame, free: LoadedModel,
                market: LoadedModel, odds: pd.DataFrame, as_of: pd.Timestamp, policy: StakePolicy,
                n_sims: int = DEFAULT_N_SIMS) -> pd.DataFrame:
    """A slate scored with a given market-free model (edge, stakes, Monte Carlo seeded by the
    as-of) and with-market model, on the live game features and the slate's candidate players."""
    return score_priced(features, players, price_free(features, players, free, market), free,
                        market, odds, as_of, policy, n_sims)


def score_game_table(features: pd.DataFrame, players: pd.DataFrame, models: ProductionModels,
                     odds: pd.DataFrame, as_of: pd.Timestamp, policy: StakePolicy,
                     n_sims: int = DEFAULT_N_SIMS) -> pd.DataFrame:
    """The `game_scores` table of a run: production models on the live game features and the
    slate's candidate players."""
    return score_slate(features, players, models.free, models.market, odds, as_of, policy, n_sims)


@dataclass(frozen=True)
class Shadow:
    """The shadow market-free model of a run (None model: none, or it could not be loaded --
    `problem` says why; a shadow never stops production scoring)."""

    model: LoadedModel | None
    problem: str | None = None

    @property
    def version(self) -> str | None:
        return self.model.version if self.model is not None else None


def load_shadow_model(registry: ModelRegistry, production: ProductionModels) -> Shadow:
    """The registry's shadow `win_market_free` version (`ModelRegistry.load_shadow`), unless it is
    the version production scores with (e.g. a fallback)."""
    try:
        shadow = registry.load_shadow(WIN_FREE)
    except (RegistryError, OSError) as exc:
        return Shadow(None, f"shadow {WIN_FREE} not scored: {exc}")
    if shadow is None or shadow.version == production.free.version:
        return Shadow(None)
    return Shadow(shadow)


def score_shadow(features: pd.DataFrame, players: pd.DataFrame, shadow: Shadow,
                 models: ProductionModels, odds: pd.DataFrame, as_of: pd.Timestamp,
                 policy: StakePolicy, n_sims: int = DEFAULT_N_SIMS
                 ) -> tuple[pd.DataFrame | None, str | None]:
    """(the slate scored with the shadow market-free model -- the `game_scores` columns, never
    stored as a table --, problem).  None when there is no shadow or it failed to score (an old
    feature set...): the problem says so, production is unaffected."""
    if shadow.model is None or not len(features):
        return None, shadow.problem
    try:
        return score_slate(features, players, shadow.model, models.market, odds, as_of, policy,
                           n_sims), None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        return None, f"shadow {WIN_FREE} {shadow.version} failed to score: {type(exc).__name__}: {exc}"


def score_minutes_table(features: pd.DataFrame, minutes: LoadedModel, as_of: pd.Timestamp
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `minutes_scores` table of a run -- per candidate P(plays), p10/p50/p90 minutes if he
    plays (those likely to play reconciled to 240 per team) and the expected minutes
    P(plays) x p50 -- and the teams flagged by the reconciliation."""
    if len(features):
        rec, flags = minutes_prediction(minutes.model, features)
        rec = rec.reset_index(drop=True)
        if "p_play" not in rec:  # a model of an earlier feature set: Out players 0, others 1
            rec["p_play"] = np.where(rec["p50"] > 0, 1.0, 0.0)
        rec["expected_minutes"] = rec["p_play"] * rec["p50"]
        table = features[MINUTES_ID_COLUMNS].reset_index(drop=True).join(
            rec[MINUTES_SCORE_COLUMNS])
    else:
        flags = pd.DataFrame(columns=["game_id", "team_id"])
        table = pd.DataFrame(columns=MINUTES_ID_COLUMNS + MINUTES_SCORE_COLUMNS)
    table.insert(0, "run_as_of_ts", as_of)
    return table, flags.reset_index(drop=True)


def game_summary(table: pd.DataFrame, day: str, as_of: pd.Timestamp, models: ProductionModels,
                 feature_run: str, source: str, via: str) -> dict:
    return {"mode": "live", "date": day, "run_as_of_ts": as_of.isoformat(),
            "model_version": models.free.version, "with_market_version": models.market.version,
            "feature_source": f"{catalog.feature('live', 'game').folder}/{day}/run={feature_run}",
            "source": source, "games": len(table), "via": via,
            "bets": int((table["recommendation"] != "none").sum()) if len(table) else 0,
            **{f"{m}_bets": int((table[f"{m}_side"] != "none").sum()) if len(table) else 0
               for m in SIDES},
            "model_fallbacks": models.fallbacks()}


def minutes_summary(table: pd.DataFrame, flags: pd.DataFrame, day: str, as_of: pd.Timestamp,
                    minutes: LoadedModel, feature_run: str, via: str) -> dict:
    return {"mode": "live", "date": day, "run_as_of_ts": as_of.isoformat(),
            "model_version": minutes.version, "players": len(table),
            "model_fallbacks": fallbacks({MINUTES: minutes}),
            "feature_source": f"{catalog.feature('live', 'minutes').folder}/{day}/run={feature_run}",
            "teams_flagged": flags.to_dict("records"), "via": via}


def write_score_run(asset: str, day: str, as_of: pd.Timestamp, table: pd.DataFrame,
                    summary: dict, root: Path) -> Path:
    """`artifacts/<asset>/<date>/run=<as-of>/{table.parquet,summary.json}` (idempotent)."""
    files = {"table.parquet": storage.parquet_bytes(table),
             "summary.json": json.dumps(summary, indent=2, sort_keys=True, default=str).encode()}
    base = storage.partition_dir(catalog.table(asset), day, root)
    return storage.write_run_folder(base, ts_token(as_of), files).path


def prediction_log_rows(table: pd.DataFrame, as_of: pd.Timestamp, model_version: str,
                        source: str, role: str = PRODUCTION) -> pd.DataFrame:
    """The predictions-log rows of a scored slate (`role`: production, or shadow)."""
    rec = table["recommendation"]
    # what each recommendation took (the closing-line value is measured against it later); a
    # market without a bet took nothing
    taken = {"ml_price": table["best_home_ml"].where(rec == "home",
                                                     table["best_away_ml"].where(rec == "away"))}
    for m in SIDES:
        if f"{m}_side" in table:
            bet = table[f"{m}_side"] != "none"
            taken.update({f"{m}_line": table[f"{m}_line"].where(bet),
                          f"{m}_price": table[f"{m}_price"].where(bet)})
    return table.assign(run_as_of_ts=as_of.isoformat(), model_version=model_version, mode="live",
                        source=source, stake=table[["stake_home", "stake_away"]].max(axis=1),
                        **taken,
                        logged_at=pd.Timestamp.now(tz="UTC").isoformat(), kind=PREGAME, role=role)


def shadow_log_rows(table: pd.DataFrame | None, as_of: pd.Timestamp, version: str | None,
                    source: str) -> pd.DataFrame:
    """The predictions-log rows of a shadow-scored slate (empty when there is none)."""
    if table is None or version is None or not len(table):
        return pd.DataFrame()
    return prediction_log_rows(table, as_of, version, source, role=SHADOW)


def slate_view(table: pd.DataFrame, tricodes: dict[int, str]) -> pd.DataFrame:
    """A scored slate as a reader wants it: matchup by team, tip in New York time, both win
    probabilities, and the recommended side with its own edge and stake (not only the home
    side's)."""
    home = table["home_team_id"].map(lambda t: tricodes.get(int(t), str(t)))
    away = table["away_team_id"].map(lambda t: tricodes.get(int(t), str(t)))
    rec = table["recommendation"].to_numpy(object)
    pick = np.where(rec == "home", home, np.where(rec == "away", away, "-"))
    edge = np.where(rec == "away", -table["edge_home"], table["edge_home"])
    stake = np.where(rec == "home", table["stake_home"],
                     np.where(rec == "away", table["stake_away"], 0.0))
    tip = pd.to_datetime(table["tip_ts"], utc=True).dt.tz_convert("America/New_York")
    return pd.DataFrame({
        "game": away + " at " + home, "tip (NY)": tip.dt.strftime("%H:%M").to_numpy(),
        "p_home": table["p_home_win"].round(3).to_numpy(),
        "market_home": table["p_market_home"].round(3).to_numpy(),
        "margin_p50": table["margin_p50"].to_numpy(), "total_p50": table["total_p50"].to_numpy(),
        "bet": pick, "edge": np.where(rec == "none", np.nan, edge).round(3),
        "stake": np.asarray(stake, float).round(4),
        **_market_view(table, "spread", home.to_numpy(object), away.to_numpy(object)),
        **_market_view(table, "total", home.to_numpy(object), away.to_numpy(object))})


def _market_view(table: pd.DataFrame, market: str, home: np.ndarray, away: np.ndarray) -> dict:
    """The slate view's columns of a spread or total recommendation: the pick as a bettor reads it
    (`BOS -2.5 @-110`, `over 221 @-105`; `*` = price assumed), its edge and stake.  Tables scored
    before these markets existed show none."""
    if f"{market}_side" not in table:
        return {market: np.full(len(table), "-", dtype=object)}
    side = table[f"{market}_side"].to_numpy(object)
    line = table[f"{market}_line"].to_numpy(float)
    price = table[f"{market}_price"].to_numpy(float)
    assumed = table[f"{market}_price_assumed"].to_numpy(bool)
    who = np.where(side == "home", home, np.where(side == "away", away, side))
    pick = ["-" if sd == "none" else
            f"{w} {ln:+g} @{pr:+.0f}{'*' if a else ''}" if market == "spread" else
            f"{w} {ln:g} @{pr:+.0f}{'*' if a else ''}"
            for sd, w, ln, pr, a in zip(side, who, line, price, assumed)]
    bet = side != "none"
    short = "sp" if market == "spread" else "tot"
    return {market: np.asarray(pick, dtype=object),
            f"{short}_edge": np.where(bet, table[f"{market}_edge"].to_numpy(float), np.nan).round(3),
            f"{short}_stake": table[f"{market}_stake"].to_numpy(float).round(4)}


def markets_block(r: dict) -> dict:
    """The `markets` block of a game in the API: the one recommendation of each market
    (moneyline, spread, total) of a `game_scores` row; `side` is `none` without a bet.  Rows
    scored before spreads and totals were priced have only the moneyline."""
    def num(v):
        try:
            v = float(v)
        except (TypeError, ValueError):
            return None
        return v if np.isfinite(v) else None

    rec = r.get("recommendation") or "none"
    edge_home = num(r.get("edge_home"))
    out = {"moneyline": {
        "side": rec,
        "price": num(r.get("best_home_ml") if rec == "home" else r.get("best_away_ml"))
        if rec != "none" else None,
        "prob": None if rec == "none" or num(r.get("p_home_win")) is None else
        (num(r["p_home_win"]) if rec == "home" else 1.0 - num(r["p_home_win"])),
        "edge": None if rec == "none" or edge_home is None else
        (edge_home if rec == "home" else -edge_home),
        "stake": num(r.get("stake_home") if rec == "home" else r.get("stake_away")
                     if rec == "away" else 0.0)}}
    for market in SIDES:
        if f"{market}_side" not in r:
            continue
        book = r.get(f"{market}_book")
        out[market] = {
            "side": r.get(f"{market}_side") or "none", "pick": r.get(f"{market}_pick"),
            "line": num(r.get(f"{market}_line")), "price": num(r.get(f"{market}_price")),
            "price_assumed": bool(r.get(f"{market}_price_assumed")),
            "book": book if isinstance(book, str) else None,
            "prob": num(r.get(f"{market}_prob")), "push": num(r.get(f"{market}_push")),
            "edge": num(r.get(f"{market}_edge")), "stake": num(r.get(f"{market}_stake"))}
    return out
