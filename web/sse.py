"""SSE at /stream?channel=...: flask-sse's blueprint, made reliable.

flask-sse alone ignores Last-Event-ID, never notices dead clients and lets anyone read any
channel. Here events come from the Redis stream core.sse writes (the stream id is the
event id), so a reconnecting client is replayed exactly what it missed; a comment line is
sent every few seconds so a dead client is noticed at the next write; and each channel
prefix has an access rule (a channel with no rule is refused). The app factory collects the
rules from each blueprint module's SSE_CHANNELS (add_channel_rules).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from flask import Flask, abort, current_app, request, stream_with_context
from flask_login import current_user
from flask_sse import Message, ServerSentEventsBlueprint

from core.redis_client import get_redis
from core.settings import get_settings
from core.sse import stream_key

# channel prefix (before the first ':', or the whole name) -> may this user read it?
ChannelRule = Callable[[Any, str], bool]
RULES_KEY = "stockflow.sse_channel_rules"

RECONNECT_MS = 2_000


def add_channel_rules(app: Flask, rules: Mapping[str, ChannelRule]) -> None:
    """Declare who may read channels `prefix` or `prefix:<rest>`; rule(user, rest) -> bool."""
    app.extensions.setdefault(RULES_KEY, {}).update(rules)


def may_read(user: Any, channel: str) -> bool:
    """Return whether this user may subscribe to this channel (in the current app)."""
    prefix, _, rest = channel.partition(":")
    rule = current_app.extensions.get(RULES_KEY, {}).get(prefix)
    return bool(rule and user.is_authenticated and rule(user, rest))


class ReliableSSEBlueprint(ServerSentEventsBlueprint):
    def messages(self, channel: str = "sse", last_id: str | None = None) -> Iterator[Any]:
        """Yield Messages after last_id (replay, then live), and None when idle (heartbeat)."""
        redis = get_redis()
        key = stream_key(channel)
        last_id = self.start_position(channel, last_id)
        if last_id != "0-0":
            oldest = redis.xrange(key, count=1)
            if oldest and _older(last_id, oldest[0][0]):
                # the log was trimmed past what the client saw: tell it to reload its state
                yield Message({"last_event_id": last_id}, type="gap")
        block_ms = int(get_settings().sse_heartbeat_s * 1000)
        while True:
            batch = redis.xread({key: last_id}, count=200, block=block_ms)
            if not batch:
                yield None
                continue
            for event_id, fields in batch[0][1]:
                last_id = event_id
                yield Message(json.loads(fields["data"]), type=fields.get("type"), id=event_id)

    @staticmethod
    def start_position(channel: str, last_id: str | None) -> str:
        """Return where to read from: after last_id, or after the newest event (a new client)."""
        if last_id is not None:
            return last_id
        newest = get_redis().xrevrange(stream_key(channel), count=1)
        return newest[0][0] if newest else "0-0"

    def stream(self) -> Any:
        channel = request.args.get("channel", "")
        if not channel:
            abort(400, description="Informe o canal: /stream?channel=...")
        if not may_read(current_user, channel):
            abort(403, description="Sem acesso a este canal.")
        last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
        if last_id is not None and not _valid_id(last_id):
            abort(400, description="Last-Event-ID inválido.")

        # Fixed before the response starts: once a client has the headers, it misses nothing.
        last_id = self.start_position(channel, last_id)

        @stream_with_context
        def generate() -> Iterator[str]:
            yield f"retry: {RECONNECT_MS}\n\n"
            for message in self.messages(channel, last_id):
                yield ": keepalive\n\n" if message is None else str(message)

        response = current_app.response_class(generate(), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        return response


def _valid_id(event_id: str) -> bool:
    ms, _, seq = event_id.partition("-")
    return ms.isdigit() and seq.isdigit() and len(event_id) < 40


def _older(a: str, b: str) -> bool:
    """True when stream id a precedes stream id b."""
    pa, pb = a.split("-"), b.split("-")
    return (int(pa[0]), int(pa[1])) < (int(pb[0]), int(pb[1]))


bp = ReliableSSEBlueprint("sse", __name__)
bp.add_url_rule("/stream", "stream", bp.stream)
