"""The PIX receipt parser: amount, date/time, end-to-end id, payer and payee, from OCR text.

Receipts of different banks say the same things with different words and shapes: a label
and its value on one line ("Valor  R$ 10,00", "valor: R$ 10,00"), the value on the next
line (stacked layouts), or sections ("Destino", "Dados de quem pagou", "Para") holding a
party's fields. Labels are matched on a folded copy of each line (lowercase, no accents,
spaces optional, since OCR drops some) and values are read from the original text.
A field that is not found, or fails its format check, is None: nothing is guessed. A full
CPF/CNPJ whose check digits fail is kept as read: `checks.py` corrects it or marks it doubtful.

Inline labels without a colon ("Para Maria Souza", "De João Lima", "Banco BANCO INTER S.A.")
are labels unless they sit right under a section header, where the line is that party's name
("Quem pagou" over "De Souza Materiais Ltda"). Two columns ("Data    Horário" over
"01/02/2026    10:11") are paired cell by cell.

The vocabulary is the one Brazilian receipts share, not one bank's: a party named by what was
done ("Enviado por", "Recebido por", "Transferido para", "Pago por"), by its role ("Pagador",
"Favorecido", "Beneficiário", "Destinatário", "Remetente") or by a field word with its party
("CPF/CNPJ do favorecido", "Banco de origem", "Nome do titular"). Agencies, accounts and a
cooperative's number ("Cooperativa 0710 - Sicredi ...") are read and ignored, never taken for a
name or an institution.
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
# Every field a receipt carries, as confianca/duvidosos name them.
FIELDS = ("valor", "data_hora", "id_transacao", "pagador.nome", "pagador.documento", "pagador.instituicao",
          "recebedor.nome", "recebedor.documento", "recebedor.instituicao", "recebedor.chave_pix")


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
    # per field (FIELDS), 0..1: how sure the reading is (ocr/combine.py, checks.py)
    confianca: dict[str, float] = field(default_factory=dict)
    # fields that failed a check no single reading fixes, or read with too low a confidence
    duvidosos: list[str] = field(default_factory=list)

    def get(self, name: str) -> Any:
        """A field by its FIELDS name ("valor", "recebedor.nome")."""
        if "." in name:
            party, attr = name.split(".")
            return getattr(getattr(self, party), attr)
        return getattr(self, name)

    def set(self, name: str, value: Any) -> None:
        if "." in name:
            party, attr = name.split(".")
            setattr(getattr(self, party), attr, value)
        else:
            setattr(self, name, value)

    def as_json(self) -> dict[str, Any]:
        """Return the fields as JSON-ready data (the amount as a string, exact)."""
        out = asdict(self)
        out["valor"] = None if self.valor is None else f"{self.valor:.2f}"
        return out


# --- labels -------------------------------------------------------------------------------

# How receipts name each party after a field's word ("CPF do favorecido", "Banco de origem").
_PARTY_WORDS = {
    RECEBEDOR: ("recebedor", "favorecido", "beneficiario", "destinatario", "destino"),
    PAGADOR: ("pagador", "remetente", "origem", "pagante", "titular"),
}
_FIELD_WORDS = {"nome": ("nome",), "documento": ("cpf/cnpj", "cnpj/cpf", "cpf", "cnpj", "documento"),
                "instituicao": ("instituicao", "banco"), "chave": ("chave pix", "chave")}


def _party_labels() -> list[tuple[str, str, str | None]]:
    """"Nome do favorecido", "CPF/CNPJ de origem", "Instituição do destinatário"..."""
    out = []
    for party, words in _PARTY_WORDS.items():
        for word in words:
            for field_name, phrases in _FIELD_WORDS.items():
                out += [(f"{phrase} {preposition} {word}", field_name, party)
                        for phrase in phrases for preposition in ("do", "da", "de")]
    return sorted(out, key=lambda label: -len(label[0]))


# (phrase, field, party). Longer phrases first so "nome do pagador" wins over "nome".
# Field "parte" is a party word carrying the party's name ("Pagador  Maria Souza"), or,
# alone on its line, opening that party's section.
_LABELS: list[tuple[str, str, str | None]] = [
    ("dados de quem recebeu", "secao", RECEBEDOR), ("dados de quem pagou", "secao", PAGADOR),
    ("dados de quem recebe", "secao", RECEBEDOR), ("dados de quem envia", "secao", PAGADOR),
    ("dados do recebedor", "secao", RECEBEDOR), ("dados do pagador", "secao", PAGADOR),
    ("dados do favorecido", "secao", RECEBEDOR), ("dados do destinatario", "secao", RECEBEDOR),
    ("dados do beneficiario", "secao", RECEBEDOR), ("dados do remetente", "secao", PAGADOR),
    ("dados da conta debitada", "secao", PAGADOR), ("dados da conta creditada", "secao", RECEBEDOR),
    ("dados de origem", "secao", PAGADOR), ("dados da origem", "secao", PAGADOR),
    ("dados de destino", "secao", RECEBEDOR), ("dados do destino", "secao", RECEBEDOR),
    ("conta de origem", "secao", PAGADOR), ("conta de destino", "secao", RECEBEDOR),
    ("conta debitada", "secao", PAGADOR), ("conta creditada", "secao", RECEBEDOR),
    ("conta destino", "secao", RECEBEDOR), ("conta origem", "secao", PAGADOR),
    ("quem recebeu", "secao", RECEBEDOR), ("quem recebe", "secao", RECEBEDOR),
    ("quem pagou", "secao", PAGADOR), ("quem enviou", "secao", PAGADOR), ("quem envia", "secao", PAGADOR),
    ("quem paga", "secao", PAGADOR), ("para quem", "secao", RECEBEDOR), ("de quem", "secao", PAGADOR),
    ("destino", "secao", RECEBEDOR), ("origem", "secao", PAGADOR),
    *_party_labels(),
    ("razao social", "nome", None), ("nome", "nome", None),
    # a party's word carrying its name: "Enviado por Maria Souza", "Recebido por: Loja Azul"
    ("transferido para", "parte", RECEBEDOR), ("enviado para", "parte", RECEBEDOR),
    ("pago para", "parte", RECEBEDOR), ("pago a", "parte", RECEBEDOR), ("recebido por", "parte", RECEBEDOR),
    ("creditado para", "parte", RECEBEDOR), ("destinado a", "parte", RECEBEDOR),
    ("enviado por", "parte", PAGADOR), ("pago por", "parte", PAGADOR), ("transferido por", "parte", PAGADOR),
    ("recebido de", "parte", PAGADOR), ("realizado por", "parte", PAGADOR), ("debitado de", "parte", PAGADOR),
    ("recebedor", "parte", RECEBEDOR), ("favorecido", "parte", RECEBEDOR),
    ("beneficiario", "parte", RECEBEDOR), ("destinatario", "parte", RECEBEDOR),
    ("para", "parte", RECEBEDOR), ("pagador", "parte", PAGADOR), ("remetente", "parte", PAGADOR),
    ("pagante", "parte", PAGADOR), ("de", "parte", PAGADOR),
    ("cpf / cnpj", "documento", None), ("cpf/cnpj", "documento", None), ("cnpj/cpf", "documento", None),
    ("cnpj", "documento", None), ("cpf", "documento", None),
    # tesseract's readings of "CNPJ"
    ("cnp)", "documento", None), ("cnp]", "documento", None), ("cnpi", "documento", None),
    ("instituicao financeira", "instituicao", None), ("instituicao", "instituicao", None),
    ("banco", "instituicao", None),
    ("chave pix", "chave", None), ("chave", "chave", None),
    ("valor da transferencia", "valor", None), ("valor do pagamento", "valor", None),
    ("valor do pix", "valor", None), ("valor pago", "valor", None), ("valor total", "valor", None),
    ("valor", "valor", None), ("quantia", "valor", None),
    ("data do pagamento", "data", None), ("data da transferencia", "data", None),
    ("data da transacao", "data", None), ("data e hora", "data", None), ("data/hora", "data", None),
    ("realizado em", "data", None), ("efetuado em", "data", None), ("pago em", "data", None),
    ("enviado em", "data", None), ("transferido em", "data", None), ("feito em", "data", None),
    ("data", "data", None), ("horario", "hora", None), ("hora", "hora", None),
    ("id da transacao", "id", None), ("id/transacao", "id", None), ("id transacao", "id", None),
    ("identificador", "id", None), ("identificacao", "id", None), ("numero de controle", "id", None),
    ("numero da transacao", "id", None), ("codigo da transacao", "id", None), ("codigo e2e", "id", None),
    ("end to end", "id", None), ("end-to-end", "id", None), ("e2e", "id", None), ("id", "id", None),
    # read and ignored: they are neither names nor institutions (an agency, an account, a
    # cooperative's number: "Cooperativa 0710", "Agência/Conta 0001 / 12345-6")
    ("tipo de transferencia", "outro", None), ("tipo de conta", "outro", None), ("agencia", "outro", None),
    ("conta", "outro", None), ("cooperativa", "outro", None), ("tarifa", "outro", None),
    ("documento", "documento", None),
    ("descricao", "outro", None), ("mensagem", "outro", None), ("tipo", "outro", None),
    ("autenticacao", "outro", None), ("codigo de autenticacao", "outro", None),
    ("protocolo", "outro", None), ("situacao", "outro", None), ("status", "outro", None),
]


# Words that also begin values ("BANCO INTER S.A.", "De Souza Ltda"): with a separator after
# them (a colon, a column gap, the end of the line) they are labels; followed by a single
# space ("Para Maria Souza") only where a label can stand (not right under a section header).
_NEEDS_SEPARATOR = frozenset({"banco", "de", "para"})


# Labels whose value is a number: "Cooperativa 0710" is a cooperative's number, while
# "Cooperativa de Crédito Rural ..." is an institution's name.
_NUMBERED = frozenset({"cooperativa"})


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.split()]
    if phrase in _NEEDS_SEPARATOR:
        end = r"(?=\s*:|\s{2}|\s*$)"
    elif phrase in _NUMBERED:
        end = r"(?=\s*[:\-–]?\s*(?:\d|$))"
    else:
        end = r"(?![a-z])"
    return re.compile(r"^\s*" + r"\s*".join(words) + end)


_LABEL_PATTERNS = [(_phrase_pattern(p), f, party, p) for p, f, party in _LABELS]
# "Chavefinanceiro@loja.com.br": OCR glued the label to an e-mail or a number.
_GLUED_KEY = re.compile(r"^\s*chave\s*(?:pix\s*)?(?=[^\s:]*@|[+\d])")
# "Para Maria", "De João", "Banco BANCO INTER": the word, one space, a capital letter.
_INLINE_PATTERNS = {p: re.compile(r"^\s*" + p + r" (?=[^\W\d_])") for p in _NEEDS_SEPARATOR}
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


def _inline_label(text: str, phrase: str, after_header: bool) -> bool:
    """"Para Maria Souza", "Banco BANCO INTER S.A." are a label and its value; "BANCO SAFRA S.A."
    (an institution printed in capitals) and a name right under a section header are not."""
    word, rest = text[:len(phrase)], text[len(phrase) + 1:]
    if after_header or not rest[:1].isupper():
        return False
    return not (phrase == "banco" and word.isupper())


def _classify(lines: list[str]) -> list[_Line]:
    out = [_Line(text, fold(text)) for text in lines]
    for index, line in enumerate(out):
        after_header = index > 0 and out[index - 1].kind == "secao"
        for pattern, field_name, party, phrase in _LABEL_PATTERNS:
            match = pattern.match(line.folded)
            if not match and phrase in _INLINE_PATTERNS and _inline_label(line.text, phrase, after_header):
                match = _INLINE_PATTERNS[phrase].match(line.folded)
            if not match and phrase == "chave":
                match = _GLUED_KEY.match(line.folded)
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


def _label_only(cell: str) -> bool:
    folded = fold(cell).strip()
    return any(pattern.match(folded) and not folded[pattern.match(folded).end():].strip(_SEPARATORS)
               for pattern, field_name, _, _ in _LABEL_PATTERNS if field_name not in ("secao", "parte"))


def _unfold_columns(lines: list[str]) -> list[str]:
    """Two columns of stacked fields ("Data  Horário" over "01/02/2026  10:11") as one line each."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        cells = lines[index].split("  ")
        if (len(cells) >= 2 and index + 1 < len(lines) and all(_label_only(c) for c in cells)):
            values = lines[index + 1].split("  ")
            if len(values) == len(cells):
                out.extend(f"{label.strip()}: {value.strip()}" for label, value in zip(cells, values))
                index += 2
                continue
        out.append(lines[index])
        index += 1
    return out


