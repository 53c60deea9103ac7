"""Housekeeping run by Beat: old jobs and expired SSE logs do not pile up."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from core.db import session_scope
from core.models import Job
from core.models.types import utcnow
from tasks.app import celery_app


def prune_jobs(keep_days: int) -> int:
    """Delete ended jobs older than keep_days and return how many went."""
    cutoff = utcnow() - timedelta(days=keep_days)
    with session_scope() as session:
        result = session.execute(delete(Job).where(
            Job.ended_at.is_not(None), Job.ended_at < cutoff))
        return int(result.rowcount or 0)


@celery_app.task(name="maintenance.prune_jobs")
def prune_jobs_task(keep_days: int = 30) -> int:
    return prune_jobs(keep_days)
