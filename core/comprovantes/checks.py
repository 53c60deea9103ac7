"""What a receipt lets us check about itself, and the one reading a failed check allows.

- The E2E id (E + payer's ISPB + yyyyMMddHHmm in UTC + 11 characters, BCB's format) must
  carry the receipt's own date and time and the ISPB of the payer's bank (core/data/ispb.csv).
  OCR's letter-for-digit swaps in its 20 digits (O/0, I/l/1, S/5...) are read back, and one
  wrong digit in the ISPB or the time is put right when the receipt pins it down.
- A full CPF/CNPJ must have its check digits; one misread digit is corrected when exactly one
  substitution makes the number valid.
- An amount printed in words ("cento e vinte reais e cinquenta centavos") must be the amount.

Each check answers OK, CORRIGIDO (failed, and exactly one reading passes: that one is kept),
FALHOU (failed, no single reading: the field is doubtful) or None (nothing to check against).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from core.comprovantes.documents import cnpj_valid, cpf_valid

OK, CORRIGIDO, FALHOU = "ok", "corrigido", "falhou"

ISPB_FILE = Path(__file__).resolve().parent.parent / "data" / "ispb.csv"
# BCB: the E2E id's time is UTC; Brazil (Brasília time) is UTC-3 all year since 2019.
BRASILIA_UTC_OFFSET = timedelta(hours=3)
# The id is made when the payment starts; the receipt prints when it ended (or the same moment).
E2E_TIME_TOLERANCE = timedelta(minutes=5)


# --- ISPB ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instituicao:
    ispb: str
    codigo: str
    nome: str
    nome_curto: str
    apelidos: tuple[str, ...]


def _words(text: str) -> str:
    from core.comprovantes.pix import fold

    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(text)).split())


@lru_cache(maxsize=1)
def instituicoes() -> dict[str, Instituicao]:
    """The ISPB table (BCB's list of PIX participants, the main institutions), by ISPB."""
    with ISPB_FILE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {row["ispb"]: Instituicao(row["ispb"], row["codigo"], row["nome"], row["nome_curto"],
                                     tuple(a for a in row["apelidos"].split("|") if a)) for row in rows}


@lru_cache(maxsize=1)
def _aliases() -> list[tuple[str, str]]:
    """(folded phrase, ISPB), longest phrase first so "banco do brasil" beats "brasil"."""
    out = []
    for inst in instituicoes().values():
        for phrase in (inst.nome, inst.nome_curto, *inst.apelidos):
            out.append((_words(phrase), inst.ispb))
    return sorted(set(out), key=lambda item: -len(item[0]))


def instituicao_por_nome(text: str | None) -> Instituicao | None:
    """The table's institution named in a printed institution ("NU PAGAMENTOS - IP", "Banco Inter")."""
    if not text:
        return None
    words = f" {_words(text)} "
    squeezed = words.replace(" ", "")
    for phrase, ispb in _aliases():
        # OCR may drop the spaces: "BANCOINTERS.A." still names Banco Inter
        if f" {phrase} " in words or (len(phrase) >= 6 and phrase.replace(" ", "") in squeezed):
            return instituicoes()[ispb]
    return None


# --- E2E id ---------------------------------------------------------------------------------
# What OCR prints for a digit; each letter stands for one digit only, so reading it back is safe.
_AS_DIGIT = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "i": "1", "|": "1",
                           "L": "1", "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "G": "6", "b": "6",
                           "T": "7", "g": "9", "q": "9"})
DIGITISH = "0-9OoDQIliL|SsBZzGbTgq"  # what OCR may print for a digit of the id
E2E_RAW_RE = re.compile(rf"E([{DIGITISH}]{{20}})([A-Za-z0-9]{{11}})(?![A-Za-z0-9])")


@dataclass(frozen=True)
class Resultado:
    valor: str | None
    status: str | None   # OK | CORRIGIDO | FALHOU | None
    motivo: str = ""


def _stamp(digits: str) -> datetime | None:
    try:
        moment = datetime.strptime(digits, "%Y%m%d%H%M")
    except ValueError:
        return None
    return moment if moment.year >= 2020 else None


def _moment(data_hora: str | None) -> tuple[datetime | None, bool]:
    """The receipt's printed moment, and whether it has a time (or only a date)."""
    if not data_hora:
        return None, False
    try:
        return datetime.fromisoformat(data_hora), "T" in data_hora
    except ValueError:
        return None, False


