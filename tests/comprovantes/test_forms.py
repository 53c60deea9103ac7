"""The app's multipart parser (web.forms): what browsers send reaches the view whole, a body
past its limits is a 413, and a body that does not parse is an empty form, never a 500."""
from __future__ import annotations

import io
import os
from typing import Any

import pytest
from werkzeug.exceptions import RequestEntityTooLarge

from tests.comprovantes.receipts import make_receipt, render_png
from tests.comprovantes.support import browser_multipart
from web.forms import SPOOL_BYTES, MultipartFormDataParser


def parse(body: bytes, content_type: str, **limits: Any) -> tuple[Any, Any]:
    boundary = content_type.split("boundary=", 1)[1]
    _, form, files = MultipartFormDataParser(**limits).parse(
        io.BytesIO(body), "multipart/form-data", len(body), {"boundary": boundary})
    return form, files


@pytest.mark.parametrize("size", [0, 10_000, SPOOL_BYTES + 1, 3 * SPOOL_BYTES])
def test_files_small_and_spooled_to_disk_arrive_whole(size: int) -> None:
    data = os.urandom(size)
    form, files = parse(*browser_multipart({"pedido": "PED-1 ação"}, {"arquivo": ("r.pdf", data)}))
    assert form["pedido"] == "PED-1 ação"
    assert files["arquivo"].filename == "r.pdf" and files["arquivo"].read() == data


def test_more_parts_than_allowed_is_too_large() -> None:
    body, content_type = browser_multipart({f"f{n}": "x" for n in range(5)}, {})
    with pytest.raises(RequestEntityTooLarge):
        parse(body, content_type, max_form_parts=3)


def test_a_text_field_over_the_form_memory_limit_is_too_large() -> None:
    body, content_type = browser_multipart({"pedido": "x" * 2000}, {})
    with pytest.raises(RequestEntityTooLarge):
        parse(body, content_type, max_form_memory_size=1000)


@pytest.mark.parametrize("body", [
    b"", b"garbage", b"--b\r\nContent-Disposition: form-data\r\n\r\nx",
    b"--b\r\n\r\n\r\nx\r\n--b--\r\n", b"\xff" * 100,
    # a bare CR inside a part header: `multipart` takes it, Werkzeug's Headers does not (found
    # by tests/fuzz/test_multipart.py: it was a 500)
    b'--b\r\nContent-Disposition: form-data; name="arquivo"; filename="x\ry.png"\r\n\r\nx\r\n--b--\r\n'])
def test_a_body_that_does_not_parse_is_an_empty_form(body: bytes) -> None:
    assert parse(body, "multipart/form-data; boundary=b") == ({}, {})


def test_an_upload_the_parser_cannot_read_is_answered_as_missing_its_file(client: Any) -> None:
    body, content_type = browser_multipart({}, {"arquivo": ("r.png", render_png(make_receipt("nubank", 3)))})
    response = client.post("/api/comprovantes", data=body[:-40], content_type=content_type)
    assert response.status_code == 400
    assert "campo 'arquivo'" in response.get_json()["error"]


def test_an_upload_with_too_many_parts_is_refused_with_413(client: Any) -> None:
    body, content_type = browser_multipart({f"f{n}": "x" for n in range(1001)}, {})
    response = client.post("/api/comprovantes", data=body, content_type=content_type)
    assert response.status_code == 413
