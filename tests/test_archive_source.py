"""The archive source: quirks on small synthetic folders, plus checks against the real data."""
from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tipoff_core.schemas import TABLES
from tipoff_core.timeutil import DEFAULT_TIP_LOCAL, GAME_DURATION, local_ts
from resources.sources.archive import ArchiveSource, normalize_name, team_code
from resources.sources.base import KINDS, SourceError

TEAM = {"CHA": 1610612766, "NOP": 1610612740, "OKC": 1610612760, "BKN": 1610612751,
        "LAC": 1610612746, "MIL": 1610612749, "IND": 1610612754, "BOS": 1610612738,
        "GSW": 1610612744, "WAS": 1610612764}
LATE = pd.Timestamp("2030-01-01", tz="UTC")

LINES_HEADER = ("Date,Home,Away,OU,Spread,ML_Home,ML_Away,Points,Win_Margin,Days_Rest_Home,"
                "Days_Rest_Away\n")
LINES_2021 = LINES_HEADER + (
    # Dec 31 2021 and Jan 2 2022: the calendar year is inferred from the month.
    "2021-22-1231,Milwaukee Bucks,Charlotte Bobcats,230.5,5.5,-240,200,231,11,2.0,1.0\n"
    "2021-22-1231,Milwaukee Bucks,Charlotte Bobcats,230.5,5.5,-240,200,231,11,2.0,1.0\n"  # dup
    "2021-22-0102,Indiana Pacers,LA Clippers,220.0,3.0,+130,-150,210,-4,2.0,1.0\n"
    "2021-22-0102,Boston Celtics,New Jersey Nets,215.0,0.0,-120,100,200,6,1.0,1.0\n"
    "2021-22-0103,Golden State Warriors,Washington Wizards,221.0,PK,-110,-110,220,2,1.0,1.0\n"
    "2021-22-0104,Oklahoma City Thunder,New Orleans Pelicans,212.0,2.5,NL,NL,201,-3,1.0,1.0\n"
)
BETTING_HEADER = (
    "season,date,regular,playoffs,away,home,score_away,score_home,q1_away,q2_away,q3_away,"
    "q4_away,ot_away,q1_home,q2_home,q3_home,q4_home,ot_home,whos_favored,spread,total,"
    "moneyline_away,moneyline_home,h2_spread,h2_total,id_spread,id_total\n")
BETTING_2022 = BETTING_HEADER + (
    "2022,12/31/21,TRUE,FALSE,cha,mil,110,121,25,25,30,30,0,30,30,30,31,0,home,5,230,200,-240,"
    "3,115,0,1\n"
    "2022,1/2/22,TRUE,FALSE,lac,ind,107,103,25,25,30,27,0,30,20,30,23,0,away,3,220,-150,130,"
    "2,110,0,1\n"
    "2022,1/2/22,TRUE,FALSE,bkn,bos,97,103,20,25,26,26,0,30,20,30,23,0,home,2,215,100,-120,"
    "2,110,0,1\n"
    "2022,1/3/22,TRUE,FALSE,wsh,gs,109,111,20,25,26,26,12,30,20,30,19,12,home,0,221,-110,-110,"
    "2,110,0,1\n"
    # a betting-only game (the lines lack it): odds fall back to betting_results
    "2022,1/5/22,TRUE,FALSE,bos,cha,100,90,20,30,25,25,0,20,20,25,25,0,away,4.5,210,-190,160,"
    "2,110,0,1\n"
)
LOGS_HEADER = ("SEASON_ID,PLAYER_ID,PLAYER_NAME,TEAM_ID,TEAM_ABBREVIATION,TEAM_NAME,GAME_ID,"
               "GAME_DATE,MATCHUP,WL,MIN,PTS,FGM,FGA,FG3M,FTM,FTA,OREB,DREB,AST,STL,BLK,TOV,PF,"
               "PLUS_MINUS,SEASON_LABEL\n")


def _log_rows(game_id: str, date: str, home: str, away: str, players: list[tuple]) -> str:
    rows = []
    for pid, name, team, mins, pts in players:
        matchup = f"{home} vs. {away}" if team == home else f"{away} @ {home}"
        rows.append(f"22021,{pid},{name},{TEAM[team]},{team},x,{game_id},{date},{matchup},W,"
                    f"{mins},{pts},1,5,0,1,2,1,3,2,1,0,1,2,{pts % 7 - 3},2021-22\n")
    return "".join(rows)


