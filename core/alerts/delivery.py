"""Sending alert messages: e-mail over SMTP (STARTTLS or SSL) and webhooks (JSON `text`).

Every message is a pending delivery row before anything is sent (core/alerts/evaluator.py).
`send_due` tries each due one; a failure is logged and tried again at a later evaluation,
waiting 1, 2, 4... up to 30 minutes, until STOCKFLOW_ALERTS_DELIVERY_MAX_ATTEMPTS, when it
is marked failed (the history page shows it and why). No database session stays open while
a server is being talked to.

The webhook body is `{"text": "..."}` and nothing else: Slack's incoming webhooks, Google
Chat's space webhooks and Teams' (an Incoming Webhook connector, or a Workflow that posts the
body's text) all take it, and Google Chat refuses a body with fields it does not know.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from core.db import session_scope
from core.models import AlertDelivery
from core.settings import get_settings

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MAX_WAIT_MINUTES = 30
BATCH = 200
# Seconds of sending per evaluation, so a run stays well inside its minute.
RUN_BUDGET_S = 30


class DeliveryError(RuntimeError):
    """The message did not reach its server; the text says why (kept on the delivery)."""


def send_due(now: datetime) -> dict[str, int]:
    """Try every pending delivery due at `now`; return how many were delivered, are to be
    retried and failed for good."""
    with session_scope() as session:
        due = [(row.id, row.channel, row.destination, row.text) for row in session.scalars(
            select(AlertDelivery).where(AlertDelivery.status == PENDING,
                                        AlertDelivery.next_attempt_at <= now)
            .order_by(AlertDelivery.id).limit(BATCH))]
    counts = {DELIVERED: 0, "retry": 0, FAILED: 0}
    # A server that failed once in this run is not tried again in it (its next messages take
    # the same error): a server that swallows connections costs one timeout per run, not one
    # per message, so the worker process (shared with baixa) is not held for minutes.
    failed_servers: dict[str, str] = {}
    started = time.monotonic()
    for delivery_id, channel, destination, text in due:
        if time.monotonic() - started > RUN_BUDGET_S:
            break  # the rest is still pending: the next evaluation sends it
        server = _server(channel, destination)
        error = failed_servers.get(server)
        if error is None:
            try:
                send(channel, destination, text)
            except DeliveryError as exc:
                error = failed_servers[server] = str(exc)
        counts[_record(delivery_id, now, error)] += 1
    return counts


def _server(channel: str, destination: str) -> str:
    return "smtp" if channel == "email" else f"webhook:{urlsplit(destination).netloc}"


def send(channel: str, destination: str, text: str) -> None:
    """Send one message; DeliveryError saying why it did not go."""
    if channel == "email":
        send_email(destination, text)
    elif channel == "webhook":
        send_webhook(destination, text)
    else:
        raise DeliveryError(f"canal desconhecido: {channel}")


def _record(delivery_id: int, now: datetime, error: str | None) -> str:
    max_attempts = get_settings().alerts_delivery_max_attempts
    with session_scope() as session:
        row = session.get_one(AlertDelivery, delivery_id)
        row.attempts += 1
        if error is None:
            row.status, row.delivered_at, row.next_attempt_at = DELIVERED, now, None
            return DELIVERED
        row.last_error = error[:2000]
        if row.attempts >= max_attempts:
            row.status, row.next_attempt_at = FAILED, None
            log.error("alert delivery failed for good delivery=%s channel=%s attempts=%d error=%s",
                      delivery_id, row.channel, row.attempts, error)
            return FAILED
        wait = min(2 ** (row.attempts - 1), MAX_WAIT_MINUTES)
        row.next_attempt_at = now + timedelta(minutes=wait)
        log.warning("alert delivery failed, retry in %d min delivery=%s channel=%s attempt=%d "
                    "error=%s", wait, delivery_id, row.channel, row.attempts, error)
        return "retry"


def send_email(address: str, text: str) -> None:
    """Send the message to one address through the configured SMTP server."""
    settings = get_settings()
    if not settings.alerts_smtp_host:
        raise DeliveryError("SMTP não configurado (STOCKFLOW_ALERTS_SMTP_HOST)")
    subject, _, _ = text.partition("\n")
    message = EmailMessage()
    message["From"] = settings.alerts_smtp_from
    message["To"] = address
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.alerts_smtp_from.rpartition("@")[2] or None)
    message.set_content(text)
    host, port, timeout = settings.alerts_smtp_host, settings.alerts_smtp_port, settings.alerts_smtp_timeout_s
    context = tls_context()
    try:
        if settings.alerts_smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if settings.alerts_smtp_security == "starttls":
                client.starttls(context=context)
            if settings.alerts_smtp_user:
                client.login(settings.alerts_smtp_user, settings.alerts_smtp_password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from exc


def tls_context() -> ssl.SSLContext:
    """The TLS client context of SMTP: the system's CAs, the host name checked."""
    return ssl.create_default_context()


def send_webhook(url: str, text: str) -> None:
    """POST {"text": ...} to the webhook; a 2xx answer is delivered."""
    settings = get_settings()
    if settings.is_production and urlsplit(url).scheme != "https":
        raise DeliveryError("webhook sem https recusado em produção")
    try:
        response = requests.post(url, json={"text": text}, timeout=settings.alerts_webhook_timeout_s,
                                 allow_redirects=False)
    except requests.RequestException as exc:
        raise DeliveryError(f"webhook {urlsplit(url).netloc}: {type(exc).__name__}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook {urlsplit(url).netloc}: HTTP {response.status_code} "
                            f"{response.text[:200]}")
