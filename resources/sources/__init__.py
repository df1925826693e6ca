"""Source selection: `TIPOFF_SOURCE` = simulated (default) | archive | live."""
from __future__ import annotations

import functools

from resources.sources.base import KINDS, Extract, Source, SourceError

SOURCE_NAMES = ("simulated", "archive", "live")


@functools.lru_cache(maxsize=8)
def make_source(name: str = "simulated", archive_dir: str = "", seed: int = 7) -> Source:
    """Build (and cache per process, so parsed seasons are reused across assets) a source."""
    if name == "simulated":
        from resources.sources.simulated import SimulatedSource
        return SimulatedSource(seed=seed)
    if name == "archive":
        if not archive_dir:
            raise ValueError("TIPOFF_SOURCE=archive needs TIPOFF_ARCHIVE_DIR (a folder laid out "
                             "like shared/data: historical_lines/, betting_results/, ...)")
        from resources.sources.archive import ArchiveSource
        return ArchiveSource(archive_dir)
    if name == "live":
        from resources.sources.live import LiveSource
        return LiveSource()
    raise ValueError(f"unknown TIPOFF_SOURCE {name!r}; choose one of {', '.join(SOURCE_NAMES)}")


__all__ = ["KINDS", "Extract", "Source", "SourceError", "SOURCE_NAMES", "make_source"]
