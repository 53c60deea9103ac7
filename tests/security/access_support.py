"""Callers of the access tests: one user per role, a signed-in test client of each, and
bearer tokens; plus the one request helper that never leaves an SSE stream open."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from core.models.auth import ROLES
from core.users import create_token, create_user


@dataclass
class Caller:
    """Who sends the request: anonymous, a role's session, or a bearer token."""

    name: str
    role: str | None  # None: nobody is signed in
    user_id: int | None = None
    token: str | None = None

    def send(self, client: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one request; a streaming answer is read one chunk, then closed."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with client.session_transaction() as session:
            session.clear()  # one client serves every caller: nobody inherits a session
            if self.user_id is not None and self.token is None:
                # Flask-Login's session keys: what a login leaves (set again before every
                # request, since the logout route clears them).
                session["_user_id"], session["_fresh"] = str(self.user_id), True
        form = body if is_form(path) else None
        response = client.open(path, method=method, headers=headers, buffered=False,
                               json=None if form is not None else body, data=form)
        if response.mimetype == "text/event-stream" and response.status_code == 200:
            next(iter(response.response))  # the stream started: its first chunk ("retry: ...")
        response.close()
        return response


def is_form(path: str) -> bool:
    """Whether the path takes HTML forms (the login, the users and alerts pages) rather than JSON."""
    return path == "/login" or path.startswith(("/admin/", "/alertas"))


def role_users() -> dict[str, Any]:
    """One active user per role, named `pessoa_<role>` (random passwords: never logged in)."""
    return {role: create_user(f"pessoa_{role}", secrets.token_urlsafe(18), role=role)
            for role in ROLES}


def callers(users_by_role: dict[str, Any]) -> list[Caller]:
    """Anonymous, then each role signed in, then each role through a bearer token."""
    found = [Caller("anônimo", None)]
    found += [Caller(f"sessão {role}", role, user.id) for role, user in users_by_role.items()]
    found += [Caller(f"token {role}", role, user.id, create_token(user.username, "matriz"))
              for role, user in users_by_role.items()]
    return found
