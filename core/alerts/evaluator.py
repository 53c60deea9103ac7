"""One evaluation of every rule (Beat's alerts.evaluate, every minute): open, remind and
resolve alerts, queue their messages, then send what is due.

De-duplication: one open alert per rule and subject (alerts.open_key is unique while it
fires). Cooldown: an alert still firing is sent again only STOCKFLOW_ALERTS_COOLDOWN_MINUTES
after its last message. A subject that stops firing resolves its alert and sends "resolved".
The alerts, their messages (pending deliveries) and the rules' state change in one
transaction, so a crash never loses an alert nor sends a message twice for one change;
sending happens after that commit (core/alerts/delivery.py retries what failed).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.alerts import config, delivery
from core.alerts.rules import RULES, Context, Finding, when
from core.db import session_scope
from core.models import Alert, AlertDelivery, AlertRule
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import get_settings

log = logging.getLogger(__name__)

FIRING, RESOLVED = "firing", "resolved"
FIRED, REMINDER, RESOLVED_EVENT = "fired", "reminder", "resolved"
LOCK_KEY = "stockflow:alerts:evaluating"
LAST_RUN_KEY = "stockflow:alerts:last-evaluation"
LOCK_TTL_S = 240
HEADINGS = {FIRED: "ALERTA", REMINDER: "AINDA ATIVO", RESOLVED_EVENT: "RESOLVIDO"}


@dataclass
class Outcome:
    """What one evaluation did, per kind of change."""

    fired: int = 0
    reminded: int = 0
    resolved: int = 0
    failed_rules: list[str] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"fired": self.fired, "reminded": self.reminded, "resolved": self.resolved,
                "failed_rules": self.failed_rules, "sent": self.sent, "skipped": self.skipped}


def evaluate(now: datetime | None = None) -> Outcome:
    """Evaluate every enabled rule at `now`, record what changed and send what is due; a
    second evaluation while one runs (a slow SMTP server) does nothing."""
    now = now or utcnow()
    if not _take_lock():
        log.info("alerts evaluation skipped: another one is running")
        return Outcome(skipped=True)
    try:
        outcome = _evaluate(now)
        outcome.sent = delivery.send_due(now)
        _mark_run()
        return outcome
    finally:
        _release_lock()


def _evaluate(now: datetime) -> Outcome:
    settings_by_key = {setting.key: setting for setting in config.rule_settings()}
    with session_scope() as session:
        open_alerts = list(session.scalars(select(Alert).where(Alert.status == FIRING)))
        open_subjects: dict[str, set[str]] = {}
        for alert in open_alerts:
            open_subjects.setdefault(alert.rule, set()).add(alert.subject)
        states = {row.key: dict(row.state or {}) for row in session.scalars(select(AlertRule))}
    outcome = Outcome()
    findings: dict[str, list[Finding]] = {}
    for key, setting in settings_by_key.items():
        if not setting.enabled:
            findings[key] = []  # a rule turned off resolves its alerts
            continue
        ctx = Context(now=now, threshold=setting.threshold,
                      open_subjects=open_subjects.get(key, set()), state=states.get(key, {}))
        try:
            findings[key] = setting.rule.check(ctx)
        except Exception:  # noqa: BLE001 - one broken rule must not silence the others
            log.exception("alert rule failed rule=%s", key)
            outcome.failed_rules.append(key)
            continue
        states[key] = ctx.state
    recipients = config.enabled_recipients()
    cooldown = timedelta(minutes=get_settings().alerts_cooldown_minutes)
    with session_scope() as session:
        current = {(a.rule, a.subject): a for a in session.scalars(
            select(Alert).where(Alert.status == FIRING))}
        for key, found in findings.items():
            # as stored (alerts.subject holds 200 characters), so a long one still matches
            firing = {finding.subject[:200]: finding for finding in found}
            for (rule, subject), alert in current.items():
                if rule == key and subject not in firing:
                    _resolve(session, alert, now, recipients,
                             None if settings_by_key[key].enabled else "regra desativada")
                    outcome.resolved += 1
            for subject, finding in firing.items():
                alert = current.get((key, subject))
                if alert is None:
                    _open(session, key, finding, now, recipients)
                    outcome.fired += 1
                    continue
                alert.message, alert.last_seen_at = finding.message, now
                if alert.last_notified_at is None or now - alert.last_notified_at >= cooldown:
                    _notify(session, alert, REMINDER, _text(REMINDER, alert, finding.link), now,
                            recipients)
                    outcome.reminded += 1
        _save_states(session, states)
    if outcome.fired or outcome.resolved:
        log.info("alerts evaluated fired=%d reminded=%d resolved=%d", outcome.fired,
                 outcome.reminded, outcome.resolved)
    return outcome


def _open(session: Session, key: str, finding: Finding, now: datetime,
          recipients: list[tuple[int, str, str]]) -> None:
    subject = finding.subject[:200]
    alert = Alert(rule=key, subject=subject, open_key=f"{key}:{subject}",
                  status=FIRING, message=finding.message, started_at=now, last_seen_at=now)
    session.add(alert)
    session.flush()
    log.warning("alert fired rule=%s subject=%s: %s", key, finding.subject, finding.message)
    _notify(session, alert, FIRED, _text(FIRED, alert, finding.link), now, recipients)


def _resolve(session: Session, alert: Alert, now: datetime, recipients: list[tuple[int, str, str]],
             why: str | None) -> None:
    alert.status, alert.open_key, alert.resolved_at = RESOLVED, None, now
    log.info("alert resolved rule=%s subject=%s", alert.rule, alert.subject)
    _notify(session, alert, RESOLVED_EVENT, _text(RESOLVED_EVENT, alert, "", why), now, recipients)


def _notify(session: Session, alert: Alert, event: str, text: str, now: datetime,
            recipients: list[tuple[int, str, str]]) -> None:
    """Queue one message per recipient, in the caller's transaction."""
    alert.last_notified_at = now
    for recipient_id, kind, address in recipients:
        session.add(AlertDelivery(alert_id=alert.id, event=event, recipient_id=recipient_id,
                                  channel=kind, destination=address, text=text,
                                  status=delivery.PENDING, attempts=0, created_at=now,
                                  next_attempt_at=now))


