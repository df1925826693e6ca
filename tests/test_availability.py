"""As-of (leakage) property tests and unit tests of the expected-lineup parts:
features.availability, features.players, features.strength, models.availability,
models.win_linear, models.minutes_reconcile, models.lineup.

tests/test_leakage.py shows the stored candidate rows (availability features ``av_*``, rating
sums ``rt_*``) never see rows stamped after a cutoff.  Here the same random league checks what the
models derive from them at prediction time -- each side's expected-lineup strength and every
candidate's minutes context, with fixed box weights and a fixed stand-in for the availability
classifier -- and that input row order never matters.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_assets.features import build_game_features, build_minutes_features
from pipeline_assets.features import players as PL
from pipeline_assets.models.lineup import LineupModel
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
        b[s] = pd.array(np.floor(((h // (i + 3)) % 7) * mins / 20.0).astype(int), dtype="Int64")
    return b


WEIGHTS = PL.BoxWeights(-0.05, {"pts": 0.01, "ast": 0.02, "tov": -0.03, "dreb": 0.01},
                        {"pts": 0.3, "ast": 0.05})


class FixedAvailability:
    """A deterministic stand-in for the fitted classifier."""

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        z = 2.0 - 0.5 * rows["missed"] - 2.0 * rows["inj_out"] + 0.05 * rows["min_l5"].fillna(0)
        return 1.0 / (1.0 + np.exp(-z.to_numpy(float)))


LINEUP = LineupModel(WEIGHTS, FixedAvailability())


def _features(targets, tables):
    """Game rows, candidate rows, each game's lineup strength and each candidate's minutes
    context."""
    args = (tables["results"], _with_stats(tables["box_scores"]), tables["injuries"],
            tables["odds"])
    games = build_game_features(targets, *args)
    players = build_minutes_features(targets, *args, rosters=tables.get("rosters"))
    strength = LINEUP.game_strength(games, players)
    context = LINEUP.minutes_context(players)
    return games, players, strength, context


@SETTINGS
@given(league=league, seed2=st.integers(0, 2**32 - 1))
def test_rows_after_cutoff_never_change_lineup_features(league, seed2):
    sch, tables = make_league(*league)
    rng = np.random.default_rng(seed2)
    targets = pick_targets(rng, sch, tables["results"])
    g0, p0, s0, c0 = _features(targets, tables)
    T = targets["cutoff_ts"].iloc[int(rng.integers(0, len(targets)))]
    changed = perturb_after(rng, T, sch, tables)
    g1, p1, s1, c1 = _features(targets, changed)

    keep = (g0["cutoff_ts"] <= T).to_numpy()
    assert keep.any()
    pd.testing.assert_frame_equal(s0[keep].reset_index(drop=True),
                                  s1[keep].reset_index(drop=True), check_exact=True)
    k0, k1 = p0["cutoff_ts"].le(T).to_numpy(), p1["cutoff_ts"].le(T).to_numpy()
    pd.testing.assert_frame_equal(c0[k0].reset_index(drop=True), c1[k1].reset_index(drop=True),
                                  check_exact=True)


@SETTINGS
@given(league=league, seed2=st.integers(0, 2**32 - 1))
def test_input_row_order_never_changes_lineup_features(league, seed2):
    sch, tables = make_league(*league)
    rng = np.random.default_rng(seed2)
    targets = pick_targets(rng, sch, tables["results"])
    f0 = _features(targets, tables)
    shuffled = {k: (None if v is None else v.sample(frac=1.0, random_state=int(
        rng.integers(0, 10**6))).reset_index(drop=True)) for k, v in tables.items()}
    f1 = _features(targets, shuffled)
    for a, b in zip(f0, f1):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_lineup_strength_uses_ratings_and_availability():
    """On a fixed league: a side whose best-rated player is ruled out loses strength."""
    sch, tables = make_league(11, 4, 24)
    targets = sch.assign(cutoff_ts=sch["tip_ts"])
    g, p, s, _ = _features(targets, tables)
    assert (p["rt_apps"] > 0).any()
    rated = LINEUP.rated(p)
    assert rated["rating"].nunique() > 3 and rated["p_play"].between(0, 1).all()
    out = p.assign(av_inj_out=1.0)
    s_out = LINEUP.game_strength(g, out)
    assert (s_out["home_miss_share"] >= s["home_miss_share"] - 1e-12).all()
    assert (s_out["home_miss_share"] > s["home_miss_share"]).any()


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
