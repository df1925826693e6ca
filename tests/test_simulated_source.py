"""The `simulated` source: a realistic, deterministic, fast league that obeys as-of strictly."""
from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tipoff_core.schemas import TABLES, conform, empty_frame
from resources.sources import simulated
from resources.sources.base import KINDS, Source, SourceError, records_payload
from resources.sources.simulated import SimulatedSource, american_to_prob, season_window

SEASON = "2026-27"
NY = "America/New_York"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def src() -> SimulatedSource:
    return SimulatedSource(seed=7)


@pytest.fixture(scope="module")
def sched(src) -> pd.DataFrame:
    return src.season_games(SEASON)


@pytest.fixture(scope="module")
def results(src) -> pd.DataFrame:
    return src.table("results", SEASON)


def _team_games(sched: pd.DataFrame) -> pd.DataFrame:
    g = pd.concat([
        sched[["game_id", "game_date", "home_team"]].rename(columns={"home_team": "team"})
        .assign(home=True),
        sched[["game_id", "game_date", "away_team"]].rename(columns={"away_team": "team"})
        .assign(home=False),
    ])
    g["day"] = pd.to_datetime(g["game_date"])
    return g.sort_values(["team", "day"]).reset_index(drop=True)


# ---- protocol & schema -----------------------------------------------------------------------
def test_is_a_source_and_tables_conform(src):
    assert isinstance(src, Source) and src.name == "simulated"
    day = src.game_dates(SEASON)[40]
    as_of = pd.Timestamp(day, tz=NY).tz_convert("UTC") + pd.Timedelta(days=2)
    for kind in KINDS:
        ext = src.fetch(kind, day, as_of)
        schema = TABLES[kind][0]
        assert list(ext.table.columns) == list(schema), kind
        assert len(ext.table) > 0, kind
        pd.testing.assert_frame_equal(ext.table, conform(ext.table, kind, "t", "t"))
        assert ext.raw == records_payload(ext.table)
        assert ext.source == "simulated" and ext.kind == kind
        whole = src.table(kind, SEASON)
        assert list(whole.columns) == list(schema)
        key = TABLES[kind][1]
        assert not whole.duplicated(key).any(), kind


def test_bad_input_fails_loudly(src):
    with pytest.raises(SourceError, match="simulated"):
        src.fetch("weather", dt.date(2026, 11, 1), pd.Timestamp("2026-11-02", tz="UTC"))
    with pytest.raises(SourceError):
        src.season_games("2026-2027")
    with pytest.raises(SourceError):
        SimulatedSource(shock={"date": "2027-01-15", "team": "XXX"})


def test_empty_date_returns_empty_valid_tables(src):
    as_of = pd.Timestamp("2027-07-10", tz="UTC")
    for kind in KINDS:
        ext = src.fetch(kind, dt.date(2027, 7, 4), as_of)
        assert ext.table.empty and ext.raw == b"[]"
        pd.testing.assert_frame_equal(ext.table, empty_frame(kind), check_index_type=False)
    # an in-season day without games (Thanksgiving): no slate, but reports and rosters exist
    tg = dt.date(2026, 11, 26)
    as_of = pd.Timestamp("2026-11-27", tz="UTC")
    assert src.fetch("schedule", tg, as_of).table.empty
    assert src.fetch("results", tg, as_of).table.empty
    assert len(src.fetch("rosters", tg, as_of).table) == 450
    assert len(src.fetch("injuries", tg, as_of).table) > 0


def test_calendar_helpers(src):
    start, end = season_window(SEASON)
    assert start == dt.date(2026, 10, 20) and start.weekday() == 1 and 15 <= start.day <= 21
    assert end.month == 4 and 9 <= end.day <= 15
    dates = src.game_dates(SEASON)
    assert dates[0] == start and dates[-1] <= end and dates == sorted(dates)
    assert src.seasons_for(dt.date(2026, 6, 1), dt.date(2027, 1, 1)) == ["2026-27"]
    assert src.seasons_for(dt.date(2025, 3, 1), dt.date(2026, 12, 1)) == ["2024-25", "2025-26",
                                                                           "2026-27"]
    assert src.seasons_for(dt.date(2026, 5, 1), dt.date(2026, 9, 1)) == []


