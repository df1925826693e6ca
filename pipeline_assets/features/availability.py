"""Player availability as of a cutoff: who could play for each target team-game, and raw features
of whether he will (Dagster-free; the same code serves gold and live targets).

Inputs follow the feature layer's as-of contract (see ``asof``): ``sides`` are target team-games
(``_side``, ``team_id``, ``season``, ``game_date``, ``cutoff_ts``); results carry ``avail_ts``
(``max(final_ts, snapshot_ts)``), box scores carry ``avail_ts`` and ``season`` (``asof.prepare``
adds both), injuries carry ``status_norm``.  A candidate row may only depend on

* team games whose result is available at cutoff (``avail_ts <= cutoff_ts``),
* box-score rows available at cutoff,
* injury rows with ``snapshot_ts <= cutoff_ts`` for the target's own game date,
* roster rows with ``snapshot_ts <= cutoff_ts`` (optional input),

so adding rows stamped after a cutoff never changes a target's rows (tests/test_availability.py).

Candidates of a side (team T, cutoff c):
  every player with an appearance for T in T's last ``CANDIDATE_GAMES`` (20) team games available
  at c whose latest appearance available at c (for any team) was for T -- a player who has since
  appeared for another team was traded --, plus players listed on T's injury report for the date,
  plus (live) roster players.

Team games are numbered per team in availability order over all seasons (``k``), counting only
games with box rows for the team ("box-known"; the archive has no playoff logs, and a game
without a box score is not a game every player missed); b2b / 3-in-4 use every result.  ``k_now`` is
the number of T's games available at c.  Features per candidate (names as in ``AVAIL_FEATURES``):

  missed          k_now - k of the last appearance for T (consecutive team games missed; 0 = played
                  the last available team game); ``CANDIDATE_GAMES`` when he never played for T
  days_since      target day - day of the last appearance (any team); 99 when none
  played_l{3,5,10,20}  share of T's last n available games with an appearance (n capped by the
                  number of team games available; NaN when T has none)
  min_last        minutes of the last appearance (any team)
  min_l5          mean minutes over the last 5 appearances (any team)
  min_ewm         exponentially weighted minutes over appearances (half-life 5 appearances)
  min_team_l5     mean minutes over T's last 5 available games counting missed games as 0
  season_share    appearances for T this season / T's games this season (NaN when none)
  new_season      T has no game available this season yet (the last appearance is from a
                  previous season)
  apps_team       appearances for T in the window (a low count = new arrival or deep bench)
  ramp            appearances since the player's last absence of >= 3 consecutive team games
                  within the window (capped at 10; 10 when none)
  inj_out         latest injury status for the date is Out or Doubtful (statuses stamped before an
                  appearance available at cutoff are stale and ignored, as in ``asof``)
  inj_q           latest status Questionable;  inj_prob: Probable
  inj_games       injury-report dates (this one included) in the player's current Out/Doubtful
                  listing within the last 30 days (0 when not listed); the run stops at a gap of
                  more than 5 days between consecutive listed dates
  inj_protocol    the listing's reason mentions health and safety protocols / COVID
  inj_long        the reason says surgery / out for the season / indefinitely
  b2b, three_in_four  T played the previous calendar day / 3 games in the 4 days up to today
  b2b_x_min       b2b * min_l5 (load management of heavy-minute players)
  min_rank        rank of min_l5 among the side's candidates (1 = most minutes)
  on_roster       the player is on a roster snapshot available at cutoff (1.0), not (0.0), or
                  NaN when no roster snapshot was given for the side
  team_win_pct    T's win share this season from results available at cutoff (0.5 when none)
  games_left      T's regular-season games after this one in the published season schedule
                  (the sides' ``games_left``, from the schedule's home/away_games_left; NaN when
                  unknown, 0 in the playoffs)
  playoff         the target is a post-season game (the sides' ``playoff``)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline_assets.features import asof as A
from pipeline_assets.features.schema import AVAIL_FEATURES
from tipoff_core.catalog import INJURY_LOOKBACK_DAYS as INJURY_LOOKBACK
from tipoff_core.jit import njit

CANDIDATE_GAMES = 20
RAMP_GAP = 3
RAMP_CAP = 10
RUN_GAP_DAYS = 5
# inj_games counts listed dates of the last INJURY_LOOKBACK_DAYS only: gold and live both read
# that many days of injury reports before a target date (catalog.INJURY_LOOKBACK_DAYS)
INJURY_LOOKBACK_DAYS = INJURY_LOOKBACK
NO_APP_DAYS = 99.0
WINDOWS = (3, 5, 10, 20)


_PROTOCOL = r"health and safety|protocol|covid|coronavirus"
_LONG = r"surgery|for season|for the season|indefinitely|season-ending"


def team_games(res: pd.DataFrame, box: pd.DataFrame | None = None) -> pd.DataFrame:
    """Two rows per result (one per team) in availability order with ``k`` (the team's running
    game count over all seasons, 1-based), the season game count ``ks`` and the game ``day``.

    With ``box``, only team-games with at least one box row count ("box-known" games), available
    at ``max(result avail_ts, first box row avail_ts)``: a game without any box row for the team
    (the archive has no playoff player logs) is not a game every player missed."""
    cols = ["game_id", "season", "game_date", "avail_ts", "final_ts"]
    long = pd.concat([res[cols].assign(team_id=res["home_team_id"].to_numpy()),
                      res[cols].assign(team_id=res["away_team_id"].to_numpy())],
                     ignore_index=True)
    if box is not None:
        first = box.groupby(["game_id", "team_id"], sort=False)["avail_ts"].min().rename("b_ts")
        long = long.merge(first.reset_index(), on=["game_id", "team_id"], how="inner")
        long["avail_ts"] = A.tsmax(long["avail_ts"], long["b_ts"]).array
        long = long.drop(columns=["b_ts"])
    long = A._sorted(long, ["avail_ts", "final_ts", "game_id", "team_id"]).rename(
        columns={"avail_ts": "ts"})
    long["k"] = long.groupby("team_id", sort=False).cumcount().to_numpy() + 1
    long["ks"] = long.groupby(["team_id", "season"], sort=False).cumcount().to_numpy() + 1
    long["day"] = A.day_number(long["game_date"])
    return long


def appearances(box: pd.DataFrame, tg: pd.DataFrame) -> pd.DataFrame:
    """Box rows with minutes, in availability order, with the team-game number ``k`` of their game
    (rows whose game has no result are dropped) and running per-player minute statistics after
    each appearance (``n``, ``min_l5``, ``min_ewm``, ``day``)."""
    b = box[box["minutes"].notna()]
    b = pd.DataFrame({"player_id": b["player_id"].to_numpy(), "team_id": b["team_id"].to_numpy(),
                      "game_id": b["game_id"].to_numpy(), "b_ts": b["avail_ts"].array,
                      "minutes": b["minutes"].to_numpy(float)})
    b = b.merge(tg[["game_id", "team_id", "k", "ts", "season", "game_date"]],
                on=["game_id", "team_id"], how="inner")
    b["ts"] = A.tsmax(b["b_ts"], b["ts"]).array  # an appearance counts once its result is known
    b = A._sorted(b.drop(columns=["b_ts"]), ["ts", "game_date", "game_id", "player_id"])
    g = b.groupby("player_id", sort=False)
    n = g.cumcount().to_numpy() + 1
    cs = g["minutes"].cumsum()
    b["n"] = n
    b["min_l5"] = A._rolling_sum(cs, b["player_id"], 5) / np.minimum(n, 5)
    b["min_ewm"] = g["minutes"].ewm(halflife=A.EWM_HALFLIFE).mean().droplevel(0).reindex(b.index)
    b["day"] = A.day_number(b["game_date"])
    return b


def candidate_frame(sides: pd.DataFrame, results: pd.DataFrame, box: pd.DataFrame,
                    injuries: pd.DataFrame, rosters: pd.DataFrame | None = None, *,
                    tg: pd.DataFrame | None = None,
                    apps: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (side, candidate player) with ``AVAIL_FEATURES`` (see the module docstring).

    ``sides``: ``_side`` (unique int), ``team_id``, ``season``, ``game_date``, ``cutoff_ts``,
    ``games_left``, ``playoff`` (see ``strength.sides_of``).
    ``results`` / ``box`` / ``injuries`` as prepared by ``asof.prepare``.  ``rosters``: optional
    ROSTERS rows (team_id, player_id, snapshot_ts); per side the latest snapshot at or before the
    cutoff is used.  Rows are sorted by (_side, player_id)."""
    tg = team_games(results, box) if tg is None else tg
    sched = team_games(results)
    apps = appearances(box, tg) if apps is None else apps
    s = sides[["_side", "team_id", "season", "game_date", "cutoff_ts", "games_left",
               "playoff"]].reset_index(drop=True)
    s["day"] = A.day_number(s["game_date"])
    now = A.asof(s, tg, ["team_id"], ["k", "ks", "season", "day"])
    s["k_now"] = now["k"].fillna(0).to_numpy(np.int64)
    s["ks_now"] = np.where(now["season"].to_numpy(object) == s["season"].to_numpy(object),
                           now["ks"].fillna(0).to_numpy(), 0).astype(np.int64)
    s["last_day"] = now["day"].to_numpy(float)
    # standing: this season's win share from every available result
    rec = _win_stream(results)
    wr = A.asof(s, rec, ["team_id", "season"], ["w", "n"])
    s["team_win_pct"] = np.where(wr["n"].fillna(0) > 0, wr["w"] / wr["n"].where(wr["n"] > 0, 1),
                                 0.5)

    # T's last CANDIDATE_GAMES available games per side
    tgk = tg[["team_id", "k", "game_id", "day"]]
    lag = np.arange(CANDIDATE_GAMES)
    w = pd.DataFrame({"_side": np.repeat(s["_side"].to_numpy(), CANDIDATE_GAMES),
                      "team_id": np.repeat(s["team_id"].to_numpy(), CANDIDATE_GAMES),
                      "lag": np.tile(lag, len(s)),
                      "cutoff_ts": s["cutoff_ts"].repeat(CANDIDATE_GAMES).array})
    w["k"] = np.repeat(s["k_now"].to_numpy(), CANDIDATE_GAMES) - w["lag"].to_numpy()
    w = w[w["k"] > 0]
    w = w.merge(tgk, on=["team_id", "k"], how="inner")
    # schedule density (all results, box-known or not): games in the 3 days before today
    sn = A.asof(s, sched, ["team_id"], ["day"]).rename(columns={"day": "d1"})
    dd1 = s["day"].to_numpy() - sn["d1"].to_numpy(float)
    s2 = sched[["team_id", "ts", "day"]].copy()
    s2["d2"] = s2.groupby("team_id", sort=False)["day"].shift(1)
    sn2 = A.asof(s, s2, ["team_id"], ["d2"])
    dd2 = s["day"].to_numpy() - sn2["d2"].to_numpy(float)
    dens = pd.DataFrame({"b2b": dd1 == 1, "n3": (dd1 <= 3).astype(int) + (dd2 <= 3).astype(int)},
                        index=s["_side"].to_numpy())
    # appearances of T's players in those games, available at cutoff
    ap = window_appearances(w, apps)

    # candidate set: window appearances + injury-listed + roster players
    lat = A.latest_injuries(s[["_side", "team_id", "game_date", "cutoff_ts"]], injuries, None)
    cand = [ap[["_side", "player_id"]], lat[["_side", "player_id"]]]
    ros = None
    if rosters is not None and len(rosters):
        ros = _latest_roster(s, rosters)
        cand.append(ros[["_side", "player_id"]])
    c = pd.concat(cand, ignore_index=True).drop_duplicates(ignore_index=True)
    c = c.merge(s, on="_side", how="left")

    # latest appearance as of cutoff (any team): drop players who have since moved on
    la = A.asof(c, apps.rename(columns={"team_id": "la_team"}), ["player_id"],
                ["la_team", "day", "n", "min_l5", "min_ewm", "minutes", "k"])
    moved = la["la_team"].notna().to_numpy() & (la["la_team"].to_numpy(float)
                                                != c["team_id"].to_numpy(float))
    c = c[~moved].reset_index(drop=True)
    la = la[~moved].reset_index(drop=True)
    has_app = la["la_team"].notna().to_numpy()
    c["missed"] = np.where(has_app, c["k_now"].to_numpy() - la["k"].fillna(0).to_numpy(),
                           CANDIDATE_GAMES).astype(float)
    c["missed"] = np.minimum(c["missed"], CANDIDATE_GAMES)
    c["days_since"] = np.where(has_app, c["day"].to_numpy() - la["day"].to_numpy(float),
                               NO_APP_DAYS)
    c["min_last"] = la["minutes"].to_numpy(float)
    c["min_l5"] = la["min_l5"].to_numpy(float)
    c["min_ewm"] = la["min_ewm"].to_numpy(float)

    # window statistics
    key = ["_side", "player_id"]
    # season appearances for T: window games of this season (capped by the window) + earlier
    st = A.asof(c, apps.assign(sn=apps.groupby(["player_id", "team_id", "season"],
                                               sort=False).cumcount() + 1),
                ["player_id", "team_id", "season"], ["sn"])
    c = c.merge(window_stats(ap), on=key, how="left")
    navail = c["k_now"].to_numpy(float)
    for n in WINDOWS:
        denom = np.minimum(navail, n)
        c[f"played_l{n}"] = np.where(denom > 0, c[f"played_l{n}"].fillna(0) / np.maximum(denom, 1),
                                     np.nan)
    c["min_team_l5"] = np.where(navail > 0, c["min_team_l5"].fillna(0) / np.maximum(
        np.minimum(navail, 5), 1), np.nan)
    c["apps_team"] = c["apps_team"].fillna(0).astype(float)
    c["ramp"] = c["ramp"].fillna(RAMP_CAP).clip(upper=RAMP_CAP).astype(float)
    sn = st["sn"].fillna(0).to_numpy(float)
    c["season_share"] = np.where(c["ks_now"] > 0, np.minimum(sn / np.maximum(c["ks_now"], 1), 1.0),
                                 np.nan)
    c["new_season"] = (c["ks_now"] == 0).astype(float)

    # injuries (stale statuses -- stamped before an appearance available at cutoff -- dropped)
    own = _injury_features(c, s, injuries, apps)
    for col in ("inj_out", "inj_q", "inj_prob", "inj_games", "inj_protocol", "inj_long"):
        c[col] = own[col]
    d = dens.reindex(c["_side"].to_numpy())
    c["b2b"] = d["b2b"].fillna(False).to_numpy(float)
    c["three_in_four"] = (d["n3"].fillna(0).to_numpy() >= 2).astype(float)
    c["b2b_x_min"] = c["b2b"] * c["min_l5"].fillna(0.0)
    c["min_rank"] = c.groupby("_side")["min_l5"].rank(ascending=False, method="first").fillna(
        99.0).to_numpy()
    if ros is not None:
        has_ros = c["_side"].isin(ros["_side"]).to_numpy()
        on = c.set_index(key).index.isin(ros.set_index(key).index)
        c["on_roster"] = np.where(has_ros, on.astype(float), np.nan)
    else:
        c["on_roster"] = np.nan
    c["team_win_pct"] = c["team_win_pct"].astype(float)
    c = A._sorted(c, key)
    return c[["_side", "team_id", "player_id", "season", "game_date", "cutoff_ts"]
             + AVAIL_FEATURES].reset_index(drop=True)


