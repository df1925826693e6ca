"""Game rating (tipoff_core.domain.rating) and `tipoff rating --pbp FILE`."""
from __future__ import annotations

import dataclasses
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_assets import cli
from tipoff_core.domain import rating as R
from tipoff_core.domain.montecarlo import simulate_scores

MIN_GAME = "nba_cdn/playbyplay_0022400500.json.gz"   # LAC at MIN, 108-106, regulation
OT_GAME = "nba_cdn/playbyplay_0022400561.json.gz"    # NYK at PHI, 119-125 after one OT


def _load(fixtures_dir, rel):
    return json.loads(gzip.decompress((fixtures_dir / rel).read_bytes()))


def _clock(seconds_left: float) -> str:
    m, s = divmod(seconds_left, 60)
    return f"PT{int(m):02d}M{s:05.2f}S"


def _payload(plays, periods=4, end=True, game_id="0000000001"):
    """An NBA CDN-shaped document from (period, seconds_left, home, away[, tricode]) plays."""
    actions = []
    score = ("0", "0")
    for play in sorted(plays, key=lambda x: (x[0], -x[1])):
        p, left, h, a = play[:4]
        actions.append({"period": p, "clock": _clock(left), "actionType": "2pt",
                        "teamTricode": play[4] if len(play) > 4 else None,
                        "scoreHome": str(h), "scoreAway": str(a)})
        score = (str(h), str(a))
    if end:
        actions.append({"period": periods, "clock": "PT00M00.00S", "actionType": "game",
                        "subType": "end", "scoreHome": score[0], "scoreAway": score[1]})
    for i, a in enumerate(actions):
        a["orderNumber"] = (i + 1) * 10_000
        a["actionNumber"] = i + 1
    return {"game": {"gameId": game_id, "actions": actions}}


# --------------------------------------------------------------------------------------------
# the recorded play-by-play files
# --------------------------------------------------------------------------------------------
def test_regulation_fixture_parses(fixtures_dir):
    f = R.pbp_flow(_load(fixtures_dir, MIN_GAME))
    assert (f.home_pts, f.away_pts) == (108, 106)            # README: 108-106, home first
    assert f.game_id == "0022400500" and f.basis == "play_by_play" and f.complete
    assert (f.home_team, f.away_team) == ("MIN", "LAC")
    assert f.periods == 4 and f.overtime_periods == 0 and f.game_seconds == 2880
    assert f.final_margin == 2
    assert f.lead_changes > 0 and f.times_tied > 0
    assert 0 < f.competitive_seconds < f.game_seconds
    assert f.largest_lead == max(f.largest_home_lead, f.largest_away_lead) > abs(f.final_margin)


def test_overtime_fixture_parses(fixtures_dir):
    f = R.pbp_flow(_load(fixtures_dir, OT_GAME))
    assert (f.home_pts, f.away_pts) == (119, 125)
    assert f.periods == 5 and f.overtime_periods == 1
    assert f.game_seconds == 4 * 720 + 300
    assert (f.home_team, f.away_team) == ("PHI", "NYK")
    # regulation ended tied: the margin at the start of OT (2880 s) is 0
    at_2880 = f.margin[np.searchsorted(f.t, 2880.0, side="right") - 1]
    assert at_2880 == 0 and f.times_tied >= 1


