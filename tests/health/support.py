"""Reports shaped like seed 002's, and small database look-ups for the health tests."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core.db import get_engine, session_scope
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


def kept(consumer: str) -> list[dict[str, Any]]:
    """Return the open dead letters of a health consumer, oldest first, each with its reference,
    error and the message as it arrived (bytes)."""
    from core import dead_letters
    from core.health.poison import unpack

    return [{"reference": e.reference, "error": e.error, "encoding": e.kwargs.get("encoding"),
             "message": unpack(e.args[0], e.kwargs["encoding"]) if e.kwargs.get("encoding") else e.args[0]}
            for e in reversed(dead_letters.list_open(consumer))]


@contextmanager
def refusing_device(device: str) -> Iterator[None]:
    """Make the database itself refuse every status row of `device` (a trigger), as it would a
    value it cannot take; the trigger is dropped afterwards."""
    engine = get_engine()
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_device BEFORE INSERT ON device_status FOR EACH ROW "
                f"BEGIN IF NEW.raspberry_id = '{device}' THEN SIGNAL SQLSTATE '45000' "
                f"SET MESSAGE_TEXT = 'device {device} refused'; END IF; END")
        else:
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse_device BEFORE INSERT ON device_status "
                f"WHEN NEW.raspberry_id = '{device}' BEGIN SELECT RAISE(ABORT, 'device {device} refused'); END")
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_device")


@contextmanager
def database_through_proxy(db: str) -> Iterator[Any]:
    """Point this process (and its in-process workers) at the MariaDB `db` through a TCP proxy
    the test may cut (a database outage) and restore; back to `db` afterwards."""
    from sqlalchemy.engine import make_url

    from tests.baixa.tcp_proxy import TcpProxy
    from tests.support.database import use_database

    real = make_url(db)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 3306)
    use_database(real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    try:
        yield proxy
    finally:
        proxy.close()
        use_database(db)
