"""Housekeeping run by Beat (queue default): old jobs do not pile up, parked failures reach the
database, and no job stays queued or started forever.

These are sweeps: each run redoes what the one before could not, so a failed run needs no
retry or dead letter of its own (the next run, a minute or five later, is the retry).
"""
from __future__ import annotations

from core import dead_letters, jobs, overview
from core.celery_app import celery_app
from tasks.base import give_up_job, record_parked


@celery_app.task(name="maintenance.prune_jobs")
def prune_jobs(keep_days: int = 30) -> int:
    """Delete ended jobs older than keep_days; return how many went."""
    return jobs.prune(keep_days)


@celery_app.task(name="dead_letters.move_parked")
def move_parked_dead_letters() -> int:
    """Every minute: record the failures parked in Redis while the database was down (dead
    letter, job, domain); return how many."""
    return dead_letters.move_parked(recorder=record_parked)


@celery_app.task(name="maintenance.sweep_jobs")
def sweep_jobs() -> dict[str, int]:
    """Every 5 minutes: send jobs stuck in queued/started past their deadline again, or give
    them up (dead letter, job failed) after STOCKFLOW_JOB_MAX_RESENDS; return the counts."""
    return jobs.sweep(give_up=give_up_job)


@celery_app.task(name="maintenance.publish_overview")
def publish_overview() -> dict[str, str | None]:
    """Every STOCKFLOW_OVERVIEW_INTERVAL_S: publish the home page's figures (and sample the
    queue depths); return each block's SSE event id."""
    return overview.publish_all()
