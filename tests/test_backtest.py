"""Walk-forward backtest: no look-ahead (instrumented), JSON structure, and a cheap real-data run."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline_assets.backtest import (kelly_bets, market_probability, run_backtest_cli,
                                      walk_forward, write_json_atomic)
from pipeline_assets.features import FEATURE_COLUMNS, MARKET_COLUMNS

SEASONS = ["2016-17", "2017-18", "2018-19", "2019-20"]
TEAMS = np.arange(1610612737, 1610612767)


def _american(p):
    p = np.clip(p, 0.02, 0.98)
    return np.where(p >= 0.5, -100 * p / (1 - p), 100 * (1 - p) / p)


def synth(n_per_season: int = 160, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tiny league: 8 candidates a side whose rating sums (``rt_*``) carry a true rating; the home
    win follows a logistic link on the rating difference of the players who play; minutes follow
    ``min_ewm``; every contract feature column present (noise elsewhere)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, season in enumerate(SEASONS):
        start = pd.Timestamp(f"{2016 + k}-10-20")
        days = np.sort(rng.integers(0, 180, n_per_season))
        for d in days:
            h, a = rng.choice(TEAMS, 2, replace=False)
            rows.append((season, (start + pd.Timedelta(days=int(d))).strftime("%Y-%m-%d"), h, a))
    g = pd.DataFrame(rows, columns=["season", "game_date", "home_team_id", "away_team_id"])
    n = len(g)
    g["game_id"] = [f"G{i:05d}" for i in range(n)]

    # players: 8 per side, a true rating per 48 and whether he plays
    k = 8
    side = np.repeat(np.arange(2 * n), k)
    gi = side // 2
    home = side % 2 == 0
    rating = rng.normal(0, 4, 2 * n * k)
    plays = rng.random(2 * n * k) < 0.9
    exp_min = np.tile(np.array([36, 34, 32, 30, 28, 26, 30, 24], float), 2 * n)
    m = pd.DataFrame({"game_id": g["game_id"].to_numpy()[gi], "season": g["season"].to_numpy()[gi],
                      "game_date": g["game_date"].to_numpy()[gi],
                      "team_id": np.where(home, g["home_team_id"].to_numpy()[gi],
                                          g["away_team_id"].to_numpy()[gi]),
                      "opp_team_id": np.where(home, g["away_team_id"].to_numpy()[gi],
                                              g["home_team_id"].to_numpy()[gi])})
    m["player_id"] = m["team_id"] * 100 + np.tile(np.arange(k), 2 * n)
    fm = FEATURE_COLUMNS["minutes"]
    m = pd.concat([m, pd.DataFrame(rng.normal(size=(len(m), len(fm))), columns=fm)], axis=1)
    m["is_home"] = home
    exposure = rng.uniform(300, 2000, len(m))
    m["rt_minutes"] = exposure
    m["rt_pm"] = rating / 48 * exposure
    for c in fm:
        if c.startswith("rt_") and c not in ("rt_minutes", "rt_pm", "rt_apps"):
            m[c] = exposure * rng.uniform(0.0, 0.5, len(m))
    m["rt_apps"] = (exposure / 25).astype(np.int64)
    for c in ("av_min_l5", "av_min_ewm", "min_ewm"):
        m[c] = exp_min + rng.normal(0, 2, len(m))
    m["av_missed"] = np.where(plays, 0, rng.integers(0, 4, len(m))).astype(float)
    m["av_inj_out"] = (~plays & (rng.random(len(m)) < 0.5)).astype(float)
    m["av_playoff"] = 0.0
    m["inj_out"] = False
    m["label_played"] = pd.array(plays, dtype="boolean")
    m["label_minutes"] = np.where(plays, np.clip(np.round(exp_min + rng.normal(0, 5, len(m))),
                                                 1, 48), np.nan)

    feats = FEATURE_COLUMNS["game"] + MARKET_COLUMNS["game"]
    X = pd.DataFrame(rng.normal(size=(n, len(feats))), columns=feats)
    contrib = pd.Series(rating * plays * exp_min / 240).groupby(side).sum().to_numpy()
    strength = contrib[0::2] - contrib[1::2]
    p = 1 / (1 + np.exp(-(0.3 + 0.15 * strength)))
    X["home_b2b"] = rng.random(n) < 0.15
    X["away_b2b"] = rng.random(n) < 0.15
    X["home_flag"] = 1.0
    X["diff_elo"] = strength + rng.normal(0, 2, n)
    X["elo_prob_home"] = 1 / (1 + np.exp(-(0.3 + 0.1 * X["diff_elo"])))
    X["mkt_prob_home"] = np.clip(p + rng.normal(0, 0.03, n), 0.02, 0.98)
    X["mkt_home_spread"] = np.round(-2 * 12 * (X["mkt_prob_home"] - 0.5)) / 2
    y = rng.random(n) < p
    g = pd.concat([g, X], axis=1)
    g["label_home_win"] = pd.array(y, dtype="boolean")
    g["label_margin"] = pd.array(np.where(y, 1, -1) * rng.integers(1, 20, n), dtype="Int64")
    g.loc[n - 3:, "label_home_win"] = pd.NA  # unplayed games are excluded
    g["game_type"] = "regular"
    g.loc[g.groupby("season").tail(10).index, "game_type"] = "playoff"
    fair = g["mkt_prob_home"].to_numpy()
    g["close_home_ml"] = np.round(_american(fair * 1.04))
    g["close_away_ml"] = np.round(_american((1 - fair) * 1.04))
    g["close_home_spread"] = g["mkt_home_spread"]
    g.loc[::17, ["close_home_ml", "close_away_ml"]] = np.nan  # spread fallback rows
    g.loc[::17, "mkt_prob_home"] = np.nan
    g["overtime_periods"] = 0.0
    m["game_type"] = m["game_id"].map(g.set_index("game_id")["game_type"])
    m["overtime_periods"] = 0.0
    return g, m


def synth_results(games: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Final and quarter scores of the labelled games, adding up to ``label_margin``."""
    rng = np.random.default_rng(seed)
    g = games[games["label_margin"].notna()]
    n = len(g)
    home = rng.integers(20, 35, (n, 4))
    away = rng.integers(20, 35, (n, 4))
    away[:, 3] = home.sum(axis=1) - g["label_margin"].to_numpy(int) - away[:, :3].sum(axis=1)
    r = pd.DataFrame({"game_id": g["game_id"].to_numpy(), "home_pts": home.sum(axis=1),
                      "away_pts": away.sum(axis=1)})
    for k, q in enumerate(("q1", "q2", "q3", "q4")):
        r[f"home_{q}"], r[f"away_{q}"] = home[:, k], away[:, k]
    return r