def test_fixture_period_ends_match_the_quarter_basis(fixtures_dir):
    """The quarter-score flow built from the PBP's own period ends agrees on what it can know."""
    for rel in (MIN_GAME, OT_GAME):
        doc = _load(fixtures_dir, rel)
        ends = {a["period"]: (int(a["scoreHome"]), int(a["scoreAway"]))
                for a in doc["game"]["actions"] if a["actionType"] == "period" and a["subType"] == "end"}
        row, prev = {"game_id": doc["game"]["gameId"]}, (0, 0)
        for q in range(1, 5):
            row[f"home_q{q}"], row[f"away_q{q}"] = ends[q][0] - prev[0], ends[q][1] - prev[1]
            prev = ends[q]
        last = max(ends)
        row.update(home_ot=ends[last][0] - prev[0], away_ot=ends[last][1] - prev[1],
                   overtime_periods=last - 4, home_pts=ends[last][0], away_pts=ends[last][1])
        pbp, q = R.pbp_flow(doc), R.quarter_flow(row)
        assert q.basis == "quarter_scores"
        assert (q.home_pts, q.away_pts, q.periods) == (pbp.home_pts, pbp.away_pts, pbp.periods)
        assert q.lead_changes <= pbp.lead_changes and q.times_tied <= pbp.times_tied
        assert q.largest_lead <= pbp.largest_lead
        rating, _ = R.game_rating(q)
        assert 0 < rating < 100


def test_regulation_fixture_quarter_scores():
    """LAC at MIN by quarter (16-27, 30-26, 31-23, 31-30): margins -11, -7, +1, +2."""
    row = pd.Series({"game_id": "0022400500", "home_q1": 16, "home_q2": 30, "home_q3": 31,
                     "home_q4": 31, "home_ot": 0, "away_q1": 27, "away_q2": 26, "away_q3": 23,
                     "away_q4": 30, "away_ot": 0, "overtime_periods": 0, "home_pts": 108,
                     "away_pts": 106})
    f = R.quarter_flow(row)
    assert list(f.margin) == [0, -11, -7, 1, 2]
    assert (f.lead_changes, f.times_tied, f.largest_away_lead, f.largest_home_lead) == (1, 0, 11, 2)
    # linear between breaks: Q1 0->-11 close for 5/11 of 720 s, Q2 never, Q3 -7->1 for 6/8, Q4 all
    assert f.competitive_seconds == pytest.approx(720 * 5 / 11 + 0 + 720 * 6 / 8 + 720)
    rating, comps = R.game_rating(f)
    assert 30 < rating < 70 and comps["closeness"]["value"] == pytest.approx(0.9)


# --------------------------------------------------------------------------------------------
# hand-checked synthetic games
# --------------------------------------------------------------------------------------------
def test_parse_clock():
    assert R.parse_clock("PT11M32.00S") == pytest.approx(692.0)
    assert R.parse_clock("PT00M00.00S") == 0.0
    assert R.parse_clock("PT45.2S") == pytest.approx(45.2)
    assert R.parse_clock("PT5M") == 300.0
    for bad in ("11:32", "", "PT", "PT1H", None, 12):
        with pytest.raises(ValueError):
            R.parse_clock(bad)


def test_period_clock():
    assert [R.period_start(p) for p in (1, 2, 4, 5, 6)] == [0, 720, 2160, 2880, 3180]
    assert R.period_length(4) == 720 and R.period_length(5) == 300


def test_lead_changes_ties_and_competitive_seconds_by_hand():
    # home 2-0 (t=60), tie 2-2 (t=120), away 2-3 (t=180), home 4-3 (t=240): all within 5
    f = R.pbp_flow(_payload([(1, 660, 2, 0), (1, 600, 2, 2), (1, 540, 2, 3), (1, 480, 4, 3)]))
    assert list(f.t) == [0, 60, 120, 180, 240] and list(f.margin) == [0, 2, 0, -1, 1]
    assert f.lead_changes == 2          # home -> (tie) -> away -> home
    assert f.times_tied == 1            # 0-0 at tip is not a tie
    assert f.competitive_seconds == 2880
    assert (f.final_margin, f.largest_home_lead, f.largest_away_lead) == (1, 2, 1)


def test_competitive_seconds_around_a_big_lead():
    # 10-0 at 6:00 of Q1 (t=360), 10-10 at 6:00 of Q4 (t=2520): close 360 + 360 seconds
    f = R.pbp_flow(_payload([(1, 360, 10, 0), (4, 360, 10, 10), (4, 1, 10, 12)]))
    assert f.competitive_seconds == pytest.approx(360 + 360)
    assert (f.lead_changes, f.times_tied, f.largest_lead) == (1, 1, 10)


