"""What every task shares: the one retry policy, job-registry bookkeeping that survives a
database outage, readable time-limit failures and the dead-letter hand-off.

Retry policy: a task lists the transient errors worth retrying in Celery's own
`autoretry_for`; every retry (automatic or `self.retry()`) waits `retry_countdown()`, an
exponential backoff with jitter from core.backoff that always stays below the broker's
visibility timeout (celery#7918, kombu#337: a longer countdown is redelivered in a loop).
`max_retries` and `retry_base_s` are task attributes, read from the settings where an
operator may tune them (FromSettings).

Nothing is dropped when the database is down. A job's start or end that the database cannot
take makes the task retry (the broker keeps it; the task is idempotent). A task that gave up
records its failure where the domain shows it (`record_failure`), as a dead letter (with
`dead_letter = True`) and on its job; when the database cannot take that, the whole failure is
parked in Redis and Beat's `dead_letters.move_parked` records it the same way once the database
is back (`record_parked`). With Redis down too, the message goes back to the broker (Reject,
requeue) instead of being acknowledged unrecorded.

Time limits (per family, from the settings; core.celery_app applies them): the soft one raises
SoftTimeLimitExceeded in the task, which fails with a readable pt-BR message; at the hard one
the worker kills the process, starts another, and calls `on_failure` itself (Celery 5.7,
requirements.txt; tests/foundation/test_time_limits.py checks it).
"""
from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import Reject, SoftTimeLimitExceeded, TimeLimitExceeded
from sqlalchemy.exc import SQLAlchemyError

from core import dead_letters, jobs
from core.backoff import backoff_s
from core.celery_app import celery_app
from core.models import Job
from core.settings import get_settings

log = logging.getLogger(__name__)


class FromSettings:
    """A task attribute read from the settings at each use, so a changed setting applies at once."""

    def __init__(self, field: str) -> None:
        self.field = field

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return getattr(get_settings(), self.field)


