"""The test session's environment: an embedded Redis and the STOCKFLOW_* variables.

Set up when this module is first imported, because core.celery_app and the settings read them
once: conftest.py imports it before anything from core, and every support module that imports
core imports it first. Importing it outside a test run would start a Redis; nothing outside
tests/ should.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from standins import embedded_redis  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="stockflow-tests-"))
REDIS_PORT = embedded_redis.free_port()
_redis_process = embedded_redis.start(REDIS_PORT, TMP / "redis", appendonly=False)
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
SQLITE_URL = f"sqlite:///{TMP / 'test.sqlite3'}"
os.environ.update({
    "STOCKFLOW_ENV": "test",
    "STOCKFLOW_REDIS_URL": REDIS_URL,
    "STOCKFLOW_VAR_DIR": str(TMP / "var"),
    "STOCKFLOW_DATABASE_URL": SQLITE_URL,
    "STOCKFLOW_SSE_HEARTBEAT_S": "1",
})
os.environ.pop("STOCKFLOW_BROKER_URL", None)

# A database of our own per test run (several runs may share one MariaDB), dropped at the end.
MYSQL_URL = os.environ.get("STOCKFLOW_TEST_MYSQL_URL",
                           f"mysql+mysqldb://root@127.0.0.1:3306/stockflow_test_{os.getpid()}")
IN_CI = os.environ.get("CI", "").lower() == "true"


def service_unavailable(service: str, url: str, problem: object) -> None:
    """A real service the test needs does not answer: a failure in CI (CI always has it),
    a skip with the reason on a laptop without it."""
    if IN_CI:
        pytest.fail(f"{service} must answer in CI ({url}): {problem}")
    pytest.skip(f"{service} not reachable at {url}: {problem}")


def shutdown() -> None:
    """Stop the session's Redis and remove its temporary folder (the last thing a run does)."""
    _redis_process.terminate()
    try:
        _redis_process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _redis_process.kill()
    shutil.rmtree(TMP, ignore_errors=True)
