"""What every task shares: job-registry bookkeeping, bounded backoff and the dead-letter hand-off."""
from __future__ import annotations

import logging
from typing import Any

from celery import Task

from core import deadletter, jobs
from core.backoff import backoff_s
from core.settings import get_settings

log = logging.getLogger(__name__)


def retry_countdown(retries: int, base_s: float = 2.0) -> float:
    """Return an exponential backoff with jitter, always below the broker visibility timeout."""
    settings = get_settings()
    cap = min(settings.max_retry_countdown_s, settings.visibility_timeout_s - 60)
    return max(0.5, min(cap, backoff_s(retries, base_s, cap)))


class JobTask(Task):
    """Base task: a `job_id` kwarg is kept in step in the job registry (started / finished /
    failed); with `dead_letter = True`, a task that gave up is stored for replay."""

    dead_letter = False
    # The kwarg naming what the task is about, shown and deduplicated in the dead-letter list.
    dead_letter_reference: str | None = None

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
        log.error("task failed task=%s id=%s error=%s: %s", self.name, task_id,
                  type(exc).__name__, exc)
        self.record_failure(message, args, kwargs)
        if self.should_dead_letter(exc):
            reference = kwargs.get(self.dead_letter_reference) if self.dead_letter_reference else None
            deadletter.record(self.name, list(args), dict(kwargs), message,
                              reference=str(reference) if reference is not None else task_id)
        # Last, so whoever waits on the job sees a failure that is already fully recorded.
        job_id = kwargs.get("job_id")
        if job_id:
            jobs.mark_failed(job_id, message)
