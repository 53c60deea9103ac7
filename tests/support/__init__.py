"""Plain helpers shared by the tests; tests/conftest.py keeps only pytest hooks and fixtures.

- environment: the session's embedded Redis and STOCKFLOW_* variables, set up when it is first
  imported (conftest.py imports it before anything from core); ROOT, REDIS_URL, REDIS_PORT,
  MYSQL_URL, service_unavailable.
- waiting: wait_until, the one poll-until loop.
- database: database_url, use_database, clean_tables (migrated-from-empty test databases).
- workers: spawn_worker (a `celery -A tasks worker` process on the session's broker).
- web: login (test client), LiveServer (the app over HTTP).
- sse: a minimal SSE client over requests (the benchmarks use it too).
- brokers: Redis or an isolated RabbitMQ vhost per test (outage and back), spawn_worker_on a
  broker, a test-made CA, a TLS-only redis-server and a TLS front for RabbitMQ.

Importing this package itself runs nothing, so `tests.support.sse` is safe outside pytest.
"""
