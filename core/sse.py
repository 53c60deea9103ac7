"""The one SSE publisher, shared by web and workers.

Each channel is a Redis stream `sse:<channel>`: the stream id is the event id, so a
client reconnecting with Last-Event-ID is replayed exactly what it missed (web/sse.py
reads the same stream with XREAD BLOCK). Streams are capped and expire when idle.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from core.redis_client import get_redis
from core.settings import get_settings

log = logging.getLogger(__name__)


def stream_key(channel: str) -> str:
    return f"sse:{channel}"


def latest_id(channel: str) -> str:
    """Return the newest event id of the channel ("0-0" when empty).

    A page reads it BEFORE its database query and hands it to the browser as its SSE starting
    point, so an update committed between the query and the subscription is replayed, not missed.
    """
    newest = get_redis().xrevrange(stream_key(channel), count=1)
    return str(newest[0][0]) if newest else "0-0"


def publish(channel: str, event: str, data: Any) -> str:
    """Append an event to the channel and return its id (the SSE `id:` field)."""
    settings = get_settings()
    key = stream_key(channel)
    pipe = get_redis().pipeline(transaction=False)
    pipe.xadd(key, {"type": event, "data": json.dumps(data, default=str)},
              maxlen=settings.sse_replay_max, approximate=True)
    pipe.expire(key, settings.sse_retention_s)
    event_id, _ = pipe.execute()
    return str(event_id)


def publish_safely(channel: str, event: str, data: Any) -> str | None:
    """Publish, but never let a Redis hiccup fail the caller's work (the DB is the truth)."""
    try:
        return publish(channel, event, data)
    except Exception:  # noqa: BLE001 - live updates are best effort by design
        log.warning("sse publish failed channel=%s event=%s", channel, event, exc_info=True)
        return None
