"""Append-only log of every scored prediction: SQLite by default, PostgreSQL in production.

`TIPOFF_PREDICTIONS_URL` picks the database (SQLAlchemy URL, e.g.
`postgresql+psycopg2://postgres@127.0.0.1:5432/tipoff`); default `sqlite:///<data root>/predictions.db`.
Re-scoring the same (game, run_as_of_ts, model_version) replaces its row instead of duplicating it.
`kind` says what was predicted: `pregame` (the slate's scores), `halftime` (in-game scores) or
`on_demand` (a `/v1/predict` answer of `tipoff serve` while a traffic split is on; `variant` names
the arm: `control` answered by production, `treatment` by the shadow candidate).
`record_json` keeps the whole scored row (every `game_scores` column), so the HTTP API can answer
slates and games from the log alone when it is in PostgreSQL (several API processes, one truth).
`role` says which model made it: `production` (the version the slate of record was scored with) or
`shadow` (the newest registered candidate, scored beside production on the same slate and as-of;
see `ModelRegistry.load_shadow`).  A shadow row has its own model_version, so the key
(game_id, run_as_of_ts, model_version) keeps it apart from the production row of the same run.
"""
from __future__ import annotations

import json
import os

import pandas as pd
import sqlalchemy as sa

from resources import storage

PREGAME, HALFTIME, ON_DEMAND = "pregame", "halftime", "on_demand"
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
    # the arm of an on-demand answer under a traffic split; the whole scored row (the API reads it)
    sa.Column("variant", sa.String(16)),
    sa.Column("record_json", sa.Text),
)
RECORD = "record_json"
COLUMNS = [c.name for c in PREDICTIONS.columns if c.name != RECORD]  # what `read` returns
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
        if RECORD not in rows:  # the whole scored row, what the API answers from
            rows = rows.assign(**{RECORD: [json.dumps(r, separators=(",", ":")) for r in json.loads(
                rows.to_json(orient="records", date_format="iso", date_unit="us"))]})
        # writers that know fewer columns (halftime, older callers) leave the others empty
        rows = rows.reindex(columns=[*COLUMNS, RECORD])
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
        q = sa.select(*(PREDICTIONS.c[c] for c in COLUMNS))
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

    # -- what the HTTP API reads when the log is its store of record (PostgreSQL)
    def latest_run(self, game_date: str, kind: str = PREGAME, role: str = PRODUCTION) -> str | None:
        """The newest run_as_of_ts logged for a date (of one kind and role), or None."""
        q = sa.select(sa.func.max(PREDICTIONS.c.run_as_of_ts)).where(
            PREDICTIONS.c.game_date == game_date, PREDICTIONS.c.kind == kind,
            PREDICTIONS.c.role == role)
        with self.engine.connect() as con:
            return con.execute(q).scalar()

    def run_records(self, game_date: str, run_as_of_ts: str, kind: str = PREGAME,
                    role: str = PRODUCTION) -> list[tuple[str, dict]]:
        """(model_version, the stored row) of every game of one logged run."""
        q = sa.select(PREDICTIONS.c.model_version, PREDICTIONS.c[RECORD]).where(
            PREDICTIONS.c.game_date == game_date, PREDICTIONS.c.run_as_of_ts == run_as_of_ts,
            PREDICTIONS.c.kind == kind, PREDICTIONS.c.role == role)
        with self.engine.connect() as con:
            rows = con.execute(q).all()
        return [(v, json.loads(r)) for v, r in rows if r]

    def game_date_of(self, game_id: str) -> str | None:
        q = sa.select(PREDICTIONS.c.game_date).where(PREDICTIONS.c.game_id == game_id).limit(1)
        with self.engine.connect() as con:
            return con.execute(q).scalar()

    def latest_date(self, kind: str = PREGAME, role: str = PRODUCTION) -> str | None:
        q = sa.select(sa.func.max(PREDICTIONS.c.game_date)).where(
            PREDICTIONS.c.kind == kind, PREDICTIONS.c.role == role)
        with self.engine.connect() as con:
            return con.execute(q).scalar()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"
