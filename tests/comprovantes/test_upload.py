"""Uploads through the API: hostile files refused with a pt-BR JSON error and nothing stored;
a good receipt answered at once (202) and processed by a real worker; duplicates, even
concurrent ones, are one receipt and one OCR job; with the broker down, the answer carries
the result."""
from __future__ import annotations

import io
import socket
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from core.db import session_scope
from core.models import Comprovante, DeadLetter, Job
from tests.comprovantes import hostile
from tests.comprovantes.receipts import make_receipt, render_pdf, render_png
from tests.comprovantes.support import (
    browser_multipart,
    job_events,
    uploads_snapshot,
    wait_for_job,
)

MB = 1024 * 1024


def post(client: Any, name: str, data: bytes, pedido: str = "") -> Any:
    body, content_type = browser_multipart({"pedido": pedido} if pedido else {}, {"arquivo": (name, data)})
    return client.post("/api/comprovantes", data=body, content_type=content_type)


def counts() -> tuple[int, int]:
    with session_scope() as session:
        return (session.scalar(select(func.count()).select_from(Comprovante)),
                session.scalar(select(func.count()).select_from(Job)))


def hostile_cases() -> list[tuple[str, str, Any, int, str]]:
    png = render_png(make_receipt("nubank", 31))
    return [
        ("exe renamed .jpg", "nota.jpg", hostile.exe_bytes, 415, "não corresponde à extensão"),
        ("html/js polyglot png", "recibo.png", lambda: hostile.png_with_script(png), 415, "HTML ou script"),
        ("html page named png", "recibo.png", hostile.html_page, 415, "text/html"),
        ("empty", "vazio.pdf", lambda: b"", 400, "Arquivo vazio"),
        ("16 MB + 1 byte", "grande.png", lambda: png + b"\x00" * (16 * MB + 1 - len(png)), 413, "16 MB"),
        ("huge-pixel png", "bomba.png", lambda: hostile.png_claiming(30000, 30000), 413, "grande demais"),
        ("pdf with /JavaScript", "js.pdf", hostile.pdf_with_javascript, 415, "/JavaScript"),
        ("pdf with #-escaped JS", "js2.pdf", hostile.pdf_with_escaped_javascript, 415, "/JavaScript"),
        ("pdf JS in object stream", "js3.pdf", hostile.pdf_with_compressed_javascript, 415, "/JavaScript"),
        ("pdf with /Launch", "launch.pdf", hostile.pdf_with_launch, 415, "/Launch"),
        ("pdf with attachment", "anexo.pdf", hostile.pdf_with_attachment, 415, "/EmbeddedFile"),
        ("pdf over page limit", "longo.pdf", lambda: hostile.pdf_with_pages(6), 413, "6 páginas"),
        ("name with ../", "../../etc/cron.d/x.png", lambda: png, 400, "caminhos"),
        ("name with NUL", "recibo\x00.php.png", lambda: png, 400, "caracteres de controle"),
        ("name of 300 chars", "a" * 296 + ".png", lambda: png, 400, "longo demais"),
        ("other extension", "recibo.svg", lambda: png, 415, "JPG, PNG ou PDF"),
        ("no extension trick", "recibo.png.", hostile.exe_bytes, 415, "não corresponde"),
    ]


@pytest.mark.parametrize(("case", "name", "make", "status", "message"), hostile_cases(),
                         ids=[c[0] for c in hostile_cases()])
def test_hostile_upload_is_refused_and_nothing_is_stored(
        client: Any, case: str, name: str, make: Any, status: int, message: str) -> None:
    # Must survive: no receipt row, no job, no file under var/uploads; a clear pt-BR reason.
    before = uploads_snapshot()
    response = post(client, name, make())
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == status and message in body["error"]
    assert counts() == (0, 0)
    assert uploads_snapshot() == before


