"""The PDF check sees every object at any depth (issue 12, finding 6): the raw scan reads
strings as strings, the parsed scan walks every object of the file (listed in the
cross-reference or not, compressed or not) with no depth limit, and a PDF pypdf reads only by
repairing it, or too big to walk, is refused with a pt-BR reason."""
from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from core.comprovantes import validation
from core.comprovantes.validation import UploadRefused, check_pdf
from core.db import session_scope
from core.models import Comprovante
from tests.comprovantes import hostile
from tests.comprovantes.receipts import make_receipt, render_pdf
from tests.comprovantes.support import uploads_snapshot

JS_IN_OBJECT_STREAM = [b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"]


def refusal(data: bytes) -> UploadRefused:
    with pytest.raises(UploadRefused) as refused:
        check_pdf(data, max_pages=5)
    return refused.value


def test_the_issue_pdf_is_refused_through_the_api_and_nothing_is_stored(client: Any) -> None:
    # Accepted before issue 12: wrapped in "(stream\n)...(endstream)" and 70 /Next levels deep.
    before = uploads_snapshot()
    response = client.post("/api/comprovantes", content_type="multipart/form-data", data={
        "arquivo": (io.BytesIO(hostile.pdf_with_wrapped_deep_javascript(70)), "recibo.pdf")})
    assert response.status_code == 415
    assert "/JavaScript" in response.get_json()["error"]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Comprovante)) == 0
    assert uploads_snapshot() == before


def test_raw_scan_reads_stream_keywords_inside_strings_as_text() -> None:
    assert validation._forbidden_in_raw(hostile.pdf_with_string_wrapped_javascript()) == "/JavaScript"
    assert validation._forbidden_in_raw(hostile.pdf_with_wrapped_deep_javascript(70)) == "/JavaScript"


def test_a_name_written_inside_a_string_is_text_not_a_name() -> None:
    data = hostile.pdf_with_object_stream(b"/Info 4 0 R", [b"<< /Title (o manual de /JavaScript) >>"])
    check_pdf(data, max_pages=5)


@pytest.mark.parametrize("depth", [65, 300, 5_000])
def test_javascript_at_any_depth_of_a_compressed_object_is_refused(depth: int) -> None:
    # Past ~480 levels pypdf loses parts of the object: the object stream is also read as text.
    data = hostile.pdf_with_object_stream(b"/OpenAction 4 0 R", [hostile.nested_actions(depth)])
    assert validation._forbidden_in_raw(data) is None  # compressed: invisible in the file's bytes
    refused = refusal(data)
    assert refused.status == 415 and "/JavaScript" in refused.message


def test_parsed_walk_has_no_depth_limit() -> None:
    # 10,000 direct dictionaries deep: past any recursion limit, let alone the old 64.
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    action = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                               NameObject("/JS"): TextStringObject("app.alert(1)")})
    for _ in range(10_000):
        action = DictionaryObject({NameObject("/S"): NameObject("/GoTo"), NameObject("/Next"): action})
    reader = SimpleNamespace(xref={}, xref_objStm={}, trailer=action)
    assert validation._ObjectWalk(reader).forbidden() == "/JavaScript"


def test_object_left_out_of_the_cross_reference_is_still_read() -> None:
    # An orphan in an object stream: pypdf never asks for it, a repairing viewer may find it.
    data = hostile.pdf_with_object_stream(b"", [b"<< /Type /Annot >>", *JS_IN_OBJECT_STREAM], listed=False)
    refused = refusal(data)
    assert refused.status == 415 and "/JavaScript" in refused.message


def test_script_url_in_a_compressed_object_is_refused() -> None:
    data = hostile.pdf_with_object_stream(b"/OpenAction 4 0 R",
                                          [b"<< /S /URI /URI (javascript:alert\\(1\\)) >>"])
    assert not validation.has_markup(data)  # compressed: invisible to the markup scan
    refused = refusal(data)
    assert refused.status == 415 and "javascript:" in refused.message


def test_duplicate_key_hiding_a_launch_is_refused() -> None:
    # pypdf keeps the first /S (/GoTo); a viewer keeping the last would launch.
    data = hostile.pdf_with_object_stream(b"/OpenAction 4 0 R", [b"<< /S /GoTo /S /Launch /D [3 0 R /Fit] >>"])
    refused = refusal(data)
    assert refused.status == 415 and "/Launch" in refused.message


def test_pdf_read_only_by_repairing_it_is_refused() -> None:
    refused = refusal(hostile.pdf_with_broken_xref())
    assert refused.status == 400 and refused.message == validation.PDF_REPAIRED


def test_pdf_too_big_to_walk_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "MAX_PDF_NODES", 500)
    names = b"[" + b" /a" * 1_000 + b"]"
    refused = refusal(hostile.pdf_with_object_stream(b"/Nomes 4 0 R", [names]))
    assert refused.status == 413 and refused.message == validation.PDF_TOO_COMPLEX


def test_object_streams_are_decompressed_within_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "MAX_PDF_OBJECT_STREAM_BYTES", 1_000)
    refused = refusal(hostile.pdf_with_object_stream(b"/Info 4 0 R", [b"(" + b"x" * 2_000 + b")"]))
    assert refused.status == 413 and refused.message == validation.PDF_TOO_COMPLEX


@pytest.mark.parametrize("layout", ["nubank", "itau", "picpay"])
@pytest.mark.parametrize("text_layer", [True, False])
def test_real_receipt_pdfs_pass_without_repairs(layout: str, text_layer: bool) -> None:
    # reportlab's receipts (text layer, scanned) and pypdf's own output need no repair.
    check_pdf(render_pdf(make_receipt(layout, 7), text_layer=text_layer), max_pages=5)
    check_pdf(hostile.pdf_with_pages(2), max_pages=5)
