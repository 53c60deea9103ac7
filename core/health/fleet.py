"""The fleet view of device health: who is online, stale, offline or sick, and each one's history.

Status rules (the server's clock, `last_update`, never the Pi's):
- online: a report arrived within `health_stale_factor` intervals (1.5 x 30 s by default);
- stale: silent for longer than that (one report missed: the Pi may just be slow);
- offline: silent for `health_offline_factor` intervals (3 x 30 s: three reports missed).
Beat runs `mark_silent_devices` every minute; a new report makes a device online again.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.db import dialect_name, session_scope
from core.health import thresholds, throttling
from core.health.thresholds import Limits
from core.models import DeviceHealthSample, DeviceStatus
from core.models.types import utcnow
from core.settings import get_settings
from core.sse import publish_safely

CHANNEL = "devices"
STATUSES = ("online", "stale", "offline")


def problems(device: DeviceStatus, limits: Limits | None = None) -> list[str]:
    """Return what is wrong with the device, in words for the fleet page (pt-BR); empty when well.
    `limits` are the device's own (core/health/thresholds.py), the settings' by default."""
    limits = limits or thresholds.defaults()
    found = []
    if device.status == "offline":
        found.append("Offline")
    elif device.status == "stale":
        found.append("Sem relatório recente")
    if device.cpu_temp_c is not None and device.cpu_temp_c >= limits.temp_warn_c:
        found.append(f"CPU quente ({device.cpu_temp_c:.0f} °C)")
    found += throttling.problems(device.throttled)
    if device.mem_percent is not None and device.mem_percent >= limits.mem_warn_pct:
        found.append(f"Memória alta ({device.mem_percent:.0f}%)")
    if device.wifi_status is not None and device.wifi_status not in ("connected", "unknown"):
        found.append("Wi-Fi desconectado")
    elif device.wifi_signal_dbm is not None and device.wifi_signal_dbm < limits.wifi_warn_dbm:
        found.append(f"Wi-Fi fraco ({device.wifi_signal_dbm} dBm)")
    if device.spool_depth is not None and device.spool_depth >= limits.backlog_warn:
        found.append(f"{device.spool_depth} leitura(s) não enviada(s)")
    return found


def severity(device: DeviceStatus, found: Sequence[str]) -> int:
    """Return the sort weight: 3 offline, 2 sick, 1 stale, 0 well (sick ones first)."""
    if device.status == "offline":
        return 3
    if len(found) > (1 if device.status == "stale" else 0):
        return 2
    return 1 if device.status == "stale" else 0


def device_summary(device: DeviceStatus, limits: Limits | None = None) -> dict[str, Any]:
    """Return the JSON the fleet table shows for one device (page load and SSE events alike)."""
    found = problems(device, limits)
    return {
        "id": device.raspberry_id,
        "store_key": device.store_key,
        "status": device.status,
        "severity": severity(device, found),
        "problems": found,
        "cpu_temp_c": device.cpu_temp_c,
        "cpu_temp": device.cpu_temp,
        "cpu_percent": device.cpu_percent,
        "mem_percent": device.mem_percent,
        "mem_usage": device.mem_usage,
        "wifi_status": device.wifi_status,
        "wifi_signal_dbm": device.wifi_signal_dbm,
        "spool_depth": device.spool_depth,
        "spool_oldest_at": _iso(device.spool_oldest_at),
        "agent_version": device.agent_version,
        "uptime_s": device.uptime_s,
        "throttled": device.throttled,
        "energia": throttling.decode(device.throttled),
        "reported_at": _iso(device.reported_at),
        "last_update": _iso(device.last_update),
    }


def summaries(session: Session, devices: Iterable[DeviceStatus]) -> list[dict[str, Any]]:
    """Return the summaries of these devices, each judged by its own limits (one query)."""
    devices = list(devices)
    limits = thresholds.limits_of(session, (d.raspberry_id for d in devices))
    return [device_summary(d, limits[d.raspberry_id]) for d in devices]


def device_detail(device: DeviceStatus, limits: Limits) -> dict[str, Any]:
    """Return the summary plus every stored field and the limits in force (the device page)."""
    return {**device_summary(device, limits), "limites": limits.as_dict(), **{
        name: getattr(device, name) for name in (
            "gpio_used_count", "spi_buses", "i2c_buses", "usb_devices_count", "net_bytes_sent",
            "net_bytes_recv", "net_ifaces", "leds", "led_internal_status", "led_external_status")},
        "first_seen": _iso(device.first_seen)}


def fleet() -> list[dict[str, Any]]:
    """Return every device's summary, sick ones first (then by store and name)."""
    with session_scope() as session:
        found = summaries(session, session.scalars(select(DeviceStatus)).all())
    return sorted(found, key=lambda s: (-s["severity"], s["store_key"] or "", s["id"]))


