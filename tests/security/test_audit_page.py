"""The audit page (/auditoria): administrators only, filters, pagination, the CSV export of
the filtered entries (streamed, read back with csv.reader), and the page in Chromium."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from core.db import session_scope
from core.models import AuditEntry
from tests.support.web import login
from web.audit import CSV_COLUMNS, EXPORT_CHUNK, PER_PAGE

DAY = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc)


def add_entries(*rows: dict[str, Any]) -> None:
    """Insert entries as they were written on other days (record() always writes now)."""
    defaults = {"at": DAY, "actor": "admin", "action": "login", "target": None,
                "outcome": "ok", "detail": None, "remote_addr": "10.0.0.5",
                "user_agent": "test"}
    with session_scope() as session:
        session.execute(insert(AuditEntry), [{**defaults, **row} for row in rows])


def sample() -> None:
    add_entries(
        {"at": DAY - timedelta(days=3), "action": "token.create", "target": "zeca:script"},
        {"at": DAY - timedelta(days=1), "actor": "ana", "action": "baixa.undo", "target": "41"},
        {"at": DAY, "actor": "anônimo", "action": "login_failed", "target": "=cmd|' /C calc'!A0",
         "outcome": "failed"},
        {"at": DAY + timedelta(days=1), "action": "user.role", "target": "zeca",
         "detail": {"de": "loja", "para": "ti"}},
        {"at": DAY + timedelta(days=1, hours=1), "action": "user.role", "target": "bruno_100%",
         "detail": {"de": "loja", "para": "admin"}})


def rows_of(html: str) -> int:
    return html.count('<tr data-entry="')


def read_csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_only_administrators_see_the_trail(app: Any, client: Any, users: dict[str, Any]) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/auditoria").status_code in (302, 401)
    assert anonymous.get("/auditoria/exportar.csv").status_code in (302, 401)
    ana = app.test_client()
    login(ana, "ana", users["passwords"]["ana"])
    assert ana.get("/auditoria").status_code == 403
    assert ana.get("/auditoria/exportar.csv").status_code == 403
    assert 'href="/auditoria"' not in ana.get("/").get_data(as_text=True)  # no link either
    assert client.get("/auditoria").status_code == 200
    assert 'href="/auditoria"' in client.get("/").get_data(as_text=True)


@pytest.mark.mariadb
def test_filters_narrow_the_list(client: Any) -> None:
    sample()

    def listed(query: str) -> list[str]:
        response = client.get(f"/auditoria?{query}")
        assert response.status_code == 200, response.data
        html = response.get_data(as_text=True)
        with session_scope() as session:  # the ids shown, mapped back to their targets
            targets = dict(session.execute(select(AuditEntry.id, AuditEntry.target)).all())
        return [targets[int(part.split('"', 1)[0])] or "" for part in html.split('<tr data-entry="')[1:]]

    assert listed("acao=user.role") == ["bruno_100%", "zeca"]
    assert listed("ator=ana") == ["41"]
    assert listed("resultado=failed") == ["=cmd|' /C calc'!A0"]
    assert listed("alvo=100%25") == ["bruno_100%"]  # % is a character, not a wildcard
    assert listed("alvo=zeca") == ["zeca", "zeca:script"]
    assert listed("de=2026-11-09&ate=2026-11-10") == ["=cmd|' /C calc'!A0", "41"]
    assert listed("de=2026-11-11&ate=2026-11-30") == ["bruno_100%", "zeca"]
    assert listed("de=2026-11-11")[2:] == ["admin", "ana", "admin"]  # today: the fixtures
    assert listed("acao=user.role&alvo=bruno") == ["bruno_100%"]
    assert listed("acao=nada") == []
    html = client.get("/auditoria").get_data(as_text=True)
    assert '<option value="token.create"' in html and "Nenhum registro" not in html


@pytest.mark.parametrize("query", ["de=10/11/2026", "ate=2026-13-01", "resultado=talvez",
                                   "pagina=0", "pagina=abc", "alvo=" + "x" * 201])
def test_garbage_filters_are_a_400(client: Any, query: str) -> None:
    assert client.get(f"/auditoria?{query}").status_code == 400
    assert client.get(f"/auditoria/exportar.csv?{query.replace('pagina', 'de')}").status_code == 400


def test_pages_of_fifty_newest_first(client: Any) -> None:
    add_entries(*({"target": f"t{n}", "at": DAY + timedelta(seconds=n)} for n in range(120)))
    first = client.get("/auditoria?acao=login").get_data(as_text=True)
    assert rows_of(first) == PER_PAGE and 'rel="next"' in first and 'rel="prev"' not in first
    assert "pagina=2" in first and "acao=login" in first.split('rel="next"')[1].split(">")[0]
    third = client.get("/auditoria?acao=login&pagina=3").get_data(as_text=True)
    assert rows_of(third) == 120 - 2 * PER_PAGE + 1  # + the admin's own login of the fixture
    assert 'rel="next"' not in third and 'rel="prev"' in third


@pytest.mark.mariadb
def test_csv_export_of_the_filtered_entries_reads_back(client: Any) -> None:
    sample()
    response = client.get("/auditoria/exportar.csv?acao=user.role")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header, *rows = read_csv(response)
    assert tuple(header) == CSV_COLUMNS
    assert [(r[2], r[3], r[4], r[8]) for r in rows] == [
        ("admin", "user.role", "bruno_100%", '{"de": "loja", "para": "admin"}'),
        ("admin", "user.role", "zeca", '{"de": "loja", "para": "ti"}')]
    assert rows[0][1].startswith("2026-11-11T13:00:00")

    # A cell a spreadsheet would run as a formula is written as text.
    [failed] = read_csv(client.get("/auditoria/exportar.csv?resultado=failed"))[1:]
    assert failed[4] == "'=cmd|' /C calc'!A0"

    # The export is itself audited, with its filter.
    with session_scope() as session:
        exports = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")))
    assert [e.detail for e in exports] == [{"acao": "user.role"}, {"resultado": "failed"}]


def test_a_large_export_comes_in_chunks_and_misses_nothing(client: Any) -> None:
    total = EXPORT_CHUNK * 2 + 37
    add_entries(*({"action": "sync.trigger", "target": f"lote{n}"} for n in range(total)))
    response = client.get("/auditoria/exportar.csv?acao=sync.trigger")
    chunks = [chunk for chunk in response.response if chunk]  # what the server sends, piece by piece
    assert len(chunks) >= 3
    rows = list(csv.reader(io.StringIO("".join(c.decode() if isinstance(c, bytes) else c
                                               for c in chunks))))[1:]
    ids = [int(r[0]) for r in rows]
    assert len(ids) == total and ids == sorted(ids, reverse=True)
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sync.trigger")) == total


@pytest.mark.browser
def test_the_page_filters_pages_and_exports_in_chromium(page: Any, tmp_path: Any) -> None:
    sample()
    add_entries(*({"action": "dead_letter.replay", "target": str(n), "at": DAY + timedelta(minutes=n)}
                  for n in range(60)))
    page.goto("/auditoria")
    assert page.locator("#audit-entries tbody tr[data-entry]").count() == PER_PAGE
    page.select_option("select[name=acao]", "user.role")
    page.fill("input[name=alvo]", "bruno")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url("**acao=user.role**")
    rows = page.locator("#audit-entries tbody tr[data-entry]")
    assert rows.count() == 1 and "bruno_100%" in rows.first.inner_text()

    page.goto("/auditoria?acao=dead_letter.replay")
    page.click("a[rel=next]")
    page.wait_for_url("**pagina=2**")
    assert page.locator("#audit-entries tbody tr[data-entry]").count() == 60 - PER_PAGE
    assert page.locator("#audit-entries tbody tr[data-entry]").first.locator("td").nth(4).inner_text() == "9"

    with page.expect_download() as download:
        page.click("#audit-export")
    saved = tmp_path / "auditoria.csv"
    download.value.save_as(saved)
    header, *exported = list(csv.reader(saved.open(encoding="utf-8", newline="")))
    assert tuple(header) == CSV_COLUMNS and len(exported) == 60
    assert {r[3] for r in exported} == {"dead_letter.replay"}
