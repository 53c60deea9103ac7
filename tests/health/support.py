"""Reports shaped like seed 002's, and small database look-ups for the health tests."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.db import session_scope
from core.models import DeviceHealthSample, DeviceStatus
from core.models.types import utcnow


def seed_report(device: str = "raspberry-01", at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """Return seed 002's example message (plus reported_at), with fields overridden."""
    report: dict[str, Any] = {
        "id": device, "wifi_status": "connected", "mem_usage": "512 MB", "cpu_temp": "48°C",
        "cpu_percent": 12.5, "gpio_used_count": 3, "spi_buses": ["spi0.0"], "i2c_buses": ["i2c-1"],
        "usb_devices_count": 2, "net_bytes_sent": 102400, "net_bytes_recv": 204800,
        "net_ifaces": [{"name": "wlan0", "ip": "192.168.0.10"}],
        "reported_at": (at or utcnow()).isoformat(),
    }
    report.update(fields)
    return report


def ago(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


def device_row(device: str) -> DeviceStatus | None:
    with session_scope() as session:
        row = session.scalar(select(DeviceStatus).where(DeviceStatus.raspberry_id == device))
        if row is not None:
            session.expunge(row)
        return row


def sample_count(device: str | None = None) -> int:
    with session_scope() as session:
        query = select(func.count()).select_from(DeviceHealthSample)
        if device is not None:
            query = query.where(DeviceHealthSample.raspberry_id == device)
        return int(session.scalar(query) or 0)


def device_count() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(DeviceStatus)) or 0)
