"""The migrations build the whole schema from empty on SQLite and on MariaDB."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, inspect

import core.models  # noqa: F401
from core import migrate
from core.db import Base
from tests.support.database import forget_migration, mysql_reachable, use_database
from tests.support.environment import MYSQL_URL, service_unavailable


def _fresh_url(backend: str, tmp_path: Any) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    problem = mysql_reachable()
    if problem:
        service_unavailable("MariaDB", MYSQL_URL, problem)
    return MYSQL_URL


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_migrations_run_from_empty_and_match_the_models(backend: str, tmp_path: Any) -> None:
    url = _fresh_url(backend, tmp_path)
    use_database(url)
    try:
        migrate.upgrade()
        engine = create_engine(url)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        for name, table in Base.metadata.tables.items():
            columns = {c["name"] for c in inspect(engine).get_columns(name)}
            assert set(table.columns.keys()) == columns, name
        if backend == "mariadb":
            with engine.connect() as conn:
                charset = conn.exec_driver_sql(
                    "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
                    "WHERE SCHEMA_NAME = DATABASE()").scalar()
            assert charset == "utf8mb4"
        # the models and the migrations describe the same schema (no autogenerate diff)
        from alembic import command

        command.check(migrate.alembic_config())
        migrate.upgrade()  # running again is a no-op
        engine.dispose()
    finally:
        forget_migration(backend)  # the shared test database must be rebuilt
