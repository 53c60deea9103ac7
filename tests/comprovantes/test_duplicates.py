"""One payment, one receipt: the same E2E id in another file is flagged as a duplicate of the
first receipt (the earliest uploaded), never counted twice, and told to someone who may not
read the first only as "already received"; two read at the same moment are decided by the
database. And seed 004's clients: a finished receipt's /jobs/<id>/status carries its shape."""
from __future__ import annotations

import io
import threading
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core.comprovantes import processing, registry
from core.comprovantes.validation import validate_upload
from core.db import session_scope
from core.models import Comprovante
from tests.comprovantes.receipts import LAYOUT_SPECS, Receipt, make_receipt, render_pdf, render_png
from tests.comprovantes.review_support import campos_of, store_read
from tests.comprovantes.support import wait_for_job
from tests.support.web import login


def same_payment_elsewhere(receipt: Receipt, layout: str) -> Receipt:
    """The same payment printed by another app (another file, the same E2E id and amount)."""
    other = replace(receipt, layout=layout)
    other.rows = LAYOUT_SPECS[layout].build(other)
    return other


def test_same_e2e_in_another_file_is_a_duplicate_of_the_first(client: Any) -> None:
    receipt = make_receipt("itau", 71)
    first_id, _ = store_read(receipt, campos_of(receipt), kind="pdf")
    second_id, second_job = store_read(receipt, campos_of(receipt), kind="png")
    other = make_receipt("inter", 72)
    third_id, _ = store_read(other, campos_of(other))
    assert registry.get(first_id).duplicado_de is None
    assert registry.get(second_id).duplicado_de == first_id
    shown = client.get(f"/api/comprovantes/{second_id}").get_json()
    assert shown["duplicado"] is True and shown["duplicado_de"] == first_id
    listing = client.get("/api/comprovantes").get_json()
    assert Decimal(listing["total_recebido"]) == receipt.valor + other.valor  # the payment once
    result = client.get(f"/jobs/{second_job}/status").get_json()["result"]
    assert result["duplicado_de"] == first_id and result["success"] is True
    assert registry.get(third_id).duplicado_de is None


def test_the_earliest_upload_stays_the_first_even_when_read_later(db: str) -> None:
    receipt = make_receipt("bradesco", 73)
    earlier = registry.register(png := render_png(receipt), validate_upload("a.png", png), None, None)
    later_id, _ = store_read(receipt, campos_of(receipt), kind="pdf")  # read first
    assert registry.get(later_id).e2e_original == receipt.e2e
    processing.save_read(earlier.comprovante_id, "offline", "texto", campos_of(receipt), {"status": "confere"})
    assert registry.get(earlier.comprovante_id).duplicado_de is None
    assert registry.get(earlier.comprovante_id).e2e_original == receipt.e2e
    assert registry.get(later_id).duplicado_de == earlier.comprovante_id


def test_correcting_the_first_receipts_e2e_hands_the_payment_to_its_duplicate(client: Any) -> None:
    receipt = make_receipt("caixa", 74)
    first_id, _ = store_read(receipt, campos_of(receipt), kind="pdf")
    second_id, _ = store_read(receipt, campos_of(receipt), kind="png")
    other = make_receipt("caixa", 75)
    answer = client.post(f"/api/comprovantes/{first_id}/revisao", json={"campos": {"id_transacao": other.e2e}})
    assert answer.status_code == 200, answer.get_json()
    assert registry.get(second_id).duplicado_de is None and registry.get(second_id).e2e_original == receipt.e2e
    assert registry.get(first_id).e2e_original == other.e2e and registry.get(first_id).duplicado_de is None


def test_someone_who_may_not_read_the_first_learns_only_that_it_was_received(app: Any, users: Any) -> None:
    receipt = make_receipt("nubank", 76)
    store_read(receipt, campos_of(receipt), user_id=users["admin"].id, kind="pdf")
    theirs, _ = store_read(receipt, campos_of(receipt), user_id=users["ana"].id, kind="png")
    ana = app.test_client()
    login(ana, "ana", "ana-password")
    shown = ana.get(f"/api/comprovantes/{theirs}").get_json()
    assert shown["duplicado"] is True and shown["duplicado_de"] is None
    page = ana.get("/financeiro/comprovantes").get_data(as_text=True)
    assert '"duplicado_de": null' in page and "Para revisar" not in page


@pytest.mark.mariadb
def test_two_receipts_of_one_payment_read_at_once_make_one_first(db: str) -> None:
    # Must survive: two workers saving the same E2E id at the same moment -> one holder, one
    # duplicate pointing at it (the UNIQUE index and a second save decide, never both "first").
    for round_ in range(4):
        receipt = make_receipt("santander", 80 + round_)
        files = [render_png(receipt), render_pdf(receipt)]
        ids = [registry.register(data, validate_upload(name, data), None, None).comprovante_id
               for data, name in zip(files, ("a.png", "a.pdf"))]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def save(comprovante_id: int) -> None:
            barrier.wait()
            try:
                processing.save_read(comprovante_id, "offline", "texto", campos_of(receipt), {"status": "confere"})
            except BaseException as exc:  # noqa: BLE001 - reported by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(i,)) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        with session_scope() as session:
            rows = list(session.scalars(select(Comprovante).where(Comprovante.id.in_(ids)).order_by(Comprovante.id)))
            assert [(r.e2e_original, r.duplicado_de) for r in rows] == [(receipt.e2e, None), (None, ids[0])]


@pytest.mark.mariadb
def test_seed_004_clients_read_a_finished_receipt_and_its_duplicate(client: Any, worker: Any) -> None:
    receipt = make_receipt("mercadopago", 77)
    answers = []
    for name, data in (("pix.pdf", render_pdf(receipt)), ("outro.pdf", render_pdf(same_payment_elsewhere(receipt, "itau")))):
        response = client.post("/api/comprovantes", content_type="multipart/form-data",
                               data={"arquivo": (io.BytesIO(data), name)})
        assert response.status_code == 202, response.get_json()
        answers.append(response.get_json())
        assert wait_for_job(answers[-1]["job_id"])["status"] == "finished"
    status = client.get(answers[0]["status_url"]).get_json()
    # seed 004's shape ...
    assert status["status"] == "finished" and {"job_id", "created_at", "started_at", "ended_at"} <= set(status)
    result = status["result"]
    assert result["success"] is True
    assert isinstance(result["data"]["amount"], float) and result["data"]["amount"] == float(receipt.valor)
    assert result["data"]["transaction_id"] == receipt.e2e
    assert result["data"]["validacao_recebedor"]["status"] == "nao_configurado"
    # ... beside today's fields
    assert result["comprovante_id"] == answers[0]["comprovante_id"] and result["dados"]["valor"] == f"{receipt.valor:.2f}"
    assert result["motor"] == "pdf_texto" and result["duplicado_de"] is None
    again = client.get(answers[1]["status_url"]).get_json()["result"]
    assert again["duplicado_de"] == answers[0]["comprovante_id"] and again["data"]["transaction_id"] == receipt.e2e
    listing = client.get("/api/comprovantes").get_json()
    assert Decimal(listing["total_recebido"]) == receipt.valor
