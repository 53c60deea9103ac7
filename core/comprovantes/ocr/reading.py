"""Read a receipt: a PDF's own text layer when it has one, OCR otherwise; then its fields.

`read_receipt` is what processing calls: the text (kept on the receipt), the reader that made
it, and the PIX fields with a confidence each (ocr/combine.py). On scans, the E2E id's line is
cut from the page and read again by each engine (ocr/id_line.py): one line, about 0.1 s. `read_text` reads with one
engine only (tests, the stand-in, the bench baseline).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.comprovantes.ocr.combine import Reading, combine
from core.comprovantes.ocr.engines import (
    OcrEngine,
    get_engine,
    get_engines,
)
from core.comprovantes.ocr.errors import UnreadableReceipt
from core.comprovantes.ocr.id_line import Look
from core.comprovantes.pix import DadosPix

PDF = "application/pdf"
# A text layer shorter than this is a scan with stray marks, not a typed receipt.
MIN_TEXT_LAYER_CHARS = 20
TEXT_LAYER = "pdf_texto"
# The review threshold when the caller passes none (STOCKFLOW_OCR_REVIEW_CONFIDENCE's default).
DEFAULT_REVIEW_CONFIDENCE = 0.7


@dataclass(frozen=True)
class ReadText:
    text: str
    motor: str  # the engine's name, or "pdf_texto" when no OCR was needed


@dataclass(frozen=True)
class Leitura:
    text: str        # the first reader's text (what the receipt keeps)
    motor: str       # "pdf_texto", "google" or "offline" (RapidOCR, with tesseract when installed)
    dados: DadosPix  # fields, confianca and duvidosos
    textos: dict[str, str]  # every reader's text, by engine


def pdf_text_layer(data: bytes, max_pages: int) -> str:
    """Return the text a PDF carries itself (typed, not scanned), page after page."""
    import pypdfium2 as pdfium

    texts = []
    pdf = pdfium.PdfDocument(data)
    try:
        for index in range(min(len(pdf), max_pages)):
            page = pdf[index]
            textpage = page.get_textpage()
            texts.append(_with_column_gaps(textpage))
            textpage.close()
            page.close()
    finally:
        pdf.close()
    return "\n".join(texts).replace("\r\n", "\n").replace("\r", "\n")


def _with_column_gaps(textpage: Any) -> str:
    """The page's text, with two spaces where a line jumps to another column (as OCR lines
    show it), so "Valor  Data" over "R$ 5,00  01/02/2026" reads as two columns."""
    out: list[str] = []
    previous: tuple[float, float, float] | None = None  # right edge, bottom, height of the last glyph
    for index in range(textpage.count_chars()):
        char = textpage.get_text_range(index, 1)
        if char.strip():
            left, bottom, right, top = textpage.get_charbox(index, loose=True)
            height = max(top - bottom, 1.0)
            if previous and abs(bottom - previous[1]) < height and left - previous[0] > 1.5 * height:
                out.append("  " if not out or out[-1] != " " else " ")
            previous = (right, bottom, height)
        out.append(char)
    return "".join(out)


def _text_layer(data: bytes, mime: str, max_pages: int) -> str | None:
    if mime != PDF:
        return None
    try:
        layer = pdf_text_layer(data, max_pages)
    except Exception as exc:  # noqa: BLE001 - pdfium errors mean an unreadable file
        raise UnreadableReceipt("PDF ilegível: não foi possível abrir o arquivo.") from exc
    return layer if sum(ch.isalnum() for ch in layer) >= MIN_TEXT_LAYER_CHARS else None


def _ocr(engine: OcrEngine, data: bytes, mime: str, max_pages: int) -> str:
    return engine.read_pdf(data, max_pages) if mime == PDF else engine.read_image(data)


def _enough(text: str) -> bool:
    return sum(ch.isalnum() for ch in text) >= 4


def read_text(data: bytes, mime: str, max_pages: int, engine: OcrEngine | None = None) -> ReadText:
    """Return the receipt's text and what produced it; raise UnreadableReceipt when there is none."""
    if (layer := _text_layer(data, mime, max_pages)) is not None:
        return ReadText(layer, TEXT_LAYER)
    engine = engine or get_engine()
    text = _ocr(engine, data, mime, max_pages)
    if not _enough(text):
        raise UnreadableReceipt("Nenhum texto encontrado no comprovante: envie uma imagem mais nítida.")
    return ReadText(text, engine.name)


def read_receipt(data: bytes, mime: str, max_pages: int, engines: list[OcrEngine] | None = None,
                 threshold: float = DEFAULT_REVIEW_CONFIDENCE) -> Leitura:
    """Read the receipt with every engine that applies and return its checked, rated fields."""
    look = None
    if (layer := _text_layer(data, mime, max_pages)) is not None:
        readings = [Reading(TEXT_LAYER, layer)]
    else:
        engines = engines or get_engines()
        readings, line = [], None
        for engine in engines:
            if hasattr(engine, "read_with_id_line"):
                text, found = engine.read_with_id_line(data, mime, max_pages)
                line = found if line is None else line
            else:
                text = _ocr(engine, data, mime, max_pages)
            readings.append(Reading(engine.name, text))
        if not _enough(readings[0].text):
            raise UnreadableReceipt("Nenhum texto encontrado no comprovante: envie uma imagem mais nítida.")
        if line is not None:
            # the id's line read again, closer, by every engine that reads single lines
            look = Look(line, [engine.read_line(line) for engine in engines if hasattr(engine, "read_line")])
    dados = combine([r for r in readings if _enough(r.text)], threshold, look)
    return Leitura(readings[0].text, readings[0].motor, dados, {r.motor: r.text for r in readings})