def _win_stream(res: pd.DataFrame) -> pd.DataFrame:
    cols = ["season", "avail_ts", "final_ts", "game_id"]
    hw = (res["home_pts"].to_numpy(float) > res["away_pts"].to_numpy(float)).astype(float)
    long = pd.concat([res[cols].assign(team_id=res["home_team_id"].to_numpy(), win=hw),
                      res[cols].assign(team_id=res["away_team_id"].to_numpy(), win=1.0 - hw)],
                     ignore_index=True)
    long = A._sorted(long, ["avail_ts", "final_ts", "game_id", "team_id"]).rename(
        columns={"avail_ts": "ts"})
    g = long.groupby(["team_id", "season"], sort=False)
    long["w"] = g["win"].cumsum()
    long["n"] = g.cumcount() + 1.0
    return long


def window_appearances(w: pd.DataFrame, apps: pd.DataFrame) -> pd.DataFrame:
    """The appearances (``apps`` rows) in each window game (``w`` rows: ``_side``, ``lag``,
    ``game_id``, ``team_id``, ``cutoff_ts``) available at the side's cutoff: ``_side``, ``lag``,
    ``player_id``, ``minutes``, in ``w``'s order and then ``apps``' order (the rows an inner
    merge on (game_id, team_id) gives, without materialising the 3.7M-row merge of 15 seasons)."""
    pairs = pd.concat([apps[["game_id", "team_id"]], w[["game_id", "team_id"]]], ignore_index=True)
    code = pairs.groupby(["game_id", "team_id"], sort=False).ngroup().to_numpy(np.int64)
    a_code, w_code = code[:len(apps)], code[len(apps):]
    by_game = np.argsort(a_code, kind="stable")  # apps' rows of each team-game, in apps' order
    per_game = np.bincount(a_code, minlength=code.max() + 1 if len(code) else 0)
    first = np.cumsum(per_game) - per_game
    n = per_game[w_code]
    wi = np.repeat(np.arange(len(w)), n)
    within = np.arange(len(wi)) - np.repeat(np.cumsum(n) - n, n)
    ai = by_game[np.repeat(first[w_code], n) + within]
    keep = _ns(apps["ts"])[ai] <= _ns(w["cutoff_ts"])[wi]
    wi, ai = wi[keep], ai[keep]
    return pd.DataFrame({"_side": w["_side"].to_numpy()[wi], "lag": w["lag"].to_numpy()[wi],
                         "player_id": apps["player_id"].to_numpy()[ai],
                         "minutes": apps["minutes"].to_numpy(float)[ai]})