@pytest.fixture(scope="module")
def synthetic_run():
    games, minutes = synth()
    events: list[dict] = []
    res = walk_forward(games, minutes, ["2018-19", "2019-20"], cadence_days=14, fast=True,
                       progress=None, minutes_cadence_days=30, hook=events.append,
                       conformal_window_rows=400, data_fingerprint="synthetic", n_jobs=1,
                       results=synth_results(games))
    return games, res, events


def test_walk_forward_never_trains_on_or_after_the_prediction_date(synthetic_run):
    games, res, events = synthetic_run
    assert events
    pairs = [(e["model"], e["season"], e["train_max_date"], d)
             for e in events for d in e["pred_dates"]]
    assert pairs
    bad = [p for p in pairs if not p[2] < p[3]]
    assert not bad, f"trained on data dated on/after the prediction date: {bad[:5]}"
    # every labelled test game predicted exactly once per win variant, in date order blocks
    for season in ("2018-19", "2019-20"):
        sg = games[(games["season"] == season) & games["label_home_win"].notna()]
        for variant in ("market_free", "with_market"):
            ev = [e for e in events if e["model"] == variant and e["season"] == season]
            assert sum(len(e["pred_dates"]) for e in ev) == len(sg)
            assert sorted(d for e in ev for d in e["pred_dates"]) == sorted(sg["game_date"])
            # retraining moves forward: the training window grows, never shrinks
            ends = [e["train_max_date"] for e in ev]
            assert ends == sorted(ends)
        assert {e["model"] for e in events if e["season"] == season} >= {
            "market_free", "with_market", "minutes", "minutes_calibration", "availability",
            "halftime"}
        # the halftime model is season-blocked: fit once, on games before the season
        (half,) = [e for e in events if e["model"] == "halftime" and e["season"] == season]
        assert half["train_max_date"] < sg["game_date"].min()
    # the initial model of a season is trained on earlier seasons only
    for e in events:
        if e["model"] in ("market_free", "with_market"):
            assert e["train_max_date"] < min(e["pred_dates"])


SEASON_KEYS = {"games", "games_labelled", "eval_set", "model_market_free", "model_with_market",
               "elo", "market", "minutes", "kelly", "calibration", "vs_market", "spread_only",
               "minutes_expected_lineup", "kelly_with_market", "availability", "halftime",
               "halftime_by_period", "kelly_spread_total"}
