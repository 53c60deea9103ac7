"""Health tasks (queue `health`): `health.report` from every Pi, and Beat's fleet housekeeping.

`health.report(report)` takes seed 002's JSON object (plus the agent's fields). A bad report
is rejected with its reason, logged and counted, and the task returns normally: retrying
cannot fix it and the worker keeps going. A database failure is retried with backoff and,
after the last try, kept in the dead-letter list.

In production the health queue is read by the batch worker (core/health/batch_worker.py,
Procfile `health_worker`), which stores these same messages a batch at a time; this task is
the same contract on any Celery worker (tests, a worker that also lists `health`). On a
threads pool concurrent reports share commits (core/health/group_commit.py).
The housekeeping tasks below run on the `default` queue: the batch worker only reads reports.
"""
from __future__ import annotations

from typing import Any

from core.health import fleet, report as health_report, store
from core.health.group_commit import GroupCommit
from core.settings import get_settings
from tasks.app import celery_app
from tasks.base import JobTask, retry_countdown

_writer: GroupCommit[dict[str, Any], bool] = GroupCommit(
    store.apply_reports, max_batch=get_settings().health_batch_max)


@celery_app.task(name="health.report", base=JobTask, bind=True, max_retries=5, dead_letter=True)
def report(self: Any, report: Any) -> dict[str, Any]:
    """Store one device's report; return {"device", "applied"} or {"rejected", "reason"}."""
    try:
        row = health_report.parse_report(report)
    except health_report.InvalidReport as error:
        health_report.reject(error, source="task", raw=report)
        return {"rejected": error.code, "reason": error.reason}
    try:
        applied = _writer.submit(row)
    except Exception as exc:  # noqa: BLE001 - database trouble: retry, then dead-letter
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries))
    return {"device": row["raspberry_id"], "applied": applied}


@celery_app.task(name="health.mark_silent_devices", queue="default")
def mark_silent_devices() -> dict[str, int]:
    """Mark devices not heard from stale / offline (Beat, every minute)."""
    return fleet.mark_silent_devices()


@celery_app.task(name="health.prune_history", queue="default")
def prune_history(keep_days: int | None = None) -> int:
    """Delete history samples older than the kept days (Beat, daily)."""
    return fleet.prune_history(keep_days or get_settings().health_history_days)
