"""The PIX receipt parser: amount, date/time, end-to-end id, payer and payee, from OCR text.

Receipts of different banks say the same things with different words and shapes: a label
and its value on one line ("Valor  R$ 10,00", "valor: R$ 10,00"), the value on the next
line (stacked layouts), or sections ("Destino", "Dados de quem pagou", "Para") holding a
party's fields. Labels are matched on a folded copy of each line (lowercase, no accents,
spaces optional, since OCR drops some) and values are read from the original text.
A field that is not found, or fails its format check, is None: nothing is guessed.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.comprovantes.documents import find_documento, find_pix_key

PAGADOR, RECEBEDOR = "pagador", "recebedor"


@dataclass
class Parte:
    nome: str | None = None
    documento: str | None = None
    tipo_documento: str | None = None  # "cpf" | "cnpj"
    instituicao: str | None = None
    chave_pix: str | None = None


@dataclass
class DadosPix:
    valor: Decimal | None = None
    data_hora: str | None = None  # local time as printed: YYYY-MM-DDTHH:MM[:SS] or YYYY-MM-DD
    id_transacao: str | None = None
    pagador: Parte = field(default_factory=Parte)
    recebedor: Parte = field(default_factory=Parte)

    def as_json(self) -> dict[str, Any]:
        """Return the fields as JSON-ready data (the amount as a string, exact)."""
        out = asdict(self)
        out["valor"] = None if self.valor is None else f"{self.valor:.2f}"
        return out


# --- labels -------------------------------------------------------------------------------
# (phrase, field, party). Longer phrases first so "nome do pagador" wins over "nome".
# Field "parte" is a party word carrying the party's name ("Pagador  Maria Souza"), or,
# alone on its line, opening that party's section.
_LABELS: list[tuple[str, str, str | None]] = [
    ("dados de quem recebeu", "secao", RECEBEDOR), ("dados de quem pagou", "secao", PAGADOR),
    ("dados do recebedor", "secao", RECEBEDOR), ("dados do pagador", "secao", PAGADOR),
    ("dados do favorecido", "secao", RECEBEDOR), ("dados do destinatario", "secao", RECEBEDOR),
    ("dados da conta debitada", "secao", PAGADOR), ("dados da conta creditada", "secao", RECEBEDOR),
    ("conta de origem", "secao", PAGADOR), ("conta de destino", "secao", RECEBEDOR),
    ("conta destino", "secao", RECEBEDOR), ("quem recebeu", "secao", RECEBEDOR),
    ("quem pagou", "secao", PAGADOR), ("destino", "secao", RECEBEDOR), ("origem", "secao", PAGADOR),
    ("nome do recebedor", "nome", RECEBEDOR), ("nome do favorecido", "nome", RECEBEDOR),
    ("nome do beneficiario", "nome", RECEBEDOR), ("nome do destinatario", "nome", RECEBEDOR),
    ("nome do pagador", "nome", PAGADOR), ("razao social", "nome", None), ("nome", "nome", None),
    ("pago para", "parte", RECEBEDOR), ("enviado para", "parte", RECEBEDOR),
    ("recebedor", "parte", RECEBEDOR), ("favorecido", "parte", RECEBEDOR),
    ("beneficiario", "parte", RECEBEDOR), ("destinatario", "parte", RECEBEDOR),
    ("para", "parte", RECEBEDOR), ("pagador", "parte", PAGADOR), ("remetente", "parte", PAGADOR),
    ("de", "parte", PAGADOR),
    ("cpf/cnpj do recebedor", "documento", RECEBEDOR), ("cpf/cnpj do pagador", "documento", PAGADOR),
    ("cnpj do recebedor", "documento", RECEBEDOR), ("cpf do recebedor", "documento", RECEBEDOR),
    ("cnpj do pagador", "documento", PAGADOR), ("cpf do pagador", "documento", PAGADOR),
    ("cpf/cnpj", "documento", None), ("cnpj", "documento", None), ("cpf", "documento", None),
    ("instituicao financeira", "instituicao", None), ("instituicao do recebedor", "instituicao", RECEBEDOR),
    ("instituicao do pagador", "instituicao", PAGADOR), ("instituicao", "instituicao", None),
    ("banco do recebedor", "instituicao", RECEBEDOR), ("banco do pagador", "instituicao", PAGADOR),
    ("banco", "instituicao", None),
    ("chave pix do recebedor", "chave", RECEBEDOR), ("chave pix", "chave", None), ("chave", "chave", None),
    ("valor da transferencia", "valor", None), ("valor do pagamento", "valor", None),
    ("valor do pix", "valor", None), ("valor pago", "valor", None), ("valor total", "valor", None),
    ("valor", "valor", None), ("quantia", "valor", None),
    ("data do pagamento", "data", None), ("data da transferencia", "data", None),
    ("data da transacao", "data", None), ("data e hora", "data", None), ("data/hora", "data", None),
    ("realizado em", "data", None), ("efetuado em", "data", None), ("pago em", "data", None),
    ("data", "data", None), ("horario", "hora", None), ("hora", "hora", None),
    ("id da transacao", "id", None), ("id/transacao", "id", None), ("id transacao", "id", None),
    ("identificador", "id", None), ("numero de controle", "id", None),
    ("numero da transacao", "id", None), ("codigo da transacao", "id", None),
    ("end to end", "id", None), ("e2e", "id", None), ("id", "id", None),
    # read and ignored: they are neither names nor institutions
    ("tipo de transferencia", "outro", None), ("tipo de conta", "outro", None), ("agencia", "outro", None),
    ("conta", "outro", None), ("tarifa", "outro", None), ("documento", "outro", None),
    ("descricao", "outro", None), ("mensagem", "outro", None), ("autenticacao", "outro", None),
    ("protocolo", "outro", None), ("situacao", "outro", None), ("status", "outro", None),
]


# Words that also begin values ("BANCO INTER S.A.", "De Souza Ltda") are labels only when a
# separator follows them: a colon, a column gap (two spaces) or the end of the line.
_NEEDS_SEPARATOR = frozenset({"banco", "de", "para"})


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.split()]
    end = r"(?=\s*:|\s{2}|\s*$)" if phrase in _NEEDS_SEPARATOR else r"(?![a-z])"
    return re.compile(r"^\s*" + r"\s*".join(words) + end)


_LABEL_PATTERNS = [(_phrase_pattern(p), f, party, p) for p, f, party in _LABELS]
_SEPARATORS = " \t:-–—|"

MONEY_RE = re.compile(r"(?<![\d,.])(\d{1,3}(?:\s?\.\s?\d{3})+|\d+)\s?,\s?(\d)\s?(\d)(?!\s?\d)")
CURRENCY_RE = re.compile(r"R\s?\$\s*")
# The year may run straight into the time when OCR drops the space: "19/08/202615:13:32".
DATE_NUM_RE = re.compile(r"(?<!\d)(\d\s?\d?)\s?/\s?(\d\s?\d)\s?/\s?(\d\s?\d\s?\d\s?\d)(?=\D|$|\d{1,2}\s?[:h]\s?\d)")
MONTHS = {"jan": 1, "fev": 2, "mar": 3, "abr": 4, "mai": 5, "jun": 6, "jul": 7, "ago": 8,
          "set": 9, "out": 10, "nov": 11, "dez": 12}
DATE_NAME_RE = re.compile(r"(?<!\d)(\d{1,2})\s*(?:de\s*)?(jan|fev|mar|abr|mai|jun|jul|ago|set|out|nov|dez)"
                          r"[a-z]*\.?\s*(?:de\s*)?(\d{4})(?!\d)")
TIME_RE = re.compile(r"(?<![\d/])(\d\s?\d)\s?[:h]\s?(\d\s?\d)(?:\s?:\s?(\d\s?\d))?(?![\d/])")
# 'E' + ISPB (8 digits) + yyyyMMddHHmm + 11 alphanumerics; OCR may read 0 as O and 1 as l.
E2E_RE = re.compile(r"E([0-9OoIl]{20})([A-Za-z0-9]{11})(?![A-Za-z0-9])")
_DIGIT_FIXES = str.maketrans("OoIl", "0011")


def fold(text: str) -> str:
    """Lowercase without accents, one character per character (positions stay aligned)."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFD", ch)[0].lower()
        out.append(base if len(base) == 1 else ch)
    return "".join(out)


