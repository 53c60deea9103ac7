"""Migration 0012 on a database with users and a token from before it: administrators become
`admin`, everyone else `loja`, and the old token gets 90 days (SQLite and MariaDB)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from core import migrate
from tests.support.database import forget_migration, mysql_reachable, use_database
from tests.support.environment import MYSQL_URL, service_unavailable


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_is_admin_becomes_a_role_and_old_tokens_expire(backend: str, tmp_path: Any) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'roles.sqlite3'}"
    else:
        problem = mysql_reachable()
        if problem:
            service_unavailable("MariaDB", MYSQL_URL, problem)
        url = MYSQL_URL
    use_database(url)
    engine = create_engine(url)
    try:
        migrate.upgrade("0010")
        with engine.begin() as conn:
            for n, (name, admin) in enumerate((("chefe", True), ("caixa", False)), start=1):
                conn.execute(text(
                    "INSERT INTO users (id, username, name, password_hash, is_admin, active, "
                    "created_at) VALUES (:id, :name, :name, 'x', :admin, 1, :now)"),
                    {"id": n, "name": name, "admin": admin, "now": datetime(2026, 1, 1)})
            conn.execute(text(
                "INSERT INTO api_tokens (user_id, token_sha256, label, created_at) "
                "VALUES (1, :digest, 'antigo', :now)"), {"digest": "a" * 64, "now": datetime(2026, 1, 1)})
        before = datetime.utcnow()
        migrate.upgrade("0012")
        with engine.connect() as conn:
            roles = dict(conn.execute(text("SELECT username, role FROM users")).all())
            expires = conn.execute(text("SELECT expires_at, revoked_at FROM api_tokens")).one()
            columns = {c[0] for c in conn.execute(text("SELECT * FROM users")).cursor.description}
        assert roles == {"chefe": "admin", "caixa": "loja"}
        assert "is_admin" not in columns
        expires_at = expires[0] if isinstance(expires[0], datetime) else datetime.fromisoformat(expires[0])
        assert timedelta(days=89) < expires_at - before < timedelta(days=91)
        assert expires[1] is None
    finally:
        engine.dispose()
        forget_migration(backend)  # the shared test database must be rebuilt
