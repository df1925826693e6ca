"""Tipoff's core: the bottom layer every other package builds on.

Table contracts (`schemas`), the league calendar and the as-of rule (`timeutil`), run tags
(`tags`), the one table of what exists (`catalog`) and pure domain math (`domain`: Elo, betting,
Monte Carlo, metrics).  Nothing here imports the rest of the project (`resources`,
`pipeline_assets`, `sensors`) or Dagster; `tests/test_layers.py` keeps it that way.
"""