LOGS_2021 = LOGS_HEADER + _log_rows(
    "0022100500", "2021-12-31", "MIL", "CHA",
    [(1, "Giannis Antetokounmpo", "MIL", 36, 40), (2, "Jrue Holiday", "MIL", 34, 81),
     (3, "LaMelo Ball", "CHA", 35, 60), (4, "Jeff Taylor", "CHA", 20, 50),
     (5, "Kelly Oubre Jr.", "CHA", 30, 0)]) + _log_rows(
    "0022100520", "2022-01-02", "IND", "LAC",
    [(6, "Domantas Sabonis", "IND", 35, 53), (8, "Myles Turner", "IND", 33, 50),
     (7, "Paul George", "LAC", 35, 57), (9, "Ivica Zubac", "LAC", 30, 50)])

INJ_HEADER = "ID,Date,Team,Acquired,Relinquished,Notes\n"
INJURIES = INJ_HEADER + (
    "1,20/12/2021,Hornets,, Jeffery Taylor / Jeff Taylor (b),placed on IL with sore knee\n"
    "2,20/12/2021,Hornets,, Jeffery Taylor / Jeff Taylor (b),placed on IL with sore knee\n"  # dup
    "3,28/12/2021,Bucks,, Jrue Holiday,placed on IL with sprained ankle\n"
    "4,31/12/2021,Bucks, Jrue Holiday,,activated from IL\n"
    "5,29/12/2021,Hornets,, Kelly Oubre,placed on IL with illness\n"
    "6,30/12/2021,Hornets,, Unknown Rookie,placed on IL\n"
    "7,15/01/2010,Hornets,, Chris Paul,placed on IL\n"
    "8,15/01/2010,Bobcats,, Gerald Wallace,placed on IL\n"
    "9,15/01/2007,Sonics,, Ray Allen,placed on IL\n"
    "10,15/01/1975,Tams (ABA),, Somebody,placed on IL\n"
    "11,01/06/2021,Bucks,, Ancient Hurt,placed on IL\n"
    "12,31/12/2021,Pacers,, NBA health and safety protocols (DTD),placed on IL\n"
)


def write_archive(root: Path, *, lines: str | None = LINES_2021, betting: str | None = BETTING_2022,
                  logs: str | None = LOGS_2021, injuries: str | None = INJURIES) -> Path:
    for folder, name, text, gz in (("historical_lines", "nba_lines_2021-22.csv", lines, False),
                                   ("betting_results", "nba_betting.csv", betting, False),
                                   ("player_logs", "player_logs_2021-22.csv.gz", logs, True),
                                   ("injuries", "injury_transactions.csv", injuries, False)):
        if text is None:
            continue
        (root / folder).mkdir(parents=True, exist_ok=True)
        path = root / folder / name
        if gz:
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
    return root


@pytest.fixture()
def synth(tmp_path) -> ArchiveSource:
    return ArchiveSource(write_archive(tmp_path / "data"))


# ------------------------------------------------------------------------------------------
# synthetic quirks
# ------------------------------------------------------------------------------------------

def test_dates_across_new_year_and_game_ids(synth):
    s = synth.table("schedule")
    assert set(s["game_date"]) == {"2021-12-31", "2022-01-02", "2022-01-03", "2022-01-04",
                                   "2022-01-05"}
    assert "20211231CHAMIL" in set(s["game_id"])  # stale "Charlotte Bobcats" -> CHA
    row = s[s["game_id"] == "20211231CHAMIL"].iloc[0]
    assert row["away_team_id"] == TEAM["CHA"] and row["home_team_id"] == TEAM["MIL"]
    assert row["season"] == "2021-22" and row["game_type"] == "regular"
    assert row["tip_ts"] == local_ts("2021-12-31", DEFAULT_TIP_LOCAL)
    # schedule is known a week before the season's first game
    assert (s["snapshot_ts"] == local_ts("2021-12-24", dt.time(9, 0))).all()
    assert synth.game_dates("2021-22")[0] == dt.date(2021, 12, 31)
    assert synth.seasons() == ["2021-22"]


