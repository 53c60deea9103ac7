"""Falhas: every area's dead letters filtered, replayed and discarded, each action audited."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from core import dead_letters
from core.db import session_scope
from core.models import AuditEntry, DeadLetter
from tests.support.web import login

# Replaying these is harmless should a worker run them (a sweep with nothing to do).
HARMLESS = "maintenance.prune_jobs"


def seed() -> dict[str, int]:
    return {
        "baixa": dead_letters.record("baixa.registrar", [], {"scan_id": "s-1"},
                                     "BaixaUnavailable: banco fora", reference="s-1"),
        "prune_a": dead_letters.record(HARMLESS, [], {"keep_days": 30}, "OperationalError: disco cheio",
                                       reference="p-a"),
        "prune_b": dead_letters.record(HARMLESS, [], {"keep_days": 31}, "Timeout 100%_x", reference="p-b"),
    }


def audit_rows(action: str) -> list[AuditEntry]:
    with session_scope() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.mark.mariadb
def test_filter_replay_and_discard_through_the_api(client: Any) -> None:
    ids = seed()
    body = client.get("/api/falhas?area=maintenance").get_json()
    assert body["total"] == 2 and {item["area"] for item in body["items"]} == {"maintenance"}
    assert body["por_area"] == {"maintenance": 2, "baixa": 1}
    # the error text is matched as typed: % and _ are not wildcards
    assert [i["id"] for i in client.get("/api/falhas?erro=100%25_x").get_json()["items"]] == [ids["prune_b"]]
    assert client.get("/api/falhas?erro=100%25%25").get_json()["total"] == 0
    assert client.get("/api/falhas?task=baixa.registrar&de=2000-01-01").get_json()["total"] == 1
    assert client.get("/api/falhas?de=2999-01-01").get_json()["total"] == 0
    assert client.get("/api/falhas?de=2020-02-01&ate=2020-01-01").status_code == 400
    assert client.get("/api/falhas?situacao=talvez").status_code == 400
    detail = client.get(f"/api/falhas/{ids['baixa']}").get_json()
    assert detail["kwargs"] == {"scan_id": "s-1"} and detail["erro"].startswith("BaixaUnavailable")

    replayed = client.post("/api/falhas/reenviar", json={"ids": [ids["prune_a"], ids["prune_b"]]}).get_json()
    assert set(replayed["reenviadas"]) == {str(ids["prune_a"]), str(ids["prune_b"])}
    assert client.post("/api/falhas/reenviar", json={"ids": [ids["prune_a"]]}).status_code == 404
    assert len(audit_rows("dead_letter.replay")) == 3  # two replays, one refused

    blank = client.post("/api/falhas/descartar", json={"ids": [ids["baixa"]], "motivo": "  "})
    assert blank.status_code == 400
    assert client.post("/api/falhas/descartar", json={"ids": ["x"], "motivo": "m"}).status_code == 400
    done = client.post("/api/falhas/descartar", json={"ids": [ids["baixa"]], "motivo": "leitura de teste"})
    assert done.get_json()["descartadas"] == [ids["baixa"]]
    [row] = audit_rows("dead_letter.discard")
    assert row.actor == "admin" and row.detail["motivo"] == "leitura de teste"
    # a discarded entry is closed everywhere: the baixa page's list and its replay too
    assert client.get("/api/baixas/dead-letters").get_json()["items"] == []
    assert client.post(f"/api/baixas/dead-letters/{ids['baixa']}/replay").status_code == 409
    assert dead_letters.replay(ids["baixa"], "admin") is None
    assert client.get("/api/falhas").get_json()["total"] == 0
    assert client.get("/api/falhas?situacao=descartadas").get_json()["items"][0]["motivo_descarte"] == \
        "leitura de teste"


def test_store_staff_may_not_read_nor_act(app: Any, users: dict[str, Any]) -> None:
    entry = dead_letters.record(HARMLESS, [], {}, "erro")
    staff = app.test_client()
    login(staff, "ana", "ana-password")
    assert staff.get("/falhas").status_code == 403
    assert staff.get("/api/falhas").status_code == 403
    assert staff.post("/api/falhas/reenviar", json={"ids": [entry]}).status_code == 403
    with session_scope() as session:
        assert session.get(DeadLetter, entry).replayed_at is None


def test_the_page_filters_replays_many_and_discards_with_a_reason(page: Any) -> None:
    ids = seed()
    page.goto("/falhas?area=maintenance")
    rows = page.locator("#entries tbody tr[data-id]")
    rows.first.wait_for()
    assert rows.count() == 2
    page.check("#select-all")
    page.click("#replay-selected")
    page.wait_for_selector("#confirm:not(.hidden)")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.alert-ok")
    assert "2 falha(s) reenviada(s)" in page.text_content("#message")
    page.wait_for_function("() => document.querySelectorAll('#entries tbody tr[data-id]').length === 0")
    assert len([row for row in audit_rows("dead_letter.replay") if row.outcome == "ok"]) == 2

    page.select_option("select[name=area]", "")
    page.fill("input[name=erro]", "banco fora")
    page.click("#filters button[type=submit]")
    page.wait_for_selector(f"#entries tbody tr[data-id='{ids['baixa']}']")
    page.click(f"#entries tbody tr[data-id='{ids['baixa']}'] button")  # see the message
    page.wait_for_selector("#detail:not(.hidden)")
    assert '"scan_id": "s-1"' in page.text_content("#detail-message")
    page.click("#detail-close")
    page.check(f"#entries tbody tr[data-id='{ids['baixa']}'] input[type=checkbox]")
    page.click("#discard-selected")
    page.click("#confirm-ok")  # no reason yet: the dialog stays
    assert page.is_visible("#confirm")
    page.fill("#reason", "duplicada, já baixada à mão")
    page.click("#confirm-ok")
    page.wait_for_selector("#message.alert-ok")
    [row] = audit_rows("dead_letter.discard")
    assert row.detail["motivo"] == "duplicada, já baixada à mão" and row.target == str(ids["baixa"])