def get_device(raspberry_id: str) -> dict[str, Any] | None:
    """Return one device's full detail, or None when it never reported."""
    with session_scope() as session:
        device = session.scalar(select(DeviceStatus).where(DeviceStatus.raspberry_id == raspberry_id))
        if device is None:
            return None
        return device_detail(device, thresholds.limits_of(session, [raspberry_id])[raspberry_id])


def history(raspberry_id: str, hours: float = 24, now: datetime | None = None) -> list[dict[str, Any]]:
    """Return the device's samples of the last `hours`, oldest first."""
    since = (now or utcnow()) - timedelta(hours=hours)
    with session_scope() as session:
        samples = session.scalars(
            select(DeviceHealthSample)
            .where(DeviceHealthSample.raspberry_id == raspberry_id,
                   DeviceHealthSample.reported_at >= since)
            .order_by(DeviceHealthSample.reported_at)).all()
        return [{"at": _iso(s.reported_at), "cpu_temp_c": s.cpu_temp_c, "cpu_percent": s.cpu_percent,
                 "mem_percent": s.mem_percent, "wifi_signal_dbm": s.wifi_signal_dbm,
                 "spool_depth": s.spool_depth} for s in samples]


def mark_silent_devices(now: datetime | None = None) -> dict[str, int]:
    """Mark devices stale / offline by how long they have been silent; publish the ones that
    changed on SSE and return how many moved to each status."""
    settings = get_settings()
    now = now or utcnow()
    interval = timedelta(seconds=settings.health_interval_s)
    rules = (("offline", now - interval * settings.health_offline_factor, ("online", "stale")),
             ("stale", now - interval * settings.health_stale_factor, ("online",)))
    counts: dict[str, int] = {}
    changed_ids: list[int] = []
    with session_scope() as session:
        for status, cutoff, before in rules:
            query = select(DeviceStatus.id).where(DeviceStatus.status.in_(before),
                                                  DeviceStatus.last_update < cutoff)
            if dialect_name() == "mysql":
                query = query.with_for_update()
            ids = list(session.scalars(query).all())
            if ids:
                session.execute(update(DeviceStatus).where(DeviceStatus.id.in_(ids))
                                .values(status=status).execution_options(synchronize_session=False))
            counts[status] = len(ids)
            changed_ids.extend(ids)
        changed = summaries(session, session.scalars(
            select(DeviceStatus).where(DeviceStatus.id.in_(changed_ids)))) if changed_ids else []
    if changed:
        publish_safely(CHANNEL, "devices", {"devices": changed})
    return counts


def prune_history(keep_days: int, now: datetime | None = None, chunk: int = 5_000) -> int:
    """Delete history samples older than keep_days, in chunks (short locks); return how many went."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    removed = 0
    while True:
        with session_scope() as session:
            ids = session.scalars(select(DeviceHealthSample.id)
                                  .where(DeviceHealthSample.reported_at < cutoff).limit(chunk)).all()
            if not ids:
                return removed
            session.execute(delete(DeviceHealthSample).where(DeviceHealthSample.id.in_(ids)))
            removed += len(ids)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