PROB_KEYS = {"n", "log_loss", "brier", "accuracy"}
HALFTIME_KEYS = {"games", "log_loss", "brier", "pregame_log_loss", "score_only_log_loss"}


def _check_block(b: dict, minutes_rows: bool = True) -> None:
    assert set(b) == SEASON_KEYS
    for k in ("model_market_free", "model_with_market", "elo"):
        assert set(b[k]) == PROB_KEYS
        assert all(isinstance(b[k][m], float) for m in PROB_KEYS - {"n"})
        assert b[k]["n"] == b["games"]
    assert set(b["market"]) >= PROB_KEYS | {"source", "counts"}
    assert set(b["market"]["counts"]) == {"moneyline", "spread"}
    assert sum(b["market"]["counts"].values()) == b["games"]
    assert b["market"]["source"] in ("moneyline", "spread", "moneyline+spread")
    assert set(b["minutes"]) == {"rows", "mae", "rmse", "coverage_p10_p90"}
    if minutes_rows:
        assert b["minutes"]["rows"] > 0 and 0 <= b["minutes"]["coverage_p10_p90"] <= 1
    assert set(b["kelly"]) == {"bets", "roi", "staked", "profit"}
    if b["kelly"]["bets"]:
        assert b["kelly"]["roi"] == pytest.approx(b["kelly"]["profit"] / b["kelly"]["staked"])
    for m in ("spread", "total"):
        k = b["kelly_spread_total"][m]
        assert set(k) == {"bets", "pushes", "wins", "staked", "profit", "roi"}
        assert k["pushes"] + k["wins"] <= k["bets"]
    assert len(b["calibration"]) == 10
    assert set(b["calibration"][0]) == {"bin", "lo", "hi", "count", "mean_pred", "mean_obs"}
    assert sum(r["count"] for r in b["calibration"]) == b["games"]
    assert b["games"] <= b["games_labelled"]
    for ci in (b["vs_market"]["market_free"], b["vs_market"]["with_market"],
               b["spread_only"]["vs_market"]):
        assert set(ci) == {"mean", "lo", "hi", "n"} and ci["lo"] <= ci["mean"] <= ci["hi"]
    assert b["vs_market"]["market_free"]["n"] == b["games"]
    assert b["vs_market"]["market_free"]["mean"] == pytest.approx(
        b["model_market_free"]["log_loss"] - b["market"]["log_loss"], abs=1e-9)
    sp = b["spread_only"]
    assert sp["model_with_market"]["n"] == sp["market_spread"]["n"] == sp["games"] > 0
    assert set(b["minutes_expected_lineup"]) == {"rows", "mae", "rmse", "coverage_p10_p90",
                                                 "unexpected_rows"}
    av = b["availability"]
    assert av["rows"] > 0 and 0 <= av["brier_model"] <= 0.25 and 0 <= av["brier_rule"] <= 1
    assert set(b["halftime"]) == HALFTIME_KEYS
    assert set(b["halftime_by_period"]) == {"1", "2", "3"}
    assert b["halftime_by_period"]["2"] == b["halftime"]
    for m in b["halftime_by_period"].values():
        assert set(m) == HALFTIME_KEYS and m["games"] == b["halftime"]["games"] > 0
        assert 0 <= m["brier"] <= 1 and m["log_loss"] > 0


def test_result_json_structure(synthetic_run, tmp_path):
    games, res, _ = synthetic_run
    assert set(res) == {"2018-19", "2019-20", "overall", "config"}
    for s in ("2018-19", "2019-20"):
        _check_block(res[s])
        # the spread fallback is used for the rows without moneylines
        assert res[s]["market"]["counts"]["spread"] > 0
        assert res[s]["market"]["source"] == "moneyline+spread"
    ov = res["overall"]
    assert set(ov) == SEASON_KEYS | {"seasons"}
    _check_block({k: v for k, v in ov.items() if k != "seasons"})
    assert ov["games"] == res["2018-19"]["games"] + res["2019-20"]["games"]
    assert ov["halftime"]["games"] == (res["2018-19"]["halftime"]["games"]
                                       + res["2019-20"]["halftime"]["games"])
    assert ov["minutes"]["rows"] == (res["2018-19"]["minutes"]["rows"]
                                     + res["2019-20"]["minutes"]["rows"])
    assert ov["kelly"]["bets"] == res["2018-19"]["kelly"]["bets"] + res["2019-20"]["kelly"]["bets"]
    cfg = res["config"]
    assert {"cadence_days", "minutes_cadence_days", "fast", "seeds", "feature_schema_version",
            "data_fingerprint", "n_retrains", "n_retrains_total"} <= set(cfg)
    assert cfg["cadence_days"] == 14 and cfg["fast"] is True
    assert cfg["data_fingerprint"] == "synthetic"
    assert set(cfg["n_retrains"]["2019-20"]) == {"market_free", "with_market", "minutes"}
    assert cfg["n_retrains"]["2019-20"]["market_free"] > 5  # ~180 days / 14
    # strict JSON round trip (no NaN) through the atomic writer
    p = write_json_atomic(tmp_path / "bt.json", res)
    assert json.loads(p.read_text()) == json.loads(json.dumps(res))


