"""The review queue through the API: who waits for a person and why, a correction checked,
applied, kept with who made it (receipt and audit trail) and made the result; the file served
to reviewers only, with safe headers; `comprovante.correct` on a real worker."""
from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core import jobs
from core.comprovantes import registry, storage
from core.db import session_scope
from core.models import AuditEntry
from core.users import create_user
from tests.comprovantes.receipts import make_cnpj, make_receipt
from tests.comprovantes.review_support import campos_of, store_read
from tests.support.waiting import wait_until
from tests.support.web import login


def test_doubtful_missing_or_undecided_receipts_wait_for_a_person(db: str, configure: Any) -> None:
    configure(company_name="Empresa Modelo Ltda")
    receipt = make_receipt("itau", 61)
    clean_id, _ = store_read(receipt, campos_of(receipt, recebedor__nome="Empresa Modelo Ltda",
                                                recebedor__documento=None, recebedor__chave_pix=None))
    doubtful = make_receipt("nubank", 62)
    doubtful_id, _ = store_read(doubtful, campos_of(doubtful, duvidosos=("valor", "pagador.nome"),
                                                    recebedor__nome="Empresa Modelo Ltda"))
    missing = make_receipt("caixa", 63)
    missing_id, _ = store_read(missing, campos_of(missing, missing=("id_transacao", "recebedor.nome",
                                                                      "recebedor.documento", "recebedor.chave_pix")))
    saved = {i: registry.get(i) for i in (clean_id, doubtful_id, missing_id)}
    assert saved[clean_id].revisao is None and saved[clean_id].validacao_recebedor["status"] == "confere"
    assert saved[doubtful_id].revisao == "pendente"
    assert saved[doubtful_id].revisao_motivos == ["Leitura duvidosa: valor.", "Leitura duvidosa: nome do pagador."]
    assert saved[missing_id].revisao == "pendente"
    assert saved[missing_id].revisao_motivos == [
        "Campo obrigatório não lido: ID da transação (E2E).", "Campo obrigatório não lido: nome do recebedor.",
        "Conferência do recebedor indeterminada."]


def test_a_correction_is_checked_applied_audited_and_becomes_the_result(app: Any, db: str,
                                                                        configure: Any) -> None:
    company = make_cnpj(random.Random(7))
    configure(company_cnpj=company)
    receipt = make_receipt("bradesco", 64)
    comprovante_id, job_id = store_read(receipt, campos_of(
        receipt, duvidosos=("valor",), valor=Decimal("1.00"), missing=("recebedor.documento", "recebedor.chave_pix"),
        recebedor__nome=None))
    create_user("fabi", "fabi-password", name="Fabiana", role="financeiro")
    client = app.test_client()
    login(client, "fabi", "fabi-password")
    queue = client.get("/api/comprovantes/revisao").get_json()["comprovantes"]
    assert [c["id"] for c in queue] == [comprovante_id]
    assert queue[0]["duvidosos"] == ["valor"] and queue[0]["confianca"]["valor"] == 0.42
    url = f"/api/comprovantes/{comprovante_id}/revisao"

    refused = {
        "valor": ("12,3", "Valor inválido"), "data_hora": ("31/02/2026 10:00", "Data/hora inválida"),
        "id_transacao": ("E123", "E2E) inválido"), "recebedor.documento": ("11.222.333/0001-00", "dígitos verificadores"),
        "recebedor.chave_pix": ("não é chave", "Chave Pix inválida"), "outro": ("x", "Campo desconhecido"),
    }
    for field, (value, message) in refused.items():
        answer = client.post(url, json={"campos": {field: value, "recebedor.nome": "Empresa Modelo"}})
        assert answer.status_code == 400 and message in answer.get_json()["error"], (field, answer.get_json())
    answer = client.post(url, json={"campos": {"valor": "1.234,56"}})  # the payee's name is still missing
    assert answer.status_code == 400 and "nome do recebedor" in answer.get_json()["error"]
    assert registry.get(comprovante_id).revisao == "pendente"  # nothing refused changed anything

    digits = re.sub(r"\D", "", company)  # typed as bare digits: formatted as printed
    answer = client.post(url, json={"campos": {
        "valor": "R$ 1.234,56", "recebedor.nome": "Empresa  Modelo Ltda", "recebedor.documento": digits}})
    assert answer.status_code == 200, answer.get_json()
    shown = answer.get_json()["comprovante"]
    assert shown["valor"] == "1234.56" and shown["revisao"] == "confirmado" and shown["revisado_por"] == "fabi"
    assert shown["recebedor"]["nome"] == "Empresa Modelo Ltda"
    formatted = f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    assert shown["recebedor"]["documento"] == formatted and shown["recebedor"]["tipo_documento"] == "cnpj"
    assert shown["validacao_recebedor"]["status"] == "confere"  # the payee check ran again
    assert shown["correcoes"]["valor"]["antes"] == "1.00" and shown["correcoes"]["valor"]["depois"] == "1234.56"
    assert shown["correcoes"]["recebedor.nome"]["por"] == "fabi" and shown["duvidosos"] == []
    assert client.get("/api/comprovantes/revisao").get_json()["comprovantes"] == []

    status = client.get(f"/jobs/{job_id}/status").get_json()  # the corrected values are the result
    assert status["result"]["data"]["amount"] == 1234.56 and status["result"]["revisao"] == "confirmado"
    assert status["result"]["data"]["validacao_recebedor"]["status"] == "confere"
    with session_scope() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "comprovante.revisao"))
        assert entry.actor == "fabi" and entry.target == f"comprovante#{comprovante_id}"
        assert entry.detail["correcoes"]["valor"] == {"antes": "1.00", "depois": "1234.56"}


