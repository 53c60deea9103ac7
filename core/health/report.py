"""The health report contract (seed 002's JSON plus the agent's additions): validate, normalise, count rejections.

A report is accepted only when every known field has the seed's type; unknown fields are
ignored (newer agents may add some). A rejected report is logged and counted in Redis with
its reason code, and changes nothing.
"""
from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from core.device_signing import Signed, report_signed
from core.health.throttling import MAX_WORD
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import get_settings

log = logging.getLogger(__name__)

REJECTED_KEY = "stockflow:health:rejected"
RECENT_REJECTIONS_KEY = "stockflow:health:rejected:recent"
RECENT_REJECTIONS_KEPT = 50
# The rejection code of a report the device registry refuses (registry_refusal).
REFUSED_DEVICE = "refused_device"

# A Pi whose clock runs ahead would otherwise block every later report (older never
# overwrites newer), so reported_at is clamped to the server's clock plus this slack.
MAX_CLOCK_AHEAD = timedelta(minutes=2)
# A device clock before this was never set; the upper bound is what datetime and MariaDB hold.
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def _as_utc(value: datetime) -> datetime:
    """Return the time in UTC (naive means UTC, which is what the agent sends); ValueError when
    it lies outside EARLIEST..LATEST (a Pi whose clock was never set, or no date at all)."""
    try:
        utc = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError("outside the years 1-9999 in UTC") from None
    if not EARLIEST <= utc <= LATEST:
        raise ValueError(f"{utc.isoformat()} is outside {EARLIEST.year}-{LATEST.year} (device clock not set?)")
    return utc


Text32 = Annotated[str, StringConstraints(strict=True, max_length=32)]
Text64 = Annotated[str, StringConstraints(strict=True, max_length=64)]
# Bounds are the columns' (INT, BIGINT, MariaDB's 4-byte FLOAT): what passes, the database takes.
Count = Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
Bytes = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]
Percent = Annotated[float, Field(strict=True, ge=0, le=100)]
Number = Annotated[float, Field(strict=True, ge=-1e9, le=1e9)]
Moment = Annotated[datetime, AfterValidator(_as_utc)]
BusList = Annotated[list[Text64], Field(max_length=64)]


class NetIface(BaseModel):
    """One interface, as the seed sends it ({"name", "ip"}); extra keys are kept."""

    model_config = ConfigDict(extra="allow")

    name: Text64
    ip: Text64 | None = None


