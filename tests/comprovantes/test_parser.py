"""The PIX parser on text (no OCR): formats, validation, and nothing guessed."""
from __future__ import annotations

from decimal import Decimal

import pytest

from core.comprovantes import pix
from core.comprovantes.documents import (
    cnpj_valid,
    cpf_valid,
    find_documento,
    find_pix_key,
)
from core.comprovantes.ocr.reading import pdf_text_layer
from tests.comprovantes.receipts import LAYOUTS, make_receipt, mismatches, render_pdf


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_field_of_every_layout_from_a_pdf_text_layer(layout: str) -> None:
    # The text layer carries the exact characters, so even names must match exactly.
    for seed in (11, 12):
        receipt = make_receipt(layout, seed)
        dados = pix.parse(pdf_text_layer(render_pdf(receipt), 5))
        assert mismatches(receipt, dados, strict_text=True) == {}


def test_e2e_id_is_validated_against_the_format() -> None:
    good = "E18236120202611221435s0123456789"
    assert pix.parse_e2e(f"ID: {good}") == good
    assert pix.parse_e2e("ID: E1823612020261122143s0123456789") is None  # 31 characters
    assert pix.parse_e2e("ID: E18236120202613221435s0123456789") is None  # month 13
    assert pix.parse_e2e("ID: E18236120202611221475s0123456789") is None  # minute 75
    assert pix.parse_e2e("ID: X18236120202611221435s0123456789") is None
    # OCR's O-for-0 inside the digits is read back; the 11 free characters are kept as printed
    assert pix.parse_e2e("E182361202O2611221435sO123456789") == "E18236120202611221435sO123456789"


def test_documents_full_are_checked_masked_are_kept() -> None:
    assert cpf_valid("52998224725") and not cpf_valid("52998224726") and not cpf_valid("11111111111")
    assert cnpj_valid("11222333000181") and not cnpj_valid("11222333000182")
    assert find_documento("CPF 529.982.247-25").numero == "529.982.247-25"
    assert find_documento("CPF 529.982.247-26") is None  # wrong check digit: not guessed
    masked = find_documento("CPF •••.982.247-••")
    assert masked is not None and masked.numero == "***.982.247-**" and masked.mascarado
    assert find_documento("CNPJ 11.222.333/0001-81").tipo == "cnpj"


def test_pix_keys() -> None:
    assert find_pix_key("financeiro @ empresa.com.br") == "financeiro@empresa.com.br"
    assert find_pix_key("+55 11 98765-4321") == "+5511987654321"
    assert find_pix_key("123e4567-e89b-42d3-a456-426614174000") == "123e4567-e89b-42d3-a456-426614174000"
    assert find_pix_key("11.222.333/0001-81") == "11.222.333/0001-81"
    assert find_pix_key("qualquer coisa") is None


def test_amounts_and_dates_in_the_usual_shapes() -> None:
    assert pix.parse_amount("R$ 1.234,56") == Decimal("1234.56")
    assert pix.parse_amount("R$ 23.884,4 2") == Decimal("23884.42")
    assert pix.parse_amount("R$0,99") == Decimal("0.99")
    assert pix.parse("Valor: R$ 12,00\n05 AGO 2026 - 15:13").data_hora == "2026-08-05T15:13"
    assert pix.parse("22 de março de 2026, às 09:05:01").data_hora == "2026-03-22T09:05:01"
    assert pix.parse("Data 31/02/2026").data_hora is None  # no such day


def test_fields_not_printed_are_none() -> None:
    dados = pix.parse("Comprovante Pix\nValor R$ 50,00\nObrigado pela preferência")
    assert dados.valor == Decimal("50.00")
    assert dados.id_transacao is None and dados.data_hora is None
    assert dados.pagador == pix.Parte() and dados.recebedor == pix.Parte()


def test_as_json_keeps_the_amount_exact() -> None:
    dados = pix.parse("Valor R$ 10.000,10")
    assert dados.as_json()["valor"] == "10000.10"