def test_only_reviewers_get_the_file_and_it_comes_with_safe_headers(app: Any, client: Any, users: Any) -> None:
    receipt = make_receipt("inter", 65)
    png_id, _ = store_read(receipt, campos_of(receipt, duvidosos=("valor",)), user_id=users["ana"].id)
    pdf_id, _ = store_read(receipt, campos_of(receipt), kind="pdf")
    image = client.get(f"/api/comprovantes/{png_id}/arquivo")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.headers["Content-Disposition"] == f'inline; filename="comprovante-{png_id}.png"'
    assert "sandbox" in image.headers["Content-Security-Policy"]
    assert image.headers["X-Content-Type-Options"] == "nosniff" and "no-store" in image.headers["Cache-Control"]
    page = client.get(f"/api/comprovantes/{pdf_id}/arquivo")  # a PDF's first page, as an image
    assert page.status_code == 200 and page.mimetype == "image/png" and page.data.startswith(b"\x89PNG")
    stored = registry.get(pdf_id).nome_armazenado
    assert storage.preview_path(stored).read_bytes() == page.data  # rendered once, then kept
    assert client.get(f"/api/comprovantes/{pdf_id}/arquivo").data == page.data

    store_staff = app.test_client()
    login(store_staff, "ana", "ana-password")  # her own receipt, but not a reviewer
    assert store_staff.get(f"/api/comprovantes/{png_id}/arquivo").status_code == 403
    assert store_staff.post(f"/api/comprovantes/{png_id}/revisao", json={"campos": {}}).status_code == 403


def test_the_correct_task_on_a_real_worker(db: str, worker: Any) -> None:
    from core.enqueue import enqueue

    receipt = make_receipt("santander", 66)
    comprovante_id, job_id = store_read(receipt, campos_of(receipt, duvidosos=("data_hora",)))
    enqueue("comprovante.correct", {"comprovante_id": comprovante_id, "actor": "cli:financeiro",
                                    "campos": {"data_hora": "02/03/2026 14:05"}})
    saved = wait_until(lambda: (r := registry.get(comprovante_id)).revisao == "confirmado" and r, 30,
                       "the correction to be applied")
    assert saved.data_hora == "2026-03-02T14:05" and saved.revisado_por == "cli:financeiro"
    assert jobs.get_status(job_id)["result"]["dados"]["data_hora"] == "2026-03-02T14:05"


@pytest.mark.parametrize(("field", "raw", "clean"), [
    ("valor", "1.234,56", "1234.56"), ("valor", "1234.56", "1234.56"), ("valor", "R$ 0,99", "0.99"),
    ("data_hora", "05/08/2026 09:07", "2026-08-05T09:07"), ("data_hora", "2026-08-05T09:07:33", "2026-08-05T09:07:33"),
    ("pagador.documento", "***.123.456-**", "***.123.456-**"),
    ("recebedor.chave_pix", "Financeiro@Empresa.com.br", "financeiro@empresa.com.br"),
])
def test_accepted_corrections_are_normalised(field: str, raw: str, clean: str) -> None:
    from core.comprovantes.review import clean as clean_value

    assert clean_value(field, raw) == clean
