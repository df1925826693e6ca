"""Make the local SQLite Dagster instance fast enough for long single-run backfills.

Dagster writes one event-log transaction per partition event; on an ext4 disk each commit's fsync
costs ~20-40 ms, so a season of daily partitions spent minutes in bookkeeping.  For SQLite files
under DAGSTER_HOME we turn off per-commit fsync (`PRAGMA synchronous=OFF`): a process crash loses
nothing, an OS crash or power loss may lose or damage the *local* run history (never the parquet
data, which is written atomically on its own).  Production uses PostgreSQL (deploy/dagster.yaml)
and is unaffected.  Set TIPOFF_SQLITE_SYNC=full to keep SQLite's default durability.
"""
from __future__ import annotations

import os
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

_installed = False


def install() -> None:
    global _installed
    if _installed or os.environ.get("TIPOFF_SQLITE_SYNC", "off").lower() == "full":
        return
    event.listen(Engine, "connect", _relax_sync)
    _installed = True


def _relax_sync(dbapi_conn, _record) -> None:
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return
    cur = dbapi_conn.cursor()
    try:
        files = [row[2] for row in cur.execute("PRAGMA database_list")]
        if any(f and os.path.realpath(f).startswith(os.path.realpath(home)) for f in files):
            cur.execute("PRAGMA synchronous=OFF")
    finally:
        cur.close()
