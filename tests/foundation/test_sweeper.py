"""No job stays unfinished forever: Beat's sweeper sends a job stuck past its kind's deadline
again (from the task recorded on the job), and after STOCKFLOW_JOB_MAX_RESENDS gives it up
with the reason: its receipt and job failed, a dead letter to replay. Receipts are the real
job family here: their job records `comprovantes.processar` when the upload commits."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from core import dead_letters, jobs
from core.comprovantes import processing, registry
from core.comprovantes.validation import validate_upload
from core.db import session_scope
from core.enqueue import enqueue
from core.models import Job
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import get_settings
from tasks.base import give_up_job
from tasks.maintenance import sweep_jobs
from tests.comprovantes.receipts import make_receipt, render_pdf
from tests.comprovantes.support import wait_for_job


def register(seed: int) -> registry.Registered:
    """A receipt and its queued job, committed as an upload commits them."""
    pdf = render_pdf(make_receipt("nubank", seed))
    return registry.register(pdf, validate_upload("recibo.pdf", pdf), None, None)


def past_the_deadline() -> Any:
    return utcnow() + timedelta(seconds=get_settings().job_deadline_s("comprovantes") + 1)


def job_row(job_id: str) -> Job:
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_the_upload_records_the_task_on_its_job(db: str) -> None:
    registered = register(60)
    job = job_row(registered.job_id)
    assert job.task_name == "comprovantes.processar" and job.resends == 0
    assert job.task_kwargs == {"comprovante_id": registered.comprovante_id,
                               "job_id": registered.job_id}


def test_a_job_whose_message_was_lost_is_sent_again_and_finishes(worker: Any) -> None:
    # Must survive: the broker lost the message (its queue deleted); the job does not stay
    # queued: past its deadline the sweeper sends the recorded task again and it finishes.
    registered = register(61)
    enqueue(processing.TASK_NAME, processing.task_kwargs(registered.comprovante_id,
                                                         registered.job_id), queue="lost")
    assert get_redis().delete("lost") == 1  # the message is gone
    assert sweep_jobs() == {"resent": 0, "given_up": 0}  # Beat's task: not late yet
    assert jobs.sweep(give_up_job, now=past_the_deadline()) == {"resent": 1, "given_up": 0}
    assert wait_for_job(registered.job_id)["status"] == "finished"
    assert registry.get(registered.comprovante_id).status == "concluido"
    assert job_row(registered.job_id).resends == 1
    assert jobs.sweep(give_up_job, now=past_the_deadline()) == {"resent": 0, "given_up": 0}


@pytest.mark.mariadb
def test_a_job_resent_too_often_is_given_up_with_the_reason(db: str) -> None:
    # Must survive: a job that never finishes however often it is sent ends failed, with the
    # reason on its receipt and job, and is kept in the dead letters for a person.
    registered = register(62)
    most = get_settings().job_max_resends
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == registered.job_id).values(resends=most))
    assert jobs.sweep(give_up_job, now=past_the_deadline()) == {"resent": 0, "given_up": 1}
    failed = jobs.get_status(registered.job_id)
    assert failed["status"] == "failed"
    assert failed["error"].startswith("Tarefa abandonada: parada em queued há ")
    assert failed["error"].endswith(f"já reenviada {most} vezes.")
    receipt = registry.get(registered.comprovante_id)
    assert receipt.status == "erro" and receipt.erro == failed["error"]
    [letter] = dead_letters.list_open(processing.TASK_NAME)
    assert letter.reference == str(registered.comprovante_id) and letter.error == failed["error"]
    assert letter.kwargs == processing.task_kwargs(registered.comprovante_id, registered.job_id)
    assert jobs.sweep(give_up_job, now=past_the_deadline()) == {"resent": 0, "given_up": 0}


def test_a_stuck_job_without_a_recorded_task_is_failed_with_the_reason(db: str) -> None:
    job_id = jobs.create_job("tests")  # as jobs created before migration 0008
    later = utcnow() + timedelta(seconds=get_settings().job_deadline_s("tests") + 1)
    assert jobs.sweep(give_up_job, now=later) == {"resent": 0, "given_up": 1}
    assert jobs.get_status(job_id)["error"].endswith("sem tarefa registrada para reenviar.")
