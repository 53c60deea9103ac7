"""The audit trail: record who did what, to what, when and from where (append-only).

`record()` writes in a session of its own, so the entry stays even when the caller's work
later rolls back, and never joins the caller's transaction. On SQLite a writer holds the
whole database, so call it after your own `session_scope()` has closed.

When the table cannot be written, `record()` logs the error and returns: the action it
describes has usually already happened (committed) and undoing it for want of a log line
would be worse. Callers that must not proceed unaudited (a successful login) pass
`required=True` and get `AuditUnavailable` instead.
"""
from __future__ import annotations

import getpass
import json
import logging
from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from core.db import session_scope
from core.models import AuditEntry, User
from core.models.types import utcnow

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "sistema"
# Who a failed login is: nobody signed in (its target is the account tried).
ANONYMOUS_ACTOR = "anônimo"
MAX_DETAIL_CHARS = 4000
# Keys whose values never belong in the trail, whatever a caller passes.
SECRET_KEYS = ("password", "senha", "token", "secret", "authorization", "cookie")


class AuditUnavailable(RuntimeError):
    """The audit table could not be written and the caller asked for `required=True`."""


def record(action: str, *, actor: str | int | None, target: str | None = None,
           detail: dict[str, Any] | None = None, outcome: str = "ok",
           required: bool = False) -> None:
    """Append one audit entry; `actor` is a username, a user id, or None for the signed-in
    user (or "sistema" outside a request)."""
    remote_addr, user_agent = _request_origin()
    if actor is None:  # before our session: loading the signed-in user opens its own
        actor = _signed_in_username() or SYSTEM_ACTOR
    try:
        with session_scope() as session:
            session.add(AuditEntry(
                at=utcnow(), actor=_actor_name(session, actor), action=action[:64],
                target=None if target is None else str(target)[:200], outcome=outcome[:16],
                detail=bounded_detail(detail), remote_addr=remote_addr, user_agent=user_agent))
    except Exception as exc:
        log.error("audit entry not written action=%s target=%s error=%s", action, target,
                  type(exc).__name__)
        if required:
            raise AuditUnavailable(str(exc)) from exc


def cli_actor() -> str:
    """Return the actor of a CLI command: "cli:<operating-system user>"."""
    try:
        return f"cli:{getpass.getuser()}"[:80]
    except (OSError, KeyError):  # no login name nor passwd entry (some containers)
        return "cli"


def bounded_detail(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return `detail` as JSON-safe data with secrets masked and at most MAX_DETAIL_CHARS."""
    if detail is None:
        return None
    safe = json.loads(json.dumps(_mask_secrets(detail), default=str, ensure_ascii=False))
    text = json.dumps(safe, ensure_ascii=False)
    if len(text) > MAX_DETAIL_CHARS:
        return {"truncado": True, "inicio": text[:MAX_DETAIL_CHARS]}
    return safe


def _mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): "[removido]" if _is_secret(str(key)) else _mask_secrets(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_secrets(item) for item in value]
    return value


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_KEYS)


def _actor_name(session: Any, actor: str | int) -> str:
    if isinstance(actor, int):
        user = session.get(User, actor)
        return user.username if user is not None else f"usuario#{actor}"
    return (actor or SYSTEM_ACTOR)[:80]


def _signed_in_username() -> str | None:
    if not has_request_context():
        return None
    return current_user.username if current_user.is_authenticated else None


def _request_origin() -> tuple[str | None, str | None]:
    """The request's client address (ProxyFix, when installed, has already rewritten it)
    and user agent; (None, None) outside a request."""
    if not has_request_context():
        return None, None
    agent = request.headers.get("User-Agent")
    return (request.remote_addr or None), (agent[:255] if agent else None)