# ---- schedule ----------------------------------------------------------------------------------
def test_schedule_is_balanced_and_realistic(src, sched):
    assert len(sched) == 1230 and sched["game_id"].is_unique
    g = _team_games(sched)
    per_team = g.groupby("team").agg(n=("game_id", "size"), home=("home", "sum"))
    assert (per_team["n"] == 82).all() and (per_team["home"] == 41).all()
    assert len(per_team) == 30
    assert not g.duplicated(["team", "game_date"]).any()          # never twice a day
    per_date = sched.groupby("game_date").size()
    assert per_date.min() >= 5 and per_date.max() <= 14
    gap = g.groupby("team")["day"].diff().dt.days
    b2b = (gap == 1).groupby(g["team"]).sum()
    print(f"\nback-to-backs per team: mean {b2b.mean():.1f} (min {b2b.min()}, max {b2b.max()})")
    assert 11 <= b2b.mean() <= 16 and b2b.min() >= 8 and b2b.max() <= 19
    three_in_three = (gap == 1) & (g.groupby("team")["day"].diff(2).dt.days == 2)
    assert not three_in_three.any()
    # tips: local New York date, realistic clock times, schedule released in August
    tip_local = sched["tip_ts"].dt.tz_convert(NY)
    assert (tip_local.dt.strftime("%Y-%m-%d") == sched["game_date"]).all()
    hours = tip_local.dt.hour + tip_local.dt.minute / 60
    assert hours.between(12, 22.5).all()
    assert hours.isin([19, 19.5, 20, 22]).mean() > 0.5
    assert ((hours < 18) & (tip_local.dt.dayofweek >= 5)).any()    # weekend matinees
    assert (sched["snapshot_ts"] == pd.Timestamp("2026-08-15 16:00", tz="UTC")).all()
    assert set(sched["home_team_id"]) == set(range(1610612737, 1610612767))


def test_any_season_works():
    s = SimulatedSource(seed=3)
    for season in ("2019-20", "2030-31"):
        g = _team_games(s.season_games(season))
        assert (g.groupby("team").size() == 82).all()
        assert not g.duplicated(["team", "game_date"]).any()


# ---- rosters & box scores ------------------------------------------------------------------
def test_rosters(src):
    day = src.game_dates(SEASON)[10]
    r = src.fetch("rosters", day, pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)).table
    assert len(r) == 450 and r["player_id"].is_unique
    assert (r.groupby("team_id").size() == 15).all()
    assert r["snapshot_ts"].nunique() == 1
    assert r["snapshot_ts"].iloc[0].tz_convert(NY).strftime("%H:%M") == "09:00"
    assert set(r["position"]) <= {"G", "F", "C", "G-F", "F-G", "F-C", "C-F"}
    assert (r["player_id"] > 0).all() and r["player_name"].str.contains(" ").all()
    # identities are stable across seasons
    other = src.table("rosters", "2025-26")
    first = other[other["snapshot_ts"] == other["snapshot_ts"].min()]
    assert dict(zip(first["player_id"], first["player_name"])) == \
        dict(zip(r["player_id"], r["player_name"]))


def test_box_scores_add_up(src, results):
    box = src.table("box_scores", SEASON)
    assert (box["minutes"] > 0).all()
    team = box.groupby(["game_id", "team_id"]).agg(
        minutes=("minutes", "sum"), pts=("pts", "sum"), starters=("starter", "sum"),
        n=("player_id", "size"), fga=("fga", "sum"), fta=("fta", "sum"), oreb=("oreb", "sum"),
        tov=("tov", "sum")).reset_index().merge(results, on="game_id")
    np.testing.assert_allclose(team["minutes"], 240 + 25 * team["overtime_periods"], atol=1e-6)
    assert (team["starters"] == 5).all() and team["n"].between(8, 15).all()
    home = team["team_id"] == team["home_team_id"]
    assert (team["pts"] == np.where(home, team["home_pts"], team["away_pts"])).all()
    poss = team["fga"] - team["oreb"] + team["tov"] + 0.44 * team["fta"]
    assert 95 <= poss.mean() <= 105
    assert (box["pts"] <= 3 * box["fga"] + box["fta"]).all()
    assert box.groupby("starter")["minutes"].mean()[True] > 28
    finals = results.set_index("game_id")["final_ts"]
    assert (box["snapshot_ts"] == box["game_id"].map(finals)).all()
    # quarter splits add up, ties went to overtime
    for side in ("home", "away"):
        q = sum(results[f"{side}_q{i}"] for i in range(1, 5)) + results[f"{side}_ot"]
        assert (q == results[f"{side}_pts"]).all()
    assert (results["home_pts"] != results["away_pts"]).all()
    assert 0.02 <= (results["overtime_periods"] > 0).mean() <= 0.1


