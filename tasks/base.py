"""What every task shares: the one retry policy, job-registry bookkeeping and the dead-letter
hand-off.

Retry policy: a task lists the transient errors worth retrying in Celery's own
`autoretry_for`; every retry (automatic or `self.retry()`) waits `retry_countdown()`, an
exponential backoff with jitter from core.backoff that always stays below the broker's
visibility timeout (celery#7918, kombu#337: a longer countdown is redelivered in a loop).
`max_retries` and `retry_base_s` are task attributes, read from the settings where an
operator may tune them (FromSettings). A task that gave up fails: the job is marked failed
and, with `dead_letter = True`, the task is kept for a person to replay.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import Task

from core import dead_letters, jobs
from core.backoff import backoff_s
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
    (started / finished / failed); with `dead_letter = True`, a task that gave up is stored
    for replay."""

    max_retries = 3
    retry_base_s: float = 2.0
    dead_letter = False
    # The kwarg naming what the task is about, shown and deduplicated in the dead-letter list.
    dead_letter_reference: str | None = None

    def retry_countdown(self) -> float:
        """Return this retry's wait: exponential with jitter, capped below the visibility timeout."""
        settings = get_settings()
        cap = min(settings.max_retry_countdown_s, settings.visibility_timeout_s - 60)
        return max(0.5, backoff_s(self.request.retries, float(self.retry_base_s), cap))

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
        if job_id and self.request.retries == 0:
            jobs.mark_started(job_id)

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: dict[str, Any]) -> None:
        job_id = kwargs.get("job_id")
        if job_id:
            jobs.mark_finished(job_id, retval)

    def failure_message(self, exc: BaseException) -> str:
        """The readable error a person sees for a task that gave up (subclasses word it)."""
        return f"{type(exc).__name__}: {exc}"

    def should_dead_letter(self, exc: BaseException) -> bool:
        """Whether a replay could help (subclasses exclude failures that are final)."""
        return self.dead_letter

    def record_failure(self, message: str, args: Any, kwargs: dict[str, Any]) -> None:
        """Save the failure where the domain shows it (subclasses; the job registry is below)."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: dict[str, Any],
                   einfo: Any) -> None:
        message = self.failure_message(exc)
        log.error("task failed error=%s: %s", type(exc).__name__, exc)
        self.record_failure(message, args, kwargs)
        if self.should_dead_letter(exc):
            reference = kwargs.get(self.dead_letter_reference) if self.dead_letter_reference else None
            dead_letters.record(self.name, list(args), dict(kwargs), message,
                                reference=str(reference) if reference is not None else task_id)
        # Last, so whoever waits on the job sees a failure that is already fully recorded.
        job_id = kwargs.get("job_id")
        if job_id:
            jobs.mark_failed(job_id, message)