def stamp_matches(stamp: datetime, data_hora: str | None, utc_only: bool = False) -> bool | None:
    """Does the E2E id's time agree with the receipt's printed date/time? None: nothing printed."""
    printed, has_time = _moment(data_hora)
    if printed is None:
        return None
    if not has_time:
        # after 21:00 in Brasília it is already the next day in UTC
        return stamp.date() in (printed.date(), printed.date() + timedelta(days=1))
    printed = printed.replace(second=0)
    # UTC as the BCB defines it; some institutions stamp local time
    return any(abs(stamp - (printed + offset)) <= E2E_TIME_TOLERANCE
               for offset in ((BRASILIA_UTC_OFFSET,) if utc_only else (BRASILIA_UTC_OFFSET, timedelta(0))))


def e2e_candidates(text: str) -> list[str]:
    """Every E2E-shaped run in a text (spaces removed), its 20 digits read back from look-alikes."""
    out = []
    for match in E2E_RAW_RE.finditer(re.sub(r"\s", "", text)):
        out.append("E" + match.group(1).translate(_AS_DIGIT) + match.group(2))
    return out


def _one_digit_variants(digits: str) -> list[str]:
    return [digits[:i] + d + digits[i + 1:] for i in range(len(digits))
            for d in "0123456789" if d != digits[i]]


def check_e2e(e2e: str, data_hora: str | None, instituicao_pagador: str | None) -> Resultado:
    """Check an E2E id against the receipt's date/time and the payer's bank; correct one wrong digit."""
    if not re.fullmatch(r"E[0-9]{20}[A-Za-z0-9]{11}", e2e):
        return Resultado(e2e, FALHOU, "formato do ID da transação inválido")
    ispb, stamp_digits, tail = e2e[1:9], e2e[9:21], e2e[21:]
    payer = instituicao_por_nome(instituicao_pagador)
    known = instituicoes()

    def ispb_ok(candidate: str) -> bool:
        return candidate == payer.ispb if payer else candidate in known

    def stamp_ok(candidate: str, utc_only: bool = False) -> bool | None:
        moment = _stamp(candidate)
        if moment is None:
            return False
        return stamp_matches(moment, data_hora, utc_only)

    ispb_good, stamp_good = ispb_ok(ispb), stamp_ok(stamp_digits)
    if ispb_good and stamp_good is not False:
        if stamp_good is None and payer is None:
            return Resultado(e2e, None)  # a known bank, nothing printed to compare the time with
        return Resultado(e2e, OK)
    fixed_ispb, fixed_stamp = ispb, stamp_digits
    if not ispb_good:
        if payer is None and ispb not in known:
            # an institution missing from the table: not an error, only unchecked
            fixed_ispb = ispb
        else:
            options = [v for v in _one_digit_variants(ispb) if ispb_ok(v)]
            if len(options) != 1:
                return Resultado(e2e, FALHOU, "o ISPB do ID da transação não é o do banco do pagador")
            fixed_ispb = options[0]
    if stamp_good is False:
        # UTC first (the BCB's rule); local time only when no UTC reading fits
        options = [v for v in _one_digit_variants(stamp_digits) if stamp_ok(v, utc_only=True)] or \
            [v for v in _one_digit_variants(stamp_digits) if stamp_ok(v)]
        if len(options) != 1:
            return Resultado(e2e, FALHOU, "a data/hora do ID da transação não é a do comprovante")
        fixed_stamp = options[0]
    corrected = f"E{fixed_ispb}{fixed_stamp}{tail}"
    if corrected == e2e:
        return Resultado(e2e, None)
    return Resultado(corrected, CORRIGIDO, "um dígito do ID da transação corrigido pela data/ISPB")


# --- CPF / CNPJ -----------------------------------------------------------------------------
# Digits OCR confuses with each other: when several substitutions make a number valid, the
# one among these look-alikes is taken if it is alone.
_LOOKALIKE = {"0": "869", "1": "74", "2": "7", "3": "85", "4": "1", "5": "63", "6": "508", "7": "12",
              "8": "3069", "9": "80"}