def test_outcomes_are_realistic(src, sched, results):
    margin = results["home_pts"] - results["away_pts"]
    total = results["home_pts"] + results["away_pts"]
    home_win = (margin > 0).mean()
    print(f"\nhome win {home_win:.3f}, margin sd {margin.std():.2f}, total {total.mean():.1f}"
          f" (sd {total.std():.1f})")
    assert 0.55 <= home_win <= 0.62
    assert 11 <= margin.std() <= 14
    assert 215 <= total.mean() <= 235 and 14 <= total.std() <= 22
    dur = results["final_ts"] - results["game_id"].map(sched.set_index("game_id")["tip_ts"])
    minutes = dur.dt.total_seconds() / 60
    assert minutes.between(100, 260).all() and 125 <= minutes.mean() <= 150


def test_injuries_weaken_teams(src, results):
    """Games where a team misses more value go worse for it (truth the scorer uses)."""
    ar = src._season(SEASON).arrays
    s = src._season(SEASON)
    out = ar["out_total"]
    val = ar["value"]
    miss_h = (out[s.home, ar["k_of"][:, 0]] * val[s.home]).sum(-1)
    miss_a = (out[s.away, ar["k_of"][:, 1]] * val[s.away]).sum(-1)
    margin = (results.set_index("game_id").loc[s.game_ids, "home_pts"]
              - results.set_index("game_id").loc[s.game_ids, "away_pts"]).to_numpy()
    assert np.corrcoef(miss_h - miss_a, margin)[0, 1] < -0.05


# ---- market ---------------------------------------------------------------------------------
def test_market_is_informative_and_vigged(src, results):
    odds = src.table("odds", SEASON)
    assert set(odds["bookmaker"]) == {"simbook_a", "simbook_b"}
    assert (odds.groupby(["game_id", "bookmaker"]).size() == 3).all()
    assert (odds["home_spread"] * 2 == (odds["home_spread"] * 2).round()).all()
    assert (odds["total"] * 2 == (odds["total"] * 2).round()).all()
    close = odds.sort_values("snapshot_ts").groupby(["game_id", "bookmaker"]).tail(1) \
        .merge(results, on="game_id")
    margin = close["home_pts"] - close["away_pts"]
    corr = np.corrcoef(-close["home_spread"], margin)[0, 1]
    qh, qa = american_to_prob(close["home_ml"]), american_to_prob(close["away_ml"])
    over = qh + qa - 1
    ph = qh / (qh + qa)
    np.testing.assert_allclose(ph + qa / (qh + qa), 1)
    y = (margin > 0).to_numpy()
    logloss = -np.mean(np.where(y, np.log(ph), np.log(1 - ph)))
    print(f"\nclosing spread corr {corr:.3f}, overround {over.mean():.4f}, "
          f"closing log loss {logloss:.4f}")
    assert corr > 0.3
    assert 0.03 <= over.mean() <= 0.06 and ((over > 0.02) & (over < 0.07)).all()
    assert logloss < 0.66
    # moneylines agree with the spread: favourite by spread is favourite by price
    spread = close["home_spread"].to_numpy()
    assert (ph[spread < -1] > 0.5).all() and (ph[spread > 1] < 0.5).all()
    # snapshot times: open <= 10:00 local, closing 30 minutes before tip
    tips = odds["game_id"].map(src.season_games(SEASON).set_index("game_id")["tip_ts"])
    assert (odds["snapshot_ts"] < tips).all()
    last = odds.groupby(["game_id", "bookmaker"])["snapshot_ts"].transform("max")
    assert ((tips - last) == pd.Timedelta(minutes=30)).all()