@dataclass
class _Line:
    text: str
    folded: str
    kind: str = "texto"       # texto | secao | label
    field: str | None = None
    party: str | None = None
    value: str = ""
    consumed: bool = False


def _classify(lines: list[str]) -> list[_Line]:
    out = [_Line(text, fold(text)) for text in lines]
    for index, line in enumerate(out):
        for pattern, field_name, party, _ in _LABEL_PATTERNS:
            match = pattern.match(line.folded)
            if not match:
                continue
            value = line.text[match.end():].lstrip(_SEPARATORS + ".").rstrip(" :|")
            if field_name in ("secao", "parte") and not value:
                line.kind, line.party = "secao", party
            elif field_name == "secao":
                continue  # "Destino  São Paulo" is not a section header
            else:
                line.kind, line.field, line.party, line.value = "label", field_name, party, value
            break
    # A label alone on its line takes the next line as its value (stacked layouts), even
    # when that line starts like a label ("Banco" over "BANCO INTER S.A."): only a section
    # header or another lone label means the value is missing.
    for index, line in enumerate(out):
        if line.kind == "label" and not line.value and index + 1 < len(out):
            following = out[index + 1]
            if following.kind == "texto" or (following.kind == "label" and following.value):
                line.value = following.text
                following.kind, following.field, following.party = "texto", None, None
                following.consumed = True
    return out


