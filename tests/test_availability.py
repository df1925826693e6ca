"""As-of (leakage) property tests and unit tests of the expected-lineup features:
features.availability, features.players, features.strength, features.team_ratings,
features.schedule, models.availability, models.win_linear, models.minutes_reconcile.

The property test reuses the random league of test_leakage.py (results published with lags,
late box rows even for old games, injury and odds updates) and checks that every row of every
new feature for targets with cutoff <= T is unchanged when rows stamped after T are perturbed,
dropped or added, and that input row order never matters.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_assets.features import asof as A
from pipeline_assets.features import availability as AV
from pipeline_assets.features import players as PL
from pipeline_assets.features import schedule as SC
from pipeline_assets.features import strength as S
from pipeline_assets.features import team_ratings as TR
from tests.test_leakage import SETTINGS, league, make_league, perturb_after, pick_targets

UTC = "datetime64[us, UTC]"


def _with_stats(box: pd.DataFrame | None) -> pd.DataFrame | None:
    """Deterministic plus-minus and box stats from (game, player, minutes): a perturbed or new
    row gets new values, an untouched row keeps its own."""
    if box is None:
        return None
    b = box.copy()
    key = [f"{g}|{p}|{m!r}" for g, p, m in zip(b["game_id"], b["player_id"], b["minutes"])]
    h = np.array([int(hashlib.sha1(k.encode()).hexdigest()[:8], 16) for k in key], dtype=float)
    mins = b["minutes"].fillna(0).to_numpy(float)
    b["plus_minus"] = np.where(b["minutes"].notna(), (h % 41) - 20.0, np.nan)
    for i, s in enumerate(PL.BOX_STATS):
        b[s] = np.floor(((h // (i + 3)) % 7) * mins / 20.0)
    return b


def _prepared(targets, tables):
    inp = A.prepare(targets, tables["results"], tables["box_scores"], tables["injuries"],
                    tables["odds"], who="test")
    box = _with_stats(tables["box_scores"])
    extra = ["plus_minus", *PL.BOX_STATS]
    if box is not None and len(inp.box):
        b = inp.box.merge(box[["game_id", "player_id"] + extra], on=["game_id", "player_id"],
                          how="left")
    else:
        b = inp.box.assign(**{c: pd.Series([], dtype=float) for c in extra})
    return inp, b


WEIGHTS = PL.BoxWeights(-0.05, {"pts": 0.01, "ast": 0.02, "tov": -0.03, "dreb": 0.01},
                        {"pts": 0.3, "ast": 0.05})


def _features(targets, sched, tables):
    """Every new feature of the targets: candidate rows (availability + ratings), game
    strength with a fixed availability 'model', minutes context, margin ratings, schedule."""
    inp, box = _prepared(targets, tables)
    sides = S.sides_of(inp.targets)
    rows = S.player_rows(sides, inp.results, box, inp.injuries, WEIGHTS, schedule=sched)
    # a fixed, deterministic stand-in for the fitted classifier
    z = (2.0 - 0.5 * rows["missed"] - 2.0 * rows["inj_out"] + 0.05 * rows["min_l5"].fillna(0))
    p = 1.0 / (1.0 + np.exp(-z.to_numpy(float)))
    gs = S.game_strength(rows, p, len(inp.targets))
    mc = S.minutes_context(rows, p)
    tr = TR.margin_ratings(inp.targets, inp.results)
    home = np.repeat(inp.targets["home_team_id"].to_numpy(), 2)
    ss = SC.schedule_strain(sides.assign(home_team_id=home), sched)
    return inp.targets, sides, rows, gs, mc, tr, ss


def _side_cut(sides, T):
    return set(sides.loc[sides["cutoff_ts"] <= T, "_side"])


def _rows_of(rows: pd.DataFrame, keep_sides: set, extra: pd.DataFrame | None = None):
    r = rows if extra is None else pd.concat([rows, extra], axis=1)
    r = r[r["_side"].isin(keep_sides)]
    return r.sort_values(["_side", "player_id"], kind="mergesort").reset_index(drop=True)


@SETTINGS
@given(league=league, seed2=st.integers(0, 2**32 - 1))
def test_rows_after_cutoff_never_change_new_features(league, seed2):
    sch, tables = make_league(*league)
    rng = np.random.default_rng(seed2)
    targets, _ = pick_targets(rng, sch, tables["results"])
    t0, sides0, rows0, gs0, mc0, tr0, ss0 = _features(targets, sch, tables)
    T = targets["cutoff_ts"].iloc[int(rng.integers(0, len(targets)))]
    changed = perturb_after(rng, T, sch, tables)
    t1, sides1, rows1, gs1, mc1, tr1, ss1 = _features(targets, sch, changed)

    keep = (t0["cutoff_ts"] <= T).to_numpy()
    assert keep.any()
    ks = _side_cut(sides0, T)
    pd.testing.assert_frame_equal(_rows_of(rows0, ks, mc0.add_prefix("mc_")),
                                  _rows_of(rows1, ks, mc1.add_prefix("mc_")), check_exact=True)
    for a, b in ((gs0, gs1), (tr0, tr1)):
        pd.testing.assert_frame_equal(a[keep].reset_index(drop=True),
                                      b[keep].reset_index(drop=True), check_exact=True)
    skeep = sides0["cutoff_ts"].le(T).to_numpy()
    pd.testing.assert_frame_equal(ss0[skeep].reset_index(drop=True),
                                  ss1[skeep].reset_index(drop=True), check_exact=True)


@SETTINGS
@given(league=league, seed2=st.integers(0, 2**32 - 1))
def test_input_row_order_never_changes_new_features(league, seed2):
    sch, tables = make_league(*league)
    rng = np.random.default_rng(seed2)
    targets, _ = pick_targets(rng, sch, tables["results"])
    f0 = _features(targets, sch, tables)
    shuffled = {k: (None if v is None else v.sample(frac=1.0, random_state=int(
        rng.integers(0, 10**6))).reset_index(drop=True)) for k, v in tables.items()}
    f1 = _features(targets, sch.sample(frac=1.0, random_state=1).reset_index(drop=True),
                   shuffled)
    all_sides = set(f0[1]["_side"])
    pd.testing.assert_frame_equal(_rows_of(f0[2], all_sides), _rows_of(f1[2], all_sides),
                                  check_exact=True)
    for a, b in zip(f0[3:], f1[3:]):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


# ------------------------------------------------------------------------------- unit tests

def _ts(s):
    return pd.Timestamp(s, tz="UTC")


def test_decayed_sums_and_shrinkage():
    box = pd.DataFrame({
        "game_id": ["g1", "g2"], "team_id": [1, 1], "player_id": [7, 7],
        "avail_ts": pd.Series([_ts("2021-01-01"), _ts("2021-01-11")]).astype(UTC),
        "minutes": [30.0, 20.0], "plus_minus": [6.0, -2.0], "pts": [10.0, 4.0]})
    st_ = PL.rating_stream(box, half_life=10.0, stats=("pts",))
    rows = pd.DataFrame({"player_id": [7, 7, 8],
                         "cutoff_ts": pd.Series([_ts("2021-01-21"), _ts("2021-01-05"),
                                                 _ts("2021-01-21")]).astype(UTC)})
    d = PL.decayed_asof(rows, st_, ["D_min", "D_pm"])
    # at 01-21: 30 * 2^-2 + 20 * 2^-1 = 17.5 minutes; 6/4 - 1 = 0.5 plus-minus
    assert d["D_min"].iloc[0] == pytest.approx(17.5)
    assert d["D_pm"].iloc[0] == pytest.approx(0.5)
    assert d["D_min"].iloc[1] == pytest.approx(30 * 2 ** -0.4)  # only g1 is known on 01-05
    assert d["D_min"].iloc[2] == 0.0 and d["n"].iloc[2] == 0
    w = PL.BoxWeights(0.0, {"pts": 0.1}, {"pts": 0.2})
    r = PL.player_ratings(rows, st_, w, k_pm=10.0, k_box=5.0, repl_48=-3.0)
    box_rate = (10 * 0.25 + 4 * 0.5 + 5 * 0.2) / (17.5 + 5)
    assert r["r_box"].iloc[0] == pytest.approx(48 * 0.1 * box_rate)
    assert r["rating"].iloc[0] == pytest.approx(48 * (0.5 + 10 * 0.1 * box_rate) / (17.5 + 10))
    # no history: replacement level everywhere
    assert r["r_box"].iloc[2] == pytest.approx(-3.0)
    assert r["rating"].iloc[2] == pytest.approx(-3.0)


def test_fit_box_weights_recovers_linear_truth():
    rng = np.random.default_rng(0)
    n = 400
    mins = rng.uniform(300, 2500, n)
    rates = {s: rng.uniform(0, 1, n) for s in PL.BOX_STATS}
    truth = {s: 0.0 for s in PL.BOX_STATS}
    truth.update({"pts": 0.2, "ast": 0.3, "tov": -0.4})
    pm = -0.1 + sum(truth[s] * rates[s] for s in PL.BOX_STATS)
    tot = pd.DataFrame({"player_id": np.arange(n), "season": "2020-21", "minutes": mins,
                        "plus_minus": pm * mins, **{s: rates[s] * mins for s in PL.BOX_STATS}})
    w = PL.fit_box_weights(tot, ridge=1e-6)
    for s in ("pts", "ast", "tov"):
        assert w.coef[s] == pytest.approx(truth[s], abs=1e-3)
    assert w.intercept == pytest.approx(-0.1, abs=1e-3)


def test_team_strength_fills_with_replacement_and_scales_down():
    c = pd.DataFrame({"_side": [0, 0, 1, 1, 1], "p_play": [1.0, 0.5, 1.0, 1.0, 1.0],
                      "exp_min": [40.0, 40.0, 100.0, 100.0, 100.0],
                      "rating": [6.0, 2.0, 1.0, 1.0, 4.0]})
    ts = PL.team_strength(c, repl_48=-3.0)
    # side 0: 40*6 + 20*2 + 180*(-3) over 240
    assert ts.loc[0, "avail"] == pytest.approx((240 + 40 - 540) / 240)
    assert ts.loc[0, "miss_share"] == pytest.approx(1 - 60 / 80)
    # side 1: 300 expected minutes scaled to 240 -> a minutes-weighted mean
    assert ts.loc[1, "avail"] == pytest.approx(2.0)
    assert ts.loc[1, "full"] == pytest.approx(2.0)


def test_margin_ratings_home_edge_and_neutral_site():
    days = pd.date_range("2021-01-01", periods=60, freq="D")
    res = pd.DataFrame({
        "game_id": [f"g{i}" for i in range(60)], "game_date": days.strftime("%Y-%m-%d"),
        "home_team_id": np.where(np.arange(60) % 2 == 0, 1, 2),
        "away_team_id": np.where(np.arange(60) % 2 == 0, 2, 1),
        "avail_ts": pd.Series(days.tz_localize("UTC") + pd.Timedelta(hours=3)).astype(UTC)})
    # team 1 is 4 points better, home edge 3
    res["home_pts"] = 100 + np.where(res["home_team_id"] == 1, 7, -1)
    res["away_pts"] = 100
    tg = pd.DataFrame({"home_team_id": [1, 1], "away_team_id": [2, 2],
                       "game_date": ["2021-03-15", "2020-08-15"],
                       "cutoff_ts": pd.Series([_ts("2021-03-15 23:00")] * 2).astype(UTC)})
    out = TR.margin_ratings(tg, res, half_life=1000.0, ridge=0.01, ridge_home=0.01)
    assert out["tr_hca"].iloc[0] == pytest.approx(3.0, abs=0.05)
    assert out["tr_home"].iloc[0] - out["tr_away"].iloc[0] == pytest.approx(4.0, abs=0.05)
    assert out["tr_margin"].iloc[0] == pytest.approx(7.0, abs=0.1)
    assert out["tr_neutral"].iloc[1] == 1.0  # a 2020 bubble date: no home edge
    assert out["tr_margin"].iloc[1] == pytest.approx(4.0, abs=0.1)


def test_schedule_strain_rest_density_travel():
    sch = pd.DataFrame({
        "game_id": ["a", "b", "c", "d"],
        "game_date": ["2021-01-01", "2021-01-03", "2021-01-04", "2021-01-10"],
        "home_team_id": [1610612738, 1610612747, 1610612743, 1610612738],
        "away_team_id": [1610612752, 1610612738, 1610612738, 1610612752]})
    sch["tip_ts"] = pd.Series(pd.to_datetime(sch["game_date"]).dt.tz_localize("UTC")
                              + pd.Timedelta(hours=24)).astype(UTC)
    sides = pd.DataFrame({"_side": [0, 1], "team_id": [1610612738, 1610612738],
                          "game_date": ["2021-01-04", "2021-01-10"],
                          "home_team_id": [1610612743, 1610612738]})
    sides["cutoff_ts"] = sch.set_index("game_date").loc[sides["game_date"], "tip_ts"].to_numpy()
    out = SC.schedule_strain(sides, sch)
    assert list(out["b2b"]) == [1.0, 0.0]
    assert list(out["three_in_four"]) == [1.0, 0.0]
    assert out["rest_days"].tolist() == [1.0, 6.0]
    assert 1200 < out["travel_km"].iloc[0] < 1400      # Los Angeles -> Denver
    assert out["altitude"].tolist() == [1.0, 0.0]
    assert out["tz_shift"].iloc[0] == 1.0


def test_reconcile_by_width_sums_to_total_and_moves_uncertain_players():
    from pipeline_assets.models.minutes_reconcile import reconcile_by_width
    p = pd.DataFrame({"game_id": "g", "team_id": 1, "p10": [30.0, 0.0, 10.0],
                      "p50": [34.0, 6.0, 20.0], "p90": [36.0, 20.0, 30.0], "inj_out": 0})
    r = reconcile_by_width(p, total=100.0)
    assert r["p50"].sum() == pytest.approx(100.0)
    moved = r["p50"] - p["p50"]
    assert moved.iloc[0] < moved.iloc[1] < moved.iloc[2] + 1e-9 or moved.iloc[0] < moved.iloc[2]
    assert (r["p10"] <= r["p50"]).all() and (r["p50"] <= r["p90"]).all()


def test_availability_model_is_calibrated_on_synthetic_rows():
    from pipeline_assets.models.availability import FEATURES, fit_availability
    rng = np.random.default_rng(1)
    n = 20_000
    rows = pd.DataFrame({f: rng.normal(size=n) for f in FEATURES})
    rows["missed"] = rng.integers(0, 6, n).astype(float)
    rows["inj_out"] = (rng.random(n) < 0.15).astype(float)
    rows["playoff"] = 0.0
    p_true = 1 / (1 + np.exp(-(2.5 - 0.8 * rows["missed"] - 3.0 * rows["inj_out"])))
    rows["played"] = (rng.random(n) < p_true).astype(float)
    rows["box_known"] = 1.0
    m = fit_availability(rows.iloc[:15000])
    p = m.predict(rows.iloc[15000:])
    y = rows["played"].to_numpy()[15000:]
    assert abs(p.mean() - y.mean()) < 0.02
    assert np.mean((p - y) ** 2) < np.mean((p_true.to_numpy()[15000:] - y) ** 2) + 0.01


def test_linear_win_model_has_no_home_edge_at_neutral_sites():
    from pipeline_assets.models.win_linear import fit_linear_win
    rng = np.random.default_rng(2)
    n = 3000
    df = pd.DataFrame({"x": rng.normal(size=n), "b2b": (rng.random(n) < 0.2).astype(float),
                       "home_flag": 1.0,
                       "game_date": pd.date_range("2019-01-01", periods=n, freq="h")
                       .strftime("%Y-%m-%d")})
    z = 0.3 + 0.8 * df["x"] - 0.2 * df["b2b"]
    df["label_home_win"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    m = fit_linear_win(df, ["x", "b2b", "home_flag"])
    even = pd.DataFrame({"x": [0.0, 0.0], "b2b": [0.0, 0.0], "home_flag": [0.0, 1.0]})
    p = m.predict_proba(even)
    assert p[0] == pytest.approx(0.5, abs=1e-9)
    assert p[1] == pytest.approx(1 / (1 + np.exp(-0.3)), abs=0.05)


def test_market_stack_stays_at_the_market_without_signal():
    from pipeline_assets.models.win_linear import fit_market_stack
    rng = np.random.default_rng(3)
    pm = rng.uniform(0.2, 0.8, 5000)
    y = (rng.random(5000) < pm).astype(float)
    noise = np.clip(pm + rng.normal(0, 0.2, 5000), 0.01, 0.99)
    assert fit_market_stack(pm, noise, y).beta < 0.1
    assert fit_market_stack(pm[:100], noise[:100], y[:100]).beta == 0.0
