"""Shared fixtures: an embedded Redis for the session, SQLite and MariaDB databases
migrated from empty, a real Celery worker, the Flask app, a live server and a browser."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

# The helpers' asserts report like the tests' own (registered before they are imported).
pytest.register_assert_rewrite("tests.support", "tests.baixa.support", "tests.comprovantes.support",
                               "tests.health.support", "tests.ruptura.support", "tests.sync.support")

# The session's Redis and settings must exist before core.celery_app is imported (the Celery app
# reads them once): importing tests.support.environment sets them up, so it comes first.
from tests.support import environment  # noqa: E402

# isort: split
from core import db as core_db  # noqa: E402
from core.redis_client import get_redis  # noqa: E402
from tests.support.database import clean_tables, database_url, drop_databases, use_database  # noqa: E402
from tests.support.web import LiveServer, login  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _session_resources() -> Iterator[None]:
    """Set up first, so torn down last: the Redis and databases outlive every worker fixture."""
    yield
    from web.metrics import UPLOAD_LATENCY

    UPLOAD_LATENCY.flush()  # the uploads' last latencies, while the session's Redis still runs
    drop_databases()
    environment.shutdown()


def pytest_generate_tests(metafunc: Any) -> None:
    if "db_backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker
        backends = (["mariadb"] if marker("mariadb_only") else
                    ["sqlite", "mariadb"] if marker("mariadb") else ["sqlite"])
        metafunc.parametrize("db_backend", backends, indirect=True)


@pytest.fixture
def db_backend(request: Any) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture
def db(db_backend: str) -> Iterator[str]:
    """A migrated, empty database of the parametrized backend; yields its URL."""
    url = database_url(db_backend)
    use_database(url)
    clean_tables()
    get_redis().flushdb()
    yield url
    core_db.dispose_engine()


@pytest.fixture(scope="session")
def celery_worker_session() -> Iterator[Any]:
    """One real in-process Celery worker (threads pool) consuming every queue on the real broker."""
    from celery.contrib.testing.worker import start_worker

    from core.celery_app import QUEUES
    from tasks import celery_app  # the app with every task module registered

    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False,
                      queues=list(QUEUES), shutdown_timeout=30, loglevel="WARNING") as worker:
        yield worker


@pytest.fixture
def worker(db: str, celery_worker_session: Any) -> Any:
    """A real Celery worker on the real broker, using this test's database."""
    return celery_worker_session


@pytest.fixture
def app(db: str) -> Any:
    """The Flask app on this test's database (CSRF off; tests of CSRF turn it on)."""
    from web.app import create_app

    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})


@pytest.fixture
def users(db: str) -> dict[str, Any]:
    """An administrator and Ana, store staff (role "loja"), with their passwords."""
    from core.users import create_user

    return {"admin": create_user("admin", "admin-password", name="Admin", role="admin"),
            "ana": create_user("ana", "ana-password", name="Ana"),
            "passwords": {"admin": "admin-password", "ana": "ana-password"}}


@pytest.fixture
def client(app: Any, users: dict[str, Any]) -> Any:
    """A test client logged in as the administrator."""
    test_client = app.test_client()
    login(test_client, "admin", "admin-password")
    return test_client


@pytest.fixture
def live_server(db: str, users: dict[str, Any]) -> Iterator[LiveServer]:
    """The real app (CSRF on) served over HTTP on a free port, in a thread."""
    from web.app import create_app

    server = LiveServer(create_app())
    yield server
    server.stop()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def _playwright_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def page(_playwright_browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A headless Chromium page logged in as the administrator; console errors fail the test."""
    context = _playwright_browser.new_context(base_url=live_server.url, locale="pt-BR")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-password")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.console_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()
    assert not errors, f"browser console errors: {errors}"
