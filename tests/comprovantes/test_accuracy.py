"""Both offline engines on a handful of generated receipts, every field exactly as printed.

A few images only (each costs two to three seconds of OCR); the corpus-wide figures, held-out
layouts apart, are bench/comprovantes.py's (field_accuracy_unseen_layouts, name_accuracy_strict,
review_rate)."""
from __future__ import annotations

from typing import Any

import pytest

from core.comprovantes.ocr.reading import read_receipt
from core.comprovantes.pix import FIELDS
from tests.comprovantes.receipts import make_receipt, mismatches, render

# inline labels without colons, a dark phone screenshot in two columns, a messaging app's JPEG,
# a scanned PDF in capitals with the amount in words
CASES = [("sicoob", 2, "png"), ("c6", 4, "phone"), ("picpay", 5, "messaging"), ("caixa", 3, "pdf-scan")]


@pytest.fixture(scope="module")
def engines(offline_engine: Any, tesseract_engine: Any) -> list[Any]:
    return [offline_engine, tesseract_engine]


@pytest.mark.parametrize(("layout", "seed", "kind"), CASES)
def test_both_engines_read_every_field_as_printed(engines: list[Any], layout: str, seed: int,
                                                  kind: str) -> None:
    receipt = make_receipt(layout, seed)
    data, mime = render(receipt, kind)
    read = read_receipt(data, mime, max_pages=5, engines=engines, threshold=0.7)
    assert read.motor == "offline" and set(read.textos) == {"offline", "tesseract"}
    wrong = mismatches(receipt, read.dados, strict_text=True)
    # names exactly as printed; at most one field wrong, and never one rated sure (an id's
    # free characters the engines read differently are the known case, rated 0.75)
    assert not set(wrong) & {"pagador.nome", "recebedor.nome"}, wrong
    assert len(wrong) <= 1 and all(read.dados.confianca[name] < 0.9 for name in wrong), (wrong, read.textos)
    assert set(read.dados.confianca) == set(FIELDS)
    assert read.dados.duvidosos == []
    for name, expected in receipt.expected().items():
        assert (read.dados.confianca[name] >= 0.7) == (expected is not None), name


def test_a_pdf_text_layer_needs_no_ocr_and_is_trusted(engines: list[Any]) -> None:
    receipt = make_receipt("btg", 7)
    data, mime = render(receipt, "pdf-text")
    read = read_receipt(data, mime, max_pages=5, engines=engines)
    assert read.motor == "pdf_texto" and mismatches(receipt, read.dados, strict_text=True) == {}
    assert min(v for k, v in read.dados.confianca.items() if read.dados.get(k) is not None) >= 0.98
