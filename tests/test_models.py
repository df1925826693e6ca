"""Model layer on synthetic data: win-probability training/CV/calibration and minutes quantiles."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_assets.models.minutes import (MAX_MINUTES, interval_metrics, reconcile_team_minutes,
                                            train_minutes_model)
from pipeline_assets.models.win import (CALIBRATIONS, Calibrator, baseline_logistic,
                                        choose_calibration, time_folds, train_win_model)

GAP = pd.Timedelta(days=7)


def ll(y, p):
    p = np.clip(np.asarray(p, float), 1e-15, 1 - 1e-15)
    y = np.asarray(y, float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def make_games(n_per_season=1500, n_features=20, n_seasons=4, seed=0, nan_frac=0.03):
    """Seasons of games (Oct 20 - Apr 12) whose home win follows a logistic link on f0, f1, f2."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_seasons):
        days = np.sort(rng.integers(0, 175, n_per_season))
        parts.append(pd.DataFrame({"season": f"{2020 + k}-{21 + k}",
                                   "game_date": pd.Timestamp(f"{2020 + k}-10-20")
                                   + pd.to_timedelta(days, "D")}))
    df = pd.concat(parts, ignore_index=True)
    n = len(df)
    X = rng.normal(size=(n, n_features))
    p = 1 / (1 + np.exp(-(0.2 + 0.9 * X[:, 0] - 0.6 * X[:, 1] + 0.3 * X[:, 2])))
    y = (rng.random(n) < p).astype(int)
    X[rng.random(X.shape) < nan_frac] = np.nan
    feats = [f"f{i}" for i in range(n_features)]
    df = pd.concat([df, pd.DataFrame(X, columns=feats)], axis=1)
    df["game_id"] = np.arange(n)
    df["label_home_win"] = y
    df["true_prob"] = p
    return df, feats


@pytest.fixture(scope="module")
def games():
    return make_games()


@pytest.fixture(scope="module")
def trained(games):
    df, feats = games
    train = df[df["season"] != df["season"].max()]
    return train_win_model(train, feats, fast=True, seed=0)


# ---------------------------------------------------------------- win model

def test_win_model_beats_constant_and_is_near_truth(games, trained):
    df, _ = games
    test = df[df["season"] == df["season"].max()]
    y = test["label_home_win"].to_numpy()
    p = trained.predict_proba(test)
    assert p.shape == (len(test),) and np.all((p > 0) & (p < 1))
    base = df.loc[df["season"] != df["season"].max(), "label_home_win"].mean()
    ll_model, ll_const, ll_true = ll(y, p), ll(y, np.full(len(y), base)), ll(y, test["true_prob"])
    assert ll_model < ll_const - 0.05, (ll_model, ll_const)
    assert ll_model - ll_true < 0.015, (ll_model, ll_true)


def test_cv_report_and_calibration_recorded(trained):
    rep = trained.cv_report
    assert {"candidate", "kind", "fold", "log_loss", "brier", "accuracy", "n_train", "n_valid",
            "train_end", "valid_start", "selected"} <= set(rep.columns)
    # fast: one setting per family, 2 season folds (validating the 2nd and 3rd season)
    assert set(rep["kind"]) == {"logistic", "lightgbm", "xgboost"}
    assert rep.groupby("candidate").size().eq(2).all()
    assert ((rep["valid_start"] - rep["train_end"]) > GAP).all()
    sel = rep.loc[rep["selected"], "candidate"].unique()
    assert len(sel) == 1 and sel[0] == trained.params["candidate"]
    assert sel[0] == rep.groupby("candidate")["log_loss"].mean().idxmin()
    assert trained.calibration in CALIBRATIONS and trained.params["calibration"] == trained.calibration
    cal = trained.calibration_report
    assert set(cal["method"]) == set(CALIBRATIONS)
    assert set(cal.loc[cal["chosen"], "method"]) == {trained.calibration}
    assert {"cv_log_loss", "cv_brier", "cv_accuracy", "train_start", "train_end"} <= set(trained.metrics)