def test_late_injury_news_moves_the_line(src):
    """A player ruled Out only on the last report before tip moves the closing line."""
    inj = src.table("injuries", SEASON)
    sched = src.season_games(SEASON)
    odds = src.table("odds", SEASON)
    players = src.players(SEASON).set_index("player_id")
    inj = inj.sort_values("snapshot_ts")
    last = inj.groupby(["game_date", "player_id"]).tail(1)
    first = inj.groupby(["game_date", "player_id"]).head(1)
    news = last.merge(first[["game_date", "player_id", "status"]], on=["game_date", "player_id"],
                      suffixes=("", "_first"))
    news = news[(news["status"] == "Out") & (news["status_first"] != "Out")]
    news = news[news["player_id"].map(players["value"]) > 1.0]
    moves = []
    piv = odds[odds["bookmaker"] == "simbook_a"].sort_values("snapshot_ts") \
        .groupby("game_id")["home_spread"].agg(["first", "last"])
    for _, row in news.iterrows():
        g = sched[(sched["game_date"] == row["game_date"])
                  & ((sched["home_team_id"] == row["team_id"])
                     | (sched["away_team_id"] == row["team_id"]))]
        if len(g):
            sign = 1 if g["home_team_id"].iloc[0] == row["team_id"] else -1
            gid = g["game_id"].iloc[0]
            moves.append(sign * (piv.loc[gid, "last"] - piv.loc[gid, "first"]))
    assert len(moves) >= 10
    assert np.mean(moves) > 0.5   # the line moved against the team that lost the player


# ---- injuries and as-of ---------------------------------------------------------------------
def test_injury_reports_are_time_stamped(src):
    inj = src.table("injuries", SEASON)
    assert set(inj["status"]) == {"Out", "Doubtful", "Questionable", "Probable", "Available"}
    local = inj["snapshot_ts"].dt.tz_convert(NY)
    assert (local.dt.strftime("%Y-%m-%d") == inj["game_date"]).all()
    assert local.dt.strftime("%H:%M").isin(["08:00", "13:00", "17:30"]).mean() > 0.9
    # a report fetched just before a stamp does not show it; at the stamp it does
    day = src.game_dates(SEASON)[60]
    rows = inj[inj["game_date"] == day.isoformat()]
    stamps = sorted(rows["snapshot_ts"].unique())
    assert len(stamps) >= 3
    for ts in stamps:
        before = src.fetch("injuries", day, ts - pd.Timedelta(seconds=1)).table
        at = src.fetch("injuries", day, ts).table
        assert (before["snapshot_ts"] < ts).all()
        assert (at["snapshot_ts"] == ts).sum() == (rows["snapshot_ts"] == ts).sum()
    # questionable players resolve before tip: the last report of a game day has none
    sched = src.season_games(SEASON)
    playing = pd.concat([sched[["game_date", "home_team_id"]].set_axis(["game_date", "team_id"],
                                                                      axis=1),
                         sched[["game_date", "away_team_id"]].set_axis(["game_date", "team_id"],
                                                                      axis=1)])
    last = inj.sort_values("snapshot_ts").groupby(["game_date", "player_id"]).tail(1) \
        .merge(playing, on=["game_date", "team_id"])
    assert set(last["status"]) <= {"Out", "Available"}


def test_injuries_come_after_the_game_they_happened_in(src):
    """An injury in game k is first reported at 08:00 local the next day; players Out on the
    final report before their game do not play."""
    inj = src.table("injuries", SEASON)
    box = src.table("box_scores", SEASON)
    final = inj.sort_values("snapshot_ts").groupby(["game_date", "player_id"]).tail(1)
    m = final[final["status"] == "Out"].merge(
        box[["game_date", "player_id"]].assign(played=True), on=["game_date", "player_id"],
        how="left")
    assert m["played"].isna().all()
    s = src._season(SEASON)
    ar = s.arrays
    t_i, k_i, p_i = np.nonzero(ar["in_game_injury"] & np.roll(ar["inj_out"], -1, axis=1))
    keep = k_i < 81
    t_i, k_i, p_i = t_i[keep], k_i[keep], p_i[keep]
    assert len(t_i) > 100
    players = src.players(SEASON)
    pid = players["player_id"].to_numpy().reshape(30, 15)
    by_player = {k: g for k, g in inj.groupby("player_id")}
    finals = src.table("results", SEASON).set_index("game_id")["final_ts"]
    for t, k, p in list(zip(t_i, k_i, p_i))[:150]:
        g = ar["team_games"][t, k]
        day = s.days[s.game_day[g]].date()
        rows = by_player[pid[t, p]]
        after = rows[rows["snapshot_ts"] > finals[s.game_ids[g]]]
        before = rows[(rows["game_date"] == day.isoformat())]
        assert not before["status"].isin(["Out", "Doubtful"]).any()
        first = after.iloc[0]
        assert first["game_date"] == (day + dt.timedelta(days=1)).isoformat()
        assert first["snapshot_ts"] == pd.Timestamp(day + dt.timedelta(days=1), tz=NY) \
            + pd.Timedelta(hours=8)
        assert first["status"] in ("Out", "Doubtful")


