"""Device health on the server: report validation, the status upsert, fleet status and history.

Callable without Celery: tasks/health.py and the RabbitMQ bridge (processes/health_bridge.py) are
thin wrappers around `report.parse_report` and `store.apply_reports`.
"""