def check_documento(numero: str) -> Resultado:
    """Check a CPF/CNPJ's check digits; a masked one cannot be checked (None)."""
    if "*" in numero:
        return Resultado(numero, None)
    digits = re.sub(r"[^0-9]", "", numero)
    valid = cnpj_valid if len(digits) == 14 else cpf_valid
    if len(digits) not in (11, 14):
        return Resultado(numero, FALHOU, "documento com número de dígitos errado")
    if valid(digits):
        return Resultado(numero, OK)
    options = [v for v in _one_digit_variants(digits) if valid(v)]
    if len(options) > 1:
        options = [v for v in options if any(a != b and b in _LOOKALIKE[a] for a, b in zip(digits, v))]
    if len(options) != 1:
        return Resultado(numero, FALHOU, "os dígitos verificadores do documento não conferem")
    fixed = iter(options[0])
    return Resultado(re.sub(r"[0-9]", lambda _: next(fixed), numero), CORRIGIDO,
                     "um dígito do documento corrigido pelos dígitos verificadores")


# --- amount in words ------------------------------------------------------------------------
_NUMBER_WORDS = {
    "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6,
    "sete": 7, "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12, "treze": 13, "quatorze": 14,
    "catorze": 14, "quinze": 15, "dezesseis": 16, "dezessete": 17, "dezoito": 18, "dezenove": 19,
    "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "sessenta": 60, "setenta": 70,
    "oitenta": 80, "noventa": 90, "cem": 100, "cento": 100, "duzentos": 200, "duzentas": 200,
    "trezentos": 300, "quatrocentos": 400, "quinhentos": 500, "seiscentos": 600, "setecentos": 700,
    "oitocentos": 800, "novecentos": 900}
_WORDS_RE = re.compile(r"\b((?:(?:%s|mil|milhao|milhoes|e|de)\s+)*?(?:%s|mil|milhao|milhoes)\s+(?:de\s+)?"
                       r"(?:reais|real)(?:\s+e\s+(?:(?:%s|e)\s+)*(?:centavos|centavo))?"
                       r"|(?:(?:%s|e)\s+)+(?:centavos|centavo))\b"
                       % (("|".join(_NUMBER_WORDS),) * 4))


def _words_number(words: list[str]) -> int | None:
    total, group = 0, 0
    for word in words:
        if word in ("e", "de"):
            continue
        if word == "mil":
            total += (group or 1) * 1000
            group = 0
        elif word in ("milhao", "milhoes"):
            total += (group or 1) * 1_000_000
            group = 0
        elif word in _NUMBER_WORDS:
            group += _NUMBER_WORDS[word]
        else:
            return None
    return total + group


def amount_from_words(text: str) -> Decimal | None:
    """The amount a receipt writes in words ("mil e duzentos reais e cinco centavos"), or None."""
    # Only a line that is the whole phrase: a misread word must not leave a shorter amount behind.
    for line in text.splitlines():
        match = _WORDS_RE.fullmatch(_words(line).removeprefix("valor por extenso "))
        if match and (amount := _amount_of(match.group(1).split())) is not None:
            return amount
    return None


def _amount_of(phrase: list[str]) -> Decimal | None:
    if "reais" in phrase or "real" in phrase:
        cut = phrase.index("reais" if "reais" in phrase else "real")
        reais, cents_words = phrase[:cut], [w for w in phrase[cut + 1:] if w not in ("centavos", "centavo")]
    else:
        reais, cents_words = [], [w for w in phrase if w not in ("centavos", "centavo")]
    whole = _words_number(reais) if reais else 0
    cents = _words_number(cents_words) if cents_words else 0
    if whole is None or cents is None or cents > 99:
        return None
    return Decimal(whole) + Decimal(cents) / 100


def check_amount(valor: Decimal | None, texts: list[str]) -> Resultado:
    """Check the amount against the amount in words, when a text prints it."""
    for text in texts:
        if (in_words := amount_from_words(text)) is not None:
            if valor == in_words:
                return Resultado(f"{valor:.2f}", OK)
            return Resultado(f"{in_words:.2f}", CORRIGIDO, "valor corrigido pelo valor por extenso")
    return Resultado(None if valor is None else f"{valor:.2f}", None)


def e2e_date(e2e: str) -> date | None:
    """The UTC date an E2E id carries."""
    moment = _stamp(e2e[9:21]) if len(e2e) == 32 else None
    return moment.date() if moment else None
