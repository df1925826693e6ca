"""The slate a user reads at the end of `tipoff demo`: teams by name, the recommended side with
its own edge and stake."""
import pandas as pd

from pipeline_assets.scoring import slate_view


def test_the_bet_side_carries_its_own_edge_and_stake():
    t = pd.DataFrame({
        "home_team_id": [1, 2, 3], "away_team_id": [4, 5, 6],
        "tip_ts": pd.to_datetime(["2026-01-11T00:00Z", "2026-01-11T01:30Z", "2026-01-11T03:00Z"]),
        "p_home_win": [0.70, 0.40, 0.50], "p_market_home": [0.60, 0.55, 0.505],
        "edge_home": [0.10, -0.15, -0.005], "stake_home": [0.03, 0.0, 0.0],
        "stake_away": [0.0, 0.05, 0.0], "recommendation": ["home", "away", "none"],
        "margin_p50": [5.0, -3.0, 0.0], "total_p50": [220.0, 230.0, 225.0]})
    v = slate_view(t, {1: "BOS", 4: "NYK", 2: "LAL", 5: "GSW"})
    assert list(v["game"]) == ["NYK at BOS", "GSW at LAL", "6 at 3"]  # unknown ids stay ids
    assert list(v["tip (NY)"]) == ["19:00", "20:30", "22:00"]
    assert list(v["bet"]) == ["BOS", "GSW", "-"]
    assert v["edge"].iloc[0] == 0.10 and v["edge"].iloc[1] == 0.15 and pd.isna(v["edge"].iloc[2])
    assert list(v["stake"]) == [0.03, 0.05, 0.0]


def test_next_game_day_skips_dates_without_games():
    import datetime as dt
    from types import SimpleNamespace

    from pipeline_assets.cli import next_game_day
    games_on = {dt.date(2026, 2, 19)}   # after an All-Star break

    class Source:
        def fetch(self, kind, day, as_of):
            assert kind == "schedule"
            return SimpleNamespace(table=pd.DataFrame({"game_id": ["g"] if day in games_on else []}))

    assert next_game_day(Source(), dt.date(2026, 2, 13), None) == dt.date(2026, 2, 19)
    assert next_game_day(Source(), dt.date(2026, 2, 19), None, horizon_days=30) is None
    # backwards: the last game day before a date (the demo's slate with a market)
    assert next_game_day(Source(), dt.date(2026, 2, 25), None, step=-1) == dt.date(2026, 2, 19)
    assert next_game_day(Source(), dt.date(2026, 2, 19), None, horizon_days=30, step=-1) is None