def test_kelly_and_market_probability():
    # home at +150 that the model rates 55%: de-vigged fair ~0.39 -> bet home, wins
    k = kelly_bets(np.array([0.55]), np.array([1.0]), np.array([150.0]), np.array([-170.0]))
    assert k["bets"] == 1 and k["profit"] == pytest.approx(k["staked"] * 1.5)
    assert 0 < k["staked"] <= 0.05
    # no edge beyond 0.02 -> no bet
    k = kelly_bets(np.array([0.5]), np.array([0.0]), np.array([-110.0]), np.array([-110.0]))
    assert k["bets"] == 0 and k["staked"] == 0.0
    df = pd.DataFrame({"close_home_ml": [-110.0, np.nan, np.nan],
                       "close_away_ml": [-110.0, 120.0, np.nan],
                       "close_home_spread": [-3.0, -6.0, np.nan]})
    p, src = market_probability(df, sigma=12.0)
    assert p[0] == pytest.approx(0.5) and p[1] > 0.5 and np.isnan(p[2])
    assert list(src) == ["moneyline", "spread", ""]


@pytest.mark.slow  # ~80 s (cold archive feature build + one season): run by .ci/run's second pass
def test_real_data_one_season(shared_data_dir, tmp_path):
    """2021-22 with a cheap config (monthly retrains, fast grid): numbers in sane ranges."""
    res = run_backtest_cli(shared_data_dir, ["2021-22"], tmp_path / "bt.json", cadence_days=28,
                           fast=True, progress=lambda s: None, minutes_cadence_days=60,
                           cache_dir=tmp_path / "cache")
    b = res["2021-22"]
    _check_block(b)
    for k in ("model_market_free", "model_with_market", "elo", "market"):
        assert 0.55 < b[k]["log_loss"] < 0.70, (k, b[k])
    assert b["games"] > 1200
    assert sum(b["market"]["counts"].values()) == b["games"]
    assert b["market"]["counts"]["moneyline"] > 0.95 * b["games"]
    # the market is sharper than Elo; the with-market model is close to the market
    assert b["market"]["log_loss"] < b["elo"]["log_loss"]
    assert abs(b["model_with_market"]["log_loss"] - b["market"]["log_loss"]) < 0.02
    assert b["minutes"]["rows"] > 20_000
    assert 3.0 < b["minutes"]["mae"] < 6.0
    assert 0.5 < b["minutes"]["coverage_p10_p90"] < 0.95
    assert json.loads((tmp_path / "bt.json").read_text())["2021-22"]["games"] == b["games"]
    # issue 12: the halftime model beats the pregame model alone and the score-only baseline
    h = b["halftime"]
    assert h["games"] > 1000
    assert h["log_loss"] < h["pregame_log_loss"] and h["log_loss"] < h["score_only_log_loss"]
    for t in ("1", "2", "3"):
        m = b["halftime_by_period"][t]
        assert m["log_loss"] < m["pregame_log_loss"] and m["log_loss"] < m["score_only_log_loss"]
    assert res["config"]["halftime"]["2021-22"]["train_max_date"] < "2021-10-01"


def test_cli_backtest_user_errors_exit_2_with_one_line(tmp_path, capsys):
    from pipeline_assets import cli
    assert cli.main(["backtest", "--data-dir", str(tmp_path / "missing"), "--seasons",
                     "2019-20"]) == 2
    err = capsys.readouterr().err
    assert "archive data directory not found" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["backtest", "--data-dir", str(tmp_path), "--seasons", " , "]) == 2
    assert "--seasons is empty" in capsys.readouterr().err


def test_walk_forward_refuses_a_season_without_box_scores_before_it():
    games, minutes = synth(n_per_season=60)
    with pytest.raises(ValueError, match="needs a season with box scores before it"):
        walk_forward(games, minutes, ["2016-17"], progress=None)
    with pytest.raises(ValueError, match="no eligible games"):
        walk_forward(games, minutes, ["2030-31"], progress=None)
