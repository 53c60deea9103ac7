"""The test databases: SQLite and this run's MariaDB database, migrated from empty once a
session, pointed at and emptied per test."""
from __future__ import annotations

import os

# The environment first: core reads the STOCKFLOW_* variables it sets.
from tests.support.environment import MYSQL_URL, SQLITE_URL, service_unavailable

# isort: split
from core import db as core_db
from core.settings import reset_settings

_migrated: dict[str, str] = {}


def mysql_reachable() -> str | None:
    """Create this run's empty MariaDB database; return why not when MariaDB does not answer."""
    from sqlalchemy.exc import OperationalError

    try:
        core_db.recreate_mysql_database(MYSQL_URL)
    except OperationalError as exc:
        return str(exc.orig)
    return None


def database_url(backend: str) -> str:
    """Return a migrated-from-empty database URL for the backend (migrated once a session)."""
    if backend in _migrated:
        return _migrated[backend]
    if backend == "sqlite":
        url = SQLITE_URL
    else:
        problem = mysql_reachable()
        if problem:
            service_unavailable("MariaDB", MYSQL_URL, problem)
        url = MYSQL_URL
    use_database(url)
    from core import migrate

    migrate.upgrade()
    _migrated[backend] = url
    return url


def forget_migration(backend: str) -> None:
    """The backend's shared test database must be migrated again before its next use."""
    _migrated.pop(backend, None)


def use_database(url: str) -> None:
    """Point settings and the engine of this process at `url`."""
    os.environ["STOCKFLOW_DATABASE_URL"] = url
    reset_settings()
    core_db.dispose_engine()


def clean_tables() -> None:
    """Empty every table (children first) so each test starts from a blank database."""
    import core.models  # noqa: F401

    engine = core_db.get_engine()
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        for table in reversed(core_db.Base.metadata.sorted_tables):
            if table.name == "audit_entries" and engine.dialect.name == "mysql":
                # Its triggers refuse DELETE (append-only); TRUNCATE does not fire them.
                conn.exec_driver_sql("TRUNCATE TABLE audit_entries")
            else:
                conn.execute(table.delete())
        if engine.dialect.name == "mysql":
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


def drop_databases() -> None:
    """At the end of the session: drop this run's MariaDB database if it was created."""
    if "mariadb" in _migrated:
        core_db.dispose_engine()
        core_db.recreate_mysql_database(MYSQL_URL, create=False)
