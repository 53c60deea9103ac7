"""Fixtures of the receipts tests: settings switches, the Vision stand-in, waiting on a job's events."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import get_settings, reset_settings


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set STOCKFLOW_* settings for one test: configure(company_cnpj="...")."""

    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"STOCKFLOW_{name.upper()}", str(value))
        reset_settings()

    yield apply
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
def standin() -> Iterator[Any]:
    """The local Google Vision stand-in, answering on a free port."""
    from core.comprovantes.vision_standin import VisionStandIn

    server = VisionStandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def offline_engine() -> Any:
    """One offline OCR engine for the session (model loading takes a moment)."""
    from core.comprovantes.ocr.engines import OfflineEngine

    return OfflineEngine(threads=1)


def uploads_snapshot() -> set[Path]:
    """Every file under the uploads folder right now."""
    root = Path(get_settings().var_dir) / "uploads"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def job_events(job_id: str) -> list[dict[str, Any]]:
    """Every event published so far on the job's SSE channel."""
    from core.redis_client import get_redis

    return [json.loads(fields["data"]) for _, fields in get_redis().xrange(f"sse:job:{job_id}")]


def wait_for_job(job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    """Block on the job's SSE stream until it ends; return its final status."""
    from core import jobs
    from core.redis_client import get_redis

    last_id = "0-0"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = jobs.get_status(job_id)
        if status and status["status"] in ("finished", "failed"):
            return status
        batch = get_redis().xread({f"sse:job:{job_id}": last_id}, count=100, block=1000)
        if batch:
            last_id = batch[0][1][-1][0]
    raise TimeoutError(f"job {job_id} did not end within {timeout_s}s: {jobs.get_status(job_id)}")
