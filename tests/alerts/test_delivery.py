"""Delivery: what reaches the SMTP server and the webhook, a failing receiver retried at later
evaluations, a message given up after its attempts, the alert kept whatever happens."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from core.alerts import config, delivery, evaluator
from core.redis_client import get_redis
from core.settings import reset_settings
from tests.alerts.support import alerts, deliveries, evaluate, only, sent

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


def test_the_email_and_the_webhook_body(receivers: dict[str, Any]) -> None:
    only("disco_cheio", "100")
    evaluate(NOW)
    [message] = receivers["smtp"].messages
    assert message["From"] == "alertas@stockflow.test" and message["To"] == "plantao@loja.test"
    assert message["Message-ID"] and message["Date"]
    body = message.get_content().replace("\r\n", "\n")
    assert body.startswith("[Stockflow] ALERTA: Disco com pouco espaço") and "% livre" in body
    # Slack, Teams and Google Chat take {"text": ...}; Google Chat refuses unknown fields
    [payload] = receivers["webhook"].bodies
    assert set(payload) == {"text"} and payload["text"] == body.rstrip("\n")
    assert [d.status for d in deliveries()] == ["delivered", "delivered"]
    assert sent(receivers)


def test_a_failing_webhook_is_retried_at_later_evaluations(receivers: dict[str, Any]) -> None:
    webhook = receivers["webhook"]
    webhook.statuses = [500, 503]
    only("disco_cheio", "100")
    evaluate(NOW)
    email, hook = deliveries()
    assert email.status == "delivered"
    assert (hook.status, hook.attempts) == ("pending", 1) and "HTTP 500" in hook.last_error
    assert hook.next_attempt_at == NOW + timedelta(minutes=1)
    assert evaluate(NOW + timedelta(seconds=30)).sent == {"delivered": 0, "retry": 0, "failed": 0}
    assert evaluate(NOW + timedelta(minutes=1)).sent["retry"] == 1  # 503: waits 2 minutes now
    assert deliveries()[1].next_attempt_at == NOW + timedelta(minutes=3)
    assert evaluate(NOW + timedelta(minutes=3)).sent["delivered"] == 1
    hook = deliveries()[1]
    assert (hook.status, hook.attempts) == ("delivered", 3)
    assert len(webhook.bodies) == 1  # the failed attempts were not counted as received


def test_a_failing_server_is_tried_once_per_run(receivers: dict[str, Any]) -> None:
    """Two recipients on one webhook host that fails: one POST this run, both retried later."""
    webhook = receivers["webhook"]
    config.add_recipient("webhook", webhook.url + "/outro", "teste")
    webhook.statuses = [500]
    only("disco_cheio", "100")
    assert evaluate(NOW).sent == {"delivered": 1, "retry": 2, "failed": 0}
    assert webhook.posts == 1
    assert evaluate(NOW + timedelta(minutes=1)).sent["delivered"] == 2 and webhook.posts == 3


def test_a_message_is_given_up_after_its_attempts_and_the_alert_stays(
        receivers: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from standins.embedded_redis import free_port

    monkeypatch.setenv("STOCKFLOW_ALERTS_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("STOCKFLOW_ALERTS_DELIVERY_MAX_ATTEMPTS", "2")
    reset_settings()
    only("disco_cheio", "100")
    evaluate(NOW)
    evaluate(NOW + timedelta(minutes=1))
    email, hook = deliveries()
    assert (email.status, email.attempts) == ("failed", 2)
    assert "SMTP 127.0.0.1" in email.last_error and "ConnectionRefusedError" in email.last_error
    assert hook.status == "delivered"
    [alert] = alerts()
    assert alert.status == "firing"


def test_email_without_smtp_fails_with_the_reason(db: str, webhook: Any) -> None:
    with pytest.raises(delivery.DeliveryError, match="SMTP não configurado"):
        delivery.send("email", "a@b.test", "x")


def test_a_second_evaluation_while_one_runs_does_nothing(db: str) -> None:
    get_redis().set(evaluator.LOCK_KEY, "1", ex=60)
    assert evaluator.evaluate(now=NOW).skipped
    get_redis().delete(evaluator.LOCK_KEY)
    assert not evaluator.evaluate(now=NOW).skipped
    assert evaluator.seconds_since_last_run() < 5


def test_no_recipient_still_keeps_the_alert(db: str) -> None:
    only("disco_cheio", "100")
    evaluate(NOW)
    assert len(alerts()) == 1 and deliveries() == []


def test_webhook_urls_and_emails_are_validated(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind, address in (("email", "sem-arroba"), ("email", "a@b.test\nBcc: x@y.test"),
                          ("webhook", "ftp://hooks.test/x"), ("webhook", "https://u:p@hooks.test/x"),
                          ("webhook", "nada"), ("sms", "123")):
        with pytest.raises(ValueError):
            config.validate_address(kind, address)
    assert config.validate_address("webhook", "http://127.0.0.1:9/x") == "http://127.0.0.1:9/x"
    monkeypatch.setenv("STOCKFLOW_ENV", "production")
    monkeypatch.setattr(config, "get_settings", lambda: type("S", (), {"is_production": True})())
    with pytest.raises(ValueError, match="http:// sem TLS"):
        config.validate_address("webhook", "http://hooks.test/x")
    assert config.validate_address("webhook", "https://chat.googleapis.com/v1/spaces/A/messages?key=k")


def test_the_webhook_secret_is_not_shown() -> None:
    assert config.shown("webhook", "https://hooks.slack.com/services/T0/B0/XYZ") == \
        "https://hooks.slack.com/services/…"
    assert config.shown("email", "a@b.test") == "a@b.test"
