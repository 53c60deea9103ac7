"""One receipt's readings (one per engine) made into one set of fields, each with a confidence.

Offline, two engines read every image: RapidOCR reads digits and symbols well but drops word
spaces and accents; tesseract keeps spaces and accents but misreads some symbols and masked
digits. Each text is parsed on its own, then per field:
- names and institutions: tesseract's spelling (accents and spaces as printed); when the two
  spell different letters, still tesseract's, less sure (measured: it was right every time;
  TEXT_POLICY "merge", RapidOCR's letters with tesseract's spaces, measured worse);
- every other field: the value both engines agree on; when they disagree, the one that passes
  its check (checks.py), else the preferred engine's (PREFERRED, chosen by measurement);
- the checks then correct what exactly one reading allows and flag the rest;
- the E2E id's 11 free characters, which no check covers, are voted on by every reading of the
  id (both pages and both engines' closer look at its line) and settled by the glyphs' shapes
  where those tell look-alikes apart (ocr/id_line.py); what neither settles is doubtful.

Confidence (0..1) comes from agreement and checks: a field both engines read alike, or that
passes a check, is near 1; one engine's word against the other's with nothing to check is
0.5, below the review threshold (STOCKFLOW_OCR_REVIEW_CONFIDENCE).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from core.comprovantes import checks, pix
from core.comprovantes.documents import find_documento
from core.comprovantes.ocr import id_line
from core.comprovantes.pix import FIELDS, DadosPix

OFFLINE, TESSERACT = "offline", "tesseract"
TEXT_FIELDS = frozenset({"pagador.nome", "pagador.instituicao", "recebedor.nome", "recebedor.instituicao"})
DOCUMENT_FIELDS = ("pagador.documento", "recebedor.documento")

# Confidence of a field one reader alone produced, by reader: a PDF's text layer is the
# printed text itself; Google Vision reads Portuguese well; a lone offline engine less so.
SINGLE_READER = {"pdf_texto": 0.98, "google": 0.9}
LONE_ENGINE = 0.8
AGREE = 0.95          # two engines read the same value
ONE_FOUND = 0.75      # one engine found it, the other found nothing
# The id's 11 free characters read otherwise by some reader, on glyphs no shape settles and
# that are no look-alikes of each other: the most read is kept, just above the default threshold.
TAIL_DISAGREE = 0.72
# Readers split between look-alikes (l/I, j/J...) the shapes cannot settle: doubtful.
TAIL_DOUBTFUL = 0.4
DISAGREE = 0.5        # two values, nothing to decide between them
CHECK_OK = 0.99
CHECK_OK_AFTER_DISAGREEMENT = 0.9
CORRECTED = 0.85
CHECK_FAILED = 0.2

# Which engine's value comes first when the engines disagree (measured on the tuned layouts):
# RapidOCR for amounts, dates, ids, documents and keys; tesseract for names and institutions.
PREFERRED: dict[str, tuple[str, ...]] = {
    name: (TESSERACT, OFFLINE) if name in TEXT_FIELDS else (OFFLINE, TESSERACT) for name in FIELDS}
# Names and institutions the engines spell with different letters: tesseract's ("tesseract"),
# or RapidOCR's letters with tesseract's spaces and accents ("merge"). Measured: docs/comprovantes.md.
TEXT_POLICY = "tesseract"


@dataclass(frozen=True)
class Reading:
    motor: str   # "offline", "tesseract", "google", "pdf_texto"
    text: str


def _key(value: Any) -> Any:
    return pix.fold(re.sub(r"\s", "", value)) if isinstance(value, str) else value


def merge_text(rapid: str, tess: str) -> str:
    """RapidOCR's letters with tesseract's word spaces and accents where the two agree."""
    def compact(text: str) -> tuple[str, set[int]]:
        chars, spaces = [], set()
        for ch in text:
            if ch.isspace():
                if chars:
                    spaces.add(len(chars) - 1)
            else:
                chars.append(ch)
        return "".join(chars), spaces

    a, a_spaces = compact(rapid)
    b, b_spaces = compact(tess)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, pix.fold(a).lower(), pix.fold(b).lower(), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for offset in range(i2 - i1):
                out.append(b[j1 + offset] + (" " if j1 + offset in b_spaces else ""))
        elif op in ("replace", "delete"):
            for index in range(i1, i2):
                spaced = index in a_spaces or (index == i2 - 1 and j2 - 1 in b_spaces)
                out.append(a[index] + (" " if spaced else ""))
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _agreement(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if len(values) == 1:
        return "single"
    if not present:
        return "none"
    if len({_key(v) for v in present}) > 1:
        return "disagree"
    return "agree" if len(present) == len(values) else "one"


def combine(readings: list[Reading], threshold: float, look: id_line.Look | None = None) -> DadosPix:
    """Parse every reading, merge them per field, check, and rate each field; `look` is the
    E2E id's line read again closer, when the page had one."""
    parsed = [(reading.motor, pix.parse(reading.text)) for reading in readings]
    texts = [reading.text for reading in readings]
    by_engine = dict(parsed)
    dados = DadosPix()
    candidates: dict[str, list[Any]] = {}
    agreement: dict[str, str] = {}
    for name in FIELDS:
        order = [m for m in PREFERRED[name] if m in by_engine]
        order += [m for m, _ in parsed if m not in order]
        values = [by_engine[m].get(name) for m in order]
        agreement[name] = _agreement(values)
        present = [v for v in values if v is not None]
        if name in TEXT_FIELDS and OFFLINE in by_engine and TESSERACT in by_engine:
            rapid, tess = by_engine[OFFLINE].get(name), by_engine[TESSERACT].get(name)
            if rapid and tess and _key(rapid) != _key(tess) and TEXT_POLICY == "merge":
                present = [merge_text(rapid, tess)]
            elif rapid and tess:
                # same letters: tesseract's accents and spaces; other letters: tesseract's word too
                # (measured on the tuned layouts: right in each of its disagreements with RapidOCR)
                present = [tess]
                if _key(rapid) != _key(tess):
                    agreement[name] = "text_disagree"
        unique: list[Any] = []
        for value in present:
            if all(_key(value) != _key(u) for u in unique):
                unique.append(value)
        candidates[name] = unique
        dados.set(name, unique[0] if unique else None)

    status: dict[str, str | None] = {name: None for name in FIELDS}
    # documents: the first reading whose check digits hold, else one corrected, else doubtful
    for name in DOCUMENT_FIELDS:
        results = [checks.check_documento(value) for value in candidates[name]]
        chosen = (next((r for r in results if r.status in (checks.OK, None)), None)
                  or next((r for r in results if r.status == checks.CORRIGIDO), None)
                  or (results[0] if results else None))
        if chosen:
            dados.set(name, chosen.valor)
            status[name] = chosen.status
    for party in (dados.pagador, dados.recebedor):
        documento = find_documento(party.documento, strict=False) if party.documento else None
        party.tipo_documento = documento.tipo if documento else None

    # the E2E id: every reading's id and every id-shaped run in the texts, against date and bank
    e2e_options = candidates["id_transacao"] + [c for text in texts for c in checks.e2e_candidates(text)]
    date_options = candidates["data_hora"] or [None]
    best: tuple[int, checks.Resultado, str | None] | None = None
    rank = {checks.OK: 0, None: 1, checks.CORRIGIDO: 2, checks.FALHOU: 3}
    for when in date_options:
        for option in dict.fromkeys(e2e_options):
            result = checks.check_e2e(option, when, dados.pagador.instituicao)
            if best is None or rank[result.status] < best[0]:
                best = (rank[result.status], result, when)
    if best:
        _, result, when = best
        dados.id_transacao, status["id_transacao"] = result.valor, result.status
        # The last 11 characters have no check: every reading of the id (the pages' and the
        # closer look at its line) and the glyphs' shapes decide them (ocr/id_line.py).
        if result.valor and result.status != checks.FALHOU:
            others = [o for o in (_first_id(by_engine[m]) for m, _ in parsed) if o]
            if look is not None:
                others += [c for text in look.texts for c in checks.e2e_candidates(text)[:1]]
            tail = id_line.decide_tail(result.valor, others, look.image if look else None)
            dados.id_transacao = tail.e2e
            if tail.outcome != "agree":
                agreement["id_transacao"] = f"tail_{tail.outcome}"
        if when is not None and result.status in (checks.OK, checks.CORRIGIDO):
            dados.data_hora = when
            status["data_hora"] = checks.OK

    # the amount, against the amount in words
    amount = checks.check_amount(dados.valor, texts)
    if amount.status == checks.CORRIGIDO and amount.valor is not None:
        from decimal import Decimal

        dados.valor = Decimal(amount.valor)
    status["valor"] = amount.status

    single = readings[0].motor if len(readings) == 1 else None
    for name in FIELDS:
        value = dados.get(name)
        dados.confianca[name] = round(_confidence(value, agreement[name], status[name], single), 2)
        if value is not None and (status[name] == checks.FALHOU or dados.confianca[name] < threshold):
            dados.duvidosos.append(name)
    return dados


def _first_id(dados: DadosPix) -> str | None:
    if not dados.id_transacao:
        return None
    found = checks.e2e_candidates(dados.id_transacao)
    return found[0] if found else None


def _confidence(value: Any, agreement: str, status: str | None, single: str | None) -> float:
    if value is None:
        return 0.0
    if status == checks.FALHOU:
        return CHECK_FAILED
    if status == checks.CORRIGIDO:
        return CORRECTED
    if agreement == "tail_doubtful":
        return TAIL_DOUBTFUL
    if agreement == "tail_disagree":
        return TAIL_DISAGREE
    if agreement == "tail_shaped":
        return CHECK_OK_AFTER_DISAGREEMENT
    if agreement == "text_disagree":
        return ONE_FOUND
    if status == checks.OK:
        return CHECK_OK if agreement in ("agree", "single", "one") else CHECK_OK_AFTER_DISAGREEMENT
    if single is not None:
        return SINGLE_READER.get(single, LONE_ENGINE)
    return {"agree": AGREE, "one": ONE_FOUND}.get(agreement, DISAGREE)