def window_stats(ap: pd.DataFrame) -> pd.DataFrame:
    """Per (_side, player_id) of the window appearances ``ap`` (``_side``, ``player_id``, ``lag``,
    ``minutes``; at most one row per side, player and lag), sorted by that key:
    ``played_l{n}`` (appearances with lag < n), ``min_team_l5`` (minutes with lag < 5),
    ``apps_team`` (appearances) and ``ramp``: appearances (inside the window, latest first) up to
    the latest gap of >= RAMP_GAP team games between consecutive appearances; NaN when there is
    no such gap.  One pass over the rows instead of a groupby per statistic (3.7M rows for the
    archive's 15 seasons)."""
    side = ap["_side"].to_numpy(np.int64)
    if len(side) and (side[1:] < side[:-1]).any():  # the kernel wants each side's rows together
        ap = ap.iloc[np.argsort(side, kind="stable")]
        side = ap["_side"].to_numpy(np.int64)
    lag = ap["lag"].to_numpy(np.int64)
    span = int(lag.max()) + 1 if len(lag) else 1
    group_side, group_player, counts, min_l5, ramp = _window_kernel(
        side, ap["player_id"].to_numpy(np.int64), lag, ap["minutes"].to_numpy(float),
        np.array(WINDOWS, dtype=np.int64), RAMP_GAP, span)
    out = {"_side": group_side.astype(ap["_side"].dtype),
           "player_id": group_player.astype(ap["player_id"].dtype)}
    for j, n in enumerate(WINDOWS):
        out[f"played_l{n}"] = counts[:, j]
    out["min_team_l5"] = min_l5
    out["apps_team"] = counts[:, -1]
    out["ramp"] = ramp
    return pd.DataFrame(out)


