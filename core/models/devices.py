"""The device registry: each Pi's identity, the stores it may scan for, and its broker user."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.models.types import UTCDateTime, utcnow

ACTIVE = "active"
REVOKED = "revoked"


class Device(Base):
    """One Pi: its device_id (as in its scans and health reports), state and broker user."""

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    # "redis" or "rabbitmq": where its broker user lives.
    broker: Mapped[str] = mapped_column(String(16))
    broker_user: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Its signing secret is derived from this (core/device_signing.py); a new one on every
    # issue or `devices secret --rotate`, so an old secret stops working.
    secret_generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    stores: Mapped[list["DeviceStore"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="DeviceStore.store_key")

    @property
    def store_keys(self) -> list[str]:
        return [store.store_key for store in self.stores]


class DeviceStore(Base):
    """A store a device is assigned to: its scans and reports may name this store_key."""

    __tablename__ = "device_stores"

    device_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("devices.device_id", ondelete="CASCADE"), primary_key=True)
    store_key: Mapped[str] = mapped_column(String(64), primary_key=True)
