"""Health tasks (queue `health`): `health.report` from every Pi, and Beat's fleet housekeeping.

`health.report(report)` takes seed 002's JSON object (plus the agent's fields). A poison
report (invalid, a parser failure, a row the database refuses while it takes others) is
counted and kept in the dead letters with its reason (core.health.poison), and the task
returns normally: retrying cannot fix it and the worker keeps going. While the database does
not answer the task retries (STOCKFLOW_HEALTH_MAX_RETRIES, about 8.5 minutes) and then gives
up into the dead letters: one open entry per device, the newest report (an older one is
superseded anyway), parked in Redis while the database is still down (tasks/base.py).

`health.bridge` and `health.batch_worker` are the replays of what those consumers kept: the
kept message (text or base64 plus its encoding) goes through the same code again.

In production the health queue is read by the batch worker (processes/health_batch_worker.py,
Procfile `health_worker`), which stores these same messages a batch at a time; this task is
the same contract on any Celery worker (tests, a worker that also lists `health`). On a
threads pool concurrent reports share commits (core/health/group_commit.py).
The housekeeping tasks below run on the `default` queue: the batch worker only reads reports.
"""
from __future__ import annotations

from typing import Any

from core.celery_app import celery_app
from core.health import fleet, poison, store
from core.health.group_commit import GroupCommit
from core.health.report import InvalidReport, parse_report, registry_refusal
from core.health.store import DatabaseUnavailable, Refused
from core.settings import get_settings
from tasks.base import FromSettings, JobTask

_writer: GroupCommit[dict[str, Any], bool | Refused] = GroupCommit(
    store.apply_reports_isolating, max_batch=get_settings().health_batch_max)


class HealthReportTask(JobTask):
    """Retries while the database does not answer, then a dead letter per device (the newest)."""

    autoretry_for = (DatabaseUnavailable, TimeoutError)
    max_retries = FromSettings("health_max_retries")
    retry_base_s = FromSettings("health_retry_base_s")
    dead_letter = True

    def record_given_up(self, failure: dict[str, Any]) -> None:
        # One open dead letter per device, holding its newest report: a long outage leaves one
        # entry per Pi, not one per report, and an older report (superseded: the device's
        # state is its newest) is not kept. A replayed kept message names no device: its own.
        report = failure["args"][0] if failure["args"] else None
        device = poison.device_of(report)
        if device and failure.get("dead_letter", True):
            failure = {**failure, "reference": device,
                       "dead_letter": not poison.newer_report_kept(self.name, device, report)}
        super().record_given_up(failure)


def store_report(consumer: str, report: Any, encoding: str | None,
                 sender: Any = None) -> dict[str, Any]:
    """Store one report (or a replayed kept message); return {"device", "applied"}, or
    {"rejected", "reason"} once a poison one is kept in the dead letters. `sender`: the
    broker user that published it (the AMQP user_id), when it carries one."""
    raw: Any = None
    try:
        raw = poison.report_of_call(report, encoding)
        row = parse_report(raw)
    except InvalidReport as error:
        return _refused(consumer, report, encoding, error, raw)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not fail or retry the task
        return _refused(consumer, report, encoding, poison.unexpected(exc), raw)
    if refused := registry_refusal(row, sender):
        return _refused(consumer, report, encoding, refused, raw)
    outcome = _writer.submit(row)
    if isinstance(outcome, Refused):
        return _refused(consumer, report, encoding, InvalidReport("refused", outcome.reason), raw)
    return {"device": row["raspberry_id"], "applied": outcome}


def _refused(consumer: str, report: Any, encoding: str | None, error: InvalidReport,
             raw: Any) -> dict[str, Any]:
    poison.refuse(consumer, poison.message_of_call(report, encoding), error, raw=raw)
    return {"rejected": error.code, "reason": error.reason}


@celery_app.task(name="health.report", base=HealthReportTask, bind=True)
def report(self: HealthReportTask, report: Any, encoding: str | None = None) -> dict[str, Any]:
    """Store one device's report; `encoding` only for a replayed dead letter."""
    return store_report(self.name, report, encoding, (self.request.properties or {}).get("user_id"))


@celery_app.task(name="health.bridge", base=HealthReportTask, bind=True)
def replay_bridge(self: HealthReportTask, report: Any, encoding: str | None = None) -> dict[str, Any]:
    """Replay a message the RabbitMQ bridge kept in the dead letters."""
    return store_report(self.name, report, encoding)


@celery_app.task(name="health.batch_worker", base=HealthReportTask, bind=True)
def replay_batch_worker(self: HealthReportTask, report: Any, encoding: str | None = None) -> dict[str, Any]:
    """Replay a message the health batch worker kept in the dead letters."""
    return store_report(self.name, report, encoding)


@celery_app.task(name="health.mark_silent_devices")
def mark_silent_devices() -> dict[str, int]:
    """Mark devices not heard from stale / offline (Beat, every minute)."""
    return fleet.mark_silent_devices()


@celery_app.task(name="health.prune_history")
def prune_history(keep_days: int | None = None) -> int:
    """Delete history samples older than the kept days (Beat, daily)."""
    return fleet.prune_history(keep_days or get_settings().health_history_days)
