"""Celery entry point: `celery -A tasks worker` finds `tasks.app`'s Celery instance here."""
from tasks.app import celery_app

app = celery_app

__all__ = ["app", "celery_app"]
