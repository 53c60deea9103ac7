"""Read a receipt's text: a PDF's own text layer when it has one, OCR otherwise."""
from __future__ import annotations

from dataclasses import dataclass

from core.comprovantes.ocr.engines import OcrEngine, get_engine
from core.comprovantes.ocr.errors import UnreadableReceipt

PDF = "application/pdf"
# A text layer shorter than this is a scan with stray marks, not a typed receipt.
MIN_TEXT_LAYER_CHARS = 20
TEXT_LAYER = "pdf_texto"


@dataclass(frozen=True)
class ReadText:
    text: str
    motor: str  # the engine's name, or "pdf_texto" when no OCR was needed


def pdf_text_layer(data: bytes, max_pages: int) -> str:
    """Return the text a PDF carries itself (typed, not scanned), page after page."""
    import pypdfium2 as pdfium

    texts = []
    pdf = pdfium.PdfDocument(data)
    try:
        for index in range(min(len(pdf), max_pages)):
            page = pdf[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        pdf.close()
    return "\n".join(texts).replace("\r\n", "\n").replace("\r", "\n")


def read_text(data: bytes, mime: str, max_pages: int, engine: OcrEngine | None = None) -> ReadText:
    """Return the receipt's text and what produced it; raise UnreadableReceipt when there is none."""
    if mime == PDF:
        try:
            layer = pdf_text_layer(data, max_pages)
        except Exception as exc:  # noqa: BLE001 - pdfium errors mean an unreadable file
            raise UnreadableReceipt("PDF ilegível: não foi possível abrir o arquivo.") from exc
        if sum(ch.isalnum() for ch in layer) >= MIN_TEXT_LAYER_CHARS:
            return ReadText(layer, TEXT_LAYER)
    engine = engine or get_engine()
    text = engine.read_pdf(data, max_pages) if mime == PDF else engine.read_image(data)
    if sum(ch.isalnum() for ch in text) < 4:
        raise UnreadableReceipt("Nenhum texto encontrado no comprovante: envie uma imagem mais nítida.")
    return ReadText(text, engine.name)
