"""Health tasks (queue `health`): `health.report` from every Pi, and Beat's fleet housekeeping.

`health.report(report)` takes seed 002's JSON object (plus the agent's fields). A bad report
is rejected with its reason, logged and counted, and the task returns normally: retrying
cannot fix it and the worker keeps going. A database failure is retried with backoff and,
after the last try, kept in the dead-letter list.

In production the health queue is read by the batch worker (processes/health_batch_worker.py,
Procfile `health_worker`), which stores these same messages a batch at a time; this task is
the same contract on any Celery worker (tests, a worker that also lists `health`). On a
threads pool concurrent reports share commits (core/health/group_commit.py).
The housekeeping tasks below run on the `default` queue: the batch worker only reads reports.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from core.celery_app import celery_app
from core.health import fleet, store
from core.health import report as health_report
from core.health.group_commit import GroupCommit
from core.settings import get_settings
from tasks.base import JobTask

_writer: GroupCommit[dict[str, Any], bool] = GroupCommit(
    store.apply_reports, max_batch=get_settings().health_batch_max)


# Database trouble is retried (about a minute in all), then dead-lettered.
@celery_app.task(name="health.report", base=JobTask, bind=True, autoretry_for=(SQLAlchemyError, TimeoutError),
                 max_retries=5, dead_letter=True)
def report(self: JobTask, report: Any) -> dict[str, Any]:
    """Store one device's report; return {"device", "applied"} or {"rejected", "reason"}."""
    try:
        row = health_report.parse_report(report)
    except health_report.InvalidReport as error:
        health_report.reject(error, source="task", raw=report)
        return {"rejected": error.code, "reason": error.reason}
    applied = _writer.submit(row)
    return {"device": row["raspberry_id"], "applied": applied}


@celery_app.task(name="health.mark_silent_devices")
def mark_silent_devices() -> dict[str, int]:
    """Mark devices not heard from stale / offline (Beat, every minute)."""
    return fleet.mark_silent_devices()


@celery_app.task(name="health.prune_history")
def prune_history(keep_days: int | None = None) -> int:
    """Delete history samples older than the kept days (Beat, daily)."""
    return fleet.prune_history(keep_days or get_settings().health_history_days)
