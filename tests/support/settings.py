"""Production settings every production check accepts: tests change one value to see it refused."""
from __future__ import annotations

from typing import Any

PRODUCTION: dict[str, Any] = {
    "env": "production", "secret_key": "k" * 48,
    "database_url": "mysql+mysqldb://stockflow:senha-do-banco@db/stockflow",
    "redis_url": "redis://stockflow:senha-do-redis-longa@redis:6379/0",
    "flower_basic_auth": "ops:quarta-estante-violeta-27", "session_cookie_secure": True,
    "device_signing_key": "d" * 48,
    "metrics_token": "m" * 40,
}
