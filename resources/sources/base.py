"""The source protocol: what was knowable about a game date at an `as_of` instant.

Three implementations live beside this file: `simulated` (offline default), `archive` (replays
files laid out like shared/data) and `live` (NBA CDN, stats.nba.com, The Odds API, injury report).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pandas as pd

from tipoff_core.schemas import LABEL_KINDS, SNAPSHOT_KINDS, SchemaError, conform, violations

KINDS = SNAPSHOT_KINDS + LABEL_KINDS


class SourceError(RuntimeError):
    """A source could not answer.  Always names source, endpoint and (when known) field.

    `raw` keeps the offending payload (bytes) so the asset can store it for audit.
    """

    def __init__(self, source: str, endpoint: str, message: str, field: str | None = None,
                 raw: bytes | None = None):
        self.source, self.endpoint, self.field, self.raw = source, endpoint, field, raw
        where = f"[{source}] {endpoint}" + (f": field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")


@dataclass
class Extract:
    """One answer of a source: the normalized table plus the raw payload it came from."""

    kind: str
    table: pd.DataFrame
    raw: bytes
    endpoint: str
    source: str
    notes: dict = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    name: str

    def fetch(self, kind: str, game_date: dt.date, as_of: pd.Timestamp) -> Extract:
        """Rows of `kind` for `game_date` knowable at `as_of` (tz-aware UTC).

        Snapshot kinds (schedule, injuries, odds, rosters) may return several snapshots per key,
        every one with `snapshot_ts <= as_of`.  Label kinds (results, box_scores) return only games
        whose `final_ts <= as_of`.  Raises SourceError on bad input; an empty slate is a valid,
        empty table.
        """
        ...


def finish(kind: str, df: pd.DataFrame, as_of: pd.Timestamp, *, source: str, endpoint: str,
           raw: bytes, notes: dict | None = None) -> Extract:
    """Conform `df` to the kind's schema, check the kind's value rules, drop anything stamped
    after `as_of`, wrap as Extract.

    Schema problems and rule violations (out-of-range values, quarters that do not add up,
    conflicting rows for one key...) are raised as SourceError carrying the raw payload.  Exact
    duplicate rows are dropped first: only conflicting ones are an error.
    """
    try:
        table = conform(df, kind, source, endpoint).drop_duplicates(ignore_index=True)
    except SchemaError as exc:
        raise SourceError(source, endpoint, str(exc).split(": ", 1)[-1], field=exc.field,
                          raw=raw) from None
    broken = violations(table, kind)
    if broken:
        raise SourceError(source, endpoint, "; ".join(str(v) for v in broken)[:2000],
                          field=broken[0].field, raw=raw)
    table = table[table["snapshot_ts"] <= as_of].reset_index(drop=True)
    return Extract(kind, table, raw, endpoint, source, notes or {})


def records_payload(df: pd.DataFrame) -> bytes:
    """Deterministic JSON bytes of a frame, used as the 'raw' payload of offline sources."""
    return json.dumps(json.loads(df.to_json(orient="records", date_format="iso")),
                      sort_keys=True).encode()
