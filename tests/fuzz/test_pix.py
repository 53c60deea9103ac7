"""Fuzzing the PIX parser (core/comprovantes/pix.py, documents.py): on any text, and on texts
built like receipts (labels, separators, values right and almost right), parse() returns
its fields and never raises; each field is None or passes its format check, in ASCII
(nothing guessed, no other script's digits). Cases found are kept as @example."""
from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.comprovantes import pix
from core.comprovantes.documents import cnpj_valid, cpf_valid, find_documento, find_pix_key, key_canonical

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

DATA_HORA = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?")
E2E = re.compile(r"E[0-9]{20}[A-Za-z0-9]{11}")
CPF = re.compile(r"[0-9*]{3}\.[0-9*]{3}\.[0-9*]{3}-[0-9*]{2}")
CNPJ = re.compile(r"[0-9*]{2}\.[0-9*]{3}\.[0-9*]{3}/[0-9*]{4}-[0-9*]{2}")
EVP = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+")
PHONE = re.compile(r"\+55[0-9]{10,11}")

# Digits as OCR or a hostile file may give them: ASCII mostly, other scripts' sometimes.
digit = st.sampled_from("0123456789") | st.sampled_from("٠١٢٣٤٥٦٧٨٩０１２３４５６７８９²OolI")


def digits(n: int) -> st.SearchStrategy[str]:
    return st.lists(digit, min_size=n, max_size=n).map("".join)


amounts = (st.builds(lambda whole, cents: "R$ " + f"{whole:,}".replace(",", ".") + f",{cents:02d}",
                     st.integers(0, 10**12), st.integers(0, 99))
           | st.builds(lambda a, b: f"R$ {a},{b}", digits(4), digits(2)))
dates = (st.dates().map(lambda d: d.strftime("%d/%m/%Y"))
         | st.builds(lambda d, m, y: f"{d}/{m}/{y}", digits(2), digits(2), digits(4))
         | st.builds(lambda d, m, y: f"{d} de {m} de {y}", st.integers(0, 40),
                     st.sampled_from(["janeiro", "fev", "MAR", "agosto", "dez."]), st.integers(0, 9999)))
times = st.builds(lambda h, m, s: f"{h}:{m}:{s}", digits(2), digits(2), digits(2))
e2e_ids = st.builds(lambda ispb, stamp, tail: f"E{ispb}{stamp}{tail}", digits(8), digits(12),
                    st.text("abcXYZ0189", min_size=11, max_size=11))
documents = (st.builds(lambda a, b, c, d: f"{a}.{b}.{c}-{d}", digits(3), digits(3), digits(3), digits(2))
             | st.builds(lambda a, b, c, d, e: f"{a}.{b}.{c}/{d}-{e}", digits(2), digits(3), digits(3), digits(4), digits(2))
             | st.from_regex(r"[*•0-9]{3}\.[*•0-9]{3}\.[*•0-9]{3}-[*•0-9]{2}", fullmatch=True))
keys = (st.emails() | st.uuids().map(str) | st.builds(lambda n: f"+55 11 9{n[:4]}-{n[4:]}", digits(8)) | documents)
values = amounts | dates | times | e2e_ids | documents | keys | st.text(max_size=30)
labels = st.sampled_from([phrase for phrase, _, _ in pix._LABELS])
separators = st.sampled_from([": ", "  ", " ", "\n", ":\n", " - ", " | ", ""])
lines = st.builds(lambda label, sep, value: f"{label.title()}{sep}{value}", labels, separators, values) | values
receipts = st.lists(lines, min_size=1, max_size=25).map("\n".join)
any_text = st.text(max_size=400) | st.text(st.characters(codec="utf-8"), max_size=400)


def check_party(parte: pix.Parte) -> None:
    for text in (parte.nome, parte.instituicao):
        assert text is None or sum(ch.isalpha() for ch in text) >= 2
    assert (parte.documento is None) == (parte.tipo_documento is None)
    if parte.documento is not None:
        layout = CPF if parte.tipo_documento == "cpf" else CNPJ
        assert layout.fullmatch(parte.documento), parte.documento
        shown = re.sub(r"[^0-9*]", "", parte.documento)
        valid = cpf_valid if parte.tipo_documento == "cpf" else cnpj_valid
        assert "*" in shown or valid(shown)
    key = parte.chave_pix
    assert key is None or any(p.fullmatch(key) for p in (EVP, EMAIL, PHONE, CPF, CNPJ)), key


def check_fields(dados: pix.DadosPix) -> None:
    if dados.valor is not None:
        assert isinstance(dados.valor, Decimal) and dados.valor.is_finite() and dados.valor >= 0
        assert dados.valor.as_tuple().exponent == -2
    if dados.data_hora is not None:
        assert DATA_HORA.fullmatch(dados.data_hora), dados.data_hora
        date.fromisoformat(dados.data_hora[:10])
    if dados.id_transacao is not None:
        assert E2E.fullmatch(dados.id_transacao), dados.id_transacao
        assert datetime.strptime(dados.id_transacao[9:21], "%Y%m%d%H%M").year >= 2020
    check_party(dados.pagador)
    check_party(dados.recebedor)
    json.dumps(dados.as_json())


@FUZZ
@given(text=receipts)
@example(text="CPF do pagador: ١٢٣.٤٥٦.٧٨٩-٠٩")  # a full CPF in Arabic-Indic digits
@example(text="Chave pix: ١١.٢٢٢.٣٣٣/٠٠٠١-٨١")
@example(text="Chave pix: +55 11 ٩٨٧٦٥-٤٣٢١")
@example(text="Valor: R$ ١٢,٣٤\nData: ٠٥/٠٨/٢٠٢٦ ١٤:٣٠")
def test_receipt_like_text_gives_checked_fields_or_none(text: str) -> None:
    check_fields(pix.parse(text))


@FUZZ
@given(text=any_text)
def test_any_text_gives_checked_fields_or_none(text: str) -> None:
    check_fields(pix.parse(text))


@FUZZ
@given(text=values | any_text)
def test_document_and_key_finders_never_raise(text: str) -> None:
    documento = find_documento(text)
    assert documento is None or (CPF if documento.tipo == "cpf" else CNPJ).fullmatch(documento.numero)
    if (key := find_pix_key(text)) is not None:
        assert key_canonical(key)
