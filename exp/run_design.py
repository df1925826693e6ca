"""End-to-end walk-forward of the recommended design with the production functions
(features.strength / features.availability / features.players, models.availability,
models.win_linear, models.minutes_reconcile), one season at a time, timed.

    PYTHONPATH=. .venv/bin/python -m exp.run_design dev      # 2016-17 .. 2018-19
    PYTHONPATH=. .venv/bin/python -m exp.run_design eval     # 2019-20 .. 2021-22 (run once)

Per season S (processed in order; everything about S is cached under data/exp/design/):
  1. player rows of S (candidates + ratings + expected minutes) and box weights fit on < S;
  2. availability model fit on the rows of seasons < S (2015-16: in-sample, training data only);
  3. expected-lineup strength per game; market-free LinearWinModel refit weekly on every
     earlier game (>= 2015-16); MarketStack beta refit weekly on earlier out-of-sample rows;
  4. minutes: gold minutes features + minutes_context, LightGBM quantiles (fast grid) refit
     monthly on the 3 previous seasons + S so far, width reconciliation, split conformal.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from exp.common import DEV, EVAL, EXP, boot_ci, brier, ll, prepared
from pipeline_assets import backtest as BT
from tipoff_core.domain import betting as B
from pipeline_assets.features import FEATURE_COLUMNS
from pipeline_assets.features import players as PL
from pipeline_assets.features import strength as S
from exp.team_ratings import neutral_site
from pipeline_assets.models import train_minutes_model
from pipeline_assets.models.availability import (AvailabilityModel, fit_availability,
                                                 recent_appearance_rule)
from pipeline_assets.models.minutes_reconcile import reconcile_by_width
from pipeline_assets.models.win_linear import (fit_linear_win, fit_market_stack,
                                               market_probability)

OUT = EXP / "design"
WIN_FEATURES = ["diff_strength_avail", "home_b2b", "away_b2b", "diff_miss_share", "home_flag"]
FIRST = "2015-16"
MIN_FAST = dict(n_estimators=120, learning_rate=0.05, num_leaves=15)


class Ctx:
    def __init__(self):
        t = time.perf_counter()
        self.g, self.inp, box = prepared()
        extra = [c for c in box.columns if c in PL.BOX_STATS or c == "plus_minus"]
        add = [c for c in extra if c not in self.inp.box.columns]
        self.box = self.inp.box.merge(box[["game_id", "player_id"] + add],
                                      on=["game_id", "player_id"], how="left")
        self.games, self.minutes = BT.build_archive_features("/work/shared/data",
                                                             progress=lambda m: None)
        self.games = self.games[self.games["season"] >= FIRST].reset_index(drop=True)
        self.games["y"] = pd.to_numeric(self.games["label_home_win"].astype("Float64")).to_numpy(
            float)
        self.games["margin"] = pd.to_numeric(self.games["label_margin"].astype("Float64")
                                             ).to_numpy(float)
        self.games["home_flag"] = 1.0 - neutral_site(self.games["game_date"]).astype(float)
        t2 = time.perf_counter()
        self.stream = PL.rating_stream(self.box, S.StrengthParams().half_life_days)
        tot = self.box.assign(season=self.box["season"].astype(str))
        self.totals = PL.season_totals(tot[tot["game_date"] >= "2015-08-01"])
        self.t_load = t2 - t
        self.t_stream = time.perf_counter() - t2
        self.targets = self.inp.targets.set_index("game_id").loc[self.games["game_id"]].reset_index()
        OUT.mkdir(parents=True, exist_ok=True)


def season_rows(ctx: Ctx, season: str, refresh=False):
    """Player rows of one season (+ label, box_known); cached."""
    p = OUT / f"rows_{season}.parquet"
    if p.exists() and not refresh:
        return pd.read_parquet(p), 0.0
    t = time.perf_counter()
    sel = (ctx.targets["season"] == season).to_numpy()
    tg = ctx.targets[sel].reset_index(drop=True)
    sides = S.sides_of(tg)
    bw = box_weights(ctx, season)
    rows = S.player_rows(sides, ctx.inp.results, ctx.box, ctx.inp.injuries, bw,
                         schedule=ctx.inp.targets, stream=ctx.stream)
    gid = np.repeat(tg["game_id"].to_numpy(), 2)
    rows["game_id"] = gid[rows["_side"].to_numpy()]
    lab = ctx.box[ctx.box["minutes"].notna()][["game_id", "team_id", "player_id", "minutes"]]
    rows = rows.merge(lab.rename(columns={"minutes": "label_min"}),
                      on=["game_id", "team_id", "player_id"], how="left")
    rows["played"] = rows["label_min"].notna().astype(float)
    known = lab[["game_id", "team_id"]].drop_duplicates().assign(box_known=1.0)
    rows = rows.merge(known, on=["game_id", "team_id"], how="left")
    rows["box_known"] = rows["box_known"].fillna(0.0)
    rows = rows.sort_values(["_side", "player_id"], kind="mergesort", ignore_index=True)
    dt = time.perf_counter() - t
    rows.to_parquet(p)
    return rows, dt


def box_weights(ctx: Ctx, season: str) -> PL.BoxWeights:
    tot = ctx.totals
    tr = tot[tot["season"] < season] if season > FIRST else tot[tot["season"] == season]
    return PL.fit_box_weights(tr)


def season_pplay(ctx: Ctx, season: str, rows_by_season: dict, refresh=False):
    p = OUT / f"pplay_{season}.parquet"
    if p.exists() and not refresh:
        return pd.read_parquet(p)["p"].to_numpy(), 0.0
    t = time.perf_counter()
    prior = [rows_by_season[s] for s in rows_by_season if s < season]
    train = pd.concat(prior, ignore_index=True) if prior else rows_by_season[season]
    m = fit_availability(train)
    pr = m.predict(rows_by_season[season])
    dt = time.perf_counter() - t
    pd.DataFrame({"p": pr}).to_parquet(p)
    return pr, dt


def game_frame(ctx: Ctx, season: str, rows: pd.DataFrame, pplay: np.ndarray) -> pd.DataFrame:
    sel = (ctx.games["season"] == season).to_numpy()
    g = ctx.games[sel].reset_index(drop=True)
    st = S.game_strength(rows, pplay, len(g))
    return pd.concat([g, st], axis=1)


def walk_win(F: pd.DataFrame, season: str, cadence=7):
    """Weekly refits of the market-free model; returns probabilities for the season's rows."""
    ok = F["game_type"].isin(["regular", "playoff"]).to_numpy() & np.isfinite(F["y"].to_numpy())
    day = pd.to_datetime(F["game_date"]).to_numpy("datetime64[D]")
    te = np.flatnonzero((F["season"] == season).to_numpy() & ok)
    p = np.full(len(F), np.nan)
    d0 = day[te].min()
    blk = ((day[te] - d0) // np.timedelta64(cadence, "D")).astype(int)
    fits = 0
    for b in np.unique(blk):
        start = d0 + np.timedelta64(int(b) * cadence, "D")
        tr = ok & (day < start)
        m = fit_linear_win(F[tr], WIN_FEATURES, label_col="y", as_of=pd.Timestamp(start))
        fits += 1
        rows = te[blk == b]
        p[rows] = m.predict_proba(F.iloc[rows])
    return p, fits


def walk_stack(F: pd.DataFrame, season: str, pm_col: str, cadence=7):
    day = pd.to_datetime(F["game_date"]).to_numpy("datetime64[D]")
    te = np.flatnonzero((F["season"] == season).to_numpy() & np.isfinite(F[pm_col].to_numpy()))
    out = np.full(len(F), np.nan)
    betas = []
    if len(te) == 0:
        return out, betas
    d0 = day[te].min()
    blk = ((day[te] - d0) // np.timedelta64(cadence, "D")).astype(int)
    for b in np.unique(blk):
        start = d0 + np.timedelta64(int(b) * cadence, "D")
        tr = (day < start) & np.isfinite(F["p_mf"].to_numpy())
        st = fit_market_stack(F.loc[tr, pm_col], F.loc[tr, "p_mf"], F.loc[tr, "y"])
        rows = te[blk == b]
        out[rows] = st.predict_proba(F[pm_col].to_numpy()[rows], F["p_mf"].to_numpy()[rows])
        betas.append(st.beta)
    return out, betas


def walk_minutes(ctx: Ctx, season: str, rows_by_season, pplay_by_season, cadence=30,
                 conformal_rows=20_000):
    Mn = BT.eligible_minutes(ctx.minutes[ctx.minutes["season"] >= FIRST])
    keep = sorted(s for s in rows_by_season if s <= season)[-4:]
    Mn = Mn[Mn["season"].isin(keep)].reset_index(drop=True)
    ctxs = []
    for s in keep:
        r = rows_by_season[s]
        mc = S.minutes_context(r, pplay_by_season[s])
        mc = mc.rename(columns={c: f"x_{c}" for c in mc.columns})
        ctxs.append(pd.concat([r[["game_id", "team_id", "player_id"]], mc], axis=1))
    X = pd.concat(ctxs, ignore_index=True)
    Mn = Mn.merge(X, on=["game_id", "team_id", "player_id"], how="left")
    cols = list(FEATURE_COLUMNS["minutes"]) + [c for c in X.columns if c.startswith("x_")]
    pool_days = Mn["_day"].to_numpy()
    test = (Mn["season"] == season).to_numpy()
    tframe = Mn[test]
    tdays = tframe["_day"].to_numpy()
    start = tdays.min()

    def fit(train):
        return train_minutes_model(train, cols, date_col="game_date", seed=0, holdout_frac=0.0,
                                   n_jobs=2, params=MIN_FAST)

    def predict(model, frame):
        pred = model.predict(frame)
        df = frame[["game_id", "team_id", "player_id", "_day", "label_minutes"]].copy()
        df[["p10", "p50", "p90"]] = pred[["p10", "p50", "p90"]].to_numpy()
        ot = pd.to_numeric(frame["overtime_periods"], errors="coerce").to_numpy(float)
        df["_total"] = 240.0 + 25.0 * np.nan_to_num(ot, nan=0.0)
        df["inj_out"] = frame["inj_out"].to_numpy()
        return reconcile_by_width(df, total="_total")

    base = Mn[pool_days < start]
    history = None
    if len(base) > conformal_rows + 1000:
        cut = base["_day"].to_numpy()[-conformal_rows]
        history = predict(fit(base[base["_day"].to_numpy() < cut]),
                          base[base["_day"].to_numpy() >= cut])
    parts, model, used, nfit = [], None, None, 0
    for r, mask in BT._blocks(tdays, cadence):
        train = Mn[pool_days < r]
        if model is None or len(train) > len(used):
            model, used = fit(train), train
            nfit += 1
        rec = predict(model, tframe[mask])
        raw = rec.copy()
        if history is not None and len(history):
            h = history.iloc[-conformal_rows:]
            a, b = BT._conformal_offsets(h["label_minutes"].to_numpy(float), h["p10"].to_numpy(),
                                         h["p90"].to_numpy())
            rec["p10"] = np.clip(np.minimum(rec["p10"] - a, rec["p50"]), 0.0, 48.0)
            rec["p90"] = np.clip(np.maximum(rec["p90"] + b, rec["p50"]), 0.0, 48.0)
            off = rec["inj_out"].to_numpy(bool)
            rec.loc[off, ["p10", "p50", "p90"]] = 0.0
        history = raw if history is None else pd.concat([history, raw], ignore_index=True)
        parts.append(rec)
    rec = pd.concat(parts, ignore_index=True)
    y = rec["label_minutes"].to_numpy(float)
    return {"rows": int(len(rec)), "mae": float(np.mean(np.abs(y - rec["p50"]))),
            "coverage_p10_p90": float(np.mean((y >= rec["p10"]) & (y <= rec["p90"]))),
            "fits": nfit}


def main(which: str):
    seasons = DEV if which == "dev" else EVAL
    ctx = Ctx()
    print(f"load {ctx.t_load:.1f}s, rating stream {ctx.t_stream:.1f}s")
    last = seasons[-1]
    all_seasons = [s for s in sorted(ctx.games["season"].unique()) if s <= last]
    rows_by, pplay_by, frames, timing = {}, {}, [], {}
    for s in all_seasons:
        r, t_rows = season_rows(ctx, s)
        rows_by[s] = r
        pplay_by[s], t_av = season_pplay(ctx, s, rows_by)
        frames.append(game_frame(ctx, s, r, pplay_by[s]))
        timing[s] = {"player_rows_s": round(t_rows, 2), "availability_fit_s": round(t_av, 2)}
    F = pd.concat(frames, ignore_index=True)
    # market input: de-vigged moneyline, else spread-implied (sigma from earlier seasons)
    F["p_mkt"], F["p_mkt_any"], F["p_spread"] = np.nan, np.nan, np.nan
    for s in all_seasons:
        sel = (F["season"] == s).to_numpy()
        tr = (F["season"] < s).to_numpy() if s > FIRST else sel
        sig = B.fit_spread_sigma(F.loc[tr, "close_home_spread"].to_numpy(float),
                                 F.loc[tr, "margin"].to_numpy(float))
        g = F[sel]
        p_any, src = market_probability(g["close_home_ml"], g["close_away_ml"],
                                        g["close_home_spread"], sig)
        F.loc[sel, "p_mkt_any"] = p_any
        F.loc[sel, "p_mkt"] = np.where(src == "moneyline", p_any, np.nan)
        p_sp, _ = market_probability(np.full(sel.sum(), np.nan), np.full(sel.sum(), np.nan),
                                     g["close_home_spread"], sig)
        F.loc[sel, "p_spread"] = p_sp
    F["p_mf"] = np.nan
    # out-of-sample market-free probabilities for every season after the first (stack inputs)
    for s in all_seasons[1:]:
        t = time.perf_counter()
        p, fits = walk_win(F, s)
        sel = (F["season"] == s).to_numpy()
        F.loc[sel, "p_mf"] = p[sel]
        timing[s]["win_fits"] = fits
        timing[s]["win_walk_s"] = round(time.perf_counter() - t, 2)
    F["p_wm"], F["p_wm_spread_only"] = np.nan, np.nan
    betas = {}
    for s in all_seasons[1:]:
        t = time.perf_counter()
        p, b1 = walk_stack(F, s, "p_mkt_any")
        sel = (F["season"] == s).to_numpy()
        F.loc[sel, "p_wm"] = p[sel]
        # moneylines removed from season s: its market is the spread-implied probability; the
        # stack is fit on earlier rows with the same kind of input
        G = F.copy()
        G.loc[sel, "p_mkt_any"] = G.loc[sel, "p_spread"]
        G["p_mkt_sp"] = np.where(sel, G["p_spread"], G["p_spread"])
        p2, b2 = walk_stack(G, s, "p_mkt_sp")
        F.loc[sel, "p_wm_spread_only"] = p2[sel]
        betas[s] = {"moneyline_or_spread": [round(x, 3) for x in b1[::4]],
                    "spread_only": [round(x, 3) for x in b2[::4]]}
        timing[s]["stack_s"] = round(time.perf_counter() - t, 2)
    F.to_parquet(OUT / f"games_{which}.parquet")
    mins = {}
    for s in seasons:
        t = time.perf_counter()
        mins[s] = walk_minutes(ctx, s, rows_by, pplay_by)
        timing[s]["minutes_s"] = round(time.perf_counter() - t, 2)
        print(s, mins[s], timing[s])
    report(F, seasons, mins, betas, timing, which, rows_by, pplay_by)


def report(F, seasons, mins, betas, timing, which, rows_by, pplay_by):
    res = {"seasons": seasons, "timing": timing, "betas": betas, "minutes": mins}
    ev = F[F["season"].isin(seasons) & F["game_type"].isin(["regular", "playoff"])
           & np.isfinite(F["y"]) & np.isfinite(F["p_mkt"])].copy()
    y = ev["y"].to_numpy()
    blocks = {}
    for s in list(seasons) + ["pooled"]:
        e = ev if s == "pooled" else ev[ev["season"] == s]
        yy = e["y"].to_numpy()
        d = {"games": int(len(e))}
        for k in ("p_mf", "p_wm", "p_mkt"):
            d[k] = {"log_loss": float(ll(yy, e[k].to_numpy()).mean()),
                    "brier": float(brier(yy, e[k].to_numpy()).mean())}
        d["mf_minus_market"] = boot_ci(ll(yy, e["p_mf"].to_numpy()) - ll(yy, e["p_mkt"].to_numpy()))
        d["wm_minus_market"] = boot_ci(ll(yy, e["p_wm"].to_numpy()) - ll(yy, e["p_mkt"].to_numpy()))
        sp = e[np.isfinite(e["p_spread"])]
        ys = sp["y"].to_numpy()
        d["spread_only"] = {
            "games": int(len(sp)),
            "wm_log_loss": float(ll(ys, sp["p_wm_spread_only"].to_numpy()).mean()),
            "spread_market_log_loss": float(ll(ys, sp["p_spread"].to_numpy()).mean()),
            "diff_ci": boot_ci(ll(ys, sp["p_wm_spread_only"].to_numpy())
                               - ll(ys, sp["p_spread"].to_numpy()))}
        d["kelly"] = BT.kelly_bets(e["p_mf"].to_numpy(), yy, e["close_home_ml"].to_numpy(float),
                                   e["close_away_ml"].to_numpy(float))
        d["kelly_with_market"] = BT.kelly_bets(e["p_wm"].to_numpy(), yy,
                                               e["close_home_ml"].to_numpy(float),
                                               e["close_away_ml"].to_numpy(float))
        blocks[s] = d
    res["games"] = blocks
    # availability Brier vs the recent-appearance rule on the same player-games
    av = {}
    for s in seasons:
        r = rows_by[s]
        known = (r["box_known"] > 0).to_numpy()
        train = pd.concat([rows_by[x] for x in rows_by if x < s], ignore_index=True)
        train = train[train["box_known"] > 0]
        rule = recent_appearance_rule(train, r)
        yv = r["played"].to_numpy()[known]
        p = pplay_by[s][known]
        recent = (r["played_l5"].fillna(0) > 0).to_numpy()[known]
        av[s] = {"rows": int(known.sum()), "brier_model": float(brier(yv, p).mean()),
                 "brier_rule_calibrated": float(brier(yv, rule[known]).mean()),
                 "brier_rule_played_last_game": float(brier(
                     yv, (r["missed"].to_numpy()[known] == 0).astype(float)).mean()),
                 "recent_rows": int(recent.sum()),
                 "brier_model_recent": float(brier(yv[recent], p[recent]).mean()),
                 "brier_rule_recent": float(brier(yv[recent], rule[known][recent]).mean()),
                 "expected_minutes_share_absent_rule": float(
                     (r["exp_min"].to_numpy()[known] * (r["missed"].to_numpy()[known] == 0)
                      * (1 - yv)).sum() / (r["exp_min"].to_numpy()[known]
                                           * (r["missed"].to_numpy()[known] == 0)).sum())}
    allp = np.concatenate([pplay_by[s][(rows_by[s]["box_known"] > 0).to_numpy()] for s in seasons])
    ally = np.concatenate([rows_by[s]["played"].to_numpy()[(rows_by[s]["box_known"] > 0).to_numpy()]
                           for s in seasons])
    from pipeline_assets.models.availability import reliability_table
    av["reliability"] = reliability_table(ally, allp).round(4).to_dict(orient="records")
    res["availability"] = av
    path = OUT / f"result_{which}.json"
    path.write_text(json.dumps(res, indent=1, default=float))
    for s in list(seasons) + ["pooled"]:
        d = blocks[s]
        print(f"{s:8s} n={d['games']} mf={d['p_mf']['log_loss']:.4f} wm={d['p_wm']['log_loss']:.4f} "
              f"mkt={d['p_mkt']['log_loss']:.4f} gap={d['mf_minus_market'][0]:+.4f} "
              f"[{d['mf_minus_market'][1]:+.4f},{d['mf_minus_market'][2]:+.4f}] "
              f"wm-mkt={d['wm_minus_market'][0]:+.4f} spread-only wm={d['spread_only']['wm_log_loss']:.4f}"
              f" vs {d['spread_only']['spread_market_log_loss']:.4f} kelly={d['kelly']['bets']}/"
              f"{d['kelly']['roi']:+.3f}")
    for s in seasons:
        print(s, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in av[s].items()})
    print(json.dumps(timing))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dev")
