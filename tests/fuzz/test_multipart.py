"""Fuzzing the multipart parser (web/forms.py): a browser's upload body mutated (bytes flipped,
cut, inserted, boundaries and headers spliced in) and any bytes at all are parsed into a form
or an empty one, or refused as too large; no other exception escapes (it would be a 500).
Through the app, the same bodies are answered below 500 and a refused one stores nothing."""
from __future__ import annotations

import io
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from tests.comprovantes.support import browser_multipart, uploads_snapshot
from tests.fuzz.mutations import mutate
from web.forms import MultipartFormDataParser

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
BOUNDARY_TOKENS = [b"\r\n", b"\n", b"\r", b"--", b"\r\n--", b"; ", b'"', b"=", b"\x00", b"\xff",
                   b"Content-Disposition: form-data; name=\"arquivo\"; filename=\"x.png\"\r\n",
                   b"Content-Type: image/png\r\n", b"Content-Length: 99999999\r\n", b"\r\n\r\n",
                   b"filename*=UTF-8''%E2%80%AE.png", b" \t"]


@cache
def tiny_png() -> bytes:
    """A valid 8x8 PNG of 100 bytes or so: a body made mostly of boundaries and headers."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "PNG")
    return out.getvalue()


def body_and_type() -> tuple[bytes, str]:
    return browser_multipart({"pedido": "PED-7"}, {"arquivo": ("recibo.png", tiny_png())})


def mutated_body(seed: int, edits: int) -> tuple[bytes, str]:
    """The browser's body with `edits` edits, boundaries and part headers among what is spliced in."""
    body, content_type = body_and_type()
    boundary = content_type.split("boundary=", 1)[1].encode()
    return mutate(body, seed, edits, [*BOUNDARY_TOKENS, b"--" + boundary, b"\r\n--" + boundary + b"--"]), content_type


def parse(body: bytes, content_type: str) -> None:
    boundary = content_type.split("boundary=", 1)[1]
    try:
        _, form, files = MultipartFormDataParser(max_form_parts=50, max_form_memory_size=4096).parse(
            io.BytesIO(body), "multipart/form-data", len(body), {"boundary": boundary})
    except RequestEntityTooLarge:
        event("too large")
        return
    event(f"parsed: {len(form)} fields, {len(files)} files")
    assert all(isinstance(value, str) for value in form.values())
    for upload in files.values():
        assert isinstance(upload, FileStorage) and isinstance(upload.read(), bytes)


@FUZZ
@given(seed=st.integers(0, 2**32), edits=st.integers(1, 6))
@example(seed=0, edits=0)  # the body as sent
def test_mutated_upload_bodies_parse_or_are_refused(seed: int, edits: int) -> None:
    parse(*mutated_body(seed, edits))


@FUZZ
@given(body=st.binary(max_size=2048), boundary=st.text(min_size=0, max_size=80))
def test_any_bytes_with_any_boundary_parse_or_are_refused(body: bytes, boundary: str) -> None:
    parse(body, f"multipart/form-data; boundary={boundary}")


@pytest.fixture
def unlimited_uploads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzzer's uploads are one user's: its per-user limits must not answer for the parser."""
    from core.settings import reset_settings

    monkeypatch.setenv("STOCKFLOW_UPLOAD_LIMIT_PER_USER", "1000000 per minute")
    monkeypatch.setenv("STOCKFLOW_UPLOAD_DAILY_BYTES_PER_USER", str(10**12))
    reset_settings()


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), edits=st.integers(1, 6))
def test_mutated_uploads_are_answered_below_500_and_refusals_store_nothing(
        client: Any, unlimited_uploads: None, seed: int, edits: int) -> None:
    body, content_type = mutated_body(seed, edits)
    before = uploads_snapshot()
    answer = client.post("/api/comprovantes", content_type=content_type, data=body)
    event(f"status {answer.status_code}")
    assert answer.status_code < 500, answer.get_data(as_text=True)[:300]
    if answer.status_code >= 400:
        assert answer.get_json()["error"]
        assert uploads_snapshot() == before
