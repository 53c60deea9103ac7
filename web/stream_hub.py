"""One Redis reader per web process fans SSE events out to every stream of the process.

flask-sse's way (and ours before) gives each open page its own Redis connection blocked in
XREAD or SUBSCRIBE: a few hundred pages exhaust the pool and load the broker's Redis
(flask-sse#29). Here a single reader thread (a greenlet under gunicorn's gevent worker)
blocks in one XREAD over every channel that has a listener and hands each event to the
in-memory queue of each stream that listens, so a stream costs memory, not a connection.

Nothing is lost between a stream's replay and its live part: a stream registers first (so
the hub queues every later event for it), then replays from the Redis stream, and drops any
live event it already replayed (ids only grow). A stream that falls too far behind is ended
and its client reconnects with Last-Event-ID, replaying what it missed.

The hub also keeps each user's open streams in Redis (a sorted set per user whose scores are
expiry times, refreshed once per heartbeat for the whole process), so the per-user cap holds
across web processes and a crashed process's streams expire by themselves.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from redis.exceptions import RedisError

from core.backoff import backoff_s
from core.redis_client import get_redis
from core.settings import get_settings
from core.sse import stream_key

log = logging.getLogger(__name__)

STREAMS_KEY = "stockflow:sse:streams:{user_id}"
# XREAD returns at once when any channel has news; the block only bounds how long a channel
# added meanwhile waits for the reader to include it (its first events are replayed anyway).
BLOCK_MS = 100
READ_COUNT = 500


def open_stream_count() -> int:
    """Return the live streams open on every web process (the per-user registry in Redis,
    whose entries expire when their process stops refreshing them)."""
    redis_client = get_redis()
    now = time.time()
    return sum(redis_client.zcount(key, now, "+inf")
               for key in redis_client.scan_iter(match=STREAMS_KEY.format(user_id="*"), count=500))


def parse_id(event_id: str) -> tuple[int, int]:
    """Return a stream id as (milliseconds, sequence) for ordering."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Event:
    """One event of one channel, its data still the JSON text Redis holds (encoded once)."""

    channel: str
    id: str
    type: str
    data: str


@dataclass(eq=False)
class Subscription:
    """One open stream: the channels it listens to and the events waiting for it."""

    channels: tuple[str, ...]
    user_id: int | None
    max_pending: int
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    # set when the stream must end: it fell too far behind, or the server is stopping
    ended: bool = False

    def __post_init__(self) -> None:
        self._pending: queue.Queue[Event] = queue.Queue(maxsize=self.max_pending)

    def offer(self, event: Event) -> None:
        """Queue an event for this stream; a stream that cannot keep up is marked to end."""
        try:
            self._pending.put_nowait(event)
        except queue.Full:
            self.ended = True

    def next_event(self, timeout_s: float) -> Event | None:
        """Return the next live event, or None when none came within timeout_s."""
        try:
            return self._pending.get(timeout=timeout_s)
        except queue.Empty:
            return None