def _clean_text(value: str) -> str | None:
    value = re.sub(r"\s+", " ", value).strip(" :-–—|")
    return value if sum(ch.isalpha() for ch in value) >= 2 else None


def parse_amount(text: str) -> Decimal | None:
    """Return the first Brazilian-format amount (1.234,56) in the text as a Decimal, or None."""
    match = MONEY_RE.search(text)
    if not match:
        return None
    whole = re.sub(r"[\s.]", "", match.group(1))
    return Decimal(f"{whole}.{match.group(2)}{match.group(3)}")


def _compact(group: str) -> str:
    return re.sub(r"\s", "", group)


def parse_date(text: str) -> date | None:
    """Return the first date written dd/mm/yyyy, "05 AGO 2026" or "5 de agosto de 2026"."""
    candidates = []
    if match := DATE_NUM_RE.search(text):
        candidates.append((match.start(), int(_compact(match.group(1))), int(_compact(match.group(2))),
                           int(_compact(match.group(3)))))
    if match := DATE_NAME_RE.search(fold(text)):
        candidates.append((match.start(), int(match.group(1)), MONTHS[match.group(2)], int(match.group(3))))
    for _, day, month, year in sorted(candidates):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return None


def parse_time(text: str) -> str | None:
    """Return the first time HH:MM[:SS] in the text, or None."""
    for match in TIME_RE.finditer(text):
        hour, minute = int(_compact(match.group(1))), int(_compact(match.group(2)))
        second = int(_compact(match.group(3))) if match.group(3) else None
        if hour < 24 and minute < 60 and (second is None or second < 60):
            return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second is not None else "")
    return None


def _after_date(text: str) -> str:
    """The part of a line after its date, where the time is printed."""
    for pattern, source in ((DATE_NUM_RE, text), (DATE_NAME_RE, fold(text))):
        if match := pattern.search(source):
            return text[match.end():]
    return text


def parse_e2e(text: str) -> str | None:
    """Return a valid end-to-end id (E + ISPB + yyyyMMddHHmm + 11 alphanumerics), or None."""
    for match in E2E_RE.finditer(re.sub(r"\s", "", text)):
        digits = match.group(1).translate(_DIGIT_FIXES)
        stamp = digits[8:]
        try:
            moment = datetime.strptime(stamp, "%Y%m%d%H%M")
        except ValueError:
            continue
        if moment.year >= 2020:
            return f"E{digits}{match.group(2)}"
    return None


