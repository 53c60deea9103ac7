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

from sqlalchemy import func, or_, select

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


# Neither replayed nor discarded: waiting for a person.
IS_OPEN = (DeadLetter.replayed_at.is_(None), DeadLetter.discarded_at.is_(None))
STATES = ("abertas", "reenviadas", "descartadas", "todas")
CHANGED_KEY = "stockflow:dead-letters:changed"
MAX_REASON_CHARS = 500  # a discard's reason, as the page and the CLI take it


def record(task_name: str, args: list[Any], kwargs: dict[str, Any], error: str,
           reference: str | None = None) -> int:
    """Store a given-up task and return its dead-letter id (one open entry per reference)."""
    with session_scope() as session:
        if reference is not None:
            existing = session.scalar(select(DeadLetter).where(
                DeadLetter.task_name == task_name, DeadLetter.reference == reference, *IS_OPEN))
            if existing is not None:  # the latest attempt wins (health: the newest report)
                existing.args, existing.kwargs, existing.error = list(args), dict(kwargs), error
                return existing.id
        entry = DeadLetter(task_name=task_name, args=list(args), kwargs=dict(kwargs),
                           error=error, reference=reference)
        session.add(entry)
        session.flush()
        entry_id = entry.id
        log.error("dead-letter id=%s task=%s reference=%s error=%s",
                  entry_id, task_name, reference, error)
    _changed(throttled=True)
    return entry_id


def _changed(throttled: bool = False) -> None:
    """The open dead letters changed: open overviews get the new figures (throttled: at most
    once a second, so a flood of failures is not a flood of queries; Beat's periodic publish
    brings the last of them). Never fails the caller: the dead letter is what matters."""
    from core import overview  # the overview reads this module

    try:
        if throttled and not get_redis().set(CHANGED_KEY, "1", nx=True, px=1000):
            return
    except Exception:  # noqa: BLE001 - Redis away: no live update, Beat's publish catches up
        return
    overview.publish_dead_letters_safely()


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
    """Return the entries neither replayed nor discarded, newest first."""
    with session_scope() as session:
        query = select(DeadLetter).where(*IS_OPEN)
        if task_name:
            query = query.where(DeadLetter.task_name == task_name)
        return list(session.scalars(query.order_by(DeadLetter.id.desc()).limit(limit)))


def replay(entry_id: int, who: str, notify: bool = True) -> str | None:
    """Send the entry's task again and mark it replayed (audited); return the new task id, or
    None when there is nothing to replay (unknown, already replayed or discarded)."""
    task_id = _replay(entry_id, who)
    audit.record("dead_letter.replay", actor=who, target=str(entry_id),
                 outcome="ok" if task_id else "failed", detail={"task_id": task_id})
    if task_id and notify:
        _changed()
    return task_id


def _replay(entry_id: int, who: str) -> str | None:
    with session_scope() as session:
        entry = session.get(DeadLetter, entry_id, with_for_update=True)
        if entry is None or entry.replayed_at is not None or entry.discarded_at is not None:
            return None
        task_id = enqueue(entry.task_name, dict(entry.kwargs), args=list(entry.args))
        entry.replayed_at = utcnow()
        entry.replayed_by = who
        return task_id


def replay_many(entry_ids: list[int], who: str) -> dict[int, str | None]:
    """Replay each entry (each audited on its own); return entry id -> new task id or None."""
    results = {entry_id: replay(entry_id, who, notify=False) for entry_id in dict.fromkeys(entry_ids)}
    if any(results.values()):
        _changed()
    return results


def reason_refused(reason: Any) -> str | None:
    """Why a discard's reason is refused, in pt-BR (required, at most MAX_REASON_CHARS, no NUL),
    or None: the Falhas page and `flask --app web deadletters discard` ask the same."""
    if not isinstance(reason, str) or not reason.strip():
        return "Informe o motivo do descarte."
    if len(reason) > MAX_REASON_CHARS or "\x00" in reason:
        return f"Motivo: até {MAX_REASON_CHARS} caracteres."
    return None