class StreamLimit(Exception):
    """A stream cannot be opened now: the user's cap (429) or the process's capacity (503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StreamHub:
    """The process's single reader of every channel someone listens to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[Subscription]] = {}
        self._cursors: dict[str, str] = {}
        self._open: dict[str, Subscription] = {}
        self._reader: threading.Thread | None = None
        self._wake = threading.Event()
        self._pid = 0

    # -- streams -------------------------------------------------------------------------

    def subscribe(self, channels: Iterable[str], user_id: int | None,
                  start_ids: dict[str, str]) -> Subscription:
        """Register a stream on these channels, live from start_ids; raise StreamLimit when full."""
        settings = get_settings()
        channels = tuple(channels)
        with self._lock:
            if len(self._open) >= settings.sse_max_streams:
                raise StreamLimit(503, "Muitas conexões ao vivo neste servidor; tente de novo "
                                       "em instantes.")
        sub = Subscription(channels, user_id, settings.sse_max_pending)
        if user_id is not None and not self._claim_user_slot(sub):
            raise StreamLimit(429, f"Você já tem {settings.sse_max_streams_per_user} páginas ao "
                                   "vivo abertas; feche uma aba e tente de novo.")
        with self._lock:
            self._open[sub.token] = sub
            for channel in channels:
                # A channel already read keeps the reader's cursor: anything older than it
                # that this stream needs comes from its own replay.
                self._cursors.setdefault(channel, start_ids[channel])
                self._listeners.setdefault(channel, set()).add(sub)
            self._ensure_reader()
        self._wake.set()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a stream (its client went away or it ended) and free what it held."""
        with self._lock:
            if self._open.pop(sub.token, None) is None:
                return
            for channel in sub.channels:
                listeners = self._listeners.get(channel)
                if listeners is not None:
                    listeners.discard(sub)
                    if not listeners:
                        del self._listeners[channel]
                        self._cursors.pop(channel, None)
        if sub.user_id is not None:
            try:
                get_redis().zrem(STREAMS_KEY.format(user_id=sub.user_id), sub.token)
            except RedisError:
                log.warning("sse stream registry unavailable; entry expires by itself")

    def close_all(self) -> None:
        """End every stream of this process (a stopping server); clients reconnect elsewhere."""
        with self._lock:
            subs = list(self._open.values())
        for sub in subs:
            sub.ended = True
            self.unsubscribe(sub)

    def stream_count(self) -> int:
        """Return how many streams this process holds open."""
        with self._lock:
            return len(self._open)

    # -- the per-user cap -----------------------------------------------------------------

    def _claim_user_slot(self, sub: Subscription) -> bool:
        settings = get_settings()
        key = STREAMS_KEY.format(user_id=sub.user_id)
        now = time.time()
        try:
            pipe = get_redis().pipeline()
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zcard(key)
            _, open_count = pipe.execute()
            if open_count >= settings.sse_max_streams_per_user:
                return False
            pipe = get_redis().pipeline()
            pipe.zadd(key, {sub.token: now + self._slot_ttl_s()})
            pipe.expire(key, int(self._slot_ttl_s()) + 1)
            pipe.execute()
        except RedisError:
            # Without the registry the cap cannot be checked; a live page is worth more.
            log.warning("sse stream registry unavailable; cap not checked user=%s", sub.user_id)
        return True

    @staticmethod
    def _slot_ttl_s() -> float:
        return 3 * get_settings().sse_heartbeat_s + 5

    def _refresh_user_slots(self) -> None:
        with self._lock:
            by_user: dict[int, list[str]] = {}
            for sub in self._open.values():
                if sub.user_id is not None:
                    by_user.setdefault(sub.user_id, []).append(sub.token)
        if not by_user:
            return
        expires = time.time() + self._slot_ttl_s()
        pipe = get_redis().pipeline(transaction=False)
        for user_id, tokens in by_user.items():
            key = STREAMS_KEY.format(user_id=user_id)
            pipe.zadd(key, dict.fromkeys(tokens, expires))
            pipe.expire(key, int(self._slot_ttl_s()) + 1)
        pipe.execute()

    # -- the reader ------------------------------------------------------------------------

    def _ensure_reader(self) -> None:
        # After a fork (gunicorn's workers) the parent's thread does not exist in the child.
        if self._reader is None or not self._reader.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._reader = threading.Thread(target=self._run, name="sse-hub", daemon=True)
            self._reader.start()

    def _connection(self) -> redis.Redis:
        # Its own single connection: it is blocked in XREAD most of the time.
        return redis.Redis.from_url(get_settings().effective_redis_url, decode_responses=True,
                                    socket_connect_timeout=5,
                                    socket_timeout=BLOCK_MS / 1000 + 10,
                                    health_check_interval=30, client_name="stockflow-sse-hub",
                                    **get_settings().redis_ssl_options())

    def _run(self) -> None:
        connection = self._connection()
        failures = 0
        last_refresh = time.monotonic()
        while True:
            with self._lock:
                streams = {stream_key(channel): cursor for channel, cursor in self._cursors.items()}
            if not streams:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            try:
                batch = connection.xread(streams, count=READ_COUNT, block=BLOCK_MS)
                now = time.monotonic()
                if now - last_refresh >= get_settings().sse_heartbeat_s:
                    last_refresh = now
                    self._refresh_user_slots()
                failures = 0
            except RedisError as exc:
                delay = backoff_s(failures, 0.2, 5.0)
                failures += 1
                log.warning("sse hub read failed error=%s retry_in_s=%.1f",
                            f"{type(exc).__name__}: {exc}", delay)
                time.sleep(delay)
                connection = self._connection()
                continue
            for key, entries in batch or ():
                self._fan_out(key[len(stream_key("")):], entries)

    def _fan_out(self, channel: str, entries: list[tuple[str, dict[str, str]]]) -> None:
        with self._lock:
            listeners = list(self._listeners.get(channel, ()))
            cursor = self._cursors.get(channel)
            if cursor is not None and parse_id(entries[-1][0]) > parse_id(cursor):
                self._cursors[channel] = entries[-1][0]
        for event_id, fields in entries:
            event = Event(channel, event_id, fields.get("type") or "message", fields.get("data", "null"))
            for sub in listeners:
                sub.offer(event)


hub = StreamHub()
