"""Injuries and the injury report: who is out, and what each report says, per team-game.

1% hazard per player-game, heavy-tailed durations (1-30 games, 2.5% season-ending).  An injury in
game k is on the report from 08:00 local the next day; on game days the report is updated at 13:00
and 17:30 local (earlier for afternoon games) with Out / Doubtful / Questionable / Probable /
Available; game-time decisions resolve at the last update; a few late scratches appear only on the
last update.  Missing players weaken their team by their value.  Arrays are sequential over the
team-game index, vectorized over (team, slot).
"""
from __future__ import annotations

import numpy as np

from resources.sources.simulated.league import N_GAMES_TEAM, N_TEAMS
from resources.sources.simulated.players import N_SLOTS

_BODY = ["Left Ankle", "Right Ankle", "Left Knee", "Right Knee", "Left Hamstring",
         "Right Hamstring", "Lower Back", "Left Calf", "Right Calf", "Left Foot", "Right Foot",
         "Right Shoulder", "Left Wrist", "Right Hip", "Left Groin", "Right Thumb"]
_KIND_SHORT = ["Soreness", "Contusion", "Sprain", "Tightness"]
_KIND_MID = ["Sprain", "Strain", "Bone Bruise", "Tendinopathy"]
_KIND_LONG = ["Fracture", "Partial Tear", "Surgery", "Severe Sprain"]
_GTD_REASONS = ["Injury/Illness - Illness", "Injury/Illness - Lower Back; Soreness",
                "Injury/Illness - Left Knee; Soreness", "Injury/Illness - Right Ankle; Soreness",
                "Injury/Illness - Non-Covid Illness", "Injury/Illness - Left Hip; Tightness"]
_SURPRISE_REASONS = ["Injury/Illness - Illness", "Personal Reasons",
                     "Injury/Illness - Migraine", "Injury/Illness - Right Ankle; Sprain"]

# injury report statuses (0 = not listed)
_STATUS = np.array(["", "Out", "Doubtful", "Questionable", "Probable", "Available"], dtype=object)
NONE, OUT, DOUBT, QUES, PROB, AVAIL = range(6)
# probability of missing the game the market assigns to each status
_P_OUT_GIVEN_STATUS = np.array([0.0, 1.0, 0.8, 0.35, 0.06, 0.0])


def simulate_injuries(r_inj: np.random.Generator,
                      forced: np.ndarray) -> tuple[dict, np.ndarray]:
    """Injuries and report statuses per (team, team-game, slot), with `forced` (the shock's)
    absences; also the share of his minutes a player hurt during a game still plays."""
    codes = _reason_codes()
    spells = _injury_spells(r_inj, forced, codes)
    return _report_statuses(spells, codes), spells["inj_partial"]


def _reason_codes() -> dict:
    """Every report reason text (`reasons`, indexed by code) and the code tables drawn from."""
    reasons: list[str] = []
    reason_id: dict[str, int] = {}

    def rid(text: str) -> int:
        if text not in reason_id:
            reason_id[text] = len(reasons)
            reasons.append(text)
        return reason_id[text]

    # reason table: code = reason_tab[body, severity, kind]
    reason_tab = np.array([[[rid(f"Injury/Illness - {b}; {kname}") for kname in lst]
                            for lst in (_KIND_SHORT, _KIND_MID, _KIND_LONG)] for b in _BODY])
    season_end_reason = {b: rid(f"Injury/Illness - {b}; Surgery (season-ending)")
                         for b in _BODY}
    gtd_ids = np.array([rid(r) for r in _GTD_REASONS])
    surp_ids = np.array([rid(r) for r in _SURPRISE_REASONS])
    season_end_ids = np.array([season_end_reason[b] for b in _BODY])
    shock_reason = rid("Injury/Illness - Left Knee; Torn ACL (season-ending)")
    return dict(reasons=reasons, reason_tab=reason_tab, gtd_ids=gtd_ids, surp_ids=surp_ids,
                season_end_ids=season_end_ids, shock_reason=shock_reason)


