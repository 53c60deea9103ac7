"""The Beat schedule. Keys are the task names. Run with
`celery -A tasks beat -S redbeat.RedBeatScheduler`: RedBeat holds a Redis lock, so a
second Beat started by mistake waits instead of scheduling everything twice."""
from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from core.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Return the periodic tasks; times are in settings.timezone (America/Sao_Paulo)."""
    return {
        "maintenance.prune_jobs": {
            "task": "maintenance.prune_jobs",
            "schedule": crontab(hour=3, minute=30),
            "kwargs": {"keep_days": 30},
        },
    }
