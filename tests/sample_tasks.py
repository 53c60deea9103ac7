"""Tasks used only by the foundation tests, registered on the real app (default queue)."""
from __future__ import annotations

import logging
import threading
from typing import Any

from core import jobs
from core.celery_app import celery_app
from core.sse import publish
from tasks.base import JobTask

# Tests hold this to keep a task "started" while they look at it.
gate = threading.Event()


@celery_app.task(name="tests.counted_steps", base=JobTask, bind=True)
def counted_steps(self: Any, steps: int, job_id: str, wait_for_gate: bool = False) -> dict[str, int]:
    for step in range(steps):
        jobs.set_progress(job_id, int(100 * step / steps), stage=f"passo {step + 1}")
        if wait_for_gate and step == 0:
            gate.wait(timeout=30)
    return {"steps": steps}


@celery_app.task(name="tests.always_fails", base=JobTask)
def always_fails(job_id: str) -> None:
    raise ValueError("comprovante ilegível")


@celery_app.task(name="tests.publish_events")
def publish_events(channel: str, count: int, start: int = 0) -> list[str]:
    return [publish(channel, "tick", {"n": n}) for n in range(start, start + count)]


@celery_app.task(name="tests.logs_a_line", base=JobTask)
def logs_a_line(message: str, job_id: str | None = None) -> None:
    logging.getLogger("tests.sample_tasks").warning(message)
