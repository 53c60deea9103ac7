"""Fuzzing the upload validator (core/comprovantes/validation.py): any name and any bytes,
and valid PNG, JPEG and PDF receipts mutated (bytes flipped, cut, inserted, PDF syntax
spliced in), are accepted or refused with a pt-BR reason and an HTTP status; no other
exception escapes (it would be a 500). Cases found are kept as @example."""
from __future__ import annotations

from functools import cache

import pytest

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from core.comprovantes.validation import ALLOWED_TYPES, AcceptedUpload, UploadRefused, validate_upload
from tests.comprovantes import hostile
from tests.comprovantes.receipts import make_receipt, render_pdf, render_png
from tests.fuzz.mutations import mutate

FUZZ = settings(max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# PDF syntax worth splicing in: what the scans look for, and what opens or closes a structure.
PDF_TOKENS = [b"/JavaScript", b"/J#53", b"/Launch", b"(", b")", b"\\", b"<<", b">>", b"[", b"]", b"%",
              b"stream\n", b"endstream", b" 4 0 R", b" 1 0 obj ", b"endobj", b"/ObjStm", b"xref",
              b"startxref\n0\n", b"\x00", b"javascript:", b"<script>"]


@cache
def originals() -> dict[str, bytes]:
    """Valid files to mutate (made once): receipts as PNG, JPEG and PDF, and the hostile PDFs."""
    receipt = make_receipt("nubank", 5)
    return {"recibo.png": render_png(receipt), "recibo.jpg": render_png(receipt, "JPEG"),
            "recibo.pdf": render_pdf(receipt), "escaneado.pdf": render_pdf(receipt, text_layer=False),
            "branco.pdf": hostile.pdf_with_pages(1), "js.pdf": hostile.pdf_with_compressed_javascript(),
            "fundo.pdf": hostile.pdf_with_wrapped_deep_javascript(70)}


def check(name: str, data: bytes) -> None:
    try:
        accepted = validate_upload(name, data)
    except UploadRefused as refused:
        event(f"refused: {refused.message[:40]}")
        assert refused.message and refused.status in (400, 413, 415)
        return
    event("accepted")
    assert isinstance(accepted, AcceptedUpload) and accepted.mime == ALLOWED_TYPES[accepted.extension]


@FUZZ
@given(original=st.sampled_from(sorted(originals())), seed=st.integers(0, 2**32), edits=st.integers(1, 6))
@example(original="recibo.pdf", seed=0, edits=0)  # the originals themselves
@example(original="recibo.png", seed=0, edits=0)
@example(original="recibo.jpg", seed=0, edits=0)
def test_mutated_receipts_are_accepted_or_refused_with_a_reason(original: str, seed: int, edits: int) -> None:
    data = mutate(originals()[original], seed, edits, PDF_TOKENS)
    check(original, data)
    if edits == 0:  # only in the examples above: the receipts themselves pass
        assert isinstance(validate_upload(original, data), AcceptedUpload)


@FUZZ
@given(name=st.text(max_size=40) | st.sampled_from(["a.pdf", "a.png", "a.jpg", "a.jpeg", "a.PDF.", "a.pdf "]),
       data=st.binary(max_size=2048) | st.sampled_from([b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]).flatmap(
           lambda magic: st.binary(max_size=2048).map(lambda tail: magic + tail)))
def test_any_name_and_bytes_are_accepted_or_refused_with_a_reason(name: str, data: bytes) -> None:
    check(name, data)


# Found by the mutation fuzzer: pypdf raised AssertionError and NotImplementedError, which the
# old check let through as 500s.
FOUND = {
    "object stream not typed /ObjStm": lambda js: js.replace(b"/Type /ObjStm", b"/Type /ObjStn"),
    "unknown stream filter": lambda js: js.replace(b"/FlateDecode /Length", b"/FlaTeDecode /Length", 1),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_cases_the_fuzzer_found_are_refused_as_unreadable(case: str) -> None:
    data = FOUND[case](hostile.pdf_with_compressed_javascript())
    with pytest.raises(UploadRefused) as refused:
        validate_upload("recibo.pdf", data)
    assert refused.value.status == 400 and "ilegível" in refused.value.message
