"""A small, polite HTTP client for the `live` source.

- timeout per request (default 10 s);
- up to `max_attempts` (default 3) tries, with exponential backoff (`backoff` * 2**n seconds)
  on HTTP 429, HTTP 5xx, timeouts and connection errors; other HTTP errors fail at once;
- a minimum interval between two calls to the same host (default 1.0 s, `TIPOFF_HTTP_MIN_INTERVAL`
  overrides it, e.g. 0 against a local server of recorded responses);
- browser-like headers, which stats.nba.com and the NBA CDN require;
- secrets never leak: every URL that reaches a log line or an exception goes through `redact()`,
  and the values of key/token-like parameters are also scrubbed from exception text and from the
  response bytes attached to errors.

Failures raise `SourceError(source="live", endpoint=<logical name or redacted URL>, ...)`; HTTP
errors name the status code.  For tests, `transport` replaces the network: a callable
`(url, params) -> (status, body_bytes)` or `(status, body_bytes, headers)` that may also raise
`TimeoutError`/`ConnectionError` (or the `requests` equivalents); `sleep` and `clock` are
injectable so backoff and rate limiting can be checked without waiting.  `get_json_with_headers`
also returns the response headers (lower-case names), e.g. The Odds API's credit counters.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from resources.sources.base import SourceError

if TYPE_CHECKING:  # requests loads when a request is made
    import requests

log = logging.getLogger(__name__)

Transport = Callable[[str, dict], "tuple[int, bytes] | tuple[int, bytes, Mapping[str, str]]"]

REDACTED = "REDACTED"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF = 1.0
DEFAULT_MIN_INTERVAL = 1.0
MIN_INTERVAL_ENV = "TIPOFF_HTTP_MIN_INTERVAL"

_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/124.0.0.0 Safari/537.36")
BROWSER_HEADERS = {
    "User-Agent": _UA,
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "Cache-Control": "no-cache",
    "Pragma": "no-cache",
}
# stats.nba.com answers (or silently hangs) unless the request looks like it came from nba.com.
NBA_HEADERS = {
    **BROWSER_HEADERS,
    "Origin": "https://www.nba.com",
    "Referer": "https://www.nba.com/",
    "x-nba-stats-origin": "stats",
    "x-nba-stats-token": "true",
    "Sec-Fetch-Dest": "empty",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Site": "same-site",
}

_SECRET_NAME = re.compile(r"key|token|secret|password", re.IGNORECASE)
# name=value pairs with a secret-like name, anywhere in free text (URLs inside error messages).
_SECRET_PAIR = re.compile(
    r"(?P<name>[A-Za-z0-9_.\-]*(?:key|token|secret|password)[A-Za-z0-9_.\-]*)=(?P<value>[^&\s'\"#<>]+)",
    re.IGNORECASE)


def is_secret_param(name: str) -> bool:
    """True for query parameters that carry credentials (apiKey, api_key, key, access_token...)."""
    return bool(_SECRET_NAME.search(str(name)))


def redact(url: str, params: Mapping[str, Any] | None = None) -> str:
    """`url` (with `params` appended) where every key/token-like parameter's value is REDACTED."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for k, v in (params or {}).items():
        if isinstance(v, (list, tuple)):
            query.extend((k, str(x)) for x in v)
        else:
            query.append((k, "" if v is None else str(v)))
    query = [(k, REDACTED if is_secret_param(k) else v) for k, v in query]
    return urlunsplit(parts._replace(query=urlencode(query, safe=",:")))


def redact_text(text: str, secrets: set[str] | frozenset[str] = frozenset()) -> str:
    """Free text with secret-like `name=value` pairs and the literal `secrets` removed."""
    out = _SECRET_PAIR.sub(lambda m: f"{m.group('name')}={REDACTED}", str(text))
    for s in sorted(secrets, key=len, reverse=True):
        if s:
            out = out.replace(s, REDACTED)
    return out


def scrub_bytes(body: bytes | None, secrets: set[str] | frozenset[str]) -> bytes | None:
    """`body` with every literal secret replaced (a server may echo the key back)."""
    if body is None:
        return None
    for s in sorted(secrets, key=len, reverse=True):
        if s:
            body = body.replace(s.encode(), REDACTED.encode())
    return body


# Secrets that are not query parameters (e.g. an alert webhook, whose path is the credential):
# every RedactingFilter scrubs them too.
_LOG_SECRETS: set[str] = set()


class RedactingFilter(logging.Filter):
    """Scrubs secret-like `name=value` pairs (and known secret values) from log records of the
    HTTP libraries: urllib3 logs every request line, query string and all, at DEBUG."""

    def __init__(self, secrets: Callable[[], frozenset[str]] = frozenset):
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message, self._secrets() | _LOG_SECRETS)
        if clean != message:
            record.msg, record.args = clean, None
        return True


# Loggers of the libraries requests drives; a filter on a logger applies to its own records.
HTTP_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry",
                "urllib3.response", "requests", __name__)


def install_log_redaction(secrets: Callable[[], frozenset[str]] = frozenset) -> None:
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        logger.filters = [f for f in logger.filters if not isinstance(f, RedactingFilter)]
        logger.addFilter(RedactingFilter(secrets))


def redact_in_logs(*secrets: str) -> None:
    """Scrub these literal values from every HTTP-library log record from now on."""
    _LOG_SECRETS.update(s for s in secrets if s)
    if not any(isinstance(f, RedactingFilter) for f in logging.getLogger(HTTP_LOGGERS[0]).filters):
        install_log_redaction()