@njit(cache=True)
def _window_kernel(side, player, lag, minutes, windows, ramp_gap, span):
    """Rows with each side's rows together; per (side, player) in (side, player) order: the
    appearance counts with lag < each window (last column: all), the minutes with lag < 5
    (summed in lag order) and the ramp (see ``window_stats``)."""
    n = side.shape[0]
    nw = windows.shape[0]
    gs = np.empty(n, dtype=np.int64)
    gp = np.empty(n, dtype=np.int64)
    counts = np.zeros((n, nw + 1), dtype=np.int64)
    min_l5 = np.zeros(n)
    ramp = np.full(n, np.nan)
    g = -1
    b0 = 0
    while b0 < n:
        b1 = b0 + 1
        while b1 < n and side[b1] == side[b0]:
            b1 += 1
        order = np.argsort(player[b0:b1] * span + lag[b0:b1]) + b0  # (player, lag) is unique
        pos = 0
        for t in range(order.shape[0]):
            i = order[t]
            if t == 0 or player[i] != player[order[t - 1]]:
                g += 1
                gs[g] = side[i]
                gp[g] = player[i]
                pos = 0
            pos += 1
            for j in range(nw):
                if lag[i] < windows[j]:
                    counts[g, j] += 1
            counts[g, nw] += 1
            if lag[i] < 5:
                min_l5[g] += minutes[i]
            # team games missed before this appearance, going back in time: the next lag's gap
            if t + 1 < order.shape[0] and player[order[t + 1]] == player[i] \
                    and np.isnan(ramp[g]) and lag[order[t + 1]] - lag[i] - 1 >= ramp_gap:
                ramp[g] = pos
        b0 = b1
    g += 1
    return gs[:g], gp[:g], counts[:g], min_l5[:g], ramp[:g]


