"""/healthz is liveness; /readyz needs the database, the broker and a worker to answer."""
from __future__ import annotations

from typing import Any


def test_healthz_needs_no_login(app: Any) -> None:
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_503_without_a_worker_naming_what_is_missing(app: Any) -> None:
    response = app.test_client().get("/readyz")
    body = response.get_json()
    # the session worker may already be running from other tests: only assert shape then
    if response.status_code == 503:
        assert body["ready"] is False
        failing = [name for name, check in body["checks"].items() if not check["ok"]]
        assert failing == ["workers"], body
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


def test_readyz_is_200_with_a_worker(app: Any, worker: Any) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["ready"] is True
