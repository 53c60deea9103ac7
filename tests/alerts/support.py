"""Helpers of the alert tests: one rule on, an evaluation at a given time, what was sent."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.alerts import config, evaluator
from core.alerts.rules import RULES
from core.db import session_scope
from core.models import Alert, AlertDelivery, AlertRule
from core.models.types import utcnow
from tests.alerts.receivers import SmtpServer, WebhookReceiver


def only(key: str, threshold: str = "") -> None:
    """Turn every rule off but `key` (with this threshold, or its default), in one write
    (the page's path, config.save_rule, is tested on its own)."""
    value = config.parse_threshold(RULES[key], threshold) if threshold else None
    with session_scope() as session:
        for other in RULES:
            row = session.get(AlertRule, other) or AlertRule(key=other)
            row.enabled, row.threshold = other == key, value if other == key else None
            row.updated_at = utcnow()
            session.merge(row)


def evaluate(now: datetime) -> evaluator.Outcome:
    outcome = evaluator.evaluate(now=now)
    assert not outcome.failed_rules, outcome
    assert not outcome.skipped
    return outcome


def sent(receivers: dict[str, Any]) -> list[tuple[str, str]]:
    """(e-mail subject, webhook first line) of every message so far; both must agree."""
    smtp: SmtpServer = receivers["smtp"]
    webhook: WebhookReceiver = receivers["webhook"]
    firsts = [text.split("\n", 1)[0] for text in webhook.texts()]
    assert smtp.subjects() == firsts, (smtp.subjects(), firsts)
    return list(zip(smtp.subjects(), webhook.texts(), strict=True))


def alerts() -> list[Alert]:
    with session_scope() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def deliveries() -> list[AlertDelivery]:
    with session_scope() as session:
        return list(session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))