def test_margin_of_exactly_the_threshold_is_competitive():
    c = R.COMPETITIVE_MARGIN
    f = R.pbp_flow(_payload([(1, 720 - 100, c, 0), (1, 720 - 200, c + 1, 0)]))
    # [0, 100): 0, [100, 200): c (close), [200, 2880): c + 1 (not)
    assert f.competitive_seconds == pytest.approx(200)


def test_and_one_at_the_same_second_counts_the_tie_and_the_lead_change():
    # away leads 0-2; at t=300 a basket ties 2-2 and the free throw makes it 3-2 (same clock)
    f = R.pbp_flow(_payload([(1, 660, 0, 2), (1, 420, 2, 2), (1, 420, 3, 2)]))
    assert (f.lead_changes, f.times_tied) == (1, 1)
    assert f.competitive_seconds == 2880


def test_overtime_synthetic_and_game_length():
    f = R.pbp_flow(_payload([(4, 10, 100, 100), (5, 200, 102, 100), (6, 0.5, 110, 109)], periods=6))
    assert (f.periods, f.overtime_periods, f.game_seconds) == (6, 2, 2880 + 600)
    # the tie late in Q4 repeats the 0 of tip (merged); the next change is in period 5, 3:20 left
    assert list(f.margin) == [0, 2, 1] and f.t[1] == pytest.approx(2880 + 100)


def test_actions_are_taken_in_order_number_order():
    doc = _payload([(1, 660, 2, 0), (1, 600, 2, 2), (1, 540, 2, 3)])
    doc["game"]["actions"].reverse()
    f = R.pbp_flow(doc)
    assert list(f.margin) == [0, 2, 0, -1]


def test_incomplete_game_is_marked_and_ends_at_its_last_action():
    f = R.pbp_flow(_payload([(1, 660, 2, 0), (2, 360, 30, 28)], end=False))
    assert not f.complete and f.game_seconds == 720 + 360


def test_home_and_away_are_inferred_from_who_scores_for_which_side():
    f = R.pbp_flow(_payload([(1, 660, 2, 0, "MIN"), (1, 600, 2, 3, "LAC")]))
    assert (f.home_team, f.away_team) == ("MIN", "LAC")


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("game"), "'game'"),
    (lambda d: d["game"].update(actions=[]), "game.actions"),
    (lambda d: d["game"]["actions"][0].update(clock="11:00"), "'clock'"),
    (lambda d: d["game"]["actions"][0].update(clock="PT13M00.00S"), "'clock'"),
    (lambda d: d["game"]["actions"][0].update(period=0), "'period'"),
    (lambda d: d["game"]["actions"][0].update(scoreHome="x"), "'scoreHome'"),
    (lambda d: d["game"]["actions"][0].update(scoreAway="-1"), "'scoreAway'"),
])
def test_bad_payload_names_the_field(mutate, field):
    doc = _payload([(1, 660, 2, 0), (1, 600, 2, 2)])
    mutate(doc)
    with pytest.raises(R.PlayByPlayError, match=field):
        R.pbp_flow(doc)


def test_decode_payload():
    doc = _payload([(1, 660, 2, 0)])
    raw = json.dumps(doc).encode()
    assert R.decode_payload(raw) == R.decode_payload(gzip.compress(raw)) == doc
    for bad in (b"not json", gzip.compress(raw)[:40], b"\x1f\x8bjunk", b"[1, 2]", b"\xff\xfe"):
        with pytest.raises(R.PlayByPlayError):
            R.decode_payload(bad)


# --------------------------------------------------------------------------------------------
# quarter scores
# --------------------------------------------------------------------------------------------
def _row(hq, aq, h_ot=0, a_ot=0, n_ot=None, **extra):
    row = {f"home_q{i + 1}": v for i, v in enumerate(hq)} | {f"away_q{i + 1}": v for i, v in enumerate(aq)}
    row |= {"home_ot": h_ot, "away_ot": a_ot, "game_id": "x"} | extra
    if n_ot is not None:
        row["overtime_periods"] = n_ot
    return row


