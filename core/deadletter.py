"""Tasks that gave up land here, with their arguments, for a person to see and replay."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from core.db import session_scope
from core.models import DeadLetter
from core.models.types import utcnow

log = logging.getLogger(__name__)


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


def list_open(task_name: str | None = None, limit: int = 200) -> list[DeadLetter]:
    """Return the entries not yet replayed, newest first."""
    with session_scope() as session:
        query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None))
        if task_name:
            query = query.where(DeadLetter.task_name == task_name)
        return list(session.scalars(query.order_by(DeadLetter.id.desc()).limit(limit)))


def replay(entry_id: int, who: str) -> str | None:
    """Send the entry's task again and mark it replayed; return the new task id, or None."""
    from tasks.app import celery_app  # the registry lives in core; sending needs the app

    with session_scope() as session:
        entry = session.get(DeadLetter, entry_id, with_for_update=True)
        if entry is None or entry.replayed_at is not None:
            return None
        result = celery_app.send_task(entry.task_name, args=entry.args, kwargs=entry.kwargs)
        entry.replayed_at = utcnow()
        entry.replayed_by = who
        return result.id