def parse(text: str) -> DadosPix:
    """Extract the PIX fields from a receipt's text; what is not found is None."""
    raw_lines = [re.sub(r"[ \t]{3,}", "  ", unicodedata.normalize("NFC", line)).strip()
                 for line in text.splitlines()]
    lines = _classify(_unfold_columns([line for line in raw_lines if line]))
    dados = DadosPix()
    parties = {PAGADOR: dados.pagador, RECEBEDOR: dados.recebedor}
    section: str | None = None
    dates: list[str] = []
    times: list[str] = []

    # a party's fields under a header the parser does not know: placed once the id is read
    anonymous: list[Parte] = []

    def assign(party: str | None, name: str, value: str | None) -> None:
        if party is None and name != "chave_pix" and value:
            if not anonymous or getattr(anonymous[-1], name) is not None:
                anonymous.append(Parte())
            setattr(anonymous[-1], name, value)
        elif party and value and getattr(parties[party], name) is None:
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
            if documento := find_documento(value, strict=False):
                assign(party, "documento", documento.numero)
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
    _place_anonymous(dados, anonymous)
    for parte in (dados.pagador, dados.recebedor):
        if parte.documento and (documento := find_documento(parte.documento, strict=False)):
            parte.tipo_documento = documento.tipo
    return dados


def _place_anonymous(dados: DadosPix, blocks: list[Parte]) -> None:
    """Give each block of party fields found under an unknown header to a party: the payer's
    is the block whose bank has the ISPB that opens the E2E id (the id is made by the payer's
    bank); otherwise the payee's comes first, as most receipts print it."""
    from core.comprovantes.checks import instituicao_por_nome

    blocks = [block for block in blocks if block.nome or block.documento]
    if not blocks:
        return
    ispb = dados.id_transacao[1:9] if dados.id_transacao else None
    banks = [instituicao_por_nome(block.instituicao) for block in blocks]
    payer_like = [bool(ispb and bank and bank.ispb == ispb) for bank in banks]
    if payer_like.count(True) == 1 and len(blocks) > 1:
        targets = [dados.pagador if flag else dados.recebedor for flag in payer_like]
    else:
        targets = [dados.recebedor, dados.pagador][:len(blocks)]
    for block, target in zip(blocks, targets):
        if target.nome is not None and block.nome is not None:
            continue  # a known section already named this party
        for name in ("nome", "documento", "instituicao"):
            if getattr(target, name) is None:
                setattr(target, name, getattr(block, name))


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
