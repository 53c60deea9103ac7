"""Seed 002's device status (one current row per Pi) and its history samples for the charts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.models.types import JSONType, UTCDateTime, utcnow

# SQLite only autoincrements an INTEGER primary key.
BigId = BigInteger().with_variant(Integer, "sqlite")


class DeviceStatus(Base):
    """The latest report of each Pi (seed 002's mapping) plus the fleet status."""

    __tablename__ = "device_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    raspberry_id: Mapped[str] = mapped_column(String(64), unique=True)
    # seed 002's fields
    wifi_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mem_usage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cpu_temp: Mapped[str | None] = mapped_column(String(32), nullable=True)
    led_internal_status: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    led_external_status: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    cpu_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    gpio_used_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    spi_buses: Mapped[Any] = mapped_column(JSONType, nullable=True)
    i2c_buses: Mapped[Any] = mapped_column(JSONType, nullable=True)
    usb_devices_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    net_bytes_sent: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    net_bytes_recv: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    net_ifaces: Mapped[Any] = mapped_column(JSONType, nullable=True)
    # what the agent adds, and numbers parsed from the seed's texts (for sorting and charts)
    store_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    agent_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    uptime_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    spool_depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    spool_oldest_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wifi_signal_dbm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cpu_temp_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    leds: Mapped[Any] = mapped_column(JSONType, nullable=True)
    # The firmware's get_throttled word (core/health/throttling.py): power and throttling
    # now (bits 0-3) and since boot (bits 16-19).
    throttled: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # fleet bookkeeping: online | stale | offline; last_update is the server's clock
    status: Mapped[str] = mapped_column(String(16), default="online", index=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceThresholds(Base):
    """One device's own limits for the fleet status (a Pi in a hot storeroom is not a Pi at a
    till); a NULL limit means the default from the settings (STOCKFLOW_HEALTH_*_WARN*)."""

    __tablename__ = "device_thresholds"

    raspberry_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    temp_warn_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_warn_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    wifi_warn_dbm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    backlog_warn: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceHealthSample(Base):
    """One point of a device's history; unique per (device, reported_at) so redelivery adds none."""

    __tablename__ = "device_health_samples"
    __table_args__ = (
        UniqueConstraint("raspberry_id", "reported_at", name="uq_device_health_samples_device_at"),
        Index("ix_device_health_samples_reported_at", "reported_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    raspberry_id: Mapped[str] = mapped_column(String(64))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cpu_temp_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    cpu_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    wifi_signal_dbm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    spool_depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
