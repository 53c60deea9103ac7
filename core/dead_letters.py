"""Tasks that gave up land here, with their arguments, for a person to see and replay.

When the database itself is down, a task's failure is parked in a Redis list (AOF-persisted)
and `move_parked` (Beat, every minute) records it once the database is back: the dead letter,
and, through the task layer's `recorder` (tasks.base.record_parked), what the task itself would
have recorded (its job failed, its receipt's error...). A parked failure that needs no dead
letter (`dead_letter` false: a replay cannot help) is parked all the same, so it is not lost.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from core import audit
from core.db import session_scope
from core.enqueue import enqueue
from core.models import DeadLetter
from core.models.types import utcnow
from core.redis_client import get_redis

log = logging.getLogger(__name__)

PARKED_KEY = "stockflow:dead-letters:parked"
# Of a raw message kept as a dead letter (a poison message no task could read), at most this much.
KEPT_BYTES = 65_536


def record(task_name: str, args: list[Any], kwargs: dict[str, Any], error: str,
           reference: str | None = None) -> int:
    """Store a given-up task and return its dead-letter id (one open entry per reference)."""
    with session_scope() as session:
        if reference is not None:
            existing = session.scalar(select(DeadLetter).where(
                DeadLetter.task_name == task_name, DeadLetter.reference == reference,
                DeadLetter.replayed_at.is_(None)))
            if existing is not None:  # the latest attempt wins (health: the newest report)
                existing.args, existing.kwargs, existing.error = list(args), dict(kwargs), error
                return existing.id
        entry = DeadLetter(task_name=task_name, args=list(args), kwargs=dict(kwargs),
                           error=error, reference=reference)
        session.add(entry)
        session.flush()
        log.error("dead-letter id=%s task=%s reference=%s error=%s",
                  entry.id, task_name, reference, error)
        return entry.id


def park(task_name: str, args: list[Any], kwargs: dict[str, Any], error: str,
         reference: str, task_id: str | None = None, dead_letter: bool = True) -> None:
    """Keep a task's failure in Redis until the database takes it (never drop it)."""
    entry = {"task_name": task_name, "args": args, "kwargs": kwargs, "error": error,
             "reference": reference, "task_id": task_id, "dead_letter": dead_letter}
    get_redis().rpush(PARKED_KEY, json.dumps(entry, default=str))
    log.error("failure parked in Redis (database down) task=%s reference=%s",
              task_name, reference)


def keep_message(consumer: str, message: Any, error: str, reference: str | None = None,
                 reference_prefix: str = "message") -> None:
    """Keep a message its consumer could not process (poison) as a dead letter of `consumer`:
    args = [the message, first KEPT_BYTES, as pack() writes it], kwargs = {"encoding": ...}.
    Without a reference, the message's digest is one (the same message kept once). Parked in
    Redis while the database is down; raises when neither takes it (leave the message unacked)."""
    text, encoding, size = pack(message)
    if len(text) < size:
        error += f" (kept the first {len(text)} of {size} bytes)"
    if reference is None:
        reference = f"{reference_prefix}:{hashlib.sha256(text.encode()).hexdigest()[:24]}"
    args, kwargs = [text], {"encoding": encoding}
    try:
        record(consumer, args, kwargs, error, reference=reference[:128])
    except Exception:  # noqa: BLE001 - the database is away: park it, never drop it
        log.warning("dead letter not recorded, parking it consumer=%s", consumer, exc_info=True)
        park(consumer, args, kwargs, error, reference[:128])


def pack(message: Any) -> tuple[str, str, int]:
    """Return (text, encoding, original size in bytes) of a message: raw bytes as UTF-8 text or,
    when they are not UTF-8, base64; a decoded value as its JSON. At most KEPT_BYTES are kept."""
    if isinstance(message, str):
        message = message.encode("utf-8", "backslashreplace")
    elif not isinstance(message, (bytes, bytearray, memoryview)):
        message = _as_json(message).encode()
    message = bytes(message)
    head = message[:KEPT_BYTES]
    try:
        message.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(head).decode("ascii"), "base64", len(message)
    # A character cut by the limit is dropped; what is kept is always valid text.
    return head.decode("utf-8", "ignore"), "utf-8", len(message)


def unpack(text: Any, encoding: Any) -> bytes:
    """Return the bytes of a kept message; ValueError when it is not what pack() writes."""
    if not isinstance(text, str) or encoding not in ("utf-8", "base64"):
        raise ValueError("not a kept message (text plus encoding utf-8 or base64)")
    if encoding == "utf-8":
        return text.encode("utf-8", "backslashreplace")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("kept message is not valid base64") from None


def _as_json(value: Any) -> str:
    try:
        return json.dumps(value, default=str)  # ASCII: a lone surrogate is escaped, never stored raw
    except (ValueError, RecursionError) as exc:  # cannot happen for what a JSON decoder returned
        return f"<{type(value).__name__} that is not JSON-encodable: {exc}>"


def record_entry(entry: dict[str, Any]) -> None:
    """Record a parked failure's dead letter (what move_parked does without a task layer)."""
    if entry.get("dead_letter", True):
        record(entry["task_name"], entry["args"], entry["kwargs"], entry["error"],
               reference=entry["reference"])


def move_parked(limit: int = 500,
                recorder: Callable[[dict[str, Any]], None] = record_entry) -> int:
    """Record the failures parked in Redis (by default their dead letters; the task layer
    passes its own recorder); return how many moved."""
    redis = get_redis()
    moved = 0
    while moved < limit:
        raw = redis.lindex(PARKED_KEY, 0)
        if raw is None:
            break
        # Recording is idempotent (one open dead letter per reference, an ended job stays
        # ended), so a crash between these two lines is harmless.
        recorder(json.loads(raw))
        redis.lpop(PARKED_KEY)
        moved += 1
    return moved


def list_open(task_name: str | None = None, limit: int = 200) -> list[DeadLetter]:
    """Return the entries not yet replayed, newest first."""
    with session_scope() as session:
        query = select(DeadLetter).where(DeadLetter.replayed_at.is_(None))
        if task_name:
            query = query.where(DeadLetter.task_name == task_name)
        return list(session.scalars(query.order_by(DeadLetter.id.desc()).limit(limit)))


def replay(entry_id: int, who: str) -> str | None:
    """Send the entry's task again and mark it replayed (audited); return the new task id, or
    None when there is nothing to replay."""
    task_id = _replay(entry_id, who)
    audit.record("dead_letter.replay", actor=who, target=str(entry_id),
                 outcome="ok" if task_id else "failed", detail={"task_id": task_id})
    return task_id


def _replay(entry_id: int, who: str) -> str | None:
    with session_scope() as session:
        entry = session.get(DeadLetter, entry_id, with_for_update=True)
        if entry is None or entry.replayed_at is not None:
            return None
        task_id = enqueue(entry.task_name, dict(entry.kwargs), args=list(entry.args))
        entry.replayed_at = utcnow()
        entry.replayed_by = who
        return task_id
