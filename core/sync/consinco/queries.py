"""The SQL that reads the Consinco views: API pages, key-ordered sync batches, watermarks.

Sync batches use keyset pagination (`WHERE key > last ORDER BY key FETCH FIRST n`): each
batch is one short query, so no cursor stays open across the HTTP calls (an Oracle cursor
held for an hour risks ORA-01555, and on SQLite a reader inside a transaction would block
the checkpoint writes), and the last key sent is the exact place to resume from.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Row, Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from core.sync.consinco.entities import SourceEntity

FULL, INCREMENTAL = "full", "incremental"


def page_statement(entity: SourceEntity, skip: int, limit: int) -> Select[Any]:
    """Return the statement of one API page (`pular`/`limite`) in stable key order."""
    return (select(entity.table).order_by(*entity.key_columns).offset(skip).limit(limit))


def key_after(entity: SourceEntity, last_key: Sequence[Any]) -> ColumnElement[bool]:
    """Return `key > last_key` spelled so every database (Oracle has no row-value `>`) can
    range-scan the key index: a >= x AND (a > x OR (b >= y AND (b > y OR ...)))."""
    columns = entity.key_columns
    condition: ColumnElement[bool] = columns[-1] > last_key[-1]
    for column, value in zip(reversed(columns[:-1]), reversed(last_key[:-1])):
        condition = and_(column >= value, or_(column > value, condition))
    return condition


def overlap_start(entity: SourceEntity, watermark: Any, overlap_minutes: int,
                  overlap_days: int) -> Any:
    """Return where an incremental run after `watermark` starts reading: that far back, so
    rows committed after the last run with an older or equal stamp are read again."""
    if watermark is None or entity.watermark_column is None:
        return watermark
    if entity.watermark_by_day:
        return watermark - timedelta(days=overlap_days)
    return watermark - timedelta(minutes=overlap_minutes)


def watermark_filters(entity: SourceEntity, mode: str, since: Any,
                      until: Any) -> list[ColumnElement[bool]]:
    """Return the WHERE terms of a run's window: [since, until] incremental, <= until full.

    The upper bound is fixed when the run starts, so rows changed during a run wait for the
    next run instead of moving the window under our feet. The lower bound is inclusive: a
    row stamped exactly at the last watermark may have been committed after it was read.
    Rows without a watermark belong to full runs only.
    """
    column = entity.watermark_column
    if column is None:
        return []
    terms: list[ColumnElement[bool]] = []
    if until is not None:
        terms.append(column <= until if mode == INCREMENTAL else or_(column <= until,
                                                                     column.is_(None)))
    if mode == INCREMENTAL and since is not None:
        terms.append(column >= since)
    return terms


def batch_statement(entity: SourceEntity, last_key: Sequence[Any] | None,
                    filters: Sequence[ColumnElement[bool]], limit: int) -> Select[Any]:
    """Return the statement reading the next `limit` rows after `last_key`, in key order."""
    statement = select(entity.table)
    if last_key is not None:
        statement = statement.where(key_after(entity, last_key))
    return statement.where(*filters).order_by(*entity.key_columns).limit(limit)


def read_batch(session: Session, entity: SourceEntity, last_key: Sequence[Any] | None,
               filters: Sequence[ColumnElement[bool]], limit: int) -> list[Row[Any]]:
    """Return the next rows after `last_key` (at most `limit`, one round trip on Oracle)."""
    return list(session.execute(batch_statement(entity, last_key, filters, limit)))


def keys_in(entity: SourceEntity, keys: Sequence[Sequence[Any]]) -> ColumnElement[bool]:
    """Return `key IN (keys)`: a plain IN for one column, a row-value IN otherwise (Oracle,
    MariaDB and SQLite all have it; Oracle allows at most 1000 entries per list)."""
    columns = entity.key_columns
    if len(columns) == 1:
        return columns[0].in_([key[0] for key in keys])
    return tuple_(*columns).in_([tuple(key) for key in keys])


def read_by_keys(session: Session, entity: SourceEntity,
                 keys: Sequence[Sequence[Any]]) -> list[Row[Any]]:
    """Return the source rows with these keys (those that still exist), in key order."""
    if not keys:
        return []
    statement = select(entity.table).where(keys_in(entity, keys))
    return list(session.execute(statement.order_by(*entity.key_columns)))


def read_page(session: Session, entity: SourceEntity, skip: int, limit: int) -> list[Row[Any]]:
    """Return one API page of source rows."""
    return list(session.execute(page_statement(entity, skip, limit)))


def count_rows(session: Session, entity: SourceEntity, last_key: Sequence[Any] | None,
               filters: Sequence[ColumnElement[bool]]) -> int:
    """Return how many rows remain after `last_key` in the window (for the progress bar)."""
    statement = select(func.count()).select_from(entity.table).where(*filters)
    if last_key is not None:
        statement = statement.where(key_after(entity, last_key))
    return int(session.scalar(statement) or 0)


def watermark_ceiling(session: Session, entity: SourceEntity,
                      timezone: str) -> date | datetime | None:
    """Return the upper bound of a run starting now: yesterday for a sales day, else the
    newest watermark in the source (its own clock, so no skew between servers)."""
    column = entity.watermark_column
    if column is None:
        return None
    if entity.watermark_by_day:
        return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)
    return session.scalar(select(func.max(column)))
