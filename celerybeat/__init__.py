"""Celery Beat: the schedule, and RedBeat's lock so only one Beat schedules."""
