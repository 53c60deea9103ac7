"""A message the Celery worker cannot run is kept, not dropped: undecodable bodies, messages in
no task format and calls of unknown tasks land in the dead letters with the reason (an unknown
task's call replayable as is), and the worker goes on with the good message behind them."""
from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from kombu import Queue

from core import dead_letters, jobs
from core.celery_app import celery_app
from core.worker_consumer import POISON
from tests.support.database import database_url
from tests.support.waiting import wait_until
from tests.support.workers import spawn_worker, stop_worker

QUEUE = "tests_poison"  # read by this module's worker only


@pytest.fixture(scope="module")
def poison_worker() -> Iterator[subprocess.Popen[bytes]]:
    process = spawn_worker(QUEUE, concurrency=1, include="tests.sample_tasks",
                           env={"STOCKFLOW_DATABASE_URL": database_url("sqlite")})
    yield process
    stop_worker(process)


def publish_raw(body: bytes | str, headers: dict | None = None,
                content_type: str = "application/json") -> None:
    with celery_app.connection_for_write() as connection:
        producer = connection.Producer()
        producer.publish(body, exchange="", routing_key=QUEUE, declare=[Queue(QUEUE)],
                         headers=headers or {}, content_type=content_type,
                         content_encoding="utf-8", serializer=None, retry=False)


def test_poison_messages_are_kept_and_the_worker_goes_on(poison_worker: subprocess.Popen[bytes]) -> None:
    marker = uuid.uuid4().hex
    unknown_id = str(uuid.uuid4())
    publish_raw(b"{not json " + marker.encode())                                  # undecodable
    publish_raw(json.dumps({"hello": marker}))                                   # no task format
    publish_raw(json.dumps([[marker], {"loja": "1"}, {}]),                        # unknown task
                headers={"lang": "py", "task": "tarefa.que.nao.existe", "id": unknown_id,
                         "argsrepr": "", "kwargsrepr": ""})
    job_id = jobs.create_job("tests")                                            # a good one behind
    celery_app.send_task("tests.counted_steps", kwargs={"steps": 1, "job_id": job_id}, queue=QUEUE)

    wait_until(lambda: (jobs.get_status(job_id) or {}).get("status") == "finished", 60,
               lambda: f"the good task behind the poison to finish: {jobs.get_status(job_id)}")
    assert poison_worker.poll() is None, "the worker survived the poison"

    def kept_unreadable() -> list | None:
        entries = [e for e in dead_letters.list_open(POISON) if marker in e.args[0]]
        return entries if len(entries) == 2 else None

    kept = wait_until(kept_unreadable, 30, "both unreadable messages in the dead letters")
    reasons = sorted(e.error for e in kept)
    assert any(r.startswith("mensagem ilegível") for r in reasons), reasons
    assert any(r.startswith("mensagem fora do formato") for r in reasons), reasons
    assert all(f"fila {QUEUE}" in r for r in reasons) and all(e.kwargs == {"encoding": "utf-8"}
                                                              for e in kept)

    unknown = [e for e in dead_letters.list_open("tarefa.que.nao.existe") if e.reference == unknown_id]
    assert len(unknown) == 1, "the unknown task's call is kept once"
    assert unknown[0].args == [marker] and unknown[0].kwargs == {"loja": "1"}
    assert "tarefa desconhecida" in unknown[0].error


def test_a_device_queue_runs_only_its_own_tasks() -> None:
    """What a Pi's credentials can write to (the baixa queue) never runs another task: a forged
    call of a registered task there is kept as a dead letter with the reason, not run."""
    process = spawn_worker("baixa", concurrency=1, include="tests.sample_tasks",
                           env={"STOCKFLOW_DATABASE_URL": database_url("sqlite")})
    try:
        job_id = jobs.create_job("tests")
        forged_id = str(uuid.uuid4())
        celery_app.send_task("tests.counted_steps", kwargs={"steps": 1, "job_id": job_id},
                             queue="baixa", task_id=forged_id)
        kept = wait_until(lambda: [e for e in dead_letters.list_open(POISON)
                                   if job_id in json.dumps(e.args)] or None, 60,
                          "the forged call on the baixa queue in the dead letters")
        assert "tarefa 'tests.counted_steps' recusada" in kept[0].error
        assert "fila baixa" in kept[0].error
        assert (jobs.get_status(job_id) or {}).get("status") != "finished", "the forged task ran"
        assert process.poll() is None
    finally:
        stop_worker(process)
