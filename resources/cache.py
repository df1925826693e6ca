"""Redis cache of the HTTP API (`tipoff serve`): JSON values under ``tipoff:``-prefixed keys, every
key with a TTL, and a store-first fallback when Redis is down.

Keys are ``<prefix><kind>:<part>:<part>...`` with prefix ``tipoff:`` (``TIPOFF_CACHE_PREFIX`` may
add a namespace after it, e.g. ``tipoff:test-1234:``; tests use that).  The TTL comes from the kind:

    team        6 h     a team's state on a date (record, last game, rest)
    odds        5 min   the stored odds of a date
    slate       15 min  a date's scored slate (predictions)
    predict     15 min  an on-demand prediction
    game        15 min  one game's latest prediction / result
    model       24 h    production model metadata (versions)

Keys carrying a date put it right after the kind (``slate:2025-12-11:...``), so ``invalidate(date=D)``
removes every entry of D.  `invalidate` is called when a live run (`sensors/cache.py`), an odds
snapshot (the `odds_snapshot` asset, `tipoff odds backfill`) or a promotion (`train_job` via the
sensor, `tipoff models promote|rollback`) lands -- `invalidate_cache`;
`warm` recomputes and stores an entry.

Redis is optional: any Redis error marks it down for ``retry_after`` seconds, during which every
`get` misses and every `set` is dropped at no cost, so the API answers from the stores (slower) and
`status()` says so.  No Dagster, no project import beyond the core.
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "redis://127.0.0.1:6379/0"
URL_ENV, PREFIX_ENV = "TIPOFF_REDIS_URL", "TIPOFF_CACHE_PREFIX"
PREFIX = "tipoff:"
HOUR = 3600
TTL_SECONDS: dict[str, int] = {
    "team": 6 * HOUR, "odds": 5 * 60, "slate": 15 * 60, "predict": 15 * 60, "game": 15 * 60,
    "model": 24 * HOUR,
}
# What each event makes stale (kinds); dated kinds are removed for the event's date only.
ON_LIVE_RUN = ("slate", "predict", "game", "team", "odds")
ON_ODDS = ("odds", "predict")
ON_PROMOTION = ("model", "predict")
DATED = frozenset({"team", "odds", "slate", "predict"})


def _clean(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def dumps(obj: Any) -> bytes:
    """Strict, compact JSON: NaN and infinities become null."""
    try:
        return json.dumps(obj, separators=(",", ":"), default=str, allow_nan=False).encode()
    except ValueError:
        return json.dumps(_clean(obj), separators=(",", ":"), default=str,
                          allow_nan=False).encode()


def redact(url: str) -> str:
    """The URL without its password (safe to show in /healthz and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Cache:
    """A JSON cache over one Redis database (see the module docstring)."""

    def __init__(self, url: str | None = None, prefix: str | None = None, *,
                 timeout: float = 0.25, retry_after: float = 5.0):
        self.url = url or os.environ.get(URL_ENV) or DEFAULT_URL
        prefix = prefix if prefix is not None else os.environ.get(PREFIX_ENV, PREFIX)
        self.prefix = prefix if prefix.startswith(PREFIX) else PREFIX + prefix
        if not self.prefix.endswith(":"):
            self.prefix += ":"
        self.retry_after = retry_after
        import redis

        self._client = redis.Redis.from_url(self.url, socket_timeout=timeout,
                                            socket_connect_timeout=timeout,
                                            health_check_interval=30)
        self._down_until = 0.0
        self._error: str | None = None
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __repr__(self) -> str:
        return f"Cache({redact(self.url)!r}, prefix={self.prefix!r})"

    # ------------------------------------------------------------------ keys
    def key(self, kind: str, *parts: Any) -> str:
        if kind not in TTL_SECONDS:
            raise ValueError(f"unknown cache kind {kind!r}; known: {', '.join(TTL_SECONDS)}")
        return self.prefix + ":".join([kind, *(str(p) for p in parts)])

    # ------------------------------------------------------------------ availability
    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.retry_after
            self._error = f"{type(exc).__name__}: {exc}"

    def _ok(self) -> None:
        if self._error is not None:
            with self._lock:
                self._down_until, self._error = 0.0, None

    def _call(self, fn: Callable[[], Any], default: Any = None) -> Any:
        import redis

        if not self.available:
            return default
        try:
            out = fn()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return default
        self._ok()
        return out

    def status(self) -> dict:
        """Ping Redis now (whatever the back-off says): reachable, latency, error."""
        import redis

        t0 = time.perf_counter()
        try:
            self._client.ping()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return {"backend": "redis", "url": redact(self.url), "prefix": self.prefix,
                    "reachable": False, "error": self._error}
        self._ok()
        return {"backend": "redis", "url": redact(self.url), "prefix": self.prefix,
                "reachable": True, "ping_ms": round((time.perf_counter() - t0) * 1000, 3),
                "hits": self.hits, "misses": self.misses}

    # ------------------------------------------------------------------ values
    def get_raw(self, kind: str, *parts: Any) -> bytes | None:
        """The cached JSON bytes, or None (a miss, or Redis down)."""
        raw = self._call(lambda: self._client.get(self.key(kind, *parts)))
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return raw

    def get(self, kind: str, *parts: Any) -> Any | None:
        """The cached JSON value, or None (a miss, or Redis down)."""
        raw = self.get_raw(kind, *parts)
        return None if raw is None else json.loads(raw)

    def set(self, kind: str, value: Any, *parts: Any, ttl: int | None = None) -> bool:
        """Store `value` (JSON) with the kind's TTL; False when Redis is down."""
        seconds = int(ttl or TTL_SECONDS[kind])
        payload = dumps(value)
        return bool(self._call(lambda: self._client.set(self.key(kind, *parts), payload,
                                                        ex=seconds), False))

    def get_or_set(self, kind: str, parts: Iterable[Any], produce: Callable[[], Any]
                   ) -> tuple[Any, bool]:
        """(value, cached): the cached value, else `produce()` stored and returned."""
        parts = tuple(parts)
        hit = self.get(kind, *parts)
        if hit is not None:
            return hit, True
        value = produce()
        self.set(kind, value, *parts)
        return value, False

    def warm(self, kind: str, parts: Iterable[Any], produce: Callable[[], Any]) -> Any:
        """Recompute an entry and store it (whatever is cached)."""
        value = produce()
        self.set(kind, value, *tuple(parts))
        return value

    def ttl(self, kind: str, *parts: Any) -> int | None:
        """Seconds left on a key (None: no such key or Redis down)."""
        out = self._call(lambda: self._client.ttl(self.key(kind, *parts)))
        return out if out is not None and out >= 0 else None

    # ------------------------------------------------------------------ invalidation
    def keys(self, pattern: str = "*") -> list[str]:
        """Keys under this prefix matching `pattern` (after the prefix), via SCAN."""
        out = self._call(lambda: [k.decode() for k in self._client.scan_iter(
            match=self.prefix + pattern, count=1000)], [])
        return sorted(out)

    def invalidate(self, date: str | None = None, kinds: Iterable[str] | None = None) -> int:
        """Delete the entries of `kinds` -- of `date` only, for the dated kinds, when a date is
        given (default kinds: the dated ones with a date, else all); returns how many keys went
        (0 when Redis is down)."""
        kinds = tuple(kinds) if kinds is not None else \
            tuple(k for k in TTL_SECONDS if k in DATED or not date)
        for k in kinds:
            self.key(k)  # validates
        patterns = [f"{k}:{date}:*" if date and k in DATED else f"{k}:*" for k in kinds]
        patterns += [f"{k}:{date}" for k in kinds if date and k in DATED]
        doomed = sorted({key for p in patterns for key in self.keys(p)})
        if not doomed:
            return 0
        return int(self._call(lambda: self._client.delete(*doomed), 0))

    def clear(self) -> int:
        """Delete every key under this prefix (tests, `tipoff serve --flush-cache`)."""
        doomed = self.keys("*")
        return int(self._call(lambda: self._client.delete(*doomed), 0)) if doomed else 0


def invalidate_cache(event: str, dates: Iterable[str | None] = (None,),
                     cache: Cache | None = None) -> int:
    """What a writer calls when its data lands (`event`: `odds` -- an odds snapshot of `dates` --,
    or `promotion`): the stale entries go from Redis (0 when Redis is down; keys carry versions
    and data digests besides, so nothing stale is served either way)."""
    kinds = {"odds": ON_ODDS, "promotion": ON_PROMOTION}[event]
    cache = cache or Cache()
    return sum(cache.invalidate(d, kinds) for d in dates)