def test_unsigned_spread_sign_and_missing_lines(synth):
    o = synth.table("odds").set_index("game_id")
    assert o.loc["20211231CHAMIL", "home_spread"] == -5.5       # home favourite by moneyline
    assert o.loc["20220102LACIND", "home_spread"] == 3.0        # away favourite ("+130" parsed)
    assert o.loc["20220102LACIND", "home_ml"] == 130.0
    assert np.isnan(o.loc["20220102BKNBOS", "home_spread"])     # Spread 0.0 = missing line
    assert o.loc["20220103WASGSW", "home_spread"] == 0.0        # "PK" = pick'em
    assert np.isnan(o.loc["20220104NOPOKC", "home_ml"])         # "NL"
    assert (o.loc[o.index != "20220105BOSCHA", "bookmaker"] == "closing").all()
    fb = o.loc["20220105BOSCHA"]                                  # betting_results fallback
    assert fb["bookmaker"] == "betting_results" and fb["home_spread"] == 4.5
    ts = o.loc["20211231CHAMIL", "snapshot_ts"]
    assert ts == local_ts("2021-12-31", DEFAULT_TIP_LOCAL) - pd.Timedelta(minutes=30)
    # the files carry no spread or total prices
    prices = ["home_spread_price", "away_spread_price", "over_price", "under_price"]
    assert o[prices].isna().all().all() and o["total"].notna().any()


def test_results_prefer_betting_and_fall_back_to_lines(synth):
    r = synth.table("results").set_index("game_id")
    assert r.loc["20211231CHAMIL", ["home_pts", "away_pts"]].tolist() == [121, 110]
    assert r.loc["20211231CHAMIL", "home_q4"] == 31
    # lines-only game: home = (Points + Win_Margin) / 2, quarters unknown
    assert r.loc["20220104NOPOKC", ["home_pts", "away_pts"]].tolist() == [99, 102]
    assert pd.isna(r.loc["20220104NOPOKC", "home_q1"])
    assert r.loc["20220103WASGSW", "overtime_periods"] is pd.NA or \
        pd.isna(r.loc["20220103WASGSW", "overtime_periods"])    # OT points, no logs: unknown
    assert r.loc["20220102BKNBOS", "overtime_periods"] == 0
    rec = synth.reconciliation()
    assert rec["lines_games"] == 5 and rec["matched_exact"] == 4 and rec["lines_only"] == 1
    assert rec["betting_only"] == 1 and rec["log_games_matched"] == 2


def test_duplicates_dropped(synth):
    synth.table("schedule")
    assert synth._notes["lines"]["duplicate_rows_dropped"] == 1
    synth.table("injuries")
    assert synth._notes["injuries"]["duplicate_rows_dropped"] == 1


def test_injury_nickname_eras_and_defunct_teams(synth):
    tx = synth._injury_tx()
    team = dict(zip(tx["raw_name"], tx["team"]))
    assert team["Chris Paul"] == "NOP"          # Hornets in 2010 = New Orleans
    assert team["Gerald Wallace"] == "CHA"      # Bobcats
    assert team["Ray Allen"] == "OKC"           # Sonics
    assert team["Kelly Oubre"] == "CHA"         # Hornets in 2021 = Charlotte
    assert "Somebody" not in team               # ABA team dropped ...
    notes = synth._notes["injuries"]
    assert notes["dropped_team_rows"] == 1 and notes["dropped_team_names"] == {"Tams (ABA)": 1}
    assert notes["non_player_names_dropped"] == 1


