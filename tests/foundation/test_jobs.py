"""The job registry through a real worker on the real broker: /jobs/<id>/status moves
queued -> started -> finished, a failing task shows failed with its error, unknown is 404."""
from __future__ import annotations

from typing import Any

import pytest

from core import jobs
from tests import sample_tasks
from tests.support.waiting import wait_until
from tests.support.web import login


def wait_for_status(client: Any, job_id: str, wanted: str, stage: str | None = None,
                    timeout_s: float = 20) -> dict[str, Any]:
    """Poll the status endpoint (what a page without SSE would do) until `wanted` shows."""

    def status() -> dict[str, Any]:
        return client.get(f"/jobs/{job_id}/status").get_json()

    def reached() -> dict[str, Any] | None:
        body = status()
        return body if body["status"] == wanted and (stage is None or body.get("stage") == stage) else None

    return wait_until(reached, timeout_s, lambda: f"job {job_id} to reach {wanted}/{stage}: {status()}")


@pytest.mark.mariadb
def test_status_moves_queued_started_finished(client: Any, worker: Any) -> None:
    sample_tasks.gate.clear()
    job_id = jobs.create_job("tests", owner_id=None)
    queued = client.get(f"/jobs/{job_id}/status").get_json()
    assert queued["status"] == "queued" and "created_at" in queued and "started_at" not in queued

    result = sample_tasks.counted_steps.apply_async(kwargs={"steps": 4, "job_id": job_id,
                                                            "wait_for_gate": True})
    try:
        started = wait_for_status(client, job_id, "started", stage="passo 1")
        assert started["progress"] == 0 and started["started_at"]
    finally:
        sample_tasks.gate.set()
    assert result.get(timeout=20) == {"steps": 4}
    finished = wait_for_status(client, job_id, "finished")
    assert finished["result"] == {"steps": 4}
    assert finished["progress"] == 100
    assert finished["created_at"] <= finished["started_at"] <= finished["ended_at"]


@pytest.mark.mariadb
def test_failing_task_shows_failed_with_readable_error(client: Any, worker: Any) -> None:
    job_id = jobs.create_job("tests")
    sample_tasks.always_fails.apply_async(kwargs={"job_id": job_id})
    failed = wait_for_status(client, job_id, "failed")
    assert failed["error"] == "ValueError: comprovante ilegível"
    assert failed["ended_at"] and "result" not in failed


def test_unknown_job_is_404(client: Any) -> None:
    response = client.get("/jobs/00000000-0000-0000-0000-000000000000/status")
    assert response.status_code == 404
    assert "não encontrado" in response.get_json()["error"]


def test_someone_elses_job_is_hidden(app: Any, users: dict[str, Any]) -> None:
    job_id = jobs.create_job("tests", owner_id=users["admin"].id)
    ana = app.test_client()
    login(ana, "ana", "ana-password")
    assert ana.get(f"/jobs/{job_id}/status").status_code == 404


def test_status_needs_login(app: Any) -> None:
    job_id = jobs.create_job("tests")
    response = app.test_client().get(f"/jobs/{job_id}/status")
    assert response.status_code == 401
