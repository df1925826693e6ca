"""Helpers that render tables for the Dagster UI (asset metadata)."""
from __future__ import annotations

import pandas as pd


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