def test_injuries_alias_names_status_and_as_of(synth):
    day = dt.date(2021, 12, 31)
    e = synth.fetch("injuries", day, LATE)
    t = e.table.set_index("player_name")
    # "Jeffery Taylor / Jeff Taylor (b)" matches the log player "Jeff Taylor" (second alias)
    assert t.loc["Jeff Taylor", "player_id"] == 4 and t.loc["Jeff Taylor", "team_id"] == TEAM["CHA"]
    assert t.loc["Kelly Oubre Jr.", "player_id"] == 5        # suffix-insensitive match
    assert t.loc["Unknown Rookie", "player_id"] < 0          # stable surrogate
    assert "Jrue Holiday" not in t.index                     # activated on the game day
    assert "Ancient Hurt" not in t.index                       # > 120 days old: stale
    assert (t["status"] == "Out").all() and (t["game_date"] == "2021-12-31").all()
    assert t.loc["Jeff Taylor", "reason"] == "placed on IL with sore knee"
    assert t.loc["Jeff Taylor", "snapshot_ts"] == local_ts("2021-12-20", dt.time(12, 0))
    # Before noon on the game day Holiday's activation is not yet known: still out.
    early = synth.fetch("injuries", day, local_ts(day, dt.time(10, 0))).table
    assert "Jrue Holiday" in set(early["player_name"])
    assert (early["snapshot_ts"] <= local_ts(day, dt.time(10, 0))).all()
    # The bulk table agrees with fetch.
    bulk = synth.table("injuries")
    bulk = bulk[bulk["game_date"] == "2021-12-31"].sort_values("player_id").reset_index(drop=True)
    got = e.table.sort_values("player_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(bulk, got)
    # same surrogate across instances
    again = ArchiveSource(synth.data_dir).fetch("injuries", day, LATE).table
    assert set(again["player_id"]) == set(e.table["player_id"])


def test_box_scores_rosters_and_labels_as_of(synth):
    day = dt.date(2021, 12, 31)
    final = local_ts(day, DEFAULT_TIP_LOCAL) + GAME_DURATION
    assert synth.fetch("box_scores", day, final - pd.Timedelta(seconds=1)).table.empty
    assert synth.fetch("results", day, final - pd.Timedelta(seconds=1)).table.empty
    b = synth.fetch("box_scores", day, final).table
    assert len(b) == 5 and set(b["game_id"]) == {"20211231CHAMIL"}
    assert b["starter"].isna().all() and b["minutes"].dtype == "float64"
    assert len(synth.fetch("results", day, final).table) == 1
    # derived rosters: appearances before the date only
    r = synth.fetch("rosters", dt.date(2022, 1, 5), LATE).table
    assert set(r["player_id"]) == {3, 4, 5}   # CHA players (BOS has no logged appearances)
    assert (r["position"] == "").all()
    assert synth.fetch("rosters", day, LATE).table.empty  # nothing appeared before the 31st
    ids = synth.nba_game_ids().set_index("nba_game_id")
    assert ids.loc["0022100500", "game_id"] == "20211231CHAMIL"


def test_empty_date_and_missing_folders(tmp_path, synth):
    for kind in KINDS:
        e = synth.fetch(kind, dt.date(2021, 7, 4), LATE)
        assert e.table.empty and list(e.table.columns) == list(TABLES[kind][0])
    only_lines = ArchiveSource(write_archive(tmp_path / "x", betting=None, logs=None,
                                             injuries=None))
    assert only_lines.fetch("box_scores", dt.date(2021, 12, 31), LATE).table.empty
    assert only_lines.fetch("injuries", dt.date(2021, 12, 31), LATE).table.empty
    assert len(only_lines.fetch("results", dt.date(2021, 12, 31), LATE).table) == 1
    (tmp_path / "empty").mkdir()
    empty = ArchiveSource(tmp_path / "empty")
    for kind in KINDS:
        assert empty.table(kind).empty
        assert empty.fetch(kind, dt.date(2021, 12, 31), LATE).table.empty
    assert empty.seasons() == [] and empty.game_dates() == []
    with pytest.raises(SourceError, match="not found"):
        ArchiveSource(tmp_path / "does-not-exist")


def test_malformed_column_names_file_and_field(tmp_path):
    bad = LINES_HEADER.replace("ML_Home,", "") + "2021-22-1231,Milwaukee Bucks,Charlotte " \
        "Bobcats,230.5,5.5,200,231,11,2.0,1.0\n"
    src = ArchiveSource(write_archive(tmp_path / "a", lines=bad))
    with pytest.raises(SourceError) as exc:
        src.fetch("odds", dt.date(2021, 12, 31), LATE)
    err = exc.value
    assert err.source == "archive" and err.field == "ML_Home"
    assert err.endpoint == "historical_lines/nba_lines_2021-22.csv"
    # the complete file is kept for quarantine, not just its head
    assert err.raw == (tmp_path / "a" / "historical_lines" / "nba_lines_2021-22.csv").read_bytes()
    assert "historical_lines/nba_lines_2021-22.csv" in str(err) and "ML_Home" in str(err)

    garbage = LINES_2021.replace("+130", "abc")
    with pytest.raises(SourceError) as exc:
        ArchiveSource(write_archive(tmp_path / "b", lines=garbage)).table("schedule")
    assert exc.value.field == "ML_Home" and "'abc'" in str(exc.value)

    bad_date = LINES_2021.replace("2021-22-0102,Indiana", "2022-01-02,Indiana")
    with pytest.raises(SourceError) as exc:
        ArchiveSource(write_archive(tmp_path / "c", lines=bad_date)).table("schedule")
    assert exc.value.field == "Date"

    bad_matchup = LOGS_2021.replace("MIL vs. CHA", "MIL v CHA")
    with pytest.raises(SourceError) as exc:
        ArchiveSource(write_archive(tmp_path / "d", logs=bad_matchup)).table("box_scores")
    assert exc.value.field == "MATCHUP"
    assert exc.value.endpoint == "player_logs/player_logs_2021-22.csv.gz"
    import gzip
    assert gzip.decompress(exc.value.raw).startswith(b"SEASON_ID")  # the whole .gz, as stored


def test_extra_file_in_folder_is_read(tmp_path):
    root = write_archive(tmp_path / "data")
    (root / "historical_lines" / "nba_lines_2022-23.csv").write_text(
        LINES_HEADER + "2022-23-1019,Boston Celtics,Charlotte Bobcats,220,7,-300,250,230,10,1,1\n")
    rows = _log_rows("0022200001", "2022-10-19", "BOS", "CHA",
                     [(9, "Jayson Tatum", "BOS", 38, 60), (10, "Jaylen Brown", "BOS", 36, 60)])
    (root / "player_logs" / "extra_2022-23.csv").write_text(
        LOGS_HEADER + rows.replace("2021-22", "2022-23"))
    src = ArchiveSource(root)
    assert src.seasons() == ["2021-22", "2022-23"]
    assert "20221019CHABOS" in set(src.table("schedule")["game_id"])
    assert "20221019CHABOS" in set(src.table("box_scores")["game_id"])
    assert src._notes["lines"]["files"] == 2 and src._notes["logs"]["files"] == 2


def test_name_and_team_helpers():
    assert normalize_name(" Kelly Oubre Jr.") == normalize_name("Kelly Oubre") == "kelly oubre"
    assert normalize_name("Luka Dončić") == "luka doncic"
    assert normalize_name("P.J. Tucker") == normalize_name("PJ Tucker")
    assert normalize_name("(William) Tony Parker") == "tony parker"
    assert team_code("Charlotte Bobcats") == "CHA" and team_code("Seattle SuperSonics") == "OKC"
    assert team_code("New Orleans/Oklahoma City Hornets") == "NOP"
    assert team_code("utah") == "UTA" and team_code("wsh") == "WAS" and team_code("gs") == "GSW"
    assert team_code("LA Clippers") == "LAC" and team_code("Vancouver Grizzlies") == "MEM"


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.integers(min_value=0, max_value=12 * 24 * 60),
       day_idx=st.integers(min_value=0, max_value=8))