def discard_many(entry_ids: list[int], who: str, reason: str) -> list[int]:
    """Discard each entry with the same reason (each audited); return those discarded."""
    done = [entry_id for entry_id in dict.fromkeys(entry_ids) if discard(entry_id, who, reason, notify=False)]
    if done:
        _changed()
    return done


def discard(entry_id: int, who: str, reason: str, notify: bool = True) -> bool:
    """Close an open entry without replaying it (audited, with the reason); return False when
    it is not open. The reason is required: someone will ask why it was dropped."""
    reason = reason.strip()
    if not reason:
        raise ValueError("Informe o motivo do descarte.")
    with session_scope() as session:
        entry = session.get(DeadLetter, entry_id, with_for_update=True)
        discarded = entry is not None and entry.replayed_at is None and entry.discarded_at is None
        if discarded:
            entry.discarded_at, entry.discarded_by, entry.discard_reason = utcnow(), who, reason
            task_name = entry.task_name
    audit.record("dead_letter.discard", actor=who, target=str(entry_id),
                 outcome="ok" if discarded else "failed",
                 detail={"motivo": reason, **({"task": task_name} if discarded else {})})
    if discarded and notify:
        _changed()
    return discarded


def area_of(task_name: str) -> str:
    """The task family, the name before its dot (baixa.registrar -> baixa)."""
    return task_name.split(".", 1)[0]


def open_by_area() -> dict[str, int]:
    """Open entries per area (task family), largest first."""
    with session_scope() as session:
        rows = session.execute(select(DeadLetter.task_name, func.count()).where(*IS_OPEN)
                               .group_by(DeadLetter.task_name)).all()
    counts: dict[str, int] = {}
    for task_name, count in rows:
        counts[area_of(task_name)] = counts.get(area_of(task_name), 0) + count
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def task_names() -> list[str]:
    """Every task name that has a dead letter (the page's filter choices)."""
    with session_scope() as session:
        return list(session.scalars(select(DeadLetter.task_name).distinct().order_by(DeadLetter.task_name)))


def search(area: str | None = None, task_name: str | None = None, since: Any = None,
           until: Any = None, text: str | None = None, state: str = "abertas",
           page: int = 1, per_page: int = 50) -> tuple[list[DeadLetter], int]:
    """Return one page of entries (newest first) matching every filter given, and the total.
    since/until: aware datetimes bounding created_at; text: in the error or the reference."""
    conditions: list[Any] = []
    if area:
        conditions.append(or_(DeadLetter.task_name == area,
                              DeadLetter.task_name.like(f"{_like(area)}.%", escape="!")))
    if task_name:
        conditions.append(DeadLetter.task_name == task_name)
    if since is not None:
        conditions.append(DeadLetter.created_at >= since)
    if until is not None:
        conditions.append(DeadLetter.created_at < until)
    if text:
        pattern = f"%{_like(text)}%"
        conditions.append(or_(DeadLetter.error.like(pattern, escape="!"),
                              DeadLetter.reference.like(pattern, escape="!")))
    if state == "abertas":
        conditions.extend(IS_OPEN)
    elif state == "reenviadas":
        conditions.append(DeadLetter.replayed_at.is_not(None))
    elif state == "descartadas":
        conditions.append(DeadLetter.discarded_at.is_not(None))
    with session_scope() as session:
        total = session.scalar(select(func.count()).select_from(DeadLetter).where(*conditions)) or 0
        items = list(session.scalars(select(DeadLetter).where(*conditions).order_by(DeadLetter.id.desc())
                                     .offset((page - 1) * per_page).limit(per_page)))
    return items, total


def _like(text: str) -> str:
    """Escape LIKE's wildcards (with "!", the same on SQLite and MariaDB): text matches as typed."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
