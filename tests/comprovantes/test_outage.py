"""Nothing lost when the database goes away as a receipt's task starts (MariaDB cut through a
TCP proxy; the shared server is never stopped): the task waits for the database and the receipt
is processed, or, past its retries, its failure is parked in Redis and recorded (receipt, job,
dead letter) once the database is back. Uploading the same file again queues a receipt that
never finished instead of answering "já foi enviado"."""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url

from core import dead_letters, jobs
from core.comprovantes import processing, registry
from core.comprovantes.validation import validate_upload
from core.db import session_scope
from core.dead_letters import PARKED_KEY
from core.models import Job
from core.models.types import utcnow
from core.redis_client import get_redis
from core.settings import get_settings
from tests.baixa.tcp_proxy import TcpProxy
from tests.comprovantes.receipts import make_receipt, render_pdf
from tests.comprovantes.support import wait_for_job
from tests.support.database import use_database
from tests.support.waiting import wait_until


@pytest.fixture
def proxy(db: str) -> Iterator[TcpProxy]:
    """This process (the in-process worker included) reaches MariaDB through a proxy to cut."""
    real = make_url(db)
    tcp_proxy = TcpProxy(real.host or "127.0.0.1", real.port or 3306)
    use_database(real.set(host="127.0.0.1", port=tcp_proxy.port).render_as_string(hide_password=False))
    yield tcp_proxy
    tcp_proxy.close()
    use_database(db)


def register(data: bytes) -> registry.Registered:
    """Store a receipt and its queued job, as an upload does before it enqueues."""
    return registry.register(data, validate_upload("recibo.pdf", data), None, None)


def post(client: Any, data: bytes) -> Any:
    return client.post("/api/comprovantes", content_type="multipart/form-data",
                       data={"arquivo": (io.BytesIO(data), "de-novo.pdf")})


def retry_waiting_in_broker() -> bool:
    """Whether the broker holds a retry (retries >= 1) of the receipt task for a worker."""
    headers = [json.loads(raw)[0]["headers"] for raw in get_redis().hvals("unacked")]
    return any(h.get("task") == processing.TASK_NAME and h.get("retries", 0) >= 1 for h in headers)


@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_database_cut_as_the_task_starts_is_waited_for_then_processed(
        worker: Any, proxy: TcpProxy) -> None:
    # Must survive: the task that found the database down (recording its start) stays with
    # the broker and runs again; the receipt is processed and its job ends.
    receipt = make_receipt("itau", 51)
    registered = register(render_pdf(receipt))
    proxy.cut()
    assert processing.enqueue(registered.comprovante_id, registered.job_id)
    wait_until(retry_waiting_in_broker, 30, "a retry of the task while the database is down")
    proxy.restore()
    status = wait_for_job(registered.job_id)
    assert status["status"] == "finished", status
    saved = registry.get(registered.comprovante_id)
    assert saved.status == "concluido" and saved.id_transacao == receipt.e2e
    assert not dead_letters.list_open() and get_redis().llen(PARKED_KEY) == 0


@pytest.mark.mariadb_only  # the outage is a cut of MariaDB's TCP connection
def test_database_down_past_the_retries_parks_the_failure_then_records_it(
        client: Any, worker: Any, proxy: TcpProxy, configure: Any) -> None:
    # Must survive: with the database down for longer than the retries, the failure waits in
    # Redis; once the database is back Beat's move_parked records it as the task would have
    # (receipt and job failed with the reason, a dead letter), and the same file uploaded
    # again is processed.
    from tasks import maintenance

    configure(ocr_max_retries=1)
    receipt = make_receipt("bb", 52)
    pdf = render_pdf(receipt)
    registered = register(pdf)
    proxy.cut()
    assert processing.enqueue(registered.comprovante_id, registered.job_id)
    wait_until(lambda: get_redis().llen(PARKED_KEY) == 1, 30, "the failure parked in Redis")
    proxy.restore()

    assert maintenance.move_parked_dead_letters() == 1  # Beat's task, run here
    failed = jobs.get_status(registered.job_id)
    assert failed["status"] == "failed" and failed["error"].startswith("Banco de dados indisponível")
    saved = registry.get(registered.comprovante_id)
    assert saved.status == "erro" and saved.erro == failed["error"]
    [letter] = dead_letters.list_open(processing.TASK_NAME)
    assert letter.reference == str(registered.comprovante_id)

    again = post(client, pdf)
    assert again.status_code == 202, again.get_json()
    assert again.get_json()["reenviado"] and again.get_json()["job_id"] == registered.job_id
    assert wait_for_job(registered.job_id)["status"] == "finished"
    assert registry.get(registered.comprovante_id).id_transacao == receipt.e2e


def test_same_file_again_queues_a_receipt_stuck_unfinished(client: Any, worker: Any) -> None:
    # Must survive: a receipt whose task never ran (its message lost) is not a dead end: once
    # past its job's deadline, uploading the file again queues it again and it is processed.
    receipt = make_receipt("santander", 53)
    pdf = render_pdf(receipt)
    registered = register(pdf)  # never enqueued: the message was lost

    on_its_way = post(client, pdf)
    assert on_its_way.status_code == 200 and on_its_way.get_json()["duplicado"]
    assert "já foi enviado" in on_its_way.get_json()["mensagem"]

    deadline_s = get_settings().job_deadline_s("comprovantes")
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == registered.job_id).values(
            updated_at=utcnow() - timedelta(seconds=deadline_s + 60)))
    again = post(client, pdf)
    assert again.status_code == 202, again.get_json()
    body = again.get_json()
    assert body["reenviado"] and body["comprovante_id"] == registered.comprovante_id
    assert "fila de novo" in body["mensagem"]
    assert wait_for_job(registered.job_id)["status"] == "finished"
    assert registry.get(registered.comprovante_id).id_transacao == receipt.e2e
