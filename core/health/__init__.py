"""Device health on the server: report validation, the status upsert, fleet status and history.

Callable without Celery: tasks/health.py and the two processes (processes/health_bridge.py,
processes/health_batch_worker.py) are thin wrappers around `report.parse_report`,
`store.apply_reports_isolating` and, for what cannot be stored, `poison.refuse`.
"""
