"""Liveness (/healthz) and readiness (/readyz: database, broker and at least one worker)."""
from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from core.db import get_engine
from core.redis_client import get_redis
from web.access import PUBLIC, requires

bp = Blueprint("probes", __name__)


@bp.get("/healthz")
@requires(PUBLIC)
def healthz() -> Any:
    return jsonify(status="ok")


@bp.get("/readyz")
@requires(PUBLIC)
def readyz() -> Any:
    checks = {"database": _check(_database), "redis": _check(_redis),
              "broker": _check(_broker), "workers": _check(_workers)}
    ready = all(check["ok"] for check in checks.values())
    return jsonify(ready=ready, checks=checks), 200 if ready else 503


def _check(probe: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> str:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return get_engine().dialect.name


def _redis() -> str:
    get_redis().ping()
    return "ok"


def _broker() -> str:
    from core.celery_app import celery_app

    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else "ok"


def _workers() -> list[str]:
    from core.celery_app import celery_app

    replies = celery_app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("nenhum worker respondeu ao ping")
    return sorted(name for reply in replies for name in reply)
