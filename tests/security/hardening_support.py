"""Helpers of the hardening tests: settings switched per test, a login post."""
from __future__ import annotations

from typing import Any

import pytest

from core.settings import reset_settings


def set_settings(monkeypatch: pytest.MonkeyPatch, **values: Any) -> None:
    """Set STOCKFLOW_* settings for the rest of the test (monkeypatch undoes them; the
    settings cache is reset now and must be reset again at teardown by the caller's fixture)."""
    for name, value in values.items():
        monkeypatch.setenv(f"STOCKFLOW_{name.upper()}", str(value))
    reset_settings()


def post_login(client: Any, username: str, password: str, address: str = "127.0.0.1",
               **headers: str) -> Any:
    """Post the login form from a client address (CSRF is off in the `app` fixture)."""
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)
