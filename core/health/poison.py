"""Health messages in the dead letters: the poison ones, whichever consumer read them, and the
reports health.report gave up on while the database was down (newer_report_kept).

A message is poison when it is no valid report (not UTF-8, not JSON, too deep, no id, a bad
field, a date out of range...) or when the database refuses its row while it takes others. Its
consumer keeps it here, with the reason, and goes on with the next message:
- task_name names the consumer: `health.bridge`, `health.batch_worker` or `health.report`;
- args = [the message as it arrived, first dead_letters.KEPT_BYTES], kwargs = {"encoding": "utf-8" | "base64"};
  a replay sends it through the same code again (tasks/health.py), so a report refused only
  because of a bug is stored once the bug is fixed;
- one open entry per device and reason (the newest message): a Pi that sends the same bad
  report every 30 s fills one entry, not thousands. A message naming no device is its own entry.
While the database is down the entry is parked in Redis (core.dead_letters.park); only when
neither takes it does keep() raise, and the consumer must then leave the message unacked.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from core import dead_letters
from core.db import session_scope
from core.health.report import InvalidReport, decode_body, parse_report, reject
from core.models import DeadLetter

log = logging.getLogger(__name__)


def refuse(consumer: str, message: Any, error: InvalidReport, raw: Any = None,
           device: str | None = None) -> None:
    """Count the rejection (fleet page) and keep the message in the dead letters with the
    reason; raise when neither the database nor Redis takes it (leave the message unacked)."""
    reject(error, source=consumer, raw=raw)
    keep(consumer, message, error.code, error.reason, device or device_of(raw))


def unexpected(exc: BaseException) -> InvalidReport:
    """Return a parser failure the contract does not foresee as a rejection with code `error`,
    logged with its traceback: a parser bug must not stop ingestion."""
    log.error("health report parser failed", exc_info=exc)
    return InvalidReport("error", f"{type(exc).__name__}: {str(exc)[:300]}")


def keep(consumer: str, message: Any, code: str, reason: str, device: str | None = None) -> None:
    """Record a poison message (parked in Redis while the database is down); raise when neither
    the database nor Redis takes it."""
    dead_letters.keep_message(consumer, message, f"{code}: {reason[:500]}",
                              reference=f"{device}:{code}" if device else None,
                              reference_prefix=code)


def unpack(text: Any, encoding: Any) -> bytes:
    """Return the bytes of a kept message; InvalidReport when it is not what pack() writes."""
    try:
        return dead_letters.unpack(text, encoding)
    except ValueError as exc:
        raise InvalidReport("invalid", str(exc)) from None


def report_of_call(report: Any, encoding: Any = None) -> Any:
    """Return the report of a health.report call: the value itself or, for a replayed dead
    letter (an encoding given), the kept message decoded; InvalidReport when it does not decode."""
    return report if encoding is None else decode_body(unpack(report, encoding))


def message_of_call(report: Any, encoding: Any = None) -> Any:
    """Return what to keep of a health.report call that is poison: the report, or the bytes of
    the replayed message (its text as it is when even that does not decode)."""
    if encoding is None:
        return report
    try:
        return unpack(report, encoding)
    except InvalidReport:
        return report


def device_of(raw: Any) -> str | None:
    """Return the device id a decoded message names (a valid one), else None."""
    device = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(device, str) and 0 < len(device.strip()) <= 64:
        return device.strip().encode("utf-8", "backslashreplace").decode()
    return None


def newer_report_kept(task_name: str, device: str, report: Any) -> bool:
    """Whether the device's open dead letter (reference = the device) already holds a report
    newer than this one, which then need not be kept: the device's state is its newest."""
    with session_scope() as session:
        kept = session.scalar(select(DeadLetter.args).where(
            DeadLetter.task_name == task_name, DeadLetter.reference == device,
            DeadLetter.replayed_at.is_(None)))
    return bool(kept) and _reported_at(kept[0]) > _reported_at(report)


def _reported_at(report: Any) -> datetime:
    try:
        return parse_report(report)["reported_at"]
    except InvalidReport:
        return datetime.min.replace(tzinfo=timezone.utc)