def test_win_model_pickles_and_handles_missing_values(games, trained):
    df, feats = games
    rows = df.tail(50).copy()
    rows.loc[rows.index[:10], feats] = np.nan
    p = trained.predict_proba(rows)
    q = pickle.loads(pickle.dumps(trained)).predict_proba(rows)
    assert np.isfinite(p).all() and np.array_equal(p, q)
    with pytest.raises(KeyError, match="missing"):
        trained.predict_proba(rows.drop(columns=["f3"]))


def test_baseline_logistic_imputes_and_predicts(games):
    df, feats = games
    base = baseline_logistic(df, feats)
    assert base.kind == "logistic" and base.calibration == "none"
    p = base.predict_proba(df.tail(200))
    assert np.isfinite(p).all()
    assert ll(df.tail(200)["label_home_win"], p) < 0.66


def test_each_family_can_be_selected_and_predicts(games):
    from pipeline_assets.models.win import default_candidates
    df, feats = games
    small = df[df["season"] >= "2022-23"]
    for cand in default_candidates(fast=True):
        m = train_win_model(small, feats[:6], fast=True, candidates=[cand])
        assert m.kind == cand.kind and np.isfinite(m.predict_proba(small.tail(20))).all()


def test_calibration_choice_follows_oof_log_loss():
    rng = np.random.default_rng(1)
    folds = []
    for _ in range(3):
        z = rng.normal(size=3000)
        y = (rng.random(3000) < 1 / (1 + np.exp(-z))).astype(float)
        folds.append((1 / (1 + np.exp(-3 * z)), y))  # overconfident raw probabilities
    method, rep = choose_calibration(folds)
    assert method in ("sigmoid", "isotonic")
    mean = rep.groupby("method")["log_loss"].mean()
    assert mean[method] == mean.min() and mean[method] < mean["none"]
    # well-calibrated predictions keep "none" unless a calibrator is strictly better
    good = [(1 / (1 + np.exp(-z)), y) for (_, y), z in zip(folds, [np.zeros(3000)] * 3)]
    assert choose_calibration(good)[0] == "none"


def test_calibrator_sigmoid_fixes_overconfidence():
    rng = np.random.default_rng(2)
    z = rng.normal(size=5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-z))).astype(float)
    raw = 1 / (1 + np.exp(-3 * z))
    cal = Calibrator("sigmoid").fit(raw, y)
    assert ll(y, cal.transform(raw)) < ll(y, raw) - 0.05
    iso = Calibrator("isotonic").fit(raw, y).transform(raw)
    assert np.all(np.diff(iso[np.argsort(raw)]) >= -1e-12)


def test_too_little_history_falls_back_to_untuned_baseline(games):
    df, feats = games
    tiny = df[df["season"] == df["season"].min()].head(60)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = train_win_model(tiny, feats, fast=True)
    assert m.kind == "logistic" and m.cv_report.empty
    assert any("not enough history" in str(x.message) for x in w)


# ---------------------------------------------------------------- folds

def _check_folds(folds, dates):
    d = pd.to_datetime(pd.Series(dates)).to_numpy()
    for f in folds:
        assert len(f.train_idx) and len(f.valid_idx)
        assert not set(f.train_idx) & set(f.valid_idx)
        gap = d[f.valid_idx].min() - d[f.train_idx].max()
        assert gap > np.timedelta64(7, "D"), gap  # never before, nor within 7 days of, training
    starts = [d[f.valid_idx].min() for f in folds]
    assert starts == sorted(starts)


@settings(max_examples=150, deadline=None)
@given(offsets=st.lists(st.integers(0, 900), min_size=1, max_size=250),
       n_seasons=st.integers(1, 5), n_folds=st.integers(1, 3), gap=st.integers(0, 20),
       scramble=st.booleans())
def test_time_folds_never_leak(offsets, n_seasons, n_folds, gap, scramble):
    dates = pd.Timestamp("2021-10-01") + pd.to_timedelta(np.asarray(offsets), "D")
    if scramble:  # season labels unrelated to time must still give leak-free folds
        seasons = np.asarray(offsets) % n_seasons
    else:
        seasons = np.asarray(offsets) * n_seasons // 901
    folds = time_folds(dates, seasons, n_folds=n_folds, gap_days=7, min_train_rows=1, min_valid_rows=1)
    assert len(folds) <= n_folds
    _check_folds(folds, dates)
    _check_folds(time_folds(dates, None, n_folds=n_folds, min_train_rows=1, min_valid_rows=1), dates)