@settings(max_examples=60, deadline=None)
@given(day_i=st.integers(0, 179), hours=st.floats(-30, 60), kind=st.sampled_from(KINDS))
def test_as_of_is_strict(src, day_i, hours, kind):
    start, _ = season_window(SEASON)
    day = start + dt.timedelta(days=day_i)
    as_of = pd.Timestamp(day, tz=NY).tz_convert("UTC") + pd.Timedelta(hours=hours)
    t = src.fetch(kind, day, as_of).table
    assert (t["snapshot_ts"] <= as_of).all()
    if kind in ("results", "box_scores"):
        finals = src.table("results", SEASON).set_index("game_id")["final_ts"]
        assert (t["game_id"].map(finals) <= as_of).all()
        full = src.fetch(kind, day, pd.Timestamp("2030-01-01", tz="UTC")).table
        assert len(t) == (full["snapshot_ts"] <= as_of).sum()
    if kind == "injuries":
        assert (t["game_date"] == day.isoformat()).all()
    later = src.fetch(kind, day, as_of + pd.Timedelta(hours=3)).table
    assert len(later) >= len(t)
    pd.testing.assert_frame_equal(later.iloc[:len(t)], t)


# ---- determinism ----------------------------------------------------------------------------
_PROBE = [("2026-12-03", "2026-12-04T12:00"), ("2026-11-02", "2026-11-02T20:30"),
          ("2027-03-01", "2027-03-02T06:00"), ("2027-01-20", "2027-01-20T23:59")]

_CHILD = """
import hashlib, sys, pandas as pd
sys.path.insert(0, {repo!r})
from resources.sources.simulated import SimulatedSource
s = SimulatedSource(seed=5)
h = hashlib.sha256()
for day, ts in {probe!r}:
    for kind in ("schedule", "injuries", "odds", "rosters", "results", "box_scores"):
        h.update(s.fetch(kind, day, pd.Timestamp(ts, tz="UTC")).raw)
print(h.hexdigest())
"""


def _digest(source: SimulatedSource, probe) -> str:
    h = hashlib.sha256()
    for day, ts in probe:
        for kind in ("schedule", "injuries", "odds", "rosters", "results", "box_scores"):
            h.update(source.fetch(kind, day, pd.Timestamp(ts, tz="UTC")).raw)
    return h.hexdigest()


def test_deterministic_across_call_order_and_processes():
    simulated._SHARED.clear()  # generate independently, not from the per-process cache
    a = SimulatedSource(seed=5)
    want = _digest(a, _PROBE)
    simulated._SHARED.clear()
    b = SimulatedSource(seed=5)
    # b touches other seasons and dates first, in reverse order
    b.season_games("2025-26")
    for day, ts in reversed(_PROBE):
        b.fetch("box_scores", day, pd.Timestamp(ts, tz="UTC") + pd.Timedelta(days=3))
        b.fetch("odds", day, pd.Timestamp(ts, tz="UTC") - pd.Timedelta(hours=5))
    assert b._season("2026-27") is not a._season("2026-27")
    assert _digest(b, _PROBE) == want
    child = subprocess.run([sys.executable, "-c", _CHILD.format(repo=str(REPO), probe=_PROBE)],
                           capture_output=True, text=True, check=True, cwd=REPO)
    assert child.stdout.strip() == want
    assert _digest(SimulatedSource(seed=6), _PROBE) != want


def test_raw_payload_is_records_payload(src):
    rng = np.random.default_rng(1)
    dates = src.game_dates(SEASON)
    for i in rng.choice(len(dates), 8, replace=False):
        day = dates[i]
        for kind in KINDS:
            as_of = pd.Timestamp(day, tz=NY).tz_convert("UTC") + pd.Timedelta(
                hours=float(rng.uniform(6, 30)))
            ext = src.fetch(kind, day, as_of)
            assert ext.raw == records_payload(ext.table)


