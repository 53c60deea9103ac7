"""The receipts page in a real browser: upload through the form, progress and result arrive live."""
from __future__ import annotations

from typing import Any

import pytest

from tests.comprovantes.receipts import brl, make_receipt, render_pdf


@pytest.mark.browser
def test_upload_from_the_page_shows_the_result_live(page: Any, worker: Any, tmp_path: Any) -> None:
    receipt = make_receipt("nubank", 51)
    upload = tmp_path / "comprovante nubank.pdf"
    upload.write_bytes(render_pdf(receipt))
    page.goto("/financeiro/comprovantes")
    page.set_input_files("#arquivo", str(upload))
    page.fill("#pedido", "PED-9")
    page.click("#enviar")
    row = page.locator("#comprovantes tbody tr").first
    row.locator(".badge-ok", has_text="Concluído").wait_for(timeout=30_000)
    text = row.inner_text()
    assert receipt.e2e in text and "PED-9" in text
    assert brl(receipt.valor).replace("R$ ", "") in text.replace("\xa0", " ")
    assert "Não configurado" in text  # no company data in the test settings

    page.set_input_files("#arquivo", str(upload))  # the same file again
    page.click("#enviar")
    page.locator("#upload-message", has_text="já foi enviado").wait_for(timeout=10_000)
    assert page.locator("#comprovantes tbody tr").count() == 1


@pytest.mark.browser
def test_refused_file_shows_the_reason(page: Any, tmp_path: Any) -> None:
    fake = tmp_path / "nota.jpg"
    fake.write_bytes(b"MZ" + b"\x00" * 300)
    page.goto("/financeiro/comprovantes")
    page.set_input_files("#arquivo", str(fake))
    page.click("#enviar")
    page.locator("#upload-message.alert-erro", has_text="não corresponde à extensão").wait_for(timeout=10_000)
    # the failed fetch logs a console error for the 415 response: expected here
    page.console_errors.clear()


@pytest.mark.browser
def test_review_shows_the_file_beside_the_fields_and_a_correction_leaves_the_queue(page: Any) -> None:
    from decimal import Decimal

    from sqlalchemy import select

    from core.db import session_scope
    from core.models import AuditEntry
    from tests.comprovantes.review_support import campos_of, store_read

    receipt = make_receipt("nubank", 90)
    comprovante_id, _ = store_read(receipt, campos_of(receipt, duvidosos=("valor",), valor=Decimal("9.99")))
    page.goto("/financeiro/comprovantes")
    assert page.locator("#revisar-contagem").inner_text() == "1"
    page.click("#tab-revisar")
    page.click(f'#revisar button.revisar[data-id="{comprovante_id}"]')
    page.wait_for_function("() => { const i = document.getElementById('revisao-imagem');"
                           " return i.complete && i.naturalWidth > 0; }", timeout=10_000)
    doubtful = page.locator('#revisao .campo.duvidoso[data-campo="valor"]')
    assert "duvidoso" in doubtful.inner_text() and "42%" in doubtful.inner_text()
    assert page.locator("#revisao .campo.duvidoso").count() == 1
    assert page.input_value('[id="campo-valor"]') == "9,99"  # as people in Brazil write it
    assert page.input_value('[id="campo-id_transacao"]') == receipt.e2e
    assert "Leitura duvidosa: valor." in page.locator("#revisao-motivos").inner_text()

    later = make_receipt("itau", 91)  # read while the page is open: it joins the queue live
    later_id, _ = store_read(later, campos_of(later, missing=("recebedor.nome",)))
    page.locator(f'#revisar tbody tr[data-id="{later_id}"]').wait_for(timeout=10_000)
    assert page.locator("#revisar-contagem").inner_text() == "2"

    page.fill('[id="campo-valor"]', brl(receipt.valor))
    page.click("#revisao-confirmar")
    page.locator("#revisar-contagem", has_text="1").wait_for(timeout=10_000)
    assert page.locator(f'#revisar tbody tr[data-id="{comprovante_id}"]').count() == 0
    assert page.locator("#revisao").is_hidden()
    page.click("#tab-todos")
    row = page.locator(f'#comprovantes tbody tr[data-id="{comprovante_id}"]')
    assert "Revisado por admin" in row.inner_text()
    assert brl(receipt.valor).replace("R$ ", "") in row.inner_text().replace("\xa0", " ")
    with session_scope() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "comprovante.revisao"))
        assert entry is not None and entry.actor == "admin"
        assert entry.detail["correcoes"]["valor"] == {"antes": "9.99", "depois": f"{receipt.valor:.2f}"}
