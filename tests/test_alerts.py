"""Alerts: the webhook sender (against a local server recording the POST bodies), the wrapper that
makes every sensor report its own exception, and the failed-run alert of a real live_job run."""
from __future__ import annotations

import logging

import dagster as dg
import pytest
import requests

from pipeline_assets.definitions import defs
from resources import alerts
from resources.alerts import Alert, message, send_alert
from sensors import common
from tests.helpers import QUIET, RecordingWebhook


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for k in (alerts.WEBHOOK_ENV, alerts.UI_URL_ENV, common.REPEAT_ENV):
        monkeypatch.delenv(k, raising=False)
    common._last_sent.clear()


ALERT = Alert(alerts.SLATE_DEGRADED, "live_job slate 2026-01-23 DEGRADED (injuries)",
              "injuries: fetch failed ([live] injury_report: field '<root>': HTTP 403)",
              date="2026-01-23", run_id="abc123", job="live_job")


def test_message_is_slack_json_with_date_run_reason_and_link(monkeypatch):
    monkeypatch.setenv(alerts.UI_URL_ENV, "https://dagster.example.org/")
    body = message(ALERT)
    assert set(body) == {"text", "blocks"}
    text = body["text"]
    assert "2026-01-23" in text and "abc123" in text and "HTTP 403" in text
    assert text.endswith("https://dagster.example.org/runs/abc123")
    assert "&lt;root&gt;" in text and "<root>" not in text  # Slack's control characters escaped
    assert all(b["type"] in ("section", "context") for b in body["blocks"])
    assert "<https://dagster.example.org/runs/abc123|open in Dagster>" in str(body["blocks"])
    assert alerts.run_link("r1") == "https://dagster.example.org/runs/r1"
    monkeypatch.delenv(alerts.UI_URL_ENV)
    assert alerts.run_link("r1") == "http://127.0.0.1:3000/runs/r1"


def test_sent_to_the_webhook_with_one_retry_and_the_url_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    with RecordingWebhook(statuses=[503]) as hook:
        result = send_alert(ALERT, hook.url, sleep=lambda s: None)
        assert result.sent and result.detail == "sent"
        assert len(hook.paths) == 2 and hook.bodies == [message(ALERT)]
    assert "s3cr3tW3bh00k" not in caplog.text and "/services/" not in caplog.text
    assert "http://127.0.0.1/<redacted>" in caplog.text  # the retry names only scheme and host


@pytest.mark.parametrize("statuses, attempts", [([400], 1), ([500, 502], 2)])
def test_an_error_status_is_logged_never_raised(statuses, attempts, caplog):
    with RecordingWebhook(statuses=statuses) as hook:
        result = send_alert(ALERT, hook.url, sleep=lambda s: None)
        assert not result.sent and f"HTTP {statuses[-1]}" in result.detail
        assert len(hook.paths) == attempts and hook.bodies == []
    assert "NOT delivered" in caplog.text and "s3cr3tW3bh00k" not in caplog.text


def test_an_unreachable_webhook_or_a_broken_post_never_raises(caplog):
    with RecordingWebhook() as hook:
        url = hook.url
    result = send_alert(ALERT, url, timeout=0.5, sleep=lambda s: None)  # server gone
    assert not result.sent and "ConnectionError" in result.detail
    assert "s3cr3tW3bh00k" not in result.detail + caplog.text

    def explode(url, **kw):
        raise requests.Timeout(f"read timed out for {url}")
    result = send_alert(ALERT, "https://hooks.example.com/services/T/B/topsecret", post=explode,
                        sleep=lambda s: None)
    assert not result.sent and "Timeout" in result.detail and "topsecret" not in result.detail
    assert "topsecret" not in caplog.text


def test_without_a_webhook_alerts_are_logged_only(caplog):
    caplog.set_level(logging.WARNING, logger="tipoff.alerts")
    result = send_alert(ALERT)
    assert not result.sent and "logged only" in result.detail
    assert "ALERT (logged only" in caplog.text and "abc123" in caplog.text


# ----------------------------------------------------------------------------- failed sensors

def test_every_sensor_reports_its_own_exception():
    names = {s.name for s in defs.get_repository_def().sensor_defs}
    assert names <= common.WATCHED, f"not wrapped by alert_on_exception: {names - common.WATCHED}"


def test_a_failing_sensor_posts_once_then_reraises(monkeypatch):
    @dg.sensor(name="broken_sensor", job_name="labels_job")
    @common.alert_on_exception
    def broken_sensor(context: dg.SensorEvaluationContext):
        raise RuntimeError("league API down (503)")

    with RecordingWebhook() as hook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
        for _ in range(2):  # the same failure twice: one alert within the repeat window
            with pytest.raises(Exception, match="league API down"):
                broken_sensor.evaluate_tick(dg.build_sensor_context(
                    instance=dg.DagsterInstance.ephemeral()))
        assert len(hook.bodies) == 1
        text = hook.bodies[0]["text"]
        assert "sensor broken_sensor failed" in text and "RuntimeError: league API down" in text
        assert "/locations/tipoff/sensors/broken_sensor" in text
        monkeypatch.setenv(common.REPEAT_ENV, "0")
        with pytest.raises(Exception, match="league API down"):
            broken_sensor.evaluate_tick(dg.build_sensor_context(
                instance=dg.DagsterInstance.ephemeral()))
        assert len(hook.bodies) == 2


# ----------------------------------------------------------------------------- failed runs

def test_a_failed_live_run_posts_its_error(tmp_path, monkeypatch):
    """No production model: live_job fails at game_scores; run_failure_alert_sensor posts why."""
    from sensors.alerts import run_failure_alert_sensor
    from tests.helpers import use_simulated_store
    use_simulated_store(monkeypatch, tmp_path)
    inst = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("live_job").execute_in_process(
        instance=inst, partition_key="2025-12-11", raise_on_error=False, run_config=QUIET,
        tags={"tipoff/run_as_of_ts": "2025-12-11T16:00:00Z"})
    assert not result.success
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    with RecordingWebhook() as hook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
        ctx = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor", dagster_event=event, dagster_instance=inst,
            dagster_run=inst.get_run_by_id(result.run_id)).for_run_failure()
        run_failure_alert_sensor(ctx)
    (body,) = hook.bodies
    assert "live_job run failed" in body["text"] and "2025-12-11" in body["text"]
    assert "no production version" in body["text"]
    assert body["text"].endswith(f"http://127.0.0.1:3000/runs/{result.run_id}")
