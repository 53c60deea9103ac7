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
