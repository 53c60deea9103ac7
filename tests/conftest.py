"""Shared fixtures: an embedded Redis for the session, SQLite and MariaDB databases
migrated from empty, a real Celery worker, the Flask app, a live server and a browser."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The session's Redis and settings must exist before tasks.app is imported (the Celery app
# reads them once), so they are set up at import of this file.
_TMP = Path(tempfile.mkdtemp(prefix="stockflow-tests-"))
from core import embedded_redis  # noqa: E402

REDIS_PORT = embedded_redis.free_port()
_redis_process = embedded_redis.start(REDIS_PORT, _TMP / "redis", appendonly=False)
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
os.environ.update({
    "STOCKFLOW_ENV": "test",
    "STOCKFLOW_REDIS_URL": REDIS_URL,
    "STOCKFLOW_VAR_DIR": str(_TMP / "var"),
    "STOCKFLOW_DATABASE_URL": f"sqlite:///{_TMP / 'test.sqlite3'}",
    "STOCKFLOW_SSE_HEARTBEAT_S": "1",
})
os.environ.pop("STOCKFLOW_BROKER_URL", None)

# A database of our own per test run (several runs may share one MariaDB), dropped at the end.
MYSQL_URL = os.environ.get("STOCKFLOW_TEST_MYSQL_URL",
                           f"mysql+mysqldb://root@127.0.0.1:3306/stockflow_test_{os.getpid()}")
IN_CI = os.environ.get("CI", "").lower() == "true"

from core import db as core_db  # noqa: E402
from core.redis_client import get_redis  # noqa: E402
from core.settings import reset_settings  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _session_resources() -> Iterator[None]:
    """Set up first, so torn down last: the Redis and databases outlive every worker fixture."""
    yield
    if "mariadb" in _migrated:
        core_db.dispose_engine()
        core_db.recreate_mysql_database(MYSQL_URL, create=False)
    _redis_process.terminate()
    try:
        _redis_process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _redis_process.kill()
    shutil.rmtree(_TMP, ignore_errors=True)


def pytest_generate_tests(metafunc: Any) -> None:
    if "db_backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker
        backends = (["mariadb"] if marker("mariadb_only") else
                    ["sqlite", "mariadb"] if marker("mariadb") else ["sqlite"])
        metafunc.parametrize("db_backend", backends, indirect=True)


@pytest.fixture
def db_backend(request: Any) -> str:
    return getattr(request, "param", "sqlite")


_migrated: dict[str, str] = {}


def wait_until(condition: Any, timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Return condition()'s first truthy value, polling every 20 ms; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.02)


def service_unavailable(service: str, url: str, problem: object) -> None:
    """A real service the test needs does not answer: a failure in CI (CI always has it),
    a skip with the reason on a laptop without it."""
    if IN_CI:
        pytest.fail(f"{service} must answer in CI ({url}): {problem}")
    pytest.skip(f"{service} not reachable at {url}: {problem}")


def _mysql_reachable() -> str | None:
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
        url = f"sqlite:///{_TMP / 'test.sqlite3'}"
    else:
        problem = _mysql_reachable()
        if problem:
            service_unavailable("MariaDB", MYSQL_URL, problem)
        url = MYSQL_URL
    use_database(url)
    from core import migrate

    migrate.upgrade()
    _migrated[backend] = url
    return url


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
            conn.execute(table.delete())
        if engine.dialect.name == "mysql":
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


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

    from tasks.app import QUEUES, celery_app

    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False,
                      queues=list(QUEUES), shutdown_timeout=30, loglevel="WARNING") as worker:
        yield worker


@pytest.fixture
def worker(db: str, celery_worker_session: Any) -> Any:
    """A real Celery worker on the real broker, using this test's database."""
    return celery_worker_session


def spawn_worker(queues: str, concurrency: int = 2, name: str | None = None,
                 env: dict[str, str] | None = None, pool: str = "prefork") -> subprocess.Popen[bytes]:
    """Start `celery -A tasks worker` as a separate process and wait until it answers a ping."""
    from tasks.app import celery_app

    name = name or f"test-{queues.replace(',', '-')}-{time.monotonic_ns()}@localhost"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--queues", queues,
         "--concurrency", str(concurrency), "--pool", pool, "--hostname", name,
         "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}")
        if celery_app.control.ping(destination=[name], timeout=0.5):
            return process
    process.kill()
    raise TimeoutError("worker did not answer a ping within 60 s")


@pytest.fixture
def app(db: str) -> Any:
    """The Flask app on this test's database (CSRF off; tests of CSRF turn it on)."""
    from web.app import create_app

    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})


@pytest.fixture
def users(db: str) -> dict[str, Any]:
    """An administrator and an ordinary user, with their passwords."""
    from web.auth import create_user

    return {"admin": create_user("admin", "admin-password", name="Admin", is_admin=True),
            "ana": create_user("ana", "ana-password", name="Ana"),
            "passwords": {"admin": "admin-password", "ana": "ana-password"}}


def login(client: Any, username: str, password: str) -> None:
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.data


@pytest.fixture
def client(app: Any, users: dict[str, Any]) -> Any:
    """A test client logged in as the administrator."""
    test_client = app.test_client()
    login(test_client, "admin", "admin-password")
    return test_client


class LiveServer:
    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()

    def session(self, username: str = "admin", password: str = "admin-password") -> Any:
        """A requests.Session logged in through the real login form (CSRF token included)."""
        import re

        import requests

        http = requests.Session()
        page = http.get(f"{self.url}/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = http.post(f"{self.url}/login", allow_redirects=False,
                             data={"username": username, "password": password, "csrf_token": token})
        assert response.status_code == 302, response.text
        http.headers["X-CSRFToken"] = token
        return http


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
