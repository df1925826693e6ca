"""Source selection: `TIPOFF_SOURCE` = simulated (default) | archive | live."""
from __future__ import annotations

import functools
import json
import os

from resources.sources.base import KINDS, Extract, Source, SourceError

SOURCE_NAMES = ("simulated", "archive", "live")


@functools.lru_cache(maxsize=8)
def make_source(name: str = "simulated", archive_dir: str = "", seed: int = 7, shock: str = "") -> Source:
    """Build (and cache per process, so parsed seasons are reused across assets) a source.

    `shock` (simulated only, `TIPOFF_SHOCK`): JSON like
    '{"date": "2026-01-15", "team": "BOS", "kind": "star_out_and_trade"}' injects a regime shift."""
    # Each implementation loads only when chosen (the live one pulls in HTTP clients).
    if name == "simulated":
        from resources.sources.simulated import SimulatedSource
        return SimulatedSource(seed=seed, shock=json.loads(shock) if shock.strip() else None)
    if name == "archive":
        if not archive_dir:
            raise ValueError("TIPOFF_SOURCE=archive needs TIPOFF_ARCHIVE_DIR (a folder laid out "
                             "like shared/data: historical_lines/, betting_results/, ...)")
        from resources.sources.archive import ArchiveSource
        return ArchiveSource(archive_dir)
    if name == "live":
        from resources.sources.live import LiveSource, odds_meter_from_env
        return LiveSource(odds_meter=odds_meter_from_env())
    raise ValueError(f"unknown TIPOFF_SOURCE {name!r}; choose one of {', '.join(SOURCE_NAMES)}")


def source_from_env() -> Source:
    """The source `TIPOFF_SOURCE`, `TIPOFF_ARCHIVE_DIR`, `TIPOFF_SEED`, `TIPOFF_SHOCK` name (the
    same one the Dagster `source` resource builds)."""
    return make_source(os.environ.get("TIPOFF_SOURCE") or "simulated",
                       os.environ.get("TIPOFF_ARCHIVE_DIR", ""),
                       int(os.environ.get("TIPOFF_SEED") or 7), os.environ.get("TIPOFF_SHOCK", ""))


__all__ = ["KINDS", "Extract", "Source", "SourceError", "SOURCE_NAMES", "make_source",
           "source_from_env"]
