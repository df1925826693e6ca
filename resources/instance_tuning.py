"""Make the local SQLite Dagster instance fast enough for long single-run backfills.

A single-run backfill of N daily partitions writes 2N events per asset (materialization planned,
materialization), and Dagster's run-sharded SQLite event log opens a new engine, connection and
transaction on two database files for every one of them.  Two fixes, local SQLite only:

1. **No per-commit fsync** (`PRAGMA synchronous=OFF`) for SQLite files under DAGSTER_HOME: on an
   ext4 disk each commit's fsync cost ~20-40 ms.  A process crash loses nothing; an OS crash or
   power loss may lose or damage the *local* run history (never the parquet data, which is
   written atomically on its own).  `TIPOFF_SQLITE_SYNC=full` keeps SQLite's default durability.
2. **Batched event writes.**  Dagster already groups the events of one partition range (planned
   events at run creation, the materializations of one output) and hands a group to the storage's
   `store_event_batch` when `DAGSTER_EVENT_BATCH_SIZE` > 0 (default here: 2000).  PostgreSQL
   storage implements it; SQLite's falls back to one write per event, so we give it one: every
   asset event of a group in one transaction per database file, same rows as one by one.
   `DAGSTER_EVENT_BATCH_SIZE=0` turns batching off.

Both take effect in processes that load the definitions (CLI runs, run workers, `tipoff`);
the webserver and daemon only see them if DAGSTER_EVENT_BATCH_SIZE is in their environment.
Production uses PostgreSQL (deploy/dagster.yaml), which batches materializations natively.
"""
from __future__ import annotations

import os
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

EVENT_BATCH_ENV, EVENT_BATCH_DEFAULT = "DAGSTER_EVENT_BATCH_SIZE", "2000"

_installed = _batching = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    os.environ.setdefault(EVENT_BATCH_ENV, EVENT_BATCH_DEFAULT)
    event.listen(Engine, "connect", _on_connect)


def _on_connect(dbapi_conn, _record) -> None:
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    _batch_sqlite_events()
    if os.environ.get("TIPOFF_SQLITE_SYNC", "off").lower() != "full":
        _relax_sync(dbapi_conn)


def _batch_sqlite_events() -> None:
    """Give Dagster's SQLite event log a batch writer.  Done at the first SQLite connection, not
    in `install()`: importing Dagster's storage costs ~0.5 s that loading the definitions must not
    pay (tests/test_lazy_imports.py)."""
    global _batching
    if _batching:
        return
    _batching = True
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
    if "store_event_batch" not in SqliteEventLogStorage.__dict__:  # a Dagster with its own wins
        SqliteEventLogStorage.store_event_batch = _store_event_batch


def _store_event_batch(self, events) -> None:
    """`SqliteEventLogStorage.store_event` for a group of events of one run, with the same rows:
    its asset events (planned, materialization, observation) and planned checks go to the run's
    file and to the index file in one statement and one transaction each; any other event is
    stored the usual way.  A planned check of N partitions is N rows that carry the same
    serialized event: serialized once here (Dagster serializes it N times)."""
    from dagster._core.events import ASSET_EVENTS, DagsterEventType
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable as Checks
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable as Events
    from dagster._serdes import serialize_value

    run_id, check_planned = events[0].run_id, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
    mine = [e for e in events if e.is_dagster_event and e.run_id == run_id and (
        (e.dagster_event_type in ASSET_EVENTS and e.dagster_event.asset_key)
        or e.dagster_event_type == check_planned)]
    if mine:
        rows = [self._event_to_row(e) for e in mine]
        with self.run_connection(run_id) as conn:
            conn.execute(Events.insert(), rows)
        with self.index_transaction() as conn:  # the cross-run mirror the UI's asset views read
            ids = [r[0] for r in conn.execute(
                Events.insert().returning(Events.c.id, sort_by_parameter_order=True), rows)]
            assets = [(e, i) for e, i in zip(mine, ids) if e.dagster_event_type != check_planned]
            self._store_asset_event_tags(conn, [e for e, _ in assets], [i for _, i in assets])
            # the asset's row keeps the last event of each kind: later ones overwrite earlier ones
            last = {(e.dagster_event.asset_key, e.dagster_event_type): n
                    for n, (e, _) in enumerate(assets)}
            for n in sorted(last.values()):
                self._store_asset_event(conn, *assets[n])
            for event, event_id in zip(mine, ids):
                if event.dagster_event_type != check_planned:
                    continue
                planned = event.dagster_event.event_specific_data
                subset = planned.partitions_subset
                common = dict(asset_key=planned.asset_key.to_string(),
                              check_name=planned.check_name, run_id=run_id,
                              execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                              evaluation_event=serialize_value(event),
                              evaluation_event_timestamp=self._event_insert_timestamp(event),
                              evaluation_event_storage_id=event_id)
                conn.execute(Checks.insert(), [
                    {**common, "partition": key}
                    for key in (subset.get_partition_keys() if subset else [None])])
    done = {id(e) for e in mine}
    for event in events:
        if id(event) not in done:
            self.store_event(event)


def _relax_sync(dbapi_conn: sqlite3.Connection) -> None:
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