class HttpClient:
    """requests.Session wrapper with timeout, retries, per-host rate limit and redaction."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, backoff: float = DEFAULT_BACKOFF,
                 min_interval: float | None = None, transport: Transport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 session: requests.Session | None = None, source: str = "live"):
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.min_interval = float(os.environ.get(MIN_INTERVAL_ENV) or DEFAULT_MIN_INTERVAL) \
            if min_interval is None else min_interval
        self.source = source
        self._transport = transport or self._requests_transport
        self._sleep = sleep
        self._clock = clock
        self._session = session
        self._last_call: dict[str, float] = {}
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        install_log_redaction(lambda: self.secrets)

    def __repr__(self) -> str:
        return (f"HttpClient(timeout={self.timeout}, max_attempts={self.max_attempts}, "
                f"min_interval={self.min_interval})")

    # ---------------------------------------------------------------- public
    @property
    def secrets(self) -> frozenset[str]:
        """Secret parameter values seen so far (to scrub them from anything kept)."""
        return frozenset(self._secrets)

    def clock(self) -> float:
        """The client's (injectable) monotonic clock."""
        return self._clock()

    def add_secret(self, value: str | None) -> None:
        if value:
            self._secrets.add(str(value))

    @staticmethod
    def headers_for(url: str) -> dict[str, str]:
        host = (urlsplit(url).hostname or "").lower()
        if host == "nba.com" or host.endswith(".nba.com"):
            return dict(NBA_HEADERS)
        return dict(BROWSER_HEADERS)

    def get(self, url: str, params: Mapping[str, Any] | None = None, *,
            endpoint: str | None = None) -> bytes:
        """Response body of a GET; raises SourceError once retries are exhausted."""
        return self._get(url, params, endpoint)[0]

    def _get(self, url: str, params: Mapping[str, Any] | None,
             endpoint: str | None) -> tuple[bytes, dict[str, str]]:
        """(body, lower-cased response headers) of a GET, with retries."""
        import requests

        params = dict(params or {})
        for k, v in params.items():
            if is_secret_param(k) and v:
                self.add_secret(str(v))
        safe_url = redact(url, params)
        name = endpoint or safe_url
        host = (urlsplit(url).hostname or "").lower()
        problem, raw = "no attempt made", None
        for attempt in range(1, self.max_attempts + 1):
            self._throttle(host)
            log.debug("GET %s (attempt %d/%d)", safe_url, attempt, self.max_attempts)
            try:
                status, body, *rest = self._transport(url, params)
            except (requests.Timeout, TimeoutError) as exc:
                problem, raw = f"timeout after {self.timeout:g}s ({type(exc).__name__})", None
            except (requests.ConnectionError, ConnectionError) as exc:
                problem, raw = f"connection error ({type(exc).__name__}: {self._clean(exc)})", None
            except requests.RequestException as exc:
                raise SourceError(self.source, name,
                                  f"request failed: {type(exc).__name__}: {self._clean(exc)} "
                                  f"({safe_url})") from None
            else:
                if 200 <= status < 300:
                    headers = {str(k).lower(): str(v) for k, v in dict(*rest[:1]).items()}
                    return scrub_bytes(body, self._secrets), headers  # raw payloads are stored
                raw = scrub_bytes(body, self._secrets)
                if status != 429 and status < 500:
                    raise SourceError(self.source, name, f"HTTP {status} from {safe_url}", raw=raw)
                problem = f"HTTP {status}"
            if attempt < self.max_attempts:
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("%s: %s from %s; retrying in %.1fs", name, problem, safe_url, delay)
                self._sleep(delay)
        raise SourceError(self.source, name,
                          f"{problem} after {self.max_attempts} attempt(s) ({safe_url})", raw=raw)

    def get_json(self, url: str, params: Mapping[str, Any] | None = None, *,
                 endpoint: str | None = None) -> tuple[Any, bytes]:
        """(parsed JSON, exact body bytes).  Invalid JSON raises SourceError with the body."""
        payload, body, _ = self.get_json_with_headers(url, params, endpoint=endpoint)
        return payload, body

    def get_json_with_headers(self, url: str, params: Mapping[str, Any] | None = None, *,
                              endpoint: str | None = None) -> tuple[Any, bytes, dict[str, str]]:
        """(parsed JSON, exact body bytes, lower-cased response headers)."""
        body, headers = self._get(url, params, endpoint)
        name = endpoint or redact(url, params)
        try:
            return json.loads(body), body, headers
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(self.source, name, f"invalid JSON: {exc}",
                              raw=scrub_bytes(body, self._secrets)) from None

    # --------------------------------------------------------------- private
    def _clean(self, exc: BaseException) -> str:
        return redact_text(str(exc), self._secrets)

    def _throttle(self, host: str) -> None:
        with self._lock:
            if self.min_interval > 0 and host in self._last_call:
                wait = self.min_interval - (self._clock() - self._last_call[host])
                if wait > 0:
                    self._sleep(wait)
            self._last_call[host] = self._clock()

    def _requests_transport(self, url: str, params: dict) -> tuple[int, bytes]:
        import requests

        if self._session is None:
            self._session = requests.Session()
        resp = self._session.get(url, params=params, headers=self.headers_for(url),
                                 timeout=self.timeout)
        return resp.status_code, resp.content, resp.headers
