"""The OCR engines on generated receipts: the offline engine, and the real Google Vision client
(REST transport, anonymous credentials) pointed at the local stand-in. No client mocks."""
from __future__ import annotations

import re
from typing import Any

import pytest

from core.comprovantes import pix
from core.comprovantes.ocr.engines import GoogleVisionEngine
from core.comprovantes.ocr.errors import OcrUnavailable, UnreadableReceipt
from core.comprovantes.ocr.reading import pdf_text_layer, read_receipt, read_text
from tests.comprovantes.receipts import make_receipt, mismatches, render_pdf, render_png

PDF = "application/pdf"

# One OCR run per case (one to three seconds each). Every layout's parsing is checked on PDF
# text layers in test_parser.py without OCR; both engines together in test_accuracy.py.
OFFLINE_CASES = [("nubank", "png"), ("bb", "pdf-scan")]


def render(receipt: Any, kind: str) -> tuple[bytes, str]:
    if kind == "png":
        return render_png(receipt), "image/png"
    if kind == "jpeg":
        return render_png(receipt, "JPEG"), "image/jpeg"
    return render_pdf(receipt, text_layer=(kind == "pdf-text")), PDF


@pytest.mark.parametrize(("layout", "kind"), OFFLINE_CASES)
def test_offline_engine_reads_every_field(offline_engine: Any, layout: str, kind: str) -> None:
    receipt = make_receipt(layout, 22)
    data, mime = render(receipt, kind)
    read = read_text(data, mime, max_pages=5, engine=offline_engine)
    assert read.motor == "offline"  # a scanned PDF has no text layer: OCR ran
    # RapidOCR alone: the letters right, not always the spaces and accents (tesseract's part)
    assert mismatches(receipt, pix.parse(read.text)) == {}, read.text


def test_tesseract_is_installed_and_keeps_spaces_and_accents(tesseract_engine: Any) -> None:
    receipt = make_receipt("neon", 3)  # inline labels, Lato, accented names
    read = read_text(render_png(receipt), "image/png", max_pages=5, engine=tesseract_engine)
    assert read.motor == "tesseract"
    dados = pix.parse(read.text)
    assert dados.pagador.nome == receipt.pagador.nome and dados.recebedor.nome == receipt.recebedor.nome, read.text


def test_tesseract_reads_dark_mode_and_small_images(tesseract_engine: Any) -> None:
    from tests.comprovantes.receipts import render as render_kind

    receipt = make_receipt("inter", 2)
    receipt.dark = True
    data, mime = render_kind(receipt, "messaging")
    dados = pix.parse(read_text(data, mime, max_pages=5, engine=tesseract_engine).text)
    assert dados.valor == receipt.valor and dados.recebedor.nome == receipt.recebedor.nome


def test_offline_readers_are_both_engines_when_tesseract_is_installed(configure: Any) -> None:
    from core.comprovantes.ocr.engines import get_engines

    configure(ocr_engine="offline")
    assert [engine.name for engine in get_engines()] == ["offline", "tesseract"]


def test_pdf_text_layer_is_used_before_ocr(offline_engine: Any) -> None:
    receipt = make_receipt("itau", 22)
    read = read_text(render_pdf(receipt), PDF, max_pages=5, engine=offline_engine)
    assert read.motor == "pdf_texto"
    assert mismatches(receipt, pix.parse(read.text), strict_text=True) == {}


def test_blank_image_is_unreadable(offline_engine: Any) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(buffer, "PNG")
    with pytest.raises(UnreadableReceipt, match="Nenhum texto"):
        read_text(buffer.getvalue(), "image/png", max_pages=5, engine=offline_engine)


