"""Alembic environment: the engine and metadata come from core, never from alembic.ini."""
from __future__ import annotations

from typing import Any

from alembic import context

import core.models  # noqa: F401 - registers every table on Base.metadata
from core.db import Base, get_engine
from core.sync.consinco.models import ConsincoBase

# The app's tables, plus the Consinco source views that dev/test keep in the app database
# (so autogenerate never proposes dropping them).
target_metadata = [Base.metadata, ConsincoBase.metadata]


def run_migrations_online() -> None:
    connectable = context.config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    with get_engine().connect() as connection:
        _run(connection)


def _run(connection: Any) -> None:
    if connection.dialect.name == "mysql":
        # New tables take the database default: make it utf8mb4 so names like
        # "Feijão" and emoji in notes survive (MariaDB often defaults to latin1).
        connection.exec_driver_sql(
            "ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        # That statement autobegan a transaction; end it, or Alembic joins it instead of
        # committing and the last version row written after the last DDL is rolled back.
        if connection.in_transaction():
            connection.commit()
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
