"""Users of the web UI, their roles and their bearer tokens: create, change, deactivate,
authenticate, list, revoke, and the demo login (never in production).

Every change is written to the audit trail (core.audit): `actor` names who made it (None:
the signed-in user, or "sistema" outside a request).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from core import audit, passwords
from core.db import session_scope
from core.models import ApiToken, User
from core.models.auth import ADMIN, DEFAULT_ROLE, ROLES
from core.models.types import utcnow
from core.settings import get_settings

MIN_PASSWORD_LENGTH = passwords.MIN_PASSWORD_LENGTH
DEMO_USERNAME = "demo"
# Usernames appear in URLs of the users page and in the audit trail: plain characters only.
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,80}")


class DemoInProduction(RuntimeError):
    """Demo users and data are refused in production mode."""


@dataclass(frozen=True)
class TokenInfo:
    """A token as the lists show it (never the token itself, which is shown once)."""

    id: int
    username: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revogado"
        return "ativo" if utcnow() < self.expires_at else "expirado"


def authenticate(username: str, password: str) -> User | None:
    """Return the active user whose password matches, or None."""
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        # core.passwords.verify does the same work when there is no such (active) account.
        stored = user.password_hash if user is not None and user.active else None
        if not passwords.verify(stored, password):
            return None
        return user


def check_role(role: str) -> str:
    """Return the role if it exists, else raise ValueError naming the roles there are."""
    if role not in ROLES:
        raise ValueError(f"papel desconhecido: {role!r}; use {', '.join(ROLES)}")
    return role


def check_password(password: str, username: str = "") -> str:
    """Return the password if it may be used, else raise ValueError saying why (the policy
    is core.passwords: length, common passwords, the username)."""
    passwords.check_new_password(password, username)
    return password


def create_user(username: str, password: str, name: str = "", role: str = DEFAULT_ROLE,
                actor: str | None = None) -> User:
    """Create an active user with a role and a hashed password; ValueError if it exists."""
    if not USERNAME.fullmatch(username):
        raise ValueError("nome de usuário inválido: de 1 a 80 letras sem acento, números, "
                         "'.', '_', '-' ou '@'")
    check_role(role)
    check_password(password, username)
    with session_scope() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise ValueError(f"o usuário {username!r} já existe")
        user = User(username=username, name=(name.strip() or username)[:120], role=role,
                    active=True, password_hash=generate_password_hash(password))
        session.add(user)
        session.flush()
    audit.record("user.create", actor=actor, target=username, detail={"papel": role})
    return user


def set_role(username: str, role: str, actor: str | None = None) -> None:
    """Give a user another role (it applies from their next request)."""
    check_role(role)
    with session_scope() as session:
        user = _user(session, username)
        previous, user.role = user.role, role
        _keep_an_admin(session)
    audit.record("user.role", actor=actor, target=username,
                 detail={"antes": previous, "depois": role})


def set_active(username: str, active: bool, actor: str | None = None) -> None:
    """Deactivate a user (their session and tokens stop working at once) or reactivate one."""
    with session_scope() as session:
        _user(session, username).active = active
        _keep_an_admin(session)
    audit.record("user.reactivate" if active else "user.deactivate", actor=actor,
                 target=username)


def reset_password(username: str, password: str, actor: str | None = None) -> None:
    """Set a user's new password."""
    check_password(password, username)
    with session_scope() as session:
        _user(session, username).password_hash = generate_password_hash(password)
    audit.record("user.password", actor=actor, target=username)


def list_users() -> list[User]:
    """Every user, by username."""
    with session_scope() as session:
        return list(session.scalars(select(User).order_by(User.username)))


def token_digest(token: str) -> str:
    """Return the stored form of a bearer token (its SHA-256; the token itself is never kept)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(username: str, label: str = "", days: int | None = None,
                 actor: str | None = None) -> str:
    """Create a bearer token for a user, valid `days` (STOCKFLOW_TOKEN_DAYS at most), and
    return it (shown once; only its hash is kept)."""
    most = get_settings().token_days
    days = most if days is None else days
    if not 1 <= days <= most:
        raise ValueError(f"validade do token: de 1 a {most} dias")
    token = secrets.token_urlsafe(32)
    with session_scope() as session:
        user = _user(session, username)
        row = ApiToken(user_id=user.id, label=label.strip()[:120], token_sha256=token_digest(token),
                       expires_at=utcnow() + timedelta(days=days))
        session.add(row)
        session.flush()
        token_id = row.id
    audit.record("token.create", actor=actor, target=f"token#{token_id}",
                 detail={"usuario": username, "rotulo": label, "dias": days})
    return token


def list_tokens(username: str | None = None) -> list[TokenInfo]:
    """Every token (or one user's), newest first, with last use and expiry."""
    query = (select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
             .order_by(ApiToken.id.desc()))
    if username is not None:
        query = query.where(User.username == username)
    with session_scope() as session:
        return [TokenInfo(t.id, name, t.label, t.created_at, t.last_used_at, t.expires_at,
                          t.revoked_at) for t, name in session.execute(query)]


def revoke_token(token_id: int, actor: str | None = None) -> bool:
    """Revoke a token at once; False when there is no such token or it was already revoked."""
    with session_scope() as session:
        token = session.get(ApiToken, token_id)
        if token is None or token.revoked_at is not None:
            return False
        token.revoked_at = utcnow()
    audit.record("token.revoke", actor=actor, target=f"token#{token_id}")
    return True


def refuse_demo_in_production() -> None:
    """Raise DemoInProduction when the settings say production."""
    if get_settings().is_production:
        raise DemoInProduction("dados e usuário de demonstração são recusados em produção "
                               "(STOCKFLOW_ENV=production)")


def ensure_demo_user() -> tuple[str, str | None]:
    """Create the 'demo' admin once; return (username, password); refused in production.

    The password is random per machine and kept in var/demo-login.txt (never in the repo).
    """
    refuse_demo_in_production()
    login_file = Path(get_settings().var_dir) / "demo-login.txt"
    with session_scope() as session:
        exists = session.scalar(select(User).where(User.username == DEMO_USERNAME)) is not None
    if exists and login_file.exists():
        return DEMO_USERNAME, login_file.read_text().split(":", 1)[1].strip()
    password = secrets.token_urlsafe(9)
    if exists:
        reset_password(DEMO_USERNAME, password)
    else:
        create_user(DEMO_USERNAME, password, name="Usuário Demo", role=ADMIN)
    login_file.parent.mkdir(parents=True, exist_ok=True)
    login_file.write_text(f"{DEMO_USERNAME}:{password}\n")
    login_file.chmod(0o600)
    return DEMO_USERNAME, password


def _keep_an_admin(session: Any) -> None:
    """Raise ValueError (rolling the change back) if no active administrator would be left."""
    session.flush()
    if session.scalar(select(User.id).where(User.role == ADMIN, User.active.is_(True))) is None:
        raise ValueError("é preciso manter pelo menos um administrador ativo")


def _user(session: Any, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"usuário {username!r} não existe")
    return user
