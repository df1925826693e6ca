"""Append-only log of every scored prediction: SQLite by default, PostgreSQL in production.

`TIPOFF_PREDICTIONS_URL` picks the database (SQLAlchemy URL, e.g.
`postgresql+psycopg2://postgres@127.0.0.1:5432/tipoff`); default `sqlite:///<data root>/predictions.db`.
Re-scoring the same (game, run_as_of_ts, model_version) replaces its row instead of duplicating it.
`kind` says what was predicted: `pregame` (the slate's scores) or `halftime` (in-game scores).
`role` says which model made it: `production` (the version the slate of record was scored with) or
`shadow` (the newest registered candidate, scored beside production on the same slate and as-of;
see `ModelRegistry.load_shadow`).  A shadow row has its own model_version, so the key
(game_id, run_as_of_ts, model_version) keeps it apart from the production row of the same run.
"""
from __future__ import annotations

import os

import pandas as pd
import sqlalchemy as sa

from resources import storage

PREGAME, HALFTIME = "pregame", "halftime"
PRODUCTION, SHADOW = "production", "shadow"
METADATA = sa.MetaData()
PREDICTIONS = sa.Table(
    "predictions_log", METADATA,
    sa.Column("game_id", sa.String(32), primary_key=True),
    sa.Column("run_as_of_ts", sa.String(32), primary_key=True),
    sa.Column("model_version", sa.String(32), primary_key=True),
    sa.Column("game_date", sa.String(10), nullable=False, index=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("home_team_id", sa.BigInteger, nullable=False),
    sa.Column("away_team_id", sa.BigInteger, nullable=False),
    sa.Column("p_home_win", sa.Float, nullable=False),
    sa.Column("p_market_home", sa.Float),
    sa.Column("edge_home", sa.Float),
    sa.Column("margin_mean", sa.Float),
    sa.Column("total_mean", sa.Float),
    sa.Column("recommendation", sa.String(8)),
    sa.Column("stake", sa.Float),
    sa.Column("p_elo", sa.Float),
    sa.Column("logged_at", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False, server_default=PREGAME),
    sa.Column("role", sa.String(16), nullable=False, server_default=PRODUCTION),
    # what each recommendation took: the moneyline price, the spread/total side, line, price, stake
    sa.Column("ml_price", sa.Float),
    sa.Column("spread_side", sa.String(8)), sa.Column("spread_line", sa.Float),
    sa.Column("spread_price", sa.Float), sa.Column("spread_stake", sa.Float),
    sa.Column("total_side", sa.String(8)), sa.Column("total_line", sa.Float),
    sa.Column("total_price", sa.Float), sa.Column("total_stake", sa.Float),
    # closing-line value, filled after the tip from the last odds snapshot before it
    # (`monitoring.clv`; `update_clv`)
    sa.Column("ml_clv", sa.Float), sa.Column("spread_clv_points", sa.Float),
    sa.Column("total_clv_points", sa.Float), sa.Column("clv_close_ts", sa.String(32)),
)
COLUMNS = [c.name for c in PREDICTIONS.columns]
KEY = ("game_id", "run_as_of_ts", "model_version")
CLV_COLUMNS = ["ml_clv", "spread_clv_points", "total_clv_points", "clv_close_ts"]


def default_url() -> str:
    return os.environ.get("TIPOFF_PREDICTIONS_URL") or f"sqlite:///{storage.data_root() / 'predictions.db'}"


class PredictionsLog:
    def __init__(self, url: str | None = None):
        self.url = url or default_url()
        if self.url.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(self.url[len("sqlite:///"):]) or ".", exist_ok=True)
        self.engine = sa.create_engine(self.url, future=True)
        METADATA.create_all(self.engine)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Logs created before a column existed get it: `kind`/`role` with their defaults (every
        old row being a pregame prediction of production's), the others empty."""
        have = {c["name"] for c in sa.inspect(self.engine).get_columns(PREDICTIONS.name)}
        missing = [c for c in PREDICTIONS.columns if c.name not in have]
        if not missing:
            return
        with self.engine.begin() as con:
            for c in missing:
                kind = c.type.compile(dialect=self.engine.dialect)
                extra = (f" NOT NULL DEFAULT '{c.server_default.arg}'"
                         if c.server_default is not None else "")
                con.execute(sa.text(f"ALTER TABLE {PREDICTIONS.name} ADD COLUMN {c.name} "
                                    f"{kind}{extra}"))

    def append(self, rows: pd.DataFrame) -> int:
        """Insert rows (replacing any with the same key) in one transaction; returns the count."""
        if rows.empty:
            return 0
        if "kind" not in rows:
            rows = rows.assign(kind=PREGAME)  # writers from before `kind` existed log slates
        if "role" not in rows:
            rows = rows.assign(role=PRODUCTION)  # ... and production's predictions
        # writers that know fewer columns (halftime, older callers) leave the others empty
        rows = rows.reindex(columns=COLUMNS)
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        with self.engine.begin() as con:
            for r in records:
                con.execute(PREDICTIONS.delete().where(sa.and_(*(PREDICTIONS.c[k] == r[k] for k in KEY))))
            con.execute(PREDICTIONS.insert(), records)
        return len(records)

    def update_clv(self, rows: pd.DataFrame) -> int:
        """Set the closing-line value columns (`CLV_COLUMNS`) of logged rows, by key (game_id,
        run_as_of_ts, model_version); returns the number of rows updated."""
        if rows.empty:
            return 0
        rows = rows.reindex(columns=list(KEY) + CLV_COLUMNS)
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        n = 0
        with self.engine.begin() as con:
            for r in records:
                res = con.execute(PREDICTIONS.update()
                                  .where(sa.and_(*(PREDICTIONS.c[k] == r[k] for k in KEY)))
                                  .values({c: r[c] for c in CLV_COLUMNS}))
                n += res.rowcount
        return n

    def read(self, game_date: str | None = None, kind: str | None = None,
             role: str | None = None, *, dates: list[str] | None = None) -> pd.DataFrame:
        """Rows of one date (or of `dates`), optionally of one kind / role."""
        q = sa.select(PREDICTIONS)
        if game_date:
            q = q.where(PREDICTIONS.c.game_date == game_date)
        if dates is not None:
            q = q.where(PREDICTIONS.c.game_date.in_(list(dates)))
        if kind:
            q = q.where(PREDICTIONS.c.kind == kind)
        if role:
            q = q.where(PREDICTIONS.c.role == role)
        with self.engine.connect() as con:
            return pd.DataFrame(con.execute(q).mappings().all(), columns=COLUMNS)
