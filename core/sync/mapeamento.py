"""Source row -> Plusoft payload, one table per entity (seed 003's Mapeamento pattern).

The model mirrors the Consinco view; these tables mirror the Plusoft API. When Plusoft
renames a field, change the left column; when the view changes, the middle one. Values
leave as JSON: decimals as fixed-point strings (no float rounding), dates as ISO 8601,
timestamps with the store's UTC offset, strings trimmed, blanks and NULLs as null.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.settings import get_settings

Converter = Callable[[Any], Any]


class RegistroInvalido(ValueError):
    """A source row that cannot become a payload (it is counted as rejected, not sent)."""


# --- converters -------------------------------------------------------------------------

def texto(value: Any) -> str | None:
    """Trimmed text; blank is null."""
    if value is None:
        return None
    text = (value if type(value) is str else str(value)).strip()
    return text or None


def inteiro(value: Any) -> int | None:
    return value if type(value) is int or value is None else int(value)


def decimal(places: int) -> Converter:
    """Fixed-point text with `places` decimals, e.g. decimal(2)(Decimal('3.5')) == '3.50'."""
    quantum = Decimal(1).scaleb(-places)

    def convert(value: Any) -> str | None:
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return str(number.quantize(quantum))

    return convert


def data(value: Any) -> str | None:
    """ISO date, YYYY-MM-DD."""
    if value is None:
        return None
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def data_hora(value: Any) -> str | None:
    """ISO timestamp with the offset of STOCKFLOW_TIMEZONE (Consinco stores local time)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return value.isoformat(timespec="seconds")


def digitos(value: Any) -> str | None:
    """Only the digits (CPF, CNPJ, CEP, phone); none is null."""
    if value is None:
        return None
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return digits or None


def ativo(value: Any) -> bool | None:
    """Consinco status letter: 'A' is True, 'I' is False."""
    letter = texto(value)
    if letter is None:
        return None
    if letter.upper() not in ("A", "I"):
        raise ValueError(f"status {letter!r} não é A nem I")
    return letter.upper() == "A"


def obrigatorio(convert: Converter) -> Converter:
    """The same converter, but a null result rejects the row (Plusoft requires the field)."""

    def required(value: Any) -> Any:
        result = convert(value)
        if result is None:
            raise ValueError("campo obrigatório vazio")
        return result

    return required


# --- the mapper -------------------------------------------------------------------------

class Mapeamento:
    """Translates a source row into a payload dict: `mapper(row)` reads the columns as
    attributes; `mapper.for_columns(names)` returns a faster translator of plain tuples."""

    def __init__(self, entidade: str, chave: Sequence[str],
                 campos: Sequence[tuple[str, str, Converter]]) -> None:
        self.entidade = entidade
        # The Plusoft fields naming one record (its upsert key at the receiver).
        self.chave = tuple(chave)
        self.campos = tuple(campos)

    def __call__(self, row: Any) -> dict[str, Any]:
        return self._translate(row, [(campo, coluna, convert, getattr(row, coluna))
                                     for campo, coluna, convert in self.campos])

    def for_columns(self, columns: Sequence[str]) -> Callable[[Sequence[Any]], dict[str, Any]]:
        """Return a translator of rows given as tuples in `columns` order (a whole batch
        pays the name lookups once)."""
        plan = [(campo, coluna, convert, list(columns).index(coluna))
                for campo, coluna, convert in self.campos]

        def translate(row: Sequence[Any]) -> dict[str, Any]:
            try:
                return {campo: convert(row[index]) for campo, _, convert, index in plan}
            except (ArithmeticError, TypeError, ValueError):
                return self._translate(row, [(campo, coluna, convert, row[index])
                                             for campo, coluna, convert, index in plan])

        return translate

    @staticmethod
    def _translate(row: Any, values: list[tuple[str, str, Converter, Any]]) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        for campo, coluna, convert, value in values:
            try:
                payload[campo] = convert(value)
            except (ArithmeticError, TypeError, ValueError) as exc:
                raise RegistroInvalido(f"{campo} (coluna {coluna}): {exc}") from exc
        return payload


# --- the tables: Plusoft field, source column, converter ----------------------------------

