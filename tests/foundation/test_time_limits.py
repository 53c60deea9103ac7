"""Every task has a time limit, from the settings per family: on a real prefork worker a task
past its soft limit fails with a readable message and a dead letter, and one that ignores the
soft limit is killed at the hard one (its process replaced, its job failed, not left started)."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from core import dead_letters, jobs
from core.celery_app import celery_app
from core.settings import ConfigurationError, Settings
from tests.support.database import database_url
from tests.support.waiting import wait_until
from tests.support.workers import spawn_worker, stop_worker

QUEUE = "tests_limits"  # no other worker reads it (the session's in-process one reads the real queues)
SOFT_S, HARD_S = 1, 3


@pytest.fixture(scope="module")
def limited_worker() -> Iterator[subprocess.Popen[bytes]]:
    """A prefork worker (1 process) running the tests' tasks with tiny time limits."""
    process = spawn_worker(QUEUE, concurrency=1, include="tests.foundation.limit_tasks", env={
        "STOCKFLOW_DATABASE_URL": database_url("sqlite"),
        "STOCKFLOW_TASK_TIME_LIMITS": f"tests={SOFT_S}/{HARD_S}"})
    yield process
    stop_worker(process)


def run_job(task_name: str, seconds: float) -> str:
    job_id = jobs.create_job("tests")
    celery_app.send_task(task_name, kwargs={"seconds": seconds, "job_id": job_id}, queue=QUEUE)
    return job_id


def wait_for_end(job_id: str, timeout_s: float = 30) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        status = jobs.get_status(job_id)
        return status if status and status["status"] in ("finished", "failed") else None

    return wait_until(ended, timeout_s, lambda: f"job {job_id} to end: {jobs.get_status(job_id)}")


def pool_pids(worker: subprocess.Popen[bytes]) -> set[int]:
    return {child.pid for child in psutil.Process(worker.pid).children()}


def test_every_task_has_its_familys_limits() -> None:
    from tasks import celery_app as app  # every task module registered

    limits = {name: (task.soft_time_limit, task.time_limit) for name, task in app.tasks.items()}
    assert limits["comprovantes.processar"] == (300, 330)
    assert limits["ruptura.analisar_lote"] == (300, 330)
    assert limits["sync.sincronizar"][0] > 300  # above STOCKFLOW_PLUSOFT_CHUNK_S
    assert all(soft and hard and soft < hard for soft, hard in limits.values()), limits


def test_limits_are_read_per_family_and_checked_at_start() -> None:
    settings = Settings(task_time_limits="comprovantes=600/660")
    assert settings.time_limits("comprovantes") == (600, 660)
    assert settings.time_limits("ruptura") == (300, 330)  # not named: its default
    assert settings.time_limits("maintenance") == settings.time_limits("default")
    with pytest.raises(ConfigurationError, match="sync's soft limit must exceed"):
        Settings(task_time_limits="sync=200/260")  # below STOCKFLOW_PLUSOFT_CHUNK_S (300)
    with pytest.raises(ConfigurationError, match="0 < soft < hard"):
        Settings(task_time_limits="baixa=90/60")
    with pytest.raises(ConfigurationError, match="must exceed its hard time limit"):
        Settings(job_deadlines="comprovantes=300")


def test_soft_limit_fails_the_job_readably_and_dead_letters_it(db: str, limited_worker: Any) -> None:
    # Must survive: the stuck task ends (failed, with a message a person reads) and is kept
    # for replay; the worker goes on with the next task.
    job_id = run_job("tests.sleeps", 20)
    failed = wait_for_end(job_id)
    assert failed["status"] == "failed"
    assert failed["error"] == f"Tempo limite de {SOFT_S} s excedido: a tarefa foi interrompida."
    [letter] = dead_letters.list_open("tests.sleeps")
    assert letter.reference == job_id and letter.error == failed["error"]
    assert wait_for_end(run_job("tests.sleeps", 0))["status"] == "finished"


def test_hard_limit_kills_a_task_that_ignores_the_soft_one(db: str, limited_worker: Any) -> None:
    # Must survive: the process is killed and replaced, the job does not stay started, the
    # failure is dead-lettered, and the worker keeps serving.
    before = pool_pids(limited_worker)
    job_id = run_job("tests.ignores_soft_limit", 30)
    wait_until(lambda: jobs.get_status(job_id)["status"] == "started", 20, "the task to start")
    failed = wait_for_end(job_id)
    assert failed["status"] == "failed"
    assert failed["error"] == (f"Tempo limite máximo de {HARD_S} s excedido: o processo da "
                               "tarefa foi encerrado.")
    assert [letter.reference for letter in dead_letters.list_open("tests.ignores_soft_limit")] == [job_id]
    wait_until(lambda: pool_pids(limited_worker) and not pool_pids(limited_worker) & before, 20,
               "the killed process to be replaced")
    assert wait_for_end(run_job("tests.sleeps", 0))["status"] == "finished"
