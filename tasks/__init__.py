"""The Celery task modules: `celery -A tasks worker` (and `beat`, `flower`) load them here.

The app itself and its configuration live in core.celery_app; each module below holds one
feature's tasks and registers them on that app. Beat's schedule is wired here too.
"""
from celerybeat.schedule import beat_schedule
from core.celery_app import celery_app
from core.settings import get_settings
from tasks import alerts, baixa, comprovantes, health, maintenance, ruptura, sync

celery_app.conf.beat_schedule = beat_schedule(get_settings())
app = celery_app

__all__ = ["alerts", "app", "baixa", "celery_app", "comprovantes", "health", "maintenance", "ruptura",
           "sync"]