def _text(event: str, alert: Alert, link: str, why: str | None = None) -> str:
    """The message: a first line that is also the e-mail's subject, then the details."""
    title = RULES[alert.rule].title if alert.rule in RULES else alert.rule
    lines = [f"[Stockflow] {HEADINGS[event]}: {title} — {alert.subject}", alert.message]
    if event == REMINDER:
        lines.append(f"Ativo desde {when(alert.started_at)}.")
    if event == RESOLVED_EVENT:
        lines.append(f"Resolvido em {when(alert.resolved_at or alert.started_at)}"
                     + (f" ({why})." if why else "; ativo desde " + when(alert.started_at) + "."))
    site = get_settings().alerts_site_url.rstrip("/")
    if link and site:
        lines.append(f"{site}{link}")
    return "\n".join(lines)


def _save_states(session: Session, states: dict[str, dict[str, Any]]) -> None:
    for key, state in states.items():
        if not state:
            continue
        row = session.get(AlertRule, key)
        if row is None:
            session.add(AlertRule(key=key, enabled=True, threshold=None, state=state,
                                  updated_at=utcnow()))
        elif row.state != state:
            row.state = state


def _take_lock() -> bool:
    try:
        return bool(get_redis().set(LOCK_KEY, "1", nx=True, ex=LOCK_TTL_S))
    except RedisError:
        # Without Redis the lock cannot be held; a duplicate evaluation is rarer and better
        # than none (the unique open_key still prevents two open alerts).
        log.warning("alerts lock unavailable (Redis); evaluating without it")
        return True


def _release_lock() -> None:
    try:
        get_redis().delete(LOCK_KEY)
    except RedisError:
        pass


def _mark_run() -> None:
    try:
        get_redis().set(LAST_RUN_KEY, str(utcnow().timestamp()))
    except RedisError:
        pass


def seconds_since_last_run() -> float | None:
    """Seconds since an evaluation last ended (the workers' watchdog reads it); None: never."""
    text = get_redis().get(LAST_RUN_KEY)
    return None if text is None else utcnow().timestamp() - float(text)
