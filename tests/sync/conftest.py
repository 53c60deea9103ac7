"""Sync fixtures: fast timeouts and waits, and a Plusoft stand-in on a free port."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import reset_settings
from standins.plusoft import PlusoftStandIn

# Small timeouts and waits so injected faults cost milliseconds, batches of 500 rows.
FAST_SYNC_ENV = {
    "STOCKFLOW_PLUSOFT_READ_TIMEOUT_S": "0.5",
    "STOCKFLOW_PLUSOFT_CONNECT_TIMEOUT_S": "1",
    "STOCKFLOW_PLUSOFT_RETRY_MAX_S": "0.1",
    "STOCKFLOW_PLUSOFT_MAX_ATTEMPTS": "6",
    "STOCKFLOW_PLUSOFT_BATCH_SIZE": "500",
}


@pytest.fixture
def sync_env() -> Iterator[dict[str, str]]:
    """Set environment variables for this test (settings re-read), restored afterwards."""
    saved = dict(os.environ)
    os.environ.update(FAST_SYNC_ENV)
    reset_settings()
    yield os.environ  # type: ignore[misc]
    os.environ.clear()
    os.environ.update(saved)
    reset_settings()


@pytest.fixture
def standin(sync_env: Any) -> Iterator[PlusoftStandIn]:
    """A Plusoft stand-in on a free port; STOCKFLOW_PLUSOFT_BASE_URL points at it."""
    server = PlusoftStandIn().start()
    os.environ["STOCKFLOW_PLUSOFT_BASE_URL"] = server.url
    reset_settings()
    yield server
    server.stop()