# ---- shock ----------------------------------------------------------------------------------
def test_shock_star_out_and_trade():
    shock = {"date": "2027-01-15", "team": "BOS", "kind": "star_out_and_trade"}
    base, hit = SimulatedSource(seed=7), SimulatedSource(seed=7, shock=shock)
    cut = "2027-01-15"
    for kind in ("results", "box_scores", "injuries"):
        a, b = base.table(kind, SEASON), hit.table(kind, SEASON)
        pd.testing.assert_frame_equal(a[a["game_date"] < cut].reset_index(drop=True),
                                      b[b["game_date"] < cut].reset_index(drop=True))
    players = hit.players(SEASON)
    star = players[players["team"] == "BOS"].sort_values("value").iloc[-1]
    inj = hit.table("injuries", SEASON)
    rows = inj[(inj["player_id"] == star["player_id"]) & (inj["game_date"] >= cut)]
    assert len(rows) > 50 and (rows["status"] == "Out").all()
    assert rows["snapshot_ts"].min() == pd.Timestamp("2027-01-15 08:00", tz=NY).tz_convert("UTC")
    box = hit.table("box_scores", SEASON)
    assert not ((box["player_id"] == star["player_id"]) & (box["game_date"] >= cut)).any()
    r0, r1 = base.team_ratings(SEASON), hit.team_ratings(SEASON)
    diff = (r1 - r0).loc[dt.date(2027, 1, 15)]
    assert diff["BOS"] == pytest.approx(-max(0.0, 6 - star["value"]))
    assert (diff.drop("BOS") > 5.99).sum() == 1 and (diff.drop("BOS").abs() > 1e-9).sum() == 1
    partner = diff.drop("BOS").idxmax()
    # the market prices it: BOS's closing spreads after the shock get worse
    def bos_line(src):
        o = src.table("odds", SEASON)
        o = o[o["bookmaker"] == "simbook_a"].sort_values("snapshot_ts").groupby("game_id").tail(1)
        s = src.season_games(SEASON).set_index("game_id")
        o = o.join(s[["game_date", "home_team", "away_team"]], on="game_id")
        o = o[(o["game_date"] >= cut) & ((o["home_team"] == "BOS") | (o["away_team"] == "BOS"))]
        return np.where(o["home_team"] == "BOS", o["home_spread"], -o["home_spread"]).mean()
    assert bos_line(hit) - bos_line(base) > 4
    assert partner != "BOS"


def test_shock_league_realignment():
    shock = {"date": "2027-01-15", "kind": "league_realignment"}
    base, hit = SimulatedSource(seed=7), SimulatedSource(seed=7, shock=shock)
    cut = "2027-01-15"
    # byte-identical league before the shock date (tables and raw payloads)
    for kind in ("results", "box_scores", "injuries", "odds", "schedule"):
        a, b = base.table(kind, SEASON), hit.table(kind, SEASON)
        key = "game_date" if "game_date" in a.columns else None
        if kind == "odds":
            sa = base.season_games(SEASON).set_index("game_id")["game_date"]
            a, b = a[a["game_id"].map(sa) < cut], b[b["game_id"].map(sa) < cut]
        elif key:
            a, b = a[a[key] < cut], b[b[key] < cut]
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    as_of = pd.Timestamp("2027-01-16", tz="UTC")
    for kind in ("results", "odds", "injuries", "box_scores"):
        assert base.fetch(kind, dt.date(2027, 1, 14), as_of).raw == \
            hit.fetch(kind, dt.date(2027, 1, 14), as_of).raw, kind
    r0, r1 = base.team_ratings(SEASON), hit.team_ratings(SEASON)
    assert ((r1 - r0).loc[:dt.date(2027, 1, 14)].abs().to_numpy().max()) == 0
    day = dt.date(2027, 1, 15)
    moved = (r1 - r0).loc[day].abs() > 1e-9
    assert moved.sum() == 20                      # two thirds of the league
    # the moved teams are mirrored around the league mean: strong teams become weak and vice versa
    m = r0.loc[day].mean()
    assert np.allclose((r1.loc[day] - m)[moved], -(r0.loc[day] - m)[moved])
    assert np.corrcoef(r0.loc[day], r1.loc[day])[0, 1] < -0.5
    # the market follows the new truth: closing home spreads track the shocked ratings
    def close(src):
        o = src.table("odds", SEASON)
        o = o[o["bookmaker"] == "simbook_a"].sort_values("snapshot_ts").groupby("game_id").tail(1)
        s = src.season_games(SEASON).set_index("game_id")
        return o.join(s[["game_date", "home_team", "away_team"]], on="game_id")
    c = close(hit)
    c = c[c["game_date"] >= cut]
    r = r1.loc[day]
    true_margin = c["home_team"].map(r).to_numpy() - c["away_team"].map(r).to_numpy()
    assert np.corrcoef(-c["home_spread"], true_margin)[0, 1] > 0.8
    with pytest.raises(SourceError):
        SimulatedSource(shock={"date": "2027-01-15", "kind": "meteor"})
