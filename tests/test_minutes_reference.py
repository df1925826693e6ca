"""The fast availability kernels give exactly what the pandas implementation they replaced gave.

The references below are the previous implementation (groupbys over the window appearances, a
merge of every Out listing with every candidate), kept here only as the tests' oracle.  Each
kernel is compared with its reference on generated inputs (hypothesis), and the whole minutes
builder with the references patched in on real archive seasons (skipped without the data).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_assets.features import asof as A
from pipeline_assets.features import availability as AV
from pipeline_assets.features import build_minutes_features

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)
T0 = pd.Timestamp("2021-10-19 23:00", tz="UTC")


# ------------------------------------------------------------------------- references (old code)

def reference_window_appearances(w: pd.DataFrame, apps: pd.DataFrame) -> pd.DataFrame:
    ap = w[["_side", "lag", "game_id", "team_id", "cutoff_ts"]].merge(
        apps[["game_id", "team_id", "player_id", "minutes", "ts"]], on=["game_id", "team_id"],
        how="inner")
    ap = ap[ap["ts"] <= ap["cutoff_ts"]]
    return ap[["_side", "lag", "player_id", "minutes"]].reset_index(drop=True)


def _reference_ramp(ap: pd.DataFrame) -> pd.Series:
    a = ap[["_side", "player_id", "lag"]].sort_values(["_side", "player_id", "lag"],
                                                      kind="mergesort")
    nxt = a.groupby(["_side", "player_id"], sort=False)["lag"].shift(-1)
    gap = (nxt - a["lag"] - 1).to_numpy(float)
    a = a.assign(gap=gap, pos=a.groupby(["_side", "player_id"], sort=False).cumcount() + 1)
    hit = a[a["gap"] >= AV.RAMP_GAP]
    r = hit.groupby(["_side", "player_id"])["pos"].min()
    return r.astype(float)


def reference_window_stats(ap: pd.DataFrame) -> pd.DataFrame:
    key = ["_side", "player_id"]
    agg = {f"played_l{n}": ap.assign(v=ap["lag"] < n).groupby(key)["v"].sum()
           for n in AV.WINDOWS}
    agg["min_team_l5"] = ap.assign(v=np.where(ap["lag"] < 5, ap["minutes"], 0.0)).groupby(key)[
        "v"].sum()
    agg["apps_team"] = ap.groupby(key).size()
    agg["ramp"] = _reference_ramp(ap)
    return pd.DataFrame(agg).reset_index()


def reference_listing_run(c: pd.DataFrame, s: pd.DataFrame, inj: pd.DataFrame,
                          is_out: np.ndarray) -> np.ndarray:
    res = np.zeros(len(c))
    idx = np.flatnonzero(is_out)
    if len(idx) == 0:
        return res
    q = c.iloc[idx][["_side", "team_id", "player_id", "game_date", "cutoff_ts"]].reset_index()
    o = inj[inj["status_norm"].isin(A.OUT_STATUSES)][["team_id", "player_id", "game_date",
                                                        "snapshot_ts"]]
    m = q.merge(o.rename(columns={"game_date": "d"}), on=["team_id", "player_id"], how="inner")
    m = m[(m["d"] <= m["game_date"]) & (m["snapshot_ts"] <= m["cutoff_ts"])]
    m = m.drop_duplicates(["index", "d"])
    m = m[A.day_number(m["game_date"]) - A.day_number(m["d"]) < AV.INJURY_LOOKBACK_DAYS]
    m["dn"] = A.day_number(m["d"])
    m = m.sort_values(["index", "dn"], ascending=[True, False], kind="mergesort")
    gap = m.groupby("index", sort=False)["dn"].diff().abs().fillna(0.0) > AV.RUN_GAP_DAYS
    brk = gap.groupby(m["index"], sort=False).cummax()
    run = m[~brk].groupby("index").size()
    res[run.index.to_numpy()] = run.to_numpy(float)
    return res


# ------------------------------------------------------------------------------ generation

def _day(i: int) -> str:
    return (pd.Timestamp("2021-10-19") + pd.Timedelta(days=int(i))).strftime("%Y-%m-%d")


@st.composite
def window_rows(draw):
    """Window appearances: a few sides and players, lags 0..19, at most one row per key, rows
    in any order."""
    keys = draw(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 6), st.integers(0, 19)),
                         unique=True, max_size=80))
    minutes = draw(st.lists(st.floats(0, 48, allow_nan=False), min_size=len(keys),
                            max_size=len(keys)))
    return pd.DataFrame({"_side": np.array([k[0] for k in keys], dtype=np.int64),
                         "lag": np.array([k[2] for k in keys], dtype=np.int64),
                         "player_id": np.array([k[1] for k in keys], dtype=np.int64),
                         "minutes": np.array(minutes, dtype=float)})


@given(window_rows())
@SETTINGS
def test_window_stats_equal_the_groupby_reference(ap):
    got = AV.window_stats(ap)
    want = reference_window_stats(ap)
    if len(ap) == 0:
        assert len(got) == 0
        return
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)


@st.composite
def windows_and_apps(draw):
    """Window games of sides (several sides share games) and appearances with availability
    stamps before and after the sides' cutoffs."""
    n_games = draw(st.integers(1, 8))
    w_rows = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, n_games - 1),
                                     st.integers(0, 72)), max_size=30))
    a_rows = draw(st.lists(st.tuples(st.integers(0, n_games - 1), st.integers(1, 12),
                                     st.integers(0, 72)), max_size=60))
    a_rows = list({(g, p): (g, p, h) for g, p, h in a_rows}.values())  # one row per game, player
    w = pd.DataFrame({"_side": [r[0] for r in w_rows], "lag": list(range(len(w_rows))),
                      "game_id": [f"g{r[1]}" for r in w_rows], "team_id": [r[1] % 2 for r in w_rows],
                      "cutoff_ts": pd.Series([T0 + pd.Timedelta(hours=r[2]) for r in w_rows],
                                             dtype="datetime64[us, UTC]")})
    apps = pd.DataFrame({"game_id": [f"g{r[0]}" for r in a_rows],
                         "team_id": [r[0] % 2 for r in a_rows],
                         "player_id": np.array([r[1] for r in a_rows], dtype=np.int64),
                         "minutes": np.arange(len(a_rows), dtype=float),
                         "ts": pd.Series([T0 + pd.Timedelta(hours=r[2]) for r in a_rows],
                                         dtype="datetime64[us, UTC]")})
    return w, apps