def test_declared_body_over_the_limit_is_refused_before_it_is_read(live_server: Any) -> None:
    # Must survive: the server answers 413 while the 17 MB body is still unsent.
    http = live_server.session()
    url = urlsplit(live_server.url)
    cookies = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    request = (f"POST /api/comprovantes HTTP/1.1\r\nHost: {url.netloc}\r\nCookie: {cookies}\r\n"
               f"X-CSRFToken: {http.headers['X-CSRFToken']}\r\nAccept: application/json\r\n"
               "Content-Type: multipart/form-data; boundary=x\r\n"
               f"Content-Length: {17 * MB}\r\n\r\n")
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(65536):  # the server closes after its answer
            received += chunk
        answer = received.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "16 MB" in answer
    assert counts() == (0, 0)


def test_upload_answers_at_once_and_the_worker_fills_the_fields(client: Any, worker: Any,
                                                                configure: Any) -> None:
    receipt = make_receipt("itau", 32)
    configure(company_cnpj=receipt.recebedor.documento)
    response = post(client, "Comprovante Itaú.png", render_png(receipt), pedido="PED-123")
    assert response.status_code == 202
    body = response.get_json()
    assert body["modo"] == "fila" and body["status_url"] == f"/jobs/{body['job_id']}/status"

    status = wait_for_job(body["job_id"])
    assert status["status"] == "finished", status
    assert client.get(body["status_url"]).get_json()["result"]["comprovante_id"] == body["comprovante_id"]
    stages = [e.get("stage") for e in job_events(body["job_id"])]
    for stage in ("recebido", "ocr", "extraindo_campos", "concluido"):
        assert stage in stages
    assert stages.index("recebido") < stages.index("ocr") < stages.index("extraindo_campos")

    saved = client.get(f"/api/comprovantes/{body['comprovante_id']}").get_json()
    assert saved["status"] == "concluido" and saved["pedido"] == "PED-123"
    assert saved["nome_original"] == "Comprovante Itaú.png" and saved["motor"] == "offline"
    assert Decimal(saved["valor"]) == receipt.valor and saved["id_transacao"] == receipt.e2e
    assert saved["recebedor"]["documento"] == receipt.recebedor.documento
    assert saved["validacao_recebedor"]["status"] == "confere"
    with session_scope() as session:
        stored = session.scalar(select(Comprovante))
        assert stored.nome_armazenado.endswith(".png") and "Comprovante" not in stored.nome_armazenado
        assert len(stored.sha256) == 64


@pytest.mark.mariadb
def test_same_file_again_returns_the_first_receipt(client: Any, worker: Any) -> None:
    pdf = render_pdf(make_receipt("caixa", 33))
    first = post(client, "a.pdf", pdf).get_json()
    wait_for_job(first["job_id"])
    again = post(client, "outro-nome.pdf", pdf)
    assert again.status_code == 200
    body = again.get_json()
    assert body["duplicado"] and body["comprovante_id"] == first["comprovante_id"]
    assert body["job_id"] == first["job_id"] and body["job"]["status"] == "finished"
    assert body["comprovante"]["motor"] == "pdf_texto" and body["comprovante"]["valor"] is not None
    assert counts() == (1, 1)


