"""Receipts: a file someone else already sent is answered with the fact alone; uploads are
limited per user in number and in daily bytes (429 + Retry-After, pt-BR), nothing stored past them."""
from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import session_scope
from core.models import Comprovante
from core.settings import reset_settings
from tests.comprovantes.receipts import make_receipt, render_pdf, render_png
from tests.security.hardening_support import set_settings
from tests.support.web import login


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    yield
    reset_settings()


@pytest.fixture
def staff(app: Any, users: Any) -> dict[str, Any]:
    """Test clients signed in as Ana and Bruno, both store staff (each sees only their own)."""
    from core.users import create_user

    create_user("bruno", "bruno-password", name="Bruno")
    clients = {}
    for name in ("ana", "bruno", "admin"):
        clients[name] = app.test_client()
        login(clients[name], name, f"{name}-password")
    return clients


def post(client: Any, name: str, data: bytes, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/comprovantes", content_type="multipart/form-data", headers=headers,
                       data={"arquivo": (io.BytesIO(data), name), "pedido": "PED-777"})


def receipts() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Comprovante))


def test_someone_elses_receipt_is_named_by_nothing_but_the_fact(staff: dict[str, Any]) -> None:
    pdf = render_pdf(make_receipt("nubank", 71))
    first = post(staff["ana"], "recibo-da-ana.pdf", pdf)
    assert first.status_code == 202
    mine = first.get_json()

    again = post(staff["bruno"], "outro.pdf", pdf)
    assert again.status_code == 200
    assert again.get_json() == {"duplicado": True, "mensagem": "Este pagamento já foi recebido."}
    text = again.get_data(as_text=True)
    for secret in (str(mine["comprovante_id"]), mine["job_id"], "recibo-da-ana", "PED-777"):
        assert secret not in text
    assert receipts() == 1

    # The uploader, and those who may read every receipt, still learn which receipt it is.
    for name in ("ana", "admin"):
        known = post(staff[name], "de-novo.pdf", pdf).get_json()
        assert known["duplicado"] and known["comprovante_id"] == mine["comprovante_id"]


def test_uploads_per_user_are_rate_limited(staff: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    set_settings(monkeypatch, upload_limit_per_user="2 per minute")
    for number in (72, 73):
        assert post(staff["ana"], "r.pdf", render_pdf(make_receipt("itau", number))).status_code == 202
    refused = post(staff["ana"], "r.pdf", render_pdf(make_receipt("itau", 74)))
    assert refused.status_code == 429
    assert refused.get_json()["error"].startswith("Muitos envios de comprovantes em pouco tempo.")
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert receipts() == 2
    # The limit is Ana's: Bruno sends his.
    assert post(staff["bruno"], "r.pdf", render_pdf(make_receipt("itau", 75))).status_code == 202


def test_daily_volume_per_user_is_limited(staff: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = (render_pdf(make_receipt("bradesco", n)) for n in (76, 77))
    set_settings(monkeypatch, upload_daily_bytes_per_user=len(first) + len(second) - 1)
    assert post(staff["ana"], "a.pdf", first).status_code == 202
    refused = post(staff["ana"], "b.pdf", second)
    assert refused.status_code == 429
    assert refused.get_json()["error"].startswith("Limite diário de envio de comprovantes atingido")
    assert 23 * 3600 <= int(refused.headers["Retry-After"]) <= 24 * 3600 + 1
    assert receipts() == 1
    assert post(staff["bruno"], "b.pdf", second).status_code == 202


def test_a_script_with_a_token_is_limited_as_its_user(app: Any, staff: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A bearer token (looked up once, then served from web.auth's cache) meets the same limits
    as its user: the daily volume, where a refused upload counts none of its bytes, and the
    number of uploads a minute, where every attempt counts."""
    from core.users import create_token

    token, script = create_token("ana", "script"), app.test_client()
    first, small = (render_pdf(make_receipt("caixa", n)) for n in (78, 79))
    big = render_png(make_receipt("caixa", 80))
    assert len(big) > len(small)
    set_settings(monkeypatch, upload_limit_per_user="3 per minute",
                 upload_daily_bytes_per_user=len(first) + len(small))
    assert post(script, "a.pdf", first, token).status_code == 202
    refused = post(script, "b.png", big, token)
    assert refused.status_code == 429 and "Limite diário" in refused.get_json()["error"]
    assert post(script, "c.pdf", small, token).status_code == 202  # the refused bytes were not kept
    refused = post(script, "d.pdf", render_pdf(make_receipt("caixa", 81)), token)
    assert refused.status_code == 429 and refused.get_json()["error"].startswith("Muitos envios")
    assert receipts() == 2
    assert post(staff["ana"], "e.pdf", render_pdf(make_receipt("caixa", 82))).status_code == 429
