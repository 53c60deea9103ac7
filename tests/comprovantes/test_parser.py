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
from tests.comprovantes.receipts import TUNED, make_receipt, mismatches, render_pdf


@pytest.mark.parametrize("layout", TUNED)
def test_every_field_of_every_layout_from_a_pdf_text_layer(layout: str) -> None:
    # The text layer carries the exact characters, so even names must match exactly.
    # Held-out layouts are not tested here: what the parser makes of them is only measured
    # (bench/comprovantes.py, field_accuracy_unseen_layouts), never used to tune it.
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


def test_inline_labels_without_a_colon() -> None:
    dados = pix.parse("Comprovante Pix\nR$ 53,88\n07/10/2026 - 17:49\nPara Padaria Pão de Açúcar Ltda\n"
                      "CNPJ 11.222.333/0001-81\nBanco BANCO INTER S.A.\nChave financeiro@loja.com.br\n"
                      "De Débora Cristina Falcão\nCPF ***.193.626-**\nBanco NU PAGAMENTOS - IP")
    assert dados.recebedor == pix.Parte("Padaria Pão de Açúcar Ltda", "11.222.333/0001-81", "cnpj",
                                        "BANCO INTER S.A.", "financeiro@loja.com.br")
    assert dados.pagador == pix.Parte("Débora Cristina Falcão", "***.193.626-**", "cpf", "NU PAGAMENTOS - IP")
    assert dados.data_hora == "2026-10-07T17:49" and dados.valor == Decimal("53.88")


def test_a_capitalised_value_is_not_taken_for_an_inline_label() -> None:
    # "De Souza ..." right under a section header is the payee's name; "BANCO SAFRA S.A." an institution
    dados = pix.parse("Quem recebeu\nDe Souza Materiais Ltda\nBANCO SAFRA S.A.\nQuem pagou\nMaria Lima")
    assert dados.recebedor.nome == "De Souza Materiais Ltda" and dados.recebedor.instituicao == "BANCO SAFRA S.A."
    assert dados.pagador.nome == "Maria Lima"


def test_ocr_glued_and_misread_labels() -> None:
    dados = pix.parse("Para Loja Azul\nCNP) 11.222.333/0001-81\nChavefinanceiro87@empresa.com.br")
    assert dados.recebedor.documento == "11.222.333/0001-81"
    assert dados.recebedor.chave_pix == "financeiro87@empresa.com.br"


def test_two_columns_are_paired_cell_by_cell() -> None:
    dados = pix.parse("Valor  Tipo\nR$ 127,74  Pix\nData  Horário\n09/12/2026  01:35:42")
    assert dados.valor == Decimal("127.74") and dados.data_hora == "2026-12-09T01:35:42"


def test_names_keep_their_spaces_and_accents() -> None:
    dados = pix.parse("Nome do recebedor: Açougue  Bom Preço Eireli\nNome do pagador: Ângela Maria da Silva")
    assert dados.recebedor.nome == "Açougue Bom Preço Eireli" and dados.pagador.nome == "Ângela Maria da Silva"


def test_a_full_document_failing_its_check_digits_is_kept_for_the_checks() -> None:
    # the parser keeps it as read; checks.py corrects it or marks it doubtful
    assert pix.parse("CNPJ do recebedor: 11.222.333/0001-87").recebedor.documento == "11.222.333/0001-87"


def test_party_under_an_unknown_header_goes_where_the_e2e_id_points() -> None:
    # Neither header is known; the id opens with Nubank's ISPB, so Nubank's block is the payer.
    text = ("Pix feito\nValor: R$ 10,00\nParticipante 1\nNome: Loja Azul Ltda\nCNPJ: 11.222.333/0001-81\n"
            "Instituição: BANCO INTER S.A.\nParticipante 2\nNome: Maria Lima\nCPF: ***.123.456-**\n"
            "Instituição: NU PAGAMENTOS - IP\nID: E18236120202611221735s0123456789")
    dados = pix.parse(text)
    assert dados.pagador == pix.Parte("Maria Lima", "***.123.456-**", "cpf", "NU PAGAMENTOS - IP")
    assert dados.recebedor.nome == "Loja Azul Ltda" and dados.recebedor.documento == "11.222.333/0001-81"
    swapped = pix.parse(text.replace("E18236120", "E00416968"))  # now Inter's id: Inter's block pays
    assert swapped.pagador.nome == "Loja Azul Ltda" and swapped.recebedor.nome == "Maria Lima"


def test_payer_and_payee_named_by_what_was_done() -> None:
    # "Recebido por" / "Enviado por", with and without a colon, and in capitals
    dados = pix.parse("Comprovante de Pix\nValor: R$ 10,00\nRecebido por: Loja Azul Ltda\n"
                      "CNPJ: 11.222.333/0001-81\nInstituição: BANCO INTER S.A.\n"
                      "Enviado por Clínica Vida Plena S.A.\nCNPJ **.690.967/0001-**\nInstituição CORA SCD S.A.")
    assert dados.recebedor.nome == "Loja Azul Ltda" and dados.recebedor.documento == "11.222.333/0001-81"
    assert dados.pagador == pix.Parte("Clínica Vida Plena S.A.", "**.690.967/0001-**", "cnpj", "CORA SCD S.A.")
    upper = pix.parse("TRANSFERIDO PARA\nMERCADO SÃO JORGE LTDA\nPAGO POR\nJOÃO PEDRO LIMA")
    assert upper.recebedor.nome == "MERCADO SÃO JORGE LTDA" and upper.pagador.nome == "JOÃO PEDRO LIMA"


def test_a_field_word_with_its_party() -> None:
    dados = pix.parse("Valor pago R$ 5,00\nNome do favorecido: Loja Azul\nCPF/CNPJ do favorecido: 11.222.333/0001-81\n"
                      "Banco de destino: BANCO INTER S.A.\nNome do titular: Maria Lima\n"
                      "Banco de origem: NU PAGAMENTOS - IP")
    assert dados.recebedor == pix.Parte("Loja Azul", "11.222.333/0001-81", "cnpj", "BANCO INTER S.A.")
    assert dados.pagador.nome == "Maria Lima" and dados.pagador.instituicao == "NU PAGAMENTOS - IP"


def test_a_cooperatives_number_and_accounts_are_not_names_or_institutions() -> None:
    dados = pix.parse("Pagador\nNome: Maria Lima\nCPF: ***.123.456-**\nCooperativa: 0710 - SICREDI PIONEIRA\n"
                      "Agência/Conta: 0001 / 4821937-0\nInstituição: BANCO COOPERATIVO SICREDI S.A.\n"
                      "Favorecido\nNome: Loja Azul\nConta corrente\n2233142-3")
    assert dados.pagador == pix.Parte("Maria Lima", "***.123.456-**", "cpf", "BANCO COOPERATIVO SICREDI S.A.")
    assert dados.recebedor == pix.Parte("Loja Azul")
    # without an institution label, a cooperative's name under its party is that party's institution
    named = pix.parse("De\nMaria Lima\nCPF ***.123.456-**\nCooperativa de Crédito Rural Cresol\nPara\nLoja Azul")
    assert named.pagador.instituicao == "Cooperativa de Crédito Rural Cresol"


def test_id_labels_of_other_banks() -> None:
    e2e = "E10398952202604251504aLQSZpIgVkY"
    for label in ("Identificação (E2E)", "ID/E2E", "Código E2E:", "End-to-End", "Identificador da transação"):
        assert pix.parse(f"Valor R$ 1,00\n{label}\n{e2e}").id_transacao == e2e, label
