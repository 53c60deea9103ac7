"""Production refuses what is unsafe: cookies without Secure, a weak Flower password, Flower on
every interface; rate strings are checked everywhere; ProxyFix trusts exactly the configured hops."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import ConfigurationError, Settings, reset_settings
from tests.security.hardening_support import post_login, set_settings
from tests.support.settings import PRODUCTION

SAFE = PRODUCTION


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    yield
    reset_settings()


def test_safe_production_settings_start() -> None:
    assert Settings(**SAFE).is_production


def test_production_refuses_cookies_without_secure() -> None:
    with pytest.raises(ConfigurationError, match="STOCKFLOW_SESSION_COOKIE_SECURE=true"):
        Settings(**{**SAFE, "session_cookie_secure": False})


@pytest.mark.parametrize("credentials", ["a:b", "ops:curta", "ops", ":quarta-estante-violeta-27",
                                         "ops:password12345678", "ops:1234567890123456",
                                         "quarta-estante-violeta-27:quarta-estante-violeta-27"])
def test_production_refuses_a_weak_flower_password(credentials: str) -> None:
    with pytest.raises(ConfigurationError, match="STOCKFLOW_FLOWER_BASIC_AUTH as user:password"):
        Settings(**{**SAFE, "flower_basic_auth": credentials})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", ""])
def test_production_refuses_flower_on_every_interface(host: str) -> None:
    with pytest.raises(ConfigurationError, match="STOCKFLOW_FLOWER_HOST"):
        Settings(**{**SAFE, "flower_host": host})


def test_development_keeps_its_defaults() -> None:
    settings = Settings(_env_file=None, env="development")
    assert settings.flower_host == "127.0.0.1" and not settings.session_cookie_secure


@pytest.mark.parametrize("variable", ["login_limit_per_address", "login_failures_per_account",
                                      "upload_limit_per_user"])
def test_a_malformed_rate_is_refused_in_any_mode(variable: str) -> None:
    with pytest.raises(ConfigurationError, match=f"STOCKFLOW_{variable.upper()}"):
        Settings(_env_file=None, **{variable: "cinco por minuto"})


def _exhaust_and_try(app: Any, first: str, second: str) -> int:
    """Spend the address limit (2) as X-Forwarded-For `first`, then try once as `second`."""
    client = app.test_client()
    for _ in range(2):
        post_login(client, "x", "qualquer-coisa", **{"X-Forwarded-For": first})
    return post_login(client, "admin", "admin-password", **{"X-Forwarded-For": second}).status_code


def test_behind_one_proxy_the_forwarded_address_is_the_client(db: str, users: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from web.app import create_app

    set_settings(monkeypatch, proxy_count=1, login_limit_per_address="2 per minute")
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    assert _exhaust_and_try(app, "203.0.113.7", "203.0.113.8") == 302  # another client
    assert _exhaust_and_try(app, "203.0.113.9", "203.0.113.9") == 429
    from werkzeug.middleware.proxy_fix import ProxyFix

    # The scheme and host come from the proxy too (https: the browser's side of the TLS).
    assert isinstance(app.wsgi_app, ProxyFix)
    assert (app.wsgi_app.x_for, app.wsgi_app.x_proto, app.wsgi_app.x_host) == (1, 1, 1)


def test_without_a_proxy_forwarded_headers_are_not_believed(db: str, users: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from web.app import create_app

    set_settings(monkeypatch, proxy_count=0, login_limit_per_address="2 per minute")
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    # A forged X-Forwarded-For does not buy a fresh limit: the real address is the key.
    assert _exhaust_and_try(app, "203.0.113.7", "203.0.113.8") == 429
