"""validacao_recebedor: the payee checked against the company's CNPJ, PIX keys and name."""
from __future__ import annotations

from typing import Any

from core.comprovantes.pix import Parte
from core.comprovantes.recebedor import validar_recebedor
from core.settings import get_settings

CNPJ = "11.222.333/0001-81"


def check(recebedor: Parte) -> Any:
    return validar_recebedor(recebedor, get_settings())


def test_not_configured_says_so(configure: Any) -> None:
    configure(company_cnpj="", company_pix_keys="", company_name="")
    result = check(Parte(nome="Loja", documento=CNPJ))
    assert result.status == "nao_configurado" and "não configurado" in result.motivo


def test_cnpj_decides_when_printed_in_full(configure: Any) -> None:
    configure(company_cnpj="11222333000181", company_pix_keys="", company_name="Stockflow Comércio Ltda")
    assert check(Parte(nome="Outra Empresa", documento=CNPJ)).status == "confere"
    wrong = check(Parte(nome="Stockflow Comércio Ltda", documento="11.444.777/0001-61"))
    assert wrong.status == "divergente" and wrong.criterio == "cnpj" and "11.444.777/0001-61" in wrong.motivo


def test_masked_document_must_agree_with_the_digits_it_shows(configure: Any) -> None:
    configure(company_cnpj=CNPJ, company_pix_keys="", company_name="Stockflow Comercio Ltda")
    assert check(Parte(nome="STOCKFLOW COMERCIO LTDA", documento="**.222.333/0001-**")).status == "confere"
    assert check(Parte(nome="STOCKFLOW COMERCIO LTDA", documento="**.999.333/0001-**")).status == "divergente"
    assert check(Parte(nome="Fulano", documento="***.123.456-**")).status == "divergente"


def test_pix_key_and_name(configure: Any) -> None:
    configure(company_cnpj="", company_pix_keys=f"pix@stockflow.com.br, {CNPJ}", company_name="Stockflow SA")
    assert check(Parte(chave_pix="PIX@stockflow.com.br")).status == "confere"
    assert check(Parte(chave_pix="11222333000181")).status == "confere"
    other = check(Parte(chave_pix="golpe@exemplo.com"))
    assert other.status == "divergente" and "golpe@exemplo.com" in other.motivo
    assert check(Parte(nome="STOCKFLOW S.A.")).status == "confere"
    assert check(Parte(nome="Mercado Qualquer")).status == "divergente"
    assert check(Parte()).status == "indeterminado"
