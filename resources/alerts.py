"""Alerts to a chat webhook: a failed or degraded daily run, a failed sensor, a gate rejection,
a drift retrain.  Plain Python (no Dagster); the sensors in `sensors/alerts.py` call `send_alert`.

The webhook is `TIPOFF_ALERT_WEBHOOK` (a Slack incoming webhook, or anything that accepts Slack's
JSON: Mattermost, Rocket.Chat, a Teams/Discord bridge).  The body is ``{"text": ..., "blocks":
[...]}``: `text` is the whole message on one line (what notifications and non-Slack receivers
show), `blocks` the same as a title and fields.  Every alert names the date, the run id, the reason
and links to the run in the Dagster UI: ``<TIPOFF_UI_URL>/runs/<run_id>`` (default base
http://127.0.0.1:3000; set it to the URL operators open, e.g. the authenticating proxy).

`send_alert` never raises into its caller: a timeout, a refused connection or an error status is
retried once (`ALERT_ATTEMPTS`), then logged.  Without a webhook the alert is only logged
(logger ``tipoff.alerts``, WARNING).  The webhook URL is a secret (whoever has it can post to the
channel): it never appears in a log line or an exception text -- only its scheme and host do.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from resources.sources.http import redact_in_logs, redact_text

if TYPE_CHECKING:  # requests loads when an alert is posted
    import requests

WEBHOOK_ENV = "TIPOFF_ALERT_WEBHOOK"
UI_URL_ENV = "TIPOFF_UI_URL"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
ALERT_TIMEOUT = 5.0     # seconds per attempt
ALERT_ATTEMPTS = 2      # one retry
RETRY_DELAY = 1.0       # seconds before the retry

# kinds of alert (the `kind` field; the sensors in sensors/alerts.py send one each)
RUN_FAILED, SLATE_DEGRADED, SENSOR_FAILED = "run_failed", "slate_degraded", "sensor_failed"
GATE_REJECTED, DRIFT_RETRAIN = "gate_rejected", "drift_retrain"
KINDS = (RUN_FAILED, SLATE_DEGRADED, SENSOR_FAILED, GATE_REJECTED, DRIFT_RETRAIN)
_ICON = {RUN_FAILED: ":x:", SLATE_DEGRADED: ":warning:", SENSOR_FAILED: ":x:",
         GATE_REJECTED: ":no_entry:", DRIFT_RETRAIN: ":chart_with_downwards_trend:"}

log = logging.getLogger("tipoff.alerts")

Post = Callable[..., "requests.Response"]


@dataclass(frozen=True)
class Alert:
    """One message: what happened (`title`), why (`reason`), for which date and run."""

    kind: str
    title: str
    reason: str
    date: str | None = None
    run_id: str | None = None
    job: str | None = None
    link: str | None = None  # default: the run's page in the UI (`run_link`)

    def url(self) -> str | None:
        return self.link or (run_link(self.run_id) if self.run_id else None)


@dataclass(frozen=True)
class AlertResult:
    sent: bool
    detail: str  # "sent", "logged only (no TIPOFF_ALERT_WEBHOOK)", or why it failed (redacted)


def ui_url() -> str:
    return (os.environ.get(UI_URL_ENV) or DEFAULT_UI_URL).rstrip("/")


def run_link(run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{ui_url()}/runs/{run_id}"


def _escape(text: str) -> str:
    """Slack's three control characters (an error text may well hold `<root>`)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(alert: Alert) -> dict:
    """Slack-compatible JSON: `text` (one line, all of it) and `blocks` (title + fields)."""
    url = alert.url()
    alert = Alert(alert.kind, _escape(alert.title), _escape(alert.reason), alert.date,
                  alert.run_id, alert.job, alert.link)
    parts = [f"[tipoff] {alert.title}", f"date {alert.date or '-'}", f"run {alert.run_id or '-'}",
             alert.reason]
    text = " | ".join(parts) + (f" | {url}" if url else "")
    fields = [f"*date*\n{alert.date or '-'}", f"*run*\n" + (f"<{url}|{alert.run_id}>" if url and
                                                          alert.run_id else alert.run_id or "-")]
    if alert.job:
        fields.append(f"*job*\n{alert.job}")
    fields.append(f"*kind*\n{alert.kind}")
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"{_ICON.get(alert.kind, '')} *{alert.title}*".strip()}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": alert.reason[:2900] or "-"}},
    ]
    if url:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                         "text": f"<{url}|open in Dagster>"}]})
    return {"text": text[:3900], "blocks": blocks}


def redact_webhook(url: str) -> str:
    """Scheme and host only: the path and query of a webhook URL are its credential."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/<redacted>" if parts.scheme else "<redacted>"


def send_alert(alert: Alert, webhook: str | None = None, *, timeout: float = ALERT_TIMEOUT,
               attempts: int = ALERT_ATTEMPTS, post: Post | None = None,
               sleep: Callable[[float], None] = time.sleep) -> AlertResult:
    """POST `message(alert)` to `webhook` (default $TIPOFF_ALERT_WEBHOOK).  Never raises: every
    outcome is logged and returned."""
    try:
        body = message(alert)
    except Exception as exc:  # noqa: BLE001 - an alert must never break its caller
        log.error("alert %s could not be formatted: %s", alert.kind, exc)
        return AlertResult(False, f"not formatted: {type(exc).__name__}")
    webhook = (webhook if webhook is not None else os.environ.get(WEBHOOK_ENV, "")).strip()
    if not webhook:
        log.warning("ALERT (logged only, no %s): %s", WEBHOOK_ENV, body["text"])
        return AlertResult(False, f"logged only (no {WEBHOOK_ENV})")
    path = urlsplit(webhook).path
    target, secrets = redact_webhook(webhook), {webhook} | ({path} if len(path) > 1 else set())
    redact_in_logs(*secrets)  # urllib3 logs the request line (the path) at DEBUG
    if post is None:
        import requests
        post = requests.post
    problem = "no attempt made"
    for attempt in range(1, max(1, attempts) + 1):
        try:
            resp = post(webhook, json=body, timeout=timeout)
            status = resp.status_code
        except Exception as exc:  # noqa: BLE001 - timeouts, refused connections, anything
            problem = f"{type(exc).__name__}: {redact_text(str(exc), secrets)}"
            retry = True
        else:
            if 200 <= status < 300:
                log.info("alert %s sent to %s", alert.kind, target)
                return AlertResult(True, "sent")
            problem, retry = f"HTTP {status}", status == 429 or status >= 500
        if attempt < attempts and retry:
            log.warning("alert %s to %s failed (%s); retrying", alert.kind, target, problem)
            sleep(RETRY_DELAY)
            continue
        break
    log.error("alert %s NOT delivered to %s (%s): %s", alert.kind, target, problem, body["text"])
    return AlertResult(False, f"not delivered: {problem}")