def test_as_of_never_leaks_synthetic(synth, minutes, day_idx):
    as_of = pd.Timestamp("2021-12-26", tz="UTC") + pd.Timedelta(minutes=minutes)
    day = dt.date(2021, 12, 29) + dt.timedelta(days=day_idx)
    for kind in KINDS:
        t = synth.fetch(kind, day, as_of).table
        assert (t["snapshot_ts"] <= as_of).all()
        if kind == "results":
            assert (t["final_ts"] <= as_of).all()
            all_games = synth.fetch(kind, day, LATE).table
            assert len(t) == int((all_games["final_ts"] <= as_of).sum())


# ------------------------------------------------------------------------------------------
# real data
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(shared_data_dir) -> ArchiveSource:
    return ArchiveSource(shared_data_dir)


def test_real_reconciliation(real):
    rec = real.reconciliation()
    assert rec["lines_games"] > 19000
    matched = rec["matched_exact"] + rec["matched_date_shift"]
    assert matched / rec["lines_games"] > 0.995
    assert rec["matched_date_shift"] < 50
    assert rec["log_games"] > 8000 and rec["log_games_matched"] / rec["log_games"] > 0.995
    ids = real.nba_game_ids()
    assert ids["game_id"].isin(real.table("schedule")["game_id"]).mean() > 0.995


def test_real_dates_franchises_and_types(real):
    s = real.table("schedule")
    assert s["game_id"].is_unique
    assert s["game_id"].str.fullmatch(r"\d{8}[A-Z]{3}[A-Z]{3}").all()
    assert "20211019BKNMIL" in set(s["game_id"])
    assert s["home_team_id"].nunique() == 30
    cha = s[(s["season"] == "2021-22") & (s["home_team"] == "CHA")]
    assert len(cha) >= 41 and (cha["home_team_id"] == TEAM["CHA"]).all()  # "Charlotte Bobcats"
    sea = s[(s["season"] == "2007-08") & (s["game_date"] == "2007-10-31")]
    assert TEAM["OKC"] in set(sea["home_team_id"]) | set(sea["away_team_id"])  # SuperSonics
    # bubble (Aug-Oct 2020) and 2020-21 (to July 2021) calendar years
    b = s[s["season"] == "2019-20"]
    assert b["game_date"].max() == "2020-10-11" and b["game_date"].min() == "2019-10-22"
    assert s[s["season"] == "2020-21"]["game_date"].max() == "2021-07-20"
    assert set(s["game_type"]) == {"regular", "playoff"}
    # Christmas games: the lines' off-by-one 12/24 dates are reconciled to 12/25
    assert "20071225PHXLAL" in set(s["game_id"])


