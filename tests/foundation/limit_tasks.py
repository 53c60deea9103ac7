"""Tasks of the time-limit tests, loaded by their worker process (`--include`); family "tests",
so STOCKFLOW_TASK_TIME_LIMITS=tests=soft/hard sets their limits. Imports nothing of tests/."""
from __future__ import annotations

import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from core.celery_app import celery_app
from tasks.base import JobTask


@celery_app.task(name="tests.sleeps", base=JobTask, bind=True, dead_letter=True,
                 dead_letter_reference="job_id")
def sleeps(self: JobTask, seconds: float, job_id: str) -> dict[str, float]:
    """A task stuck for `seconds` (an OCR or a query that does not come back)."""
    time.sleep(seconds)
    return {"slept": seconds}


@celery_app.task(name="tests.ignores_soft_limit", base=JobTask, bind=True, dead_letter=True,
                 dead_letter_reference="job_id")
def ignores_soft_limit(self: JobTask, seconds: float, job_id: str) -> dict[str, Any]:
    """A task that swallows SoftTimeLimitExceeded (a broad `except`), which only the hard
    limit can stop."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except SoftTimeLimitExceeded:
            pass
    return {"slept": seconds}
