"""The audit trail: every audited action writes one entry saying who, what, to what and from
where; a failed login keeps no password; a login that cannot be audited is refused; MariaDB
refuses to change or delete an entry."""
from __future__ import annotations

import logging
import re
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from werkzeug.middleware.proxy_fix import ProxyFix

from core import audit, dead_letters
from core.baixa.registro import registrar_baixa
from core.db import get_engine, session_scope
from core.models import AuditEntry
from core.settings import reset_settings
from core.sync import rejections
from standins.plusoft import PlusoftStandIn
from tests.baixa.support import removals_by_product, scan_message, seed_products
from tests.support.waiting import wait_until
from tests.sync.support import load_source, wait_for_job

ADDRESS = "203.0.113.7"
AGENT = "audit-test/1.0"


def entries(action: str | None = None) -> list[AuditEntry]:
    """Every entry (of one action), oldest first."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    with session_scope() as session:
        return list(session.scalars(query))


def one_entry(action: str) -> AuditEntry:
    found = entries(action)
    assert len(found) == 1, [(e.action, e.actor, e.target) for e in entries()]
    return found[0]


def assert_from_the_browser(entry: AuditEntry, actor: str = "admin") -> None:
    assert entry.actor == actor
    assert (entry.remote_addr, entry.user_agent) == (ADDRESS, AGENT)
    assert entry.at is not None and entry.at.tzinfo is not None


def browser_client(app: Any, username: str, password: str) -> Any:
    """A test client from ADDRESS with AGENT, logged in through the form."""
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=AGENT)
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.data
    return client


@pytest.fixture
def admin(app: Any, users: dict[str, Any]) -> Any:
    """The administrator's test client, from ADDRESS with AGENT."""
    return browser_client(app, "admin", users["passwords"]["admin"])


@pytest.mark.mariadb
def test_a_login_is_recorded_with_who_and_where(admin: Any) -> None:
    entry = one_entry("login")
    assert_from_the_browser(entry)
    assert (entry.target, entry.outcome) == ("admin", "ok")


def test_a_failed_login_is_recorded_without_the_password(app: Any, users: dict[str, Any]) -> None:
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=AGENT)
    wrong = "errada-Zq81-nunca-gravar"
    for username in ("ana", "ninguem"):
        response = client.post("/login", data={"username": username, "password": wrong})
        assert response.status_code == 401
    failed = entries("login_failed")
    assert [(e.actor, e.target, e.outcome) for e in failed] == [
        (audit.ANONYMOUS_ACTOR, "ana", "failed"), (audit.ANONYMOUS_ACTOR, "ninguem", "failed")]
    assert all((e.remote_addr, e.user_agent) == (ADDRESS, AGENT) for e in failed)
    with get_engine().connect() as conn:  # nowhere in any column of any row
        rows = conn.execute(text("SELECT * FROM audit_entries")).all()
    assert rows and not any(wrong in str(value) for row in rows for value in row)
    assert entries("login") == []


