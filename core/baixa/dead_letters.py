"""Dead letters of baixa.registrar that could not be written because the database was down.

They wait in a Redis list (AOF-persisted) until `recuperar_dead_letters` (Beat, every minute)
moves them into the dead-letter table.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from core.redis_client import get_redis

log = logging.getLogger(__name__)

PENDING_DEAD_LETTERS = "stockflow:baixa:dead-letters-pending"


def park(task_name: str, args: list[Any], kwargs: dict[str, Any], error: str,
         reference: str) -> None:
    """Keep a dead letter in Redis until the database takes it (never drop it)."""
    entry = {"task_name": task_name, "args": args, "kwargs": kwargs, "error": error,
             "reference": reference}
    get_redis().rpush(PENDING_DEAD_LETTERS, json.dumps(entry, default=str))
    log.error("dead-letter parked in Redis (database down) scan_id=%s", reference)


def recuperar_dead_letters(limit: int = 500) -> int:
    """Move dead letters parked in Redis (database was down) into the table; return how many."""
    from core import deadletter

    redis = get_redis()
    moved = 0
    while moved < limit:
        raw = redis.lindex(PENDING_DEAD_LETTERS, 0)
        if raw is None:
            break
        entry = json.loads(raw)
        # record() dedupes on the reference, so a crash between these two lines is harmless.
        deadletter.record(entry["task_name"], entry["args"], entry["kwargs"], entry["error"],
                          reference=entry["reference"])
        redis.lpop(PENDING_DEAD_LETTERS)
        moved += 1
    return moved