class JobTask(Task):
    """Base task: the retry policy; a `job_id` kwarg kept in step in the job registry
    (started / finished / failed); a task that gave up recorded even with the database down,
    and with `dead_letter = True` stored for replay."""

    max_retries = 3
    retry_base_s: float = 2.0
    dead_letter = False
    # The kwarg naming what the task is about, shown and deduplicated in the dead-letter list.
    dead_letter_reference: str | None = None

    def retry_countdown(self) -> float:
        """Return this retry's wait: exponential with jitter, capped below the visibility timeout."""
        settings = get_settings()
        cap = min(settings.max_retry_countdown_s, settings.visibility_timeout_s - 60)
        # At least 1 s: RabbitMQ's native delayed delivery (quorum queues) counts whole
        # seconds, and Celery drops a retry whose countdown rounds down to 0 (ValueError).
        return max(1.0, backoff_s(self.request.retries, float(self.retry_base_s), cap))

    @property
    def retries_left(self) -> bool:
        """Whether a retry is still allowed (False on the last try)."""
        return self.request.retries < self.max_retries

    def retry(self, args: Any = None, kwargs: Any = None, exc: BaseException | None = None,
              throw: bool = True, eta: Any = None, countdown: float | None = None,
              max_retries: int | None = None, **options: Any) -> Any:
        if countdown is None and eta is None:
            countdown = self.retry_countdown()
        if self.retries_left:
            log.warning("task retry %d/%d in_s=%.1f error=%s", self.request.retries + 1,
                        self.max_retries, countdown or 0,
                        f"{type(exc).__name__}: {exc}" if exc else "-")
        return super().retry(args=args, kwargs=kwargs, exc=exc, throw=throw, eta=eta,
                             countdown=countdown, max_retries=max_retries, **options)

    def before_start(self, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        job_id = kwargs.get("job_id")
        if not job_id:
            return
        try:
            jobs.mark_started(job_id, first_try=self.request.retries == 0)
        except SQLAlchemyError as exc:
            # The database is down: the broker keeps the task until the retry (the body has
            # not run). Past the last retry, on_failure parks the failure.
            raise self.retry(exc=exc)

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        job_id = kwargs.get("job_id")
        if not job_id:
            return
        try:
            jobs.mark_finished(job_id, retval)
        except SQLAlchemyError as exc:
            # The work is saved but its job cannot say so: run again later (idempotent, it
            # returns the saved result); past the retries the sweeper sends the job again.
            if not self.retries_left:
                log.error("job end not recorded (database down) job=%s: the sweeper resends it",
                          job_id)
                return
            self.retry(exc=exc, throw=False)

    def failure_message(self, exc: BaseException) -> str:
        """The readable error a person sees for a task that gave up (subclasses word it)."""
        return self.interruption_message(exc) or f"{type(exc).__name__}: {exc}"

    def interruption_message(self, exc: BaseException) -> str | None:
        """The pt-BR message of a task stopped by its time limit, or None for other failures."""
        if isinstance(exc, SoftTimeLimitExceeded):
            return (f"Tempo limite de {self.soft_time_limit:g} s excedido: a tarefa foi "
                    "interrompida.")
        if isinstance(exc, TimeLimitExceeded):
            limit = exc.args[0] if exc.args else self.time_limit
            return (f"Tempo limite máximo de {limit:g} s excedido: o processo da tarefa foi "
                    "encerrado.")
        return None

    def should_dead_letter(self, exc: BaseException) -> bool:
        """Whether a replay could help (subclasses exclude failures that are final)."""
        return self.dead_letter

    def record_failure(self, message: str, task_id: str | None, args: list[Any],
                       kwargs: dict[str, Any]) -> None:
        """Save the failure where the domain shows it (subclasses; idempotent: a parked
        failure is recorded again once the database is back)."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                   einfo: Any) -> None:
        log.error("task failed error=%s: %s", type(exc).__name__, exc)
        reference = kwargs.get(self.dead_letter_reference) if self.dead_letter_reference else None
        failure = {"task_name": self.name, "task_id": task_id, "args": list(args or ()),
                   "kwargs": dict(kwargs or {}), "error": self.failure_message(exc),
                   "reference": str(reference) if reference is not None else task_id,
                   "dead_letter": self.should_dead_letter(exc)}
        try:
            self.record_given_up(failure)
        except Exception as error:  # noqa: BLE001 - the database (or Redis) is down: park it
            log.warning("failure not recorded (%s: %s), parking it", type(error).__name__, error)
            self.park(failure)

    def record_given_up(self, failure: dict[str, Any]) -> None:
        """Record a failure (as on_failure builds it, or as parked): where the domain shows
        it, its dead letter, then its job, so whoever waits on the job sees it complete."""
        args, kwargs, error = failure["args"], failure["kwargs"], failure["error"]
        self.record_failure(error, failure.get("task_id"), args, kwargs)
        if failure.get("dead_letter", True):
            dead_letters.record(self.name, args, kwargs, error, reference=failure["reference"])
        if job_id := kwargs.get("job_id"):
            jobs.mark_failed(job_id, error)

    def park(self, failure: dict[str, Any]) -> None:
        """Keep the failure in Redis for move_parked; if even that fails, hand the message
        back to the broker (in a pool process) rather than acknowledge it unrecorded."""
        try:
            dead_letters.park(**failure)
        except Exception as error:
            if self.request.id == failure["task_id"]:  # the task's own process, not the
                raise Reject(error, requeue=True) from error  # worker's (hard time limit)
            log.exception("failure neither recorded nor parked task=%s reference=%s",
                          self.name, failure["reference"])


def record_parked(entry: dict[str, Any]) -> None:
    """Record a failure parked while the database was down, as its task would have (Beat's
    dead_letters.move_parked); a database still down raises, so it stays parked."""
    task = celery_app.tasks.get(entry["task_name"])
    if not isinstance(task, JobTask):
        dead_letters.record_entry(entry)
        return
    try:
        task.record_given_up(entry)
    except SQLAlchemyError:
        raise
    except Exception:  # noqa: BLE001 - a domain hook that cannot record must not block the rest
        log.exception("parked failure recorded as a dead letter only task=%s reference=%s",
                      entry["task_name"], entry["reference"])
        dead_letters.record_entry(entry)


def give_up_job(job: Job, reason: str) -> None:
    """Record a stuck job the sweeper gave up on, as its task gives up: where the domain shows
    it, a dead letter to replay, the job failed (core.jobs.sweep's give_up)."""
    task = celery_app.tasks.get(job.task_name or "")
    kwargs = dict(job.task_kwargs or {})
    if not isinstance(task, JobTask):
        if job.task_name:
            dead_letters.record(job.task_name, [], kwargs, reason, reference=job.id)
        jobs.mark_failed(job.id, reason)
        return
    reference = kwargs.get(task.dead_letter_reference) if task.dead_letter_reference else None
    task.record_given_up({"task_name": task.name, "task_id": None, "args": [], "kwargs": kwargs,
                          "error": reason, "dead_letter": True,
                          "reference": str(reference) if reference is not None else job.id})
    if "job_id" not in kwargs:
        jobs.mark_failed(job.id, reason)