FILIAIS = Mapeamento("filiais", ("IDFILIAL",), [
    ("IDFILIAL",            "IDFILIAL",             obrigatorio(inteiro)),
    ("TXTNOMEFANTASIA",     "TXTNOMEFILIAL",        texto),
    ("TXTRAZAOSOCIAL",      "TXTRAZAOSOCIAL",       texto),
    ("NUMCNPJ",             "NUMCNPJ",              digitos),
    ("TXTENDERECO",         "TXTLOGRADOURO",        texto),
    ("TXTBAIRRO",           "TXTBAIRRO",            texto),
    ("TXTCIDADE",           "TXTCIDADE",            texto),
    ("TXTUF",               "TXTUF",                texto),
    ("NUMCEP",              "NUMCEP",               digitos),
    ("FLGATIVA",            "TXTSTATUS",            ativo),
    ("DATALTERACAO",        "DTAALTERACAO",         data_hora),
])

PRODUTOS = Mapeamento("produtos", ("IDPRODUTO",), [
    ("IDPRODUTO",           "IDPRODUTO",            obrigatorio(inteiro)),
    ("TXTDESCRICAO",        "TXTDESCRICAO",         obrigatorio(texto)),
    ("TXTDESCRICAORESUMIDA", "TXTDESCRICAOREDUZIDA", texto),
    ("NUMEAN",              "NUMEAN",               digitos),
    ("TXTMARCA",            "TXTMARCA",             texto),
    ("TXTCATEGORIA",        "TXTCATEGORIA",         texto),
    ("TXTSUBCATEGORIA",     "TXTSUBCATEGORIA",      texto),
    ("TXTEMBALAGEM",        "TXTEMBALAGEM",         texto),
    ("NUMQTDEMBALAGEM",     "NUMQTDEMBALAGEM",      decimal(3)),
    ("FLGATIVO",            "TXTSTATUS",            ativo),
    ("DATCADASTRO",         "DTACADASTRO",          data),
    ("DATALTERACAO",        "DTAALTERACAO",         data_hora),
])

CLIENTES = Mapeamento("clientes", ("IDPESSOA",), [
    ("IDPESSOA",            "IDPESSOA",             obrigatorio(inteiro)),
    ("TXTNOME",             "TXTNOME",              obrigatorio(texto)),
    ("TXTTIPOPESSOA",       "TXTTIPOPESSOA",        texto),
    ("NUMCPFCNPJ",          "NUMCPFCNPJ",           digitos),
    ("TXTEMAIL",            "TXTEMAIL",             texto),
    ("NUMTELEFONE",         "NUMTELEFONE",          digitos),
    ("DATNASCIMENTO",       "DATNASCIMENTO",        data),
    ("TXTSEXO",             "TXTSEXO",              texto),
    ("TXTCIDADE",           "TXTCIDADE",            texto),
    ("TXTUF",               "TXTUF",                texto),
    ("NUMCEP",              "NUMCEP",               digitos),
    ("DATCADASTRO",         "DTACADASTRO",          data),
    ("DATALTERACAO",        "DTAALTERACAO",         data_hora),
])

# NAGV_PLUSOFT_VENDAS is Plusoft's own export layout: the names pass through unchanged.
VENDAS = Mapeamento("vendas", ("DATVENDA", "IDFILIAL", "IDCUPOM", "IDPRODUTO"), [
    ("IDPESSOA",              "IDPESSOA",              inteiro),
    ("IDFILIAL",              "IDFILIAL",              obrigatorio(inteiro)),
    ("IDCUPOM",               "IDCUPOM",               obrigatorio(inteiro)),
    ("IDPRODUTO",             "IDPRODUTO",             obrigatorio(inteiro)),
    ("DATVENDA",              "DATVENDA",              obrigatorio(data)),
    ("NUMQTDVENDIDA",         "NUMQTDVENDIDA",         decimal(3)),
    ("VLRPRECOVENDAUNITARIO", "VLRPRECOVENDAUNITARIO", decimal(2)),
    ("VLRPRECOPDVUNITARIO",   "VLRPRECOPDVUNITARIO",   decimal(2)),
    ("VLRDESCONTOUNITARIO",   "VLRDESCONTOUNITARIO",   decimal(2)),
    ("VLRMARGEMPDV",          "VLRMARGEMPDV",          decimal(2)),
    ("TXTCANALVENDAS",        "TXTCANALVENDAS",        texto),
    ("TXTTIPOVENDA",          "TXTTIPOVENDA",          texto),
    ("IDFORMAPAGTO",          "IDFORMAPAGTO",          inteiro),
    ("TXTFORMAPAGTO",         "TXTFORMAPAGTO",         texto),
])

MAPEAMENTOS: dict[str, Mapeamento] = {m.entidade: m for m in (FILIAIS, PRODUTOS, CLIENTES, VENDAS)}