class HealthReport(BaseModel):
    """The fields a report may carry and their types; `id` is the only required one."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    id: Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1,
                                         max_length=64)]
    # seed 002
    wifi_status: Text32 | None = None
    mem_usage: Text32 | Number | None = None
    cpu_temp: Text32 | Number | None = None
    cpu_percent: Percent | None = None
    gpio_used_count: Count | None = None
    spi_buses: BusList | None = None
    i2c_buses: BusList | None = None
    usb_devices_count: Count | None = None
    net_bytes_sent: Bytes | None = None
    net_bytes_recv: Bytes | None = None
    net_ifaces: Annotated[list[NetIface], Field(max_length=64)] | None = None
    led_internal_status: Annotated[bool, Field(strict=True)] | None = None
    led_external_status: Annotated[bool, Field(strict=True)] | None = None
    # the agent's additions
    store_key: Text64 | None = None
    agent_version: Text32 | None = None
    uptime_s: Bytes | None = None
    spool_depth: Count | None = None
    spool_oldest_at: Moment | None = None
    wifi_signal_dbm: Annotated[int, Field(strict=True, ge=-150, le=50)] | None = None
    mem_percent: Percent | None = None
    leds: Annotated[dict[Text64, Count], Field(max_length=32)] | None = None
    # the firmware's get_throttled word as an integer (core/health/throttling.py)
    throttled: Annotated[int, Field(strict=True, ge=0, le=MAX_WORD)] | None = None
    reported_at: Moment | None = None


class InvalidReport(ValueError):
    """A report that cannot be stored; `code` is the counter it is counted under."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def decode_body(body: bytes) -> Any:
    """Return the JSON value of a raw message body, or raise InvalidReport (too large / not JSON)."""
    limit = get_settings().health_report_max_bytes
    if len(body) > limit:
        raise InvalidReport("too_large", f"report of {len(body)} bytes exceeds {limit}")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, too deep, a 5,000-digit number
        raise InvalidReport("not_json", f"body is not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None


class ReportRow(dict[str, Any]):
    """A parsed report's device_status row values, plus what the report's signature covers
    (`signed`, for registry_refusal: not a column, and gone from any copy of the dict)."""

    signed: Signed = Signed(None, None)


def parse_report(raw: Any, received_at: datetime | None = None) -> dict[str, Any]:
    """Validate a decoded report and return its device_status row values (a ReportRow), or
    raise InvalidReport (its only error: any input at all gives one or the other)."""
    if not isinstance(raw, dict):
        raise InvalidReport("not_object", f"report must be a JSON object, got {type(raw).__name__}")
    limit = get_settings().health_report_max_bytes
    size = _json_size(raw)
    if size > limit:
        raise InvalidReport("too_large", f"report of {size} bytes exceeds {limit}")
    if not isinstance(raw.get("id"), str) or not raw["id"].strip():
        raise InvalidReport("missing_id", "field id (the device's name, a non-empty string) is required")
    try:
        report = HealthReport.model_validate(raw)
    except ValidationError as exc:
        raise InvalidReport("invalid", _describe(exc)) from None
    row = ReportRow(to_row(report, received_at or utcnow()))
    row.signed = report_signed(raw)
    return row


def to_row(report: HealthReport, received_at: datetime) -> dict[str, Any]:
    """Map a valid report onto device_status columns (seed 002's mapping plus parsed numbers)."""
    reported_at = min(report.reported_at or received_at, received_at + MAX_CLOCK_AHEAD)
    cpu_temp_c = _number_in(report.cpu_temp)
    mem_percent = report.mem_percent
    if mem_percent is None and isinstance(report.mem_usage, str) and report.mem_usage.rstrip().endswith("%"):
        mem_percent = _number_in(report.mem_usage)
        mem_percent = mem_percent if mem_percent is not None and 0 <= mem_percent <= 100 else None
    return {
        "raspberry_id": report.id,
        "wifi_status": report.wifi_status,
        "mem_usage": _as_text(report.mem_usage, ""),
        "cpu_temp": _as_text(report.cpu_temp, "°C"),
        "led_internal_status": report.led_internal_status,
        "led_external_status": report.led_external_status,
        "cpu_percent": report.cpu_percent,
        "gpio_used_count": report.gpio_used_count,
        "spi_buses": report.spi_buses,
        "i2c_buses": report.i2c_buses,
        "usb_devices_count": report.usb_devices_count,
        "net_bytes_sent": report.net_bytes_sent,
        "net_bytes_recv": report.net_bytes_recv,
        "net_ifaces": ([iface.model_dump() for iface in report.net_ifaces]
                       if report.net_ifaces is not None else None),
        "store_key": report.store_key,
        "agent_version": report.agent_version,
        "uptime_s": report.uptime_s,
        "spool_depth": report.spool_depth,
        "spool_oldest_at": report.spool_oldest_at,
        "wifi_signal_dbm": report.wifi_signal_dbm,
        "cpu_temp_c": cpu_temp_c,
        "mem_percent": mem_percent,
        "leds": report.leds,
        "throttled": report.throttled,
        "status": "online",
        "reported_at": reported_at,
        "last_update": received_at,
    }


def registry_refusal(row: dict[str, Any], sender: Any = None) -> InvalidReport | None:
    """Return the device registry's refusal of a parsed report (an unknown or revoked device,
    a signature missing or not the device's, or a store it is not assigned to:
    core/devices.py), or None when it is allowed; `sender` is the broker user that published
    it, when known. Raises core.health.store.DatabaseUnavailable when the registry cannot be
    read (try later)."""
    from core import devices
    from core.health.store import DatabaseUnavailable

    signed = row.signed if isinstance(row, ReportRow) else Signed(None, None)
    try:
        reason = devices.refusal(row["raspberry_id"], row["store_key"], signed, sender=sender)
    except (OperationalError, InterfaceError, PoolTimeoutError) as exc:
        raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return InvalidReport(REFUSED_DEVICE, f"relatório recusado: {reason}") if reason else None


def reject(error: InvalidReport, source: str, raw: Any = None) -> None:
    """Log and count a rejected report (by reason code), keeping the last few for the fleet page."""
    device = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    log.warning("health report rejected source=%s device=%s code=%s reason=%s",
                source, device, error.code, error.reason)
    entry = json.dumps({"at": utcnow().isoformat(), "source": source, "device": device,
                        "code": error.code, "reason": error.reason[:300]})
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.hincrby(REJECTED_KEY, error.code, 1)
        pipe.hincrby(REJECTED_KEY, "total", 1)
        pipe.lpush(RECENT_REJECTIONS_KEY, entry)
        pipe.ltrim(RECENT_REJECTIONS_KEY, 0, RECENT_REJECTIONS_KEPT - 1)
        pipe.execute()
    except Exception:  # noqa: BLE001 - the counter is telemetry; the log line above is the record
        log.warning("could not count a rejected health report", exc_info=True)


def rejection_counts() -> dict[str, int]:
    """Return the rejected-report counters by reason code (and 'total')."""
    return {code: int(n) for code, n in get_redis().hgetall(REJECTED_KEY).items()}


def recent_rejections() -> list[dict[str, Any]]:
    """Return the last rejected reports, newest first."""
    return [json.loads(item) for item in get_redis().lrange(RECENT_REJECTIONS_KEY, 0, -1)]


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "report"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _json_size(raw: dict[str, Any]) -> int:
    """Return the report's size as UTF-8 JSON; InvalidReport when it is no JSON a database takes."""
    try:
        return len(json.dumps(raw, default=str, ensure_ascii=False, allow_nan=False).encode())
    except (ValueError, RecursionError) as exc:  # NaN, a lone surrogate, too deep, a huge number
        raise InvalidReport("invalid", f"report is not storable JSON: {type(exc).__name__}: "
                                       f"{str(exc)[:200]}") from None


def _number_in(value: str | float | None) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return None if value is None else float(value)
    match = re.search(r"-?\d+(?:[.,]\d+)?", value)
    return float(match.group().replace(",", ".")) if match else None


def _as_text(value: str | float | None, unit: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return f"{value:g}{unit}"