def _latest_roster(s: pd.DataFrame, rosters: pd.DataFrame) -> pd.DataFrame:
    """(_side, player_id) of each side's latest roster snapshot at or before its cutoff."""
    snaps = rosters[["team_id", "snapshot_ts"]].drop_duplicates().rename(
        columns={"snapshot_ts": "ts"})
    snaps = A._sorted(snaps.assign(snap=snaps["ts"]), ["ts", "team_id"])
    last = A.asof(s[["_side", "team_id", "cutoff_ts"]], snaps, ["team_id"], ["snap"])
    sides = pd.DataFrame({"_side": s["_side"].to_numpy(), "team_id": s["team_id"].to_numpy(),
                          "snapshot_ts": last["snap"].to_numpy()})
    sides = sides[sides["snapshot_ts"].notna()]
    if sides.empty:  # no side has a snapshot yet; an all-NaT column would lose its time zone
        return pd.DataFrame({"_side": pd.Series(dtype=s["_side"].dtype),
                             "player_id": pd.Series(dtype=rosters["player_id"].dtype)})
    ros = rosters[["team_id", "player_id", "snapshot_ts"]]
    sides["snapshot_ts"] = sides["snapshot_ts"].astype(ros["snapshot_ts"].dtype)
    r = sides.merge(ros, on=["team_id", "snapshot_ts"], how="inner")
    return r[["_side", "player_id"]].drop_duplicates(ignore_index=True)


