"""Tasks that gave up land here, with their arguments, for a person to see and replay.

When the database itself is down, an entry is parked in a Redis list (AOF-persisted) and
`move_parked` (Beat, every minute) writes it to the table once the database is back.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select

from core.db import session_scope
from core.enqueue import enqueue
from core.models import DeadLetter
from core.models.types import utcnow
from core.redis_client import get_redis

log = logging.getLogger(__name__)

PARKED_KEY = "stockflow:dead-letters:parked"


def record(task_name: str, args: list[Any], kwargs: dict[str, Any], error: str,
           reference: str | None = None) -> int:
    """Store a given-up task and return its dead-letter id (one open entry per reference)."""
    with session_scope() as session:
        if reference is not None:
            existing = session.scalar(select(DeadLetter).where(
                DeadLetter.task_name == task_name, DeadLetter.reference == reference,
                DeadLetter.replayed_at.is_(None)))
            if existing is not None:
                existing.error = error
                return existing.id
        entry = DeadLetter(task_name=task_name, args=list(args), kwargs=dict(kwargs),
                           error=error, reference=reference)
        session.add(entry)
        session.flush()
        log.error("dead-letter id=%s task=%s reference=%s error=%s",
                  entry.id, task_name, reference, error)
        return entry.id


def park(task_name: str, args: list[Any], kwargs: dict[str, Any], error: str,
         reference: str) -> None:
    """Keep a dead letter in Redis until the database takes it (never drop it)."""
    entry = {"task_name": task_name, "args": args, "kwargs": kwargs, "error": error,
             "reference": reference}
    get_redis().rpush(PARKED_KEY, json.dumps(entry, default=str))
    log.error("dead-letter parked in Redis (database down) task=%s reference=%s",
              task_name, reference)


def move_parked(limit: int = 500) -> int:
    """Move dead letters parked in Redis into the table; return how many moved."""
    redis = get_redis()
    moved = 0
    while moved < limit:
        raw = redis.lindex(PARKED_KEY, 0)
        if raw is None:
            break
        entry = json.loads(raw)
        # record() dedupes on the reference, so a crash between these two lines is harmless.
        record(entry["task_name"], entry["args"], entry["kwargs"], entry["error"],
               reference=entry["reference"])
        redis.lpop(PARKED_KEY)
        moved += 1
    return moved


def list_open(task_name: str | None = None, limit: int = 200) -> list[DeadLetter]:
    """Return the entries not yet replayed, newest first."""
    with session_scope() as session:
        query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None))
        if task_name:
            query = query.where(DeadLetter.task_name == task_name)
        return list(session.scalars(query.order_by(DeadLetter.id.desc()).limit(limit)))


def replay(entry_id: int, who: str) -> str | None:
    """Send the entry's task again and mark it replayed; return the new task id, or None."""
    with session_scope() as session:
        entry = session.get(DeadLetter, entry_id, with_for_update=True)
        if entry is None or entry.replayed_at is not None:
            return None
        task_id = enqueue(entry.task_name, dict(entry.kwargs), args=list(entry.args))
        entry.replayed_at = utcnow()
        entry.replayed_by = who
        return task_id
