"""Users of the web UI and their bearer tokens: create, authenticate, the demo login."""
from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import session_scope
from core.models import ApiToken, User
from core.settings import get_settings

MIN_PASSWORD_LENGTH = 8


def authenticate(username: str, password: str) -> User | None:
    """Return the active user whose password matches, or None."""
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not user.active or not check_password_hash(user.password_hash, password):
            return None
        return user


def create_user(username: str, password: str, name: str = "", is_admin: bool = False) -> User:
    """Create a user with a hashed password (or reset the password of an existing one)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a senha precisa de pelo menos {MIN_PASSWORD_LENGTH} caracteres")
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username)
            session.add(user)
        user.name = name or user.name or username
        user.is_admin = is_admin
        user.active = True
        user.password_hash = generate_password_hash(password)
        session.flush()
        return user


def token_digest(token: str) -> str:
    """Return the stored form of a bearer token (its SHA-256; the token itself is never kept)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(username: str, label: str = "") -> str:
    """Create a bearer token for a user and return it (shown once; only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise LookupError(f"usuário {username!r} não existe")
        session.add(ApiToken(user_id=user.id, label=label, token_sha256=token_digest(token)))
    return token


def ensure_demo_user() -> tuple[str, str | None]:
    """Create the 'demo' admin once; return (username, password) - password only when new.

    The password is random per machine and kept in var/demo-login.txt (never in the repo).
    """
    login_file = Path(get_settings().var_dir) / "demo-login.txt"
    with session_scope() as session:
        exists = session.scalar(select(User).where(User.username == "demo")) is not None
    if exists and login_file.exists():
        return "demo", login_file.read_text().split(":", 1)[1].strip()
    password = secrets.token_urlsafe(9)
    create_user("demo", password, name="Usuário Demo", is_admin=True)
    login_file.parent.mkdir(parents=True, exist_ok=True)
    login_file.write_text(f"demo:{password}\n")
    login_file.chmod(0o600)
    return "demo", password