@given(windows_and_apps())
@SETTINGS
def test_window_appearances_equal_the_merge_reference(data):
    w, apps = data
    got = AV.window_appearances(w, apps)
    want = reference_window_appearances(w, apps)
    # the same rows in the same order (the candidates' order breaks min_rank ties)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@st.composite
def listings(draw):
    """Candidate rows listed Out or not and Out/Questionable listings of a few players over six
    weeks, stamped before and after the candidates' cutoffs."""
    inj_rows = draw(st.lists(st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(0, 45),
                                       st.integers(-30, 30), st.sampled_from(["out", "doubtful",
                                                                             "questionable"])),
                             max_size=60))
    c_rows = draw(st.lists(st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(0, 45),
                                     st.booleans()), min_size=1, max_size=20))
    inj = pd.DataFrame({
        "team_id": np.array([r[0] for r in inj_rows], dtype=np.int64),
        "player_id": np.array([r[1] for r in inj_rows], dtype=np.int64),
        "game_date": pd.Series([_day(r[2]) for r in inj_rows], dtype=object),
        "snapshot_ts": pd.Series([T0 + pd.Timedelta(days=r[2], hours=r[3]) for r in inj_rows],
                                 dtype="datetime64[us, UTC]"),
        "status_norm": pd.Series([r[4] for r in inj_rows], dtype=object)})
    c = pd.DataFrame({
        "_side": range(len(c_rows)), "team_id": [r[0] for r in c_rows],
        "player_id": [r[1] for r in c_rows], "game_date": [_day(r[2]) for r in c_rows],
        "cutoff_ts": pd.Series([T0 + pd.Timedelta(days=r[2]) for r in c_rows],
                               dtype="datetime64[us, UTC]")})
    return c, inj, np.array([r[3] for r in c_rows])


@given(listings())
@SETTINGS
def test_listing_runs_equal_the_merge_reference(data):
    c, inj, is_out = data
    np.testing.assert_array_equal(AV._listing_run(c, None, inj, is_out),
                                  reference_listing_run(c, None, inj, is_out))


def test_minutes_builder_equals_the_reference_on_real_seasons(shared_data_dir, monkeypatch):
    """Two archive seasons (2015-16, 2016-17; ~45k player-game rows) built with the kernels and
    with the references patched in: the same frame, exactly."""
    from resources.sources.archive import ArchiveSource
    src = ArchiveSource(shared_data_dir)
    tables = {k: src.table(k) for k in ("schedule", "results", "box_scores", "injuries", "odds")}
    sched = tables["schedule"]
    sched = sched[(sched["game_date"] >= "2015-10-01") & (sched["game_date"] <= "2017-06-30")]
    targets = sched.assign(cutoff_ts=sched["tip_ts"])
    args = (targets, tables["results"], tables["box_scores"], tables["injuries"], tables["odds"])
    fast = build_minutes_features(*args)
    monkeypatch.setattr(AV, "window_stats", reference_window_stats)
    monkeypatch.setattr(AV, "window_appearances", reference_window_appearances)
    monkeypatch.setattr(AV, "_listing_run", reference_listing_run)
    slow = build_minutes_features(*args)
    assert len(fast) > 40_000 and fast["av_inj_games"].gt(0).any() and fast["av_ramp"].lt(10).any()
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
