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
        # failures parked in Redis while the database was down are recorded
        "dead_letters.move_parked": {
            "task": "dead_letters.move_parked",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        # alerts: every rule evaluated, messages sent and retried (core/alerts/evaluator.py)
        "alerts.evaluate": {
            "task": "alerts.evaluate",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        # every job: one stuck in queued/started past its deadline is sent again or given up
        "maintenance.sweep_jobs": {
            "task": "maintenance.sweep_jobs",
            "schedule": 300.0,
            "options": {"expires": 290},
        },
        # health: devices silent for 1.5 / 3 report intervals become stale / offline
        "health.mark_silent_devices": {
            "task": "health.mark_silent_devices",
            "schedule": 60.0,
            # default queue: the health queue's batch worker only reads reports;
            # a missed minute is covered by the next one
            "options": {"queue": "default", "expires": 55},
        },
        "health.prune_history": {
            "task": "health.prune_history",
            "schedule": crontab(hour=3, minute=45),
            "kwargs": {"keep_days": settings.health_history_days},
            "options": {"queue": "default"},
        },
        # the home page's figures, live; a missed run is covered by the next one
        "maintenance.publish_overview": {
            "task": "maintenance.publish_overview",
            "schedule": settings.overview_interval_s,
            "options": {"expires": settings.overview_interval_s},
        },
        # sync: Consinco -> Plusoft every night, all entities in order (01:00 São Paulo)
        "sync.sincronizar_agendado": {
            "task": "sync.sincronizar_agendado",
            "schedule": crontab(hour=settings.plusoft_schedule_hour,
                                minute=settings.plusoft_schedule_minute),
        },
    }
