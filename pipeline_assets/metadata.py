"""Helpers that render tables for the Dagster UI (asset metadata)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from tipoff_core.domain import metrics


def markdown_table(df: pd.DataFrame, limit: int = 30) -> str:
    head = "| " + " | ".join(map(str, df.columns)) + " |\n|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(str(v) for v in r) + " |" for r in df.head(limit).itertuples(index=False)]
    return "\n".join([head, *rows])


def figure_markdown(fig, alt: str = "plot", dpi: int = 80) -> str:
    """A matplotlib figure as a markdown image (inline base64 PNG) for `dg.MetadataValue.md`; closes
    the figure.  Callers import matplotlib lazily (`pyplot()`) so loading the code location does
    not."""
    import base64
    import io
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})"


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported when a plot is drawn)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def calibration_markdown(curves: dict[str, tuple], bins: int = 10) -> str:
    """Reliability diagram (markdown image) of ``{label: (y, p)}`` on one held-out set: observed
    win rate against mean predicted probability per probability decile (marker area ~ games),
    the diagonal, and each curve's log loss in the legend; a histogram of p below."""
    plt = pyplot()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.2, 5.6), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ls="--", c="0.6", lw=1, label="perfectly calibrated")
    n = 0
    for label, (y, p) in curves.items():
        t = metrics.calibration_table(p, y, bins=bins)
        t = t[t["count"] > 0]
        n = max(n, int(t["count"].sum()))
        line, = ax.plot(t["mean_pred"], t["mean_obs"], marker="o", ms=0, lw=1.5,
                        label=f"{label} (log loss {metrics.log_loss(y, p):.3f})")
        ax.scatter(t["mean_pred"], t["mean_obs"], s=12 + 120 * t["count"] / t["count"].max(),
                   color=line.get_color(), zorder=3)
        hist.hist(p, bins=np.linspace(0, 1, bins * 2 + 1), histtype="step",
                  color=line.get_color(), lw=1.5)
    ax.set(xlim=(0, 1), ylim=(-0.03, 1.03), ylabel="observed home win rate",
           title=f"Calibration on the gate window ({n} games)")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    hist.set(xlabel="predicted P(home win)", ylabel="games")
    return figure_markdown(fig, "calibration")


def importance_markdown(weights: dict[str, float], title: str,
                        xlabel: str = "coefficient on the standardized feature") -> str:
    """Horizontal bar chart (markdown image) of signed feature weights, largest |weight| on
    top (positive: raises the predicted value)."""
    plt = pyplot()
    items = sorted(weights.items(), key=lambda kv: abs(kv[1]))
    fig, ax = plt.subplots(figsize=(6.0, 0.45 * len(items) + 1.4))
    vals = [v for _, v in items]
    ax.barh([k for k, _ in items], vals, color=["#2b7bba" if v >= 0 else "#d1495b" for v in vals])
    ax.axvline(0, c="0.3", lw=0.8)
    ax.set(title=title, xlabel=xlabel)
    ax.grid(axis="x", alpha=0.3)
    return figure_markdown(fig, "feature importance")