def _injury_spells(r_inj: np.random.Generator, forced: np.ndarray, codes: dict) -> dict:
    """Who is out injured, hurt in the game, a game-time decision or a late scratch, game by game
    (with the draws the report needs), as (team, team-game, slot) arrays."""
    shp = (N_GAMES_TEAM, N_TEAMS, N_SLOTS)
    u_inj, u_gtd, u_gtdres, u_surp = (r_inj.random(shp) for _ in range(4))
    dur_draw = np.clip(np.ceil(np.exp(r_inj.normal(0.9, 1.0, shp))), 1, 30).astype(int)
    dur_draw[r_inj.random(shp) < 0.025] = 999
    body = r_inj.integers(len(_BODY), size=shp)
    kind_i = r_inj.integers(4, size=shp)
    mstat_u = r_inj.random(shp)
    u1stat_u = r_inj.random(shp)
    gtd_reason = r_inj.integers(len(_GTD_REASONS), size=shp)
    surp_reason = r_inj.integers(len(_SURPRISE_REASONS), size=shp)
    inj_partial = r_inj.uniform(0.15, 0.9, shp)

    inj_out = np.zeros(shp, bool)
    rem_after = np.zeros(shp, int)
    reason_code = np.zeros(shp, int)  # index into codes["reasons"]
    in_game_injury = np.zeros(shp, bool)
    gtd = np.zeros(shp, bool)
    gtd_out = np.zeros(shp, bool)
    surprise = np.zeros(shp, bool)
    remaining = np.zeros((N_TEAMS, N_SLOTS), int)
    cur_reason = np.zeros((N_TEAMS, N_SLOTS), int)
    forced_k = np.moveaxis(forced, 1, 0)
    reason_tab, season_end_ids = codes["reason_tab"], codes["season_end_ids"]
    shock_reason = codes["shock_reason"]
    for k in range(N_GAMES_TEAM):
        fk = forced_k[k]
        out = (remaining > 0) | fk
        inj_out[k] = out
        rem_after[k] = np.where(fk, 999, np.maximum(remaining - 1, 0))
        reason_code[k] = np.where(fk, shock_reason, cur_reason)
        healthy = ~out
        g = healthy & (u_gtd[k] < 0.012)
        gtd[k] = g
        gtd_out[k] = g & (u_gtdres[k] < 0.35)
        surprise[k] = healthy & ~g & (u_surp[k] < 0.002)
        playing = healthy & ~gtd_out[k] & ~surprise[k]
        remaining = np.where(out, np.maximum(remaining - 1, 0), remaining)
        new = playing & (u_inj[k] < 0.01)
        in_game_injury[k] = new
        d = dur_draw[k]
        sev = np.where(d <= 3, 0, np.where(d <= 10, 1, 2))
        code = reason_tab[body[k], sev, kind_i[k]]
        code = np.where(d >= 999, season_end_ids[body[k]], code)
        remaining = np.where(new, d, remaining)
        cur_reason = np.where(new, code, cur_reason)
    # -> (team, k, slot)
    T = lambda a: np.moveaxis(a, 0, 1)  # noqa: E731
    inj_out, rem_after, reason_code, in_game_injury = (T(inj_out), T(rem_after),
                                                       T(reason_code), T(in_game_injury))
    gtd, gtd_out, surprise = T(gtd), T(gtd_out), T(surprise)
    mstat_u, u1stat_u, gtd_reason, surp_reason, inj_partial = (
        T(mstat_u), T(u1stat_u), T(gtd_reason), T(surp_reason), T(inj_partial))
    return dict(inj_out=inj_out, rem_after=rem_after, reason_code=reason_code,
                in_game_injury=in_game_injury, gtd=gtd, gtd_out=gtd_out, surprise=surprise,
                mstat_u=mstat_u, u1stat_u=u1stat_u, gtd_reason=gtd_reason,
                surp_reason=surp_reason, inj_partial=inj_partial)


def _report_statuses(sp: dict, codes: dict) -> dict:
    """Report statuses (morning, update 1, update 2) and reason codes per team-game-player, and
    who is out of the game for any reason."""
    inj_out, gtd, gtd_out, surprise = sp["inj_out"], sp["gtd"], sp["gtd_out"], sp["surprise"]
    mstat_u, u1stat_u = sp["mstat_u"], sp["u1stat_u"]
    gtd_rc = codes["gtd_ids"][sp["gtd_reason"]]
    surp_rc = codes["surp_ids"][sp["surp_reason"]]
    out_total = inj_out | gtd_out | surprise
    returning = np.zeros_like(inj_out)
    returning[:, 1:] = inj_out[:, :-1] & ~inj_out[:, 1:]

    last = inj_out & (sp["rem_after"] == 0)
    st_m = np.zeros(inj_out.shape, int)
    st_1 = np.zeros(inj_out.shape, int)
    st_2 = np.zeros(inj_out.shape, int)
    st_m[inj_out] = OUT
    st_1[inj_out] = OUT
    st_2[inj_out] = OUT
    m_doubt = last & (mstat_u < 0.65)
    st_m[m_doubt] = DOUBT
    st_1[m_doubt & (u1stat_u < 0.6)] = DOUBT
    st_m[returning] = QUES
    st_1[returning] = np.where(u1stat_u[returning] < 0.7, PROB, QUES)
    st_2[returning] = AVAIL
    st_m[gtd] = QUES
    st_1[gtd] = QUES
    st_1[gtd & gtd_out & (u1stat_u < 0.3)] = DOUBT
    st_1[gtd & ~gtd_out & (u1stat_u < 0.3)] = PROB
    st_2[gtd] = np.where(gtd_out[gtd], OUT, AVAIL)
    st_2[surprise] = OUT
    rcode = np.where(gtd, gtd_rc, np.where(surprise, surp_rc, sp["reason_code"]))
    return dict(inj_out=inj_out, in_game_injury=sp["in_game_injury"], out_total=out_total,
                returning=returning, gtd=gtd, surprise=surprise, st_m=st_m, st_1=st_1, st_2=st_2,
                rcode=rcode, reasons=np.array(codes["reasons"], dtype=object))
