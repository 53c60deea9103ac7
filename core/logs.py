"""One log format for every server process: timestamp, level, logger, key=value message.

A line written while a Celery task runs ends with its `task_id=` and, when the task belongs
to a job, its `job_id=`, so one grep finds everything a task or job did.
"""
from __future__ import annotations

import logging
import sys

from celery import current_task

from core.settings import get_settings

FORMAT = "[%(asctime)s] %(levelname)s %(name)s: %(message)s%(task_context)s"


class TaskContext(logging.Filter):
    """Add ` task=<name> task_id=<id> job_id=<id>` to records written inside a running task."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.task_context = ""
        task = current_task._get_current_object() if current_task else None
        request = getattr(task, "request", None)
        task_id = getattr(request, "id", None)
        if task_id:
            context = f" task={task.name} task_id={task_id}"
            job_id = (getattr(request, "kwargs", None) or {}).get("job_id")
            if job_id:
                context += f" job_id={job_id}"
            record.task_context = context
        return True


def configure_logging() -> None:
    """Send logs to stderr (journald/honcho collect them) at the configured level."""
    root = logging.getLogger()
    if any(getattr(h, "_stockflow", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(TaskContext())
    handler._stockflow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(get_settings().log_level.upper())
    # Alembic announces its plugins at INFO whenever it is imported; that is not news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