def test_real_odds_sign_matches_betting_favourite(real):
    o = real.table("odds")
    assert (o["bookmaker"] == "closing").all() and o["game_id"].is_unique
    g = real._games()[["game_id", "fav", "spread"]]
    m = o.merge(g, on="game_id")
    ok = m["home_spread"].notna() & (m["spread"] > 0) & (m["home_spread"] != 0)
    assert ok.sum() > 15000
    assert ((m["home_spread"] < 0) == (m["fav"] == "home"))[ok].mean() > 0.99
    assert o["total"].dropna().between(150, 300).all()


def test_real_box_scores_and_results(real):
    r = real.table("results").set_index("game_id")
    assert r.loc["20211019BKNMIL", ["home_pts", "away_pts"]].tolist() == [127, 104]
    b = real.fetch("box_scores", dt.date(2021, 10, 19), LATE).table
    assert set(b["game_id"]) == {"20211019BKNMIL", "20211019GSWLAL"}
    pts = b.groupby(["game_id", "team_id"])["pts"].sum()
    assert pts.loc[("20211019BKNMIL", 1610612749)] == 127


def test_real_injuries_bulk_matches_fetch(real):
    bulk = real.table("injuries")
    dates = real.game_dates("2021-22")
    for d in dates[::40]:
        got = real.fetch("injuries", d, LATE).table.sort_values(["team_id", "player_id"])
        exp = bulk[bulk["game_date"] == d.isoformat()].sort_values(["team_id", "player_id"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), exp.reset_index(drop=True))
    recent = bulk[bulk["game_date"] >= "2016-01-01"]
    assert (recent["player_id"] > 0).mean() > 0.95  # names matched to player-log ids


@settings(max_examples=20, deadline=None)
@given(offset_min=st.integers(min_value=0, max_value=60 * 24 * 200),
       lag_days=st.integers(min_value=-3, max_value=3))
def test_real_as_of_never_leaks(real, offset_min, lag_days):
    src = real
    as_of = pd.Timestamp("2021-10-10", tz="UTC") + pd.Timedelta(minutes=offset_min)
    day = (as_of + pd.Timedelta(days=lag_days)).date()
    for kind in KINDS:
        t = src.fetch(kind, day, as_of).table
        assert (t["snapshot_ts"] <= as_of).all(), kind
        if kind in ("results", "box_scores"):
            final = local_ts(day, DEFAULT_TIP_LOCAL) + GAME_DURATION
            assert t.empty or final <= as_of



def test_off_by_one_line_dates_reconciled_to_betting_date(tmp_path):
    lines = LINES_HEADER + "2021-22-1224,Milwaukee Bucks,Boston Celtics,220,2,-130,110,211,5,1,1\n"
    betting = BETTING_HEADER + (
        "2022,12/25/21,TRUE,FALSE,bos,mil,103,108,25,25,30,23,0,30,20,30,28,0,home,2,220,110,"
        "-130,1,110,0,1\n")
    src = ArchiveSource(write_archive(tmp_path / "d", lines=lines, betting=betting, logs=None,
                                      injuries=None))
    assert list(src.table("schedule")["game_id"]) == ["20211225BOSMIL"]
    rec = src.reconciliation()
    assert rec["matched_date_shift"] == 1 and rec["lines_only"] == rec["betting_only"] == 0
    assert src.table("odds")["bookmaker"].tolist() == ["closing"]


def test_season_filtered_tables(synth, tmp_path):
    assert len(synth.table("box_scores", "2021-22")) == 9
    assert synth.table("box_scores", "2020-21").empty
    assert synth.season_games("2021-22")["game_id"].is_unique
    assert synth.seasons_for("2021-12-01", "2022-02-01") == ["2021-22"]
    assert synth.seasons_for("2019-01-01", "2019-02-01") == []
