"""Housekeeping run by Beat (queue default): old jobs do not pile up, parked dead letters
reach the table."""
from __future__ import annotations

from core import dead_letters, jobs
from core.celery_app import celery_app


@celery_app.task(name="maintenance.prune_jobs")
def prune_jobs(keep_days: int = 30) -> int:
    """Delete ended jobs older than keep_days; return how many went."""
    return jobs.prune(keep_days)


@celery_app.task(name="dead_letters.move_parked")
def move_parked_dead_letters() -> int:
    """Every minute: move dead letters parked while the database was down into the table."""
    return dead_letters.move_parked()
