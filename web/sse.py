"""SSE at /stream?channel=a[&channel=b...]: live pages, replayable, access-controlled.

Events come from the Redis stream core.sse writes (the stream id is the event id); one reader
per process fans them out (web.stream_hub), so an open page costs memory, not a Redis
connection. A reconnecting client sends Last-Event-ID and is replayed exactly what it missed;
if the log was trimmed past it, a `gap` event tells the page to reload its state. A comment
line every heartbeat notices a dead client at the next write (within two heartbeats), which
frees everything the stream held.

One stream may carry several channels: its event ids then hold one cursor per channel, in the
URL's order (`<id a>,<id b>`), and each event's data is `{"channel": ..., "data": ...}`. A
stream of one channel sends the payload itself, as it always did.

Each channel prefix has an access rule (a channel with no rule is refused); the app factory
collects them from each blueprint module's SSE_CHANNELS (add_channel_rules).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    request,
    stream_with_context,
)
from flask_login import current_user

from core.redis_client import get_redis
from core.settings import get_settings
from core.sse import latest_id, stream_key
from web.stream_hub import Event, StreamLimit, hub, parse_id

# channel prefix (before the first ':', or the whole name) -> may this user read it?
ChannelRule = Callable[[Any, str], bool]
RULES_KEY = "stockflow.sse_channel_rules"

RECONNECT_MS = 2_000
MAX_CHANNELS = 20
MAX_CHANNEL_CHARS = 200
REPLAY_PAGE = 500
# A Redis stream id as Redis writes it: ASCII digits only, bounded (ms fits 64 bits).
STREAM_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}")
U64_MAX = 2**64 - 1
from web.access import LOGGED_IN, requires

bp = Blueprint("sse", __name__)


def add_channel_rules(app: Flask, rules: Mapping[str, ChannelRule]) -> None:
    """Declare who may read channels `prefix` or `prefix:<rest>`; rule(user, rest) -> bool."""
    app.extensions.setdefault(RULES_KEY, {}).update(rules)


def may_read(user: Any, channel: str) -> bool:
    """Return whether this user may subscribe to this channel (in the current app)."""
    prefix, _, rest = channel.partition(":")
    rule = current_app.extensions.get(RULES_KEY, {}).get(prefix)
    return bool(rule and user.is_authenticated and rule(user, rest))


def parse_last_event_id(raw: str | None, channels: Sequence[str]) -> dict[str, str | None]:
    """Return each channel's cursor from Last-Event-ID (None: start live); abort 400 if malformed."""
    if raw is None or raw == "":
        return dict.fromkeys(channels)
    parts = raw.split(",")
    if len(parts) != len(channels) or not all(valid_id(part) for part in parts):
        abort(400, description="Last-Event-ID inválido.")
    return dict(zip(channels, parts))


def valid_id(event_id: str) -> bool:
    """Whether the text is a Redis stream id (ASCII digits, each part within 64 bits)."""
    if not STREAM_ID.fullmatch(event_id):
        return False
    ms, seq = parse_id(event_id)
    return ms <= U64_MAX and seq <= U64_MAX


@bp.get("/stream")
@requires(LOGGED_IN)
def stream() -> Any:
    """Open a live stream on the requested channels (see the module's docstring)."""
    channels = list(dict.fromkeys(request.args.getlist("channel")))
    if not channels or "" in channels:
        abort(400, description="Informe o canal: /stream?channel=...")
    if len(channels) > MAX_CHANNELS:
        abort(400, description=f"No máximo {MAX_CHANNELS} canais por conexão.")
    if not all(len(channel) <= MAX_CHANNEL_CHARS and channel.isprintable() for channel in channels):
        abort(400, description=f"Canal inválido: até {MAX_CHANNEL_CHARS} caracteres, sem caracteres de controle.")
    for channel in channels:
        if not may_read(current_user, channel):
            abort(403, description="Sem acesso a este canal.")
    raw_last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    requested = parse_last_event_id(raw_last_id, channels)

    # Fixed before the response starts: once a client has the headers, it misses nothing.
    cursors = {channel: cursor if cursor is not None else latest_id(channel)
               for channel, cursor in requested.items()}
    try:
        sub = hub.subscribe(channels, int(current_user.get_id()), cursors)
    except StreamLimit as limit:
        response = jsonify(error=limit.message, status=limit.status)
        response.status_code = limit.status
        response.headers["Retry-After"] = "5" if limit.status == 503 else "30"
        return response

    @stream_with_context
    def generate() -> Iterator[str]:
        try:
            yield f"retry: {RECONNECT_MS}\n\n"
            yield from _events(sub, channels, cursors, explicit=raw_last_id is not None)
        finally:
            hub.unsubscribe(sub)

    response = current_app.response_class(generate(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _events(sub: Any, channels: list[str], cursors: dict[str, str], explicit: bool) -> Iterator[str]:
    """Replay each channel after its cursor, then the live events; a comment when idle."""
    redis = get_redis()
    delivered = {channel: parse_id(cursor) for channel, cursor in cursors.items()}
    positions = dict(cursors)

    def emit(event: Event) -> str:
        positions[event.channel] = event.id
        return _format(event, channels, positions)

    for channel in channels:
        cursor = cursors[channel]
        if explicit and cursor != "0-0":
            oldest = redis.xrange(stream_key(channel), count=1)
            if oldest and parse_id(cursor) < parse_id(oldest[0][0]):
                # the log was trimmed past what the client saw: tell it to reload its state
                yield _format(Event(channel, cursor, "gap", f'{{"last_event_id": "{cursor}"}}'),
                              channels, positions)
        while True:
            page = redis.xrange(stream_key(channel), min=f"({positions[channel]}", max="+",
                                count=REPLAY_PAGE)
            for event_id, fields in page:
                delivered[channel] = parse_id(event_id)
                yield emit(Event(channel, event_id, fields.get("type") or "message",
                                 fields.get("data", "null")))
            if len(page) < REPLAY_PAGE:
                break

    heartbeat_s = get_settings().sse_heartbeat_s
    while not sub.ended:
        event = sub.next_event(heartbeat_s)
        if event is None:
            yield ": keepalive\n\n"
            continue
        if parse_id(event.id) <= delivered[event.channel]:
            continue  # already replayed
        delivered[event.channel] = parse_id(event.id)
        yield emit(event)
    # Too far behind, or the server is stopping: the browser reconnects with Last-Event-ID and
    # replays what it missed.


def _format(event: Event, channels: list[str], positions: dict[str, str]) -> str:
    if len(channels) == 1:
        return f"id: {event.id}\nevent: {event.type}\ndata: {event.data}\n\n"
    composite = ",".join(positions[channel] for channel in channels)
    return (f"id: {composite}\nevent: {event.type}\n"
            f'data: {{"channel": {json.dumps(event.channel, ensure_ascii=False)}, "data": {event.data}}}\n\n')
