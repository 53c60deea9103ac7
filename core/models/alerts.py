"""Alerts: each rule's settings, who receives alerts, every alert that fired and each message
sent about it (the history page reads these)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import JSONType, UTCDateTime, utcnow


class AlertRule(Base):
    """An administrator's choice for one rule of core.alerts.rules (absent: its defaults), and
    what the evaluator remembers between runs (`state`, e.g. the last dead letter seen)."""

    __tablename__ = "alert_rules"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[Any] = mapped_column(JSONType, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class AlertRecipient(Base):
    """Someone (an e-mail address) or something (a webhook URL) that receives every alert."""

    __tablename__ = "alert_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # email | webhook
    address: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(80), nullable=True)


class Alert(Base):
    """One alert of one rule about one subject (a device, a queue...), from firing to resolved.

    `open_key` is "rule:subject" while the alert fires and NULL once resolved: its unique index
    is the de-duplication (one open alert per rule and subject; NULLs do not collide).
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_started", "rule", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    open_key: Mapped[str | None] = mapped_column(String(240), nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # firing | resolved
    message: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AlertDelivery(Base):
    """One message about an alert (fired, reminder, resolved) to one recipient, kept from the
    moment the alert changed (same transaction) until it was delivered or given up."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))  # fired | reminder | resolved
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_recipients.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    destination: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