def test_the_address_is_the_one_proxy_fix_trusts(app: Any, users: dict[str, Any]) -> None:
    # Behind one proxy (ProxyFix x_for=1) the client is the proxy's X-Forwarded-For, not the
    # proxy's own address; a forged extra hop on the left is ignored.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR="10.0.0.1")
    client.post("/login", data={"username": "admin", "password": users["passwords"]["admin"]},
                headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.23"})
    assert one_entry("login").remote_addr == "198.51.100.23"


@pytest.fixture
def audit_table_gone(users: dict[str, Any]) -> Iterator[None]:
    """The audit table cannot be written (renamed away) for the test, once the users exist;
    put back after."""
    with get_engine().begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_entries RENAME TO audit_entries_away")
    try:
        yield
    finally:
        with get_engine().begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_entries_away RENAME TO audit_entries")


def test_a_login_that_cannot_be_audited_is_refused_other_actions_go_on(
        app: Any, users: dict[str, Any], audit_table_gone: None, worker: Any,
        caplog: Any) -> None:
    # Must survive: the audit table unwritable. A login fails closed (503, no session); a
    # wrong password is still a plain 401; an administrator's replay still happens, with an
    # error logged for the missing entry.
    client = app.test_client()
    response = client.post("/login", data={"username": "admin",
                                           "password": users["passwords"]["admin"]})
    assert response.status_code == 503
    assert "registrar a entrada" in response.get_data(as_text=True)
    assert client.get("/auditoria").status_code in (302, 401)  # not logged in
    assert client.post("/login", data={"username": "admin", "password": "x"}).status_code == 401

    seed_products("LOJA-001", [71])
    message = scan_message(71)
    entry_id = dead_letters.record("baixa.registrar", [], message, "BaixaUnavailable: down",
                                   reference=message["scan_id"])
    with caplog.at_level(logging.ERROR, logger="core.audit"):
        assert dead_letters.replay(entry_id, "admin")
    wait_until(lambda: removals_by_product([71]), 60, "the replayed scan")
    assert "audit entry not written action=dead_letter.replay" in caplog.text


@pytest.mark.mariadb
def test_an_undo_is_recorded_and_so_is_a_refused_one(admin: Any) -> None:
    seed_products("LOJA-001", [61])
    removed = registrar_baixa(**scan_message(61))
    url = f"/api/baixas/removidos/{removed['id_removido']}/estorno"
    assert admin.post(url, json={"motivo": "Leitura por engano"}).status_code == 200
    assert admin.post(url, json={"motivo": "de novo"}).status_code == 409
    done, refused = entries("baixa.undo")
    assert_from_the_browser(done)
    assert (done.target, done.outcome) == (str(removed["id_removido"]), "ok")
    assert done.detail["motivo"] == "Leitura por engano" and done.detail["product_id"] == 61
    assert (refused.outcome, refused.detail["motivo"]) == ("failed", "de novo")


def test_dead_letter_replays_from_the_web_and_the_cli_are_recorded(
        app: Any, admin: Any, worker: Any) -> None:
    seed_products("LOJA-001", [81, 82])
    ids = []
    for product in (81, 82):
        message = scan_message(product)
        ids.append(dead_letters.record("baixa.registrar", [], message, "BaixaUnavailable: down",
                                       reference=message["scan_id"]))
    assert admin.post(f"/api/baixas/dead-letters/{ids[0]}/replay").status_code == 200
    result = app.test_cli_runner().invoke(args=["deadletters", "replay", str(ids[1])])
    assert "reenviado como" in result.output, result.output
    wait_until(lambda: len(removals_by_product([81, 82])) == 2, 60, "both replayed scans")

    web, cli = entries("dead_letter.replay")
    assert_from_the_browser(web)
    assert (web.target, web.outcome) == (str(ids[0]), "ok") and web.detail["task_id"]
    assert cli.actor == audit.cli_actor() and cli.actor.startswith("cli")
    assert (cli.target, cli.remote_addr, cli.user_agent) == (str(ids[1]), None, None)
    assert dead_letters.replay(ids[1], "admin") is None  # nothing left: recorded as failed
    assert entries("dead_letter.replay")[-1].outcome == "failed"


@pytest.fixture
def plusoft() -> Iterator[PlusoftStandIn]:
    """A Plusoft stand-in on a free port, STOCKFLOW_PLUSOFT_BASE_URL pointing at it."""
    saved = dict(os.environ)
    server = PlusoftStandIn().start()
    os.environ["STOCKFLOW_PLUSOFT_BASE_URL"] = server.url
    reset_settings()
    yield server
    server.stop()
    os.environ.clear()
    os.environ.update(saved)
    reset_settings()


def test_sync_triggers_and_rejection_replays_are_recorded(
        admin: Any, worker: Any, plusoft: PlusoftStandIn) -> None:
    load_source(vendas=0, produtos=5, clientes=0)
    answer = admin.post("/api/plusoft/filiais/sincronizar", json={"modo": "full"})
    assert answer.status_code == 202, answer.get_json()
    wait_for_job(answer.get_json()["job_id"])
    trigger = one_entry("sync.trigger")
    assert_from_the_browser(trigger)
    assert trigger.target == "filiais"
    assert trigger.detail == {"modo": "full", "job_id": answer.get_json()["job_id"],
                              "ja_em_andamento": False}

    with session_scope() as session:
        rejections.record(session, "produtos", None,
                          [rejections.Rejected("[999999]", "teste", rejections.PLUSOFT)])
    [pending] = rejections.page("produtos", rejections.PENDING, 1, 50)["rejeicoes"]
    answer = admin.post(f"/api/plusoft/rejeicoes/{pending['id']}/reenviar")
    assert answer.status_code == 202, answer.get_json()
    wait_for_job(answer.get_json()["job_id"])
    replay = one_entry("sync.rejection.replay")
    assert_from_the_browser(replay)
    assert (replay.target, replay.outcome) == ("produtos", "ok")
    assert replay.detail == {"rejeicoes": [pending["id"]], "job_id": answer.get_json()["job_id"]}


def test_detail_is_bounded_and_keeps_no_secret(db: str) -> None:
    audit.record("teste", actor="sistema", detail={
        "senha": "x", "novo_token": "y", "aninhado": [{"password": "z", "ok": 1}]})
    audit.record("teste", actor=None, detail={"texto": "a" * 10_000})
    masked, long = entries("teste")
    assert masked.detail == {"senha": "[removido]", "novo_token": "[removido]",
                             "aninhado": [{"password": "[removido]", "ok": 1}]}
    assert long.actor == audit.SYSTEM_ACTOR  # outside a request, nobody signed in
    assert long.detail["truncado"] is True
    assert len(long.detail["inicio"]) == audit.MAX_DETAIL_CHARS


def test_a_user_id_is_recorded_as_the_username(users: dict[str, Any]) -> None:
    audit.record("teste", actor=users["ana"].id, target="x")
    audit.record("teste", actor=987654, target="y")
    assert [e.actor for e in entries("teste")] == ["ana", "usuario#987654"]


@pytest.mark.mariadb_only
def test_mariadb_refuses_to_change_or_delete_an_entry(db: str) -> None:
    audit.record("login", actor="admin", target="admin")
    for statement in (update(AuditEntry).values(actor="outro"), delete(AuditEntry)):
        with pytest.raises(DBAPIError, match="append-only"):
            with session_scope() as session:
                session.execute(statement)
    [entry] = entries()
    assert (entry.actor, entry.action) == ("admin", "login")


def test_no_code_updates_or_deletes_an_entry() -> None:
    # Append-only starts in the code: nothing but record() touches the table.
    from core.settings import ROOT

    writes = re.compile(r"(update|delete)\(\s*AuditEntry|(UPDATE|DELETE FROM)\s+`?audit_entries",
                        re.IGNORECASE)
    offenders = [str(path.relative_to(ROOT)) for folder in ("core", "web", "tasks")
                 for path in (ROOT / folder).rglob("*.py")
                 if "migrations" not in path.parts and writes.search(path.read_text("utf-8"))]
    assert offenders == []