def test_quarter_competitive_seconds_are_linear_between_breaks():
    # margins 0 -> 10 -> 10 -> 0 -> 1: close for half of Q1, none of Q2, half of Q3, all of Q4
    f = R.quarter_flow(_row([30, 25, 20, 26], [20, 25, 30, 25]))
    assert list(f.margin) == [0, 10, 10, 0, 1]
    assert f.competitive_seconds == pytest.approx(360 + 0 + 360 + 720)
    assert (f.lead_changes, f.times_tied, f.overtime_periods) == (0, 1, 0)


def test_quarter_double_overtime():
    # regulation 100-100, two OTs (the first ends tied), 120-115 final
    f = R.quarter_flow(_row([25] * 4, [25] * 4, 20, 15, n_ot=2, home_pts=120, away_pts=115))
    assert list(f.margin) == [0, 0, 0, 0, 0, 0, 5]
    assert (f.periods, f.game_seconds, f.final_margin) == (6, 3480, 5)
    assert f.competitive_seconds == 3480 and f.times_tied == 5
    rating, comps = R.game_rating(f)
    assert comps["overtime"]["value"] == 1.0 and 50 < rating <= 100


def test_quarter_row_from_a_nullable_frame():
    df = pd.DataFrame([_row([30, 20, 20, 20], [20, 20, 25, 30], home_pts=90, away_pts=95)])
    df = df.astype({c: "Int64" for c in df.columns if c != "game_id"})
    f = R.quarter_flow(df.iloc[0])
    assert f.final_margin == -5 and f.overtime_periods == 0


@pytest.mark.parametrize("row, msg", [
    (_row([30, 20, 20, pd.NA], [20, 20, 25, 30]), "home_q4"),
    (_row([30, 20, 20, 20], [20, 20, 25, 30], home_pts=91), "add up"),
    (_row([25] * 4, [25] * 4, n_ot=0), "no overtime"),
    (_row([25] * 4, [25] * 4), "no overtime"),
    (_row([25] * 4, [25] * 4, 10, 10, n_ot=1), "ended tied"),
    (_row([26, 25, 25, 25], [25] * 4, 10, 5, n_ot=1), "regulation ended"),
    (_row([26, 25, 25, 25], [25] * 4, 10, 5), "regulation ended"),
    (_row([25, 25, 25, 26], [25] * 4, 3, 0, n_ot=0), "without overtime"),
])
def test_quarter_row_inconsistencies_raise(row, msg):
    with pytest.raises(ValueError, match=msg):
        R.quarter_flow(row)


# --------------------------------------------------------------------------------------------
# the rating
# --------------------------------------------------------------------------------------------
def test_weights_and_components():
    assert set(R.WEIGHTS) == set(R.COMPONENTS) and all(w > 0 for w in R.WEIGHTS.values())
    f = R.pbp_flow(_payload([(1, 660, 2, 0), (1, 600, 2, 2), (1, 540, 2, 3), (1, 480, 4, 3)]))
    rating, comps = R.game_rating(f)
    assert set(comps) == set(R.COMPONENTS)
    assert sum(c["points"] for c in comps.values()) == pytest.approx(rating)
    assert comps["closeness"]["value"] == pytest.approx(1 - 1 / R.CLOSENESS_MARGIN_CAP)
    assert comps["competitive_share"]["value"] == 1.0
    assert comps["lead_changes"]["value"] == pytest.approx(2 / R.LEAD_CHANGES_CAP)
    assert comps["times_tied"]["value"] == pytest.approx(1 / R.TIMES_TIED_CAP)
    assert comps["strength"]["value"] == R.NEUTRAL and comps["rivalry"]["value"] == 0.0


