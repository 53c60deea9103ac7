"""comprovantes.processar on a real worker with the Google engine (real client, local stand-in):
transient 5xx are retried with backoff, a bounded number of times, then land in the dead letters."""
from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select

from core.comprovantes.ocr.reading import pdf_text_layer
from core.db import session_scope
from core.models import DeadLetter
from tests.comprovantes.receipts import make_receipt, render_pdf, render_png
from tests.comprovantes.support import job_events, wait_for_job


def upload(client: Any, data: bytes) -> dict[str, Any]:
    response = client.post("/api/comprovantes", content_type="multipart/form-data",
                           data={"arquivo": (io.BytesIO(data), "recibo.png")})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def test_transient_google_failure_is_retried_then_succeeds(client: Any, worker: Any, standin: Any,
                                                           configure: Any) -> None:
    # Must survive: one 503 from Vision costs a retry, not the receipt.
    configure(ocr_engine="google", google_vision_endpoint=standin.endpoint, ocr_max_retries=2)
    receipt = make_receipt("mercadopago", 41)
    png = render_png(receipt)
    standin.register(png, pdf_text_layer(render_pdf(receipt), 5))
    standin.fail_next(1, status=503)
    body = upload(client, png)
    status = wait_for_job(body["job_id"])
    assert status["status"] == "finished", status
    assert standin.requests == ["/v1/images:annotate"] * 2
    assert "nova tentativa 1" in [e.get("stage") for e in job_events(body["job_id"])]
    saved = client.get(f"/api/comprovantes/{body['comprovante_id']}").get_json()
    assert saved["motor"] == "google" and saved["id_transacao"] == receipt.e2e


def test_retries_are_bounded_and_the_give_up_is_recorded(client: Any, worker: Any, standin: Any,
                                                         configure: Any) -> None:
    # Must survive: Vision down for good -> 1 + max_retries calls, a readable error, a dead letter.
    configure(ocr_engine="google", google_vision_endpoint=standin.endpoint, ocr_max_retries=1)
    standin.fail_next(10, status=500)
    png = render_png(make_receipt("inter", 42))
    standin.register(png, "nunca lido")
    body = upload(client, png)
    status = wait_for_job(body["job_id"])
    assert status["status"] == "failed" and status["error"] == "O Google Vision não respondeu (falha temporária). Desistimos após 2 tentativas."
    assert len(standin.requests) == 2
    saved = client.get(f"/api/comprovantes/{body['comprovante_id']}").get_json()
    assert saved["status"] == "erro" and saved["erro"] == status["error"]
    with session_scope() as session:
        letter = session.scalar(select(DeadLetter))
        assert letter is not None and letter.task_name == "comprovantes.processar"
        assert letter.reference == str(body["comprovante_id"])
