"""The one Redis client of a process (SSE log, locks, result caches)."""
from __future__ import annotations

import redis

from core.settings import get_settings

_client: redis.Redis | None = None


def get_redis() -> redis.Redis:
    """Return this process's Redis client (str responses), creating it on first use."""
    global _client
    if _client is None:
        settings = get_settings()
        # A bounded pool that makes callers wait instead of failing: hundreds of greenlets of
        # a gevent web worker share a few connections (a command takes well under 1 ms).
        pool = redis.BlockingConnectionPool.from_url(
            settings.effective_redis_url, max_connections=settings.redis_max_connections,
            timeout=10, decode_responses=True, socket_connect_timeout=5, socket_timeout=30,
            health_check_interval=30, **settings.redis_ssl_options())
        _client = redis.Redis(connection_pool=pool)
    return _client


def reset_redis() -> None:
    """Forget the client (after fork, or when tests point at another server)."""
    global _client
    if _client is not None:
        _client.close()
    _client = None