def test_time_folds_validate_last_k_seasons(games):
    df, _ = games
    folds = time_folds(df["game_date"], df["season"], n_folds=3)
    seasons = sorted(df["season"].unique())
    assert [f.name for f in folds] == [f"season={s}" for s in seasons[1:]]
    for f, s in zip(folds, seasons[1:]):
        assert set(df["season"].iloc[f.valid_idx]) == {s}
        assert (df["game_date"].iloc[f.train_idx] < f.valid_start - GAP).all()
    assert len(time_folds(df["game_date"], df["season"], n_folds=2)) == 2


def test_time_folds_single_season_uses_date_blocks(games):
    df, _ = games
    one = df[df["season"] == df["season"].min()]
    folds = time_folds(one["game_date"], one["season"], n_folds=3)
    assert [f.name for f in folds] == ["block=1", "block=2", "block=3"]
    _check_folds(folds, one["game_date"].to_numpy())


# ---------------------------------------------------------------- minutes

def make_player_games(n_games=700, seed=3):
    """Two teams x 13 players per game; minutes ~ the player's role with heteroscedastic noise."""
    rng = np.random.default_rng(seed)
    n_players = 60
    role = rng.uniform(4, 36, n_players)  # a player's typical minutes
    rows = []
    dates = pd.Timestamp("2023-10-24") + pd.to_timedelta(np.sort(rng.integers(0, 330, n_games)), "D")
    for g in range(n_games):
        for t in range(2):
            pl = rng.choice(n_players, 13, replace=False)
            rows.append(pd.DataFrame({"game_id": g, "team_id": t, "player_id": pl, "game_date": dates[g],
                                      "role": role[pl]}))
    df = pd.concat(rows, ignore_index=True)
    n = len(df)
    df["avg_min_5"] = df["role"] + rng.normal(0, 2, n)
    df["rest_days"] = rng.integers(1, 4, n).astype(float)
    df["noise"] = rng.normal(size=n)
    df["inj_out"] = (rng.random(n) < 0.04).astype(float)
    mu = df["role"] - 1.0 * (df["rest_days"] == 1)
    minutes = np.clip(mu + rng.normal(0, 2 + 0.15 * mu, n), 0, 48)
    df["label_minutes"] = np.where(df["inj_out"] == 1, 0.0, minutes)
    return df, ["avg_min_5", "rest_days", "noise", "inj_out"]


@pytest.fixture(scope="module")
def minutes_fit():
    df, feats = make_player_games()
    cut = df["game_date"].quantile(0.75)
    train, test = df[df["game_date"] < cut], df[df["game_date"] >= cut + pd.Timedelta(days=7)]
    return train_minutes_model(train, feats, fast=True), test


def test_minutes_quantiles_monotone_and_cover_80(minutes_fit):
    model, test = minutes_fit
    pred = model.predict(test)
    assert list(pred.columns) == ["p10", "p50", "p90"] and pred.index.equals(test.index)
    assert (pred["p10"] <= pred["p50"]).all() and (pred["p50"] <= pred["p90"]).all()
    assert pred.min().min() >= 0 and pred.max().max() <= MAX_MINUTES
    out = test["inj_out"] == 1
    assert out.any() and (pred[out] == 0).all().all()
    playing = ~out
    m = interval_metrics(test.loc[playing, "label_minutes"], pred[playing])
    assert 0.72 <= m["coverage_80"] <= 0.88, m
    assert m["mae_p50"] < 4.5, m
    assert 0.65 <= model.metrics["holdout_coverage_80"] <= 0.92, model.metrics
    # explicit out_mask also zeroes a player
    mask = np.zeros(len(test), bool)
    mask[0] = True
    assert (model.predict(test, out_mask=mask).iloc[0] == 0).all()
    assert pickle.loads(pickle.dumps(model)).predict(test.head(5)).equals(pred.head(5))


def _team(game, team, p50, spread=4.0):
    p50 = np.asarray(p50, float)
    return pd.DataFrame({"game_id": game, "team_id": team, "player_id": np.arange(len(p50)),
                         "p10": np.clip(p50 - spread, 0, None), "p50": p50, "p90": p50 + spread})


