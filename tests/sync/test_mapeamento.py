"""Each entity's mapper: field names, decimals as fixed-point text, ISO dates, nulls, trimming,
and rows that cannot be mapped are refused with the field and the reason."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.sync.consinco.models import (
    ConsincoCliente,
    ConsincoFilial,
    ConsincoProduto,
    ConsincoVenda,
)
from core.sync.mapeamento import (
    CLIENTES,
    FILIAIS,
    MAPEAMENTOS,
    PRODUTOS,
    VENDAS,
    RegistroInvalido,
    decimal,
)


def test_every_mapping_reads_only_real_columns_and_covers_the_view() -> None:
    for mapper, model in ((FILIAIS, ConsincoFilial), (PRODUTOS, ConsincoProduto), (CLIENTES, ConsincoCliente), (VENDAS, ConsincoVenda)):
        columns = set(model.__table__.columns.keys())
        used = {coluna for _, coluna, _ in mapper.campos}
        assert used == columns, (mapper.entidade, columns ^ used)
        fields = [campo for campo, _, _ in mapper.campos]
        assert len(fields) == len(set(fields))
    assert list(MAPEAMENTOS) == ["filiais", "produtos", "clientes", "vendas"]


def test_filial() -> None:
    row = ConsincoFilial(IDFILIAL=7, TXTNOMEFILIAL="  Loja Centro  ", TXTRAZAOSOCIAL="", NUMCNPJ="12.345.678/0001-90",
                 TXTLOGRADOURO=None, TXTBAIRRO="Centro", TXTCIDADE="Goiânia", TXTUF="GO",
                 NUMCEP="74000-100", TXTSTATUS="I", DTAALTERACAO=datetime(2026, 1, 15, 9, 30, 5))
    assert FILIAIS(row) == {
        "IDFILIAL": 7, "TXTNOMEFANTASIA": "Loja Centro", "TXTRAZAOSOCIAL": None,
        "NUMCNPJ": "12345678000190", "TXTENDERECO": None, "TXTBAIRRO": "Centro",
        "TXTCIDADE": "Goiânia", "TXTUF": "GO", "NUMCEP": "74000100", "FLGATIVA": False,
        # Consinco keeps local time; the payload says which offset it is (São Paulo, -03:00)
        "DATALTERACAO": "2026-01-15T09:30:05-03:00"}


def test_produto_renames_the_short_description_as_plusoft_calls_it() -> None:
    row = ConsincoProduto(IDPRODUTO=1001, TXTDESCRICAO="Café Pilão 500g ", TXTDESCRICAOREDUZIDA="CAFE PILAO",
                  NUMEAN="7891234567890", TXTMARCA="Pilão", TXTCATEGORIA="Bebidas", TXTSUBCATEGORIA=None,
                  TXTEMBALAGEM="UN", NUMQTDEMBALAGEM=Decimal("12"), TXTSTATUS="A",
                  DTACADASTRO=date(2020, 2, 29), DTAALTERACAO=None)
    payload = PRODUTOS(row)
    assert payload["TXTDESCRICAORESUMIDA"] == "CAFE PILAO" and "TXTDESCRICAOREDUZIDA" not in payload
    assert payload["TXTDESCRICAO"] == "Café Pilão 500g"
    assert payload["NUMQTDEMBALAGEM"] == "12.000"
    assert payload["DATCADASTRO"] == "2020-02-29" and payload["DATALTERACAO"] is None
    assert payload["FLGATIVO"] is True and payload["TXTSUBCATEGORIA"] is None


def test_cliente() -> None:
    row = ConsincoCliente(IDPESSOA=500001, TXTNOME=" Ana Souza", TXTTIPOPESSOA="F", NUMCPFCNPJ="123.456.789-09",
                  TXTEMAIL="   ", NUMTELEFONE="(11) 98765-4321", DATNASCIMENTO=date(1990, 5, 1),
                  TXTSEXO="F", TXTCIDADE="Campinas", TXTUF="SP", NUMCEP=None,
                  DTACADASTRO=date(2024, 1, 2), DTAALTERACAO=datetime(2026, 7, 1, 23, 59, 59))
    payload = CLIENTES(row)
    assert payload["TXTNOME"] == "Ana Souza" and payload["TXTEMAIL"] is None
    assert payload["NUMCPFCNPJ"] == "12345678909" and payload["NUMTELEFONE"] == "11987654321"
    assert payload["DATNASCIMENTO"] == "1990-05-01" and payload["NUMCEP"] is None
    assert payload["DATALTERACAO"] == "2026-07-01T23:59:59-03:00"


def test_venda_keeps_the_layout_names_and_fixed_point_values() -> None:
    row = ConsincoVenda(IDPESSOA=None, IDFILIAL=3, IDCUPOM=998877, IDPRODUTO=1001, DATVENDA=date(2026, 11, 20),
                NUMQTDVENDIDA=Decimal("1.5"), VLRPRECOVENDAUNITARIO=Decimal("10.1"),
                VLRPRECOPDVUNITARIO=Decimal("10.60"), VLRDESCONTOUNITARIO=Decimal("0.5"),
                VLRMARGEMPDV=Decimal("2.333"), TXTCANALVENDAS="LOJA FÍSICA ", TXTTIPOVENDA="VENDA",
                IDFORMAPAGTO=4, TXTFORMAPAGTO="PIX")
    assert VENDAS(row) == {
        "IDPESSOA": None, "IDFILIAL": 3, "IDCUPOM": 998877, "IDPRODUTO": 1001, "DATVENDA": "2026-11-20",
        "NUMQTDVENDIDA": "1.500", "VLRPRECOVENDAUNITARIO": "10.10", "VLRPRECOPDVUNITARIO": "10.60",
        "VLRDESCONTOUNITARIO": "0.50", "VLRMARGEMPDV": "2.33", "TXTCANALVENDAS": "LOJA FÍSICA",
        "TXTTIPOVENDA": "VENDA", "IDFORMAPAGTO": 4, "TXTFORMAPAGTO": "PIX"}


@pytest.mark.parametrize("value, expected", [(Decimal("1"), "1.00"), (2.675, "2.68"), (3, "3.00"),
                                             (Decimal("-0.005"), "-0.00"), (None, None)])
def test_decimal_is_fixed_point_text(value: Any, expected: str | None) -> None:
    assert decimal(2)(value) == expected


@pytest.mark.parametrize("mapper, row, reason", [
    (PRODUTOS, ConsincoProduto(IDPRODUTO=1, TXTDESCRICAO="   ", TXTSTATUS="A"), "TXTDESCRICAO"),
    (PRODUTOS, ConsincoProduto(IDPRODUTO=1, TXTDESCRICAO="Arroz", TXTSTATUS="X"), "não é A nem I"),
    (CLIENTES, ConsincoCliente(IDPESSOA=None, TXTNOME="Ana"), "IDPESSOA"),
    (VENDAS, ConsincoVenda(IDFILIAL=1, IDCUPOM=2, IDPRODUTO=3, DATVENDA=date(2026, 1, 1),
                   NUMQTDVENDIDA="muitos"), "NUMQTDVENDIDA"),
])
def test_rows_that_cannot_be_mapped_are_refused_with_the_reason(mapper: Any, row: Any, reason: str) -> None:
    with pytest.raises(RegistroInvalido, match=reason):
        mapper(row)
