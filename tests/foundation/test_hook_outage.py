"""A job's end survives the database going away right after the work: the task is retried
(idempotent) instead of leaving its job `started`. MariaDB is cut through a TCP proxy; the
shared server is never stopped."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from core import dead_letters, jobs
from core.celery_app import celery_app
from core.redis_client import get_redis
from tasks.base import JobTask
from tests.baixa.tcp_proxy import TcpProxy
from tests.support.database import use_database
from tests.support.waiting import wait_until

# What the task does once its work is done, on its first try only (the test cuts the database).
after_work: list[Callable[[], None]] = []


@celery_app.task(name="tests.work_then_outage", base=JobTask, bind=True)
def work_then_outage(self: JobTask, job_id: str) -> dict[str, int]:
    if self.request.retries == 0:
        for hook in after_work:
            hook()
    return {"tries": self.request.retries + 1}


def retry_waiting(task_name: str) -> bool:
    headers = [json.loads(raw)[0]["headers"] for raw in get_redis().hvals("unacked")]
    return any(h.get("task") == task_name and h.get("retries", 0) >= 1 for h in headers)


@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_job_end_the_database_cannot_take_is_recorded_by_a_retry(db: str, worker: Any) -> None:
    real = make_url(db)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 3306)
    use_database(real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    try:
        job_id = jobs.create_job("tests")
        after_work[:] = [proxy.cut]
        celery_app.send_task("tests.work_then_outage", kwargs={"job_id": job_id})
        wait_until(lambda: retry_waiting("tests.work_then_outage"), 30,
                   "a retry to record the job's end")
        proxy.restore()
        wait_until(lambda: jobs.get_status(job_id)["status"] == "finished", 30, "the job's end")
        assert jobs.get_status(job_id)["result"] == {"tries": 2}
        assert not dead_letters.list_open()
    finally:
        after_work.clear()
        proxy.close()
        use_database(db)
