"""Helpers that render tables for the Dagster UI (asset metadata)."""
from __future__ import annotations

import pandas as pd


def markdown_table(df: pd.DataFrame, limit: int = 30) -> str:
    head = "| " + " | ".join(map(str, df.columns)) + " |\n|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(str(v) for v in r) + " |" for r in df.head(limit).itertuples(index=False)]
    return "\n".join([head, *rows])