def _injury_features(c: pd.DataFrame, s: pd.DataFrame, inj: pd.DataFrame,
                     apps: pd.DataFrame) -> pd.DataFrame:
    """Own status flags, reason flags and the consecutive-listing count for candidate rows."""
    ps = apps[["player_id", "ts"]]
    lat = A.latest_injuries(s[["_side", "team_id", "game_date", "cutoff_ts"]], inj, ps)
    keep = ["_side", "player_id", "status_norm", "snapshot_ts"]
    reason = inj[["team_id", "game_date", "player_id", "snapshot_ts", "reason"]].drop_duplicates(
        ["team_id", "game_date", "player_id", "snapshot_ts"], keep="last")
    lat = lat[keep].merge(s[["_side", "team_id", "game_date"]], on="_side", how="left").merge(
        reason, on=["team_id", "game_date", "player_id", "snapshot_ts"], how="left")
    m = c[["_side", "player_id"]].merge(lat, on=["_side", "player_id"], how="left")
    st = m["status_norm"].fillna("").to_numpy(object)
    rs = m["reason"].fillna("").astype(str).str.lower()
    out = pd.DataFrame(index=c.index)
    is_out = np.isin(st, A.OUT_STATUSES)
    out["inj_out"] = is_out.astype(float)
    out["inj_q"] = (st == "questionable").astype(float)
    out["inj_prob"] = (st == "probable").astype(float)
    out["inj_protocol"] = (is_out & rs.str.contains(_PROTOCOL, regex=True).to_numpy()).astype(float)
    out["inj_long"] = (is_out & rs.str.contains(_LONG, regex=True).to_numpy()).astype(float)
    # consecutive listing: the player's Out/Doubtful rows on T's earlier game dates (each
    # visible at cutoff), counted back from today without a break
    out["inj_games"] = _listing_run(c, s, inj, is_out)
    return out


