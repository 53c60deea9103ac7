"""The one database engine and session helper, for web, workers, Beat and scripts."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.settings import get_settings


class Base(DeclarativeBase):
    """Declarative base of every model; Alembic reads its metadata."""


_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine tuned for the backend: SQLite in WAL mode, MySQL in utf8mb4."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Python's sqlite3 opens its own transactions lazily; take it over so that
            # BEGIN IMMEDIATE below really locks the database before we read.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers serialise at BEGIN, so read-then-write transactions (the SQLite
            # stand-in for SELECT ... FOR UPDATE) cannot interleave.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("mysql"):
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_recycle", 1800)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("charset", "utf8mb4")
        connect_args.setdefault("connect_timeout", 5)
        return create_engine(url, connect_args=connect_args, **kwargs)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def get_engine() -> Engine:
    """Return this process's engine, creating it on first use."""
    global _engine, _session_factory
    if _engine is None:
        _engine = make_engine(get_settings().effective_database_url)
        _session_factory = sessionmaker(bind=_engine, expire_on_commit=False)
    return _engine


def dispose_engine() -> None:
    """Drop this process's engine; forked workers call this so no socket is shared."""
    global _engine, _session_factory
    if _engine is not None:
        _engine.dispose(close=False)
    _engine = None
    _session_factory = None


def new_session() -> Session:
    """Return a new session on this process's engine (the caller closes it)."""
    get_engine()
    assert _session_factory is not None
    return _session_factory()


@contextmanager
def session_scope() -> Iterator[Session]:
    """Yield a session that commits on success, rolls back on error and always closes."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dialect_name() -> str:
    """Return 'sqlite' or 'mysql' (MariaDB reports mysql) for the current engine."""
    return get_engine().dialect.name


def upsert_insert(table: Any) -> Any:
    """Return the dialect's own INSERT that supports upsert (ON CONFLICT / ON DUPLICATE KEY)."""
    return (mysql.insert(table) if dialect_name() == "mysql" else sqlite.insert(table))


def recreate_mysql_database(url: str, create: bool = True) -> None:
    """Drop the database a MariaDB/MySQL URL names and, unless create=False, create it empty
    in utf8mb4 (the throwaway databases of tests and benchmarks)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    engine = create_engine(parsed.set(database=""), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{parsed.database}`")
            if create:
                conn.exec_driver_sql(f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4 "
                                     "COLLATE utf8mb4_unicode_ci")
    finally:
        engine.dispose()