def _name_value(value: str) -> str | None:
    # "Maria Souza - CPF ***.123.456-**": the name ends where a document begins
    cut = re.split(r"\s(?:-\s)?(?:cpf|cnpj)\b|\s[\d*•]{2,3}[.]", value, maxsplit=1, flags=re.IGNORECASE)[0]
    return _clean_text(cut)


def _looks_like_text(line: _Line) -> bool:
    """A plain line that can be a name or an institution: letters, no amount/date/id/document."""
    text = line.text
    if (parse_amount(text) is not None and CURRENCY_RE.search(text)) or parse_date(text) or parse_e2e(text):
        return False
    if find_documento(text):
        return False
    letters = sum(ch.isalpha() for ch in text)
    return letters >= 3 and letters >= 0.6 * len(text.replace(" ", ""))


def parse(text: str) -> DadosPix:
    """Extract the PIX fields from a receipt's text; what is not found is None."""
    raw_lines = [re.sub(r"[ \t]{3,}", "  ", unicodedata.normalize("NFC", line)).strip()
                 for line in text.splitlines()]
    lines = _classify([line for line in raw_lines if line])
    dados = DadosPix()
    parties = {PAGADOR: dados.pagador, RECEBEDOR: dados.recebedor}
    section: str | None = None
    dates: list[str] = []
    times: list[str] = []

    def assign(party: str | None, name: str, value: str | None) -> None:
        if party and value and getattr(parties[party], name) is None:
            setattr(parties[party], name, value)

    for line in lines:
        if line.kind == "secao":
            section = line.party
            continue
        if line.kind == "texto":
            if section and not line.consumed and _looks_like_text(line):
                parte = parties[section]
                if parte.nome is None:
                    parte.nome = _clean_text(line.text)
                elif parte.instituicao is None:
                    parte.instituicao = _clean_text(line.text)
            continue
        party = line.party or section
        value = line.value
        if line.field == "parte":
            section = line.party
            assign(line.party, "nome", _name_value(value))
        elif line.field == "nome":
            if line.party:
                section = line.party
            assign(party, "nome", _name_value(value))
        elif line.field == "documento":
            if documento := find_documento(value):
                if party and parties[party].documento is None:
                    parties[party].documento, parties[party].tipo_documento = documento.numero, documento.tipo
        elif line.field == "instituicao":
            assign(party, "instituicao", _clean_text(value))
        elif line.field == "chave":
            # a key outside any section is the payee's: receipts show whom the money went to
            assign(party or RECEBEDOR, "chave_pix", find_pix_key(value))
        elif line.field == "valor" and dados.valor is None:
            dados.valor = parse_amount(value)
        elif line.field == "data":
            dates.append(value)
        elif line.field == "hora":
            times.append(value)
        elif line.field == "id" and dados.id_transacao is None:
            dados.id_transacao = parse_e2e(value)

    if dados.valor is None:
        # unlabelled amount ("R$ 15,00" under the title): the first one printed in reais
        for line in lines:
            if line.field != "outro" and CURRENCY_RE.search(line.text):
                if (amount := parse_amount(CURRENCY_RE.split(line.text, maxsplit=1)[1])) is not None:
                    dados.valor = amount
                    break
    if dados.id_transacao is None:
        for line in lines:
            if id_ := parse_e2e(line.text):
                dados.id_transacao = id_
                break
    dados.data_hora = _date_time(dates, times, lines)
    return dados


def _date_time(dates: list[str], times: list[str], lines: list[_Line]) -> str | None:
    """Combine the labelled (or else the first printed) date with its time."""
    sources = dates + [line.text for line in lines if line.field not in ("id",)]
    for source in sources:
        if found := parse_date(source):
            clock = parse_time(_after_date(source))
            for candidate in times:
                if clock is None:
                    clock = parse_time(candidate)
            if clock is None:
                for line in lines:
                    if line.kind == "texto" and not parse_date(line.text) and (clock := parse_time(line.text)):
                        break
            return found.isoformat() + (f"T{clock}" if clock else "")
    return None