def _listing_run(c: pd.DataFrame, s: pd.DataFrame, inj: pd.DataFrame,
                 is_out: np.ndarray) -> np.ndarray:
    """inj_games of the candidate rows listed Out/Doubtful (``is_out``; 0 elsewhere): the
    player's Out/Doubtful listing dates for T (each visible at the row's cutoff) within the
    INJURY_LOOKBACK_DAYS up to the game date, counted back from the newest without a break of
    more than RUN_GAP_DAYS days between consecutive listed dates (a team never goes that long
    without a game in season)."""
    res = np.zeros(len(c))
    idx = np.flatnonzero(is_out)
    if len(idx) == 0:
        return res
    q = c.iloc[idx]
    o = inj[inj["status_norm"].isin(A.OUT_STATUSES) & inj["snapshot_ts"].notna()]
    # one integer code per (team, player) shared by both sides, the listings sorted by (code, day)
    pairs = pd.concat([q[["team_id", "player_id"]], o[["team_id", "player_id"]]],
                      ignore_index=True)
    code = pairs.groupby(["team_id", "player_id"], sort=True).ngroup().to_numpy(np.int64)
    q_code, o_code = code[:len(q)], code[len(q):]
    o_day = A.day_number(o["game_date"])
    order = np.lexsort((o_day, o_code))
    res[idx] = _listing_kernel(q_code, A.day_number(q["game_date"]), _ns(q["cutoff_ts"]),
                               o_code[order], o_day[order], _ns(o["snapshot_ts"])[order],
                               INJURY_LOOKBACK_DAYS, RUN_GAP_DAYS)
    return res


def _ns(ts: pd.Series) -> np.ndarray:
    """UTC timestamps -> int64 nanoseconds (comparable whatever unit the column carries)."""
    return pd.DatetimeIndex(ts).as_unit("ns").asi8


@njit(cache=True)
def _listing_kernel(q_code, q_day, q_cut, o_code, o_day, o_snap, lookback, max_gap):
    """Per query: distinct listed days d of its (team, player) code with d <= its day,
    day - d < lookback and a listing stamped at or before its cutoff, counted newest first
    until a gap of more than max_gap days.  Listings sorted by (code, day)."""
    out = np.zeros(q_code.shape[0])
    for i in range(q_code.shape[0]):
        lo = np.searchsorted(o_code, q_code[i], side="left")
        hi = np.searchsorted(o_code, q_code[i], side="right")
        j = lo + np.searchsorted(o_day[lo:hi], q_day[i], side="right") - 1
        cnt = 0
        prev = 0
        while j >= lo and q_day[i] - o_day[j] < lookback:
            d = o_day[j]
            if o_snap[j] <= q_cut[i] and not (cnt > 0 and d == prev):
                if cnt > 0 and prev - d > max_gap:
                    break
                cnt += 1
                prev = d
            j -= 1
        out[i] = cnt
    return out