def test_the_documented_weights_are_the_weights():
    """The module docstring's table and docs/RATING.md state the weights the code uses."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "RATING.md").read_text()
    for name, w in R.WEIGHTS.items():
        assert re.search(rf"^{name}\s+{w:g}\s", R.__doc__, re.MULTILINE), name
        assert re.search(rf"^\| `{name}` \| {w:g} \|", doc, re.MULTILINE), name
    assert f"CLOSENESS_MARGIN_CAP = {R.CLOSENESS_MARGIN_CAP:g}" in doc
    assert f"LEAD_CHANGES_CAP = {R.LEAD_CHANGES_CAP}" in doc and f"TIMES_TIED_CAP = {R.TIMES_TIED_CAP}" in doc
    assert f"OVERTIME_CAP = {R.OVERTIME_CAP}" in doc and f"COMPETITIVE_MARGIN = {R.COMPETITIVE_MARGIN}" in doc
    assert f"ELO_FLOOR = {R.ELO_FLOOR:g}" in doc and f"ELO_CEILING = {R.ELO_CEILING:g}" in doc


def test_context_moves_the_rating_the_right_way():
    f = R.pbp_flow(_payload([(1, 660, 2, 0), (4, 30, 99, 101)]))
    base, _ = R.game_rating(f)
    assert R.game_rating(f, R.RatingContext(home_elo=1640, away_elo=1620))[0] > base
    assert R.game_rating(f, R.RatingContext(home_elo=1380, away_elo=1400))[0] < base
    assert R.game_rating(f, {"rivalry": True})[0] > base
    assert R.game_rating(f, {"inter_conference": True})[0] < base < \
        R.game_rating(f, {"inter_conference": False})[0]
    assert R.game_rating(f, R.RatingContext(home_elo=1500, away_elo=1500))[0] == pytest.approx(base)
    with pytest.raises(ValueError):
        R.RatingContext(home_elo=1500)
    with pytest.raises(ValueError):
        R.RatingContext(strength=1.5)


def test_rating_is_deterministic(fixtures_dir):
    doc = _load(fixtures_dir, OT_GAME)
    assert R.game_rating(R.pbp_flow(doc)) == R.game_rating(R.pbp_flow(doc))


@st.composite
def games(draw):
    """Random plays: each scores 1-3 for one side at a non-decreasing time within 4-6 periods."""
    periods = draw(st.integers(4, 6))
    n = draw(st.integers(0, 60))
    length = R.period_start(periods) + R.period_length(periods)
    times = sorted(draw(st.lists(st.floats(0, length - 0.01), min_size=n, max_size=n)))
    h = a = 0
    plays = []
    for t in times:
        pts, home = draw(st.integers(1, 3)), draw(st.booleans())
        h, a = (h + pts, a) if home else (h, a + pts)
        p = next(p for p in range(1, periods + 1) if t < R.period_start(p) + R.period_length(p))
        plays.append((p, R.period_start(p) + R.period_length(p) - t, h, a))
    return plays, periods


def _swap(doc):
    out = json.loads(json.dumps(doc))
    for act in out["game"]["actions"]:
        act["scoreHome"], act["scoreAway"] = act["scoreAway"], act["scoreHome"]
    return out


@settings(max_examples=150, deadline=None)
@given(games(), st.sampled_from([None, {"home_elo": 1420.0, "away_elo": 1710.0},
                                 {"rivalry": True, "inter_conference": True}]))
def test_rating_properties(game, ctx):
    plays, periods = game
    doc = _payload(plays, periods=periods)
    f = R.pbp_flow(doc)
    rating, comps = R.game_rating(f, ctx)
    assert 0.0 <= rating <= 100.0
    assert all(0.0 <= c["value"] <= 1.0 for c in comps.values())
    assert 0.0 <= f.competitive_seconds <= f.game_seconds
    assert f.lead_changes + f.times_tied <= len(f.margin) - 1
    # swapping home and away changes nothing but the sign of the margins
    g = R.pbp_flow(_swap(doc))
    assert (g.lead_changes, g.times_tied, g.final_margin) == (f.lead_changes, f.times_tied, -f.final_margin)
    assert (g.largest_home_lead, g.largest_away_lead) == (f.largest_away_lead, f.largest_home_lead)
    assert g.competitive_seconds == pytest.approx(f.competitive_seconds)
    assert R.game_rating(g, ctx)[0] == pytest.approx(rating)


@given(st.integers(-60, 60), st.integers(-60, 60))
def test_closer_final_margin_never_lowers_closeness_or_rating(m1, m2):
    f = R.pbp_flow(_payload([(1, 600, 2, 0), (4, 5, 100, 100)]))
    a = dataclasses.replace(f, home_pts=100 + m1, away_pts=100)
    b = dataclasses.replace(f, home_pts=100 + m2, away_pts=100)
    if abs(m1) <= abs(m2):
        assert R.closeness(m1) >= R.closeness(m2)
        assert R.game_rating(a)[1]["closeness"]["value"] >= R.game_rating(b)[1]["closeness"]["value"]
        assert R.game_rating(a)[0] >= R.game_rating(b)[0]


# --------------------------------------------------------------------------------------------
# predicted rating
# --------------------------------------------------------------------------------------------
def test_predicted_rating_increases_with_the_chance_of_a_close_finish():
    means = [0, 2, 4, 6, 8, 10, 14, 20]
    out = [R.predicted_rating(margin_mean=m, margin_sd=12.0) for m in means]
    p_close = [c["competitive_share"]["input"] for _, c in out]
    ratings = [r for r, _ in out]
    assert p_close == sorted(p_close, reverse=True)
    assert ratings == sorted(ratings, reverse=True) and ratings[0] > ratings[-1] + 5
    # with P(OT) held fixed, the rating still rises with P(close)
    held = [R.predicted_rating(margin_mean=m, margin_sd=12.0, p_overtime=0.05)[0] for m in means]
    assert held == sorted(held, reverse=True)


@given(st.floats(0, 25), st.floats(0, 25), st.floats(4, 20))
def test_predicted_rating_monotone_property(m1, m2, sd):
    r1, c1 = R.predicted_rating(margin_mean=m1, margin_sd=sd)
    r2, c2 = R.predicted_rating(margin_mean=-m2, margin_sd=sd)   # sign does not matter
    assert 0 <= r1 <= 100
    if c1["competitive_share"]["input"] >= c2["competitive_share"]["input"] and m1 <= m2:
        assert r1 >= r2 - 1e-9


def test_predicted_components_and_mapping():
    r, c = R.predicted_rating(margin_mean=0.0, margin_sd=12.0, p_overtime=0.06,
                              context=R.RatingContext(strength=0.8, rivalry=True))
    f = R.margin_forecast(margin_mean=0.0, margin_sd=12.0)
    assert f.expected_abs_margin == pytest.approx(12.0 * np.sqrt(2 / np.pi))
    assert c["closeness"]["value"] == pytest.approx(R.closeness(f.expected_abs_margin))
    for k in ("competitive_share", "lead_changes", "times_tied"):
        assert c[k]["value"] == pytest.approx(f.p_close)
    assert c["overtime"]["value"] == 0.06
    assert c["strength"]["value"] == 0.8 and c["rivalry"]["value"] == 1.0
    assert sum(x["points"] for x in c.values()) == pytest.approx(r)


def test_predicted_from_samples_agrees_with_the_normal_form():
    home, away = simulate_scores([3.0], [225.0], 12.0, 18.0, 0.0, n_sims=40_000, seed=7)
    margin = (home - away)[0]
    samples = R.margin_forecast(margin)
    normal = R.margin_forecast(margin_mean=float(margin.mean()), margin_sd=float(margin.std()))
    assert samples.p_close == pytest.approx(normal.p_close, abs=0.02)
    assert samples.expected_abs_margin == pytest.approx(normal.expected_abs_margin, rel=0.03)
    r_s, _ = R.predicted_rating(margin)
    r_n, _ = R.predicted_rating(margin_mean=float(margin.mean()), margin_sd=float(margin.std()))
    assert r_s == pytest.approx(r_n, abs=1.5)
    assert R.predicted_rating(margin) == R.predicted_rating(margin)


def test_predicted_rating_bad_inputs():
    with pytest.raises(ValueError):
        R.predicted_rating()
    with pytest.raises(ValueError):
        R.predicted_rating(margin_mean=0.0, margin_sd=0.0)
    with pytest.raises(ValueError):
        R.predicted_rating([1, 2], margin_mean=0.0, margin_sd=1.0)
    with pytest.raises(ValueError):
        R.predicted_rating([])
    with pytest.raises(ValueError):
        R.predicted_rating(margin_mean=0.0, margin_sd=10.0, p_overtime=1.5)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _cli(capsys, *argv):
    code = cli.main(["rating", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("rel, final, n_ot", [(MIN_GAME, (108, 106), 0), (OT_GAME, (119, 125), 1)])
def test_cli_rating_on_the_fixtures(fixtures_dir, capsys, rel, final, n_ot):
    code, out, err = _cli(capsys, "--pbp", str(fixtures_dir / rel))
    assert code == 0 and err == ""
    doc = json.loads(out)
    for key in ("game_id", "lead_changes", "times_tied", "competitive_seconds", "rating", "basis",
                "final_margin", "overtime_periods", "largest_lead", "components"):
        assert key in doc
    assert doc["basis"] == "play_by_play" and (doc["home_pts"], doc["away_pts"]) == final
    assert doc["overtime_periods"] == n_ot and 0 < doc["rating"] < 100
    flow = R.pbp_flow(_load(fixtures_dir, rel))
    assert doc["rating"] == round(R.game_rating(flow)[0], 1)
    assert doc["lead_changes"] == flow.lead_changes and doc["times_tied"] == flow.times_tied


def test_cli_rating_plain_json_and_context(fixtures_dir, capsys, tmp_path):
    plain = tmp_path / "pbp.json"
    plain.write_bytes(gzip.decompress((fixtures_dir / MIN_GAME).read_bytes()))
    code, out, _ = _cli(capsys, "--pbp", str(plain))
    base = json.loads(out)["rating"]
    code2, out2, _ = _cli(capsys, "--pbp", str(plain), "--home-elo", "1650", "--away-elo", "1650",
                          "--rivalry", "--conference", "same")
    assert code == code2 == 0 and json.loads(out2)["rating"] > base


def test_cli_rating_context_error(tmp_path, capsys):
    p = tmp_path / "g.json"
    p.write_text(json.dumps(_payload([(1, 600, 2, 0)])))
    code, out, err = _cli(capsys, "--pbp", str(p), "--home-elo", "1500")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content", [
    None,                                    # missing file
    b"",                                     # empty
    b"{not json",                            # invalid JSON
    b"\x1f\x8b\x08\x00garbage",              # a broken gzip
    gzip.compress(b'{"game": {"gameId": "1", "actions": []}}', mtime=0),   # no actions
    json.dumps({"game": {"actions": [{"period": 1, "clock": "12:00", "scoreHome": "0",
                                      "scoreAway": "0"}]}}).encode(),   # bad clock
    b"[]",                                   # not an object
])
def test_cli_rating_broken_file_exits_2(tmp_path, capsys, content):
    p = tmp_path / "broken.json.gz"
    if content is not None:
        p.write_bytes(content)
    code, out, err = _cli(capsys, "--pbp", str(p))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("tipoff rating: ") and str(p) in err


def test_cli_rating_truncated_fixture_exits_2(fixtures_dir, tmp_path, capsys):
    p = tmp_path / "truncated.json.gz"
    p.write_bytes((fixtures_dir / OT_GAME).read_bytes()[:3000])
    code, _, err = _cli(capsys, "--pbp", str(p))
    assert code == 2 and "gzip" in err and len(err.strip().splitlines()) == 1


def test_cli_rating_on_a_folder_exits_2(tmp_path, capsys):
    code, _, err = _cli(capsys, "--pbp", str(tmp_path))
    assert code == 2 and "cannot read" in err
