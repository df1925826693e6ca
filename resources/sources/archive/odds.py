"""odds: one closing line per game, from historical_lines, else betting_results.

snapshot_ts = tip_ts - 30 min, bookmaker "closing", one row per game.  Moneylines and total from
historical_lines, spread sign from the favourite (lower moneyline; betting_results' whos_favored
when the moneylines are equal).  Games missing from historical_lines fall back to betting_results
(bookmaker "betting_results").  Unusable values become NaN (counted in notes): Spread 0.0 (missing
line), "NL", moneylines strictly between -100 and +100, both moneylines the same price with an
implied sum no book offers (the favourite's price copied to both sides: 8 games, e.g. -650/-650;
-110/-110 is a real pick'em and stays), totals outside [150, 300],
spreads above
25, or of 15+ points while the favourite's moneyline is above -700 (e.g. a 43.5 "spread" at
-165).  "PK" = 0.0; a negative Spread is read as its magnitude.  The files have no spread or total
prices: those columns are NaN.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tipoff_core.domain.betting import american_to_prob
from tipoff_core.schemas import MAX_OVERROUND

ODDS_LEAD = pd.Timedelta(minutes=30)
NO_PRICES = ("home_spread_price", "away_spread_price", "over_price", "under_price")


def build_odds(g: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One closing-line row per game of the reconciled games `g`, and the notes counting what
    was unusable."""
    notes = {}
    has_l = g["li"].notna()
    # Closing lines from historical_lines.
    hml, aml = g["l_home_ml"].copy(), g["l_away_ml"].copy()
    spread, total = g["l_spread"].abs(), g["l_total"].copy()
    src_fav = g["fav"]
    # Fallback to betting_results when the lines lack the game.
    fb = ~has_l & g["regular"].notna()
    hml[fb], aml[fb] = g.loc[fb, "home_ml"], g.loc[fb, "away_ml"]
    spread[fb], total[fb] = g.loc[fb, "spread"].abs(), g.loc[fb, "total"]
    keep = has_l | fb
    # Moneylines strictly between -100 and +100 are not American odds.
    for s in (hml, aml):
        bad = (s > -100) & (s < 100)
        notes["moneyline_invalid"] = notes.get("moneyline_invalid", 0) + int((bad & keep).sum())
        s[bad] = np.nan
    copied = (hml == aml) & (2 * american_to_prob(hml.fillna(-100).to_numpy()) > MAX_OVERROUND)
    notes["moneylines_copied_to_both_sides"] = int((copied & keep).sum())
    hml[copied], aml[copied] = np.nan, np.nan
    # Spread 0.0 is a missing line ("PK" is a real pick'em and parses to 0.0 too).
    pick = has_l & g["l_spread_raw"].isin(["PK", "PICK", "PK."])
    missing = (spread == 0) & ~pick & has_l
    notes["spread_missing"] = int(missing.sum())
    spread[missing] = np.nan
    fav_ml = np.fmin(hml, aml)
    implausible = (spread > 25) | ((spread >= 15) & (fav_ml > -700))
    notes["spread_implausible"] = int((implausible & keep).sum())
    spread[implausible] = np.nan
    bad_total = (total < 150) | (total > 300)
    notes["total_implausible"] = int((bad_total & keep).sum())
    total[bad_total] = np.nan
    # Favourite: lower moneyline; equal/missing moneylines -> betting_results' whos_favored
    # when it gives a non-zero spread; otherwise the sign is unknown.
    home_fav = pd.Series(np.where(hml < aml, 1.0, np.where(aml < hml, 0.0, np.nan)),
                         index=g.index)
    bet_fav = pd.Series(np.where(src_fav == "home", 1.0,
                                 np.where(src_fav == "away", 0.0, np.nan)),
                        index=g.index).where(g["spread"] > 0)
    unknown = home_fav.isna()
    home_fav = home_fav.where(~unknown, bet_fav)
    sign = np.where(home_fav == 1.0, -1.0, np.where(home_fav == 0.0, 1.0, np.nan))
    home_spread = pd.Series(np.where(spread == 0, 0.0, spread * sign), index=g.index)
    notes["spread_sign_unknown"] = int((keep & home_spread.isna() & spread.notna()).sum())
    notes["spread_sign_from_whos_favored"] = int((keep & unknown & home_fav.notna()
                                                  & (spread > 0)).sum())
    notes["fallback_betting_results"] = int(fb.sum())
    g = g[keep]
    tip = g["tip_ts"]
    return pd.DataFrame({
        "game_id": g["game_id"],
        "bookmaker": np.where(has_l[keep], "closing", "betting_results"),
        "home_ml": hml[keep], "away_ml": aml[keep], "home_spread": home_spread[keep],
        "total": total[keep], **{c: np.nan for c in NO_PRICES},
        "snapshot_ts": tip - ODDS_LEAD, "game_date": g["game_date"],
    }), notes
