"""Write health reports: one upsert statement for the current status, one insert for history.

The upsert is the database's own (MariaDB ON DUPLICATE KEY UPDATE, SQLite ON CONFLICT DO
UPDATE), guarded so an older report never overwrites newer state: a redelivered report is
a no-op and a late one only adds its history sample. Many reports go in one statement
when the caller has several (the worker's group commit, the bridge's batch).

apply_reports_isolating tells the database's fault from a report's: a database that does not
answer raises DatabaseUnavailable (keep every report, try later); rows it refuses while it
answers are found by halving the batch and returned as Refused (dead-letter those only).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.db import dialect_name, session_scope, upsert_insert
from core.health.fleet import CHANNEL, summaries
from core.models import DeviceHealthSample, DeviceStatus
from core.sse import publish_safely

log = logging.getLogger(__name__)

# Columns a newer report replaces; reported_at goes last because MariaDB evaluates the
# assignments in order and the others compare against the stored reported_at.
_KEY = "raspberry_id"
UPDATED_COLUMNS = [c.name for c in DeviceStatus.__table__.columns
                   if c.name not in ("id", _KEY, "first_seen", "reported_at")] + ["reported_at"]
SAMPLE_COLUMNS = ("raspberry_id", "reported_at", "cpu_temp_c", "cpu_percent", "mem_percent",
                  "wifi_signal_dbm", "spool_depth")


def apply_reports(rows: Sequence[dict[str, Any]]) -> list[bool]:
    """Store parsed reports (core.health.report.parse_report rows) in one transaction, publish the
    changed devices on SSE after commit, and return per report whether it is now the stored state."""
    if not rows:
        return []
    with session_scope() as session:
        write_reports(session, rows)
        stored = {device.raspberry_id: device for device in session.scalars(
            select(DeviceStatus).where(DeviceStatus.raspberry_id.in_({r[_KEY] for r in rows})))}
        changed = summaries(session, stored.values())
    publish_safely(CHANNEL, "devices", {"devices": changed})
    return [stored[r[_KEY]].reported_at == r["reported_at"] for r in rows]


class DatabaseUnavailable(RuntimeError):
    """The database does not answer: no report is to blame; keep them all and try later."""


@dataclass(frozen=True)
class Refused:
    """The outcome of a report the database refused while it took others (the report's fault)."""

    reason: str


def apply_reports_isolating(rows: Sequence[dict[str, Any]],
                            write: Callable[[Sequence[dict[str, Any]]], Sequence[bool]] = apply_reports,
                            ) -> list[bool | Refused]:
    """Store rows as apply_reports does; when a batch fails while the database answers, split it
    in halves until the rows it refuses are alone, and return Refused for those (the others are
    stored). Raise DatabaseUnavailable when the database does not answer."""
    outcomes: list[bool | Refused] = [Refused("not written")] * len(rows)
    _write_halves(rows, 0, len(rows), write, outcomes)
    return outcomes


def _write_halves(rows: Sequence[dict[str, Any]], start: int, end: int,
                  write: Callable[[Sequence[dict[str, Any]]], Sequence[bool]],
                  outcomes: list[bool | Refused]) -> None:
    # A lone row gets a second try: a deadlock or a dropped connection may have hit it.
    for _ in range(2 if end - start == 1 else 1):
        try:
            outcomes[start:end] = write(rows[start:end])
            return
        except Exception as exc:  # noqa: BLE001 - sorted below: the database's fault or the row's
            error = exc
        if not database_answers():
            raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error
    if end - start == 1:
        reason = f"{type(error).__name__}: {getattr(error, 'orig', None) or error}"[:500]
        log.warning("health report refused by the database device=%s reason=%s",
                    rows[start].get(_KEY), reason)
        outcomes[start] = Refused(reason)
        return
    middle = (start + end) // 2
    _write_halves(rows, start, middle, write, outcomes)
    _write_halves(rows, middle, end, write, outcomes)


def database_answers() -> bool:
    """Return whether the database runs a trivial query now."""
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not now"
        return False


def write_reports(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Execute the status upsert and the history insert for these rows (the caller commits).

    Both are one statement executed with many parameter sets: the statement compiles once
    (SQLAlchemy caches it) and mysqlclient sends the rows as one multi-row INSERT.
    """
    session.execute(status_upsert(), [{**row, "first_seen": row["last_update"]} for row in rows])
    samples = {(r[_KEY], r["reported_at"]): {c: r[c] for c in SAMPLE_COLUMNS} for r in rows}
    session.execute(sample_insert(), list(samples.values()))


def status_upsert() -> Any:
    """Return the device_status INSERT ... upsert; a row replaces the stored one only when it
    is not older (reported_at), so redelivered and late reports change nothing."""
    table = DeviceStatus.__table__
    insert = upsert_insert(table)
    if dialect_name() == "mysql":
        newer = insert.inserted.reported_at >= table.c.reported_at
        return insert.on_duplicate_key_update([
            (name, func.IF(newer, insert.inserted[name], table.c[name])) for name in UPDATED_COLUMNS])
    return insert.on_conflict_do_update(
        index_elements=[table.c[_KEY]],
        set_={name: insert.excluded[name] for name in UPDATED_COLUMNS},
        where=insert.excluded.reported_at >= table.c.reported_at)


def sample_insert() -> Any:
    """Return an INSERT of history samples that skips ones already stored (redelivery)."""
    table = DeviceHealthSample.__table__
    insert = upsert_insert(table)
    if dialect_name() == "mysql":
        return insert.on_duplicate_key_update(raspberry_id=table.c.raspberry_id)
    return insert.on_conflict_do_nothing(index_elements=["raspberry_id", "reported_at"])