@pytest.mark.mariadb
def test_concurrent_uploads_of_one_file_make_one_receipt_and_one_job(live_server: Any, worker: Any) -> None:
    # Must survive: 8 simultaneous uploads of the same bytes -> one row, one job, one stored file.
    pdf = render_pdf(make_receipt("bradesco", 34))
    sessions = [live_server.session() for _ in range(8)]
    barrier = threading.Barrier(len(sessions))
    answers: list[Any] = []
    before = uploads_snapshot()

    def upload(http: Any) -> None:
        barrier.wait()
        answers.append(http.post(f"{live_server.url}/api/comprovantes",
                                 files={"arquivo": ("c.pdf", pdf, "application/pdf")}, timeout=30))

    threads = [threading.Thread(target=upload, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 7 + [202], [a.text for a in answers]
    assert len({a.json()["comprovante_id"] for a in answers}) == 1
    assert len({a.json()["job_id"] for a in answers}) == 1
    assert counts() == (1, 1)
    assert len(uploads_snapshot() - before) == 1
    job_id = answers[0].json()["job_id"]
    assert wait_for_job(job_id)["status"] == "finished"
    started = [e for e in job_events(job_id) if e.get("stage") == "recebido"]
    assert len(started) == 1  # the OCR ran once


@pytest.mark.mariadb
def test_receipt_and_job_are_committed_together_or_not_at_all(db: Any, monkeypatch: Any) -> None:
    # Must survive: when the job row cannot be written (its id is taken), the receipt row is
    # rolled back with it and the stored file removed: never a receipt without its job.
    import uuid

    from sqlalchemy.exc import IntegrityError

    from core import jobs
    from core.comprovantes import registry
    from core.comprovantes.validation import validate_upload

    taken = uuid.uuid4()
    jobs.create_job("outro", job_id=str(taken))
    monkeypatch.setattr(registry.uuid, "uuid4", lambda: taken)
    png = render_png(make_receipt("inter", 36))
    before = uploads_snapshot()
    with pytest.raises(IntegrityError):
        registry.register(png, validate_upload("inter.png", png), None, user_id=None)
    assert counts() == (0, 1)  # only the job that was there before
    assert uploads_snapshot() == before


@pytest.mark.parametrize("markup", [b"<ScRiPt src=x>", b"< iframe>", b"<!DOCTYPE  Html>", b"JavaScript:alert(1)",
                                    b"<?PHP echo 1;", b"<svg width=1 OnLoad = x>"])
def test_markup_is_found_in_any_letter_case_anywhere(markup: bytes) -> None:
    from core.comprovantes.validation import has_markup

    png = render_png(make_receipt("nubank", 37))
    assert has_markup(png[:100] + markup + png[100:])
    assert not has_markup(png) and not has_markup(b"<svg width=1>" + png) and not has_markup(b"javascript")


def test_broker_down_keeps_the_receipt_queued_for_the_sweeper(client: Any, worker: Any,
                                                              monkeypatch: Any, caplog: Any) -> None:
    # Must survive: with no broker the upload is kept (202, receipt and queued job saved, no
    # OCR in the web process); once the broker is back the sweeper sends it and it is read.
    from datetime import timedelta

    from sqlalchemy import update

    from core import jobs
    from core.celery_app import celery_app
    from core.models.types import utcnow
    from core.settings import get_settings
    from tasks.base import give_up_job

    receipt = make_receipt("picpay", 35)
    with monkeypatch.context() as broker_down:
        # The broker URL points at a closed port; the cached producer pool is dropped so the
        # next publish connects there (the context puts the working pool back afterwards).
        broker_down.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
        broker_down.setattr(celery_app.amqp, "_producer_pool", None)
        response = post(client, "picpay.pdf", render_pdf(receipt))
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["modo"] == "aguardando_fila" and body["status"] == "queued"
    assert "será lido" in body["mensagem"] and "broker unreachable" in caplog.text
    assert client.get(f"/api/comprovantes/{body['comprovante_id']}").get_json()["status"] == "recebido"

    deadline_s = get_settings().job_deadline_s("comprovantes")
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == body["job_id"]).values(
            updated_at=utcnow() - timedelta(seconds=deadline_s + 60)))
    assert jobs.sweep(give_up=give_up_job)["resent"] == 1  # Beat's sweep_jobs, run here
    assert wait_for_job(body["job_id"])["status"] == "finished"
    saved = client.get(f"/api/comprovantes/{body['comprovante_id']}").get_json()
    assert Decimal(saved["valor"]) == receipt.valor and saved["id_transacao"] == receipt.e2e


def test_unreadable_receipt_fails_with_a_readable_error_and_no_retry(client: Any, worker: Any) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (500, 400), "white").save(buffer, "PNG")
    body = post(client, "branco.png", buffer.getvalue()).get_json()
    status = wait_for_job(body["job_id"])
    assert status["status"] == "failed" and status["error"].startswith("Nenhum texto encontrado")
    saved = client.get(f"/api/comprovantes/{body['comprovante_id']}").get_json()
    assert saved["status"] == "erro" and saved["erro"] == status["error"]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0


def test_page_lists_receipts(client: Any) -> None:
    page = client.get("/financeiro/comprovantes")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="upload-form"' in html and "Comprovantes de pagamento" in html