def test_reconcile_sums_to_240_and_flags_out_of_range():
    ok = _team(1, "A", [34, 32, 30, 28, 26, 24, 20, 16, 12, 8, 6, 0, 0])       # 236
    low = _team(1, "B", [30, 30, 28, 26, 22, 20, 18, 10, 6, 5, 3, 2, 0])      # 200
    high = _team(2, "C", [40, 38, 34, 30, 28, 26, 24, 20, 14, 12, 8, 4, 2])   # 280
    capped = _team(2, "D", [44, 42, 40, 38, 30, 20, 10, 3, 2, 1, 0, 0, 0])    # 230, stars near 48
    df = pd.concat([ok, low, high, capped], ignore_index=True)
    out, flags = reconcile_team_minutes(df)
    sums = out.groupby(["game_id", "team_id"])["p50"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 240.0, rtol=0, atol=1e-9)
    assert (out["p10"] <= out["p50"]).all() and (out["p50"] <= out["p90"]).all()
    assert out[["p10", "p50", "p90"]].min().min() >= 0
    assert out[["p10", "p50", "p90"]].max().max() <= MAX_MINUTES + 1e-9
    assert sorted(flags["team_id"]) == ["B", "C"]
    assert set(flags["reason"]) == {"raw p50 sum below range", "raw p50 sum above range"}
    np.testing.assert_allclose(flags.set_index("team_id").loc[["B", "C"], "raw_p50_sum"], [200, 280])
    # p10/p90 use the team's p50 factor; zero-minute players stay at zero
    a = out[out["team_id"] == "A"]
    np.testing.assert_allclose(a["scale"], 240 / 236)
    np.testing.assert_allclose(a["p90"].iloc[5], (24 + 4) * 240 / 236)
    assert (out.loc[df["p50"] == 0, "p50"] == 0).all()


def test_reconcile_overtime_total_and_out_players():
    ot = _team(7, "A", [38, 36, 34, 32, 30, 28, 24, 18, 12, 8, 4, 40])  # 304 incl. an Out player (40)
    ot["inj_out"] = 0.0
    ot.loc[11, "inj_out"] = 1.0                                          # -> 264 raw for 265 (1 OT)
    reg = _team(7, "B", [36, 34, 32, 30, 28, 26, 22, 16, 10, 6])         # 240
    reg["inj_out"] = 0.0
    df = pd.concat([ot, reg], ignore_index=True)
    df["team_minutes"] = np.where(df["team_id"] == "A", 240 + 25, 240)
    out, flags = reconcile_team_minutes(df, total="team_minutes")
    assert out.loc[11, ["p10", "p50", "p90"]].eq(0).all()
    sums = out.groupby("team_id")["p50"].sum()
    np.testing.assert_allclose(sums[["A", "B"]], [265.0, 240.0])
    assert flags.empty  # 264 is inside [255, 285]; 240 inside [230, 260]
    # a scalar 240 for the OT team flags it (264 > 260) but still reconciles to 240
    out2, flags2 = reconcile_team_minutes(df[df["team_id"] == "A"], total=240.0)
    assert np.isclose(out2["p50"].sum(), 240.0) and list(flags2["reason"]) == ["raw p50 sum above range"]
    # an explicit out_mask works without the column
    out3, _ = reconcile_team_minutes(reg.drop(columns="inj_out"), out_mask=np.arange(len(reg)) == 0)
    assert out3["p50"].iloc[0] == 0 and np.isclose(out3["p50"].sum(), 240.0)


def test_reconcile_flags_unreachable_totals():
    few = _team(3, "A", [40, 40, 40, 40])  # 4 players cannot play 240 minutes under the 48 cap
    none = _team(3, "B", [0.0] * 5)
    out, flags = reconcile_team_minutes(pd.concat([few, none], ignore_index=True))
    assert (out["p50"] <= MAX_MINUTES).all()
    reasons = dict(zip(flags["team_id"], flags["reason"]))
    assert reasons["A"].startswith("cannot reach total") and reasons["B"].startswith("no minutes")