def test_google_client_reads_an_image_through_the_standin(standin: Any) -> None:
    receipt = make_receipt("santander", 23)
    png = render_png(receipt)
    # The stand-in answers the exact text Google would: what is printed, accents included.
    standin.register(png, pdf_text_layer(render_pdf(receipt), 5))
    engine = GoogleVisionEngine("", standin.endpoint, timeout_s=10)
    read = read_text(png, "image/png", max_pages=5, engine=engine)
    assert read.motor == "google" and standin.requests == ["/v1/images:annotate"]
    assert mismatches(receipt, pix.parse(read.text), strict_text=True) == {}


def test_google_client_reads_a_pdf_with_files_annotate(standin: Any) -> None:
    receipt = make_receipt("caixa", 24)
    scanned = render_pdf(receipt, text_layer=False)
    standin.register(scanned, pdf_text_layer(render_pdf(receipt), 5))
    engine = GoogleVisionEngine("", standin.endpoint, timeout_s=10)
    read = read_text(scanned, PDF, max_pages=5, engine=engine)
    assert read.motor == "google" and standin.requests == ["/v1/files:annotate"]
    assert mismatches(receipt, pix.parse(read.text), strict_text=True) == {}


def test_google_reading_is_rated_as_one_reader(standin: Any) -> None:
    receipt = make_receipt("bradesco", 26)
    png = render_png(receipt)
    standin.register(png, pdf_text_layer(render_pdf(receipt), 5))
    engine = GoogleVisionEngine("", standin.endpoint, timeout_s=10)
    read = read_receipt(png, "image/png", max_pages=5, engines=[engine])
    assert read.motor == "google" and read.dados.duvidosos == []
    assert mismatches(receipt, read.dados, strict_text=True) == {}
    # passed checks (E2E against date and bank) near 1, the rest a single good reader's 0.9
    assert read.dados.confianca["id_transacao"] == 0.99 and read.dados.confianca["pagador.nome"] == 0.9


def test_google_5xx_is_transient(standin: Any) -> None:
    standin.fail_next(1, status=503)
    engine = GoogleVisionEngine("", standin.endpoint, timeout_s=10)
    with pytest.raises(OcrUnavailable):
        engine.read_image(render_png(make_receipt("inter", 25)))


@pytest.mark.parametrize(("layout", "kind"), [("cora", "png"), ("pan", "pdf-scan")])
def test_the_id_line_is_cut_from_the_page_and_read_again_by_both_engines(
        offline_engine: Any, tesseract_engine: Any, layout: str, kind: str) -> None:
    from core.comprovantes import checks
    from core.comprovantes.ocr import id_line
    from tests.comprovantes.receipts import render as render_kind

    receipt = make_receipt(layout, 31)  # "Código da transação: E..." inline; a scanned PDF, stacked
    data, mime = render_kind(receipt, kind)
    text, line = offline_engine.read_with_id_line(data, mime, 5)
    assert line is not None and line.width > 3 * line.height, text
    for reader in (offline_engine, tesseract_engine):
        again = reader.read_line(line)
        # the id's checked part exactly; its 11 free characters are what id_line.decide_tail votes on
        found = checks.e2e_candidates(again) or [re.sub(r"\s", "", again)[re.sub(r"\s", "", again).find("E"):]]
        assert found[0][:21] == receipt.e2e[:21], (reader.name, again)
    assert id_line.shaped(receipt.e2e, line) is not None  # its glyphs line up with the id's characters


def test_reading_a_receipt_looks_at_its_id_again(offline_engine: Any, tesseract_engine: Any) -> None:
    receipt = make_receipt("unicred", 33)  # upper case, colon labels, DejaVu Serif
    read = read_receipt(render_png(receipt), "image/png", max_pages=5,
                        engines=[offline_engine, tesseract_engine], threshold=0.7)
    assert read.dados.id_transacao[:21] == receipt.e2e[:21]
    # right, or marked doubtful: never a wrong id rated sure
    assert read.dados.id_transacao == receipt.e2e or "id_transacao" in read.dados.duvidosos \
        or read.dados.confianca["id_transacao"] < 0.9
