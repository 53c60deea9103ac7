"""The Consinco source connection: Oracle in production, the app database in development."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.db import get_engine, make_engine
from core.settings import Settings, get_settings

_engine: Engine | None = None
_engine_url: str | None = None


def build_source_engine(settings: Settings) -> Engine:
    """Return a new engine on STOCKFLOW_CONSINCO_URL (Oracle thin mode, arraysize set).

    python-oracledb is thin by default: no Instant Client. `arraysize` makes each network
    round trip carry that many rows; the schema map lets the models stay schema-free.
    """
    url = settings.consinco_url
    kwargs: dict[str, object] = {}
    if url.startswith("oracle"):
        kwargs["arraysize"] = settings.consinco_arraysize
    engine = make_engine(url, **kwargs)
    if settings.consinco_schema:
        engine = engine.execution_options(schema_translate_map={None: settings.consinco_schema})
    return engine


def source_engine() -> Engine:
    """Return the engine the NAGV_PLUSOFT_* views are read from (the app's when no URL is set)."""
    global _engine, _engine_url
    settings = get_settings()
    if not settings.consinco_url:
        return get_engine()
    if _engine is None or _engine_url != settings.consinco_url:
        _engine, _engine_url = build_source_engine(settings), settings.consinco_url
    return _engine


def dispose_source_engine() -> None:
    """Drop the source engine (after fork, or when tests change the URL)."""
    global _engine, _engine_url
    if _engine is not None:
        _engine.dispose(close=False)
    _engine = _engine_url = None


@contextmanager
def source_session() -> Iterator[Session]:
    """Yield a read-only session on the source; it is rolled back and closed on exit."""
    session = Session(bind=source_engine())
    try:
        yield session
    finally:
        session.rollback()
        session.close()
